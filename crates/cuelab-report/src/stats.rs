//! Paired statistics the report computes itself from result rows when `summary.json` does not
//! hold them (comparisons across runs, paired accuracy CIs): McNemar's exact test and the
//! paired percentile bootstrap, seeded, with the same definitions as the runners' summaries
//! (exact two-sided binomial on discordant pairs; 2.5/97.5 linear-interpolated percentiles).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Bootstrap resamples.
pub const RESAMPLES: usize = 1000;

/// McNemar's exact two-sided p-value for `a_only` vs `b_only` discordant pairs.
pub fn mcnemar_p(a_only: usize, b_only: usize) -> f64 {
    let n = a_only + b_only;
    if n == 0 {
        return 1.0;
    }
    let k = a_only.min(b_only);
    let ln_half_n = -(n as f64) * std::f64::consts::LN_2;
    let mut ln_c = 0.0f64;
    let mut tail = 0.0f64;
    for i in 0..=k {
        if i > 0 {
            ln_c += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_c + ln_half_n).exp();
    }
    (2.0 * tail).min(1.0)
}

/// Linear-interpolated percentile of sorted data.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = (sorted.len() - 1) as f64 * q / 100.0;
    let (i, frac) = (pos.floor() as usize, pos - pos.floor());
    if i + 1 < sorted.len() {
        sorted[i] * (1.0 - frac) + sorted[i + 1] * frac
    } else {
        sorted[i]
    }
}

/// Mean of `b - a` over pairs with its 95% percentile-bootstrap interval: (mean, lo, hi).
pub fn paired_bootstrap(a: &[f64], b: &[f64], seed: u64) -> (f64, f64, f64) {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| y - x).collect();
    let n = d.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let mean = d.iter().sum::<f64>() / n as f64;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut means: Vec<f64> = (0..RESAMPLES)
        .map(|_| (0..n).map(|_| d[rng.gen_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(|x, y| x.total_cmp(y));
    (mean, percentile(&means, 2.5), percentile(&means, 97.5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcnemar_matches_the_binomial() {
        // 1 vs 9 discordant: 2 * P(X <= 1), X ~ Bin(10, 1/2) = 2 * 11/1024.
        assert!((mcnemar_p(1, 9) - 22.0 / 1024.0).abs() < 1e-12);
        assert_eq!(mcnemar_p(0, 0), 1.0);
        assert_eq!(mcnemar_p(5, 5), 1.0);
    }

    #[test]
    fn bootstrap_brackets_the_mean() {
        let a = vec![0.0; 50];
        let b: Vec<f64> = (0..50)
            .map(|i| if i % 2 == 0 { 1.0 } else { 0.0 })
            .collect();
        let (m, lo, hi) = paired_bootstrap(&a, &b, 0);
        assert!((m - 0.5).abs() < 1e-12);
        assert!(lo < m && m < hi && lo > 0.2 && hi < 0.8);
    }
}
