//! `cuelab scenes` and `cuelab data check` end to end: generation, every export accepted, exit
//! codes on bad input.

use crate::fixtures::cuelab;
use std::path::PathBuf;

fn fixture(p: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../cuelab-data/tests/data")
        .join(p)
        .to_string_lossy()
        .to_string()
}

#[test]
fn scenes_then_check_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_string_lossy().to_string();
    let o = cuelab(&["scenes", "--seed", "1", "--n", "20", "-o", &out]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cuelab(&["data", "check", &out, "--format", "scenes"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    for part in [
        "refcoco:",
        "coco-instances:",
        "coco-captions:",
        "karpathy:",
        "mmvp:",
        "ssv2-train:",
        "jsonl:",
    ] {
        assert!(text.contains(part), "{part} missing in {text}");
    }
}

#[test]
fn bad_input_exit_codes() {
    let bad = fixture("bad/samples.jsonl");
    let o = cuelab(&["data", "check", &bad, "--format", "jsonl"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 3"));
    let o = cuelab(&["data", "check", &bad, "--format", "jsonl", "--skip-bad"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("2 skipped"));
    let o = cuelab(&[
        "data",
        "check",
        &fixture("bad/refs_truncated.p"),
        "--format",
        "refcoco",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("refs_truncated.p"));
    let o = cuelab(&["data", "check", &fixture("mmvp"), "--format", "nonsense"]);
    assert_eq!(o.status.code(), Some(2));
}

/// Without `--format`, every layout `cuelab scenes` writes (and the fixtures) is recognised.
#[test]
fn check_recognises_the_format() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_string_lossy().to_string();
    let o = cuelab(&["scenes", "--seed", "2", "--n", "12", "-o", &root]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let at = |p: &str| dir.path().join(p).to_string_lossy().to_string();
    for (path, format) in [
        (root.clone(), "scenes"),
        (at("samples.jsonl"), "jsonl"),
        (at("refcoco"), "refcoco"),
        (at("coco/instances.json"), "coco-instances"),
        (at("coco/captions.json"), "coco-captions"),
        (at("coco/dataset_coco.json"), "karpathy"),
        (at("mmvp"), "mmvp"),
        (at("ssv2"), "ssv2"),
        (fixture("mmvp_vlm"), "mmvp-vlm"),
    ] {
        let o = cuelab(&["data", "check", &path]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("recognised as {format}")),
            "{path}: {err}"
        );
        assert_eq!(o.status.code(), Some(0), "{path}: {err}");
    }
    // Something else is a clear error that asks for --format.
    let o = cuelab(&["data", "check", &at("mmvp/patterns.json")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--format"));
}
