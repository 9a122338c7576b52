//! `cuelab.caption_metrics` and `cuelab.clipscore`: the computations of `cuelab caption-eval`
//! (pycocoevalcap-identical CIDEr-D, BLEU-1..4, ROUGE-L; CLIPScore / RefCLIPScore over an image
//! folder), on the same parsers, so the same inputs give the same numbers and the same skips.

use std::path::PathBuf;

use cuelab_metrics::caption_io::{pair, parse_cands, parse_refs, Skipped};
use cuelab_metrics::clipscore::ClipScoreOptions;
use cuelab_metrics::{evaluate, CaptionSet};
use cuelab_models::Pipeline;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde_json::json;

use crate::error;

/// Caption input: a JSON document (`bytes`) or a file (`str` / `os.PathLike`).
fn read_input(obj: &Bound<'_, PyAny>) -> PyResult<(Vec<u8>, Option<PathBuf>)> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok((b.as_bytes().to_vec(), None));
    }
    let path: PathBuf = obj.extract().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err("expected a JSON document (bytes) or a file path")
    })?;
    let bytes = std::fs::read(&path)
        .map_err(|e| error::with_context(format!("reading {}", path.display()), e))?;
    Ok((bytes, Some(path)))
}

/// Parse references and candidates and pair them (as `cuelab caption-eval` does).
fn caption_set(
    refs: &Bound<'_, PyAny>,
    cands: &Bound<'_, PyAny>,
) -> PyResult<(CaptionSet, Vec<Skipped>)> {
    let in_file = |path: &Option<PathBuf>, e: cuelab_metrics::Error| match path {
        Some(p) => error::with_context(p.display().to_string(), e),
        None => error::to_py(e),
    };
    let (bytes, path) = read_input(refs)?;
    let (refs, mut skipped) = parse_refs(&bytes).map_err(|e| in_file(&path, e))?;
    let (bytes, path) = read_input(cands)?;
    let (cands, s2) = parse_cands(&bytes).map_err(|e| in_file(&path, e))?;
    skipped.extend(s2);
    let (set, s3) = pair(refs, cands);
    skipped.extend(s3);
    Ok((set, skipped))
}

/// CIDEr-D, BLEU-1..4 and ROUGE-L of `cands` against `refs` (JSON documents or files, in the
/// formats `cuelab caption-eval` reads), as JSON: corpus scores, per-image rows, skipped entries
/// and empty captions (the fields of `caption-eval --out`'s `summary.json`, plus `per_image`).
#[pyfunction]
pub fn caption_metrics(
    py: Python<'_>,
    refs: Bound<'_, PyAny>,
    cands: Bound<'_, PyAny>,
) -> PyResult<String> {
    let (set, skipped) = caption_set(&refs, &cands)?;
    let scores = py
        .detach(|| evaluate(&set))
        .map_err(|e| error::with_context("no image has both a candidate and references", e))?;
    let out = json!({
        "images": scores.per_image.len(),
        "cider_d": scores.cider_d,
        "bleu": scores.bleu,
        "rouge_l": scores.rouge_l,
        "skipped": skipped,
        "empty_candidates": scores.empty_candidates,
        "empty_references": scores.empty_references,
        "per_image": scores.per_image,
    });
    serde_json::to_string(&out).map_err(error::to_py)
}

/// CLIPScore and RefCLIPScore of `cands` over the images of `images` (files found by id), as
/// `cuelab caption-eval --images` computes them, as JSON: the means, per-image rows, skipped.
#[pyfunction]
#[pyo3(signature = (refs, cands, images, model, prefix, w, preprocess))]
#[allow(clippy::too_many_arguments)]
pub fn clipscore(
    py: Python<'_>,
    refs: Bound<'_, PyAny>,
    cands: Bound<'_, PyAny>,
    images: PathBuf,
    model: String,
    prefix: String,
    w: f64,
    preprocess: &str,
) -> PyResult<String> {
    let (set, mut skipped) = caption_set(&refs, &cands)?;
    let pipeline = Pipeline::parse(preprocess).map_err(error::to_py)?;
    let opts = ClipScoreOptions { w, prefix };
    let (rows, missing) = py
        .detach(|| cuelab_tasks::clipscore::compute(&set, &images, &model, pipeline, &opts))
        .map_err(error::to_py)?;
    let n = rows.len().max(1) as f64;
    let clip = rows.iter().map(|r| r.clip_score).sum::<f64>() / n;
    let refclip = rows.iter().map(|r| r.ref_clip_score).sum::<f64>() / n;
    skipped.extend(missing);
    let out = json!({
        "images": rows.len(),
        "clip_score": clip,
        "ref_clip_score": refclip,
        "model": model,
        "prefix": opts.prefix,
        "w": opts.w,
        "skipped": skipped,
        "per_image": rows,
    });
    serde_json::to_string(&out).map_err(error::to_py)
}

/// The CLIPScore defaults of `cuelab caption-eval`: `(prefix, w)`.
#[pyfunction]
pub fn clipscore_defaults() -> (String, f64) {
    (
        cuelab_metrics::clipscore::DEFAULT_PREFIX.to_string(),
        cuelab_metrics::clipscore::DEFAULT_W,
    )
}
