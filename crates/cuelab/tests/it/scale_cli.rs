//! Scaling out end to end: `--shard auto` from a Slurm job array or a Kubernetes Indexed Job,
//! `cuelab merge` for every run kind (ground, ask, mmvp, mine, embed) giving the unsharded
//! run's summary and results, the refusals (incomplete, overlapping, other configuration),
//! `cuelab slurm`'s scripts run by hand (no Slurm needed: each array task is the script with
//! `SLURM_ARRAY_TASK_ID` set), and endpoint statistics in an `ask` summary with a replica down.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::fixtures::{bin_path, text, tiny_clip_arg};

/// Scheduler variables that must not leak from the environment running the tests.
const SCHED_VARS: [&str; 8] = [
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_MAX",
    "JOB_COMPLETION_INDEX",
    "CUELAB_SHARD",
    "CUELAB_SHARD_COUNT",
    "SLURM_JOB_ID",
];

fn cmd(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(bin_path());
    for v in SCHED_VARS {
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

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// The rows of a results file sorted by key.
fn sorted_rows(dir: &Path) -> Vec<serde_json::Value> {
    let mut rows: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    rows.sort_by(|a, b| a["key"].as_str().cmp(&b["key"].as_str()));
    rows
}

/// Equal JSON, numbers to 1e-9 relative: a model batches a shard's inputs differently, and
/// candle's matrix products round differently per batch size (seen: the 16th digit of a CLIP
/// log-probability).
fn close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as V;
    match (a, b) {
        (V::Number(x), V::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1e-300)
        }
        (V::Array(x), V::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| close(x, y))
        }
        (V::Object(x), V::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| close(v, w)))
        }
        _ => a == b,
    }
}

/// Equal row lists (see [`close`]), showing the first difference.
fn same_rows(a: &[serde_json::Value], b: &[serde_json::Value]) {
    assert_eq!(a.len(), b.len());
    if let Some((x, y)) = a.iter().zip(b).find(|(x, y)| !close(x, y)) {
        panic!("rows differ:\n{x}\n{y}");
    }
}

fn scenes(dir: &Path, n: &str) -> PathBuf {
    ok(cmd(
        &[
            "scenes",
            "-n",
            n,
            "--clips",
            "0",
            "--size",
            "64",
            "--out",
            s(dir),
        ],
        &[],
    ));
    dir.to_path_buf()
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

#[test]
fn ground_shards_from_slurm_and_kubernetes_merge_to_the_unsharded_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = scenes(&tmp.path().join("scenes"), "10").join("samples.jsonl");
    let clip = tiny_clip_arg();
    let ground = |out: &Path, extra: &[&str], env: &[(&str, &str)]| {
        let mut a = vec![
            "ground",
            "--data",
            s(&data),
            "--model",
            &clip,
            "--debias",
            "10",
            "--out",
            s(out),
        ];
        a.extend_from_slice(extra);
        cmd(&a, env)
    };
    let full = tmp.path().join("full");
    ok(ground(&full, &[], &[]));

    // three Slurm array tasks (ids 1..3 of an array 1-3: shard = id - min)
    let mut shards = Vec::new();
    for id in ["1", "2", "3"] {
        let dir = tmp.path().join(format!("slurm{id}"));
        let env = [
            ("SLURM_ARRAY_TASK_ID", id),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "3"),
        ];
        ok(ground(&dir, &["--shard", "auto"], &env));
        let m = json(&dir.join("manifest.json"));
        let want = format!("{}/3", id.parse::<usize>().unwrap() - 1);
        assert_eq!(m["shard"], want.as_str());
        assert_eq!(m["shard_partition"], "sha256-key");
        shards.push(dir);
    }
    let parts: Vec<&Path> = shards.iter().map(PathBuf::as_path).collect();
    // every shard got some samples, none all
    let n: Vec<usize> = parts.iter().map(|d| sorted_rows(d).len()).collect();
    assert_eq!(n.iter().sum::<usize>(), sorted_rows(&full).len(), "{n:?}");
    assert!(n.iter().all(|&k| k > 0), "{n:?}");

    let merged = tmp.path().join("merged");
    ok(merge(&parts, &merged));
    assert_eq!(
        json(&merged.join("summary.json")),
        json(&full.join("summary.json"))
    );
    same_rows(&sorted_rows(&merged), &sorted_rows(&full));

    // a Kubernetes Indexed Job's shard 1 of 3 is the Slurm task 2's
    let k8s = tmp.path().join("k8s1");
    ok(ground(
        &k8s,
        &["--shard", "auto/3"],
        &[("JOB_COMPLETION_INDEX", "1")],
    ));
    same_rows(&sorted_rows(&k8s), &sorted_rows(&shards[1]));

    // refusals: incomplete, overlapping, another configuration, no scheduler
    refused(
        merge(&parts[..2], &tmp.path().join("x1")),
        "missing shard(s) 2/3",
    );
    refused(
        merge(
            &[parts[0], parts[1], parts[2], &k8s],
            &tmp.path().join("x2"),
        ),
        "given twice",
    );
    let other = tmp.path().join("other");
    ok(ground(
        &other,
        &["--shard", "2/3", "--aggregate", "max"],
        &[],
    ));
    refused(
        merge(&[parts[0], parts[1], &other], &tmp.path().join("x3")),
        "another configuration",
    );
    refused(
        ground(&tmp.path().join("x4"), &["--shard", "auto"], &[]),
        "SLURM_ARRAY_TASK_ID",
    );
    refused(
        ground(
            &tmp.path().join("x5"),
            &["--shard", "auto"],
            &[("JOB_COMPLETION_INDEX", "0")],
        ),
        "CUELAB_SHARD_COUNT",
    );
}

#[test]
fn slurm_scripts_run_by_hand_give_the_unsharded_run_and_resubmit_only_unfinished_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let data = scenes(&tmp.path().join("scenes"), "8").join("samples.jsonl");
    let clip = tiny_clip_arg();
    let out = tmp.path().join("run");
    let stdout = ok(cmd(
        &[
            "slurm",
            "ask",
            "--data",
            s(&data),
            "--clip",
            &clip,
            "--task",
            "multiple_choice",
            "--cue",
            "plain",
            "--cue",
            "rect(color=red,width=2)",
            "--out",
            s(&out),
            "--array",
            "3",
            "--partition",
            "gpu",
            "--gpus-per-task",
            "1",
            "--time",
            "00:30:00",
            "--cpus-per-task",
            "4",
        ],
        &[],
    ));
    assert!(stdout.contains("#SBATCH --array=0-2"), "{stdout}");
    assert!(stdout.contains("--dependency=afterok"), "{stdout}");
    assert!(stdout.contains("#SBATCH --gpus-per-task=1"), "{stdout}");
    let dir = out.join("slurm");
    // run every array task, then the merge, as Slurm would
    for id in ["0", "1", "2"] {
        let o = Command::new("bash")
            .arg(dir.join("array.sbatch"))
            .env("SLURM_ARRAY_TASK_ID", id)
            .env("SLURM_ARRAY_TASK_COUNT", "3")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        assert!(dir.join("done").join(id).exists());
    }
    let o = Command::new("bash")
        .arg(dir.join("merge.sbatch"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let full = tmp.path().join("full");
    ok(cmd(
        &[
            "ask",
            "--data",
            s(&data),
            "--clip",
            &clip,
            "--task",
            "multiple_choice",
            "--cue",
            "plain",
            "--cue",
            "rect(color=red,width=2)",
            "--out",
            s(&full),
        ],
        &[],
    ));
    assert_eq!(
        json(&out.join("summary.json")),
        json(&full.join("summary.json"))
    );
    same_rows(&sorted_rows(&out), &sorted_rows(&full));

    // a finished task exits at once; resubmission sends only the unfinished shards
    std::fs::remove_file(dir.join("done/1")).unwrap();
    let fake = tmp.path().join("sbatch");
    let log = tmp.path().join("sbatch.log");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\necho \"$@\" >> {}\necho 77\n", log.display()),
    )
    .unwrap();
    let o = Command::new("chmod").arg("+x").arg(&fake).output().unwrap();
    assert!(o.status.success());
    let stdout = ok(cmd(
        &[
            "slurm",
            "ask",
            "--data",
            s(&data),
            "--clip",
            &clip,
            "--task",
            "multiple_choice",
            "--cue",
            "plain",
            "--cue",
            "rect(color=red,width=2)",
            "--out",
            s(&out),
            "--array",
            "3",
            "--submit",
            "--sbatch-command",
            s(&fake),
        ],
        &[],
    ));
    assert!(stdout.contains("1 of 3 shards unfinished: 1"), "{stdout}");
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(calls.contains("--array=1 "), "{calls}");
    assert!(calls.contains("--dependency=afterok:77 "), "{calls}");
    // bad uses are clear errors
    refused(cmd(&["slurm", "ground", "--out", "x"], &[]), "--array N");
    refused(cmd(&["slurm", "ground", "--array", "2"], &[]), "--out");
    refused(
        cmd(
            &[
                "slurm", "ground", "--out", "x", "--shard", "0/2", "--array", "2",
            ],
            &[],
        ),
        "sets --shard itself",
    );
}

#[test]
fn mmvp_shards_keep_pairs_together_and_merge() {
    let tmp = tempfile::tempdir().unwrap();
    let data = scenes(&tmp.path().join("scenes"), "24").join("mmvp");
    let clip = tiny_clip_arg();
    let mmvp = |out: &Path, extra: &[&str]| {
        let mut a = vec!["mmvp", "--data", s(&data), "--clip", &clip, "--out", s(out)];
        a.extend_from_slice(extra);
        cmd(&a, &[])
    };
    let full = tmp.path().join("full");
    ok(mmvp(&full, &[]));
    let s0 = tmp.path().join("s0");
    let s1 = tmp.path().join("s1");
    ok(mmvp(&s0, &["--shard", "0/2"]));
    ok(mmvp(&s1, &["--shard", "1/2"]));
    // each shard scores whole pairs: its pair count times two is its question count
    for d in [&s0, &s1] {
        let sm = json(&d.join("summary.json"));
        let pairs = sm["variants"][0]["pairs"]["n"]
            .as_u64()
            .unwrap_or_else(|| panic!("{sm}"));
        assert_eq!(2 * pairs, sorted_rows(d).len() as u64, "{sm}");
    }
    let merged = tmp.path().join("merged");
    ok(merge(&[&s0, &s1], &merged));
    assert_eq!(
        json(&merged.join("summary.json")),
        json(&full.join("summary.json"))
    );
    same_rows(&sorted_rows(&merged), &sorted_rows(&full));
}

#[test]
fn embed_shards_are_parquet_parts_of_one_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let images = scenes(&tmp.path().join("scenes"), "9").join("images");
    let mut files: Vec<String> = std::fs::read_dir(&images)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    files.sort();
    let clip = tiny_clip_arg();
    let embed_some = |out: &Path, extra: &[&str], files: &[String]| {
        let mut a = vec!["embed", "-m", &clip, "--normalize", "-o", s(out)];
        a.extend_from_slice(extra);
        a.extend(files.iter().map(String::as_str));
        cmd(&a, &[])
    };
    let embed = |out: &Path, extra: &[&str]| embed_some(out, extra, &files);
    let whole = tmp.path().join("whole.parquet");
    ok(embed(&whole, &[]));
    let parts = tmp.path().join("parts.parquet");
    for k in 0..3 {
        let shard = format!("{k}/3");
        ok(embed(&parts, &["--shard", &shard]));
    }
    // a rerun of a finished shard does nothing
    assert!(ok(embed(&parts, &["--shard", "1/3"])).contains("already done"));
    let n_parts = std::fs::read_dir(&parts).unwrap().count();
    assert_eq!(n_parts, 3);
    // read back as one dataset: every input once, in any part
    let mut rows = Vec::new();
    for e in std::fs::read_dir(&parts).unwrap() {
        rows.extend(cuelab_tasks::embed_parts::read_rows(&e.unwrap().path()).unwrap());
    }
    rows.sort_by_key(|r| r.row);
    let reference = cuelab_tasks::embed_parts::read_rows(&whole).unwrap();
    // candle's matrix products round differently for other batch sizes (a shard embeds fewer
    // images at once), so values agree to float rounding, positions and inputs exactly
    assert_eq!(rows.len(), reference.len());
    for (a, b) in rows.iter().zip(&reference) {
        assert_eq!((a.row, &a.input), (b.row, &b.input));
        assert_eq!(a.embedding.len(), b.embedding.len());
        let diff = a
            .embedding
            .iter()
            .zip(&b.embedding)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(diff < 1e-5, "row {}: {diff}", a.row);
    }
    // merged into one file: exactly the parts' rows in input order
    let merged = tmp.path().join("merged.parquet");
    ok(merge(&[&parts], &merged));
    assert_eq!(cuelab_tasks::embed_parts::read_rows(&merged).unwrap(), rows);
    // refusals: a missing part, a part of other inputs
    let some = tmp.path().join("some.parquet");
    std::fs::create_dir_all(&some).unwrap();
    for k in [0, 1] {
        let name = format!("part-{k:05}-of-00003.parquet");
        std::fs::copy(parts.join(&name), some.join(&name)).unwrap();
    }
    refused(
        merge(&[&some], &tmp.path().join("m1.parquet")),
        "missing shard(s) 2/3",
    );
    let other = tmp.path().join("other.parquet");
    ok(embed_some(&other, &["--shard", "2/3"], &files[1..]));
    refused(
        merge(&[&some, &other], &tmp.path().join("m2.parquet")),
        "another configuration",
    );
    refused(
        embed(&tmp.path().join("e.npy"), &["--shard", "0/2"]),
        ".parquet",
    );
}

#[test]
fn mine_shards_merge_like_an_unsharded_run() {
    let tmp = tempfile::tempdir().unwrap();
    let images = scenes(&tmp.path().join("scenes"), "12").join("images");
    let models = crate::fixtures::models_data();
    let cache = tmp.path().join("cache.sqlite");
    let clip = models.join("clip-vit-tiny");
    let dino = models.join("dinov2-tiny");
    let mine = |out: &Path, extra: &[&str], env: &[(&str, &str)]| {
        let mut a = vec![
            "mine",
            "--images",
            s(&images),
            "--clip",
            s(&clip),
            "--dino",
            s(&dino),
            "--clip-min",
            "-1.0",
            "--dino-max",
            "0.999999",
            "--dedup",
            "1.0",
            "--block",
            "5",
            "--cache",
            s(&cache),
            "-o",
            s(out),
        ];
        a.extend_from_slice(extra);
        cmd(&a, env)
    };
    let full = tmp.path().join("full");
    ok(mine(&full, &[], &[]));
    let mut shards = Vec::new();
    for id in ["0", "1"] {
        let dir = tmp.path().join(format!("s{id}"));
        let env = [("SLURM_ARRAY_TASK_ID", id), ("SLURM_ARRAY_TASK_COUNT", "2")];
        ok(mine(&dir, &["--shard", "auto"], &env));
        shards.push(dir);
    }
    let merged = tmp.path().join("merged");
    ok(merge(&[&shards[0], &shards[1]], &merged));
    for f in ["pairs.jsonl", "duplicates.jsonl", "mmvp/Questions.csv"] {
        assert_eq!(
            std::fs::read_to_string(merged.join(f)).unwrap(),
            std::fs::read_to_string(full.join(f)).unwrap(),
            "{f}"
        );
    }
    let strip = |mut v: serde_json::Value| {
        let o = v.as_object_mut().unwrap();
        for k in ["gemm_secs", "mmvp"] {
            o.remove(k);
        }
        v
    };
    assert_eq!(
        strip(json(&merged.join("summary.json"))),
        strip(json(&full.join("summary.json")))
    );
    refused(
        merge(&[&shards[0]], &tmp.path().join("m1")),
        "incomplete shard set",
    );
    refused(
        merge(&[&shards[0], &shards[1], &full], &tmp.path().join("m2")),
        "overlap",
    );
}

#[test]
fn ask_with_one_replica_down_reports_every_endpoint() {
    let server = cuelab_vlm::mock::MockServer::start().unwrap();
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}/v1", l.local_addr().unwrap().port())
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = scenes(&tmp.path().join("scenes"), "8").join("samples.jsonl");
    let out = tmp.path().join("run");
    let url = server.url();
    let stdout = ok(cmd(
        &[
            "ask",
            "--data",
            s(&data),
            "--endpoint",
            &dead,
            "--endpoint",
            &url,
            "--model",
            "mock-vlm",
            "--out",
            s(&out),
        ],
        &[],
    ));
    let sm = json(&out.join("summary.json"));
    assert_eq!(sm["missing"], 0, "{sm}");
    let eps = sm["endpoints"].as_array().unwrap();
    assert_eq!(eps.len(), 2, "{sm}");
    assert!(eps[0]["url"].as_str().unwrap().starts_with(&dead));
    assert_eq!(eps[0]["ejections"], 1, "{sm}");
    assert_eq!(eps[0]["healthy"], false, "{sm}");
    assert_eq!(eps[0]["failures"], eps[0]["requests"], "{sm}");
    assert_eq!(eps[1]["failures"], 0, "{sm}");
    assert_eq!(
        eps[1]["requests"].as_u64().unwrap() as usize,
        server.requests()
    );
    assert!(eps[1]["latency_ms_p90"].as_f64().unwrap() > 0.0, "{sm}");
    assert!(stdout.contains("ejection"), "{stdout}");
}
