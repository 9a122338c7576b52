//! The whole mining run as one call ([`run_mining`]): both sides' embeddings (precomputed or
//! encoded), the resumable, sharded search, and the outputs once every block is done; and the
//! merge of separate shard directories ([`merge_shards`]).

use std::path::{Path, PathBuf};

use cuelab_models::{LoadOptions, ModelDtype, Pipeline};

use super::batch::BatchSize;
use super::pipeline::{finish, load_side, EmbedOptions, FinishOptions, Finished};
use super::run::{collect, prepare, search, write_atomic, MineConfig, SearchReport};
use crate::error::{Result, TaskError};

/// What to mine and where; models are loaded as `preprocess`, `device` and `dtype` say.
#[derive(Debug, Clone)]
pub struct MiningSettings {
    /// The work directory (resumed when it exists).
    pub out: PathBuf,
    /// CLIP side: a model or precomputed embeddings.
    pub clip: String,
    /// DINOv2 side: a model or precomputed embeddings.
    pub dino: String,
    /// Images to encode (or the labels of a `.npy`).
    pub images: Option<PathBuf>,
    /// Thresholds, block size and search mode.
    pub config: MineConfig,
    /// Only this shard `(index, count)`.
    pub shard: Option<(usize, usize)>,
    /// Image preprocessing of the models (`None`: each model's own).
    pub preprocess: Option<String>,
    /// Device: `cpu` or `cuda[:N]`.
    pub device: String,
    /// Model dtype: `f32`, `bf16` or `f16`.
    pub dtype: String,
    /// Images per encoder forward pass, or `auto` (chosen from memory).
    pub batch: BatchSize,
    /// The embedding cache (`None`: `out/embeddings.sqlite`).
    pub cache: Option<PathBuf>,
    /// What is written besides the pair files.
    pub finish: FinishOptions,
}

/// A finished step of [`run_mining`].
#[derive(Debug)]
pub enum MiningStep<'a> {
    /// The search of this call.
    Searched(&'a SearchReport),
    /// Every block is done: the outputs are written.
    Finished(&'a Finished),
    /// This shard is done but others are not (why the outputs wait).
    ShardPending(&'a TaskError),
}

/// Encode or read both sides, search (this shard's remaining blocks), and write the outputs when
/// every block is done; each step goes to `step`.
pub fn run_mining(settings: &MiningSettings, step: &mut dyn FnMut(MiningStep<'_>)) -> Result<()> {
    let s = settings;
    std::fs::create_dir_all(&s.out)
        .map_err(|e| TaskError::context(format!("creating {}", s.out.display()), e))?;
    let embed = EmbedOptions {
        load: LoadOptions {
            pipeline: s.preprocess.as_deref().map(Pipeline::parse).transpose()?,
            device: cuelab_models::device(&s.device)?,
            dtype: s.dtype.parse::<ModelDtype>()?,
        },
        batch: s.batch,
        cache: s
            .cache
            .clone()
            .unwrap_or_else(|| s.out.join("embeddings.sqlite")),
        progress: true,
    };
    let images = s.images.as_deref();
    let (mut clip, clip_log) =
        load_side(&s.clip, images, &embed).map_err(|e| TaskError::context("CLIP embeddings", e))?;
    let (mut dino, dino_log) = load_side(&s.dino, images, &embed)
        .map_err(|e| TaskError::context("DINOv2 embeddings", e))?;
    clip.normalize()?;
    dino.normalize()?;
    let manifest = prepare(&s.out, &clip, &dino, &s.config)?;
    if clip_log.is_some() || dino_log.is_some() {
        // How this call encoded (batch sizes, decodes): a log, not part of the identity.
        let log = serde_json::json!({ "clip": clip_log, "dino": dino_log });
        let text =
            serde_json::to_string_pretty(&log).map_err(|e| TaskError::Config(e.to_string()))?;
        write_atomic(&s.out.join("embedding.json"), text.as_bytes())?;
    }
    let r = search(&s.out, &clip, &dino, &manifest, s.shard, true)?;
    step(MiningStep::Searched(&r));
    match collect(std::slice::from_ref(&s.out)) {
        Ok(collected) => {
            let f = finish(&s.out, &collected, &s.finish)?;
            step(MiningStep::Finished(&f));
        }
        Err(e) if s.shard.is_some() => step(MiningStep::ShardPending(&e)),
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Join separate shard directories and write the outputs into `out`.
pub fn merge_shards(dirs: &[PathBuf], out: &Path, opts: &FinishOptions) -> Result<Finished> {
    let collected =
        collect(dirs).map_err(|e| TaskError::context("merging shard directories", e))?;
    finish(out, &collected, opts)
}
