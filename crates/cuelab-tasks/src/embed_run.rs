//! Embedding images or texts into a float32 `.npy` or a Parquet file, one row per input in
//! order (`cuelab embed`); with a shard, one Parquet part of a dataset folder
//! ([`crate::embed_parts`]), skipped when the same part is already written.

use std::path::PathBuf;

use cuelab_models::cache::EmbeddingCache;
use cuelab_models::{
    l2_normalize, load_embedder, load_image, load_scorer, npy, ImageEmbedder, ImageTextScorer,
    LoadOptions, ModelDtype, Pipeline,
};

use crate::embed_parts as parts;
use crate::error::{Result, TaskError};

/// What to embed and where.
#[derive(Debug, Clone, Default)]
pub struct EmbedSettings {
    /// Model: HF id or local directory.
    pub model: String,
    /// Images to embed (exclusive with `texts`).
    pub images: Vec<PathBuf>,
    /// Texts to embed (exclusive with `images`).
    pub texts: Vec<String>,
    /// Output file: `.npy`, or `.parquet` (a folder of parts with a shard).
    pub output: PathBuf,
    /// L2-normalise each row.
    pub normalize: bool,
    /// Image preprocessing (`None`: the model's own).
    pub preprocess: Option<String>,
    /// Device: `cpu` or `cuda[:N]`.
    pub device: String,
    /// Model dtype.
    pub dtype: String,
    /// Only this shard, `I/N` or `auto` (Parquet only).
    pub shard: Option<String>,
    /// SQLite embedding cache.
    pub cache: Option<PathBuf>,
}

/// What [`embed`] did.
#[derive(Debug, Clone)]
pub enum Embedded {
    /// This shard's part was already written with the same settings and inputs.
    AlreadyDone(PathBuf),
    /// Rows were written.
    Wrote {
        /// The file written.
        path: PathBuf,
        /// Rows written.
        rows: usize,
        /// The model's id.
        model: String,
        /// The dtype used.
        dtype: ModelDtype,
    },
}

/// The loaded model: an image embedder, or a scorer for texts.
enum Loaded {
    Images(Box<dyn ImageEmbedder + Send + Sync>),
    Texts(Box<dyn ImageTextScorer + Send + Sync>),
}

impl Loaded {
    /// What identifies the model as loaded (its id holds the weights hash and dtype).
    fn identity(&self) -> String {
        match self {
            Loaded::Images(m) => format!("images {} {}", m.id(), m.preprocess().key()),
            Loaded::Texts(m) => format!("texts {}", m.id()),
        }
    }

    /// Embed the picked inputs (through the cache when given): rows, embedding size, model id.
    fn encode(
        &self,
        s: &EmbedSettings,
        picked: &[usize],
        cache: Option<&mut EmbeddingCache>,
    ) -> Result<(Vec<Vec<f32>>, usize, String)> {
        match self {
            Loaded::Images(model) => {
                let images = picked
                    .iter()
                    .map(|&i| load_image(&s.images[i]))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                tracing::info!(preprocess = %model.preprocess().key(), "embedding {} images", images.len());
                let rows = match cache {
                    Some(c) => c.encode_images(model.as_ref(), &images, "")?,
                    None => model.encode_images(&images)?,
                };
                Ok((rows, model.embed_dim(), model.id().to_string()))
            }
            Loaded::Texts(model) => {
                let texts: Vec<String> = picked.iter().map(|&i| s.texts[i].clone()).collect();
                let rows = match cache {
                    Some(c) => c.encode_texts(model.as_ref(), &texts)?,
                    None => model.encode_texts(&texts)?,
                };
                Ok((rows, model.embed_dim(), model.id().to_string()))
            }
        }
    }
}

/// Check the settings, embed the inputs (this shard's), and write them.
pub fn embed(s: &EmbedSettings) -> Result<Embedded> {
    if !s.images.is_empty() && !s.texts.is_empty() {
        return Err(TaskError::Usage(
            "give either IMAGES or --text, not both".into(),
        ));
    }
    let parquet = match s.output.extension().and_then(|e| e.to_str()) {
        Some("npy") => false,
        Some("parquet") => true,
        _ => {
            return Err(TaskError::Usage(format!(
                "{}: the output must end in .npy or .parquet",
                s.output.display()
            )))
        }
    };
    let opts = LoadOptions {
        pipeline: s.preprocess.as_deref().map(Pipeline::parse).transpose()?,
        device: cuelab_models::device(&s.device)?,
        dtype: s.dtype.parse::<ModelDtype>()?,
    };
    let shard = s
        .shard
        .as_deref()
        .map(crate::runner::parse_shard)
        .transpose()?;
    if shard.is_some() && !parquet {
        return Err(TaskError::Usage(
            "--shard writes Parquet parts: give an output ending in .parquet".into(),
        ));
    }
    let labels: Vec<String> = if s.texts.is_empty() {
        s.images.iter().map(|p| p.display().to_string()).collect()
    } else {
        s.texts.clone()
    };
    let target = match shard {
        Some(sh) => parts::part_path(&s.output, sh),
        None => s.output.clone(),
    };
    let picked: Vec<usize> = (0..labels.len())
        .filter(|&i| crate::shard::in_shard(&labels[i], shard))
        .collect();
    let mut cache = s.cache.as_deref().map(EmbeddingCache::open).transpose()?;
    let load_error = |e| TaskError::LoadModel {
        model: s.model.clone(),
        source: Box::new(e),
    };
    // The identity is taken from the model as loaded (weights hash, dtype, preprocessing) and
    // from the contents of this part's inputs (each image file's SHA-256, or the texts), so a
    // finished part is "already done" only for the same model, settings and input bytes.
    let (model, contents) = if s.texts.is_empty() {
        let model = load_embedder(&s.model, &opts).map_err(load_error)?;
        let contents = picked
            .iter()
            .map(|&i| crate::runner::sha256_file(&s.images[i]))
            .collect::<Result<Vec<_>>>()?;
        (Loaded::Images(model), contents)
    } else {
        let model = load_scorer(&s.model, &opts).map_err(load_error)?;
        let contents = picked.iter().map(|&i| s.texts[i].clone()).collect();
        (Loaded::Texts(model), contents)
    };
    let settings = format!("normalize={} dtype={}", s.normalize, opts.dtype);
    let meta = parts::PartMeta {
        config_hash: parts::config_hash(&model.identity(), &settings, &labels),
        model: s.model.clone(),
        inputs: labels.len(),
        shard,
        contents: Some(parts::contents_hash(&contents)),
    };
    if shard.is_some() && parts::check_part(&target, &meta)? {
        return Ok(Embedded::AlreadyDone(target));
    }
    let (mut rows, dim, id) = model.encode(s, &picked, cache.as_mut())?;
    if s.normalize {
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
        npy::write_f32_2d(&s.output, &rows, dim)?;
    }
    Ok(Embedded::Wrote {
        path: target,
        rows: rows.len(),
        model: id,
        dtype: opts.dtype,
    })
}
