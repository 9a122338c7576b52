#![allow(clippy::unwrap_used)]
//! `probe boxtool` beyond two turns: the mock server scripted to add one box per turn before
//! answering (every turn recorded, the drawing grows, the last turn is forced to answer), the
//! turn limit reached with boxes, and the whole loop with the tiny in-process Qwen3-VL.

use std::path::Path;
use std::sync::Arc;

use cuelab_tasks::probe::boxfmt::BoxFormat;
use cuelab_tasks::probe::boxtool::{run_boxtool, BoxtoolConfig, BoxtoolSummary};
use cuelab_tasks::runner::RunOptions;
use cuelab_tasks::vqa::Backend;
use cuelab_vlm::mock::{MockRequest, MockServer};

use crate::probe::{crowds, mock_backend, tiny_qwen};

fn opts(out: &Path) -> RunOptions {
    RunOptions {
        out: out.to_path_buf(),
        shard: None,
        progress: false,
    }
}

fn rows(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Turn 1 gives one box; each follow-up that shows fewer than three boxes and invites more
/// gets one more box; then the answer "3".
fn scripted() -> MockServer {
    let server = MockServer::start().unwrap();
    server.set_open_reply(Some(Arc::new(|r: &MockRequest| {
        let t = &r.user_text;
        let found = t
            .strip_prefix("The ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<usize>().ok());
        match found {
            _ if t.contains("bbox_2d") => r#"[{"bbox_2d": [10, 10, 40, 40], "label": "a"}]"#.into(),
            Some(n) if n < 3 => {
                let x = 10 + 50 * n;
                format!(
                    r#"[{{"bbox_2d": [{x}, 10, {}, 40], "label": "more"}}]"#,
                    x + 30
                )
            }
            Some(_) => "3".into(),
            None => "There are 5.".into(),
        }
    })));
    server
}

fn run(server: &MockServer, max_turns: usize, out: &Path) -> BoxtoolSummary {
    let items = crowds(&out.join("scenes"), 4);
    let config = BoxtoolConfig {
        format: BoxFormat::Json,
        max_turns,
        ..BoxtoolConfig::default()
    };
    run_boxtool(
        &config,
        &items,
        &mock_backend(server),
        &serde_json::json!({}),
        &opts(&out.join("run")),
    )
    .unwrap()
}

#[test]
fn the_model_adds_boxes_over_several_turns_before_answering() {
    let tmp = tempfile::tempdir().unwrap();
    let server = scripted();
    let s = run(&server, 5, tmp.path());
    assert_eq!((s.missing, s.errors), (0, 0));
    // direct + turn 1 + turns 2, 3 (boxes added) + turn 4 (the answer), for each of 4 images
    assert_eq!(server.requests(), 4 * 5);
    assert_eq!(s.turns.histogram, vec![(4, 4)]);
    assert_eq!((s.turns.mean, s.turns.at_limit), (4.0, 0));
    for r in rows(&tmp.path().join("run")) {
        let turns = r["turns"].as_array().unwrap();
        assert_eq!(turns.len(), 4);
        let numbers: Vec<u64> = turns.iter().map(|t| t["turn"].as_u64().unwrap()).collect();
        assert_eq!(numbers, vec![1, 2, 3, 4]);
        // the drawing grows: 1, 2, then 3 boxes shown; the invitation to add boxes is made
        // while turns remain
        for (t, n) in turns[1..].iter().zip(1..) {
            let prompt = t["prompt"].as_str().unwrap();
            assert!(prompt.starts_with(&format!("The {n} ")), "{prompt}");
            assert!(prompt.contains("have no box yet"), "{prompt}");
        }
        assert_eq!(turns[1]["boxes"], 1);
        assert_eq!(turns[3]["text"], "3");
        assert!(turns[3].get("boxes").is_none());
        assert_eq!(r["added"].as_array().unwrap().len(), 2);
        assert_eq!(r["tool_count"], 3);
        assert_eq!(r["direct_count"], 5);
    }
    // the boxes arm counts the boxes of every turn
    let boxes = s.arms.iter().find(|a| a.arm == "boxes").unwrap();
    assert!((boxes.stats.bias.mean - (3.0 - mean_truth(&s))).abs() < 1e-9);
    let table = cuelab_tasks::probe::boxtool::boxtool_table(&s);
    assert!(
        table.contains("tool loop turns: 4 image(s) in 4 (mean 4.00)"),
        "{table}"
    );
}

fn mean_truth(s: &BoxtoolSummary) -> f64 {
    let curve = &s.arms[0].curve;
    let n: usize = curve.iter().map(|p| p.stats.exact.n).sum();
    curve
        .iter()
        .map(|p| (p.n * p.stats.exact.n) as f64)
        .sum::<f64>()
        / n as f64
}

#[test]
fn the_last_turn_answers_or_is_recorded_at_the_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let server = scripted();
    // three turns: boxes, one box added, and the last turn gives a box again
    let s = run(&server, 3, tmp.path());
    assert_eq!(server.requests(), 4 * 4);
    assert_eq!(s.turns.histogram, vec![(3, 4)]);
    assert_eq!(s.turns.at_limit, 4);
    for r in rows(&tmp.path().join("run")) {
        let turns = r["turns"].as_array().unwrap();
        // the last turn is not invited to add boxes; its box is kept, not read as a count
        assert!(!turns[2]["prompt"]
            .as_str()
            .unwrap()
            .contains("have no box yet"));
        assert_eq!(turns[2]["boxes"], 1);
        assert!(r["tool_count"].is_null());
    }
    let tool = s.arms.iter().find(|a| a.arm == "tool").unwrap();
    assert_eq!(tool.stats.unparseable, 4);
    // two turns (the default) never invite more boxes
    let tmp2 = tempfile::tempdir().unwrap();
    let s = run(&server, 2, tmp2.path());
    assert_eq!(s.turns.histogram, vec![(2, 4)]);
    for r in rows(&tmp2.path().join("run")) {
        assert!(!r["turns"][1]["prompt"]
            .as_str()
            .unwrap()
            .contains("have no box yet"));
    }
    // fewer than two turns is refused
    let items = crowds(&tmp.path().join("s2"), 1);
    let bad = BoxtoolConfig {
        max_turns: 1,
        ..BoxtoolConfig::default()
    };
    let err = run_boxtool(
        &bad,
        &items,
        &mock_backend(&server),
        &serde_json::json!({}),
        &opts(&tmp.path().join("bad")),
    )
    .unwrap_err();
    assert!(err.to_string().contains("at least 2 turns"), "{err}");
}

#[test]
fn boxtool_with_the_tiny_in_process_qwen3_vl() {
    let tmp = tempfile::tempdir().unwrap();
    let items = crowds(&tmp.path().join("scenes"), 2);
    let backend = Backend::Local {
        model: tiny_qwen().display().to_string(),
        adapter: None,
        max_new_tokens: 6,
        device: "cpu".into(),
        video_fps: None,
    };
    for format in [BoxFormat::Qwen3, BoxFormat::Qwen2] {
        let out = tmp.path().join(format!("run-{format:?}"));
        let config = BoxtoolConfig {
            format,
            max_turns: 3,
            ..BoxtoolConfig::default()
        };
        let s = run_boxtool(
            &config,
            &items,
            &backend,
            &serde_json::json!({}),
            &opts(&out),
        )
        .unwrap();
        assert_eq!((s.missing, s.errors), (0, 0), "{format:?}");
        let rows = rows(&out);
        assert_eq!(rows.len(), 2);
        for r in &rows {
            // the random model's words are kept, every turn recorded with its image
            assert!(r["direct"]["text"].is_string());
            let turns = r["turns"].as_array().unwrap();
            assert!((2..=3).contains(&turns.len()), "{r}");
            assert_eq!(turns[0]["images"][0], serde_json::json!([256, 256]));
            assert!(r["parsed"].is_object());
        }
        // what the box requests held is accounted for: boxes, malformed fragments or none
        let q = &s.quality;
        assert!(q.no_box_answers + q.malformed_answers <= 2);
        let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
        assert!(manifest.contains("local-qwen3-vl"), "{manifest}");
        assert!(manifest.contains("\"max_turns\": 3"), "{manifest}");
    }
}
