//! `cuelab caption-eval` on the committed sample and on bad input.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../cuelab-metrics/tests/data/sample")
        .join(name)
}

fn run(refs: &PathBuf, cands: &PathBuf, out: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cuelab"))
        .args(["caption-eval", "--refs"])
        .arg(refs)
        .arg("--cands")
        .arg(cands)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn sample_matches_pycocoevalcap() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(
        &sample("captions_sample.json"),
        &sample("results_sample.json"),
        dir.path(),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let got: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sample("expected_summary.json")).unwrap())
            .unwrap();
    for key in ["cider_d", "rouge_l"] {
        assert!(
            (got[key].as_f64().unwrap() - want[key].as_f64().unwrap()).abs() < 1e-6,
            "{key}"
        );
    }
    for k in 0..4 {
        assert!(
            (got["bleu"][k].as_f64().unwrap() - want["bleu"][k].as_f64().unwrap()).abs() < 1e-6
        );
    }
    // 5 of the 20 candidates are empty or punctuation-only: scored, listed, not skipped.
    assert_eq!(got["empty_candidates"].as_array().unwrap().len(), 5);
    assert!(String::from_utf8_lossy(&o.stderr).contains("empty candidate caption"));
    let lines = std::fs::read_to_string(dir.path().join("per_image.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 20);
    assert!(dir.path().join("per_image.csv").exists());
}

#[test]
fn bad_input_is_reported_and_exit_code_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let refs = dir.path().join("refs.json");
    let cands = dir.path().join("cands.json");
    std::fs::write(
        &refs,
        r#"{"1": ["a dog on grass", ""], "2": ["a cat"], "4": ["a bird"]}"#,
    )
    .unwrap();
    std::fs::write(
        &cands,
        r#"[{"image_id": 1, "caption": "a dog"}, {"image_id": 1, "caption": "again"},
            {"image_id": 2, "caption": "  "}, {"image_id": 3, "caption": "orphan"}]"#,
    )
    .unwrap();
    let o = run(&refs, &cands, &dir.path().join("out"));
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    for reason in [
        "empty reference caption",
        "duplicate candidate",
        "empty candidate caption",
        "no references",
        "references but no candidate",
    ] {
        assert!(err.contains(reason), "missing `{reason}` in {err}");
    }
    std::fs::write(&cands, b"{\"1\": \"a \xff dog\"}").unwrap();
    let o = run(&refs, &cands, &dir.path().join("out2"));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("UTF-8"));
}

#[test]
fn clipscore_with_images_and_a_local_model() {
    let dir = tempfile::tempdir().unwrap();
    let photos = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/photos");
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    std::fs::copy(photos.join("dog.jpg"), images.join("1.jpg")).unwrap();
    std::fs::copy(
        photos.join("eagle.jpg"),
        images.join("COCO_val2014_000000000002.jpg"),
    )
    .unwrap();
    let refs = dir.path().join("refs.json");
    let cands = dir.path().join("cands.json");
    std::fs::write(
        &refs,
        r#"{"1": ["a dog sits by a bicycle", "a dog on a porch"], "2": ["an eagle"], "3": ["a cat"]}"#,
    )
    .unwrap();
    std::fs::write(
        &cands,
        r#"{"1": "a dog", "2": "a bird of prey", "3": "a cat"}"#,
    )
    .unwrap();
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cuelab-models/tests/data/clip-vit-tiny");
    let out = dir.path().join("out");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_cuelab"))
        .args([
            "caption-eval",
            "--refs",
            refs.to_str().unwrap(),
            "--cands",
            cands.to_str().unwrap(),
        ])
        .args([
            "--images",
            images.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
        ])
        .args(["--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    // image 3 has no file: reported and counted as skipped (exit 1), the others scored
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("CLIPScore") && text.contains("image 3"),
        "{text}"
    );
    let rows = std::fs::read_to_string(out.join("clipscore.jsonl")).unwrap();
    assert_eq!(rows.lines().count(), 2, "{rows}");
    for line in rows.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let cs = v["clip_score"].as_f64().unwrap();
        let rcs = v["ref_clip_score"].as_f64().unwrap();
        assert!(
            (0.0..=2.5).contains(&cs) && (0.0..=2.5).contains(&rcs),
            "{v}"
        );
    }
}
