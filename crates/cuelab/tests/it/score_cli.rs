//! `cuelab score --json` against transformers: cosines, logits and probabilities of two JPEG
//! photos x nine messy texts (empty, whitespace only, accents, emoji, punctuation runs, a text
//! past CLIP's 77 tokens) on the committed tiny CLIP, from
//! `tools/reference/models/make_score_fixture.py` (`crates/cuelab/tests/data/score/`).
//!
//! Tolerance: cosine within 1e-5, logit within 1e-5 x logit scale (= 1e-3 at the fixture's 100),
//! probability within 1e-5. Both sides compute in f32; the embeddings match transformers to
//! ~1e-6 per component (cuelab-models' parity tests allow 1e-4), and the worst differences
//! measured here (printed with `--nocapture`) are cosine 4.1e-7, logit 4.3e-5, probability
//! 5.0e-8: a 25x margin that still catches a wrong pooling, normalisation, token truncation
//! or logit scale (each moves cosines by 1e-2 or more).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use crate::fixtures::{cuelab, text, tiny_clip};

const COSINE_TOL: f64 = 1e-5;
const PROB_TOL: f64 = 1e-5;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn matrix(v: &serde_json::Value) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect()
}

#[test]
fn score_cosines_logits_and_probabilities_match_transformers() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/score/expected.json");
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let images: Vec<String> = want["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| repo().join(p.as_str().unwrap()).display().to_string())
        .collect();
    let texts: Vec<&str> = want["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let clip = tiny_clip();
    let mut args: Vec<&str> = vec!["score", "--model", clip.to_str().unwrap(), "--json"];
    args.extend(["--preprocess", "hf"]);
    args.extend(images.iter().map(String::as_str));
    for t in &texts {
        args.extend(["--text", t]);
    }
    let o = cuelab(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let got: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let scale = want["logit_scale"].as_f64().unwrap();
    assert!(
        (got["logit_scale"].as_f64().unwrap() - scale).abs() < 1e-3,
        "logit scale {} vs {scale}",
        got["logit_scale"]
    );
    let results = got["results"].as_array().unwrap();
    let (cos, logit, prob) = (
        matrix(&want["cosine"]),
        matrix(&want["logit"]),
        matrix(&want["probability"]),
    );
    assert_eq!(results.len(), images.len(), "one result per image");
    assert_eq!(cos.len(), images.len());
    let mut worst = [0.0f64; 3];
    for (i, r) in results.iter().enumerate() {
        let scores = r["scores"].as_array().unwrap();
        assert_eq!(scores.len(), texts.len(), "image {i}: one score per text");
        assert_eq!(cos[i].len(), texts.len());
        for (j, s) in scores.iter().enumerate() {
            assert_eq!(s["text"].as_str().unwrap(), texts[j], "text order");
            let d = [
                (s["cosine"].as_f64().unwrap() - cos[i][j]).abs(),
                (s["logit"].as_f64().unwrap() - logit[i][j]).abs(),
                (s["probability"].as_f64().unwrap() - prob[i][j]).abs(),
            ];
            let what = format!("image {i} x text {j} ({:?})", texts[j]);
            assert!(d[0] <= COSINE_TOL, "{what}: cosine off by {}", d[0]);
            assert!(d[1] <= COSINE_TOL * scale, "{what}: logit off by {}", d[1]);
            assert!(d[2] <= PROB_TOL, "{what}: probability off by {}", d[2]);
            for k in 0..3 {
                worst[k] = worst[k].max(d[k]);
            }
        }
    }
    eprintln!(
        "score vs transformers: worst |d| cosine {:.2e}, logit {:.2e}, probability {:.2e}",
        worst[0], worst[1], worst[2]
    );
}

/// `--dtype bf16|f16` takes effect through the CLI: the output names the dtype, the model id
/// carries its suffix, and the cosines move away from f32's by a nonzero amount bounded by
/// 1e-2, bf16 further than f16. bf16 keeps 8 significant bits (a relative rounding of
/// 2^-9 ≈ 2e-3 per weight and stored activation), f16 11; measured largest moves (printed with
/// `--nocapture`): bf16 3.9e-3, f16 4.2e-4.
#[test]
fn score_in_bf16_and_f16_differs_from_f32_by_a_bounded_nonzero_amount() {
    let clip = tiny_clip();
    let photo = crate::fixtures::photo();
    let texts = ["a photo of a dog", "a cat on a sofa", ""];
    let score = |dtype: &str| -> (serde_json::Value, Vec<f64>) {
        let mut args = vec![
            "score",
            "--model",
            clip.to_str().unwrap(),
            "--json",
            "--dtype",
            dtype,
            photo.to_str().unwrap(),
        ];
        for t in &texts {
            args.extend(["--text", t]);
        }
        let o = cuelab(&args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let cos = v["results"][0]["scores"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["cosine"].as_f64().unwrap())
            .collect();
        (v, cos)
    };
    let (f32_out, f32_cos) = score("f32");
    assert_eq!(f32_out["dtype"], "f32");
    assert_eq!(f32_cos.len(), texts.len());
    let mut moved = Vec::new();
    for dtype in ["bf16", "f16"] {
        let (out, cos) = score(dtype);
        assert_eq!(out["dtype"], dtype);
        let id = out["model"].as_str().unwrap();
        assert!(id.ends_with(&format!("+{dtype}")), "model id {id}");
        assert_ne!(id, f32_out["model"].as_str().unwrap());
        assert_eq!(cos.len(), f32_cos.len());
        let d = cos
            .iter()
            .zip(&f32_cos)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f64, f64::max);
        eprintln!("score --dtype {dtype}: largest cosine change vs f32 {d:.2e}");
        assert!(d > 0.0, "--dtype {dtype} changed nothing: not applied");
        assert!(d <= 1e-2, "--dtype {dtype}: cosines moved by {d}");
        moved.push(d);
    }
    assert!(
        moved[0] > moved[1],
        "bf16 should move further than f16: {moved:?}"
    );
}
