//! `cuelab detect` and `cuelab ground --detector` with the built-in CenterNet on the bundled
//! photo (the grounding part uses the tiny random-weight CLIP, so only the plumbing is checked).

#![allow(clippy::unwrap_used)]

use crate::fixtures::{cuelab as run, text, tiny_clip_arg as tiny_clip};
use std::path::{Path, PathBuf};

fn photo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/photos/dog.jpg")
        .canonicalize()
        .unwrap()
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn detect_writes_proposals_json_and_ground_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let dets = dir.path().join("dets.json");
    let photo = photo();
    let o = run(&[
        "detect",
        photo.to_str().unwrap(),
        "--conf",
        "0.3",
        "-o",
        dets.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    for class in ["dog", "bicycle"] {
        assert!(out.contains(class), "{out}");
    }
    let v = json(&dets);
    let list = v["dog.jpg"].as_array().unwrap();
    assert!(list.len() >= 3, "{v}");
    for d in list {
        assert_eq!(d["box"].as_array().unwrap().len(), 4);
        assert!(d["score"].as_f64().unwrap() >= 0.3);
        assert!(d["class"].is_string() && d["class_id"].is_u64());
    }

    // the same file as `ground --proposals`
    let samples = dir.path().join("s.jsonl");
    std::fs::write(
        &samples,
        format!(
            "{}\n",
            serde_json::json!({"id": "d1", "image": photo, "expression": "the dog",
                "target": [125.0, 208.0, 313.0, 542.0], "proposals": []})
        ),
    )
    .unwrap();
    let run_dir = dir.path().join("run-p");
    let o = run(&[
        "ground",
        "--data",
        samples.to_str().unwrap(),
        "--model",
        &tiny_clip(),
        "--method",
        "baseline",
        "--debias",
        "0",
        "--proposals",
        dets.to_str().unwrap(),
        "-o",
        run_dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let row = std::fs::read_to_string(run_dir.join("results.jsonl")).unwrap();
    let row: serde_json::Value = serde_json::from_str(row.lines().next().unwrap()).unwrap();
    assert_eq!(row["proposals"].as_u64().unwrap() as usize, list.len());
}

#[test]
fn ground_with_builtin_detector_caches_and_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let photo = photo();
    let samples = dir.path().join("s.jsonl");
    let mut lines = String::new();
    for (id, expr, target) in [
        ("d1", "the dog", [125.0, 278.0, 313.0, 723.0]),
        ("d2", "the bicycle", [109.0, 163.0, 564.0, 594.0]),
    ] {
        lines.push_str(
            &serde_json::json!({"id": id, "image": photo, "expression": expr,
                "target": target, "proposals": [[0.0, 0.0, 10.0, 10.0]]})
            .to_string(),
        );
        lines.push('\n');
    }
    std::fs::write(&samples, lines).unwrap();
    let run_dir = dir.path().join("run");
    let args = |extra: &[&str]| {
        let mut a = vec![
            "ground".to_string(),
            "--data".into(),
            samples.display().to_string(),
            "--model".into(),
            tiny_clip(),
            "--method".into(),
            "baseline".into(),
            "--debias".into(),
            "0".into(),
            "--detector".into(),
            "centernet".into(),
            "-o".into(),
            run_dir.display().to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let a = args(&["--conf", "0.3", "--iou", "0.5", "--max", "50"]);
    let o = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("1 image(s) detected, 0 from"),
        "{}",
        text(&o)
    );
    let cache = json(&run_dir.join("detections.json"));
    let dets = cache["images"][photo.display().to_string()]
        .as_array()
        .unwrap();
    assert!(dets.len() >= 3, "{cache}");
    let classes: Vec<&str> = dets.iter().map(|d| d["class"].as_str().unwrap()).collect();
    assert!(
        classes.contains(&"dog") && classes.contains(&"bicycle"),
        "{classes:?}"
    );
    let manifest = json(&run_dir.join("manifest.json"));
    let det = &manifest["data"]["detector"];
    assert_eq!(det["detector"], "centernet");
    assert_eq!(det["conf"].as_f64().unwrap(), 0.3f32 as f64);
    assert_eq!(det["max_det"], 50);
    let results = std::fs::read_to_string(run_dir.join("results.jsonl")).unwrap();
    for line in results.lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            row["proposals"].as_u64().unwrap() as usize,
            dets.len(),
            "{row}"
        );
        assert_eq!(row["fallback"], false);
    }
    // resumed: no detection runs again
    let o = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("0 image(s) detected, 1 from"),
        "{}",
        text(&o)
    );
    // resuming with other detector thresholds is another run: refused, nothing appended
    let before = std::fs::read_to_string(run_dir.join("results.jsonl")).unwrap();
    let other = args(&["--conf", "0.45", "--iou", "0.5", "--max", "50"]);
    let o = run(&other.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("another configuration"), "{}", text(&o));
    let after = std::fs::read_to_string(run_dir.join("results.jsonl")).unwrap();
    assert_eq!(before, after);

    // the class prior: a variant of its own, recorded in the manifest
    let prior_dir = dir.path().join("run-prior");
    let mut a = args(&["--class-prior", "0.5"]);
    let o_at = a.iter().position(|x| x == "-o").unwrap() + 1;
    a[o_at] = prior_dir.display().to_string();
    let o = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", text(&o));
    let manifest = json(&prior_dir.join("manifest.json"));
    let label = manifest["variants"][0]["label"].as_str().unwrap();
    assert!(label.contains("classprior(0.5)"), "{label}");
    assert_eq!(manifest["variants"][0]["variant"]["class_prior"], 0.5);
}

#[test]
fn detect_reports_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"not onnx").unwrap();
    let photo = photo();
    let o = run(&[
        "detect",
        "--model",
        junk.to_str().unwrap(),
        photo.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("junk.onnx"), "{}", text(&o));
    let o = run(&["detect", "/nonexistent/photo.jpg"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("/nonexistent/photo.jpg"), "{}", text(&o));
    let o = run(&["detect", "--iou", "2", photo.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("iou"), "{}", text(&o));
}
