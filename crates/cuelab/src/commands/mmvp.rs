//! `cuelab mmvp`: MMVP (300 questions, 150 pairs; pair accuracy) over a VLM server, or MMVP-VLM
//! (statement pairs) with a CLIP model, as in "Eyes Wide Shut?" (seed 003).

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use cuelab_tasks::vqa::{read_mmvp, MmvpSource};

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
    let questions = read_mmvp(&MmvpSource {
        data: args.data.clone(),
        images: args.images.clone(),
        vlm: args.vlm,
        errata: args.errata,
    })?;
    execute(
        &args.backend,
        &args.run,
        &questions.items,
        Path::new(if args.vlm {
            "runs/mmvp-vlm"
        } else {
            "runs/mmvp"
        }),
        questions.description,
    )
}
