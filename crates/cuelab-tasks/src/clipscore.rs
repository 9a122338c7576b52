//! CLIPScore / RefCLIPScore of captions over their images (`cuelab caption-eval --images DIR`):
//! encodes each image, its candidate (with the prefix) and its references with a CLIP model from
//! the model engine, and applies `cuelab_metrics::clipscore` (Hessel et al. 2021).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use cuelab_metrics::caption_io::Skipped;
use cuelab_metrics::clipscore::{clip_score, ref_clip_score, ClipScoreOptions};
use cuelab_metrics::CaptionSet;
use cuelab_models::cache::EmbeddingCache;
use cuelab_models::{load_image, load_scorer, LoadOptions, Pipeline};
use serde::Serialize;

use crate::error::{Result, TaskError};

/// CLIPScore of one image.
#[derive(Debug, Clone, Serialize)]
pub struct ClipScoreRow {
    /// Image id.
    pub image_id: String,
    /// The image file used.
    pub image: String,
    /// CLIPScore (w · max(cos, 0)).
    pub clip_score: f64,
    /// RefCLIPScore (harmonic mean with the best reference cosine).
    pub ref_clip_score: f64,
}

/// Index the files of `dir` by stem, so ids find `123.jpg`, `abc.png` or COCO's
/// `COCO_val2014_000000000123.jpg`.
fn index_images(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut map = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(|e| TaskError::io(dir, e))? {
        let path = entry.map_err(|e| TaskError::io(dir, e))?.path();
        if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
            map.insert(stem.to_string(), path.clone());
            if let Some((_, tail)) = stem.rsplit_once('_') {
                if let Ok(n) = tail.parse::<u64>() {
                    map.entry(n.to_string()).or_insert(path);
                }
            }
        }
    }
    Ok(map)
}

/// Compute CLIPScore for every image of `set` found in `dir`; ids with no readable image file
/// are returned as skipped.
pub fn compute(
    set: &CaptionSet,
    dir: &Path,
    model: &str,
    pipeline: Pipeline,
    opts: &ClipScoreOptions,
) -> Result<(Vec<ClipScoreRow>, Vec<Skipped>)> {
    compute_cached(set, dir, model, pipeline, opts, None)
}

/// [`compute`] with the image and text embeddings read from and stored in the SQLite embedding
/// cache at `cache` (when given): an interrupted evaluation rerun with the same cache computes
/// only what the killed one had not stored, and gives the same scores (an embedding read back
/// is the f32 vector that was computed).
pub fn compute_cached(
    set: &CaptionSet,
    dir: &Path,
    model: &str,
    pipeline: Pipeline,
    opts: &ClipScoreOptions,
    cache: Option<&Path>,
) -> Result<(Vec<ClipScoreRow>, Vec<Skipped>)> {
    let mut cache = cache.map(EmbeddingCache::open).transpose()?;
    let files = index_images(dir)?;
    let scorer = load_scorer(
        model,
        &LoadOptions {
            pipeline: Some(pipeline),
            ..LoadOptions::default()
        },
    )
    .map_err(|source| TaskError::LoadModel {
        model: model.to_string(),
        source: Box::new(source),
    })?;
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for (id, cand) in &set.cands {
        let Some(path) = files.get(id) else {
            skipped.push(Skipped {
                image_id: id.clone(),
                reason: format!("no image file for this id in {}", dir.display()),
            });
            continue;
        };
        let image = match load_image(path) {
            Ok(i) => i,
            Err(e) => {
                skipped.push(Skipped {
                    image_id: id.clone(),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let refs = set.refs.get(id).cloned().unwrap_or_default();
        let mut texts = vec![opts.candidate_text(cand)];
        texts.extend(refs.iter().map(|r| opts.reference_text(r)));
        let (img, emb) = match cache.as_mut() {
            Some(c) => (
                c.encode_images(scorer.as_ref(), std::slice::from_ref(&image), "")?,
                c.encode_texts(scorer.as_ref(), &texts)?,
            ),
            None => (
                scorer.encode_images(std::slice::from_ref(&image))?,
                scorer.encode_texts(&texts)?,
            ),
        };
        rows.push(ClipScoreRow {
            image_id: id.clone(),
            image: path.display().to_string(),
            clip_score: clip_score(&img[0], &emb[0], opts.w)?,
            ref_clip_score: ref_clip_score(&img[0], &emb[0], &emb[1..], opts.w)?,
        });
    }
    Ok((rows, skipped))
}

/// Write `clipscore.jsonl` into `dir`.
pub fn write_rows(dir: &Path, rows: &[ClipScoreRow]) -> Result<()> {
    let path = dir.join("clipscore.jsonl");
    let mut tmp = cuelab_cue::atomic_file_in(dir).map_err(|e| TaskError::io(dir, e))?;
    for r in rows {
        let line = serde_json::to_string(r).map_err(|e| TaskError::Json {
            path: path.clone(),
            message: e.to_string(),
        })?;
        writeln!(tmp, "{line}").map_err(|e| TaskError::io(&path, e))?;
    }
    tmp.persist(&path)
        .map_err(|e| TaskError::io(&path, e.error))?;
    Ok(())
}
