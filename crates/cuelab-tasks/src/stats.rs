//! Statistics for headline metrics: percentile bootstrap confidence intervals, McNemar's exact
//! test for paired accuracies, and the paired bootstrap for continuous metrics. Every resampling
//! is seeded, so a summary is reproducible bit for bit.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A point estimate with a 95% percentile-bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The mean over samples.
    pub mean: f64,
    /// 2.5th percentile of the bootstrap means.
    pub lo: f64,
    /// 97.5th percentile of the bootstrap means.
    pub hi: f64,
    /// Number of samples.
    pub n: usize,
}

/// Mean of `values` with a 95% percentile-bootstrap CI from `resamples` resamples.
pub fn bootstrap_mean(values: &[f64], resamples: usize, seed: u64) -> Estimate {
    let n = values.len();
    if n == 0 {
        return Estimate {
            mean: f64::NAN,
            lo: f64::NAN,
            hi: f64::NAN,
            n,
        };
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| values[rng.gen_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(|a, b| a.total_cmp(b));
    let (lo, hi) = if means.is_empty() {
        (mean, mean)
    } else {
        (percentile(&means, 2.5), percentile(&means, 97.5))
    };
    Estimate { mean, lo, hi, n }
}

/// Linear-interpolated percentile of sorted data (numpy's default "linear" method).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = (sorted.len() - 1) as f64 * q / 100.0;
    let (i, frac) = (pos.floor() as usize, pos - pos.floor());
    if i + 1 < sorted.len() {
        sorted[i] * (1.0 - frac) + sorted[i + 1] * frac
    } else {
        sorted[i]
    }
}

/// McNemar's test on paired binary outcomes (exact two-sided binomial on the discordant pairs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct McNemar {
    /// Pairs right under A and wrong under B.
    pub a_only: usize,
    /// Pairs right under B and wrong under A.
    pub b_only: usize,
    /// Two-sided exact p-value.
    pub p_value: f64,
}

/// McNemar's exact test for `a[i]` vs `b[i]` (same samples, two variants; the slices must have
/// the same length, as a pair whose other half is missing would silently drop out).
pub fn mcnemar(a: &[bool], b: &[bool]) -> McNemar {
    assert_eq!(
        a.len(),
        b.len(),
        "mcnemar: the two variants must hold the same samples"
    );
    let a_only = a.iter().zip(b).filter(|(x, y)| **x && !**y).count();
    let b_only = a.iter().zip(b).filter(|(x, y)| !**x && **y).count();
    let n = a_only + b_only;
    let k = a_only.min(b_only);
    // P(X <= k) for X ~ Binomial(n, 1/2), doubled, capped at 1; computed in log space.
    let p_value = if n == 0 {
        1.0
    } else {
        let ln_half_n = -(n as f64) * std::f64::consts::LN_2;
        let mut ln_c = 0.0f64; // ln C(n, 0)
        let mut tail = 0.0f64;
        for i in 0..=k {
            if i > 0 {
                ln_c += ((n - i + 1) as f64).ln() - (i as f64).ln();
            }
            tail += (ln_c + ln_half_n).exp();
        }
        (2.0 * tail).min(1.0)
    };
    McNemar {
        a_only,
        b_only,
        p_value,
    }
}

/// Paired bootstrap of `mean(b - a)`: the difference with a 95% CI and a two-sided p-value from
/// the share of resamples whose difference has the opposite sign to the observed one, with the
/// add-one correction `2 (k + 1) / (R + 1)` capped at 1, so it is never 0 (the smallest p that `R`
/// resamples can show is about `2 / R`), and 1 with fewer than two pairs (nothing to test).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PairedDiff {
    /// `mean(b) - mean(a)` with its CI.
    pub diff: Estimate,
    /// Bootstrap two-sided p-value.
    pub p_value: f64,
}

/// Paired bootstrap for continuous metrics on the same samples (`a[i]` and `b[i]` are one sample
/// under two conditions; the slices must have the same length).
pub fn paired_bootstrap(a: &[f64], b: &[f64], resamples: usize, seed: u64) -> PairedDiff {
    assert_eq!(
        a.len(),
        b.len(),
        "paired_bootstrap: the two conditions must hold the same samples"
    );
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| y - x).collect();
    let diff = bootstrap_mean(&d, resamples, seed);
    let n = d.len();
    let p_value = if n < 2 || resamples == 0 {
        1.0
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15);
        let opposite = (0..resamples)
            .filter(|_| {
                let m = (0..n).map(|_| d[rng.gen_range(0..n)]).sum::<f64>() / n as f64;
                if diff.mean >= 0.0 {
                    m <= 0.0
                } else {
                    m >= 0.0
                }
            })
            .count();
        (2.0 * (opposite + 1) as f64 / (resamples + 1) as f64).min(1.0)
    };
    PairedDiff { diff, p_value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_is_deterministic_and_brackets_the_mean() {
        let v: Vec<f64> = (0..200).map(|i| f64::from(i % 2)).collect();
        let a = bootstrap_mean(&v, 1000, 7);
        let b = bootstrap_mean(&v, 1000, 7);
        assert_eq!(a, b);
        assert!((a.mean - 0.5).abs() < 1e-12);
        assert!(a.lo < 0.5 && a.hi > 0.5 && a.hi - a.lo < 0.2, "{a:?}");
    }

    #[test]
    fn mcnemar_matches_the_binomial_tail() {
        // 10 discordant pairs split 9/1: p = 2 * (C(10,0)+C(10,1)) / 2^10 = 22/1024
        let a: Vec<bool> = (0..10).map(|i| i < 9).collect();
        let b: Vec<bool> = (0..10).map(|i| i >= 9).collect();
        let m = mcnemar(&a, &b);
        assert_eq!((m.a_only, m.b_only), (9, 1));
        assert!((m.p_value - 22.0 / 1024.0).abs() < 1e-12, "{m:?}");
        let same = mcnemar(&a, &a);
        assert_eq!(same.p_value, 1.0);
    }

    #[test]
    fn paired_bootstrap_detects_a_shift() {
        let a: Vec<f64> = (0..100).map(|i| f64::from(i) / 100.0).collect();
        let b: Vec<f64> = a.iter().map(|x| x + 0.1).collect();
        let d = paired_bootstrap(&a, &b, 500, 1);
        assert!((d.diff.mean - 0.1).abs() < 1e-9);
        assert!(d.p_value < 0.01);
        // never 0, however clear the shift: the smallest p 500 resamples can show
        assert!((d.p_value - 2.0 / 501.0).abs() < 1e-12, "{d:?}");
        // one pair, or none: nothing to test
        assert_eq!(paired_bootstrap(&[0.2], &[0.9], 500, 1).p_value, 1.0);
        assert_eq!(paired_bootstrap(&[], &[], 500, 1).p_value, 1.0);
    }

    #[test]
    fn percentile_is_numpy_linear() {
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&s, 50.0), 2.5);
        assert_eq!(percentile(&s, 0.0), 1.0);
        assert_eq!(percentile(&s, 100.0), 4.0);
    }
}
