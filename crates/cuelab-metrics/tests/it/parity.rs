//! Parity with pycocoevalcap 1.2 on the committed fixture
//! (`tools/reference/captions/make_fixtures.py`): tokenizer output token for token on every
//! caption, and CIDEr-D, BLEU-1..4, ROUGE-L per image and corpus within 1e-6.

#![allow(clippy::unwrap_used)]

use cuelab_metrics::{evaluate, evaluate_tokenized, tokenize_caption, CaptionScores, CaptionSet};
use serde_json::Value;

const TOL: f64 = 1e-6;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/captions_parity.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

fn check_scores(got: &CaptionScores, fx: &Value) {
    let per = fx["per_image"].as_array().unwrap();
    assert_eq!(got.per_image.len(), per.len());
    let by_id: std::collections::HashMap<&str, &Value> = per
        .iter()
        .map(|p| (p["image_id"].as_str().unwrap(), p))
        .collect();
    let mut bad = Vec::new();
    for s in &got.per_image {
        let want = by_id[s.image_id.as_str()];
        let mut diffs = vec![("cider_d", s.cider_d, want["cider_d"].as_f64().unwrap())];
        diffs.push(("rouge_l", s.rouge_l, want["rouge_l"].as_f64().unwrap()));
        for k in 0..4 {
            diffs.push(("bleu", s.bleu[k], want["bleu"][k].as_f64().unwrap()));
        }
        for (name, g, w) in diffs {
            if (g - w).abs() > TOL {
                bad.push(format!("{} {name}: got {g} want {w}", s.image_id));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} per-image mismatches, e.g. {:?}",
        bad.len(),
        &bad[..bad.len().min(10)]
    );
    let c = &fx["corpus"];
    assert!(
        (got.cider_d - c["cider_d"].as_f64().unwrap()).abs() < TOL,
        "corpus cider {}",
        got.cider_d
    );
    assert!(
        (got.rouge_l - c["rouge_l"].as_f64().unwrap()).abs() < TOL,
        "corpus rouge {}",
        got.rouge_l
    );
    for k in 0..4 {
        let w = c["bleu"][k].as_f64().unwrap();
        assert!(
            (got.bleu[k] - w).abs() < TOL,
            "corpus bleu-{}: {} vs {w}",
            k + 1,
            got.bleu[k]
        );
    }
}

#[test]
fn fixture_is_large_enough() {
    let fx = fixture();
    assert!(fx["images"].as_array().unwrap().len() >= 1000);
}

#[test]
fn tokenizer_matches_java_on_every_caption() {
    let fx = fixture();
    let mut bad = Vec::new();
    let mut n = 0;
    for im in fx["images"].as_array().unwrap() {
        let mut pairs = vec![(
            im["cand"].as_str().unwrap().to_string(),
            im["cand_tok"].as_str().unwrap().to_string(),
        )];
        let (refs, refs_tok) = (strs(&im["refs"]), strs(&im["refs_tok"]));
        assert_eq!(
            refs.len(),
            refs_tok.len(),
            "references and their tokenisations"
        );
        pairs.extend(refs.into_iter().zip(refs_tok));
        for (raw, want) in pairs {
            n += 1;
            let got = tokenize_caption(&raw);
            if got != want {
                bad.push(format!("{raw:?}\n   got  {got:?}\n   want {want:?}"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {n} captions differ:\n{}",
        bad.len(),
        bad[..bad.len().min(15)].join("\n")
    );
}

#[test]
fn scorers_match_on_reference_tokens() {
    let fx = fixture();
    let images = fx["images"].as_array().unwrap();
    let ids: Vec<String> = images
        .iter()
        .map(|im| im["image_id"].as_str().unwrap().to_string())
        .collect();
    let cands: Vec<String> = images
        .iter()
        .map(|im| im["cand_tok"].as_str().unwrap().to_string())
        .collect();
    let refs: Vec<Vec<String>> = images.iter().map(|im| strs(&im["refs_tok"])).collect();
    let got = evaluate_tokenized(&ids, &cands, &refs).unwrap();
    check_scores(&got, &fx);
}

#[test]
fn full_pipeline_matches_from_raw_text() {
    let fx = fixture();
    let mut set = CaptionSet::default();
    for im in fx["images"].as_array().unwrap() {
        let id = im["image_id"].as_str().unwrap().to_string();
        set.refs.insert(id.clone(), strs(&im["refs"]));
        set.cands
            .insert(id, im["cand"].as_str().unwrap().to_string());
    }
    let got = evaluate(&set).unwrap();
    check_scores(&got, &fx);
}

/// Empty, whitespace-only and punctuation-only candidates (the fixture's `EMPTY_CANDS`) are
/// scored as pycocoevalcap scores them and never leave the mean: every image of the fixture is
/// in the result, and exactly those whose tokenised candidate is empty are listed.
#[test]
fn empty_candidates_are_scored_and_listed() {
    let fx = fixture();
    let images = fx["images"].as_array().unwrap();
    let want: Vec<String> = images
        .iter()
        .filter(|im| im["cand_tok"].as_str().unwrap().is_empty())
        .map(|im| im["image_id"].as_str().unwrap().to_string())
        .collect();
    let raw_empty = images
        .iter()
        .filter(|im| im["cand"].as_str().unwrap().trim().is_empty())
        .count();
    assert!(
        want.len() >= 25 && raw_empty >= 8,
        "fixture lost its empty cases"
    );
    let mut set = CaptionSet::default();
    for im in images {
        let id = im["image_id"].as_str().unwrap().to_string();
        set.refs.insert(id.clone(), strs(&im["refs"]));
        set.cands
            .insert(id, im["cand"].as_str().unwrap().to_string());
    }
    let got = evaluate(&set).unwrap();
    assert_eq!(got.per_image.len(), images.len());
    let mut listed = got.empty_candidates.clone();
    listed.sort();
    let mut want = want;
    want.sort();
    assert_eq!(listed, want);
}
