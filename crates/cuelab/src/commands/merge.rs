//! `cuelab merge`: combine the shards of a run of any kind (run directories of ground, ask,
//! mmvp, ...; `mine` work directories; `embed` Parquet parts) into one and summarise;
//! incomplete, overlapping or mismatched shard sets are refused.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use cuelab_tasks::runner::merge_runs;

use crate::exit::ExitStatus;

/// Flags of `cuelab merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard run directories (every shard `I/N` of one configuration, each finished), `mine`
    /// work directories, or `embed` Parquet parts (files or a dataset folder).
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// The merged run directory (for `embed` parts: the merged `.parquet` file).
    #[arg(short, long)]
    pub out: PathBuf,
}

/// Run `cuelab merge`.
pub fn run(args: MergeArgs) -> Result<ExitStatus> {
    let merged = merge_runs(&args.runs, &args.out)?;
    print!("{}", merged.table());
    println!("merged into {}", args.out.display());
    Ok(ExitStatus::Success)
}
