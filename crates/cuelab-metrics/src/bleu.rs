//! BLEU-1..4 as pycocoevalcap's `bleu/bleu_scorer.py` computes it with option `"closest"`:
//! clipped n-gram counts against the per-n-gram maximum over the references, the reference
//! length closest to the candidate (ties → the shorter), and its smoothing constants
//! (`tiny` = 1e-15 added to matches, `small` = 1e-9 added to guesses).

use crate::ngrams::{order, NgramKey, MAX_N};

const TINY: f64 = 1e-15;
const SMALL: f64 = 1e-9;

/// The sufficient statistics of one candidate.
#[derive(Debug, Clone, Copy, Default)]
pub struct BleuStats {
    /// Candidate length in words.
    pub testlen: usize,
    /// The closest reference length.
    pub reflen: usize,
    /// Number of candidate n-grams per order.
    pub guess: [u64; MAX_N],
    /// Clipped matches per order.
    pub correct: [u64; MAX_N],
}

/// Compute the statistics of one candidate against its references.
pub fn bleu_stats(
    cand_len: usize,
    cand: &[(NgramKey, u32)],
    ref_lens: &[usize],
    refs: &[Vec<(NgramKey, u32)>],
) -> BleuStats {
    // Maximum count of each n-gram over the references.
    let mut all: Vec<(NgramKey, u32)> = refs.iter().flatten().copied().collect();
    all.sort_unstable();
    let mut maxc: Vec<(NgramKey, u32)> = Vec::with_capacity(all.len());
    for (k, c) in all {
        match maxc.last_mut() {
            Some((pk, pc)) if *pk == k => *pc = (*pc).max(c),
            _ => maxc.push((k, c)),
        }
    }
    let mut correct = [0u64; MAX_N];
    let (mut i, mut j) = (0, 0);
    while i < cand.len() && j < maxc.len() {
        match cand[i].0.cmp(&maxc[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                correct[order(cand[i].0) - 1] += u64::from(cand[i].1.min(maxc[j].1));
                i += 1;
                j += 1;
            }
        }
    }
    let mut guess = [0u64; MAX_N];
    for (k, g) in guess.iter_mut().enumerate() {
        *g = (cand_len + 1).saturating_sub(k + 1) as u64;
    }
    let reflen = ref_lens
        .iter()
        .copied()
        .min_by_key(|&l| (l.abs_diff(cand_len), l))
        .unwrap_or(0);
    BleuStats {
        testlen: cand_len,
        reflen,
        guess,
        correct,
    }
}

/// BLEU-1..4 from (possibly summed) statistics, exactly as pycocoevalcap combines them.
pub fn bleu_from(
    testlen: f64,
    reflen: f64,
    guess: &[u64; MAX_N],
    correct: &[u64; MAX_N],
) -> [f64; MAX_N] {
    let mut out = [0.0f64; MAX_N];
    let mut bleu = 1.0f64;
    for k in 0..MAX_N {
        bleu *= (correct[k] as f64 + TINY) / (guess[k] as f64 + SMALL);
        out[k] = bleu.powf(1.0 / (k as f64 + 1.0));
    }
    let ratio = (testlen + TINY) / (reflen + SMALL);
    if ratio < 1.0 {
        for x in &mut out {
            *x *= (1.0 - 1.0 / ratio).exp();
        }
    }
    out
}

/// Per-image BLEU-1..4 and the corpus BLEU-1..4.
pub fn bleu(stats: &[BleuStats]) -> (Vec<[f64; MAX_N]>, [f64; MAX_N]) {
    let per: Vec<[f64; MAX_N]> = stats
        .iter()
        .map(|s| bleu_from(s.testlen as f64, s.reflen as f64, &s.guess, &s.correct))
        .collect();
    let (mut tl, mut rl) = (0u64, 0u64);
    let (mut g, mut c) = ([0u64; MAX_N], [0u64; MAX_N]);
    for s in stats {
        tl += s.testlen as u64;
        rl += s.reflen as u64;
        for k in 0..MAX_N {
            g[k] += s.guess[k];
            c[k] += s.correct[k];
        }
    }
    (per, bleu_from(tl as f64, rl as f64, &g, &c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ngrams::count_ngrams;

    #[test]
    fn perfect_match_is_one() {
        let t = [1u32, 2, 3, 4, 5];
        let s = bleu_stats(5, &count_ngrams(&t), &[5], &[count_ngrams(&t)]);
        let (per, corpus) = bleu(&[s]);
        for k in 0..4 {
            assert!((per[0][k] - 1.0).abs() < 1e-9);
            assert!((corpus[k] - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn closest_length_prefers_shorter_on_tie() {
        let s = bleu_stats(4, &count_ngrams(&[1, 2, 3, 4]), &[6, 2], &[vec![], vec![]]);
        assert_eq!(s.reflen, 2);
    }
}
