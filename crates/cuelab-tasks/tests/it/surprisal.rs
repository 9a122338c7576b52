#![allow(clippy::unwrap_used)]
//! `probe surprisal` on the tiny random-weight Qwen3-VL: bits/token of the answer span and of
//! the whole sequence equal transformers' loss / ln 2 within 1e-4 on a JPEG photo, a PNG, a cued
//! image and captions (fixtures of tools/reference/probe/make_surprisal_lora_fixture.py; the
//! measured differences are about 1e-6, f32 logits against f32 logits); the run resumes without
//! recomputing, refuses another configuration, and records unreadable images as errors.

use std::path::{Path, PathBuf};

use cuelab_cue::{load_rgb, BoxXyxy, Recipe, Renderer, Target};
use cuelab_data::scenes::{export, Config};
use cuelab_models::qwen3_vl::Qwen3Vl;
use cuelab_tasks::probe::surprisal::{
    run_file, run_surprisal, units_from_samples, SurprisalConfig, SurprisalRow, SurprisalSettings,
};
use cuelab_tasks::runner::RunOptions;
use cuelab_tasks::TaskError;
use serde_json::Value;

const CUE: &str = "rect(color=red,width=3)";

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/probe")
}

fn model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cuelab-models/tests/data/qwen3-vl-tiny")
}

fn settings(out: &Path, cues: &[&str]) -> SurprisalSettings {
    SurprisalSettings {
        model: model_dir().display().to_string(),
        adapter: None,
        device: "cpu".into(),
        data: data().join("train.jsonl"),
        config: SurprisalConfig {
            cues: cues.iter().map(|c| c.to_string()).collect(),
            ..SurprisalConfig::default()
        },
        opts: RunOptions {
            out: out.to_path_buf(),
            shard: None,
            progress: false,
        },
    }
}

fn rows(dir: &Path) -> Vec<SurprisalRow> {
    std::fs::read_to_string(dir.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_cue_draws_the_committed_cued_image() {
    // the reference measured the cued example on dog.cued.png: cuelab must draw exactly it
    let plain = load_rgb(&data().join("dog.png")).unwrap();
    let target = Target::from_box(BoxXyxy {
        x0: 40.0,
        y0: 30.0,
        x1: 170.0,
        y1: 150.0,
    });
    let drawn = Renderer::new(&plain)
        .render(&Recipe::parse(CUE).unwrap(), &target)
        .unwrap();
    assert_eq!(drawn, load_rgb(&data().join("dog.cued.png")).unwrap());
}

#[test]
fn bits_per_token_equal_transformers_loss_and_the_run_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let outcome = run_file(&settings(&out, &["plain", CUE])).unwrap();
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(data().join("surprisal_expected.json")).unwrap(),
    )
    .unwrap();
    let want = expected["rows"].as_object().unwrap();
    let got = rows(&out);
    assert_eq!(got.len(), want.len(), "{got:?}");
    let mut dataset_bits = 0.0;
    for r in &got {
        let v = if r.variant == "plain" {
            "plain"
        } else {
            "cued"
        };
        let e = &want[&format!("{v}/{}", r.unit)];
        let s = r.scored.unwrap();
        assert_eq!(s.answer_tokens as u64, e["answer_tokens"].as_u64().unwrap());
        assert_eq!(
            s.sequence_tokens as u64,
            e["sequence_tokens"].as_u64().unwrap()
        );
        assert_eq!(s.image_tokens as u64, e["image_tokens"].as_u64().unwrap());
        let da =
            s.answer_bits / s.answer_tokens as f64 - e["answer_bits_per_token"].as_f64().unwrap();
        let ds = s.sequence_bits / s.sequence_tokens as f64
            - e["sequence_bits_per_token"].as_f64().unwrap();
        assert!(da.abs() <= 1e-4, "{}: answer bits/token off by {da}", r.key);
        assert!(
            ds.abs() <= 1e-4,
            "{}: sequence bits/token off by {ds}",
            r.key
        );
        if r.variant == "plain" {
            dataset_bits += s.answer_bits;
        }
    }
    let s = &outcome.summary;
    assert_eq!(outcome.errors, 0);
    assert!((s.dataset_bits - dataset_bits).abs() < 1e-9);
    assert_eq!((s.dataset_examples, s.skipped_samples), (4, 2));
    assert_eq!(s.variants[1].examples, 1, "only dog-qa has a target");
    assert_eq!(s.paired.len(), 1);
    assert_eq!(s.paired[0].n, 1);
    // the cue changes the answer's surprisal (the reference says by -0.158 bits/token)
    assert!((s.paired[0].answer_bits_per_token.diff.mean + 0.1583).abs() < 1e-3);
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["experiment"], "surprisal");
    assert_eq!(manifest["skipped"].as_array().unwrap().len(), 2);

    // resume: nothing is recomputed or counted twice
    let before = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    let again = run_file(&settings(&out, &["plain", CUE])).unwrap();
    assert_eq!(
        std::fs::read_to_string(out.join("results.jsonl")).unwrap(),
        before
    );
    assert_eq!(again.summary, outcome.summary);
    // another configuration is refused
    let err = run_file(&settings(&out, &["plain"])).unwrap_err();
    assert!(matches!(err, TaskError::RunMismatch { .. }), "{err}");
}

#[test]
fn unreadable_images_are_error_rows_and_nothing_to_measure_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let model = Qwen3Vl::load(&model_dir(), &cuelab_models::LoadOptions::default()).unwrap();
    let text = std::fs::read_to_string(data().join("train.jsonl")).unwrap();
    let mut samples: Vec<cuelab_data::Sample> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    std::fs::write(
        tmp.path().join("broken.jpg"),
        b"\xff\xd8\xff\xe0 not a jpeg",
    )
    .unwrap();
    samples[0].image = Some("broken.jpg".into()); // eagle-qa
    let (units, skipped) = units_from_samples(&samples, tmp.path(), "Describe.");
    let mut units = units;
    for u in &mut units {
        for p in &mut u.images {
            if p.file_name().unwrap() != "broken.jpg" {
                *p = data().join(p.file_name().unwrap());
            }
        }
    }
    let opts = RunOptions {
        out: tmp.path().join("run"),
        shard: None,
        progress: false,
    };
    let outcome = run_surprisal(
        &SurprisalConfig::default(),
        &model,
        &units,
        &skipped,
        &serde_json::json!({}),
        &opts,
    )
    .unwrap();
    assert_eq!(outcome.errors, 1);
    let bad = rows(&opts.out)
        .into_iter()
        .find(|r| r.unit == "eagle-qa")
        .unwrap();
    assert!(bad.scored.is_none());
    assert!(bad.error.unwrap().contains("broken.jpg"));
    assert_eq!(outcome.summary.variants[0].errors, 1);
    assert_eq!(outcome.summary.dataset_examples, 3);

    let none = run_surprisal(
        &SurprisalConfig::default(),
        &model,
        &[],
        &skipped,
        &serde_json::json!({}),
        &RunOptions {
            out: tmp.path().join("empty"),
            shard: None,
            progress: false,
        },
    )
    .unwrap_err();
    assert!(none.to_string().contains("no example to measure"), "{none}");
}

#[test]
fn scenes_run_end_to_end_with_a_cue() {
    let tmp = tempfile::tempdir().unwrap();
    let scenes = tmp.path().join("scenes");
    export::write(&Config::new(0, 3), &scenes).unwrap();
    let mut s = settings(
        &tmp.path().join("run"),
        &["plain", "ellipse(color=red,width=3)"],
    );
    s.data = scenes.join("samples.jsonl");
    let outcome = run_file(&s).unwrap();
    let summary = &outcome.summary;
    assert_eq!(outcome.errors, 0);
    assert!(summary.dataset_examples >= 9, "{summary:?}");
    assert!(summary.dataset_bits > 0.0);
    // only the fill-in-the-blank samples have a target box to draw on
    assert!(summary.variants[1].examples >= 1);
    assert!(summary.variants[1].examples < summary.variants[0].examples);
    assert_eq!(summary.paired[0].n, summary.variants[1].examples);
    let table = std::fs::read_to_string(tmp.path().join("run/summary.txt")).unwrap();
    assert!(table.contains("dataset:"), "{table}");
}

#[test]
fn shards_merge_into_the_whole_run() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = run_file(&settings(&tmp.path().join("whole"), &["plain", CUE])).unwrap();
    let mut dirs = Vec::new();
    for i in 0..2 {
        let dir = tmp.path().join(format!("s{i}"));
        let mut s = settings(&dir, &["plain", CUE]);
        s.opts.shard = Some((i, 2));
        run_file(&s).unwrap();
        dirs.push(dir);
    }
    let merged = cuelab_tasks::runner::merge_runs(&dirs, &tmp.path().join("merged")).unwrap();
    let cuelab_tasks::runner::Merged::Surprisal(m) = &merged else {
        panic!("not a surprisal merge: {merged:?}");
    };
    assert_eq!(m.dataset_examples, whole.summary.dataset_examples);
    assert!((m.dataset_bits - whole.summary.dataset_bits).abs() < 1e-9);
    assert_eq!(m.paired.len(), 1);
    assert!(merged.table().contains("dataset:"));
}
