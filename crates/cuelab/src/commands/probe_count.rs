//! `cuelab probe count`: counting and listing curves (seed 001) under plain, Set-of-Mark, boxes
//! and tiled-crops presentations, on any backend.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use cuelab_tasks::probe::count::{count_table, run_count, CountConfig};

use super::answering::BackendArgs;
use super::probe_common::{finish, read_config, ProbeDataArgs, ProbeRunArgs};
use crate::exit::ExitStatus;

/// Flags of `cuelab probe count`.
#[derive(Debug, Args)]
pub struct ProbeCountArgs {
    #[command(flatten)]
    /// The images.
    pub data: ProbeDataArgs,
    /// Experiment file (TOML, the fields of the count probe's configuration); flags override.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Presentation (repeatable): plain, som (numbered marks), boxes, crops, or a cue recipe
    /// drawn on every object. Default: all four.
    #[arg(long = "variant")]
    pub variants: Vec<String>,
    /// Question (repeatable): count, list. Default: both.
    #[arg(long = "question", value_parser = ["count", "list"])]
    pub questions: Vec<String>,
    /// Ask the count as a choice among 0..=K instead of open.
    #[arg(long, value_name = "K")]
    pub count_choices: Option<usize>,
    #[command(flatten)]
    /// The run.
    pub run: ProbeRunArgs,
    #[command(flatten)]
    /// The answering backend.
    pub backend: BackendArgs,
}

/// Run `cuelab probe count`.
pub fn run(args: ProbeCountArgs) -> Result<ExitStatus> {
    let mut cfg: CountConfig = read_config(args.config.as_deref())?;
    if !args.variants.is_empty() {
        cfg.variants = args.variants.clone();
    }
    if !args.questions.is_empty() {
        cfg.questions = args.questions.clone();
    }
    cfg.count_choices = args.count_choices.or(cfg.count_choices);
    args.run
        .override_config(&mut cfg.limit, &mut cfg.seed, &mut cfg.system);
    cfg.presentations()?;
    let (items, description) = args.data.load()?;
    let opts = args.run.options(Path::new("runs/probe-count"))?;
    let backend = args.backend.backend(&opts.out)?;
    let outcome = run_count(&cfg, &items, &backend, &description, &opts)?;
    let errors: usize = outcome.summary.variants.iter().map(|v| v.errors).sum();
    Ok(finish(
        &count_table(&outcome.summary),
        &opts.out,
        outcome.missing + errors,
    ))
}
