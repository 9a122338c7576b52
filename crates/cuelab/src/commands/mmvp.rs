//! `cuelab mmvp`: MMVP (300 questions, 150 pairs; pair accuracy) over a VLM server, or MMVP-VLM
//! (statement pairs) with a CLIP model, as in "Eyes Wide Shut?" (seed 003).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use cuelab_tasks::vqa::items_from_samples;

use super::answering::{execute, BackendArgs, RunArgs};
use crate::exit::ExitStatus;

/// Flags of `cuelab mmvp`.
#[derive(Debug, Args)]
pub struct MmvpArgs {
    /// MMVP's `Questions.csv` (images in `MMVP Images/` or `images/` beside it), or a folder
    /// holding it. With `--vlm`, MMVP-VLM's `Questions.csv`.
    #[arg(long)]
    pub data: PathBuf,
    /// Image folder, when not beside the CSV.
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// The data is MMVP-VLM (statements; one question per statement, its pair partner's
    /// statement as the other option). Usually answered with `--clip`.
    #[arg(long)]
    pub vlm: bool,
    /// Fix MMVP's known answer errata (pairs 99/100 and 279/280); recorded in the manifest.
    #[arg(long)]
    pub errata: bool,
    #[command(flatten)]
    /// The answering backend.
    pub backend: BackendArgs,
    #[command(flatten)]
    /// The run.
    pub run: RunArgs,
}

/// Run `cuelab mmvp`.
pub fn run(args: MmvpArgs) -> Result<ExitStatus> {
    let csv = if args.data.is_dir() {
        args.data.join("Questions.csv")
    } else {
        args.data.clone()
    };
    if !csv.is_file() {
        bail!("{}: no Questions.csv", args.data.display());
    }
    let loaded = if args.vlm {
        cuelab_data::mmvp::load_vlm(&csv, args.images.as_deref(), false)
    } else {
        cuelab_data::mmvp::load(&csv, args.images.as_deref(), args.errata, false)
    }
    .with_context(|| format!("reading {}", csv.display()))?;
    let (items, skipped) = items_from_samples(&loaded.samples, Path::new("."));
    if let Some(s) = skipped.first() {
        bail!(
            "{}: question {} cannot be asked: {}",
            csv.display(),
            s.id,
            s.reason
        );
    }
    execute(
        &args.backend,
        &args.run,
        &items,
        Path::new(if args.vlm {
            "runs/mmvp-vlm"
        } else {
            "runs/mmvp"
        }),
        // the CSV's checksum and the image folder are part of the run identity
        cuelab_tasks::runner::describe_data_file(
            &csv,
            serde_json::json!({
                "file": csv.display().to_string(),
                "images": args.images.as_ref().map(|p| p.display().to_string()),
                "variant": if args.vlm { "mmvp-vlm" } else { "mmvp" },
                "errata_fixed": args.errata,
            }),
        )?,
    )
}
