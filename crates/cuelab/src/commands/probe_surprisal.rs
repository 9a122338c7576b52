//! `cuelab probe surprisal`: teacher-forced bits/token of a fine-tuning set under an in-process
//! Qwen3-VL, over the answer span and the whole sequence, plain vs cued images.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use cuelab_tasks::probe::surprisal::{run_file, table, SurprisalConfig, SurprisalSettings};
use cuelab_tasks::runner::{parse_shard, RunOptions};

use crate::exit::ExitStatus;

/// Flags of `cuelab probe surprisal`.
#[derive(Debug, Args)]
pub struct ProbeSurprisalArgs {
    /// Model: a local Qwen3-VL directory or a Hugging Face id in the local hub cache.
    #[arg(long, short = 'm')]
    pub model: String,
    /// Fine-tuning set: generic JSONL (image(s) + question + answer, or image + captions; image
    /// paths relative to the file), e.g. `cuelab scenes`' samples.jsonl.
    #[arg(long)]
    pub data: PathBuf,
    /// Cue variant (repeatable): `plain` or a recipe drawn on the sample's target, e.g.
    /// `rect(color=red,width=3)`; default plain only.
    #[arg(long = "cue")]
    pub cues: Vec<String>,
    /// System prompt of every example.
    #[arg(long)]
    pub system: Option<String>,
    /// Question of caption examples.
    #[arg(long)]
    pub caption_prompt: Option<String>,
    /// Override the processor's min_pixels.
    #[arg(long)]
    pub min_pixels: Option<usize>,
    /// Override the processor's max_pixels.
    #[arg(long)]
    pub max_pixels: Option<usize>,
    /// Only the first N examples.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Run only shard I of N (`I/N`, 0-based).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Merge this PEFT LoRA adapter directory into the weights first.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// Device: cpu, or cuda[:N] (build with the `cuda` feature).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Run directory (resumed when it exists).
    #[arg(short, long, default_value = "runs/surprisal")]
    pub out: PathBuf,
}

/// Run `cuelab probe surprisal`.
pub fn run(args: ProbeSurprisalArgs) -> Result<ExitStatus> {
    let mut config = SurprisalConfig {
        system: args.system,
        min_pixels: args.min_pixels,
        max_pixels: args.max_pixels,
        limit: args.limit,
        seed: args.seed,
        ..SurprisalConfig::default()
    };
    if !args.cues.is_empty() {
        config.cues = args.cues;
    }
    if let Some(p) = args.caption_prompt {
        config.caption_prompt = p;
    }
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    let settings = SurprisalSettings {
        model: args.model,
        adapter: args.adapter,
        device: args.device,
        data: args.data.clone(),
        config,
        opts: RunOptions {
            out: args.out.clone(),
            shard,
            progress: true,
        },
    };
    let outcome = run_file(&settings)
        .with_context(|| format!("measuring surprisal of {}", args.data.display()))?;
    print!("{}", table(&outcome.summary));
    println!("run directory: {}", args.out.display());
    if outcome.errors > 0 {
        eprintln!(
            "{} example(s) could not be measured (see `error` in {}/results.jsonl)",
            outcome.errors,
            args.out.display()
        );
        return Ok(ExitStatus::Partial);
    }
    Ok(ExitStatus::Success)
}
