//! `cuelab ground` / `merge` / `demo` end to end on synthetic scenes with the tiny random-weight
//! CLIP: resume after kill -9 gives the identical summary, shards merge to the full run, bad
//! samples become counted error rows.

#![allow(clippy::unwrap_used)]

use crate::fixtures::{command as bin, cuelab as run, text, tiny_clip_arg as tiny_model};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

/// Scenes (and a first demo run) in `dir`; returns the samples file.
fn scenes(dir: &Path) -> PathBuf {
    let o = run(&[
        "demo",
        "-o",
        dir.to_str().unwrap(),
        "--scenes",
        "5",
        "--model",
        &tiny_model(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("McNemar"), "{}", text(&o));
    dir.join("scenes/samples.jsonl")
}

fn ground(data: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "ground",
        "--data",
        data.to_str().unwrap(),
        "--model",
        &tiny_model_static(),
        "--debias",
        "20",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn tiny_model_static() -> &'static str {
    Box::leak(tiny_model().into_boxed_str())
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn rows(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("results.jsonl"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[test]
fn resume_after_kill_and_shards_give_identical_summaries() {
    let tmp = tempfile::tempdir().unwrap();
    let data = scenes(&tmp.path().join("demo"));

    let full = tmp.path().join("full");
    let o = ground(&data, &full, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let reference = summary(&full);
    let n_rows = rows(&full);
    assert!(n_rows >= 10, "{n_rows}");

    // A rerun sends nothing new and gives the same summary.
    let o = ground(&data, &full, &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(rows(&full), n_rows);
    assert_eq!(summary(&full), reference);

    // kill -9 mid-run, then resume. (Both runs use the embedding cache: candle's GEMM rounds
    // differently for different batch sizes, so a run without the cache, whose target crops are
    // encoded in batches of one, differs from one with it in the 8th digit of crop cosines.)
    let killed = tmp.path().join("killed");
    let mut child = bin()
        .args([
            "ground",
            "--data",
            data.to_str().unwrap(),
            "--model",
            &tiny_model(),
            "--debias",
            "20",
            "--out",
            killed.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    let start = Instant::now();
    while rows(&killed) < 2 && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial = rows(&killed);
    assert!(
        partial < n_rows,
        "the run finished before it could be killed"
    );
    // and a torn last line, as a kill in the middle of a write leaves
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(killed.join("results.jsonl"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"key\": \"torn").unwrap();
    drop(f);
    let o = ground(&data, &killed, &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(rows(&killed), n_rows, "no row counted twice");
    assert_eq!(summary(&killed), reference);

    // Shards merged equal the full run.
    let s0 = tmp.path().join("s0");
    let s1 = tmp.path().join("s1");
    assert!(ground(&data, &s0, &["--shard", "0/2"]).status.success());
    assert!(ground(&data, &s1, &["--shard", "1/2"]).status.success());
    let merged = tmp.path().join("merged");
    let o = run(&[
        "merge",
        s0.to_str().unwrap(),
        s1.to_str().unwrap(),
        "-o",
        merged.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(summary(&merged), reference);

    // A different configuration refuses to resume into the same directory.
    let o = ground(&data, &full, &["--aggregate", "max"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("another configuration"), "{}", text(&o));
}

#[test]
fn missing_images_are_counted_error_rows_not_misses() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("samples.jsonl");
    std::fs::write(
        &data,
        concat!(
            r#"{"id":"a","image":"nope.png","expression":"the red square","target":[0,0,10,10],"proposals":[[0,0,10,10]]}"#,
            "\n"
        ),
    )
    .unwrap();
    let out = tmp.path().join("run");
    let o = ground(&data, &out, &["--method", "baseline"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let s = summary(&out);
    assert_eq!(s["variants"][0]["errors"], 1);
    assert_eq!(s["variants"][0]["all"]["n"], 0);

    std::fs::write(&data, "{not json\n").unwrap();
    let o = ground(&data, &tmp.path().join("run2"), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("line 1"), "{}", text(&o));
}

#[test]
fn proposals_file_replaces_ground_truth_boxes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("samples.jsonl");
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/photos/dog.jpg");
    std::fs::write(
        &data,
        format!(
            "{{\"id\":\"a\",\"image\":{:?},\"expression\":\"the dog\",\"target\":[124,218,316,540],\"proposals\":[]}}\n",
            photo.display().to_string()
        ),
    )
    .unwrap();
    let props = tmp.path().join("dets.json");
    std::fs::write(
        &props,
        r#"{"dog.jpg": [{"box": [124, 218, 192, 322], "score": 0.9}, {"box": [460, 70, 230, 100], "score": 0.1}]}"#,
    )
    .unwrap();
    let out = tmp.path().join("run");
    let o = ground(
        &data,
        &out,
        &[
            "--method",
            "baseline",
            "--proposals",
            props.to_str().unwrap(),
            "--proposals-format",
            "xywh",
            "--min-score",
            "0.5",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let row: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(out.join("results.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(row["proposals"], 1, "low-score proposal dropped");
    assert!((row["iou"].as_f64().unwrap() - 1.0).abs() < 1e-6, "{row}");
}

#[test]
fn refcoco_folder_runs_with_ground_truth_proposals() {
    let tmp = tempfile::tempdir().unwrap();
    let refcoco = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cuelab-data/tests/data/refcocog");
    let out = tmp.path().join("run");
    let o = ground(
        &refcoco.join("refs(umd).p"),
        &out,
        &[
            "--images",
            refcoco.join("images").to_str().unwrap(),
            "--method",
            "baseline",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let s = summary(&out);
    assert!(s["variants"][0]["all"]["n"].as_u64().unwrap() >= 1, "{s}");
    assert_eq!(s["variants"][0]["errors"], 0, "{s}");
}

/// Issue 13: on RefCOCO the run scores `sent` and debiases from the train split by default, and
/// records both; another text field or pool is another run (resume refused); a pool file works;
/// a missing one is a clear error.
#[test]
fn refcoco_text_field_and_debias_pool_are_recorded_and_part_of_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let refcoco = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cuelab-data/tests/data/refcocog");
    let refs = refcoco.join("refs(umd).p");
    let images = refcoco.join("images");
    let common = [
        "--images",
        images.to_str().unwrap(),
        "--method",
        "redcircle",
        "--cue",
        "ellipse(width=2)",
        "--split",
        "val",
    ];
    let out = tmp.path().join("run");
    let o = ground(&refs, &out, &common);
    assert!(o.status.success(), "{}", text(&o));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["data"]["text_field"], "sent", "{manifest}");
    assert_eq!(manifest["data"]["debias"]["pool"], "train", "{manifest}");
    assert_eq!(manifest["data"]["debias"]["with_replacement"], true);
    assert_eq!(
        manifest["data"]["debias"]["expressions"], 2,
        "train split has 2 sentences"
    );
    let rows = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert!(
        rows.contains("\"expression\":\"small brown dog\""),
        "{rows}"
    );

    let mut again = common.to_vec();
    again.extend(["--debias-pool", "eval"]);
    let o = ground(&refs, &out, &again);
    assert!(
        !o.status.success(),
        "resume with another pool must be refused"
    );

    let pool = tmp.path().join("pool.txt");
    std::fs::write(&pool, "a red thing\n\nthe dog on the left\n").unwrap();
    let out2 = tmp.path().join("run2");
    let mut with_file = common.to_vec();
    with_file.extend([
        "--debias-pool",
        pool.to_str().unwrap(),
        "--text-field",
        "raw",
    ]);
    let o = ground(&refs, &out2, &with_file);
    assert!(o.status.success(), "{}", text(&o));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out2.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["data"]["text_field"], "raw");
    assert_eq!(manifest["data"]["debias"]["expressions"], 2);

    let mut missing = common.to_vec();
    missing.extend(["--debias-pool", "/nonexistent/pool.txt"]);
    let o = ground(&refs, &tmp.path().join("run3"), &missing);
    assert!(!o.status.success());
    assert!(text(&o).contains("pool.txt"), "{}", text(&o));
}
