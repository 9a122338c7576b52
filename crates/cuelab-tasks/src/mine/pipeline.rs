//! The miner end to end, for the command line: get both embeddings (precomputed or encoded),
//! search (resumable, sharded), and write every output from the finished blocks.

use std::path::{Path, PathBuf};

use cuelab_models::cache::EmbeddingCache;
use cuelab_models::{load_embedder, LoadOptions};
use serde::Serialize;

use super::batch::{choose_batch, BatchChoice, BatchSize};
use super::embeddings::{
    embed_images, is_precomputed, list_images, read_precomputed, EmbedCounts, Embeddings,
};
use super::exact::SearchStats;
use super::output::{contact_sheet, distinct_pairs, mmvp_skeleton, write_jsonl, write_parquet};
use super::run::{select, write_atomic, Collected};
use super::Kind;
use crate::error::{Result, TaskError};

/// How images are encoded when a side names a model.
#[derive(Debug, Clone)]
pub struct EmbedOptions {
    /// Device, dtype and preprocessing of the models.
    pub load: LoadOptions,
    /// Images per forward pass, or `auto` (from memory: [`super::batch`]).
    pub batch: BatchSize,
    /// The SQLite embedding cache.
    pub cache: PathBuf,
    /// Show a progress bar.
    pub progress: bool,
}

/// How one side was encoded (written to `embedding.json`; not part of the run's identity, since
/// embeddings are cached per image and do not depend on the batch).
#[derive(Debug, Clone, Serialize)]
pub struct SideLog {
    /// The model's id.
    pub model: String,
    /// The batch and why.
    pub batch: BatchChoice,
    /// Images decoded, and served from the cache by their file bytes.
    pub counts: EmbedCounts,
}

/// One side's embeddings: `reference` is a precomputed `.npy` (labels from `images`, a list
/// file) or `.parquet`, or a model (CLIP or DINOv2) that encodes the images of `images` (then
/// the log of the encoding comes with them).
pub fn load_side(
    reference: &str,
    images: Option<&Path>,
    opts: &EmbedOptions,
) -> Result<(Embeddings, Option<SideLog>)> {
    if is_precomputed(reference) {
        return Ok((read_precomputed(Path::new(reference), images)?, None));
    }
    let source = images.ok_or_else(|| {
        TaskError::Config(format!(
            "`{reference}` is a model: give --images DIR|LIST.txt|coco.json to encode"
        ))
    })?;
    let paths = list_images(source)?;
    if paths.is_empty() {
        return Err(TaskError::Config(format!(
            "{}: no images found",
            source.display()
        )));
    }
    let model = load_embedder(reference, &opts.load)?;
    let mut cache = EmbeddingCache::open(&opts.cache)?;
    let batch = choose_batch(
        opts.batch,
        model.as_ref(),
        opts.load.dtype,
        &opts.load.device,
        &paths,
    );
    tracing::info!(
        model = %model.id(),
        images = paths.len(),
        batch = batch.batch,
        from = batch.from,
        bytes_per_image = ?batch.bytes_per_image,
        available = ?batch.available_bytes,
        "embedding"
    );
    let (embeddings, counts) = embed_images(
        model.as_ref(),
        &paths,
        &mut cache,
        batch.batch,
        opts.progress,
    )?;
    let log = SideLog {
        model: model.id().to_string(),
        batch,
        counts,
    };
    Ok((embeddings, Some(log)))
}

/// What [`finish`] writes besides the pair files.
#[derive(Debug, Clone, Copy)]
pub struct FinishOptions {
    /// Pairs in the MMVP skeleton (each image at most once; the paper has 150).
    pub max_pairs: usize,
    /// Pairs on the contact sheet.
    pub sheet_pairs: usize,
    /// Tile side of the contact sheet in pixels.
    pub thumb: u32,
}

impl Default for FinishOptions {
    fn default() -> Self {
        FinishOptions {
            max_pairs: 150,
            sheet_pairs: 50,
            thumb: 160,
        }
    }
}

/// The summary written to `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Finished {
    /// Rows searched.
    pub n: usize,
    /// CLIP candidates examined with DINOv2.
    pub clip_candidates: u64,
    /// CLIP-blind pairs kept.
    pub pairs: usize,
    /// Near-duplicate pairs flagged.
    pub duplicates: usize,
    /// Rows excluded as near-duplicates.
    pub excluded: usize,
    /// Pairs in the MMVP skeleton.
    pub mmvp_pairs: usize,
    /// The skeleton's `Questions.csv`, when every image of it could be read.
    pub mmvp: Option<PathBuf>,
    /// Images the contact sheet could not read.
    pub unreadable: Vec<String>,
    /// Seconds in matrix products (summed over blocks).
    pub gemm_secs: f64,
    /// Their floating-point operations.
    pub gemm_flops: f64,
}

/// Write `pairs.jsonl`, `pairs.parquet`, `duplicates.jsonl`, `contact_sheet.png`, `mmvp/` and
/// `summary.json` into `out` from the collected blocks.
pub fn finish(out: &Path, c: &Collected, opts: &FinishOptions) -> Result<Finished> {
    std::fs::create_dir_all(out).map_err(|e| TaskError::io(out, e))?;
    let sel = select(&c.candidates);
    write_jsonl(&out.join("pairs.jsonl"), &sel.pairs, &c.labels)?;
    write_parquet(&out.join("pairs.parquet"), &sel.pairs, &c.labels)?;
    write_jsonl(&out.join("duplicates.jsonl"), &sel.duplicates, &c.labels)?;
    let sheet: Vec<_> = sel.pairs.iter().take(opts.sheet_pairs).copied().collect();
    let unreadable = contact_sheet(
        &out.join("contact_sheet.png"),
        &sheet,
        &c.labels,
        opts.thumb,
    )?;
    let chosen = distinct_pairs(&sel.pairs, opts.max_pairs);
    let readable = chosen.iter().all(|p| {
        [p.i, p.j]
            .iter()
            .all(|&r| Path::new(&c.labels[r as usize]).is_file())
    });
    let mmvp = if readable {
        Some(mmvp_skeleton(&out.join("mmvp"), &chosen, &c.labels)?)
    } else {
        tracing::warn!("the inputs are not image files: no MMVP skeleton written");
        None
    };
    let stats: SearchStats = c.stats;
    let finished = Finished {
        n: c.manifest.n,
        clip_candidates: stats.clip_candidates,
        pairs: sel.pairs.len(),
        duplicates: sel
            .duplicates
            .iter()
            .filter(|d| d.kind == Kind::Duplicate)
            .count(),
        excluded: sel.excluded.len(),
        mmvp_pairs: if mmvp.is_some() { chosen.len() } else { 0 },
        mmvp,
        unreadable,
        gemm_secs: stats.gemm_secs,
        gemm_flops: stats.gemm_flops,
    };
    let text =
        serde_json::to_string_pretty(&finished).map_err(|e| TaskError::Config(e.to_string()))?;
    write_atomic(&out.join("summary.json"), text.as_bytes())?;
    Ok(finished)
}
