//! Counting scores shared by the probes: exact accuracy, mean absolute error and signed bias
//! (over/under-counting) overall and by true count (the accuracy-vs-N curve), and paired tests
//! of one arm against a reference arm.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::stats::{bootstrap_mean, mcnemar, Estimate, McNemar};

/// Bootstrap resamples of every interval.
pub const RESAMPLES: usize = 1000;

/// One answered counting question: the true count and the count read from the answer (`None`
/// when none could be read; scored as wrong, left out of the errors).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CountAnswer {
    /// The true count.
    pub truth: usize,
    /// The count read from the answer.
    pub answer: Option<i64>,
}

/// Counting scores of one group of answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountStats {
    /// Exact-match accuracy (unparseable answers count as wrong), with a 95% CI.
    pub exact: Estimate,
    /// Mean absolute error over parseable answers.
    pub mae: Estimate,
    /// Mean signed error (answer − truth) over parseable answers: > 0 over-counts.
    pub bias: Estimate,
    /// Share of parseable answers above the truth.
    pub over: f64,
    /// Share of parseable answers below the truth.
    pub under: f64,
    /// Answers from which no count could be read.
    pub unparseable: usize,
}

/// One point of the accuracy-vs-N curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// The true count.
    pub n: usize,
    /// Scores of the questions whose true count is `n`.
    pub stats: CountStats,
}

/// Scores of `answers`.
pub fn count_stats(answers: &[CountAnswer], seed: u64) -> CountStats {
    let exact: Vec<f64> = answers
        .iter()
        .map(|a| f64::from(u8::from(a.answer == Some(a.truth as i64))))
        .collect();
    let signed: Vec<f64> = answers
        .iter()
        .filter_map(|a| Some((a.answer? - a.truth as i64) as f64))
        .collect();
    let abs: Vec<f64> = signed.iter().map(|d| d.abs()).collect();
    let parsed = signed.len().max(1) as f64;
    CountStats {
        exact: bootstrap_mean(&exact, RESAMPLES, seed),
        mae: bootstrap_mean(&abs, RESAMPLES, seed),
        bias: bootstrap_mean(&signed, RESAMPLES, seed),
        over: signed.iter().filter(|d| **d > 0.0).count() as f64 / parsed,
        under: signed.iter().filter(|d| **d < 0.0).count() as f64 / parsed,
        unparseable: answers.iter().filter(|a| a.answer.is_none()).count(),
    }
}

/// Scores by true count, ascending.
pub fn curve(answers: &[CountAnswer], seed: u64) -> Vec<CurvePoint> {
    let mut by_n: BTreeMap<usize, Vec<CountAnswer>> = BTreeMap::new();
    for a in answers {
        by_n.entry(a.truth).or_default().push(*a);
    }
    by_n.into_iter()
        .map(|(n, group)| CurvePoint {
            n,
            stats: count_stats(&group, seed),
        })
        .collect()
}

/// One arm against the reference arm on the questions both answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paired {
    /// The arm.
    pub arm: String,
    /// The reference arm (`plain`, `identity`, `direct`).
    pub reference: String,
    /// Shared questions.
    pub n: usize,
    /// Accuracy difference (arm − reference).
    pub diff: f64,
    /// Share of shared questions whose answer differs from the reference's.
    pub flip_rate: f64,
    /// McNemar: `a_only` = right only under the reference, `b_only` = right only under the arm.
    pub mcnemar: McNemar,
}

/// Compare `arm` with `reference` on shared keys: `(question key, correct, answer text)`.
pub fn paired(
    arm: &str,
    reference: &str,
    arm_rows: &[(String, bool, String)],
    reference_rows: &[(String, bool, String)],
) -> Paired {
    let refs: BTreeMap<&str, (bool, &str)> = reference_rows
        .iter()
        .map(|(k, c, t)| (k.as_str(), (*c, t.as_str())))
        .collect();
    let (mut a, mut b, mut flips) = (Vec::new(), Vec::new(), 0usize);
    for (k, c, t) in arm_rows {
        if let Some((rc, rt)) = refs.get(k.as_str()) {
            a.push(*rc);
            b.push(*c);
            if normalise(rt) != normalise(t) {
                flips += 1;
            }
        }
    }
    let n = a.len();
    let acc = |v: &[bool]| v.iter().filter(|x| **x).count() as f64 / n.max(1) as f64;
    Paired {
        arm: arm.to_string(),
        reference: reference.to_string(),
        n,
        diff: acc(&b) - acc(&a),
        flip_rate: flips as f64 / n.max(1) as f64,
        mcnemar: mcnemar(&a, &b),
    }
}

fn normalise(text: &str) -> String {
    text.trim()
        .trim_end_matches('.')
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `12.5` style percentage of an estimate, `-` when empty.
pub fn pct(e: &Estimate) -> String {
    if e.n == 0 || e.mean.is_nan() {
        "-".into()
    } else {
        format!("{:.1}", 100.0 * e.mean)
    }
}

/// A number with 2 decimals, `-` when empty.
pub fn num(e: &Estimate) -> String {
    if e.n == 0 || e.mean.is_nan() {
        "-".into()
    } else {
        format!("{:.2}", e.mean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_and_curve() {
        let a = |truth, answer| CountAnswer { truth, answer };
        let answers = [a(3, Some(3)), a(3, Some(5)), a(5, Some(4)), a(5, None)];
        let s = count_stats(&answers, 0);
        assert_eq!(s.exact.mean, 0.25);
        assert!((s.mae.mean - 1.0).abs() < 1e-12);
        assert!((s.bias.mean - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!((s.over, s.under, s.unparseable), (1.0 / 3.0, 1.0 / 3.0, 1));
        let c = curve(&answers, 0);
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].n, c[0].stats.exact.mean), (3, 0.5));
        assert_eq!((c[1].n, c[1].stats.exact.mean), (5, 0.0));
        let row = |k: &str, c: bool, t: &str| (k.to_string(), c, t.to_string());
        let p = paired(
            "x",
            "plain",
            &[
                row("a", true, "3"),
                row("b", false, "4"),
                row("c", true, "2"),
            ],
            &[
                row("a", false, "2"),
                row("b", false, "4."),
                row("d", true, "1"),
            ],
        );
        assert_eq!((p.n, p.mcnemar.b_only, p.mcnemar.a_only), (2, 1, 0));
        assert_eq!(p.flip_rate, 0.5);
    }
}
