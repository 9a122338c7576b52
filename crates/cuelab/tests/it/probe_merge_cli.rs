//! `cuelab merge` for the probes (`probe count`, `probe preprocess`, `probe boxtool`): shards
//! of a run against the mock server merge into exactly the unsharded run's `summary.json` and
//! results; incomplete and overlapping shard sets are refused; `cuelab slurm probe count`'s
//! scripts, run by hand as Slurm would, give the unsharded run too.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use crate::fixtures::{bin_path, text};
use cuelab_vlm::mock::{fnv1a, MockRequest, MockServer};

fn cmd(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(bin_path());
    for v in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT",
        "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_MAX",
        "JOB_COMPLETION_INDEX",
    ] {
        c.env_remove(v);
    }
    c.args(args).envs(env.iter().copied()).output().unwrap()
}

fn ok(o: Output) -> String {
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// The rows of a results file, sorted by key.
fn sorted_rows(dir: &Path) -> Vec<String> {
    let mut rows: Vec<String> = read(&dir.join("results.jsonl"))
        .lines()
        .map(String::from)
        .collect();
    rows.sort();
    rows
}

fn crowds(dir: &Path) -> PathBuf {
    ok(cmd(
        &[
            "scenes",
            "-n",
            "12",
            "--crowd",
            "1",
            "--pairs",
            "0",
            "--clips",
            "0",
            "--size",
            "128",
            "--out",
            s(dir),
        ],
        &[],
    ));
    dir.to_path_buf()
}

/// A server whose answers depend on the question (so accuracies differ by arm and by N):
/// counts from a hash of the prompt, a listing, and for box requests 1-3 boxes, one malformed.
fn server() -> MockServer {
    let server = MockServer::start().unwrap();
    server.set_open_reply(Some(Arc::new(|r: &MockRequest| {
        let h = fnv1a(&r.user_text);
        if r.user_text.contains("bbox_2d") {
            let mut boxes: Vec<String> = (0..1 + h % 3)
                .map(|i| {
                    format!(
                        r#"{{"bbox_2d": [{}, 10, {}, 60], "label": "x"}}"#,
                        10 + 40 * i,
                        45 + 40 * i
                    )
                })
                .collect();
            if h.is_multiple_of(2) {
                boxes.push(r#"{"bbox_2d": [1, 2]}"#.into());
            }
            format!("[{}]", boxes.join(", "))
        } else if r.user_text.contains("List the") {
            ["red circle, red circle", "blue square", ""][(h % 3) as usize].to_string()
        } else {
            format!("{}", h % 9)
        }
    })));
    server
}

fn merge(dirs: &[&Path], out: &Path) -> Output {
    let mut a: Vec<&str> = vec!["merge"];
    a.extend(dirs.iter().map(|d| s(d)));
    a.extend(["-o", s(out)]);
    cmd(&a, &[])
}

fn refused(o: Output, what: &str) {
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(what),
        "expected {what:?} in: {}",
        text(&o)
    );
}

/// Run `probe KIND` unsharded and as `shards` shards, merge, and compare.
fn shards_merge_to_the_unsharded_run(kind: &str, extra: &[&str], shards: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let data = crowds(&tmp.path().join("scenes"));
    let server = server();
    let url = server.url();
    let run = |out: &Path, shard: Option<&str>| {
        let mut a = vec![
            "probe",
            kind,
            "--scenes",
            s(&data),
            "--endpoint",
            &url,
            "--model",
            "mock",
            "--out",
            s(out),
        ];
        a.extend(extra);
        if let Some(sh) = shard {
            a.extend(["--shard", sh]);
        }
        ok(cmd(&a, &[]))
    };
    let full = tmp.path().join("full");
    run(&full, None);
    let mut parts = Vec::new();
    for i in 0..shards {
        let dir = tmp.path().join(format!("shard{i}"));
        run(&dir, Some(&format!("{i}/{shards}")));
        let rows = sorted_rows(&dir).len();
        assert!(
            rows > 0 && rows < sorted_rows(&full).len(),
            "{kind} shard {i}: {rows} rows"
        );
        parts.push(dir);
    }
    let parts: Vec<&Path> = parts.iter().map(PathBuf::as_path).collect();
    let merged = tmp.path().join("merged");
    let table = ok(merge(&parts, &merged));
    // byte for byte: the same rows give the same summary (rows are summarised sorted by key)
    assert_eq!(
        read(&merged.join("summary.json")),
        read(&full.join("summary.json")),
        "{kind}"
    );
    assert_eq!(
        read(&merged.join("summary.txt")),
        read(&full.join("summary.txt"))
    );
    assert!(
        table.starts_with(&read(&full.join("summary.txt"))),
        "{table}"
    );
    assert_eq!(sorted_rows(&merged), sorted_rows(&full), "{kind}");
    let m: serde_json::Value = serde_json::from_str(&read(&merged.join("manifest.json"))).unwrap();
    let f: serde_json::Value = serde_json::from_str(&read(&full.join("manifest.json"))).unwrap();
    assert_eq!(m["images"], f["images"]);
    assert_eq!(m["experiment"], f["experiment"]);

    refused(
        merge(&parts[..shards - 1], &tmp.path().join("x1")),
        &format!("missing shard(s) {}/{shards}", shards - 1),
    );
    refused(
        merge(&[parts[0], parts[0]], &tmp.path().join("x2")),
        "given twice",
    );
    refused(
        merge(&[&full, parts[0]], &tmp.path().join("x3")),
        "cannot merge",
    );
}

#[test]
fn probe_count_shards_merge_to_the_unsharded_run() {
    shards_merge_to_the_unsharded_run("count", &[], 3);
}

#[test]
fn probe_preprocess_shards_merge_to_the_unsharded_run() {
    shards_merge_to_the_unsharded_run(
        "preprocess",
        &[
            "--transform",
            "rotate(90)",
            "--transform",
            "jpeg(30)",
            "--question",
            "count",
            "--question",
            "list",
        ],
        2,
    );
}

#[test]
fn probe_boxtool_shards_merge_to_the_unsharded_run() {
    shards_merge_to_the_unsharded_run("boxtool", &["--format", "json"], 3);
}

#[test]
fn slurm_probe_count_scripts_give_the_unsharded_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = crowds(&tmp.path().join("scenes"));
    let server = server();
    let url = server.url();
    let flags = [
        "--scenes",
        s(&data),
        "--variant",
        "plain",
        "--variant",
        "som",
        "--endpoint",
        &url,
        "--model",
        "mock",
    ];
    let out = tmp.path().join("run");
    let mut a = vec!["slurm", "probe", "count"];
    a.extend(flags);
    a.extend(["--out", s(&out), "--array", "2"]);
    let script = ok(cmd(&a, &[]));
    assert!(script.contains("probe count"), "{script}");
    assert!(script.contains("--shard auto/2"), "{script}");
    let dir = out.join("slurm");
    for id in ["0", "1"] {
        let o = Command::new("bash")
            .arg(dir.join("array.sbatch"))
            .env("SLURM_ARRAY_TASK_ID", id)
            .env("SLURM_ARRAY_TASK_COUNT", "2")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
    let o = Command::new("bash")
        .arg(dir.join("merge.sbatch"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let full = tmp.path().join("full");
    let mut a = vec!["probe", "count"];
    a.extend(flags);
    a.extend(["--out", s(&full)]);
    ok(cmd(&a, &[]));
    assert_eq!(
        read(&out.join("summary.json")),
        read(&full.join("summary.json"))
    );
    assert_eq!(sorted_rows(&out), sorted_rows(&full));
}
