//! Parity with the reference fixtures of `tools/reference/tasks/make_fixtures.py`:
//! torchvision `box_iou`, and seed 004's grounding scoring re-implemented with transformers +
//! Pillow on the tiny random-weight CLIP.
//!
//! Tolerances: IoU bit-identical (same f32 operations). Grounding: cropping, blur, grayscale and
//! (since issue 13) the red ellipse are pixel-exact, so every variant must match the reference
//! scores within 1e-5 (what remains is f32 summation order in the two CLIP implementations) and
//! choose the same box. Measured: 3.0e-7 (ellipse recipes 2.0e-7, 6e-3 before issue 13);
//! RefCOCO-format set 5.1e-7.
//!
//! The RefCOCO-format test runs seed 004's whole text side as well: the refs' `sent` field (and
//! `raw`), debias prompts drawn with replacement from the train split, and the mean over the
//! given prompts together with the debias prompts.

#![allow(clippy::unwrap_used)]

use cuelab_models::LoadOptions;
use std::path::{Path, PathBuf};

use cuelab_cue::{load_rgb, BoxXyxy};
use cuelab_models::clip_vit::ClipVit;
use cuelab_models::{ImageTextScorer, Pipeline};
use cuelab_tasks::boxes::iou;
use cuelab_tasks::grounding::{Aggregate, Grounder, GroundingSample, Method, Variant};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn bx(v: &Value) -> BoxXyxy {
    let a: Vec<f32> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    BoxXyxy {
        x0: a[0],
        y0: a[1],
        x1: a[2],
        y1: a[3],
    }
}

#[test]
fn box_iou_is_bit_identical_to_torchvision() {
    let fx = read(&root().join("crates/cuelab-tasks/tests/data/box_iou.json"));
    let boxes: Vec<BoxXyxy> = fx["boxes"].as_array().unwrap().iter().map(bx).collect();
    let expected = fx["iou"].as_array().unwrap();
    let mut checked = 0;
    for (i, a) in boxes.iter().enumerate() {
        for (j, b) in boxes.iter().enumerate() {
            let want = expected[i][j].as_f64().unwrap() as f32;
            let got = iou(a, b);
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "boxes {i},{j}: {got} vs {want}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 67 * 67);
}

#[test]
fn grounding_matches_the_seed_reimplementation() {
    let fx = read(&root().join("crates/cuelab-tasks/tests/data/grounding_parity.json"));
    let model = ClipVit::load(
        &root().join(fx["model"].as_str().unwrap()),
        &LoadOptions::default().with_pipeline(Pipeline::Openai),
    )
    .unwrap();
    let models: Vec<Box<dyn ImageTextScorer + Send + Sync>> = vec![Box::new(model)];
    let samples: Vec<GroundingSample> = fx["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| GroundingSample {
            id: s["id"].as_str().unwrap().into(),
            image: root().join(s["image"].as_str().unwrap()),
            expression: s["expression"].as_str().unwrap().into(),
            target: bx(&s["target"]),
            proposals: s["proposals"].as_array().unwrap().iter().map(bx).collect(),
            split: String::new(),
            proposal_classes: Vec::new(),
            given_expressions: Vec::new(),
        })
        .collect();
    let pool: Vec<String> = fx["debias_pool"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let names: Vec<String> = fx["variants"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let variants: Vec<Variant> = names
        .iter()
        .map(|n| {
            let v = &fx["variants"][n];
            Variant {
                method: if v["method"] == "baseline" {
                    Method::Baseline
                } else {
                    Method::Redcircle
                },
                cues: v["cues"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_string())
                    .collect(),
                template: v["template"].as_str().unwrap().into(),
                debias: v["debias"].as_u64().unwrap() as usize,
                aggregate: if v["aggregate"] == "max" {
                    Aggregate::Max
                } else {
                    Aggregate::Mean
                },
                max_area: None,
                class_prior: None,
            }
        })
        .collect();
    let grounder = Grounder::new(&models, None, variants, &samples, &pool, 0).unwrap();
    let mut checked = 0;
    for r in fx["results"].as_array().unwrap() {
        let vi = names
            .iter()
            .position(|n| n == r["variant"].as_str().unwrap())
            .unwrap();
        let sample = samples
            .iter()
            .find(|s| s.id == r["sample"].as_str().unwrap())
            .unwrap();
        let image = load_rgb(&sample.image).unwrap();
        let row = grounder.ground(vi, sample, &image).unwrap();
        let want: Vec<f32> = r["scores"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        let tol = 1e-5;
        assert_eq!(row.scores.len(), want.len(), "one score per proposal");
        let max_diff = row
            .scores
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        eprintln!(
            "{} {}: max score diff {max_diff:.2e}",
            r["sample"], r["variant"]
        );
        assert!(
            max_diff <= tol,
            "{r}: ours {:?} max diff {max_diff}",
            row.scores
        );
        assert_eq!(
            row.chosen as u64,
            r["chosen"].as_u64().unwrap(),
            "{r}: ours {:?}",
            row.scores
        );
        checked += 1;
    }
    assert_eq!(checked, 16);
}

fn variants_of(fx: &Value) -> (Vec<String>, Vec<Variant>) {
    let names: Vec<String> = fx["variants"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let variants = names
        .iter()
        .map(|n| {
            let v = &fx["variants"][n];
            Variant {
                method: if v["method"] == "baseline" {
                    Method::Baseline
                } else {
                    Method::Redcircle
                },
                cues: v["cues"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_string())
                    .collect(),
                template: v["template"].as_str().unwrap().into(),
                debias: v["debias"].as_u64().unwrap() as usize,
                aggregate: if v["aggregate"] == "max" {
                    Aggregate::Max
                } else {
                    Aggregate::Mean
                },
                max_area: None,
                class_prior: None,
            }
        })
        .collect();
    (names, variants)
}

/// Seed 004 on a RefCOCO-format set (refs pickle + instances.json, train/val/test refs):
/// `sent` (default) and `raw` text, the train-split debias pool drawn with replacement, the mean
/// over given + debias prompts, the Pillow ellipse. Every proposal score within 1e-5.
#[test]
fn refcoco_grounding_matches_the_seed_reimplementation() {
    use cuelab_data::{refcoco, TextField};
    use cuelab_tasks::experiment::GroundingConfig;
    use cuelab_tasks::grounding::from_data_samples_as;

    let fx = read(&root().join("crates/cuelab-tasks/tests/data/grounding_refcoco.json"));
    let model = ClipVit::load(
        &root().join(fx["model"].as_str().unwrap()),
        &LoadOptions::default().with_pipeline(Pipeline::Openai),
    )
    .unwrap();
    let models: Vec<Box<dyn ImageTextScorer + Send + Sync>> = vec![Box::new(model)];
    let dir = root().join(fx["data"].as_str().unwrap());
    let refs_path = dir.join("refs(umd).p");
    let refs = refcoco::read_refs(&refs_path).unwrap();
    let split = fx["split"].as_str().unwrap();
    let loaded = refcoco::load_refs(
        &refs,
        &refs_path,
        &dir.join("instances.json"),
        Some(&dir.join("images")),
        Some(split),
        false,
    )
    .unwrap();
    let (names, variants) = variants_of(&fx);
    let seed = fx["debias"]["seed"].as_u64().unwrap();
    let mut checked = 0;
    let mut worst = 0f32;
    for field in [TextField::Sent, TextField::Raw] {
        let samples = from_data_samples_as(&loaded.samples, &dir.join("images"), field);
        let train = refcoco::split_expressions(&refs, "train", field);
        let want_pool: Vec<String> = fx["debias"][field.as_str()]["train_pool"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(train, want_pool);
        let mut cfg: GroundingConfig = toml::from_str("models = []").unwrap();
        cfg.seed = seed;
        cfg.resolve_defaults(true);
        assert_eq!(cfg.debias_pool.as_deref(), Some("train"));
        assert_eq!(cfg.debias_with_replacement, Some(true));
        let pool = cfg.build_debias_pool(&samples, Some(&train)).unwrap();
        let n = fx["debias"]["n"].as_u64().unwrap() as usize;
        let drawn: Vec<String> = fx["debias"][field.as_str()]["drawn"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(pool.draw(n, seed), drawn, "same draws as the reference");
        let grounder =
            Grounder::with_pool(&models, None, variants.clone(), &samples, &pool, seed).unwrap();
        for r in fx["results"][field.as_str()].as_array().unwrap() {
            let vi = names
                .iter()
                .position(|n| n == r["variant"].as_str().unwrap())
                .unwrap();
            let sample = samples
                .iter()
                .find(|s| s.id == r["sample"].as_str().unwrap())
                .unwrap_or_else(|| panic!("no sample {}", r["sample"]));
            assert_eq!(sample.expression, r["expression"].as_str().unwrap());
            let image = load_rgb(&sample.image).unwrap();
            let row = grounder.ground(vi, sample, &image).unwrap();
            let want: Vec<f32> = r["scores"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect();
            assert_eq!(row.scores.len(), want.len(), "{r}");
            let max_diff = row
                .scores
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            worst = worst.max(max_diff);
            assert!(
                max_diff <= 1e-5,
                "{} {} {:?}: ours {:?} want {want:?} (max diff {max_diff})",
                r["sample"],
                r["variant"],
                field,
                row.scores
            );
            assert_eq!(row.chosen as u64, r["chosen"].as_u64().unwrap(), "{r}");
            checked += 1;
        }
    }
    eprintln!("refcoco grounding parity: {checked} rows, max score diff {worst:.2e}");
    assert_eq!(checked, 7 * 4 + 7);
}
