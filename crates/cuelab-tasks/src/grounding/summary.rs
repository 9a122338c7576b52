//! Grounding summaries recomputed from result rows: mIoU, Acc@0.3/0.5/0.7 and crop cosine with
//! bootstrap CIs, a spatial / non-spatial breakdown, and paired tests of each variant against
//! the first (McNemar on Acc@0.5, paired bootstrap on IoU).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::grounding::{GroundingRow, InputCounts};
use crate::stats::{bootstrap_mean, mcnemar, paired_bootstrap, Estimate, McNemar, PairedDiff};

/// Bootstrap resamples for every CI.
pub const RESAMPLES: usize = 1000;

/// Metrics of one group of rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Rows scored.
    pub n: usize,
    /// Mean IoU.
    pub miou: Estimate,
    /// Share with IoU >= 0.3.
    pub acc_03: Estimate,
    /// Share with IoU >= 0.5.
    pub acc_05: Estimate,
    /// Share with IoU >= 0.7.
    pub acc_07: Estimate,
    /// Mean crop cosine.
    pub crop_cosine: Estimate,
}

/// Summary of one variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantSummary {
    /// Variant id.
    pub id: String,
    /// Human label.
    pub label: String,
    /// Rows with an error (excluded from the metrics).
    pub errors: usize,
    /// Rows that fell back to the whole image (no proposals).
    pub fallbacks: usize,
    /// All scored rows.
    pub all: Metrics,
    /// Rows whose expression has a spatial word.
    pub spatial: Metrics,
    /// The others.
    pub non_spatial: Metrics,
}

/// A paired comparison of variant `b` against `a` on the samples both scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paired {
    /// Reference variant id.
    pub a: String,
    /// Compared variant id.
    pub b: String,
    /// Samples in common.
    pub n: usize,
    /// McNemar on hits at IoU >= 0.5.
    pub acc_05: McNemar,
    /// Paired bootstrap of IoU (b - a).
    pub iou: PairedDiff,
}

/// The whole summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Per variant, in run order.
    pub variants: Vec<VariantSummary>,
    /// Each variant against the first.
    pub paired: Vec<Paired>,
    /// Inputs skipped, replaced or dropped before scoring (absent when none).
    #[serde(default, skip_serializing_if = "InputCounts::is_empty")]
    pub inputs: InputCounts,
}

fn metrics(rows: &[&GroundingRow], seed: u64) -> Metrics {
    let ious: Vec<f64> = rows.iter().map(|r| f64::from(r.iou)).collect();
    let hit = |t: f32| -> Vec<f64> {
        rows.iter()
            .map(|r| if r.iou >= t { 1.0 } else { 0.0 })
            .collect()
    };
    let cos: Vec<f64> = rows
        .iter()
        .filter_map(|r| r.crop_cosine.map(f64::from))
        .collect();
    Metrics {
        n: rows.len(),
        miou: bootstrap_mean(&ious, RESAMPLES, seed),
        acc_03: bootstrap_mean(&hit(0.3), RESAMPLES, seed),
        acc_05: bootstrap_mean(&hit(0.5), RESAMPLES, seed),
        acc_07: bootstrap_mean(&hit(0.7), RESAMPLES, seed),
        crop_cosine: bootstrap_mean(&cos, RESAMPLES, seed),
    }
}

/// Summarise `rows` for the variants `order` (id, label), with seeded resampling.
pub fn summarize(rows: &[GroundingRow], order: &[(String, String)], seed: u64) -> Summary {
    let mut by_variant: BTreeMap<&str, Vec<&GroundingRow>> = BTreeMap::new();
    for r in rows {
        by_variant.entry(r.variant.as_str()).or_default().push(r);
    }
    let variants: Vec<VariantSummary> = order
        .iter()
        .map(|(id, label)| {
            let rows = by_variant.get(id.as_str()).cloned().unwrap_or_default();
            let ok: Vec<&GroundingRow> =
                rows.iter().copied().filter(|r| r.error.is_none()).collect();
            let spatial: Vec<&GroundingRow> = ok.iter().copied().filter(|r| r.spatial).collect();
            let other: Vec<&GroundingRow> = ok.iter().copied().filter(|r| !r.spatial).collect();
            VariantSummary {
                id: id.clone(),
                label: label.clone(),
                errors: rows.len() - ok.len(),
                fallbacks: ok.iter().filter(|r| r.fallback).count(),
                all: metrics(&ok, seed),
                spatial: metrics(&spatial, seed),
                non_spatial: metrics(&other, seed),
            }
        })
        .collect();
    let mut paired = Vec::new();
    if let Some((first, _)) = order.first() {
        let index = |id: &str| -> BTreeMap<&str, &GroundingRow> {
            by_variant
                .get(id)
                .map(|v| {
                    v.iter()
                        .filter(|r| r.error.is_none())
                        .map(|r| (r.sample.as_str(), *r))
                        .collect()
                })
                .unwrap_or_default()
        };
        let a_rows = index(first);
        for (id, _) in order.iter().skip(1) {
            let b_rows = index(id);
            let common: Vec<(&GroundingRow, &GroundingRow)> = a_rows
                .iter()
                .filter_map(|(s, a)| b_rows.get(s).map(|b| (*a, *b)))
                .collect();
            let ha: Vec<bool> = common.iter().map(|(a, _)| a.iou >= 0.5).collect();
            let hb: Vec<bool> = common.iter().map(|(_, b)| b.iou >= 0.5).collect();
            let ia: Vec<f64> = common.iter().map(|(a, _)| f64::from(a.iou)).collect();
            let ib: Vec<f64> = common.iter().map(|(_, b)| f64::from(b.iou)).collect();
            paired.push(Paired {
                a: first.clone(),
                b: id.clone(),
                n: common.len(),
                acc_05: mcnemar(&ha, &hb),
                iou: paired_bootstrap(&ia, &ib, RESAMPLES, seed),
            });
        }
    }
    Summary {
        variants,
        paired,
        inputs: InputCounts::default(),
    }
}

/// A terminal table of the summary.
pub fn table(summary: &Summary) -> String {
    let pct = |e: &Estimate| {
        if e.n == 0 {
            "       -        ".to_string()
        } else {
            format!(
                "{:5.1} [{:4.1},{:5.1}]",
                100.0 * e.mean,
                100.0 * e.lo,
                100.0 * e.hi
            )
        }
    };
    let width = summary
        .variants
        .iter()
        .map(|v| v.label.len())
        .max()
        .unwrap_or(7)
        .max(7);
    let label = |id: &str| {
        summary
            .variants
            .iter()
            .find(|v| v.id == id)
            .map_or(id.to_string(), |v| v.label.clone())
    };
    let mut out = String::new();
    out.push_str(&format!(
        "{:<width$} {:>5} {:>4} {:^18} {:^18} {:^18} {:^18} {:^18} {:^18} {:^18}\n",
        "variant",
        "n",
        "err",
        "mIoU %",
        "Acc@0.3 %",
        "Acc@0.5 %",
        "Acc@0.7 %",
        "crop cos %",
        "Acc@0.5 spatial",
        "Acc@0.5 other"
    ));
    for v in &summary.variants {
        out.push_str(&format!(
            "{:<width$} {:>5} {:>4} {:>18} {:>18} {:>18} {:>18} {:>18} {:>18} {:>18}\n",
            v.label,
            v.all.n,
            v.errors,
            pct(&v.all.miou),
            pct(&v.all.acc_03),
            pct(&v.all.acc_05),
            pct(&v.all.acc_07),
            pct(&v.all.crop_cosine),
            pct(&v.spatial.acc_05),
            pct(&v.non_spatial.acc_05),
        ));
    }
    for p in &summary.paired {
        out.push_str(&format!(
            "\n{} vs {} on {} samples: Acc@0.5 McNemar {}/{} discordant, p = {:.4}; mIoU diff {:+.2} pts [{:+.2}, {:+.2}], p = {:.4}",
            label(&p.b),
            label(&p.a),
            p.n,
            p.acc_05.b_only,
            p.acc_05.a_only,
            p.acc_05.p_value,
            100.0 * p.iou.diff.mean,
            100.0 * p.iou.diff.lo,
            100.0 * p.iou.diff.hi,
            p.iou.p_value
        ));
    }
    for line in summary.inputs.lines() {
        out.push_str(&format!("\nwarning: {line}"));
    }
    out.push('\n');
    out
}
