//! `cuelab score`: score images against texts with a CLIP-like model (cosine, logit, probability).
//! Probabilities are a softmax over the texts for CLIP, a per-pair sigmoid for SigLIP.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use cuelab_models::{cosine_matrix, load_image, load_scorer, LoadOptions, ModelDtype, Pipeline};

use crate::exit::ExitStatus;

/// Flags of `cuelab score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Model: a Hugging Face id (looked up in the local hub cache) or a local directory.
    #[arg(long, short = 'm')]
    pub model: String,
    /// Images to score.
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<PathBuf>,
    /// A candidate text (repeatable).
    #[arg(long = "text", value_name = "TEXT", required = true)]
    pub texts: Vec<String>,
    /// Image preprocessing: `openai` or `hf`. Default: per model layout.
    #[arg(long, value_name = "openai|hf")]
    pub preprocess: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Device: cpu, or cuda[:N] (build with the `cuda` feature).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Dtype the model's weights and matrix products use: f32, bf16 or f16 (reduced precision
    /// is mainly for GPUs; embeddings are returned as f32). A non-f32 dtype is part of the model
    /// id, so cache entries of different dtypes never mix.
    #[arg(long, default_value = "f32", value_name = "f32|bf16|f16")]
    pub dtype: String,
}

/// Run `cuelab score`.
pub fn run(args: ScoreArgs) -> Result<ExitStatus> {
    if args.texts.is_empty() {
        bail!("give at least one --text");
    }
    let opts = LoadOptions {
        pipeline: args
            .preprocess
            .as_deref()
            .map(Pipeline::parse)
            .transpose()?,
        device: cuelab_models::device(&args.device)?,
        dtype: args.dtype.parse::<ModelDtype>()?,
    };
    let model = load_scorer(&args.model, &opts)
        .with_context(|| format!("loading model `{}`", args.model))?;
    let images = args
        .images
        .iter()
        .map(|p| load_image(p))
        .collect::<Result<Vec<_>, _>>()?;
    let sims = cosine_matrix(
        &model.encode_images(&images)?,
        &model.encode_texts(&args.texts)?,
    );
    let scale = model.logit_scale();
    let bias = model.logit_bias();
    let logits = model.logits_from_cosines(&sims);
    let probs = model.probabilities_from_cosines(&sims);
    if args.json {
        let out: Vec<serde_json::Value> = args
            .images
            .iter()
            .enumerate()
            .map(|(i, p)| {
                serde_json::json!({
                    "image": p.display().to_string(),
                    "scores": args.texts.iter().enumerate().map(|(j, t)| serde_json::json!({
                        "text": t, "cosine": sims[i][j], "logit": logits[i][j], "probability": probs[i][j],
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "model": model.id(),
                "dtype": opts.dtype.name(),
                "preprocess": model.preprocess().key(),
                "logit_scale": scale,
                "logit_bias": bias,
                "probability": if bias.is_some() { "sigmoid" } else { "softmax" },
                "results": out,
            }))?
        );
        return Ok(ExitStatus::Success);
    }
    let bias_note = bias.map_or(String::new(), |b| {
        format!("  logit bias {b:.4} (sigmoid probabilities)")
    });
    println!(
        "model {}  dtype {}  preprocess {}  logit scale {scale:.4}{bias_note}",
        model.id(),
        opts.dtype,
        model.preprocess().pipeline.name()
    );
    for (i, p) in args.images.iter().enumerate() {
        println!("\n{}", p.display());
        println!("{:>9} {:>9} {:>11}  text", "cosine", "logit", "probability");
        for (j, t) in args.texts.iter().enumerate() {
            println!(
                "{:>9.5} {:>9.4} {:>11.5}  {t}",
                sims[i][j], logits[i][j], probs[i][j]
            );
        }
    }
    Ok(ExitStatus::Success)
}
