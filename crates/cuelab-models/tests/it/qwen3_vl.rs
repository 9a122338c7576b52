#![allow(clippy::unwrap_used)]
//! Qwen3-VL parity against transformers 5.23 on the tiny random-weight fixture made by
//! `tools/reference/models/make_qwen3_vl_fixture.py`.
//!
//! Tolerances: logits max abs diff <= 1e-3 (the bound; f32 end to end, differences come
//! from summation order in GEMMs and from `powf`/`cos` ulps in the rotary tables), log-probs and
//! option scores <= 1e-3, attention probabilities <= 1e-4, preprocessing exact (<= 1e-6, the
//! resize is bit-exact and normalisation is the same f32 expression), greedy tokens identical.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use cuelab_models::qwen3_vl::image::ProcessedImage;
use cuelab_models::qwen3_vl::ops::{bits, image_attention_map};
use cuelab_models::qwen3_vl::prompt::chat_prompt;
use cuelab_models::qwen3_vl::{GenerateOptions, Qwen3Vl};
use cuelab_models::weights::Weights;
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/qwen3-vl-tiny")
}

fn expected() -> (Value, Weights) {
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("expected.json")).unwrap())
            .unwrap();
    let w = Weights::load(&dir().join("expected.safetensors"), &Device::Cpu).unwrap();
    (meta, w)
}

fn max_abs(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn model() -> Qwen3Vl {
    Qwen3Vl::load(&dir(), &cuelab_models::LoadOptions::default()).unwrap()
}

#[test]
fn preprocessing_matches_processor() {
    let m = model();
    let (meta, w) = expected();
    let case = &meta["cases"][0];
    let img = cuelab_models::load_image(&dir().join(case["image"].as_str().unwrap())).unwrap();
    let p = m.processor().process(&img).unwrap();
    let grid: Vec<usize> = ids(&case["grid_thw"]).iter().map(|&x| x as usize).collect();
    assert_eq!(p.grid_thw.to_vec(), grid);
    let want = w.get("case0.pixel_values", DType::F32).unwrap();
    let got = Tensor::from_vec(p.pixels.clone(), want.dims(), &Device::Cpu).unwrap();
    let d = max_abs(&got, &want);
    println!("pixel values max abs diff {d:e}");
    assert!(d <= 1e-6, "pixel values differ by {d}");
}

#[test]
fn prompt_ids_match_chat_template() {
    let m = model();
    let (meta, _) = expected();
    for case in meta["cases"].as_array().unwrap() {
        let text = chat_prompt(None, 1, case["prompt"].as_str().unwrap());
        assert_eq!(text, case["text"].as_str().unwrap());
        let img = cuelab_models::load_image(&dir().join(case["image"].as_str().unwrap())).unwrap();
        let p = m
            .prepare_chat(&[img], case["prompt"].as_str().unwrap())
            .unwrap();
        assert_eq!(p.ids, ids(&case["input_ids"]));
    }
}

#[test]
fn logits_attention_and_greedy_match_transformers() {
    let m = model();
    let (meta, w) = expected();
    let layer = meta["attention_layer"].as_u64().unwrap() as usize;
    for (ci, case) in meta["cases"].as_array().unwrap().iter().enumerate() {
        let img = cuelab_models::load_image(&dir().join(case["image"].as_str().unwrap())).unwrap();
        let p = m
            .prepare_chat(&[img], case["prompt"].as_str().unwrap())
            .unwrap();
        // model alone, from the reference's own pixel values (case 0 carries them)
        if let Ok(px) = w.get(&format!("case{ci}.pixel_values"), DType::F32) {
            let grid = ids(&case["grid_thw"]);
            let pi = ProcessedImage {
                pixels: px.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                grid_thw: [grid[0] as usize, grid[1] as usize, grid[2] as usize],
                resized: (0, 0),
            };
            let text = chat_prompt(None, 1, case["prompt"].as_str().unwrap());
            let p2 = m.prepare_processed(vec![pi], &text).unwrap();
            let (logits, _, _) = m.prefill(&p2, &[]).unwrap();
            let d = max_abs(
                &logits,
                &w.get(&format!("case{ci}.logits"), DType::F32).unwrap(),
            );
            println!("case {ci}: logits from reference pixels, max abs diff {d:e}");
            assert!(d <= 1e-3, "logits differ by {d}");
        }
        // full path from the image file
        let (logits, _, att) = m.prefill(&p, &[layer]).unwrap();
        let want = w.get(&format!("case{ci}.logits"), DType::F32).unwrap();
        let d = max_abs(&logits, &want);
        let scale = want
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        println!("case {ci}: logits max abs diff {d:e} (max |logit| {scale})");
        assert!(d <= 1e-3, "logits differ by {d}");
        assert_eq!(att.len(), 1);
        let wa = w.get(&format!("case{ci}.attention"), DType::F32).unwrap();
        let da = max_abs(&att[0].1, &wa);
        println!("case {ci}: layer {layer} attention max abs diff {da:e}");
        assert!(da <= 1e-4, "attention differs by {da}");
        // attention map from the last prompt token onto the merged grid sums to the image's share
        let span = p.spans[0];
        let map =
            image_attention_map(&att, &[layer], None, p.ids.len() - 1..p.ids.len(), &span).unwrap();
        assert_eq!(map.len(), span.grid.0 * span.grid.1);
        assert!(map.iter().all(|&x| (0.0..=1.0).contains(&x)));
        // greedy continuation
        let g = m
            .generate(
                &p,
                &GenerateOptions {
                    max_new_tokens: 10,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(g.tokens, ids(&case["greedy"]), "case {ci} greedy tokens");
    }
}

#[test]
fn answer_logprobs_and_choice_scores_match() {
    let m = model();
    let (meta, _) = expected();
    for (ci, case) in meta["cases"].as_array().unwrap().iter().enumerate() {
        let img = cuelab_models::load_image(&dir().join(case["image"].as_str().unwrap())).unwrap();
        let p = m
            .prepare_chat(&[img], case["prompt"].as_str().unwrap())
            .unwrap();
        let ans = m.encode(case["answer"].as_str().unwrap()).unwrap();
        assert_eq!(ans, ids(&case["answer_ids"]));
        let lp = m.continuation_logprobs(&p, &ans).unwrap();
        let want: Vec<f64> = case["answer_logprobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(lp.len(), want.len(), "one log-probability per answer token");
        let d = lp
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        println!(
            "case {ci}: answer log-prob max abs diff {d:e}; bits/token {:.3}",
            bits(&lp).iter().sum::<f64>() / lp.len() as f64
        );
        assert_eq!(lp.len(), want.len());
        assert!(d <= 1e-3, "answer log-probs differ by {d}");
        let choices: Vec<String> = case["choices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect();
        let scores = m.score_choices(&p, &choices).unwrap();
        let want: Vec<f64> = case["choice_logprob_sums"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(scores.len(), want.len(), "one score per choice");
        for (s, w) in scores.iter().zip(&want) {
            assert!(
                (s.sum_logprob - w).abs() <= 1e-3,
                "{}: {} vs {w}",
                s.choice,
                s.sum_logprob
            );
        }
    }
}

#[test]
fn bad_inputs_are_clear_errors() {
    let m = model();
    let img = cuelab_models::load_image(&dir().join("images/dog.png")).unwrap();
    // placeholder count mismatch
    let e = m
        .prepare_processed(vec![], &chat_prompt(None, 1, "hi"))
        .unwrap_err();
    assert!(e.to_string().contains("placeholders"), "{e}");
    // context overflow
    let long = "dog ".repeat(3000);
    let e = m
        .prepare_chat(std::slice::from_ref(&img), &long)
        .unwrap_err();
    assert!(e.to_string().contains("context"), "{e}");
    // extreme aspect ratio
    let thin = image::RgbImage::new(1, 400);
    let e = m.prepare_chat(&[thin], "x").unwrap_err();
    assert!(e.to_string().contains("aspect ratio"), "{e}");
    // missing chat template
    let tmp = tempfile::tempdir().unwrap();
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "processor_config.json",
    ] {
        std::fs::copy(dir().join(f), tmp.path().join(f)).unwrap();
    }
    let e = Qwen3Vl::load(tmp.path(), &cuelab_models::LoadOptions::default()).unwrap_err();
    assert!(e.to_string().contains("missing chat template"), "{e}");
}

/// Qwen3-VL takes the same `LoadOptions` as every family; it computes in f32 only and says so.
#[test]
fn load_options_other_than_f32_are_refused() {
    let opts = cuelab_models::LoadOptions::default().with_dtype(cuelab_models::ModelDtype::Bf16);
    let e = Qwen3Vl::load(&dir(), &opts).unwrap_err();
    assert!(e.to_string().contains("f32 only, not bf16"), "{e}");
}

#[test]
fn lora_merge_matches_peft_merged_model() {
    let lora_dir = dir().parent().unwrap().join("qwen3-vl-tiny-lora");
    let base = model();
    let m = Qwen3Vl::load_with_adapter(
        &dir(),
        Some(&lora_dir),
        &cuelab_models::LoadOptions::default(),
    )
    .unwrap();
    assert_ne!(base.id(), m.id(), "the merged model must have its own id");
    let (meta, _) = expected();
    let case = &meta["cases"][0];
    let img = cuelab_models::load_image(&dir().join(case["image"].as_str().unwrap())).unwrap();
    let p = m
        .prepare_chat(&[img], case["prompt"].as_str().unwrap())
        .unwrap();
    let (logits, _, _) = m.prefill(&p, &[]).unwrap();
    let want = Weights::load(&lora_dir.join("expected.safetensors"), &Device::Cpu)
        .unwrap()
        .get("case0.logits", DType::F32)
        .unwrap();
    let d = max_abs(&logits, &want);
    let (base_logits, _, _) = base.prefill(&p, &[]).unwrap();
    let moved = max_abs(&base_logits, &want);
    println!("LoRA merged logits max abs diff {d:e} (base vs merged reference: {moved:e})");
    assert!(
        moved > 1e-2,
        "the adapter must change the logits for this test to mean anything"
    );
    assert!(d <= 1e-3, "merged logits differ by {d}");

    // an adapter whose shapes do not fit (rank-4 A over 32 inputs instead of 64) is refused
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(
        lora_dir.join("adapter_config.json"),
        tmp.path().join("adapter_config.json"),
    )
    .unwrap();
    let mut t = std::collections::HashMap::new();
    let pre = "base_model.model.model.language_model.layers.0.self_attn.q_proj";
    t.insert(
        format!("{pre}.lora_A.weight"),
        Tensor::zeros((4, 32), DType::F32, &Device::Cpu).unwrap(),
    );
    t.insert(
        format!("{pre}.lora_B.weight"),
        Tensor::zeros((128, 4), DType::F32, &Device::Cpu).unwrap(),
    );
    candle_core::safetensors::save(&t, tmp.path().join("adapter_model.safetensors")).unwrap();
    let e = Qwen3Vl::load_with_adapter(
        &dir(),
        Some(tmp.path()),
        &cuelab_models::LoadOptions::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("different base"), "{e}");
}

#[test]
fn heatmap_overlay_draws_the_map() {
    let img = image::RgbImage::from_pixel(40, 20, image::Rgb([128, 128, 128]));
    // hot top-left cell, cold elsewhere
    let map = vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    let out = cuelab_models::qwen3_vl::heatmap::overlay(&img, &map, (2, 3), 0.5).unwrap();
    let hot = out.get_pixel(2, 2).0;
    let cold = out.get_pixel(37, 17).0;
    assert!(
        hot[0] > hot[2] && cold[2] > cold[0],
        "hot {hot:?} cold {cold:?}"
    );
    assert!(cuelab_models::qwen3_vl::heatmap::overlay(&img, &map, (2, 2), 0.5).is_err());
}
