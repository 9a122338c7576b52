//! The flags and code shared by `ask` and `mmvp`: which answering backend, the question-answering
//! configuration, and running + printing a run.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use cuelab_tasks::experiment::RunOptions;
use cuelab_tasks::vqa::{run_vqa, vqa_table, ChoiceOrder, ClipChoiceAnswerer, VqaConfig, VqaItem};
use cuelab_vlm::Answerer;

use crate::exit::ExitStatus;

/// Which model answers, and how.
#[derive(Debug, Args)]
pub struct BackendArgs {
    /// OpenAI-compatible base URL (vLLM, SGLang, mistral.rs, llama.cpp, an API), e.g.
    /// `http://localhost:8000/v1`. Repeat to spread the load over replicas.
    #[arg(long = "endpoint", value_name = "URL")]
    pub endpoints: Vec<String>,
    /// Model name sent to the server (e.g. `Qwen/Qwen3-VL-2B-Instruct`).
    #[arg(long)]
    pub model: Option<String>,
    /// Answering mode: structured (vLLM ≥ 0.12), guided (legacy guided_choice), logprobs, free.
    #[arg(long, default_value = "structured")]
    pub mode: cuelab_vlm::AnswerMode,
    /// Answer with a CLIP model instead of a VLM: the option most similar to the image wins
    /// (MMVP-VLM's evaluation). HF id or local directory.
    #[arg(long, value_name = "MODEL", conflicts_with_all = ["endpoints"])]
    pub clip: Option<String>,
    /// Text put before each option for `--clip` (e.g. "a photo of ").
    #[arg(long, default_value = "")]
    pub clip_prefix: String,
    /// Image preprocessing for `--clip`: openai or hf.
    #[arg(long, default_value = "openai")]
    pub preprocess: String,
    /// Device for in-process models: cpu or cuda[:N].
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

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
    /// Run only shard I of N (`I/N`, 0-based).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Run directory (resumed when it exists).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
}

impl RunArgs {
    /// The configuration from the file and flags.
    pub fn config(&self) -> Result<VqaConfig> {
        let mut cfg = match &self.config {
            Some(p) => VqaConfig::from_toml_file(p)?,
            None => VqaConfig::default(),
        };
        if !self.cues.is_empty() {
            cfg.cues = self.cues.clone();
        }
        if let Some(o) = self.order {
            cfg.order = o;
        }
        if self.system.is_some() {
            cfg.system = self.system.clone();
        }
        if self.limit.is_some() {
            cfg.limit = self.limit;
        }
        if let Some(s) = self.seed {
            cfg.seed = s;
        }
        cfg.variants()?;
        Ok(cfg)
    }

    /// The shard, parsed.
    pub fn shard(&self) -> Result<Option<(usize, usize)>> {
        self.shard
            .as_deref()
            .map(|text| {
                let (i, n) = text
                    .split_once('/')
                    .context("--shard expects I/N, e.g. 0/4")?;
                let (i, n): (usize, usize) = (i.trim().parse()?, n.trim().parse()?);
                if n == 0 || i >= n {
                    bail!("--shard {text}: need 0 <= I < N");
                }
                Ok((i, n))
            })
            .transpose()
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
        shard: run.shard()?,
        progress: true,
    };
    let outcome = if let Some(model) = &backend.clip {
        let scorer = crate::commands::ground::load_models(
            std::slice::from_ref(model),
            &backend.preprocess,
            &backend.device,
        )?
        .pop()
        .context("no model loaded")?;
        let answerer = ClipChoiceAnswerer::new(scorer.as_ref(), backend.clip_prefix.clone());
        run_vqa(
            &cfg,
            items,
            &answerer,
            &answerer.identity(),
            &data_description,
            &opts,
        )?
    } else {
        let (answerer, identity) = remote_answerer(backend, &out)?;
        run_vqa(
            &cfg,
            items,
            answerer.as_ref(),
            &identity,
            &data_description,
            &opts,
        )?
    };
    print!("{}", vqa_table(&outcome.summary));
    println!("run directory: {}", out.display());
    let errors: usize = outcome.summary.variants.iter().map(|v| v.all.errors).sum();
    Ok(if outcome.missing > 0 || errors > 0 {
        ExitStatus::Partial
    } else {
        ExitStatus::Success
    })
}

/// The OpenAI-compatible backend and its identity (what decides answers: not endpoints).
fn remote_answerer(
    backend: &BackendArgs,
    _out: &Path,
) -> Result<(Box<dyn Answerer>, serde_json::Value)> {
    if backend.endpoints.is_empty() {
        bail!("give --endpoint URL (an OpenAI-compatible server) or --clip MODEL");
    }
    let Some(_model) = &backend.model else {
        bail!("--model is required with --endpoint (the model name the server serves)");
    };
    bail!("the OpenAI-compatible backend is not built into this binary yet")
}
