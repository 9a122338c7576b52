//! `cuelab clip-surprisal`: bits/token of the right answer given plain vs cued clips, per
//! question type, from an in-process Qwen3-VL (frames shown as images, or as one video).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use cuelab_data::video::{self, FrameSampling};
use cuelab_models::qwen3_vl::Qwen3Vl;
use cuelab_tasks::vqa::surprisal::clip_surprisal_with_video;
use cuelab_tasks::vqa::{items_from_samples, prepare_clips, VqaConfig};
use cuelab_vlm::remote::VideoInput;

use crate::exit::ExitStatus;

/// Flags of `cuelab clip-surprisal`.
#[derive(Debug, Args)]
pub struct ClipSurprisalArgs {
    /// Questions (generic JSONL, e.g. `cuelab build-mcq` output).
    #[arg(long)]
    pub data: PathBuf,
    /// Qwen3-VL checkpoint directory or HF id in the local cache.
    #[arg(long)]
    pub model: String,
    /// PEFT LoRA adapter merged into the model.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// Cue variant (repeatable), as `cuelab ask --cue`.
    #[arg(long = "cue", default_value = "plain")]
    pub cues: Vec<String>,
    /// Frames of each clip: all, frames=N or fps=F.
    #[arg(long, value_parser = |s: &str| FrameSampling::parse(s))]
    pub frames: Option<FrameSampling>,
    /// How a clip goes to the model: frames (separate images, default) or video (alias
    /// video_url: one video input through the model's video processor).
    #[arg(long)]
    pub video_input: Option<VideoInput>,
    /// The clip's frame rate with `--video-input video` (default 2).
    #[arg(long)]
    pub video_fps: Option<f64>,
    /// Only the first N questions.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Device: cpu or cuda[:N].
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Cache of decoded videos (default: $CUELAB_FRAME_CACHE, else ~/.cache/cuelab/frames).
    #[arg(long)]
    pub frame_cache: Option<PathBuf>,
    /// Write rows and the per-type means as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Run `cuelab clip-surprisal`.
pub fn run(args: ClipSurprisalArgs) -> Result<ExitStatus> {
    let variants = VqaConfig {
        cues: args.cues.clone(),
        ..VqaConfig::default()
    }
    .variants()?;
    let video_fps =
        (args.video_input == Some(VideoInput::VideoUrl)).then(|| args.video_fps.unwrap_or(2.0));
    if video_fps.is_some_and(|f| !(f.is_finite() && f > 0.0)) {
        bail!("--video-fps must be a positive number");
    }
    let loaded = cuelab_data::jsonl::read(&args.data, false)
        .with_context(|| format!("reading {}", args.data.display()))?;
    let base = args.data.parent().unwrap_or(Path::new("."));
    let cache = args
        .frame_cache
        .clone()
        .unwrap_or_else(video::default_cache);
    let (samples, mut skipped) = prepare_clips(loaded.samples, base, args.frames, &cache);
    let (mut items, mut not_asked) = items_from_samples(&samples, base);
    skipped.append(&mut not_asked);
    if let Some(n) = args.limit {
        items.truncate(n);
    }
    if items.is_empty() {
        bail!("{}: no questions to score", args.data.display());
    }
    let device = cuelab_models::device(&args.device)?;
    let resolved = cuelab_models::resolve::resolve(&args.model)?;
    let model = Qwen3Vl::load_with_adapter(
        &resolved.dir,
        args.adapter.as_deref(),
        &cuelab_models::LoadOptions::default().with_device(device),
    )
    .with_context(|| format!("loading model `{}`", args.model))?;
    let (rows, cells) = clip_surprisal_with_video(&model, &items, &variants, video_fps)?;
    for s in &skipped {
        eprintln!("skipped: {}: {}", s.id, s.reason);
    }
    println!(
        "{:<60} {:<10} {:>5} {:>12}",
        "variant", "qtype", "n", "bits/token"
    );
    for c in &cells {
        println!(
            "{:<60} {:<10} {:>5} {:>12.4}",
            c.variant, c.qtype, c.n, c.mean_bits_per_token
        );
    }
    if let Some(p) = &args.json {
        let doc = serde_json::json!({"model": model.id(), "frames": args.frames.map(|f| f.to_string()), "video_fps": video_fps, "summary": cells, "rows": rows});
        std::fs::write(p, serde_json::to_vec_pretty(&doc)?)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(if skipped.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Partial
    })
}
