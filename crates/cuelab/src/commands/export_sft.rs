//! `cuelab export-sft`: questions and captions under every cue variant, with the cued clips and
//! images written out, in a fine-tuning trainer's format.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use cuelab_data::video::{self, FrameSampling};
use cuelab_tasks::sft::{export_sft, SftFormat, SftSettings};

use crate::exit::ExitStatus;

/// Flags of `cuelab export-sft`.
#[derive(Debug, Args)]
pub struct ExportSftArgs {
    /// Questions and captions (generic JSONL: `cuelab build-mcq` output, `cuelab scenes`'
    /// samples.jsonl).
    #[arg(long)]
    pub data: PathBuf,
    /// Cue variant (repeatable): `plain` or a recipe drawn on the targets, as `cuelab ask`.
    #[arg(long = "cue", default_value = "plain")]
    pub cues: Vec<String>,
    /// Trainer format: llamafactory (ShareGPT data.json + dataset_info.json), swift (JSONL),
    /// messages (Hugging Face chat JSONL).
    #[arg(long)]
    pub format: SftFormat,
    /// Only samples of this split (e.g. train).
    #[arg(long)]
    pub split: Option<String>,
    /// Frames of each clip: all, frames=N or fps=F.
    #[arg(long, value_parser = |s: &str| FrameSampling::parse(s))]
    pub frames: Option<FrameSampling>,
    /// Frame rate of the written MP4 clips.
    #[arg(long, default_value_t = 2.0)]
    pub video_fps: f64,
    /// The user text of caption samples.
    #[arg(long, default_value = "Describe the image in one sentence.")]
    pub caption_prompt: String,
    /// Cache of decoded videos (default: $CUELAB_FRAME_CACHE, else ~/.cache/cuelab/frames).
    #[arg(long)]
    pub frame_cache: Option<PathBuf>,
    /// Output folder (data file, index.jsonl, media/).
    #[arg(short, long)]
    pub out: PathBuf,
}

/// Run `cuelab export-sft`.
pub fn run(args: ExportSftArgs) -> Result<ExitStatus> {
    let loaded = cuelab_data::jsonl::read(&args.data, false)
        .with_context(|| format!("reading {}", args.data.display()))?;
    let base = args.data.parent().unwrap_or(Path::new("."));
    let settings = SftSettings {
        cues: args.cues.clone(),
        format: args.format,
        out: args.out.clone(),
        frames: args.frames,
        cache: args
            .frame_cache
            .clone()
            .unwrap_or_else(video::default_cache),
        video_fps: args.video_fps,
        caption_prompt: args.caption_prompt.clone(),
        split: args.split.clone(),
    };
    let report = export_sft(loaded.samples, base, &settings)
        .with_context(|| format!("exporting into {}", args.out.display()))?;
    for s in &report.skipped {
        eprintln!("skipped: {}: {}", s.id, s.reason);
    }
    let per: Vec<String> = report
        .by_variant
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    println!(
        "{} rows ({}); {} media files written; {} skipped -> {}",
        report.rows,
        per.join(", "),
        report.media_written,
        report.skipped.len(),
        report.data_file.display()
    );
    Ok(if report.skipped.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Partial
    })
}
