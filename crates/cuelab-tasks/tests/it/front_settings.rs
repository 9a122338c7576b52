//! The settings front ends hand to the library (what `cuelab ask/mmvp/ground/caption/vlm`
//! and the Python package share): precedence of values over configuration files, the errors
//! they give, and reading questions with their data description.

use std::path::Path;

use cuelab_tasks::caption::CaptionOverrides;
use cuelab_tasks::caption_eval::{csv_field, evaluate_files, CaptionEvalSettings, EvalStep};
use cuelab_tasks::grounding::GroundingOverrides;
use cuelab_tasks::vlm_ask::parse_layers;
use cuelab_tasks::vqa::{read_questions, Backend, BackendSettings, QuestionSource, VqaOverrides};

fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(&format!(" | {c}"));
        cause = c.source();
    }
    text
}

#[test]
fn layers_parse_or_name_the_flag() {
    assert_eq!(parse_layers("all", 3).unwrap(), vec![0, 1, 2]);
    assert_eq!(parse_layers("1..3", 4).unwrap(), vec![1, 2]);
    assert_eq!(parse_layers(" 2 ", 4).unwrap(), vec![2]);
    let e = parse_layers("1..x", 4).unwrap_err();
    assert!(
        chain(&e).starts_with("--layers `1..x` | invalid digit"),
        "{}",
        chain(&e)
    );
    let e = parse_layers("4", 4).unwrap_err();
    assert_eq!(e.to_string(), "--layers `4`: the model has layers 0..4");
    assert!(
        parse_layers("2..2", 4).is_err(),
        "an empty range is refused"
    );
}

#[test]
fn remote_backend_flags_override_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("backend.toml");
    std::fs::write(
        &file,
        "endpoints = [\"http://a/v1\"]\nmodel = \"m-file\"\nconcurrency = 3\nretries = 7\n",
    )
    .unwrap();
    let settings = BackendSettings {
        backend_config: Some(file.clone()),
        concurrency: Some(5),
        temperature: Some(0.5),
        ..BackendSettings::default()
    };
    let cfg = settings.remote_config().unwrap();
    assert_eq!(cfg.endpoints, vec!["http://a/v1".to_string()]);
    assert_eq!(cfg.model, "m-file");
    assert_eq!(cfg.concurrency, 5, "the flag wins over the file");
    assert_eq!(cfg.retries, 7, "the file wins over the default");
    assert_eq!(cfg.generation.temperature, Some(0.5));
    // a remote backend caches its responses in the run directory unless told not to
    let run = tmp.path().join("run");
    match settings.backend(&run).unwrap() {
        Backend::Remote(c) => assert_eq!(c.cache_path, Some(run.join("responses.sqlite"))),
        other => panic!("expected a remote backend, got {other:?}"),
    }
    // CLIP comes first, whatever else is given
    let clip = BackendSettings {
        clip: Some("some/clip".into()),
        endpoints: vec!["http://b/v1".into()],
        ..BackendSettings::default()
    };
    assert!(matches!(clip.backend(&run).unwrap(), Backend::Clip { .. }));
}

#[test]
fn remote_backend_errors_say_what_to_give() {
    let tmp = tempfile::tempdir().unwrap();
    let e = BackendSettings::default().remote_config().unwrap_err();
    assert!(e.to_string().starts_with("give --endpoint URL"), "{e}");
    let e = BackendSettings {
        endpoints: vec!["http://a/v1".into()],
        ..BackendSettings::default()
    }
    .remote_config()
    .unwrap_err();
    assert!(e.to_string().starts_with("--model is required"), "{e}");
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "endpoints = 3").unwrap();
    let e = BackendSettings {
        backend_config: Some(bad.clone()),
        ..BackendSettings::default()
    }
    .remote_config()
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}: not a remote backend configuration", bad.display())
    );
    let e = BackendSettings {
        local: Some("qwen".into()),
        video_fps: Some(0.0),
        ..BackendSettings::default()
    }
    .backend(tmp.path())
    .unwrap_err();
    assert_eq!(e.to_string(), "--video-fps must be a positive number");
}

#[test]
fn question_overrides_replace_only_what_is_given() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("exp.toml");
    std::fs::write(
        &file,
        "cues = [\"plain\", \"rect(color=red,width=2)\"]\nseed = 9\n",
    )
    .unwrap();
    let cfg = VqaOverrides {
        config_file: Some(file.clone()),
        limit: Some(4),
        ..VqaOverrides::default()
    }
    .config()
    .unwrap();
    assert_eq!(cfg.cues.len(), 2);
    assert_eq!(cfg.seed, 9);
    assert_eq!(cfg.limit, Some(4));
    let bad = VqaOverrides {
        cues: vec!["nosuchcue(x=1)".into()],
        ..VqaOverrides::default()
    };
    assert!(bad.config().is_err(), "cue variants are checked");
}

#[test]
fn grounding_overrides_fill_the_default_model_and_check_the_prior() {
    let cfg = GroundingOverrides {
        seed: Some(3),
        ..GroundingOverrides::default()
    }
    .config()
    .unwrap();
    assert_eq!(
        cfg.models,
        vec![cuelab_tasks::grounding::DEFAULT_MODEL.to_string()]
    );
    assert_eq!(cfg.seed, 3);
    let e = GroundingOverrides {
        class_prior: Some(-1.0),
        ..GroundingOverrides::default()
    }
    .config()
    .unwrap_err();
    assert_eq!(e.to_string(), "--class-prior -1: expected a weight >= 0");
}

#[test]
fn caption_prompts_file_and_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let prompts = tmp.path().join("prompts.txt");
    std::fs::write(
        &prompts,
        "# a comment\n\n  Describe the image.  \nWhat is shown?\n",
    )
    .unwrap();
    let cfg = CaptionOverrides {
        prompts_file: Some(prompts),
        attention: Some(2),
        attention_layers: "1..3".into(),
        ..CaptionOverrides::default()
    }
    .config()
    .unwrap();
    assert_eq!(cfg.prompts, vec!["Describe the image.", "What is shown?"]);
    assert_eq!(cfg.attention.unwrap().layers, vec![1, 2]);
    let e = CaptionOverrides {
        prompts_file: Some(tmp.path().join("missing.txt")),
        ..CaptionOverrides::default()
    }
    .config()
    .unwrap_err();
    assert!(e.to_string().starts_with("reading "), "{e}");
}

#[test]
fn questions_are_read_filtered_and_described() {
    let tmp = tempfile::tempdir().unwrap();
    let scenes = tmp.path().join("scenes");
    cuelab_data::scenes::export::write(&cuelab_data::scenes::Config::new(0, 3), &scenes).unwrap();
    let data = scenes.join("samples.jsonl");
    let source = QuestionSource {
        data: data.clone(),
        tasks: vec!["multiple_choice".into()],
        ..QuestionSource::default()
    };
    let q = read_questions(&source).unwrap();
    assert!(!q.items.is_empty());
    assert!(q.malformed.is_empty());
    assert_eq!(q.description["file"], data.display().to_string());
    assert_eq!(
        q.description["tasks"],
        serde_json::json!(["multiple_choice"])
    );
    assert_eq!(q.description["frames"], serde_json::Value::Null);
    // a question type nobody has: nothing to ask, and no error (the front end says so)
    let none = read_questions(&QuestionSource {
        qtypes: vec!["no-such-type".into()],
        ..source.clone()
    })
    .unwrap();
    assert!(none.items.is_empty());
    let e = read_questions(&QuestionSource {
        data: tmp.path().join("missing.jsonl"),
        ..QuestionSource::default()
    })
    .unwrap_err();
    assert!(e.to_string().starts_with("reading "), "{e}");
}

#[test]
fn caption_eval_writes_its_files_and_quotes_csv() {
    assert_eq!(csv_field("a,b"), "\"a,b\"");
    assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
    assert_eq!(csv_field("plain"), "plain");
    let tmp = tempfile::tempdir().unwrap();
    let refs = tmp.path().join("refs.json");
    let cands = tmp.path().join("cands.json");
    std::fs::write(
        &refs,
        r#"{"1": ["a dog on the grass", "a brown dog"], "2": ["two cats"], "3": ["a red car"]}"#,
    )
    .unwrap();
    std::fs::write(&cands, r#"{"1": "a dog on grass", "2": "a cat"}"#).unwrap();
    let out = tmp.path().join("out");
    let mut steps = Vec::new();
    let outcome = evaluate_files(
        &CaptionEvalSettings {
            refs,
            cands,
            out: Some(out.clone()),
            ..CaptionEvalSettings::default()
        },
        &mut |s| {
            steps.push(match s {
                EvalStep::Scores { .. } => "scores",
                EvalStep::Clip { .. } => "clip",
                EvalStep::Wrote(_) => "wrote",
            })
        },
    )
    .unwrap();
    assert_eq!(steps, vec!["scores", "wrote"]);
    assert_eq!(outcome.scores.per_image.len(), 2);
    assert_eq!(outcome.skipped.len(), 1, "image 3 has no candidate");
    let csv = std::fs::read_to_string(out.join("per_image.csv")).unwrap();
    assert!(csv.starts_with("image_id,cider_d,bleu_1,bleu_2,bleu_3,bleu_4,rouge_l\n"));
    assert_eq!(csv.lines().count(), 3);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["images"], 2);
    assert_eq!(summary["skipped"].as_array().unwrap().len(), 1);
    assert!(Path::new(&out.join("per_image.jsonl")).is_file());
}
