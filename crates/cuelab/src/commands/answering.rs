//! The flags and code shared by `ask` and `mmvp`: the question-answering configuration, and
//! running + printing a run; the backend flags are in [`super::backend_flags`].

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::Args;
use cuelab_tasks::runner::{parse_shard, RunOptions};
use cuelab_tasks::vqa::{run_questions, vqa_table, ChoiceOrder, VqaConfig, VqaItem, VqaOverrides};

pub use super::backend_flags::BackendArgs;
use crate::exit::ExitStatus;

/// What is asked and where results go.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Experiment file (TOML, the fields of the question-answering configuration); flags override.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Cue variant (repeatable): `plain` or a cue recipe drawn on the question's target boxes,
    /// e.g. `rect(color=red,width=2)`, `trajectory()`.
    #[arg(long = "cue")]
    pub cues: Vec<String>,
    /// Option order: balanced (the right option visits every position equally), shuffle, keep.
    #[arg(long)]
    pub order: Option<ChoiceOrder>,
    /// System prompt.
    #[arg(long)]
    pub system: Option<String>,
    /// Only the first N questions.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Seed of the option order and bootstrap.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Frames of each clip shown (ask): all, frames=N (evenly spread) or fps=F; recorded in the
    /// run identity. Unset: frame folders as they are, video files decoded whole.
    #[arg(long)]
    pub frames: Option<String>,
    /// Run only shard I of N (`I/N`, 0-based; `auto` or `auto/N` from a Slurm job array or a
    /// Kubernetes Indexed Job) — merge shards with `cuelab merge`.
    #[arg(long, value_name = "I/N|auto")]
    pub shard: Option<String>,
    /// Run directory (resumed when it exists).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
}

impl RunArgs {
    /// The overrides these flags give over the configuration file.
    pub fn overrides(&self) -> VqaOverrides {
        VqaOverrides {
            config_file: self.config.clone(),
            cues: self.cues.clone(),
            order: self.order,
            system: self.system.clone(),
            limit: self.limit,
            seed: self.seed,
            frames: self.frames.clone(),
        }
    }

    /// The configuration from the file and flags.
    pub fn config(&self) -> Result<VqaConfig> {
        Ok(self.overrides().config()?)
    }
}

/// Build the answering backend and run every item, printing the table. Exit 1 when questions
/// are still unanswered or could not be asked.
pub fn execute(
    backend: &BackendArgs,
    run: &RunArgs,
    items: &[VqaItem],
    default_out: &Path,
    data_description: serde_json::Value,
) -> Result<ExitStatus> {
    if items.is_empty() {
        bail!("no questions to ask in the data");
    }
    let cfg = run.config()?;
    let out = run.out.clone().unwrap_or_else(|| default_out.to_path_buf());
    let opts = RunOptions {
        out: out.clone(),
        shard: run.shard.as_deref().map(parse_shard).transpose()?,
        progress: true,
    };
    let backend = backend.backend(&out)?;
    let outcome = run_questions(&cfg, items, &backend, &data_description, &opts)?;
    print!("{}", vqa_table(&outcome.summary));
    println!("run directory: {}", out.display());
    let errors: usize = outcome.summary.variants.iter().map(|v| v.all.errors).sum();
    Ok(if outcome.missing > 0 || errors > 0 {
        ExitStatus::Partial
    } else {
        ExitStatus::Success
    })
}
