//! End-to-end `cuelab embed` / `cuelab score` on the tiny random-weight CLIP fixture.

use crate::fixtures::{bin_path as bin, models_data as data};
use std::path::Path;
use std::process::Command;

fn read_npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).expect("read npy");
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + hlen]).expect("header");
    assert!(header.contains("'<f4'"), "{header}");
    let shape: Vec<usize> = header
        .split('(')
        .nth(1)
        .and_then(|s| s.split(')').next())
        .expect("shape")
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let data = bytes[10 + hlen..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    (shape, data)
}

fn reference() -> serde_json::Value {
    let text = std::fs::read_to_string(data().join("reference/clip_vit_tiny.json")).expect("json");
    serde_json::from_str(&text).expect("parse")
}

#[test]
fn embed_images_and_texts_to_npy() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = data().join("clip-vit-tiny");
    let out = tmp.path().join("img.npy");
    let cache = tmp.path().join("cache.sqlite");
    // Pillow's decode of kafka.jpg: the reference embeddings were computed from these pixels.
    let kafka = data().join("images/kafka.pillow.png");
    let wide = data().join("images/kafka_400x267.png");
    for _ in 0..2 {
        // the second run is served from the cache and must give the same rows
        let st = Command::new(bin())
            .arg("embed")
            .arg("--model")
            .arg(&model)
            .args([&kafka, &wide, &kafka])
            .args(["--preprocess", "openai", "-o"])
            .arg(&out)
            .arg("--cache")
            .arg(&cache)
            .status()
            .expect("run");
        assert!(st.success());
        let (shape, v) = read_npy(&out);
        assert_eq!(shape, vec![3, 16]);
        let r = reference();
        for (row, name) in [(0, "kafka.jpg"), (1, "kafka_400x267.png"), (2, "kafka.jpg")] {
            let want: Vec<f32> = r["images"][name]["openai"]
                .as_array()
                .expect("emb")
                .iter()
                .map(|x| x.as_f64().expect("f") as f32)
                .collect();
            let got = &v[row * 16..(row + 1) * 16];
            assert_eq!(want.len(), got.len(), "{name}: embedding width");
            let d = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(d <= 1e-4, "row {row}: {d}");
        }
    }

    let out = tmp.path().join("txt.npy");
    let st = Command::new(bin())
        .arg("embed")
        .arg("--model")
        .arg(&model)
        .args([
            "--text",
            "a photo of a dog",
            "--text",
            "A photo of a cat.",
            "--normalize",
            "-o",
        ])
        .arg(&out)
        .status()
        .expect("run");
    assert!(st.success());
    let (shape, v) = read_npy(&out);
    assert_eq!(shape, vec![2, 16]);
    let norm: f32 = v[..16].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5);
}

#[test]
fn score_prints_a_table_and_json() {
    let model = data().join("clip-vit-tiny");
    let out = Command::new(bin())
        .arg("score")
        .arg("--model")
        .arg(&model)
        .arg(data().join("images/kafka.jpg"))
        .args([
            "--text",
            "a photo of a dog",
            "--text",
            "a photo of a cat",
            "--json",
        ])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let scores = v["results"][0]["scores"].as_array().expect("scores");
    assert_eq!(scores.len(), 2);
    let p: f64 = scores
        .iter()
        .map(|s| s["probability"].as_f64().expect("p"))
        .sum();
    assert!((p - 1.0).abs() < 1e-5);

    let out = Command::new(bin())
        .arg("score")
        .arg("--model")
        .arg(&model)
        .arg(data().join("images/kafka.jpg"))
        .args(["--text", "a dog"])
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("probability"));
}

/// SigLIP: logits match transformers' `logits_per_image`, probabilities are per-pair sigmoids, and
/// `embed --text` gives the text tower's embeddings.
#[test]
fn score_and_embed_texts_with_siglip() {
    let model = data().join("siglip-text-tiny");
    let text =
        std::fs::read_to_string(data().join("reference/siglip_text_tiny.json")).expect("ref");
    let r: serde_json::Value = serde_json::from_str(&text).expect("parse");
    let texts: Vec<String> = [0usize, 2]
        .iter()
        .map(|&i| {
            let k = r["embed_texts"][i].as_u64().expect("index") as usize;
            r["texts"][k].as_str().expect("text").to_string()
        })
        .collect();
    let out = Command::new(bin())
        .arg("score")
        .arg("--model")
        .arg(&model)
        .arg(data().join("images/kafka.pillow.png"))
        .args(["--text", &texts[0], "--text", &texts[1], "--json"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["probability"], "sigmoid");
    assert!(v["logit_bias"].is_number());
    let scores = v["results"][0]["scores"].as_array().expect("scores");
    for (j, s) in scores.iter().enumerate() {
        let logit = s["logit"].as_f64().expect("logit");
        let want = r["logits_per_image"][0][[0usize, 2][j]]
            .as_f64()
            .expect("want");
        assert!((logit - want).abs() < 1e-4, "logit {logit} vs {want}");
        let p = s["probability"].as_f64().expect("p");
        assert!((p - 1.0 / (1.0 + (-logit).exp())).abs() < 1e-5);
    }

    let tmp = tempfile::tempdir().expect("tempdir");
    let npy = tmp.path().join("t.npy");
    let st = Command::new(bin())
        .arg("embed")
        .arg("--model")
        .arg(&model)
        .args(["--text", &texts[0], "-o"])
        .arg(&npy)
        .status()
        .expect("run");
    assert!(st.success());
    let (shape, _) = read_npy(&npy);
    assert_eq!(shape, vec![1, 32]);
}

#[test]
fn missing_model_is_a_clear_error() {
    let out = Command::new(bin())
        .args([
            "score",
            "--model",
            "nobody/no-such-model",
            "x.jpg",
            "--text",
            "a",
        ])
        .env(
            "HF_HUB_CACHE",
            std::env::temp_dir().join("cuelab-empty-hub"),
        )
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nobody/no-such-model") && err.contains("looked in"),
        "{err}"
    );
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "embedding widths");
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// `--dtype`: a bf16 run sharing a cache with an f32 run computes its own rows (the dtype is part
/// of the model id, hence of the cache key), close to but not equal to the f32 ones; `score`
/// records the dtype; an unknown dtype is a clear error.
#[test]
fn dtype_flag_reaches_the_model_and_the_cache_key() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = data().join("clip-vit-tiny");
    let cache = tmp.path().join("cache.sqlite");
    let kafka = data().join("images/kafka.pillow.png");
    let mut runs = Vec::new();
    for dtype in ["f32", "bf16", "f32", "bf16"] {
        let out = tmp.path().join(format!("{dtype}.npy"));
        let st = Command::new(bin())
            .arg("embed")
            .arg("--model")
            .arg(&model)
            .arg(&kafka)
            .args(["--dtype", dtype, "--cache"])
            .arg(&cache)
            .arg("-o")
            .arg(&out)
            .status()
            .expect("run");
        assert!(st.success(), "embed --dtype {dtype}");
        runs.push(read_npy(&out).1);
    }
    assert_eq!(
        runs[0], runs[2],
        "f32 rows are stable (second run from the cache)"
    );
    assert_eq!(
        runs[1], runs[3],
        "bf16 rows are stable (second run from the cache)"
    );
    assert_ne!(runs[0], runs[1], "bf16 was not served the cached f32 rows");
    let c = cosine(&runs[0], &runs[1]);
    assert!(c >= 0.999, "bf16 vs f32 cosine {c}");

    let out = Command::new(bin())
        .arg("score")
        .arg("--model")
        .arg(&model)
        .arg(&kafka)
        .args(["--text", "a dog", "--dtype", "f16", "--json"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["dtype"], "f16");
    assert!(v["model"].as_str().expect("model").ends_with("+f16"), "{v}");

    let out = Command::new(bin())
        .arg("score")
        .arg("--model")
        .arg(&model)
        .arg(&kafka)
        .args(["--text", "a dog", "--dtype", "f8"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown dtype `f8`"), "{err}");
}
