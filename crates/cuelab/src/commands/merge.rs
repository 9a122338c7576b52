//! `cuelab merge`: combine the run directories of shards into one and summarise.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use cuelab_tasks::experiment::merge_runs;
use cuelab_tasks::summary::table;

use crate::exit::ExitStatus;

/// Flags of `cuelab merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard run directories (same configuration).
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// The merged run directory.
    #[arg(short, long)]
    pub out: PathBuf,
}

/// Run `cuelab merge`.
pub fn run(args: MergeArgs) -> Result<ExitStatus> {
    let summary = merge_runs(&args.runs, &args.out)?;
    print!("{}", table(&summary));
    println!("merged run directory: {}", args.out.display());
    Ok(ExitStatus::Success)
}
