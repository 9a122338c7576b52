#![allow(clippy::unwrap_used)]
//! Per-word attention against transformers 5.23 eager attention on the tiny Qwen3-VL
//! (`tools/reference/models/make_qwen3_vl_word_attention_fixture.py`): the raw attention of the
//! query that produced each generated token, every layer and head, within 1e-4 (the bound of the
//! existing attention parity test; f32 softmax over slightly different logits); the image maps
//! built from it and the rollout (NumPy reference) within 1e-5.

use std::path::{Path, PathBuf};

use cuelab_models::qwen3_vl::words::{word_strip, WordAttentionOptions};
use cuelab_models::qwen3_vl::Qwen3Vl;
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/qwen3-vl-tiny")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn generated_token_attention_matches_transformers_eager() {
    let fx: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("word_attention.json")).unwrap())
            .unwrap();
    let m = Qwen3Vl::load(&dir(), &cuelab_models::LoadOptions::default()).unwrap();
    let img = cuelab_models::load_image(&dir().join(fx["image"].as_str().unwrap())).unwrap();
    let p = m
        .prepare_chat(std::slice::from_ref(&img), fx["prompt"].as_str().unwrap())
        .unwrap();
    let n = fx["prompt_len"].as_u64().unwrap() as usize;
    let (start, len) = (
        fx["image_start"].as_u64().unwrap() as usize,
        fx["image_len"].as_u64().unwrap() as usize,
    );
    assert_eq!(
        (p.ids.len(), p.spans[0].start, p.spans[0].len),
        (n, start, len)
    );
    let tokens: Vec<u32> = fx["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap() as u32)
        .collect();
    let g = m
        .generate_with(
            &p,
            &cuelab_models::qwen3_vl::DecodeOptions {
                max_new_tokens: tokens.len(),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(g.tokens, tokens);
    // raw attention, every step, layer and head
    let layers: Vec<usize> = (0..m.num_layers()).collect();
    let full = p.with_suffix(&tokens[..tokens.len() - 1]);
    let (_, _, att) = m.prefill(&full, &layers).unwrap();
    let mut worst = 0f64;
    for (step, per_layer) in fx["attention"].as_array().unwrap().iter().enumerate() {
        let q = n - 1 + step;
        for (l, heads) in per_layer.as_array().unwrap().iter().enumerate() {
            let a = att[l].1.to_vec3::<f32>().unwrap();
            for (h, row) in heads.as_array().unwrap().iter().enumerate() {
                let want = floats(row);
                assert_eq!(want.len(), q + 1);
                for (k, w) in want.iter().enumerate() {
                    worst = worst.max((a[h][q][k] as f64 - w).abs());
                }
            }
        }
    }
    eprintln!("raw attention max abs diff {worst:e}");
    assert!(worst <= 1e-4, "raw attention max abs diff {worst:e}");
    // image maps of layer 1, all heads: the head mean of the reference rows over the image
    let wa = m
        .word_attention(
            &p,
            &tokens,
            &WordAttentionOptions {
                layers: vec![1],
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(wa.token_maps.len(), tokens.len());
    assert_eq!(wa.grid.0 * wa.grid.1, len);
    let mut worst = 0f64;
    for (step, map) in wa.token_maps.iter().enumerate() {
        let heads = fx["attention"][step][1].as_array().unwrap();
        for (k, got) in map.iter().enumerate() {
            let want: f64 = heads
                .iter()
                .map(|r| r[start + k].as_f64().unwrap())
                .sum::<f64>()
                / heads.len() as f64;
            worst = worst.max((*got as f64 - want).abs());
        }
    }
    eprintln!("map max abs diff {worst:e}");
    assert!(worst <= 1e-5, "map max abs diff {worst:e}");
    // rollout over every layer
    let ro = m
        .word_attention(
            &p,
            &tokens,
            &WordAttentionOptions {
                rollout: true,
                ..Default::default()
            },
        )
        .unwrap();
    let mut worst = 0f64;
    assert_eq!(
        ro.token_maps.len(),
        fx["rollout"].as_array().unwrap().len(),
        "one rollout map per token"
    );
    for (got, want) in ro.token_maps.iter().zip(fx["rollout"].as_array().unwrap()) {
        let want = floats(want);
        assert_eq!(got.len(), want.len(), "rollout map size");
        for (g, w) in got.iter().zip(want) {
            worst = worst.max((*g as f64 - w).abs());
        }
    }
    eprintln!("rollout max abs diff {worst:e}");
    assert!(worst <= 1e-5, "rollout max abs diff {worst:e}");
    // words cover the non-special tokens in order; the strip has one tile per word
    let mut covered = 0;
    for w in &wa.words {
        assert!(w.tokens.start >= covered);
        covered = w.tokens.end;
    }
    assert_eq!(wa.word_maps.len(), wa.words.len());
    let strip = word_strip(&img, &wa, 64).unwrap();
    assert_eq!(strip.height(), 64 + 22 + 8);
    assert!(strip.width() >= wa.words.len() as u32 * 64);
}
