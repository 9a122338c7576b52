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
