//! Scores of a captioning sweep from its rows alone (so merged shards are scored the same way):
//! per cell, CIDEr-D, BLEU-1..4 and ROUGE-L exactly as pycocoevalcap computes them over the
//! cell's captioned images (CIDEr-D's document frequencies come from those images' references,
//! as in `COCOEvalCap`), CLIPScore / RefCLIPScore when the rows carry them; 95% bootstrap CIs
//! over images for every per-image metric (BLEU is a corpus statistic: point value only), and
//! paired bootstrap tests of CIDEr-D (and CLIPScore) between cells on the images both captioned.

use std::collections::BTreeMap;
use std::path::Path;

use cuelab_metrics::{evaluate, CaptionSet};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::run::CaptionRow;
use crate::error::{Result, TaskError};
use crate::run_dir::write_json_atomic;
use crate::stats::{bootstrap_mean, paired_bootstrap, Estimate, PairedDiff};

/// One cell's scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellSummary {
    /// Cell id.
    pub id: String,
    /// Prompt, generation config and cue.
    pub label: String,
    /// Captions written.
    pub captions: usize,
    /// Images that could not be captioned (error rows).
    pub errors: usize,
    /// Captions empty after PTB tokenisation (scored 0, kept in the means).
    pub empty: usize,
    /// Mean caption length in PTB tokens.
    pub mean_tokens: f64,
    /// CIDEr-D over images with references.
    pub cider_d: Estimate,
    /// Corpus BLEU-1..4.
    pub bleu: [f64; 4],
    /// ROUGE-L.
    pub rouge_l: Estimate,
    /// CLIPScore (corpus mean of per-image scores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_score: Option<Estimate>,
    /// RefCLIPScore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_clip_score: Option<Estimate>,
}

/// A paired comparison of two cells on one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellPair {
    /// First cell id.
    pub a: String,
    /// Second cell id.
    pub b: String,
    /// Metric (`cider_d` or `clip_score`).
    pub metric: String,
    /// `b - a` over the images both captioned, with its CI and bootstrap p-value.
    pub diff: PairedDiff,
}

/// The summary of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptionSummary {
    /// One entry per cell, in grid order.
    pub cells: Vec<CellSummary>,
    /// Paired tests: every pair of cells when there are at most 6, else every cell against the
    /// first.
    pub paired: Vec<CellPair>,
    /// Captions still missing (transport failures; a rerun asks again).
    pub missing: usize,
    /// Bootstrap resamples.
    pub resamples: usize,
}

/// Per-image scores of one cell (written to `cells/<id>/scores.json`).
#[derive(Debug, Clone, Default)]
struct CellScores {
    cider: BTreeMap<String, f64>,
    clip: BTreeMap<String, f64>,
}

fn estimate(values: &[f64], resamples: usize, seed: u64) -> Estimate {
    bootstrap_mean(values, resamples, seed)
}

/// Score every cell from `rows`; write `cells/<id>/captions.json` (COCO results format) and
/// `cells/<id>/scores.json` under `dir` when given.
pub fn summarize_captions(
    rows: &[CaptionRow],
    cells: &[(String, String)],
    seed: u64,
    resamples: usize,
    missing: usize,
    dir: Option<&Path>,
) -> Result<CaptionSummary> {
    let mut out = Vec::new();
    let mut per_cell: Vec<CellScores> = Vec::new();
    for (ci, (id, label)) in cells.iter().enumerate() {
        let cell_rows: Vec<&CaptionRow> = rows.iter().filter(|r| r.cell == *id).collect();
        let ok: Vec<&CaptionRow> = cell_rows
            .iter()
            .copied()
            .filter(|r| r.error.is_none())
            .collect();
        let mut set = CaptionSet::default();
        for r in ok.iter().filter(|r| !r.refs.is_empty()) {
            set.refs.insert(r.sample_id.clone(), r.refs.clone());
            set.cands.insert(r.sample_id.clone(), r.caption.clone());
        }
        let seed_c = seed.wrapping_add(ci as u64 * 7919);
        let mut scores = CellScores::default();
        let (cider_d, rouge_l, bleu, empty, per_image) = if set.cands.is_empty() {
            let nan = estimate(&[], resamples, seed_c);
            (nan, nan, [f64::NAN; 4], 0, Vec::new())
        } else {
            let s = evaluate(&set).map_err(|e| TaskError::Metrics(Box::new(e)))?;
            let cider: Vec<f64> = s.per_image.iter().map(|p| p.cider_d).collect();
            let rouge: Vec<f64> = s.per_image.iter().map(|p| p.rouge_l).collect();
            for p in &s.per_image {
                scores.cider.insert(p.image_id.clone(), p.cider_d);
            }
            (
                estimate(&cider, resamples, seed_c),
                estimate(&rouge, resamples, seed_c ^ 1),
                s.bleu,
                s.empty_candidates.len(),
                s.per_image,
            )
        };
        let clip: Vec<(String, f64)> = ok
            .iter()
            .filter_map(|r| r.clip_score.map(|c| (r.sample_id.clone(), c)))
            .collect();
        let ref_clip: Vec<f64> = ok.iter().filter_map(|r| r.ref_clip_score).collect();
        scores.clip = clip.iter().cloned().collect();
        let clip_vals: Vec<f64> = clip.iter().map(|c| c.1).collect();
        let words: Vec<f64> = ok
            .iter()
            .map(|r| cuelab_metrics::ptb_tokens(&r.caption).len() as f64)
            .collect();
        let mean_tokens = if words.is_empty() {
            f64::NAN
        } else {
            words.iter().sum::<f64>() / words.len() as f64
        };
        out.push(CellSummary {
            id: id.clone(),
            label: label.clone(),
            captions: ok.len(),
            errors: cell_rows.len() - ok.len(),
            empty,
            mean_tokens,
            cider_d,
            bleu,
            rouge_l,
            clip_score: (!clip_vals.is_empty())
                .then(|| estimate(&clip_vals, resamples, seed_c ^ 2)),
            ref_clip_score: (!ref_clip.is_empty())
                .then(|| estimate(&ref_clip, resamples, seed_c ^ 3)),
        });
        if let Some(dir) = dir {
            write_cell_files(dir, id, label, &ok, &per_image)?;
        }
        per_cell.push(scores);
    }
    let pairs: Vec<(usize, usize)> = if cells.len() <= 6 {
        (0..cells.len())
            .flat_map(|a| (a + 1..cells.len()).map(move |b| (a, b)))
            .collect()
    } else {
        (1..cells.len()).map(|b| (0, b)).collect()
    };
    let mut paired = Vec::new();
    for (a, b) in pairs {
        for metric in ["cider_d", "clip_score"] {
            let (ma, mb) = match metric {
                "cider_d" => (&per_cell[a].cider, &per_cell[b].cider),
                _ => (&per_cell[a].clip, &per_cell[b].clip),
            };
            let common: Vec<(f64, f64)> = ma
                .iter()
                .filter_map(|(k, x)| mb.get(k).map(|y| (*x, *y)))
                .collect();
            if common.is_empty() {
                continue;
            }
            let xa: Vec<f64> = common.iter().map(|c| c.0).collect();
            let xb: Vec<f64> = common.iter().map(|c| c.1).collect();
            paired.push(CellPair {
                a: cells[a].0.clone(),
                b: cells[b].0.clone(),
                metric: metric.into(),
                diff: paired_bootstrap(&xa, &xb, resamples, seed ^ ((a * 31 + b) as u64)),
            });
        }
    }
    Ok(CaptionSummary {
        cells: out,
        paired,
        missing,
        resamples,
    })
}

fn write_cell_files(
    dir: &Path,
    id: &str,
    label: &str,
    ok: &[&CaptionRow],
    per_image: &[cuelab_metrics::ImageScores],
) -> Result<()> {
    let cell_dir = dir.join("cells").join(id);
    std::fs::create_dir_all(&cell_dir).map_err(|e| TaskError::io(&cell_dir, e))?;
    let results: Vec<serde_json::Value> = ok
        .iter()
        .map(|r| json!({"image_id": r.image_id, "caption": r.caption}))
        .collect();
    write_json_atomic(
        &cell_dir.join("captions.json"),
        &serde_json::Value::Array(results),
    )?;
    let clip: BTreeMap<&str, (Option<f64>, Option<f64>)> = ok
        .iter()
        .map(|r| (r.sample_id.as_str(), (r.clip_score, r.ref_clip_score)))
        .collect();
    let images: Vec<serde_json::Value> = per_image
        .iter()
        .map(|p| {
            let (c, rc) = clip.get(p.image_id.as_str()).copied().unwrap_or_default();
            json!({"sample_id": p.image_id, "cider_d": p.cider_d, "bleu": p.bleu,
                   "rouge_l": p.rouge_l, "clip_score": c, "ref_clip_score": rc})
        })
        .collect();
    write_json_atomic(
        &cell_dir.join("scores.json"),
        &json!({"cell": id, "label": label, "per_image": images}),
    )
}

fn fmt_est(e: &Estimate, scale: f64) -> String {
    if e.mean.is_nan() {
        return "-".into();
    }
    format!(
        "{:.3} [{:.3}, {:.3}]",
        e.mean * scale,
        e.lo * scale,
        e.hi * scale
    )
}

/// The summary as a text table (what `summary.txt` holds).
pub fn caption_table(s: &CaptionSummary) -> String {
    let mut t = String::new();
    t.push_str(&format!(
        "{:<4} {:<58} {:>4} {:>24} {:>6} {:>6} {:>6} {:>6} {:>24} {:>24}\n",
        "cell",
        "prompt / generation / cue",
        "n",
        "CIDEr-D [95% CI]",
        "B-1",
        "B-2",
        "B-3",
        "B-4",
        "ROUGE-L",
        "CLIPScore"
    ));
    for (i, c) in s.cells.iter().enumerate() {
        let mut label = c.label.clone();
        if label.chars().count() > 58 {
            label = label.chars().take(55).collect::<String>() + "...";
        }
        t.push_str(&format!(
            "{:<4} {:<58} {:>4} {:>24} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>24} {:>24}\n",
            format!("#{}", i + 1),
            label,
            c.captions,
            fmt_est(&c.cider_d, 1.0),
            c.bleu[0],
            c.bleu[1],
            c.bleu[2],
            c.bleu[3],
            fmt_est(&c.rouge_l, 1.0),
            c.clip_score
                .as_ref()
                .map(|e| fmt_est(e, 1.0))
                .unwrap_or_else(|| "-".into()),
        ));
    }
    for (i, c) in s.cells.iter().enumerate() {
        t.push_str(&format!("#{} = {} ({})", i + 1, c.id, c.label));
        if c.errors > 0 || c.empty > 0 {
            t.push_str(&format!(", {} errors, {} empty", c.errors, c.empty));
        }
        if let Some(r) = &c.ref_clip_score {
            t.push_str(&format!(", RefCLIPScore {}", fmt_est(r, 1.0)));
        }
        t.push('\n');
    }
    let index = |id: &str| {
        s.cells
            .iter()
            .position(|c| c.id == id)
            .map(|i| format!("#{}", i + 1))
            .unwrap_or_else(|| id.to_string())
    };
    for p in &s.paired {
        t.push_str(&format!(
            "paired {} {} - {}: {:+.3} [{:+.3}, {:+.3}] p={:.3} (n={})\n",
            p.metric,
            index(&p.b),
            index(&p.a),
            p.diff.diff.mean,
            p.diff.diff.lo,
            p.diff.diff.hi,
            p.diff.p_value,
            p.diff.diff.n
        ));
    }
    if s.missing > 0 {
        t.push_str(&format!(
            "{} caption(s) missing (transport failures); rerun to resume\n",
            s.missing
        ));
    }
    t
}
