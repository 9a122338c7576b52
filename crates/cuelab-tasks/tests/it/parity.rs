//! Parity with the reference fixtures of `tools/reference/tasks/make_fixtures.py`:
//! torchvision `box_iou`, and seed 004's grounding scoring re-implemented with transformers +
//! Pillow on the tiny random-weight CLIP.
//!
//! Tolerances: IoU bit-identical (same f32 operations). Grounding: cropping, blur and grayscale
//! are pixel-exact, so recipes without an outline must match the reference scores within 1e-4;
//! the red ellipse is rasterised differently from Pillow (IoU of drawn pixels 0.92-0.98, see
//! cuelab-cue), which moves scores of this random-weight model by up to 6e-3 (measured), so
//! recipes with the ellipse are held to 1e-2 and to choosing the same box. Measured without the
//! ellipse: max score diff 3.3e-7.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use cuelab_cue::{load_rgb, BoxXyxy};
use cuelab_models::clip_vit::ClipVit;
use cuelab_models::{Device, ImageTextScorer, Pipeline};
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
        Some(Pipeline::Openai),
        &Device::Cpu,
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
        let tol = if r["variant"].as_str().unwrap().starts_with("seed") {
            1e-2
        } else {
            1e-4
        };
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
