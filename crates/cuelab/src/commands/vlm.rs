//! `cuelab vlm`: ask an in-process Qwen3-VL about an image — generate an answer, or score a list
//! of options; optionally the surprisal of the answer and an attention heatmap over the image.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use cuelab_models::qwen3_vl::GenerateOptions;
use cuelab_tasks::vlm_ask::{ask_vlm, VlmAskSettings};

use crate::exit::ExitStatus;

/// Flags of `cuelab vlm`.
#[derive(Debug, Args)]
pub struct VlmArgs {
    /// Model: a local Qwen3-VL directory or a Hugging Face id in the local hub cache.
    #[arg(long, short = 'm')]
    pub model: String,
    /// Image (repeatable; all go into one user turn, in order).
    #[arg(long = "image", value_name = "IMAGE", required = true)]
    pub images: Vec<PathBuf>,
    /// The question.
    #[arg(long)]
    pub prompt: String,
    /// Score these answer options (comma-separated) instead of generating.
    #[arg(long, value_delimiter = ',')]
    pub choices: Vec<String>,
    /// Teacher-force this answer instead of generating (for --surprisal / --attention).
    #[arg(long)]
    pub answer: Option<String>,
    /// Print the surprisal (bits per token) of the answer.
    #[arg(long)]
    pub surprisal: bool,
    /// Write an attention heatmap of the answer tokens over the first image (PNG), plus
    /// `OUT.npy` (mean map, rows x cols) and `OUT.tokens.npy` (one map per answer token).
    #[arg(long, value_name = "OUT.png")]
    pub attention: Option<PathBuf>,
    /// Decoder layers for --attention: `all`, `N` or `A..B` (end exclusive).
    #[arg(long, default_value = "all")]
    pub layers: String,
    /// Heads for --attention (comma-separated); default: mean over all heads.
    #[arg(long, value_delimiter = ',')]
    pub heads: Vec<usize>,
    /// Merge this PEFT LoRA adapter directory into the weights.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// Override the processor's max_pixels.
    #[arg(long)]
    pub max_pixels: Option<usize>,
    /// Override the processor's min_pixels.
    #[arg(long)]
    pub min_pixels: Option<usize>,
    /// New tokens at most.
    #[arg(long, default_value_t = 64)]
    pub max_new_tokens: usize,
    /// Sample with this temperature (default: greedy).
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Nucleus mass when sampling.
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f64,
    /// Sampling seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write everything as JSON to this file.
    #[arg(long, value_name = "FILE.json")]
    pub json: Option<PathBuf>,
    /// Device: cpu, or cuda[:N] (build with the `cuda` feature).
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// Run `cuelab vlm`.
pub fn run(args: VlmArgs) -> Result<ExitStatus> {
    let settings = VlmAskSettings {
        model: args.model,
        images: args.images,
        prompt: args.prompt,
        choices: args.choices,
        answer: args.answer,
        surprisal: args.surprisal,
        attention: args.attention,
        layers: args.layers,
        heads: args.heads,
        adapter: args.adapter,
        max_pixels: args.max_pixels,
        min_pixels: args.min_pixels,
        generate: GenerateOptions {
            max_new_tokens: args.max_new_tokens,
            temperature: args.temperature,
            top_p: args.top_p,
            seed: args.seed,
            ..GenerateOptions::default()
        },
        device: args.device,
        json: args.json,
    };
    ask_vlm(&settings, &mut |line| println!("{line}"))?;
    Ok(ExitStatus::Success)
}
