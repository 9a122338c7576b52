//! `cuelab embed`: embed images or texts with a model and write a float32 `.npy` or a Parquet file
//! (one row per input, in order); `--shard` writes one Parquet part of a dataset folder.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use cuelab_models::cache::EmbeddingCache;
use cuelab_models::{
    l2_normalize, load_embedder, load_image, load_scorer, npy, LoadOptions, ModelDtype, Pipeline,
};

use cuelab_tasks::embed_parts as parts;

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

/// Embeds the picked inputs (through the cache when given): rows, embedding size, model id.
type Encode<'a> =
    Box<dyn FnOnce(Option<&mut EmbeddingCache>) -> Result<(Vec<Vec<f32>>, usize, String)> + 'a>;

/// Run `cuelab embed`.
pub fn run(args: EmbedArgs) -> Result<ExitStatus> {
    if !args.images.is_empty() && !args.texts.is_empty() {
        bail!("give either IMAGES or --text, not both");
    }
    let parquet = match args.output.extension().and_then(|e| e.to_str()) {
        Some("npy") => false,
        Some("parquet") => true,
        _ => bail!(
            "{}: the output must end in .npy or .parquet",
            args.output.display()
        ),
    };
    let opts = LoadOptions {
        pipeline: args
            .preprocess
            .as_deref()
            .map(Pipeline::parse)
            .transpose()?,
        device: cuelab_models::device(&args.device)?,
        dtype: args.dtype.parse::<ModelDtype>()?,
    };
    let shard = args
        .shard
        .as_deref()
        .map(cuelab_tasks::runner::parse_shard)
        .transpose()?;
    if shard.is_some() && !parquet {
        bail!("--shard writes Parquet parts: give an output ending in .parquet");
    }
    let labels: Vec<String> = if args.texts.is_empty() {
        args.images
            .iter()
            .map(|p| p.display().to_string())
            .collect()
    } else {
        args.texts.clone()
    };
    let target = match shard {
        Some(s) => parts::part_path(&args.output, s),
        None => args.output.clone(),
    };
    let picked: Vec<usize> = (0..labels.len())
        .filter(|&i| cuelab_tasks::shard::in_shard(&labels[i], shard))
        .collect();
    let mut cache = args
        .cache
        .as_deref()
        .map(EmbeddingCache::open)
        .transpose()?;
    let context = || format!("loading model `{}`", args.model);
    // The identity is taken from the model as loaded (weights hash, dtype, preprocessing) and
    // from the contents of this file's inputs (each image file's SHA-256, or the texts).
    let (identity, contents, encode): (String, Vec<String>, Encode) = if args.texts.is_empty() {
        let model = load_embedder(&args.model, &opts).with_context(context)?;
        let contents = picked
            .iter()
            .map(|&i| cuelab_tasks::runner::sha256_file(&args.images[i]))
            .collect::<Result<Vec<_>, _>>()?;
        let identity = format!("images {} {}", model.id(), model.preprocess().key());
        let images = &args.images;
        let picked = &picked;
        let encode: Encode = Box::new(move |cache| {
            let images = picked
                .iter()
                .map(|&i| load_image(&images[i]))
                .collect::<Result<Vec<_>, _>>()?;
            tracing::info!(preprocess = %model.preprocess().key(), "embedding {} images", images.len());
            let rows = match cache {
                Some(c) => c.encode_images(model.as_ref(), &images, "")?,
                None => model.encode_images(&images)?,
            };
            Ok((rows, model.embed_dim(), model.id().to_string()))
        });
        (identity, contents, encode)
    } else {
        let model = load_scorer(&args.model, &opts).with_context(context)?;
        let texts: Vec<String> = picked.iter().map(|&i| args.texts[i].clone()).collect();
        let identity = format!("texts {}", model.id());
        let encode: Encode = Box::new(move |cache| {
            let texts = &texts;
            let rows = match cache {
                Some(c) => c.encode_texts(model.as_ref(), texts)?,
                None => model.encode_texts(texts)?,
            };
            Ok((rows, model.embed_dim(), model.id().to_string()))
        });
        let contents = picked.iter().map(|&i| args.texts[i].clone()).collect();
        (identity, contents, encode)
    };
    let settings = format!("normalize={} dtype={}", args.normalize, opts.dtype);
    let meta = parts::PartMeta {
        config_hash: parts::config_hash(&identity, &settings, &labels),
        model: args.model.clone(),
        inputs: labels.len(),
        shard,
        contents: Some(parts::contents_hash(&contents)),
    };
    if shard.is_some() && parts::check_part(&target, &meta)? {
        println!("{}: this shard is already done", target.display());
        return Ok(ExitStatus::Success);
    }
    let (mut rows, dim, id) = encode(cache.as_mut())?;
    if args.normalize {
        rows = rows.iter().map(|r| l2_normalize(r)).collect();
    }
    if parquet {
        let out_rows: Vec<parts::EmbedRow> = picked
            .iter()
            .zip(&rows)
            .map(|(&i, e)| parts::EmbedRow {
                row: i as i64,
                input: labels[i].clone(),
                embedding: e.clone(),
            })
            .collect();
        parts::write(&target, &meta, &out_rows, dim)?;
    } else {
        npy::write_f32_2d(&args.output, &rows, dim)?;
    }
    tracing::info!(rows = rows.len(), model = %id, dtype = %opts.dtype, "wrote {}", target.display());
    Ok(ExitStatus::Success)
}
