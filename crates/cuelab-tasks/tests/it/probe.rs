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
    assert_eq!(run.summary.vs_plain.len(), 1);
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
    assert_eq!(again.summary, run.summary);
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
    let crops = &run.summary.vs_plain[1];
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
