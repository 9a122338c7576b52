//! `cuelab scenes`: generate the deterministic synthetic dataset in every export format.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use cuelab_data::scenes::{export, Config};

use crate::exit::ExitStatus;

/// Flags of `cuelab scenes`.
#[derive(Debug, Args)]
pub struct ScenesArgs {
    /// Master seed; the same seed gives byte-identical output.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of still scenes.
    #[arg(short, long, default_value_t = 200)]
    pub n: usize,
    /// MMVP-style pairs (default n/4).
    #[arg(long)]
    pub pairs: Option<usize>,
    /// Clips (default n/10).
    #[arg(long)]
    pub clips: Option<usize>,
    /// Frames per clip.
    #[arg(long, default_value_t = 8)]
    pub frames: usize,
    /// Image side in pixels.
    #[arg(long, default_value_t = 256)]
    pub size: u32,
    /// Probability of a cluttered background.
    #[arg(long, default_value_t = 0.3)]
    pub clutter: f64,
    /// Probability of a crowd of near-identical objects.
    #[arg(long, default_value_t = 0.2)]
    pub crowd: f64,
    /// Output folder.
    #[arg(short, long)]
    pub out: PathBuf,
}

/// Run `cuelab scenes`.
pub fn run(args: ScenesArgs) -> Result<ExitStatus> {
    if !(0.0..=1.0).contains(&args.clutter) || !(0.0..=1.0).contains(&args.crowd) {
        anyhow::bail!("--clutter and --crowd must be probabilities in [0, 1]");
    }
    let mut cfg = Config::new(args.seed, args.n);
    cfg.pairs = args.pairs.unwrap_or(cfg.pairs);
    cfg.clips = args.clips.unwrap_or(cfg.clips);
    cfg.frames = args.frames.max(2);
    cfg.width = args.size;
    cfg.height = args.size;
    cfg.clutter = args.clutter;
    cfg.crowd = args.crowd;
    let s = export::write(&cfg, &args.out)
        .with_context(|| format!("generating scenes into {}", args.out.display()))?;
    println!(
        "{} scenes, {} pairs, {} clips: {} images, {} samples in {:.2}s ({:.0} images/min) -> {}",
        s.scenes,
        s.pairs,
        s.clips,
        s.images,
        s.samples,
        s.seconds,
        s.images as f64 / s.seconds.max(1e-9) * 60.0,
        args.out.display()
    );
    Ok(ExitStatus::Success)
}
