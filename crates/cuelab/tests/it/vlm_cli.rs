#![allow(clippy::unwrap_used)]
//! End-to-end `cuelab vlm` on the tiny random-weight Qwen3-VL fixture: option scores equal the
//! transformers reference (1e-3), greedy answer, surprisal, attention files, and bad input.

use crate::fixtures::bin_path as bin;
use std::path::{Path, PathBuf};
use std::process::Command;

fn model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cuelab-models/tests/data/qwen3-vl-tiny")
}

#[test]
fn vlm_choices_surprisal_attention_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model_dir().join("expected.json")).unwrap())
            .unwrap();
    let case = &meta["cases"][0];
    let png = tmp.path().join("att.png");
    let js = tmp.path().join("out.json");
    let out = Command::new(bin())
        .args(["vlm", "--model"])
        .arg(model_dir())
        .arg("--image")
        .arg(model_dir().join("images/dog.png"))
        .args([
            "--prompt",
            case["prompt"].as_str().unwrap(),
            "--choices",
            "a dog,a cat,an eagle",
        ])
        .args(["--answer", "A dog.", "--surprisal", "--layers", "0..2"])
        .arg("--attention")
        .arg(&png)
        .arg("--json")
        .arg(&js)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("bits/token"), "{stdout}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&js).unwrap()).unwrap();
    let want = case["choice_logprob_sums"].as_array().unwrap();
    assert_eq!(r["choices"].as_array().unwrap().len(), want.len());
    for (c, w) in r["choices"].as_array().unwrap().iter().zip(want) {
        let d = (c["sum_logprob"].as_f64().unwrap() - w.as_f64().unwrap()).abs();
        assert!(d <= 1e-3, "{c} vs {w}");
    }
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (256, 192));
    assert!(tmp.path().join("att.npy").is_file());
    assert!(tmp.path().join("att.tokens.npy").is_file());
    assert_eq!(r["attention"]["grid"], serde_json::json!([4, 6]));

    // generation path
    let out = Command::new(bin())
        .args(["vlm", "--model"])
        .arg(model_dir())
        .arg("--image")
        .arg(model_dir().join("images/dog.png"))
        .args([
            "--prompt",
            case["prompt"].as_str().unwrap(),
            "--max-new-tokens",
            "10",
        ])
        .arg("--json")
        .arg(&js)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&js).unwrap()).unwrap();
    assert_eq!(r["answer_tokens"], case["greedy"]);
}

#[test]
fn vlm_bad_input_is_a_clear_error() {
    let run = |extra: &[&str], model: &Path| {
        let out = Command::new(bin())
            .args(["vlm", "--model"])
            .arg(model)
            .arg("--image")
            .arg(model_dir().join("images/dog.png"))
            .args(["--prompt", "hi"])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, err) = run(&["--max-pixels", "100"], &model_dir());
    assert_eq!(code, Some(2));
    assert!(err.contains("max_pixels"), "{err}");
    let long = "dog ".repeat(3000);
    let (code, err) = run(&["--answer", &long, "--surprisal"], &model_dir());
    assert_eq!(code, Some(2));
    assert!(err.contains("context"), "{err}");
    let tmp = tempfile::tempdir().unwrap();
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "processor_config.json",
    ] {
        std::fs::copy(model_dir().join(f), tmp.path().join(f)).unwrap();
    }
    let (code, err) = run(&[], tmp.path());
    assert_eq!(code, Some(2));
    assert!(err.contains("missing chat template"), "{err}");
}
