//! `cuelab render-clip`: a clip sample with a cue drawn on every frame, as a GIF or an MP4.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use cuelab_cue::Recipe;
use cuelab_data::video::{self, FrameSampling};
use cuelab_tasks::clips::{self, ClipSettings};

use crate::exit::ExitStatus;

/// Flags of `cuelab render-clip`.
#[derive(Debug, Args)]
pub struct RenderClipArgs {
    /// Samples or questions (generic JSONL: `cuelab build-mcq` output, `cuelab scenes`'
    /// samples.jsonl) holding the clip.
    #[arg(long)]
    pub data: PathBuf,
    /// The sample id (default: the first sample with a video or frames).
    #[arg(long)]
    pub id: Option<String>,
    /// Cue recipe drawn on every box of every frame, e.g.
    /// `trajectory(fade=true)+rect(color=red,width=2)`; `plain` draws nothing.
    #[arg(long, default_value = "plain")]
    pub cue: String,
    /// Frames kept: all, frames=N (evenly spread) or fps=F.
    #[arg(long, default_value = "all", value_parser = |s: &str| FrameSampling::parse(s))]
    pub frames: FrameSampling,
    /// Trajectory history in kept frames (default: from the first frame).
    #[arg(long)]
    pub history: Option<usize>,
    /// Playback rate of the written clip (frames per second).
    #[arg(long, default_value_t = 6.0)]
    pub fps: f64,
    /// Put the plain clip on the left of the cued one.
    #[arg(long)]
    pub side_by_side: bool,
    /// Integer upscale factor (nearest neighbour).
    #[arg(long, default_value_t = 1)]
    pub scale: u32,
    /// Cache of decoded videos (default: $CUELAB_FRAME_CACHE, else ~/.cache/cuelab/frames).
    #[arg(long)]
    pub frame_cache: Option<PathBuf>,
    /// Output `.gif` or `.mp4`.
    #[arg(short, long)]
    pub out: PathBuf,
}

/// Run `cuelab render-clip`.
pub fn run(args: RenderClipArgs) -> Result<ExitStatus> {
    let recipe = Recipe::parse(&args.cue).map_err(|e| anyhow::anyhow!("--cue: {e}"))?;
    let loaded = cuelab_data::jsonl::read(&args.data, false)
        .with_context(|| format!("reading {}", args.data.display()))?;
    let has_clip = |s: &cuelab_data::Sample| s.video.is_some() || !s.frames.is_empty();
    let sample = match &args.id {
        Some(id) => loaded.samples.iter().find(|s| &s.id == id),
        None => loaded.samples.iter().find(|s| has_clip(s)),
    };
    let Some(sample) = sample else {
        bail!(
            "{}: no sample {}",
            args.data.display(),
            args.id
                .as_deref()
                .map_or("with a video or frames".to_string(), |i| format!("{i:?}"))
        );
    };
    let base = args.data.parent().unwrap_or(Path::new("."));
    let settings = ClipSettings {
        sampling: args.frames,
        history: args.history,
        cache: args
            .frame_cache
            .clone()
            .unwrap_or_else(video::default_cache),
    };
    let cued = clips::cued_frames(sample, base, &recipe, &settings)?;
    let frames = if args.side_by_side {
        let plain = clips::cued_frames(sample, base, &Recipe::plain(), &settings)?;
        clips::side_by_side(&plain, &cued)
    } else {
        cued
    };
    let frames = clips::upscale(frames, args.scale);
    clips::write_clip(&frames, args.fps, &args.out)?;
    println!(
        "{}: {} frames ({}), cue {} -> {}",
        sample.id,
        frames.len(),
        args.frames,
        recipe,
        args.out.display()
    );
    Ok(ExitStatus::Success)
}
