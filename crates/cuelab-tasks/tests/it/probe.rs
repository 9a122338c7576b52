#![allow(clippy::unwrap_used)]
//! The probing lab end to end: `probe count` on generated crowd scenes with the mock
//! OpenAI-compatible server (curve, listing scores, resume, config refusal), with an oracle that
//! only sees the crops grid (presentation reaches the backend, paired test), and with the tiny
//! in-process Qwen3-VL.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cuelab_data::scenes::{export, Config};
use cuelab_tasks::probe::count::{run_count, run_count_with, CountConfig};
use cuelab_tasks::probe::{load_scenes, ProbeItem};
use cuelab_tasks::runner::RunOptions;
use cuelab_tasks::vqa::Backend;
use cuelab_vlm::mock::MockServer;
use cuelab_vlm::remote::RemoteConfig;
use cuelab_vlm::{Answer, FnAnswerer, ParseOutcome, Question};

pub fn crowds(dir: &Path, n: usize) -> Vec<ProbeItem> {
    let mut cfg = Config::new(11, n);
    cfg.crowd = 1.0;
    cfg.pairs = 0;
    cfg.clips = 0;
    export::write(&cfg, dir).unwrap();
    load_scenes(dir, true).unwrap()
}

fn opts(out: &Path) -> RunOptions {
    RunOptions {
        out: out.to_path_buf(),
        shard: None,
        progress: false,
    }
}

pub fn mock_backend(server: &MockServer) -> Backend {
    Backend::Remote(Box::new(RemoteConfig {
        endpoints: vec![server.url()],
        model: "mock-vlm".into(),
        retries: 0,
        ..RemoteConfig::default()
    }))
}

fn open_answer(text: String) -> Answer {
    Answer {
        text,
        choice: None,
        parse: ParseOutcome::Open,
        option_logprobs: None,
        from_cache: false,
    }
}

#[test]
fn scenes_give_exact_counts_and_objects() {
    let tmp = tempfile::tempdir().unwrap();
    let items = crowds(tmp.path(), 10);
    assert_eq!(items.len(), 10);
    for it in &items {
        assert!(it.plural.ends_with('s'), "{}", it.plural);
        // every target holds the counted words; objects are sorted left to right
        for o in it.targets() {
            assert!(cuelab_tasks::probe::data::names(&o.name, &it.singular));
        }
        let xs: Vec<f32> = it.objects.iter().map(|o| o.bbox.center().0).collect();
        assert!(xs.windows(2).all(|w| w[0] <= w[1]));
    }
    assert!(items.iter().map(ProbeItem::count).max().unwrap() > 5);
    // not a scenes folder
    let err = load_scenes(&tmp.path().join("images"), true).unwrap_err();
    assert!(err.to_string().contains("manifest.json"), "{err}");
}

#[test]
fn count_probe_on_the_mock_server_scores_the_curve_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let items = crowds(&tmp.path().join("scenes"), 12);
    let server = MockServer::start().unwrap();
    // Always three; the listing names three things, two of them circles.
    server.set_open_reply(Some(Arc::new(|r: &cuelab_vlm::mock::MockRequest| {
        if r.user_text.contains("List the") {
            "1. red circle\n2. a blue star\n3. red circle".to_string()
        } else {
            "There are 3.".to_string()
        }
    })));
    let out = tmp.path().join("run");
    let config = CountConfig {
        variants: vec!["plain".into(), "som".into()],
        ..CountConfig::default()
    };
    let backend = mock_backend(&server);
    let run = run_count(
        &config,
        &items,
        &backend,
        &serde_json::json!({}),
        &opts(&out),
    )
    .unwrap();
    assert_eq!(run.missing, 0);
    let plain = &run.summary.variants[0];
    let c = plain.count.as_ref().unwrap();
    assert_eq!(c.exact.n, items.len());
    let truth: Vec<i64> = items.iter().map(|i| i.count() as i64).collect();
    let mae = truth.iter().map(|t| (3 - t).abs() as f64).sum::<f64>() / truth.len() as f64;
    assert!((c.mae.mean - mae).abs() < 1e-12);
    for p in &plain.curve {
        assert_eq!(
            p.stats.exact.mean,
            if p.n == 3 { 1.0 } else { 0.0 },
            "N={}",
            p.n
        );
        assert_eq!(p.stats.bias.mean, 3.0 - p.n as f64);
    }
    let listing = plain.listing.as_ref().unwrap();
    assert!(listing.precision.mean <= 2.0 / 3.0 + 1e-12);
    assert_eq!(run.summary.vs_reference.len(), 1);
    let asked = server.requests();
    assert_eq!(asked, items.len() * 2 * 2);
    // Resume: nothing asked again.
    let again = run_count(
        &config,
        &items,
        &backend,
        &serde_json::json!({}),
        &opts(&out),
    )
    .unwrap();
    assert_eq!(server.requests(), asked);
    // Compared as JSON: estimates over nothing (e.g. the listing order when no answer matched
    // two objects) are NaN, which never equals itself, and are written as null.
    assert_eq!(
        serde_json::to_value(&again.summary).unwrap(),
        serde_json::to_value(&run.summary).unwrap()
    );
    let table = cuelab_tasks::probe::count::count_table(&run.summary);
    assert!(
        table.contains("exact count accuracy") && table.contains("som vs plain"),
        "{table}"
    );
    // Another configuration into the same directory is refused.
    let other = CountConfig {
        variants: vec!["plain".into()],
        ..CountConfig::default()
    };
    let err = run_count(
        &other,
        &items,
        &backend,
        &serde_json::json!({}),
        &opts(&out),
    )
    .unwrap_err();
    assert!(err.to_string().contains("another configuration"), "{err}");
}

#[test]
fn presentations_reach_the_backend() {
    let tmp = tempfile::tempdir().unwrap();
    let items = crowds(&tmp.path().join("scenes"), 8);
    let truth: std::collections::BTreeMap<String, usize> =
        items.iter().map(|i| (i.id.clone(), i.count())).collect();
    // Right only on the crops grid (an image that is not the 256x256 scene), one too many else.
    let oracle = FnAnswerer::new("crops-oracle", |q: &Question| {
        let id = q.id.rsplit('/').next().unwrap();
        let n = truth[id];
        let crops = q.images[0].dimensions() != (256, 256);
        let boxes = q.images[0]
            .pixels()
            .filter(|p| p[0] > 240 && p[1] < 16 && p[2] < 16)
            .count()
            > 20;
        assert!(q.text.contains("outlined") == boxes || n == 0, "{}", q.text);
        Ok(open_answer(format!("{}", if crops { n } else { n + 1 })))
    });
    let config = CountConfig {
        variants: vec!["plain".into(), "boxes".into(), "crops".into()],
        questions: vec!["count".into()],
        ..CountConfig::default()
    };
    let run = run_count_with(
        &config,
        &items,
        &oracle,
        &serde_json::json!({"oracle": 1}),
        &serde_json::json!({}),
        &opts(&tmp.path().join("run")),
    )
    .unwrap();
    let v = &run.summary.variants;
    assert_eq!(v[0].count.as_ref().unwrap().exact.mean, 0.0);
    assert_eq!(v[2].count.as_ref().unwrap().exact.mean, 1.0);
    assert_eq!(v[0].count.as_ref().unwrap().bias.mean, 1.0);
    let crops = &run.summary.vs_reference[1];
    assert_eq!((crops.mcnemar.b_only, crops.mcnemar.a_only), (8, 0));
    assert_eq!(crops.flip_rate, 1.0);
    assert!(crops.mcnemar.p_value < 0.01);
}

pub fn tiny_qwen() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../cuelab-models/tests/data/qwen3-vl-tiny")
}

#[test]
fn count_probe_with_the_tiny_in_process_qwen3_vl() {
    let tmp = tempfile::tempdir().unwrap();
    let items = crowds(&tmp.path().join("scenes"), 2);
    let backend = Backend::Local {
        model: tiny_qwen().display().to_string(),
        adapter: None,
        max_new_tokens: 4,
        device: "cpu".into(),
        video_fps: None,
    };
    let config = CountConfig {
        variants: vec!["plain".into(), "som".into()],
        ..CountConfig::default()
    };
    let out = tmp.path().join("run");
    let run = run_count(
        &config,
        &items,
        &backend,
        &serde_json::json!({}),
        &opts(&out),
    )
    .unwrap();
    assert_eq!(run.missing, 0);
    let rows = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert_eq!(rows.lines().count(), 2 * 2 * 2);
    assert!(!rows.contains("\"error\""), "{rows}");
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(manifest.contains("local-qwen3-vl"));
}

#[test]
fn boxtool_on_the_mock_server_records_every_turn_and_malformed_boxes() {
    use cuelab_tasks::probe::boxtool::{run_boxtool, BoxtoolConfig};
    let tmp = tempfile::tempdir().unwrap();
    let items = crowds(&tmp.path().join("scenes"), 6);
    let server = MockServer::start().unwrap();
    let schema_seen = Arc::new(std::sync::Mutex::new(Vec::<bool>::new()));
    let seen = Arc::clone(&schema_seen);
    // Turn 1: two boxes and one with three coordinates (Qwen3-VL style, 0-1000 grid); turn 2
    // (marked image): 2; direct: 3.
    server.set_open_reply(Some(Arc::new(move |r: &cuelab_vlm::mock::MockRequest| {
        if r.user_text.contains("bbox_2d") {
            seen.lock()
                .unwrap()
                .push(r.fields.contains(&"response_format".to_string()));
            "```json\n[{\"bbox_2d\": [0, 0, 500, 500], \"label\": \"a\"}, {\"bbox_2d\": [500, 500, 1000, 1000], \"label\": \"b\"}, {\"bbox_2d\": [1, 2, 3], \"label\": \"c\"}]\n```".to_string()
        } else if r.user_text.contains("marked") {
            "2".to_string()
        } else {
            "There are 3.".to_string()
        }
    })));
    let config = BoxtoolConfig {
        format: cuelab_tasks::probe::boxfmt::BoxFormat::Qwen3,
        ..BoxtoolConfig::default()
    };
    let out = tmp.path().join("run");
    let s = run_boxtool(
        &config,
        &items,
        &mock_backend(&server),
        &serde_json::json!({}),
        &opts(&out),
    )
    .unwrap();
    assert_eq!((s.missing, s.errors), (0, 0));
    assert_eq!(server.requests(), 3 * items.len());
    // The box request carried the JSON schema, the other turns did not need it.
    assert_eq!(*schema_seen.lock().unwrap(), vec![true; items.len()]);
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), items.len());
    for r in &rows {
        assert_eq!(r["turns"].as_array().unwrap().len(), 2);
        assert_eq!(r["parsed"]["boxes"].as_array().unwrap().len(), 2);
        let bad = r["parsed"]["malformed"].as_array().unwrap();
        assert_eq!(bad.len(), 1);
        assert!(bad[0]["reason"].as_str().unwrap().contains("3 coordinates"));
        // 0-1000 grid mapped to the 256x256 image
        assert_eq!(r["parsed"]["boxes"][1]["bbox"]["x1"].as_f64(), Some(256.0));
        assert_eq!(
            (r["direct_count"].as_i64(), r["tool_count"].as_i64()),
            (Some(3), Some(2))
        );
        assert!(r["turns"][1]["prompt"]
            .as_str()
            .unwrap()
            .starts_with("The 2 "));
    }
    assert_eq!(s.quality.malformed_answers, items.len());
    for a in &s.arms {
        let want = if a.arm == "direct" { 3 } else { 2 };
        for p in &a.curve {
            assert_eq!(
                p.stats.exact.mean,
                f64::from(u8::from(p.n == want)),
                "{} N={}",
                a.arm,
                p.n
            );
        }
    }
    // Rerun: nothing asked again.
    run_boxtool(
        &config,
        &items,
        &mock_backend(&server),
        &serde_json::json!({}),
        &opts(&out),
    )
    .unwrap();
    assert_eq!(server.requests(), 3 * items.len());
}

#[test]
fn boxtool_maps_native_boxes_back_and_draws_them() {
    use cuelab_tasks::probe::boxfmt::BoxFormat;
    use cuelab_tasks::probe::boxtool::{run_boxtool_with, BoxtoolConfig};
    let tmp = tempfile::tempdir().unwrap();
    let items = crowds(&tmp.path().join("scenes"), 5);
    let by_id: std::collections::BTreeMap<String, ProbeItem> =
        items.iter().map(|i| (i.id.clone(), i.clone())).collect();
    for format in [
        BoxFormat::Qwen2,
        BoxFormat::Qwen25,
        BoxFormat::Qwen3,
        BoxFormat::Json,
    ] {
        // An oracle that writes the true boxes in the format's own coordinates, and counts the
        // red boxes drawn in turn 2 by the number of marks it was told about.
        let oracle = FnAnswerer::new("box-oracle", |q: &Question| {
            let (turn, id) = q.id.split_once('/').unwrap();
            let it = &by_id[id];
            let (w, h) = (it.width as f32, it.height as f32);
            // Qwen2.5-VL's frame: 256 -> 252 (smart resize to multiples of 28)
            let (sx, sy) = match format {
                BoxFormat::Qwen2 | BoxFormat::Qwen3 => (1000.0 / w, 1000.0 / h),
                BoxFormat::Qwen25 => (252.0 / w, 252.0 / h),
                BoxFormat::Json => (1.0, 1.0),
            };
            let text = match turn {
                "turn1" => {
                    let boxes: Vec<[f32; 4]> = it
                        .targets()
                        .iter()
                        .map(|o| {
                            [
                                o.bbox.x0 * sx,
                                o.bbox.y0 * sy,
                                o.bbox.x1 * sx,
                                o.bbox.y1 * sy,
                            ]
                        })
                        .collect();
                    if format == BoxFormat::Qwen2 {
                        boxes
                            .iter()
                            .map(|b| format!("<|object_ref_start|>x<|object_ref_end|><|box_start|>({},{}),({},{})<|box_end|>", b[0], b[1], b[2], b[3]))
                            .collect::<String>()
                    } else {
                        serde_json::to_string(
                            &boxes
                                .iter()
                                .map(|b| serde_json::json!({"bbox_2d": b, "label": "x"}))
                                .collect::<Vec<_>>(),
                        )
                        .unwrap()
                    }
                }
                "turn2" => {
                    let red = q.images[0]
                        .pixels()
                        .filter(|p| p[0] > 240 && p[1] < 16 && p[2] < 16)
                        .count();
                    assert!(it.count() == 0 || red > 20, "marks are drawn");
                    q.text.split_whitespace().nth(1).unwrap().to_string()
                }
                _ => "0".to_string(),
            };
            Ok(open_answer(text))
        });
        let config = BoxtoolConfig {
            format,
            ..BoxtoolConfig::default()
        };
        let s = run_boxtool_with(
            &config,
            &items,
            &oracle,
            &oracle,
            &serde_json::json!({"oracle": format!("{format:?}")}),
            &serde_json::json!({}),
            &opts(&tmp.path().join(format!("run-{format:?}"))),
        )
        .unwrap();
        let tool = &s.arms[1].stats;
        assert_eq!(tool.exact.mean, 1.0, "{format:?}");
        assert_eq!(s.quality.misses, 0, "{format:?}");
        assert_eq!(s.quality.duplicates + s.quality.false_positives, 0);
        assert!(
            s.quality.mean_iou.mean > 0.97,
            "{format:?}: {:?}",
            s.quality.mean_iou
        );
        assert_eq!(s.quality.malformed_fragments, 0);
        assert_eq!(s.vs_direct[0].mcnemar.a_only, 0);
    }
}

#[test]
fn preprocess_probe_compares_transforms_with_identity() {
    use cuelab_tasks::probe::preprocess::{run_preprocess, run_preprocess_with, PreprocessConfig};
    let tmp = tempfile::tempdir().unwrap();
    let items = crowds(&tmp.path().join("scenes"), 6);
    let truth: std::collections::BTreeMap<String, usize> =
        items.iter().map(|i| (i.id.clone(), i.count())).collect();
    // Right on 256x256 images only: every transform that changes the size flips every answer.
    let oracle = FnAnswerer::new("size-oracle", |q: &Question| {
        let n = truth[q.id.rsplit('/').next().unwrap()];
        let same = q.images[0].dimensions() == (256, 256);
        Ok(open_answer(format!("{}", if same { n } else { n + 2 })))
    });
    let config = PreprocessConfig {
        transforms: vec![
            "rotate(180)".into(),
            "shift(7)".into(),
            "jpeg(40)".into(),
            "resize(0.5)".into(),
        ],
        ..PreprocessConfig::default()
    };
    let run = run_preprocess_with(
        &config,
        &items,
        &oracle,
        &serde_json::json!({"oracle": 1}),
        None,
        &serde_json::json!({}),
        &opts(&tmp.path().join("run")),
    )
    .unwrap();
    let s = &run.summary;
    assert_eq!(s.reference, "identity");
    let ids: Vec<&str> = s.variants.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "identity",
            "rotate(180)",
            "shift(7)",
            "jpeg(40)",
            "resize(0.5)"
        ]
    );
    let flips: Vec<f64> = s.vs_reference.iter().map(|p| p.flip_rate).collect();
    assert_eq!(flips, [0.0, 1.0, 0.0, 1.0]);
    assert_eq!(s.vs_reference[1].mcnemar.a_only, items.len());
    // In-process: visual tokens per transform from the model's own processor.
    let backend = Backend::Local {
        model: tiny_qwen().display().to_string(),
        adapter: None,
        max_new_tokens: 3,
        device: "cpu".into(),
        video_fps: None,
    };
    let small = PreprocessConfig {
        transforms: vec!["resize(0.25)".into()],
        limit: Some(1),
        ..PreprocessConfig::default()
    };
    let run = run_preprocess(
        &small,
        &items,
        &backend,
        &serde_json::json!({}),
        &opts(&tmp.path().join("local")),
    )
    .unwrap();
    let t: Vec<f64> = run
        .summary
        .variants
        .iter()
        .map(|v| v.visual_tokens.unwrap())
        .collect();
    // The fixture's processor: 32-pixel units, at most 30,720 pixels: 256x256 -> 160x160 = 25
    // merged tokens; 64x64 -> 2x2 = 4.
    assert_eq!(t, [25.0, 4.0]);
}
