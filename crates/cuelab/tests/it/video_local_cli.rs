//! `build-mcq` → `ask --local` with the tiny in-process Qwen3-VL on the SSv2-format clip
//! fixture, each clip given to the model as one video (`--video-input video`: the model's video
//! processor, temporal patches of 2 frames, `<t seconds>` timestamps, video rotary positions)
//! and, for comparison, as separate images. Needs ffmpeg (see `video_cli`).

#![allow(clippy::unwrap_used)]

use std::path::Path;

use crate::fixtures::{models_data, text};
use crate::video_cli::{build, have_ffmpeg, run};

fn rows(run_dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run_dir.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn questions_about_cued_clips_with_the_in_process_model_as_video() {
    if !have_ffmpeg() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let q = build(tmp.path());
    let cache = tmp.path().join("cache");
    let model = models_data().join("qwen3-vl-tiny");
    let ask = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "ask",
            "--data",
            q.to_str().unwrap(),
            "--local",
            model.to_str().unwrap(),
            "--cue",
            "plain",
            "--cue",
            "trajectory(fade=true)+rect(color=red,width=2)",
            "--frames",
            "frames=4",
            "--limit",
            "3",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run(&cache, &args)
    };
    let video_run = tmp.path().join("video");
    let o = ask(&video_run, &["--video-input", "video", "--video-fps", "4"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let video = rows(&video_run);
    assert_eq!(video.len(), 6, "3 questions x 2 variants");
    for r in &video {
        let lp = r["option_logprobs"].as_array().unwrap();
        assert!(lp.iter().all(|x| x.as_f64().unwrap().is_finite()), "{r}");
    }
    let manifest = std::fs::read_to_string(video_run.join("manifest.json")).unwrap();
    assert!(
        manifest.contains("\"video_input\"") && manifest.contains("\"video_fps\""),
        "the video input is part of the run's identity: {manifest}"
    );
    let summary = std::fs::read_to_string(video_run.join("summary.txt")).unwrap();
    assert!(summary.contains("trajectory"), "{summary}");
    // Resuming runs nothing; the same directory with frames as images is another configuration.
    let o = ask(&video_run, &["--video-input", "video", "--video-fps", "4"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(rows(&video_run).len(), 6);
    let o = ask(&video_run, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("another configuration"), "{}", text(&o));
    // The same questions with the frames as separate images score differently.
    let images_run = tmp.path().join("images");
    let o = ask(&images_run, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let images = rows(&images_run);
    assert_eq!(images.len(), 6);
    assert_ne!(
        video[0]["option_logprobs"], images[0]["option_logprobs"],
        "video input and separate images must differ"
    );
    let manifest = std::fs::read_to_string(images_run.join("manifest.json")).unwrap();
    assert!(!manifest.contains("\"video_input\""), "{manifest}");
}

#[test]
fn clip_surprisal_with_the_clip_as_one_video() {
    if !have_ffmpeg() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let q = build(tmp.path());
    let cache = tmp.path().join("cache");
    let model = models_data().join("qwen3-vl-tiny");
    let surprisal = |json: &Path, extra: &[&str]| {
        let mut args = vec![
            "clip-surprisal",
            "--data",
            q.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--cue",
            "plain",
            "--cue",
            "trajectory(fade=true)+rect(color=red,width=2)",
            "--frames",
            "frames=4",
            "--limit",
            "2",
            "--json",
            json.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = run(&cache, &args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
        doc
    };
    let video = surprisal(&tmp.path().join("v.json"), &["--video-input", "video"]);
    assert_eq!(video["video_fps"], 2.0);
    let rows = video["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "2 questions x 2 variants");
    assert!(rows
        .iter()
        .all(|r| r["bits_per_token"].as_f64().unwrap().is_finite()));
    let images = surprisal(&tmp.path().join("i.json"), &[]);
    assert!(images["video_fps"].is_null());
    assert_ne!(rows[0]["bits"], images["rows"][0]["bits"]);
    let o = run(
        &cache,
        &[
            "clip-surprisal",
            "--data",
            q.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--video-input",
            "video",
            "--video-fps",
            "0",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--video-fps"), "{}", text(&o));
}
