//! `cuelab embed`: embed images or texts with a model and write a float32 `.npy` or a Parquet file
//! (one row per input, in order); `--shard` writes one Parquet part of a dataset folder.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use cuelab_tasks::embed_run::{embed, EmbedSettings, Embedded};

use crate::exit::ExitStatus;

/// Flags of `cuelab embed`.
#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Model: a Hugging Face id (looked up in the local hub cache) or a local directory
    /// (CLIP ViT, ResNet or open_clip, and SigLIP for images and texts; DINOv2 for images).
    #[arg(long, short = 'm')]
    pub model: String,
    /// Images to embed (one output row each, in order).
    #[arg(value_name = "IMAGES")]
    pub images: Vec<PathBuf>,
    /// A text to embed (repeatable; one output row each, in order). Not with IMAGES.
    #[arg(long = "text", value_name = "TEXT")]
    pub texts: Vec<String>,
    /// Output file, by extension: `.npy` (float32, rows x dim) or `.parquet` (columns `row`,
    /// `input` (the image path or the text) and `embedding` (list of float32)).
    #[arg(short, long, value_name = "OUT.npy|OUT.parquet")]
    pub output: PathBuf,
    /// Image preprocessing: `openai` (OpenAI clip.load) or `hf` (transformers). Default: per model layout.
    #[arg(long, value_name = "openai|hf")]
    pub preprocess: Option<String>,
    /// L2-normalise every row.
    #[arg(long)]
    pub normalize: bool,
    /// SQLite embedding cache to read from and add to.
    #[arg(long, value_name = "FILE.sqlite")]
    pub cache: Option<PathBuf>,
    /// Device: cpu, or cuda[:N] (build with the `cuda` feature).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Dtype the model's weights and matrix products use: f32, bf16 or f16 (reduced precision
    /// is mainly for GPUs; embeddings are returned as f32). A non-f32 dtype is part of the model
    /// id, so cache entries of different dtypes never mix.
    #[arg(long, default_value = "f32", value_name = "f32|bf16|f16")]
    pub dtype: String,
    /// Embed only shard I of N (`I/N`, 0-based; `auto` from a Slurm job array or Kubernetes
    /// Indexed Job): OUT.parquet becomes a dataset folder of parts (`part-IIIII-of-NNNNN.parquet`)
    /// that pyarrow/polars/DuckDB read as one table; `cuelab merge` joins them into one file.
    #[arg(long, value_name = "I/N|auto")]
    pub shard: Option<String>,
}

/// Run `cuelab embed`.
pub fn run(args: EmbedArgs) -> Result<ExitStatus> {
    let settings = EmbedSettings {
        model: args.model,
        images: args.images,
        texts: args.texts,
        output: args.output,
        normalize: args.normalize,
        preprocess: args.preprocess,
        device: args.device,
        dtype: args.dtype,
        shard: args.shard,
        cache: args.cache,
    };
    match embed(&settings)? {
        Embedded::AlreadyDone(target) => {
            println!("{}: this shard is already done", target.display());
        }
        Embedded::Wrote {
            path,
            rows,
            model,
            dtype,
        } => {
            tracing::info!(rows, model = %model, dtype = %dtype, "wrote {}", path.display());
        }
    }
    Ok(ExitStatus::Success)
}
