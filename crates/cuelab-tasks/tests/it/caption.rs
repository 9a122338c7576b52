//! The captioning sweep end to end with the committed tiny random-weight Qwen3-VL: a 2 prompts x
//! 2 generation configs grid on the scenes' captions, per-cell COCO results and scores, CIs and
//! paired tests, resumption without double counting, merge of shards, bad input.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use cuelab_tasks::caption::{
    load, run_caption_study, CaptionBackend, CaptionConfig, CaptionData, CaptionRow,
};
use cuelab_tasks::runner::{merge_runs, Merged, RunOptions};

fn tiny_qwen() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../cuelab-models/tests/data/qwen3-vl-tiny"
    )
    .to_string()
}

fn scenes(dir: &Path) -> PathBuf {
    let out = dir.join("scenes");
    cuelab_data::scenes::export::write(&cuelab_data::scenes::Config::new(3, 6), &out).unwrap();
    out
}

fn config() -> CaptionConfig {
    CaptionConfig {
        prompts: vec![
            "Describe the image in one sentence.".into(),
            "What is in the picture?".into(),
        ],
        gens: vec!["greedy,max_tokens=5".into(), "beam=2,max_tokens=5".into()],
        limit: Some(3),
        resamples: 200,
        ..CaptionConfig::default()
    }
}

fn local() -> CaptionBackend {
    CaptionBackend::Local {
        model: tiny_qwen(),
        adapter: None,
        device: "cpu".into(),
    }
}

fn rows(dir: &Path) -> Vec<CaptionRow> {
    std::fs::read_to_string(dir.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_two_by_two_sweep_with_the_tiny_qwen3_vl_scores_every_cell_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = CaptionData {
        path: scenes(tmp.path()),
        ..CaptionData::default()
    };
    let loaded = load(&data).unwrap();
    assert_eq!(loaded.items.len(), 6);
    assert!(loaded.items.iter().all(|i| i.refs.len() >= 2));
    let out = tmp.path().join("run");
    let opts = RunOptions {
        out: out.clone(),
        shard: None,
        progress: false,
    };
    let cfg = config();
    let outcome =
        run_caption_study(&cfg, &loaded.items, &local(), &loaded.description, &opts).unwrap();
    let s = &outcome.summary;
    assert_eq!(outcome.missing, 0);
    assert_eq!(s.cells.len(), 4);
    // 4 cells: 6 pairs x CIDEr-D (no CLIP model: no CLIPScore pairs)
    assert_eq!(s.paired.len(), 6);
    let written = rows(&out);
    assert_eq!(written.len(), 12);
    for c in &s.cells {
        assert_eq!(c.captions, 3, "{c:?}");
        assert_eq!(c.errors, 0);
        assert!(c.cider_d.mean.is_finite() && c.cider_d.lo <= c.cider_d.mean);
        assert!(c.cider_d.hi >= c.cider_d.mean);
        let results: Vec<serde_json::Value> = serde_json::from_str(
            &std::fs::read_to_string(out.join("cells").join(&c.id).join("captions.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(results.len(), 3);
        // COCO results format: the scenes' numeric image ids
        assert!(results.iter().all(|r| r["image_id"].is_u64()));
        assert!(out.join("cells").join(&c.id).join("scores.json").is_file());
    }
    // the in-process captions are the model's: at most 5 tokens, recorded per row
    assert!(written.iter().all(|r| r.tokens.is_some_and(|t| t <= 5)));
    // greedy and beam cells of the same prompt differ in at least one caption, or the beam
    // search found the greedy path everywhere (both are legal); the captions are deterministic
    let again = tmp.path().join("again");
    let o2 = RunOptions {
        out: again.clone(),
        ..opts.clone()
    };
    run_caption_study(&cfg, &loaded.items, &local(), &loaded.description, &o2).unwrap();
    let mut a: Vec<(String, String)> = written
        .iter()
        .map(|r| (r.key.clone(), r.caption.clone()))
        .collect();
    let mut b: Vec<(String, String)> = rows(&again)
        .iter()
        .map(|r| (r.key.clone(), r.caption.clone()))
        .collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    // Resume after a lost tail: drop the last 2 rows, rerun, 12 rows again, none twice.
    let text = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    let kept: Vec<&str> = text.lines().take(10).collect();
    std::fs::write(out.join("results.jsonl"), kept.join("\n") + "\n").unwrap();
    let resumed =
        run_caption_study(&cfg, &loaded.items, &local(), &loaded.description, &opts).unwrap();
    assert_eq!(rows(&out).len(), 12);
    assert_eq!(resumed.summary.cells, outcome.summary.cells);
    // Another grid in the same directory is refused.
    let other = CaptionConfig {
        gens: vec!["greedy,max_tokens=6".into()],
        ..cfg.clone()
    };
    let e = run_caption_study(&other, &loaded.items, &local(), &loaded.description, &opts)
        .unwrap_err()
        .to_string();
    assert!(e.contains("configuration"), "{e}");
}

#[test]
fn shards_merge_into_the_unsharded_scores() {
    let tmp = tempfile::tempdir().unwrap();
    let data = CaptionData {
        path: scenes(tmp.path()),
        ..CaptionData::default()
    };
    let loaded = load(&data).unwrap();
    let cfg = CaptionConfig {
        prompts: vec!["Describe the image.".into()],
        gens: vec!["greedy,max_tokens=3".into()],
        limit: None,
        resamples: 100,
        ..CaptionConfig::default()
    };
    let mut dirs = Vec::new();
    for i in 0..2 {
        let out = tmp.path().join(format!("s{i}"));
        let opts = RunOptions {
            out: out.clone(),
            shard: Some((i, 2)),
            progress: false,
        };
        run_caption_study(&cfg, &loaded.items, &local(), &loaded.description, &opts).unwrap();
        dirs.push(out);
    }
    let whole = tmp.path().join("whole");
    let opts = RunOptions {
        out: whole,
        shard: None,
        progress: false,
    };
    let full =
        run_caption_study(&cfg, &loaded.items, &local(), &loaded.description, &opts).unwrap();
    let merged = merge_runs(&dirs, &tmp.path().join("merged")).unwrap();
    let Merged::Caption(m) = merged else {
        panic!("not a caption merge")
    };
    assert_eq!(m.cells[0].captions, 6);
    assert!((m.cells[0].cider_d.mean - full.summary.cells[0].cider_d.mean).abs() < 1e-12);
    assert_eq!(m.cells[0].bleu, full.summary.cells[0].bleu);
}

#[test]
fn bad_input_is_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    // a dataset without captions
    let f = tmp.path().join("q.jsonl");
    std::fs::write(
        &f,
        "{\"id\":\"a\",\"dataset\":\"x\",\"task\":\"multiple_choice\",\"image\":\"a.png\",\"question\":\"?\",\"choices\":[\"a\",\"b\"]}\n",
    )
    .unwrap();
    let loaded = load(&CaptionData {
        path: f,
        ..CaptionData::default()
    })
    .unwrap();
    assert!(loaded.items.is_empty());
    // an unreadable image is an error row, not a crash, and the others are captioned
    let g = tmp.path().join("c.jsonl");
    std::fs::write(
        &g,
        "{\"id\":\"a\",\"dataset\":\"x\",\"task\":\"caption\",\"image\":\"missing.png\",\"captions\":[\"a cat\"]}\n",
    )
    .unwrap();
    let loaded = load(&CaptionData {
        path: g,
        ..CaptionData::default()
    })
    .unwrap();
    let opts = RunOptions {
        out: tmp.path().join("run"),
        shard: None,
        progress: false,
    };
    let cfg = CaptionConfig {
        gens: vec!["greedy,max_tokens=2".into()],
        resamples: 10,
        ..CaptionConfig::default()
    };
    let o = run_caption_study(&cfg, &loaded.items, &local(), &loaded.description, &opts).unwrap();
    assert_eq!(o.summary.cells[0].errors, 1);
    assert_eq!(o.summary.cells[0].captions, 0);
    // beam search cannot go to a server
    let remote = CaptionBackend::Remote(Box::new(cuelab_vlm::remote::RemoteConfig {
        endpoints: vec!["http://127.0.0.1:9/v1".into()],
        model: "m".into(),
        ..cuelab_vlm::remote::RemoteConfig::default()
    }));
    let beam = CaptionConfig {
        gens: vec!["beam=3".into()],
        ..CaptionConfig::default()
    };
    let e = run_caption_study(&beam, &loaded.items, &remote, &loaded.description, &opts)
        .unwrap_err()
        .to_string();
    assert!(e.contains("--local"), "{e}");
}

/// CLIPScore and RefCLIPScore against the original implementation's computation
/// (`tools/reference/captions/make_clipscore_fixture.py`) on the tiny CLIP and three real JPEG
/// photos: prefix on candidates and references, truncation to 77 tokens, OpenAI preprocessing,
/// unclipped text-text maximum, harmonic mean. Per-image scores within 1e-5 (f32 encoders; the
/// embeddings agree to ~1e-6 on this model, see cuelab-models' parity tests).
#[test]
fn clipscore_matches_the_original_implementation() {
    use cuelab_metrics::clipscore::ClipScoreOptions;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let fx: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/clipscore/expected.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut set = cuelab_metrics::CaptionSet::default();
    let cases = fx["cases"].as_array().unwrap();
    for c in cases {
        let id = c["id"].as_str().unwrap();
        let src = root.join(c["image"].as_str().unwrap());
        std::fs::copy(&src, tmp.path().join(format!("{id}.jpg"))).unwrap();
        set.cands
            .insert(id.into(), c["candidate"].as_str().unwrap().into());
        set.refs.insert(
            id.into(),
            c["references"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_string())
                .collect(),
        );
    }
    let model = root.join(fx["model"].as_str().unwrap());
    let (rows, skipped) = cuelab_tasks::clipscore::compute(
        &set,
        tmp.path(),
        model.to_str().unwrap(),
        cuelab_models::Pipeline::Openai,
        &ClipScoreOptions::default(),
    )
    .unwrap();
    assert!(skipped.is_empty());
    assert_eq!(rows.len(), cases.len());
    let mut worst = 0f64;
    for (row, c) in rows.iter().zip(cases) {
        assert_eq!(row.image_id, c["id"].as_str().unwrap());
        worst = worst.max((row.clip_score - c["clip_score"].as_f64().unwrap()).abs());
        worst = worst.max((row.ref_clip_score - c["ref_clip_score"].as_f64().unwrap()).abs());
    }
    eprintln!(
        "clipscore parity: {} images, max abs diff (CLIPScore, RefCLIPScore) {worst:e}",
        rows.len()
    );
    assert!(worst <= 1e-5, "max abs diff {worst:e}");
    let mean = rows.iter().map(|r| r.clip_score).sum::<f64>() / rows.len() as f64;
    assert!((mean - fx["clip_score_mean"].as_f64().unwrap()).abs() <= 1e-5);
    // the sweep's scorer gives the same numbers
    let mut scorer = cuelab_tasks::caption::run::ClipScorer::load(model.to_str().unwrap()).unwrap();
    let c = &cases[1];
    let item = cuelab_tasks::caption::CaptionItem {
        id: "2".into(),
        image_id: serde_json::json!(2),
        image: tmp.path().join("2.jpg"),
        refs: set.refs["2"].clone(),
        target: None,
    };
    let img = cuelab_cue::load_rgb(&item.image).unwrap();
    let (cs, rcs) = scorer
        .score(&item, &img, c["candidate"].as_str().unwrap())
        .unwrap();
    let (d_cs, d_rcs) = (
        (cs - c["clip_score"].as_f64().unwrap()).abs(),
        (rcs.unwrap() - c["ref_clip_score"].as_f64().unwrap()).abs(),
    );
    eprintln!("clipscore parity, sweep scorer: abs diff {d_cs:e} / {d_rcs:e}");
    assert!(d_cs <= 1e-5);
    assert!(d_rcs <= 1e-5);
}
