#![allow(clippy::unwrap_used)]
//! Decoding parity with transformers 5.23 `generate` on the tiny random-weight Qwen3-VL
//! (`tools/reference/models/make_qwen3_vl_decode_fixture.py` writes `decode.json`):
//!
//! * greedy (with repetition penalty and no-repeat n-grams) and beam search (num_beams 2-4,
//!   length_penalty -0.5..2, early_stopping true / false / never, an extra stop id so that
//!   beams finish at different lengths): identical tokens;
//! * sampling: along transformers' sampled tokens, the processed next-token distribution
//!   (repetition penalty, temperature, top-k, top-p, in transformers' order) within 1e-5 of
//!   `softmax(scores)` from `output_scores` at every step. The bound leaves room for the logits'
//!   own f32 differences (max 4.8e-6 on this model, see qwen3_vl.rs) scaled by 1/temperature;
//!   a filter boundary decided differently would differ by a whole probability.

use std::path::{Path, PathBuf};

use cuelab_models::qwen3_vl::sampling::{process_scores, softmax};
use cuelab_models::qwen3_vl::{DecodeOptions, EarlyStopping, Qwen3Vl};
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/qwen3-vl-tiny")
}

fn fixture() -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join("decode.json")).unwrap()).unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn options(case: &Value) -> DecodeOptions {
    let f = |k: &str, d: f64| case.get(k).and_then(Value::as_f64).unwrap_or(d);
    let u = |k: &str, d: u64| case.get(k).and_then(Value::as_u64).unwrap_or(d) as usize;
    DecodeOptions {
        max_new_tokens: u("max_new_tokens", 8),
        num_beams: u("num_beams", 1),
        length_penalty: f("length_penalty", 1.0),
        early_stopping: match case.get("early_stopping") {
            Some(Value::Bool(true)) => EarlyStopping::Always,
            Some(Value::String(s)) if s == "never" => EarlyStopping::Never,
            _ => EarlyStopping::Heuristic,
        },
        no_repeat_ngram_size: u("no_repeat_ngram_size", 0),
        do_sample: case.get("probs").is_some(),
        temperature: f("temperature", 1.0),
        top_k: u("top_k", 0),
        top_p: f("top_p", 1.0),
        repetition_penalty: f("repetition_penalty", 1.0),
        seed: 0,
        stop: case.get("stop").map(ids).unwrap_or_default(),
    }
}

fn setup() -> (Qwen3Vl, cuelab_models::qwen3_vl::Prepared, Value) {
    let fx = fixture();
    let m = Qwen3Vl::load(&dir(), &cuelab_models::LoadOptions::default()).unwrap();
    let img = cuelab_models::load_image(&dir().join(fx["image"].as_str().unwrap())).unwrap();
    let p = m
        .prepare_chat(&[img], fx["prompt"].as_str().unwrap())
        .unwrap();
    assert_eq!(p.ids, ids(&fx["input_ids"]), "prompt ids");
    (m, p, fx)
}

#[test]
fn greedy_and_beam_search_tokens_match_transformers() {
    let (m, p, fx) = setup();
    let cases = fx["greedy_beam"].as_array().unwrap();
    assert!(cases.len() >= 9);
    let mut lengths = std::collections::BTreeSet::new();
    for case in cases {
        let opts = options(case);
        let g = m.generate_with(&p, &opts).unwrap();
        let want = ids(&case["tokens"]);
        assert_eq!(g.tokens, want, "{case}");
        assert_eq!(g.logprobs.len(), want.len());
        lengths.insert(want.len());
    }
    // the fixture exercises finished beams of several lengths, not only max-length ones
    assert!(lengths.len() >= 3, "{lengths:?}");
}

#[test]
fn processed_sampling_distribution_matches_transformers() {
    let (m, p, fx) = setup();
    for case in fx["sampling"].as_array().unwrap() {
        let opts = options(case);
        let tokens = ids(&case["tokens"]);
        let probs = case["probs"].as_array().unwrap();
        let (logits, mut cache, _) = m.prefill(&p, &[]).unwrap();
        let n = logits.dim(0).unwrap();
        let mut rows: Vec<Vec<f32>> = logits
            .narrow(0, n - 1, 1)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let (more, _) = m
            .extend(&mut cache, &tokens[..tokens.len() - 1], p.rope_delta, &[])
            .unwrap();
        rows.extend(more.to_vec2::<f32>().unwrap());
        let mut worst = 0f64;
        assert_eq!(rows.len(), probs.len(), "one distribution per step");
        for (step, (row, want)) in rows.iter().zip(probs).enumerate() {
            let mut history = p.ids.clone();
            history.extend(&tokens[..step]);
            let mut scores = row.clone();
            process_scores(&history, &mut scores, &opts);
            let got = softmax(&scores);
            let want: Vec<f64> = want
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            assert_eq!(got.len(), want.len());
            let kept_got = got.iter().filter(|&&x| x > 0.0).count();
            let kept_want = case["kept"][step].as_u64().unwrap() as usize;
            assert_eq!(
                kept_got, kept_want,
                "step {step} of {}: tokens kept",
                case["tokens"]
            );
            for (a, b) in got.iter().zip(&want) {
                worst = worst.max((a - b).abs());
            }
            // the sampled token is one the processors kept
            assert!(got[tokens[step] as usize] > 0.0);
        }
        eprintln!("sampling {}: max |p - p_ref| = {worst:e}", case["tokens"]);
        assert!(
            worst <= 1e-5,
            "max |p - p_ref| = {worst:e} for {}",
            case["tokens"]
        );
    }
}
