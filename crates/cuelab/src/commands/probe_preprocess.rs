//! `cuelab probe preprocess`: the counting questions under a grid of input transforms (resize,
//! pixel budgets, sub-patch shifts, rotations, pad/crop to square, JPEG quality): accuracy, flip
//! rate and McNemar against the untransformed image, visual tokens for in-process models.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use cuelab_tasks::probe::count::count_table;
use cuelab_tasks::probe::preprocess::{run_preprocess, PreprocessConfig};

use super::answering::BackendArgs;
use super::probe_common::{finish, read_config, ProbeDataArgs, ProbeRunArgs};
use crate::exit::ExitStatus;

/// Flags of `cuelab probe preprocess`.
#[derive(Debug, Args)]
pub struct ProbePreprocessArgs {
    #[command(flatten)]
    /// The images.
    pub data: ProbeDataArgs,
    /// Experiment file (TOML, the fields of the preprocessing probe's configuration).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Transform (repeatable; identity is always the reference): resize(F),
    /// budget(max=P[,min=P][,factor=28]), shift(K), rotate(D), pad-square, crop-square, jpeg(Q).
    /// Default: a grid of all of them.
    #[arg(long = "transform")]
    pub transforms: Vec<String>,
    /// Question (repeatable): count, list. Default: count.
    #[arg(long = "question", value_parser = ["count", "list"])]
    pub questions: Vec<String>,
    #[command(flatten)]
    /// The run.
    pub run: ProbeRunArgs,
    #[command(flatten)]
    /// The answering backend.
    pub backend: BackendArgs,
}

/// Run `cuelab probe preprocess`.
pub fn run(args: ProbePreprocessArgs) -> Result<ExitStatus> {
    let mut cfg: PreprocessConfig = read_config(args.config.as_deref())?;
    if !args.transforms.is_empty() {
        cfg.transforms = args.transforms.clone();
    }
    if !args.questions.is_empty() {
        cfg.questions = args.questions.clone();
    }
    args.run
        .override_config(&mut cfg.limit, &mut cfg.seed, &mut cfg.system);
    cfg.transforms()?;
    let (items, description) = args.data.load()?;
    let opts = args.run.options(Path::new("runs/probe-preprocess"))?;
    let backend = args.backend.backend(&opts.out)?;
    let outcome = run_preprocess(&cfg, &items, &backend, &description, &opts)?;
    let errors: usize = outcome.summary.variants.iter().map(|v| v.errors).sum();
    Ok(finish(
        &count_table(&outcome.summary),
        &opts.out,
        outcome.missing + errors,
    ))
}
