//! `cuelab ask` and `cuelab mmvp` end to end on generated scenes with the committed tiny CLIP
//! (the CLIP choice backend needs no server), plus their bad-input errors.

#![allow(clippy::unwrap_used)]

use crate::fixtures::{cuelab, tiny_clip};
use std::path::{Path, PathBuf};

fn scenes(dir: &Path) {
    let o = cuelab(&["scenes", "-n", "12", "--out", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn ask_with_clip_writes_a_resumable_run_with_cue_variants() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("scenes");
    scenes(&data);
    let out = tmp.path().join("run");
    let samples = data.join("samples.jsonl");
    let clip = tiny_clip();
    let args = [
        "ask",
        "--data",
        samples.to_str().unwrap(),
        "--clip",
        clip.to_str().unwrap(),
        "--task",
        "multiple_choice",
        "--cue",
        "plain",
        "--cue",
        "rect(color=red,width=3)",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = cuelab(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("fill_blank") && stdout.contains("vs plain"),
        "{stdout}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let variants = summary["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2);
    // Fill-in-the-blank questions carry their object's box, so the cue variant applies to them.
    assert!(variants[1]["all"]["accuracy"]["n"].as_u64().unwrap() > 0);
    let rows = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    let n = rows.lines().count();
    // Rerun: nothing asked again, nothing counted twice.
    let o = cuelab(&args);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(out.join("results.jsonl"))
            .unwrap()
            .lines()
            .count(),
        n
    );
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(manifest.contains("clip-choice") && manifest.contains("\"experiment\": \"vqa\""));
}

#[test]
fn mmvp_reports_pair_accuracy() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("scenes");
    scenes(&data);
    let out = tmp.path().join("mmvp");
    let o = cuelab(&[
        "mmvp",
        "--data",
        data.join("mmvp").to_str().unwrap(),
        "--clip",
        tiny_clip().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["variants"][0]["pairs"]["n"], 3,
        "12 scenes -> 3 pairs"
    );
}

#[test]
fn bad_input_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("scenes");
    scenes(&data);
    let jsonl = data.join("samples.jsonl");
    let clip = tiny_clip();
    // Unknown cue primitive.
    let o = cuelab(&[
        "ask",
        "--data",
        jsonl.to_str().unwrap(),
        "--clip",
        tiny_clip().to_str().unwrap(),
        "--cue",
        "sparkle(size=3)",
        "--out",
        tmp.path().join("a").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("sparkle"));
    // No backend.
    let o = cuelab(&[
        "ask",
        "--data",
        jsonl.to_str().unwrap(),
        "--out",
        tmp.path().join("b").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--endpoint"));
    // Malformed line: refused, or skipped and reported with --skip-bad (exit 1).
    let bad = tmp.path().join("bad.jsonl");
    let mut text = std::fs::read_to_string(&jsonl).unwrap();
    text.push_str("{not json\n");
    std::fs::write(&bad, text).unwrap();
    let base = [
        "ask",
        "--data",
        bad.to_str().unwrap(),
        "--clip",
        clip.to_str().unwrap(),
        "--task",
        "multiple_choice",
    ];
    let o = cuelab(
        &[
            &base[..],
            &["--out", tmp.path().join("c").to_str().unwrap()],
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(2));
    let o = cuelab(
        &[
            &base[..],
            &[
                "--skip-bad",
                "--out",
                tmp.path().join("d").to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn ask_over_a_server_caches_and_resumes() {
    let server = cuelab_vlm::mock::MockServer::start().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("scenes");
    scenes(&data);
    let samples = data.join("samples.jsonl");
    let out = tmp.path().join("run");
    let url = server.url();
    let args = [
        "ask",
        "--data",
        samples.to_str().unwrap(),
        "--endpoint",
        url.as_str(),
        "--model",
        "mock-vlm",
        "--mode",
        "structured",
        "--cue",
        "plain",
        "--cue",
        "rect(color=red,width=2)",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = cuelab(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let sent = server.requests();
    assert!(sent > 0);
    let rows = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert_eq!(rows.lines().count(), sent, "one request per row");
    // Rerun: everything is already in the run directory; nothing is sent.
    let o = cuelab(&args);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(server.requests(), sent);
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(manifest.contains("openai-compatible") && !manifest.contains("Bearer"));
    // No model name is a clear error.
    let o = cuelab(&[
        "ask",
        "--data",
        samples.to_str().unwrap(),
        "--endpoint",
        url.as_str(),
        "--out",
        tmp.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--model"));
}

#[test]
fn ask_with_the_local_qwen3_vl() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("scenes");
    scenes(&data);
    let samples = data.join("samples.jsonl");
    let model =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../cuelab-models/tests/data/qwen3-vl-tiny");
    let out = tmp.path().join("run");
    let o = cuelab(&[
        "ask",
        "--data",
        samples.to_str().unwrap(),
        "--local",
        model.to_str().unwrap(),
        "--qtype",
        "fill_blank",
        "--limit",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rows = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert_eq!(rows.lines().count(), 3);
    assert!(
        rows.contains("\"ranked\"") && rows.contains("option_logprobs"),
        "{rows}"
    );
}
