//! The summary of a surprisal run: totals and bits/token per variant, the dataset's total
//! information, and paired comparisons of every cued variant against the plain images.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::{Scored, SurprisalRow};
use crate::stats::{bootstrap_mean, paired_bootstrap, Estimate, PairedDiff};

const RESAMPLES: usize = 1000;

/// Totals of one variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantSurprisal {
    /// Variant id.
    pub id: String,
    /// Canonical cue recipe.
    pub label: String,
    /// Examples measured.
    pub examples: usize,
    /// Examples that could not be measured.
    pub errors: usize,
    /// Answer-span tokens, summed.
    pub answer_tokens: usize,
    /// Answer-span surprisal, summed (bits).
    pub answer_bits: f64,
    /// `answer_bits / answer_tokens` (token-weighted).
    pub answer_bits_per_token: f64,
    /// Mean over examples of each example's answer bits/token, with a bootstrap CI.
    pub answer_bits_per_token_mean: Estimate,
    /// Whole-sequence tokens scored, summed.
    pub sequence_tokens: usize,
    /// Whole-sequence surprisal, summed (bits).
    pub sequence_bits: f64,
    /// `sequence_bits / sequence_tokens`.
    pub sequence_bits_per_token: f64,
    /// Mean over examples of each example's sequence bits/token, with a bootstrap CI.
    pub sequence_bits_per_token_mean: Estimate,
}

/// A cued variant against the plain images, on the examples measured under both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedSurprisal {
    /// The cued variant's id.
    pub variant: String,
    /// Its recipe.
    pub label: String,
    /// The variant compared against (`plain`).
    pub against: String,
    /// Examples in the comparison.
    pub n: usize,
    /// Difference (cued − plain) of answer bits/token per example.
    pub answer_bits_per_token: PairedDiff,
    /// Difference (cued − plain) of answer bits per example.
    pub answer_bits: PairedDiff,
    /// Difference (cued − plain) of sequence bits/token per example.
    pub sequence_bits_per_token: PairedDiff,
}

/// The summary of a surprisal run (`summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurprisalSummary {
    /// Model id (with its weights hash).
    pub model: String,
    /// Samples of the data file that gave no example.
    pub skipped_samples: usize,
    /// The dataset's information: answer-span bits summed over the examples of
    /// `dataset_bits_variant`.
    pub dataset_bits: f64,
    /// Answer tokens of those examples.
    pub dataset_tokens: usize,
    /// Examples those bits cover.
    pub dataset_examples: usize,
    /// The variant the dataset total is measured under (`plain` when run).
    pub dataset_bits_variant: String,
    /// Per variant, in the configured order.
    pub variants: Vec<VariantSurprisal>,
    /// Every cued variant against `plain` (when `plain` is run).
    pub paired: Vec<PairedSurprisal>,
}

fn per_token(bits: f64, tokens: usize) -> f64 {
    if tokens == 0 {
        f64::NAN
    } else {
        bits / tokens as f64
    }
}

/// Summarise rows; `order` is `(id, label)` of the variants as configured.
pub fn summarize(
    rows: &[SurprisalRow],
    order: &[(String, String)],
    model: &str,
    skipped_samples: usize,
    seed: u64,
) -> SurprisalSummary {
    let mut by_variant: BTreeMap<&str, BTreeMap<&str, Scored>> = BTreeMap::new();
    let mut errors: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows {
        match &r.scored {
            Some(s) => {
                by_variant
                    .entry(r.variant.as_str())
                    .or_default()
                    .insert(r.unit.as_str(), *s);
            }
            None => *errors.entry(r.variant.as_str()).or_default() += 1,
        }
    }
    let empty = BTreeMap::new();
    let variants: Vec<VariantSurprisal> = order
        .iter()
        .map(|(id, label)| {
            let m = by_variant.get(id.as_str()).unwrap_or(&empty);
            let answer_tokens: usize = m.values().map(|s| s.answer_tokens).sum();
            let answer_bits: f64 = m.values().map(|s| s.answer_bits).sum();
            let sequence_tokens: usize = m.values().map(|s| s.sequence_tokens).sum();
            let sequence_bits: f64 = m.values().map(|s| s.sequence_bits).sum();
            let abpt: Vec<f64> = m
                .values()
                .map(|s| per_token(s.answer_bits, s.answer_tokens))
                .collect();
            let sbpt: Vec<f64> = m
                .values()
                .map(|s| per_token(s.sequence_bits, s.sequence_tokens))
                .collect();
            VariantSurprisal {
                id: id.clone(),
                label: label.clone(),
                examples: m.len(),
                errors: errors.get(id.as_str()).copied().unwrap_or(0),
                answer_tokens,
                answer_bits,
                answer_bits_per_token: per_token(answer_bits, answer_tokens),
                answer_bits_per_token_mean: bootstrap_mean(&abpt, RESAMPLES, seed),
                sequence_tokens,
                sequence_bits,
                sequence_bits_per_token: per_token(sequence_bits, sequence_tokens),
                sequence_bits_per_token_mean: bootstrap_mean(&sbpt, RESAMPLES, seed),
            }
        })
        .collect();
    let dataset = variants
        .iter()
        .find(|v| v.id == "plain")
        .or(variants.first());
    let mut paired = Vec::new();
    if let Some(plain) = by_variant.get("plain") {
        for (id, label) in order.iter().filter(|(id, _)| id != "plain") {
            let Some(cued) = by_variant.get(id.as_str()) else {
                continue;
            };
            let both: Vec<(&Scored, &Scored)> = cued
                .iter()
                .filter_map(|(u, c)| plain.get(u).map(|p| (p, c)))
                .collect();
            let col = |f: &dyn Fn(&Scored) -> f64| -> (Vec<f64>, Vec<f64>) {
                both.iter().map(|(p, c)| (f(p), f(c))).unzip()
            };
            let (pa, ca) = col(&|s| per_token(s.answer_bits, s.answer_tokens));
            let (pb, cb) = col(&|s| s.answer_bits);
            let (ps, cs) = col(&|s| per_token(s.sequence_bits, s.sequence_tokens));
            paired.push(PairedSurprisal {
                variant: id.clone(),
                label: label.clone(),
                against: "plain".into(),
                n: both.len(),
                answer_bits_per_token: paired_bootstrap(&pa, &ca, RESAMPLES, seed),
                answer_bits: paired_bootstrap(&pb, &cb, RESAMPLES, seed),
                sequence_bits_per_token: paired_bootstrap(&ps, &cs, RESAMPLES, seed),
            });
        }
    }
    SurprisalSummary {
        model: model.to_string(),
        skipped_samples,
        dataset_bits: dataset.map(|v| v.answer_bits).unwrap_or(0.0),
        dataset_tokens: dataset.map(|v| v.answer_tokens).unwrap_or(0),
        dataset_examples: dataset.map(|v| v.examples).unwrap_or(0),
        dataset_bits_variant: dataset.map(|v| v.id.clone()).unwrap_or_default(),
        variants,
        paired,
    }
}

/// The terminal table (also `summary.txt`).
pub fn table(s: &SurprisalSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "model {}", s.model);
    let _ = writeln!(
        out,
        "{:<28} {:>8} {:>6} {:>9} {:>12} {:>10} {:>21} {:>10} {:>10}",
        "variant",
        "examples",
        "errors",
        "ans tok",
        "ans bits",
        "ans b/tok",
        "mean ans b/tok [95%]",
        "seq tok",
        "seq b/tok"
    );
    for v in &s.variants {
        let e = &v.answer_bits_per_token_mean;
        let _ = writeln!(
            out,
            "{:<28} {:>8} {:>6} {:>9} {:>12.1} {:>10.4} {:>21} {:>10} {:>10.4}",
            truncate(&v.label, 28),
            v.examples,
            v.errors,
            v.answer_tokens,
            v.answer_bits,
            v.answer_bits_per_token,
            format!("{:.3} [{:.3}, {:.3}]", e.mean, e.lo, e.hi),
            v.sequence_tokens,
            v.sequence_bits_per_token
        );
    }
    for p in &s.paired {
        let d = &p.answer_bits_per_token;
        let _ = writeln!(
            out,
            "{} vs {}: answer bits/token {:+.4} [{:+.4}, {:+.4}] (p = {:.3}, n = {}), answer bits {:+.2} per example",
            p.label, p.against, d.diff.mean, d.diff.lo, d.diff.hi, d.p_value, p.n, p.answer_bits.diff.mean
        );
    }
    let _ = writeln!(
        out,
        "dataset: {:.1} bits over {} answer tokens in {} examples ({}){}",
        s.dataset_bits,
        s.dataset_tokens,
        s.dataset_examples,
        s.dataset_bits_variant,
        if s.skipped_samples > 0 {
            format!(
                "; {} sample(s) skipped (reasons in manifest.json)",
                s.skipped_samples
            )
        } else {
            String::new()
        }
    );
    out
}

fn truncate(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        text.to_string()
    } else {
        let mut t: String = text.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(variant: &str, unit: &str, bits: f64, tokens: usize) -> SurprisalRow {
        SurprisalRow {
            key: format!("{variant}/{unit}"),
            variant: variant.into(),
            unit: unit.into(),
            sample_id: unit.into(),
            kind: "qa".into(),
            scored: Some(Scored {
                answer_tokens: tokens,
                answer_bits: bits,
                sequence_tokens: tokens * 10,
                sequence_bits: bits * 20.0,
                image_tokens: 4,
            }),
            error: None,
        }
    }

    #[test]
    fn totals_dataset_bits_and_pairs() {
        let mut rows = vec![
            row("plain", "a", 10.0, 5),
            row("plain", "b", 6.0, 2),
            row("cue-x", "a", 5.0, 5),
        ];
        rows.push(SurprisalRow {
            scored: None,
            error: Some("bad image".into()),
            ..row("cue-x", "b", 0.0, 0)
        });
        let order = vec![
            ("plain".to_string(), "plain".to_string()),
            ("cue-x".to_string(), "rect()".to_string()),
        ];
        let s = summarize(&rows, &order, "m", 1, 0);
        assert_eq!(s.dataset_bits, 16.0);
        assert_eq!((s.dataset_tokens, s.dataset_examples), (7, 2));
        assert!((s.variants[0].answer_bits_per_token - 16.0 / 7.0).abs() < 1e-12);
        assert!((s.variants[0].answer_bits_per_token_mean.mean - 2.5).abs() < 1e-12);
        assert_eq!((s.variants[1].examples, s.variants[1].errors), (1, 1));
        assert_eq!(s.paired.len(), 1);
        assert_eq!(s.paired[0].n, 1);
        assert!((s.paired[0].answer_bits_per_token.diff.mean + 1.0).abs() < 1e-12);
        let t = table(&s);
        assert!(t.contains("dataset: 16.0 bits over 7 answer tokens in 2 examples (plain)"));
        assert!(t.contains("1 sample(s) skipped"), "{t}");
    }
}
