//! `cuelab probe count | boxtool | preprocess` end to end on generated crowd scenes: count and
//! boxtool against the mock OpenAI-compatible server, preprocess with the tiny in-process
//! Qwen3-VL (visual tokens), plus the data errors.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use crate::fixtures::{cuelab, models_data, text};
use cuelab_vlm::mock::{MockRequest, MockServer};

fn crowds(dir: &Path) {
    let o = cuelab(&[
        "scenes",
        "-n",
        "6",
        "--crowd",
        "1",
        "--pairs",
        "0",
        "--clips",
        "0",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn probe_count_and_boxtool_with_the_mock_server() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("scenes");
    crowds(&data);
    let server = MockServer::start().unwrap();
    server.set_open_reply(Some(Arc::new(|r: &MockRequest| {
        if r.user_text.contains("bbox_2d") {
            r#"[{"bbox_2d": [10, 10, 60, 60], "label": "x"}, {"bbox_2d": [1, 2]}]"#.to_string()
        } else if r.user_text.contains("List the") {
            "red circle, red circle".to_string()
        } else {
            "4".to_string()
        }
    })));
    let url = server.url();
    let out = tmp.path().join("count");
    let args = [
        "probe",
        "count",
        "--scenes",
        data.to_str().unwrap(),
        "--endpoint",
        &url,
        "--model",
        "mock",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = cuelab(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("exact count accuracy % by true count N"),
        "{stdout}"
    );
    assert!(stdout.contains("crops vs plain"), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["variants"].as_array().unwrap().len(), 4);
    assert_eq!(server.requests(), 6 * 4 * 2);
    // resumed: nothing asked again
    assert_eq!(cuelab(&args).status.code(), Some(0));
    assert_eq!(server.requests(), 6 * 4 * 2);

    let out = tmp.path().join("boxtool");
    let o = cuelab(&[
        "probe",
        "boxtool",
        "--scenes",
        data.to_str().unwrap(),
        "--format",
        "json",
        "--endpoint",
        &url,
        "--model",
        "mock",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("6 answers with malformed boxes (6 fragments)"),
        "{stdout}"
    );
    assert!(stdout.contains("tool vs direct"), "{stdout}");
}

#[test]
fn probe_preprocess_with_the_tiny_local_model_and_bad_data() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("scenes");
    crowds(&data);
    let out = tmp.path().join("pre");
    let model = models_data().join("qwen3-vl-tiny");
    let o = cuelab(&[
        "probe",
        "preprocess",
        "--scenes",
        data.to_str().unwrap(),
        "--local",
        model.to_str().unwrap(),
        "--max-tokens",
        "3",
        "--transform",
        "rotate(90)",
        "--transform",
        "resize(0.25)",
        "--limit",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("resize(0.25): 4 visual tokens per image"),
        "{stdout}"
    );
    assert!(stdout.contains("rotate(90) vs identity"), "{stdout}");
    // not a scenes folder; an unknown transform
    let o = cuelab(&[
        "probe",
        "count",
        "--scenes",
        tmp.path().to_str().unwrap(),
        "--local",
        model.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("manifest.json"), "{}", text(&o));
    let o = cuelab(&[
        "probe",
        "preprocess",
        "--scenes",
        data.to_str().unwrap(),
        "--transform",
        "spin(3)",
        "--local",
        model.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("unknown transform"), "{}", text(&o));
}

#[test]
fn probe_boxtool_max_turns_lets_the_model_add_boxes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("scenes");
    crowds(&data);
    let server = MockServer::start().unwrap();
    // one box in turn 1; while invited, one more box; then a count
    server.set_open_reply(Some(Arc::new(|r: &MockRequest| {
        if r.user_text.contains("bbox_2d") {
            r#"[{"bbox_2d": [10, 10, 60, 60]}]"#.to_string()
        } else if r.user_text.contains("have no box yet") && r.user_text.starts_with("The 1 ") {
            r#"[{"bbox_2d": [70, 10, 120, 60]}]"#.to_string()
        } else {
            "2".to_string()
        }
    })));
    let out = tmp.path().join("boxtool");
    let o = cuelab(&[
        "probe",
        "boxtool",
        "--scenes",
        data.to_str().unwrap(),
        "--format",
        "json",
        "--max-turns",
        "4",
        "--endpoint",
        &server.url(),
        "--model",
        "mock",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("tool loop turns: 6 image(s) in 3 (mean 3.00); 0 ended at the turn limit"),
        "{stdout}"
    );
    // direct, boxes, one box added, the answer
    assert_eq!(server.requests(), 6 * 4);
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"max_turns\": 4"), "{manifest}");
    let o = cuelab(&[
        "probe",
        "boxtool",
        "--scenes",
        data.to_str().unwrap(),
        "--max-turns",
        "1",
        "--endpoint",
        &server.url(),
        "--model",
        "mock",
        "--out",
        tmp.path().join("bad").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("at least 2 turns"), "{}", text(&o));
}
