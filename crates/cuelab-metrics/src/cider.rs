//! CIDEr-D as pycocoevalcap's `cider/cider_scorer.py` computes it (its `Cider` class is the
//! CIDEr-D variant: Gaussian length penalty σ = 6, clipped tf-idf overlap, ×10).
//!
//! Faithful quirks: document frequency is counted over the references of the evaluated set only;
//! idf = ln(N) − ln(max(1, df)) with N the number of images; the "length" fed to the Gaussian
//! penalty is the number of *bigrams* (max(0, words − 1)), not the number of words.

use rayon::prelude::*;

use crate::ngrams::{order, FastMap, NgramKey, MAX_N};

/// Gaussian length-penalty width used by pycocoevalcap.
pub const SIGMA: f64 = 6.0;

/// A tf-idf vector: sorted n-gram keys with weights, per-order norms and the quirky length.
struct TfIdf {
    entries: Vec<(NgramKey, f64)>,
    norm: [f64; MAX_N],
    length: i64,
}

fn to_tfidf(counts: &[(NgramKey, u32)], df: &FastMap<NgramKey, u32>, log_n: f64) -> TfIdf {
    let mut entries = Vec::with_capacity(counts.len());
    let mut norm = [0.0f64; MAX_N];
    let mut length = 0i64;
    for &(key, tf) in counts {
        let d = df.get(&key).copied().unwrap_or(0).max(1);
        let w = f64::from(tf) * (log_n - f64::from(d).ln());
        let n = order(key) - 1;
        norm[n] += w * w;
        if n == 1 {
            length += i64::from(tf);
        }
        entries.push((key, w));
    }
    for x in &mut norm {
        *x = x.sqrt();
    }
    TfIdf {
        entries,
        norm,
        length,
    }
}

fn sim(hyp: &TfIdf, rf: &TfIdf, sigma: f64) -> [f64; MAX_N] {
    let mut val = [0.0f64; MAX_N];
    let (a, b) = (&hyp.entries, &rf.entries);
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                let (wh, wr) = (a[i].1, b[j].1);
                val[order(a[i].0) - 1] += wh.min(wr) * wr;
                i += 1;
                j += 1;
            }
        }
    }
    let delta = (hyp.length - rf.length) as f64;
    let penalty = std::f64::consts::E.powf(-(delta * delta) / (2.0 * sigma * sigma));
    for (n, v) in val.iter_mut().enumerate() {
        if hyp.norm[n] != 0.0 && rf.norm[n] != 0.0 {
            *v /= hyp.norm[n] * rf.norm[n];
        }
        *v *= penalty;
    }
    val
}

/// Per-image CIDEr-D scores. `cands[i]` is the candidate n-gram count vector of image `i`,
/// `refs[i]` those of its references (at least one each).
pub fn cider_d(cands: &[Vec<(NgramKey, u32)>], refs: &[Vec<Vec<(NgramKey, u32)>>]) -> Vec<f64> {
    let mut df: FastMap<NgramKey, u32> = FastMap::default();
    let uniques: Vec<Vec<NgramKey>> = refs
        .par_iter()
        .map(|rs| {
            let mut u: Vec<NgramKey> = rs.iter().flat_map(|r| r.iter().map(|x| x.0)).collect();
            u.sort_unstable();
            u.dedup();
            u
        })
        .collect();
    for u in &uniques {
        for &k in u {
            *df.entry(k).or_insert(0) += 1;
        }
    }
    let log_n = (refs.len() as f64).ln();
    cands
        .par_iter()
        .zip(refs.par_iter())
        .map(|(c, rs)| {
            let hyp = to_tfidf(c, &df, log_n);
            let mut score = [0.0f64; MAX_N];
            for r in rs {
                let rv = to_tfidf(r, &df, log_n);
                let s = sim(&hyp, &rv, SIGMA);
                for n in 0..MAX_N {
                    score[n] += s[n];
                }
            }
            let mean = score.iter().sum::<f64>() / MAX_N as f64;
            mean / rs.len() as f64 * 10.0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ngrams::count_ngrams;

    #[test]
    fn identical_caption_scores_high_and_disjoint_zero() {
        let c = |t: &[u32]| count_ngrams(t);
        let refs = vec![vec![c(&[1, 2, 3, 4])], vec![c(&[5, 6, 7, 8])]];
        let cands = vec![c(&[1, 2, 3, 4]), c(&[9, 9])];
        let s = cider_d(&cands, &refs);
        // Two images: every ref n-gram has df = 1, idf = ln 2; identical caption → cosine 1 → 10.
        assert!((s[0] - 10.0).abs() < 1e-12, "{}", s[0]);
        assert_eq!(s[1], 0.0);
    }
}
