#![allow(clippy::unwrap_used)]
//! The in-process answerer with video input (`ask --local ... --video-input video`) against
//! transformers: case 0 of the Qwen3-VL video fixture
//! (`tools/reference/models/make_qwen3_vl_video_fixture.py`) is a 5-frame JPEG clip at 2 fps
//! asked with the answerer's own prompt (`{question}\nOptions: ...`), and its option
//! log-likelihood sums come from transformers' processor and model. Tolerance 1e-3, the
//! image path's bound for option scores (f32 end to end).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cuelab_models::qwen3_vl::Qwen3Vl;
use cuelab_models::LoadOptions;
use cuelab_tasks::vqa::LocalVlmAnswerer;
use cuelab_vlm::{Answer, Answerer, Question};

fn tiny() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cuelab-models/tests/data/qwen3-vl-tiny")
}

fn answer(a: &LocalVlmAnswerer<'_>, q: Question) -> Answer {
    let mut got = None;
    a.answer_all(std::slice::from_ref(&q), &mut |_, r| got = Some(r))
        .unwrap();
    got.unwrap().unwrap()
}

#[test]
fn clip_as_one_video_matches_transformers_option_scores() {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tiny().join("video/expected.json")).unwrap())
            .unwrap();
    let case = &meta["cases"][0];
    let folder = tiny().join(case["clip"].as_str().unwrap());
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let frames: Vec<Arc<image::RgbImage>> = paths
        .iter()
        .map(|p| Arc::new(cuelab_models::load_image(p).unwrap()))
        .collect();
    let choices: Vec<String> = case["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let question = Question {
        id: "clip".into(),
        system: None,
        text: "What moves in the video?".into(),
        images: frames,
        choices: choices.clone(),
    };
    let model = Qwen3Vl::load(&tiny(), &LoadOptions::default()).unwrap();
    let video = LocalVlmAnswerer::new(&model, 4).with_video(Some(case["fps"].as_f64().unwrap()));
    let got = answer(&video, question.clone());
    let scores = got.option_logprobs.unwrap();
    let want: Vec<f64> = case["choice_logprob_sums"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let d = scores
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    println!("option log-likelihood sums {scores:?} vs transformers {want:?}: max abs diff {d:e}");
    assert_eq!(scores.len(), want.len());
    assert!(d <= 1e-3, "option scores differ by {d}");
    let best = want
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i);
    assert_eq!(got.choice, best);
    // The identity says the clip went in as a video; frames as images answer differently.
    let id = video.identity();
    assert_eq!(id["video_input"], "video");
    assert_eq!(id["video_processor"]["min_frames"], 4);
    let images = LocalVlmAnswerer::new(&model, 4);
    assert!(images.identity().get("video_input").is_none());
    let as_images = answer(&images, question.clone()).option_logprobs.unwrap();
    assert_eq!(as_images.len(), scores.len());
    assert!(
        as_images
            .iter()
            .zip(&scores)
            .any(|(a, b)| (a - b).abs() > 1e-3),
        "{as_images:?} vs {scores:?}"
    );
    // One frame is not a clip: it goes in as an image, as with a served model.
    let single = Question {
        images: question.images[..1].to_vec(),
        ..question
    };
    let one = answer(&video, single.clone()).option_logprobs.unwrap();
    assert_eq!(one, answer(&images, single).option_logprobs.unwrap());
}
