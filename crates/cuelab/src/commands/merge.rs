//! `cuelab merge`: combine the run directories of shards (grounding or questions) into one and
//! summarise; incomplete or mismatched shard sets are refused.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use cuelab_tasks::runner::merge_runs;

use crate::exit::ExitStatus;

/// Flags of `cuelab merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard run directories: every shard `I/N` of one configuration, each finished.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// The merged run directory.
    #[arg(short, long)]
    pub out: PathBuf,
}

/// Run `cuelab merge`.
pub fn run(args: MergeArgs) -> Result<ExitStatus> {
    let merged = merge_runs(&args.runs, &args.out)?;
    print!("{}", merged.table());
    println!("merged run directory: {}", args.out.display());
    Ok(ExitStatus::Success)
}
