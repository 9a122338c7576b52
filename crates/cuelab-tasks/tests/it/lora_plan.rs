#![allow(clippy::unwrap_used)]
//! `lora-plan` on the tiny Qwen3-VL: trainable parameters equal PEFT's count
//! (`get_nb_trainable_parameters`) for every committed config (targets, rank, with and without
//! the vision blocks); the plan picks the smallest rank that fits; bad input is refused.

use std::path::{Path, PathBuf};

use cuelab_models::qwen3_vl::lora_shapes::{lora_targets, trainable_params, Projection};
use cuelab_tasks::probe::lora_plan::{information_from_run, plan, LoraPlanConfig};
use serde_json::Value;

fn model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cuelab-models/tests/data/qwen3-vl-tiny")
}

#[test]
fn parameter_counts_equal_peft() {
    let cases: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/probe/lora_params.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 9);
    for c in cases {
        let targets: Vec<Projection> = c["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| Projection::parse(t.as_str().unwrap()).unwrap())
            .collect();
        let vision = c["vision"].as_bool().unwrap();
        let rank = c["rank"].as_u64().unwrap() as usize;
        let matrices = lora_targets(&model_dir(), &targets, vision).unwrap();
        assert_eq!(
            trainable_params(&matrices, rank),
            c["trainable"].as_u64().unwrap(),
            "{c}"
        );
    }
}

#[test]
fn the_plan_picks_the_smallest_rank_that_fits() {
    let config = LoraPlanConfig {
        ranks: vec![8, 1, 4, 2],
        ..LoraPlanConfig::default()
    };
    // rank 1 trains 3,648 parameters (PEFT's count): 7,296 bits at 2 bits/param
    let p = plan(&model_dir(), &config, 3000.0, "test").unwrap();
    let ranks: Vec<usize> = p.ranks.iter().map(|r| r.rank).collect();
    assert_eq!(ranks, [1, 2, 4, 8]);
    assert_eq!(p.ranks[0].params, 3648);
    assert_eq!(p.ranks[0].capacity_bits, 7296.0);
    assert_eq!(p.required_bits, 6000.0);
    assert_eq!(p.chosen_rank, Some(1));
    assert_eq!((p.text_matrices, p.vision_matrices), (21, 0));
    let p = plan(&model_dir(), &config, 3700.0, "test").unwrap();
    assert_eq!(p.chosen_rank, Some(2));
    let p = plan(&model_dir(), &config, 1e9, "test").unwrap();
    assert_eq!(p.chosen_rank, None);
    let looser = LoraPlanConfig {
        margin: 1.0,
        bits_per_param: 4.0,
        vision: true,
        ..config.clone()
    };
    let p = plan(&model_dir(), &looser, 3000.0, "test").unwrap();
    assert_eq!(p.vision_matrices, 16);
    assert!(p.ranks[0].vision_params > 0);
    assert_eq!(p.chosen_rank, Some(1));
}

#[test]
fn bad_input_is_refused() {
    let config = LoraPlanConfig::default();
    let tmp = tempfile::tempdir().unwrap();
    assert!(plan(tmp.path(), &config, 10.0, "t").is_err());
    assert!(plan(&model_dir(), &config, f64::NAN, "t").is_err());
    let zero = LoraPlanConfig {
        ranks: vec![0],
        ..config.clone()
    };
    assert!(plan(&model_dir(), &zero, 10.0, "t").is_err());
    let e = information_from_run(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("no summary.json"), "{e}");
    std::fs::write(tmp.path().join("summary.json"), "{\"variants\": []}").unwrap();
    let e = information_from_run(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("not the summary of a surprisal run"), "{e}");
    assert!(Projection::parse("qkv").is_err());
}
