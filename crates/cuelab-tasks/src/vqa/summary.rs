//! Accuracy by question type x cue variant, pair accuracy, counting errors, and the paired
//! comparison of every cue variant against plain.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::item::ItemKind;
use super::run::VqaRow;
use crate::stats::{bootstrap_mean, mcnemar, Estimate, McNemar};

const RESAMPLES: usize = 1000;

/// Accuracy of one group of rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Question type (`all` for every type).
    pub qtype: String,
    /// Accuracy over answered questions (unparseable answers count as wrong), with a 95% CI.
    pub accuracy: Estimate,
    /// Answers from which no option/count could be read.
    pub unparseable: usize,
    /// Questions that could not be asked (unreadable image, cue failure).
    pub errors: usize,
}

/// Counting scores of one variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountScores {
    /// Exact-match accuracy (unparseable = wrong).
    pub exact: Estimate,
    /// Mean absolute error over parseable answers.
    pub mae: Estimate,
}

/// Everything about one cue variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantScores {
    /// Variant id.
    pub id: String,
    /// Canonical recipe.
    pub label: String,
    /// All questions.
    pub all: Cell,
    /// Per question type, sorted by type.
    pub by_type: Vec<Cell>,
    /// Pair accuracy (every question of a pair right), over complete pairs; `None` without pairs.
    pub pairs: Option<Estimate>,
    /// Counting scores; `None` without counting questions.
    pub counting: Option<CountScores>,
    /// Answers served from the response cache.
    pub from_cache: usize,
}

/// A cue variant against plain on the questions both answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VsPlain {
    /// The cue variant id.
    pub variant: String,
    /// Shared questions.
    pub n: usize,
    /// Accuracy difference (variant − plain), in [−1, 1].
    pub diff: f64,
    /// McNemar: `a_only` = right only under plain, `b_only` = right only under the cue.
    pub mcnemar: McNemar,
}

/// The summary of a question-answering run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VqaSummary {
    /// Per variant, in configuration order.
    pub variants: Vec<VariantScores>,
    /// Each cue variant against plain (when plain is part of the run).
    pub vs_plain: Vec<VsPlain>,
    /// Questions not answered yet (transport failures; a rerun asks them again).
    pub missing: usize,
    /// Requests, failures and latency per endpoint of this run's process (remote backends;
    /// not carried into a merge, whose shards each keep their own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<cuelab_vlm::EndpointStats>,
}

fn cell(qtype: &str, rows: &[&VqaRow], seed: u64) -> Cell {
    let answered: Vec<f64> = rows
        .iter()
        .filter(|r| r.error.is_none())
        .map(|r| f64::from(u8::from(r.correct)))
        .collect();
    Cell {
        qtype: qtype.to_string(),
        accuracy: bootstrap_mean(&answered, RESAMPLES, seed),
        unparseable: rows.iter().filter(|r| r.unparseable).count(),
        errors: rows.iter().filter(|r| r.error.is_some()).count(),
    }
}

/// Summarise rows; `order` lists `(variant id, label)` in display order.
pub fn summarize_vqa(
    rows: &[VqaRow],
    order: &[(String, String)],
    seed: u64,
    missing: usize,
) -> VqaSummary {
    let mut variants = Vec::new();
    for (id, label) in order {
        let mine: Vec<&VqaRow> = rows.iter().filter(|r| &r.variant == id).collect();
        let mut types: BTreeMap<&str, Vec<&VqaRow>> = BTreeMap::new();
        for r in &mine {
            types.entry(r.qtype.as_str()).or_default().push(r);
        }
        let by_type = types.iter().map(|(t, rs)| cell(t, rs, seed)).collect();
        let mut pairs: BTreeMap<&str, Vec<&VqaRow>> = BTreeMap::new();
        for r in mine.iter().filter(|r| r.error.is_none()) {
            if let Some(p) = &r.pair_id {
                pairs.entry(p.as_str()).or_default().push(r);
            }
        }
        let pair_values: Vec<f64> = pairs
            .values()
            .filter(|rs| rs.len() >= 2)
            .map(|rs| f64::from(u8::from(rs.iter().all(|r| r.correct))))
            .collect();
        let counts: Vec<&&VqaRow> = mine
            .iter()
            .filter(|r| r.kind == ItemKind::Count && r.error.is_none())
            .collect();
        let counting = (!counts.is_empty()).then(|| {
            let exact: Vec<f64> = counts
                .iter()
                .map(|r| f64::from(u8::from(r.correct)))
                .collect();
            let abs: Vec<f64> = counts
                .iter()
                .filter_map(|r| Some((r.count_answer? - r.count_true?).abs() as f64))
                .collect();
            CountScores {
                exact: bootstrap_mean(&exact, RESAMPLES, seed),
                mae: bootstrap_mean(&abs, RESAMPLES, seed),
            }
        });
        variants.push(VariantScores {
            id: id.clone(),
            label: label.clone(),
            all: cell("all", &mine, seed),
            by_type,
            pairs: (!pair_values.is_empty()).then(|| bootstrap_mean(&pair_values, RESAMPLES, seed)),
            counting,
            from_cache: mine.iter().filter(|r| r.from_cache).count(),
        });
    }
    let mut vs_plain = Vec::new();
    if order.iter().any(|(id, _)| id == "plain") {
        let plain: BTreeMap<&str, bool> = rows
            .iter()
            .filter(|r| r.variant == "plain" && r.error.is_none())
            .map(|r| (r.sample_id.as_str(), r.correct))
            .collect();
        for (id, _) in order.iter().filter(|(id, _)| id != "plain") {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for r in rows
                .iter()
                .filter(|r| &r.variant == id && r.error.is_none())
            {
                if let Some(&p) = plain.get(r.sample_id.as_str()) {
                    a.push(p);
                    b.push(r.correct);
                }
            }
            let n = a.len();
            let acc = |v: &[bool]| v.iter().filter(|x| **x).count() as f64 / n.max(1) as f64;
            vs_plain.push(VsPlain {
                variant: id.clone(),
                n,
                diff: acc(&b) - acc(&a),
                mcnemar: mcnemar(&a, &b),
            });
        }
    }
    VqaSummary {
        variants,
        vs_plain,
        missing,
        endpoints: Vec::new(),
    }
}

fn pct(e: &Estimate) -> String {
    if e.n == 0 {
        "-".to_string()
    } else {
        format!(
            "{:.1} [{:.1}, {:.1}]",
            100.0 * e.mean,
            100.0 * e.lo,
            100.0 * e.hi
        )
    }
}

/// A terminal table: one line per variant x question type, then pairs, counts and tests.
pub fn vqa_table(summary: &VqaSummary) -> String {
    let width = summary
        .variants
        .iter()
        .map(|v| v.label.len())
        .max()
        .unwrap_or(7)
        .clamp(7, 48);
    let mut out = format!(
        "{:<width$}  {:<14} {:>5}  {:<20} {:>6} {:>4}\n",
        "variant", "type", "n", "accuracy % [95% CI]", "unpars", "err"
    );
    for v in &summary.variants {
        let mut label: String = v.label.chars().take(width).collect();
        for c in std::iter::once(&v.all).chain(&v.by_type) {
            if v.by_type.len() == 1 && c.qtype != "all" {
                continue;
            }
            out.push_str(&format!(
                "{:<width$}  {:<14} {:>5}  {:<20} {:>6} {:>4}\n",
                label,
                c.qtype.chars().take(14).collect::<String>(),
                c.accuracy.n,
                pct(&c.accuracy),
                c.unparseable,
                c.errors
            ));
            label = String::new();
        }
    }
    for v in &summary.variants {
        if let Some(p) = &v.pairs {
            out.push_str(&format!(
                "\n{}: pair accuracy {} over {} pairs",
                v.label,
                pct(p),
                p.n
            ));
        }
        if let Some(c) = &v.counting {
            out.push_str(&format!(
                "\n{}: counting exact {} , mean abs error {:.2} over {} parsed answers",
                v.label,
                pct(&c.exact),
                c.mae.mean,
                c.mae.n
            ));
        }
    }
    for t in &summary.vs_plain {
        let label = summary
            .variants
            .iter()
            .find(|v| v.id == t.variant)
            .map_or(t.variant.as_str(), |v| v.label.as_str());
        out.push_str(&format!(
            "\n{label} vs plain on {} questions: {:+.1} pts, McNemar {}/{} discordant, p = {:.4}",
            t.n,
            100.0 * t.diff,
            t.mcnemar.b_only,
            t.mcnemar.a_only,
            t.mcnemar.p_value
        ));
    }
    if summary.missing > 0 {
        out.push_str(&format!(
            "\n{} question(s) still unanswered (backend failures): rerun to ask them again",
            summary.missing
        ));
    }
    for e in &summary.endpoints {
        let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
        out.push_str(&format!(
            "\nendpoint {}: {} requests, {} failed, {} ejection(s){}, latency ms p50 {} p90 {} p99 {}",
            e.url,
            e.requests,
            e.failures,
            e.ejections,
            if e.healthy { "" } else { " (out of the rotation)" },
            ms(e.latency_ms_p50),
            ms(e.latency_ms_p90),
            ms(e.latency_ms_p99)
        ));
    }
    out.push('\n');
    out
}
