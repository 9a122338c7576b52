//! The captioning evaluation entry point: a set of candidate and reference captions in, per-image
//! and corpus CIDEr-D, BLEU-1..4 and ROUGE-L out — the numbers pycocoevalcap's `COCOEvalCap`
//! reports for the same set.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::bleu::{bleu, bleu_stats};
use crate::cider::cider_d;
use crate::error::{Error, Result};
use crate::ngrams::{count_ngrams, Interner, MAX_N};
use crate::rouge::rouge_l;
use crate::tokenize::tokenize_caption;

/// Candidate and reference captions keyed by image id. Both maps must have the same keys.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CaptionSet {
    /// Reference captions of each image (at least one per image).
    pub refs: BTreeMap<String, Vec<String>>,
    /// The one candidate caption of each image.
    pub cands: BTreeMap<String, String>,
}

/// Scores of one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageScores {
    /// The image id.
    pub image_id: String,
    /// CIDEr-D (pycocoevalcap's "CIDEr").
    pub cider_d: f64,
    /// BLEU-1..4 of this image alone.
    pub bleu: [f64; MAX_N],
    /// ROUGE-L.
    pub rouge_l: f64,
}

/// Per-image and corpus scores of a caption set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptionScores {
    /// One entry per image, in image-id order.
    pub per_image: Vec<ImageScores>,
    /// Mean CIDEr-D over images.
    pub cider_d: f64,
    /// Corpus-level BLEU-1..4 (summed statistics, not a mean of per-image scores).
    pub bleu: [f64; MAX_N],
    /// Mean ROUGE-L over images.
    pub rouge_l: f64,
    /// Images whose candidate is empty after PTB tokenisation (empty, whitespace-only or
    /// punctuation-only text). They are scored as pycocoevalcap scores them (0 unless a reference
    /// is empty too) and stay in every mean; listed so that callers can warn.
    #[serde(default)]
    pub empty_candidates: Vec<String>,
    /// Images with at least one reference that is empty after PTB tokenisation (kept and scored
    /// as pycocoevalcap does).
    #[serde(default)]
    pub empty_references: Vec<String>,
}

/// Tokenise every caption (pycocoevalcap's PTB step) and score the set.
///
/// Every image counts: a candidate that is empty (or becomes empty after tokenisation, such as
/// `"..."`) is scored, not skipped, exactly as pycocoevalcap does, so a model that outputs
/// nothing is never rewarded. [`CaptionScores::empty_candidates`] lists such images.
pub fn evaluate(set: &CaptionSet) -> Result<CaptionScores> {
    if set.cands.is_empty() && set.refs.is_empty() {
        return Err(Error::Empty);
    }
    for id in set.cands.keys() {
        if !set.refs.contains_key(id) {
            return Err(Error::Mismatch {
                image_id: id.clone(),
                what: "a candidate but no references".into(),
            });
        }
    }
    for (id, r) in &set.refs {
        if !set.cands.contains_key(id) {
            return Err(Error::Mismatch {
                image_id: id.clone(),
                what: "references but no candidate".into(),
            });
        }
        if r.is_empty() {
            return Err(Error::NoReferences(id.clone()));
        }
    }
    let ids: Vec<&String> = set.cands.keys().collect();
    let tokenized: Vec<(String, Vec<String>)> = ids
        .par_iter()
        .map(|id| {
            let c = tokenize_caption(&set.cands[*id]);
            let r = set.refs[*id].iter().map(|x| tokenize_caption(x)).collect();
            (c, r)
        })
        .collect();
    let (cands, refs): (Vec<String>, Vec<Vec<String>>) = tokenized.into_iter().unzip();
    let ids: Vec<String> = ids.into_iter().cloned().collect();
    evaluate_tokenized(&ids, &cands, &refs)
}

/// Score already-tokenised captions (space-separated tokens, as pycocoevalcap's tokenizer emits).
/// `cands[i]` and `refs[i]` belong to `image_ids[i]`.
pub fn evaluate_tokenized(
    image_ids: &[String],
    cands: &[String],
    refs: &[Vec<String>],
) -> Result<CaptionScores> {
    if image_ids.is_empty() {
        return Err(Error::Empty);
    }
    if cands.len() != image_ids.len() || refs.len() != image_ids.len() {
        return Err(Error::Format(
            "image ids, candidates and references differ in length".into(),
        ));
    }
    if let Some(i) = refs.iter().position(Vec::is_empty) {
        return Err(Error::NoReferences(image_ids[i].clone()));
    }
    // Intern: whitespace tokens (CIDEr, BLEU) and single-space tokens (ROUGE-L).
    let mut interner = Interner::default();
    let ws =
        |s: &str, it: &mut Interner| s.split_whitespace().map(|t| it.id(t)).collect::<Vec<u32>>();
    let sp = |s: &str, it: &mut Interner| s.split(' ').map(|t| it.id(t)).collect::<Vec<u32>>();
    let mut cand_ws = Vec::with_capacity(cands.len());
    let mut cand_sp = Vec::with_capacity(cands.len());
    let mut refs_ws = Vec::with_capacity(refs.len());
    let mut refs_sp = Vec::with_capacity(refs.len());
    for (c, rs) in cands.iter().zip(refs) {
        cand_ws.push(ws(c, &mut interner));
        cand_sp.push(sp(c, &mut interner));
        refs_ws.push(rs.iter().map(|r| ws(r, &mut interner)).collect::<Vec<_>>());
        refs_sp.push(rs.iter().map(|r| sp(r, &mut interner)).collect::<Vec<_>>());
    }
    let cand_counts: Vec<_> = cand_ws.par_iter().map(|t| count_ngrams(t)).collect();
    let ref_counts: Vec<Vec<_>> = refs_ws
        .par_iter()
        .map(|rs| rs.iter().map(|t| count_ngrams(t)).collect())
        .collect();

    let cider = cider_d(&cand_counts, &ref_counts);
    let stats: Vec<_> = (0..image_ids.len())
        .into_par_iter()
        .map(|i| {
            let lens: Vec<usize> = refs_ws[i].iter().map(Vec::len).collect();
            bleu_stats(cand_ws[i].len(), &cand_counts[i], &lens, &ref_counts[i])
        })
        .collect();
    let (bleu_per, bleu_corpus) = bleu(&stats);
    let rouge: Vec<f64> = cand_sp
        .par_iter()
        .zip(refs_sp.par_iter())
        .map_init(Vec::new, |row, (c, rs)| rouge_l(c, rs, row))
        .collect();

    let is_empty = |s: &str| s.split_whitespace().next().is_none();
    let empty_candidates = image_ids
        .iter()
        .zip(cands)
        .filter(|(_, c)| is_empty(c))
        .map(|(id, _)| id.clone())
        .collect();
    let empty_references = image_ids
        .iter()
        .zip(refs)
        .filter(|(_, rs)| rs.iter().any(|r| is_empty(r)))
        .map(|(id, _)| id.clone())
        .collect();
    let n = image_ids.len() as f64;
    let per_image = (0..image_ids.len())
        .map(|i| ImageScores {
            image_id: image_ids[i].clone(),
            cider_d: cider[i],
            bleu: bleu_per[i],
            rouge_l: rouge[i],
        })
        .collect();
    Ok(CaptionScores {
        per_image,
        cider_d: cider.iter().sum::<f64>() / n,
        bleu: bleu_corpus,
        rouge_l: rouge.iter().sum::<f64>() / n,
        empty_candidates,
        empty_references,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatched_keys_are_an_error() {
        let mut set = CaptionSet::default();
        set.cands.insert("1".into(), "a dog".into());
        assert!(matches!(evaluate(&set), Err(Error::Mismatch { .. })));
    }

    #[test]
    fn perfect_candidates() {
        let mut set = CaptionSet::default();
        for i in 0..3 {
            let c = format!("a photo of thing number {i} on a table");
            set.refs.insert(i.to_string(), vec![c.clone()]);
            set.cands.insert(i.to_string(), c);
        }
        let s = evaluate(&set).unwrap();
        assert!((s.bleu[3] - 1.0).abs() < 1e-6);
        assert!((s.rouge_l - 1.0).abs() < 1e-12);
        assert!(s.empty_candidates.is_empty());
    }

    #[test]
    fn empty_and_punctuation_only_candidates_score_zero_and_stay_in_the_mean() {
        let mut set = CaptionSet::default();
        let c = "a photo of a dog on a table";
        set.refs.insert("a".into(), vec![c.into()]);
        set.cands.insert("a".into(), c.into());
        for (id, cand) in [("b", ""), ("c", " \t "), ("d", "... ; --")] {
            set.refs.insert(id.into(), vec![c.into()]);
            set.cands.insert(id.into(), cand.into());
        }
        let s = evaluate(&set).unwrap();
        assert_eq!(s.per_image.len(), 4);
        assert_eq!(s.empty_candidates, vec!["b", "c", "d"]);
        for p in &s.per_image[1..] {
            assert_eq!((p.cider_d, p.rouge_l, p.bleu[0]), (0.0, 0.0, 0.0));
        }
        assert!((s.rouge_l - 0.25).abs() < 1e-12, "{}", s.rouge_l);
        assert!((s.cider_d - s.per_image[0].cider_d / 4.0).abs() < 1e-12);
    }
}
