//! ROUGE-L as pycocoevalcap's `rouge/rouge.py` computes it: the longest common subsequence of
//! candidate and each reference, the maximum precision and maximum recall over the references
//! (taken separately), and the F-measure with β = 1.2.
//!
//! Tokens are the caption split on single spaces (Python `str.split(" ")`), so an empty caption is
//! one empty token, as in the reference implementation.

/// β of the F-measure.
pub const BETA: f64 = 1.2;

/// Length of the longest common subsequence of `a` and `b`, using `row` as scratch space.
pub fn lcs(a: &[u32], b: &[u32], row: &mut Vec<u32>) -> usize {
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    row.clear();
    row.resize(short.len() + 1, 0);
    for &x in long {
        let mut prev_diag = 0u32;
        for j in 1..=short.len() {
            let up = row[j];
            row[j] = if x == short[j - 1] {
                prev_diag + 1
            } else {
                up.max(row[j - 1])
            };
            prev_diag = up;
        }
    }
    row[short.len()] as usize
}

/// ROUGE-L of one candidate against its references (token ids, `split(" ")` semantics).
pub fn rouge_l(cand: &[u32], refs: &[Vec<u32>], row: &mut Vec<u32>) -> f64 {
    let mut prec_max = f64::NEG_INFINITY;
    let mut rec_max = f64::NEG_INFINITY;
    for r in refs {
        let l = lcs(r, cand, row) as f64;
        prec_max = prec_max.max(l / cand.len() as f64);
        rec_max = rec_max.max(l / r.len() as f64);
    }
    if prec_max != 0.0 && rec_max != 0.0 {
        let b2 = BETA.powi(2);
        ((1.0 + b2) * prec_max * rec_max) / (rec_max + b2 * prec_max)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lcs_basic() {
        let mut row = Vec::new();
        assert_eq!(lcs(&[1, 2, 3, 4], &[1, 3, 4], &mut row), 3);
        assert_eq!(lcs(&[], &[1], &mut row), 0);
        let s = rouge_l(&[1, 2, 3], &[vec![1, 2, 3]], &mut row);
        assert!((s - 1.0).abs() < 1e-12);
    }
}
