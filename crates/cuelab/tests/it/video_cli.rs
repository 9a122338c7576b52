//! The video study end to end on the SSv2-format clip fixture of cuelab-data
//! (`tools/reference/video/make_fixtures.py`: tiny clips encoded by ffmpeg, labels,
//! Something-Else boxes): `build-mcq` → `render-clip` → `ask` over the mock server with the
//! clip sent as frames or as one `video_url` → summary. Needs ffmpeg (skipped with a message
//! without it unless `CUELAB_REQUIRE_FFMPEG=1`, as CI sets).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::fixtures::{command, text};

pub(crate) fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cuelab-data/tests/data/ssv2_clips")
}

pub(crate) fn have_ffmpeg() -> bool {
    let ok = std::process::Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CUELAB_REQUIRE_FFMPEG").as_deref() != Ok("1"),
            "ffmpeg is required (CUELAB_REQUIRE_FFMPEG=1) but not found"
        );
        eprintln!("ffmpeg not found: video CLI test skipped (bash tools/ci/install-ffmpeg.sh)");
    }
    ok
}

/// Run cuelab with a private frame cache.
pub(crate) fn run(cache: &Path, args: &[&str]) -> std::process::Output {
    command()
        .args(args)
        .env("CUELAB_FRAME_CACHE", cache)
        .output()
        .unwrap()
}

pub(crate) fn build(dir: &Path) -> PathBuf {
    let q = dir.join("questions.jsonl");
    let o = run(
        &dir.join("cache"),
        &[
            "build-mcq",
            "--ssv2",
            fixture().to_str().unwrap(),
            "--media",
            fixture().join("videos").to_str().unwrap(),
            "--something-else",
            fixture().join("boxes.json").to_str().unwrap(),
            "-o",
            q.to_str().unwrap(),
        ],
    );
    // Two bad records in validation.json are reported: exit 1, questions still written.
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("15 questions (8 object, 7 verb)"), "{t}");
    assert!(t.contains("skipped: video 1098: template"), "{t}");
    assert!(t.contains("skipped: video 1099: missing media"), "{t}");
    q
}

#[test]
fn build_mcq_writes_questions_and_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let q = build(tmp.path());
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&q)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 15);
    let first = &lines[0];
    assert_eq!(first["task"], "video");
    assert!(
        first["video"].as_str().unwrap().ends_with(".webm")
            || first["video"].as_str().unwrap().ends_with(".mp4")
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("questions.report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["skipped"].as_array().unwrap().len(), 2);
    assert_eq!(report["videos_by_split"]["test"], 1);
    // Bad flags are clear errors.
    let o = run(
        tmp.path(),
        &[
            "build-mcq",
            "--ssv2",
            fixture().to_str().unwrap(),
            "--split-ratio",
            "1/8",
            "-o",
            q.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("TEST:TRAIN"), "{}", text(&o));
}

#[test]
fn render_clip_writes_gif_and_mp4() {
    if !have_ffmpeg() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let q = build(tmp.path());
    let cache = tmp.path().join("cache");
    let gif = tmp.path().join("clip.gif");
    let cue = "trajectory(fade=true)+rect(color=red,width=2)+label(text=auto)";
    let o = run(
        &cache,
        &[
            "render-clip",
            "--data",
            q.to_str().unwrap(),
            "--id",
            "ssv2-1005-object1",
            "--cue",
            cue,
            "--frames",
            "frames=6",
            "--side-by-side",
            "-o",
            gif.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let dec = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(
        std::fs::File::open(&gif).unwrap(),
    ))
    .unwrap();
    use image::AnimationDecoder;
    let frames = dec.into_frames().collect_frames().unwrap();
    assert_eq!(frames.len(), 6);
    assert_eq!(frames[0].buffer().width(), 96 * 2 + 4, "plain | cued");
    // The cued half differs from the plain half (the cue is drawn), on every frame.
    for f in &frames {
        let b = f.buffer();
        let differs =
            (0..72u32).any(|y| (0..96u32).any(|x| b.get_pixel(x, y) != b.get_pixel(x + 100, y)));
        assert!(differs);
    }
    let mp4 = tmp.path().join("clip.mp4");
    let o = run(
        &cache,
        &[
            "render-clip",
            "--data",
            q.to_str().unwrap(),
            "--cue",
            cue,
            "-o",
            mp4.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let probe = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames,width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(&mp4)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "96,72,12");
    let o = run(
        &cache,
        &[
            "render-clip",
            "--data",
            q.to_str().unwrap(),
            "-o",
            tmp.path().join("x.avi").to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains(".gif or an .mp4"), "{}", text(&o));
}

#[test]
fn questions_about_cued_clips_over_a_served_model_as_frames_or_video() {
    if !have_ffmpeg() {
        return;
    }
    let server = cuelab_vlm::mock::MockServer::start().unwrap();
    let seen: Arc<Mutex<Vec<(usize, usize)>>> = Arc::default();
    let log = seen.clone();
    server.set_pick(Arc::new(move |r: &cuelab_vlm::mock::MockRequest| {
        log.lock().unwrap().push((r.images, r.videos));
        cuelab_vlm::mock::default_pick(r)
    }));
    let tmp = tempfile::tempdir().unwrap();
    let q = build(tmp.path());
    let cache = tmp.path().join("cache");
    let url = server.url();
    let ask = |out: &Path, frames: &str, input: &str| {
        run(
            &cache,
            &[
                "ask",
                "--data",
                q.to_str().unwrap(),
                "--endpoint",
                url.as_str(),
                "--model",
                "mock-vlm",
                "--cue",
                "plain",
                "--cue",
                "trajectory(fade=true)+rect(color=red,width=2)",
                "--frames",
                frames,
                "--video-input",
                input,
                "--out",
                out.to_str().unwrap(),
            ],
        )
    };
    let frames_run = tmp.path().join("frames");
    let o = ask(&frames_run, "frames=4", "frames");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    {
        let s = seen.lock().unwrap();
        assert_eq!(s.len(), 30, "15 questions x 2 variants");
        assert!(s.iter().all(|&(i, v)| i == 4 && v == 0), "{s:?}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(frames_run.join("summary.json")).unwrap())
            .unwrap();
    let text_summary = std::fs::read_to_string(frames_run.join("summary.txt")).unwrap();
    assert!(
        text_summary.contains("object") && text_summary.contains("verb"),
        "{text_summary}"
    );
    assert!(summary.to_string().contains("trajectory"), "{summary}");
    let manifest = std::fs::read_to_string(frames_run.join("manifest.json")).unwrap();
    assert!(
        manifest.contains("frames=4"),
        "the sampling is part of the run's record"
    );
    // Another sampling in the same run directory is refused (it is part of the identity).
    let o = ask(&frames_run, "frames=6", "frames");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("another configuration"), "{}", text(&o));
    // The same questions sent as one video each.
    seen.lock().unwrap().clear();
    let video_run = tmp.path().join("video");
    let o = ask(&video_run, "frames=4", "video_url");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s = seen.lock().unwrap();
    assert_eq!(s.len(), 30);
    assert!(s.iter().all(|&(i, v)| i == 0 && v == 1), "{s:?}");
}

#[test]
fn export_sft_matches_the_outputs_checked_with_datasets() {
    if !have_ffmpeg() {
        return;
    }
    // Expected outputs and the input: tools/reference/video/check_sft.py, which loads each
    // format with the `datasets` library and checks tags, media and answers.
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sft");
    let tmp = tempfile::tempdir().unwrap();
    for (format, files) in [
        (
            "llamafactory",
            &["data.json", "dataset_info.json", "index.jsonl"][..],
        ),
        ("swift", &["data.jsonl", "index.jsonl"][..]),
        ("messages", &["data.jsonl", "index.jsonl"][..]),
    ] {
        let out = tmp.path().join(format);
        let o = run(
            &tmp.path().join("cache"),
            &[
                "export-sft",
                "--data",
                data.join("input.jsonl").to_str().unwrap(),
                "--cue",
                "plain",
                "--cue",
                "trajectory(fade=true)+rect(color=red,width=2)",
                "--frames",
                "frames=4",
                "--format",
                format,
                "-o",
                out.to_str().unwrap(),
            ],
        );
        // The caption sample without text is reported and skipped.
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(text(&o).contains("skipped: img-nocaption"), "{}", text(&o));
        assert!(text(&o).contains("8 rows"), "{}", text(&o));
        for f in files {
            let got = std::fs::read_to_string(out.join(f)).unwrap();
            let want = std::fs::read_to_string(data.join(format).join(f)).unwrap();
            assert_eq!(got, want, "{format}/{f}");
        }
        // Every listed media file was written: 2 clips and 1 image per variant (+ count, caption).
        let index = std::fs::read_to_string(out.join("index.jsonl")).unwrap();
        assert_eq!(index.lines().count(), 8);
        assert!(out.join("media/plain/ssv2-1005-object1.mp4").is_file());
        assert!(out.join("media/plain/img-caption.png").is_file());
    }
    let o = run(
        tmp.path(),
        &[
            "export-sft",
            "--data",
            data.join("input.jsonl").to_str().unwrap(),
            "--format",
            "axolotl",
            "-o",
            tmp.path().join("x").to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("llamafactory, swift or messages"),
        "{}",
        text(&o)
    );
}

#[test]
fn clip_surprisal_per_question_type_with_the_tiny_qwen3_vl() {
    if !have_ffmpeg() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let q = build(tmp.path());
    let model = crate::fixtures::models_data().join("qwen3-vl-tiny");
    let json = tmp.path().join("s.json");
    let o = run(
        &tmp.path().join("cache"),
        &[
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
            "frames=2",
            "--limit",
            "4",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 8, "4 questions x 2 variants");
    for r in rows {
        let b = r["bits_per_token"].as_f64().unwrap();
        assert!(b.is_finite() && b > 0.0, "{r}");
    }
    // plain and cued differ (the cue changes the pixels the model sees)
    assert_ne!(rows[0]["bits"], rows[1]["bits"]);
    let cells = doc["summary"].as_array().unwrap();
    assert!(
        cells.iter().any(|c| c["qtype"] == "all" && c["n"] == 4),
        "{cells:?}"
    );
}
