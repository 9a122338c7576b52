#![allow(clippy::unwrap_used)]
//! The question-answering runner on the synthetic scenes with in-process answerers: scoring,
//! cue rendering reaching the backend, paired statistics, resume after a fatal error, retry of
//! transport failures, and no double counting.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use cuelab_data::scenes::{export, Config};
use cuelab_tasks::runner::{merge_runs, Merged, RunOptions};
use cuelab_tasks::vqa::{items_from_samples, run_vqa, ItemKind, VqaConfig, VqaItem, VqaRow};
use cuelab_vlm::{Answer, FnAnswerer, ParseOutcome, Question, VlmError};

fn scenes(dir: &Path) -> Vec<VqaItem> {
    export::write(&Config::new(3, 24), dir).unwrap();
    let loaded = cuelab_data::jsonl::read(&dir.join("samples.jsonl"), false).unwrap();
    let (items, _skipped) = items_from_samples(&loaded.samples, dir);
    items
}

fn truth(items: &[VqaItem]) -> BTreeMap<String, (Option<String>, Option<i64>)> {
    items
        .iter()
        .map(|i| {
            (
                i.id.clone(),
                (i.answer_index.map(|a| i.choices[a].clone()), i.count),
            )
        })
        .collect()
}

fn item_id(q: &Question) -> &str {
    q.id.split_once('/').map_or("", |(_, id)| id)
}

/// True when the image holds saturated red pixels (what `rect(color=red)` draws).
fn has_red(q: &Question) -> bool {
    q.images.iter().any(|im| {
        im.pixels()
            .filter(|p| p[0] > 240 && p[1] < 16 && p[2] < 16)
            .count()
            > 20
    })
}

fn opts(out: &Path) -> RunOptions {
    RunOptions {
        out: out.to_path_buf(),
        shard: None,
        progress: false,
    }
}

#[test]
fn cue_reaches_the_backend_and_statistics_follow() {
    let tmp = tempfile::tempdir().unwrap();
    let items = scenes(&tmp.path().join("data"));
    assert!(items.iter().any(|i| i.kind == ItemKind::Count));
    assert!(items.iter().any(|i| i.pair_id.is_some()));
    assert!(
        items.iter().any(|i| i.images.len() > 1),
        "clips become multi-image questions"
    );
    let answers = truth(&items);
    // Right only when a red box is visible; otherwise the first option (or a wrong count).
    let oracle = FnAnswerer::new("red-oracle", |q: &Question| {
        let (choice, count) = &answers[item_id(q)];
        if let Some(c) = count {
            let n = if has_red(q) { *c } else { c + 1 };
            return Ok(Answer {
                text: format!("There are {n}."),
                choice: None,
                parse: ParseOutcome::Open,
                option_logprobs: None,
                from_cache: false,
            });
        }
        let right = q
            .choices
            .iter()
            .position(|c| Some(c) == choice.as_ref())
            .unwrap();
        Ok(Answer::exact(q, if has_red(q) { right } else { 0 }))
    });
    let config = VqaConfig {
        cues: vec!["plain".into(), "rect(color=red,width=3)".into()],
        ..VqaConfig::default()
    };
    let out = tmp.path().join("run");
    let identity = serde_json::json!({"model": "red-oracle"});
    let outcome = run_vqa(
        &config,
        &items,
        &oracle,
        &identity,
        &serde_json::json!({}),
        &opts(&out),
    )
    .unwrap();
    let s = &outcome.summary;
    assert_eq!(outcome.missing, 0);
    let plain = &s.variants[0];
    let cued = &s.variants[1];
    // Balanced order: plain answers "first option" → right about 1/n of the time, not always.
    assert!(plain.all.accuracy.mean < 0.6, "{}", plain.all.accuracy.mean);
    assert!(
        (cued.all.accuracy.mean - 1.0).abs() < 1e-12,
        "{:?}",
        cued.all
    );
    // Only questions with a target get the cue variant.
    let with_targets = items.iter().filter(|i| i.has_targets()).count();
    assert_eq!(cued.all.accuracy.n, with_targets);
    assert_eq!(plain.all.accuracy.n, items.len());
    let t = &s.vs_plain[0];
    assert_eq!(t.n, with_targets);
    assert!(t.diff > 0.3 && t.mcnemar.a_only == 0 && t.mcnemar.b_only > 0);
    assert!(t.mcnemar.p_value < 0.05);
    assert!(plain.pairs.is_some() && plain.counting.is_some());
    let counting = plain.counting.as_ref().unwrap();
    assert_eq!(counting.exact.mean, 0.0);
    assert!((counting.mae.mean - 1.0).abs() < 1e-12);
    let table = std::fs::read_to_string(out.join("summary.txt")).unwrap();
    assert!(
        table.contains("pair accuracy") && table.contains("vs plain"),
        "{table}"
    );
}

#[test]
fn fatal_error_keeps_answers_and_a_rerun_finishes_without_double_counting() {
    let tmp = tempfile::tempdir().unwrap();
    let items = scenes(&tmp.path().join("data"));
    let answers = truth(&items);
    let right = |q: &Question| -> Answer {
        let (choice, count) = &answers[item_id(q)];
        match count {
            Some(c) => Answer {
                text: c.to_string(),
                choice: None,
                parse: ParseOutcome::Open,
                option_logprobs: None,
                from_cache: false,
            },
            None => {
                let at = q
                    .choices
                    .iter()
                    .position(|c| Some(c) == choice.as_ref())
                    .unwrap();
                Answer::exact(q, at)
            }
        }
    };
    let calls = AtomicUsize::new(0);
    let flaky_ids = Mutex::new(Vec::new());
    // First run: every 5th question fails in transport, and the server dies after 30 calls.
    let dying = FnAnswerer::new("dying", |q: &Question| {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        if n >= 30 {
            return Err(VlmError::Fatal("server went away".into()));
        }
        if n % 5 == 4 {
            flaky_ids.lock().unwrap().push(q.id.clone());
            return Err(VlmError::Failed {
                id: q.id.clone(),
                attempts: 3,
                reason: "HTTP 503".into(),
            });
        }
        Ok(right(q))
    });
    let config = VqaConfig {
        batch: 8,
        ..VqaConfig::default()
    };
    let out = tmp.path().join("run");
    let identity = serde_json::json!({"model": "m"});
    let err = run_vqa(
        &config,
        &items,
        &dying,
        &identity,
        &serde_json::json!({}),
        &opts(&out),
    )
    .unwrap_err();
    assert!(err.to_string().contains("server went away"), "{err}");
    let rows: Vec<VqaRow> = cuelab_tasks::run_dir::read_rows(&out.join("results.jsonl")).unwrap();
    assert_eq!(rows.len(), 24, "30 calls - 6 transport failures");
    let failures = std::fs::read_to_string(out.join("failures.jsonl")).unwrap();
    assert_eq!(failures.lines().count(), 6);
    // Second run: asks exactly the questions without a row, including the failed ones.
    let asked = Mutex::new(Vec::new());
    let healthy = FnAnswerer::new("healthy", |q: &Question| {
        asked.lock().unwrap().push(q.id.clone());
        Ok(right(q))
    });
    let outcome = run_vqa(
        &config,
        &items,
        &healthy,
        &identity,
        &serde_json::json!({}),
        &opts(&out),
    )
    .unwrap();
    let asked_ids = asked.lock().unwrap().clone();
    assert_eq!(asked_ids.len(), items.len() - 24);
    for id in flaky_ids.into_inner().unwrap() {
        assert!(asked_ids.contains(&id), "failed question {id} asked again");
    }
    let rows: Vec<VqaRow> = cuelab_tasks::run_dir::read_rows(&out.join("results.jsonl")).unwrap();
    assert_eq!(rows.len(), items.len());
    assert_eq!(outcome.missing, 0);
    assert_eq!(outcome.summary.variants[0].all.accuracy.mean, 1.0);
    // A run with another backend identity is refused rather than mixed.
    let other = serde_json::json!({"model": "other"});
    assert!(run_vqa(
        &config,
        &items,
        &healthy,
        &other,
        &serde_json::json!({}),
        &opts(&out)
    )
    .is_err());
}

#[test]
fn unparseable_answers_are_counted_never_guessed() {
    let tmp = tempfile::tempdir().unwrap();
    let items = scenes(&tmp.path().join("data"));
    let mumbler = FnAnswerer::new("mumbler", |_q: &Question| {
        Ok(Answer {
            text: "hmm, hard to say".into(),
            choice: None,
            parse: ParseOutcome::Unparseable,
            option_logprobs: None,
            from_cache: false,
        })
    });
    let out = tmp.path().join("run");
    let outcome = run_vqa(
        &VqaConfig::default(),
        &items,
        &mumbler,
        &serde_json::json!({}),
        &serde_json::json!({}),
        &opts(&out),
    )
    .unwrap();
    let all = &outcome.summary.variants[0].all;
    assert_eq!(all.unparseable, items.len());
    assert_eq!(all.accuracy.mean, 0.0);
}

#[test]
fn shards_of_a_question_run_merge_and_an_incomplete_set_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let items = scenes(&tmp.path().join("data"));
    let answers = truth(&items);
    let oracle = FnAnswerer::new("oracle", |q: &Question| {
        let (choice, count) = &answers[item_id(q)];
        if let Some(c) = count {
            return Ok(Answer {
                text: format!("There are {c}."),
                choice: None,
                parse: ParseOutcome::Open,
                option_logprobs: None,
                from_cache: false,
            });
        }
        let right = q
            .choices
            .iter()
            .position(|c| Some(c) == choice.as_ref())
            .unwrap();
        Ok(Answer::exact(q, right))
    });
    let config = VqaConfig::default();
    let identity = serde_json::json!({"model": "oracle"});
    let data = serde_json::json!({"file": "samples.jsonl"});
    let mut dirs = Vec::new();
    for k in 0..2 {
        let dir = tmp.path().join(format!("s{k}"));
        let opts = RunOptions {
            shard: Some((k, 2)),
            ..opts(&dir)
        };
        run_vqa(&config, &items, &oracle, &identity, &data, &opts).unwrap();
        let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
        assert!(manifest.contains("\"machine\""), "{manifest}");
        dirs.push(dir);
    }
    let err = merge_runs(&dirs[..1], &tmp.path().join("partial")).unwrap_err();
    assert!(err.to_string().contains("missing shard(s) 1/2"), "{err}");
    let merged = merge_runs(&dirs, &tmp.path().join("merged")).unwrap();
    let Merged::Vqa(summary) = &merged else {
        panic!("a question run merges as one: {merged:?}");
    };
    assert_eq!(summary.variants[0].all.accuracy.n, items.len());
    assert!((summary.variants[0].all.accuracy.mean - 1.0).abs() < 1e-12);
    let rows = std::fs::read_to_string(tmp.path().join("merged/results.jsonl")).unwrap();
    assert_eq!(rows.lines().count(), items.len());
    assert!(merged.table().contains("plain"), "{}", merged.table());
}
