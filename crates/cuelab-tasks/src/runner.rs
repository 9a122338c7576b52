//! The run machinery every run kind shares (grounding, questions, and the studies to come):
//!
//! - [`start`]: open or resume a [`RunDir`] whose identity is a configuration hash (a directory
//!   made by another configuration is refused), writing a manifest with the same core fields for
//!   every kind — cuelab version, experiment kind, config hash, shard, seed, machine record,
//!   start time (model checksums are part of the model ids each kind records, data checksums part
//!   of the data description, see [`describe_data_file`]);
//! - [`select`]: shard and limit selection (by a stable hash of each item's key, see
//!   [`crate::shard`], then the first `limit`); [`parse_shard`] reads `I/N`, `auto` and `auto/N`;
//! - [`progress_bar`]: the progress bar (hidden when not wanted);
//! - [`finish`]: `summary.json`, `summary.txt` and the manifest's `end` stamp;
//! - [`merge_runs`]: shard directories of any kind combined into one, refusing incomplete or
//!   mismatched shard sets.

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::{json, Value};

use crate::error::{Result, TaskError};
use crate::run_dir::{now_rfc3339, read_json, read_rows, RunDir, MANIFEST, RESULTS, SUMMARY};
pub use crate::shard::ShardKey;

/// Options of one run, whatever its kind.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Run directory.
    pub out: PathBuf,
    /// `(index, count)`: only the samples of that shard (see [`crate::shard`]).
    pub shard: Option<(usize, usize)>,
    /// Show a progress bar.
    pub progress: bool,
}

/// The `experiment` value of grounding runs' manifests.
pub const GROUNDING: &str = "grounding";
/// The `experiment` value of question-answering runs' manifests.
pub const VQA: &str = "vqa";

/// Parse a `--shard` value: `I/N` (0-based, `I < N`), or `auto` / `auto/N` from a Slurm job
/// array or a Kubernetes Indexed Job (see [`crate::shard::parse`]).
pub fn parse_shard(text: &str) -> Result<(usize, usize)> {
    crate::shard::parse(text)
}

/// The items a run works on: those of its shard (by a stable hash of [`ShardKey::shard_key`],
/// so adding items never moves old ones to another shard), then the first `limit` of them.
/// Returns `(index in items, item)`.
pub fn select<T: ShardKey>(
    items: &[T],
    shard: Option<(usize, usize)>,
    limit: Option<usize>,
) -> Vec<(usize, &T)> {
    items
        .iter()
        .enumerate()
        .filter(|(_, item)| crate::shard::in_shard(item.shard_key(), shard))
        .take(limit.unwrap_or(usize::MAX))
        .collect()
}

/// The machine a run ran on.
pub fn machine() -> Value {
    json!({
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "threads": rayon::current_num_threads(),
        "host": std::env::var("HOSTNAME").unwrap_or_default(),
    })
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| TaskError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| TaskError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// `fields` (a JSON object describing a run's data) with the SHA-256 of `path` added as
/// `sha256` when `path` is a regular file (a dataset folder is described by its path alone).
pub fn describe_data_file(path: &Path, fields: Value) -> Result<Value> {
    let mut fields = fields;
    if path.is_file() {
        let sum = sha256_file(path)?;
        if let Some(o) = fields.as_object_mut() {
            o.insert("sha256".into(), Value::String(sum));
        }
    }
    Ok(fields)
}

/// The manifest of a new run: the fields every kind records, then the kind's own `fields`
/// (a JSON object: configuration, variants as `[{"id", "label", ...}]`, models, data, ...).
pub fn manifest(
    experiment: &str,
    config_hash: &str,
    seed: u64,
    shard: Option<(usize, usize)>,
    fields: Value,
) -> Value {
    let mut m = json!({
        "cuelab_version": env!("CARGO_PKG_VERSION"),
        "experiment": experiment,
        "config_hash": config_hash,
        "shard": shard.map(|(i, n)| format!("{i}/{n}")),
        "shard_partition": shard.map(|_| crate::shard::PARTITION),
        "seed": seed,
        "machine": machine(),
        "start": now_rfc3339(),
    });
    if let (Some(m), Value::Object(extra)) = (m.as_object_mut(), fields) {
        for (k, v) in extra {
            m.entry(k).or_insert(v);
        }
    }
    m
}

/// Open (or resume) the run directory of `opts` for a run of kind `experiment` whose identity
/// is `config_hash`; see [`manifest`] for `fields`.
pub fn start(
    opts: &RunOptions,
    experiment: &str,
    config_hash: &str,
    seed: u64,
    fields: Value,
) -> Result<RunDir> {
    let m = manifest(experiment, config_hash, seed, opts.shard, fields);
    RunDir::open(&opts.out, config_hash, &m)
}

/// A progress bar over `total` units named `unit` (hidden when `show` is false).
pub fn progress_bar(show: bool, total: u64, unit: &str) -> ProgressBar {
    let bar = if show {
        ProgressBar::new(total)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {unit}  {{per_sec}}  eta {{eta}}  {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Write `summary.json` (and `summary.txt` with `table`), and stamp the manifest's end time.
pub fn finish<S: Serialize>(run: &RunDir, summary: &S, table: &str) -> Result<()> {
    let dir = run.path();
    let summary_json = serde_json::to_value(summary).map_err(|e| TaskError::Json {
        path: dir.join(SUMMARY),
        message: e.to_string(),
    })?;
    run.finish(&summary_json)?;
    std::fs::write(dir.join("summary.txt"), table).map_err(|e| TaskError::io(dir, e))
}

/// The summary of merged run directories, by kind.
#[derive(Debug, Clone)]
pub enum Merged {
    /// A grounding run.
    Grounding(crate::grounding::summary::Summary),
    /// A question-answering run.
    Vqa(crate::vqa::VqaSummary),
    /// `cuelab mine` work directories.
    Mine(crate::mine::pipeline::Finished),
    /// `cuelab embed` Parquet parts, merged into one file.
    Embed(crate::embed_parts::EmbedMerged),
    /// A surprisal probe run.
    Surprisal(crate::probe::surprisal::SurprisalSummary),
    /// A captioning sweep.
    Caption(crate::caption::CaptionSummary),
    /// A `probe count` or `probe preprocess` run.
    ProbeCount(crate::probe::count::CountSummary),
    /// A `probe boxtool` run.
    ProbeBoxtool(crate::probe::boxtool::BoxtoolSummary),
}

impl Merged {
    /// The summary table, as `summary.txt` holds it.
    pub fn table(&self) -> String {
        match self {
            Merged::Grounding(s) => crate::grounding::summary::table(s),
            Merged::Vqa(s) => crate::vqa::vqa_table(s),
            Merged::Mine(f) => crate::merge_kinds::mine_table(f),
            Merged::Embed(e) => format!(
                "{} rows of {} values ({}) from {} part(s)\n",
                e.rows, e.dim, e.model, e.parts
            ),
            Merged::Surprisal(s) => crate::probe::surprisal::table(s),
            Merged::Caption(s) => crate::caption::caption_table(s),
            Merged::ProbeCount(s) => crate::probe::count::count_table(s),
            Merged::ProbeBoxtool(s) => crate::probe::boxtool::boxtool_table(s),
        }
    }
}

fn merge_error(message: String) -> TaskError {
    TaskError::Merge(message)
}

/// Check that `manifests` (one per directory) form one complete run: same kind and config
/// hash, every shard finished, and either a single unsharded run or exactly the shards
/// `0/N .. N-1/N`, each once.
fn check_shard_set(dirs: &[PathBuf], manifests: &[Value]) -> Result<()> {
    let first = &manifests[0];
    let hash = first["config_hash"].as_str().unwrap_or("");
    for (d, m) in dirs.iter().zip(manifests) {
        if m["experiment"] != first["experiment"] {
            return Err(merge_error(format!(
                "{} is a {} run, {} a {} run",
                d.display(),
                m["experiment"],
                dirs[0].display(),
                first["experiment"]
            )));
        }
        if m["config_hash"] != first["config_hash"] {
            return Err(TaskError::RunMismatch {
                dir: d.clone(),
                found: m["config_hash"].as_str().unwrap_or("").into(),
                expected: hash.to_string(),
            });
        }
        if m.get("shard_partition") != first.get("shard_partition") {
            return Err(merge_error(format!(
                "{} and {} split the samples differently (shard partition {} vs {}): rerun the \
                 older shards with this version",
                d.display(),
                dirs[0].display(),
                m.get("shard_partition").unwrap_or(&Value::Null),
                first.get("shard_partition").unwrap_or(&Value::Null)
            )));
        }
        let data_key = |m: &Value| match m["data"].get("sha256") {
            Some(sum) => sum.clone(),
            None => {
                // Per-shard input counts differ between shards of one run.
                let mut d = m["data"].clone();
                if let Some(o) = d.as_object_mut() {
                    o.remove("inputs");
                }
                d
            }
        };
        if data_key(m) != data_key(first) {
            return Err(merge_error(format!(
                "{} ran on other data than {} ({} vs {})",
                d.display(),
                dirs[0].display(),
                m["data"],
                first["data"]
            )));
        }
        if m.get("end").is_none_or(Value::is_null) || !d.join(SUMMARY).exists() {
            return Err(merge_error(format!(
                "{} has not finished (no end time or summary.json); resume it before merging",
                d.display()
            )));
        }
        if let Ok(summary) = read_json::<Value>(&d.join(SUMMARY)) {
            if let Some(missing) = summary.get("missing").and_then(Value::as_u64) {
                if missing > 0 {
                    return Err(merge_error(format!(
                        "{} still misses {missing} answer(s); rerun it before merging",
                        d.display()
                    )));
                }
            }
        }
    }
    let shards: Vec<Option<(usize, usize)>> = manifests
        .iter()
        .map(|m| {
            m["shard"]
                .as_str()
                .and_then(|s| crate::shard::parse_exact(s).ok())
        })
        .collect();
    if shards.iter().all(Option::is_none) {
        if dirs.len() > 1 {
            return Err(merge_error(format!(
                "{} unsharded runs of the same configuration overlap; merge shards (--shard I/N)",
                dirs.len()
            )));
        }
        return Ok(());
    }
    let Some(count) = shards.iter().flatten().map(|&(_, n)| n).next() else {
        return Ok(());
    };
    let mut seen = vec![None::<&PathBuf>; count];
    for (d, s) in dirs.iter().zip(&shards) {
        let Some((i, n)) = *s else {
            return Err(merge_error(format!(
                "{} is not a shard, the others are shards of {count}",
                d.display()
            )));
        };
        if n != count {
            return Err(merge_error(format!(
                "{} is shard {i}/{n}, the others are shards of {count}",
                d.display()
            )));
        }
        if let Some(other) = seen[i] {
            return Err(merge_error(format!(
                "shard {i}/{n} given twice ({} and {})",
                other.display(),
                d.display()
            )));
        }
        seen[i] = Some(d);
    }
    let missing: Vec<String> = (0..count)
        .filter(|&i| seen[i].is_none())
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(merge_error(format!(
            "incomplete shard set: missing shard(s) {}",
            missing.join(", ")
        )));
    }
    Ok(())
}

/// Merge the shards of a run of any kind into `out` and summarise: run directories
/// (`results.jsonl`: grounding, questions, MMVP, captions, the probes count, preprocess,
/// boxtool and surprisal), `cuelab mine` work directories, or `cuelab
/// embed` Parquet parts (files or dataset folders; `out` is then the merged `.parquet` file).
/// Refused unless the shards are finished runs of one configuration forming a complete,
/// non-overlapping shard set (or a single run).
pub fn merge_runs(dirs: &[PathBuf], out: &Path) -> Result<Merged> {
    if dirs.is_empty() {
        return Err(TaskError::Config(
            "merge needs at least one run directory".into(),
        ));
    }
    if crate::merge_kinds::is_mine_dir(&dirs[0]) {
        return crate::merge_kinds::merge_mine(dirs, out).map(Merged::Mine);
    }
    if !dirs[0].join(MANIFEST).exists() && crate::embed_parts::is_embed_input(&dirs[0]) {
        return crate::embed_parts::merge(dirs, out).map(Merged::Embed);
    }
    let manifests: Vec<Value> = dirs
        .iter()
        .map(|d| read_json(&d.join(MANIFEST)))
        .collect::<Result<_>>()?;
    check_shard_set(dirs, &manifests)?;
    let manifest = &manifests[0];
    let hash = manifest["config_hash"].as_str().unwrap_or("").to_string();
    let mut merged = manifest.clone();
    if let Some(o) = merged.as_object_mut() {
        o.insert("merged_from".into(), json!(dirs));
        o.insert("shard".into(), Value::Null);
        o.remove("end");
        if o.get("experiment")
            .and_then(Value::as_str)
            .is_some_and(|e| e.starts_with("probe-"))
        {
            // the probes record the images each shard asked about: the merged run asked them all
            let images: u64 = manifests.iter().filter_map(|m| m["images"].as_u64()).sum();
            o.insert("images".into(), json!(images));
        }
    }
    let order: Vec<(String, String)> = manifest["variants"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|x| {
                    (
                        x["id"].as_str().unwrap_or("").to_string(),
                        x["label"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let seed = manifest["seed"].as_u64().unwrap_or(0);
    let mut run = RunDir::open(out, &hash, &merged)?;
    match manifest["experiment"].as_str() {
        Some(VQA) => {
            for d in dirs {
                let rows: Vec<crate::vqa::VqaRow> = read_rows(&d.join(RESULTS))?;
                for r in rows {
                    run.append(&r.key.clone(), &r)?;
                }
            }
            let rows: Vec<crate::vqa::VqaRow> = run.rows()?;
            let summary = crate::vqa::summarize_vqa(&rows, &order, seed, 0);
            finish(&run, &summary, &crate::vqa::vqa_table(&summary))?;
            Ok(Merged::Vqa(summary))
        }
        Some(crate::probe::surprisal::SURPRISAL) => {
            crate::probe::surprisal::merge_into(&mut run, dirs, manifest, &order, seed)
                .map(Merged::Surprisal)
        }
        Some(crate::probe::count::EXPERIMENT | crate::probe::preprocess::EXPERIMENT) => {
            crate::probe::count::merge_into(&mut run, dirs, manifest, &order, seed)
                .map(Merged::ProbeCount)
        }
        Some(crate::probe::boxtool::EXPERIMENT) => {
            crate::probe::boxtool::merge_into(&mut run, dirs, seed).map(Merged::ProbeBoxtool)
        }
        Some(crate::caption::CAPTION) => {
            for d in dirs {
                let rows: Vec<crate::caption::CaptionRow> = read_rows(&d.join(RESULTS))?;
                for r in rows {
                    run.append(&r.key.clone(), &r)?;
                }
            }
            let rows: Vec<crate::caption::CaptionRow> = run.rows()?;
            let resamples = manifest["config"]["resamples"].as_u64().unwrap_or(1000) as usize;
            let summary =
                crate::caption::summarize_captions(&rows, &order, seed, resamples, 0, Some(out))?;
            finish(&run, &summary, &crate::caption::caption_table(&summary))?;
            Ok(Merged::Caption(summary))
        }
        Some(GROUNDING) | None => {
            for d in dirs {
                let rows: Vec<crate::grounding::GroundingRow> = read_rows(&d.join(RESULTS))?;
                for r in rows {
                    run.append(&r.key.clone(), &r)?;
                }
            }
            let rows: Vec<crate::grounding::GroundingRow> = run.rows()?;
            let mut summary = crate::grounding::summary::summarize(&rows, &order, seed);
            let counts: Vec<_> = manifests
                .iter()
                .map(|m| crate::grounding::run::inputs_of(&m["data"]))
                .collect();
            summary.inputs = crate::grounding::inputs::merge_shard_counts(&counts);
            finish(&run, &summary, &crate::grounding::summary::table(&summary))?;
            Ok(Merged::Grounding(summary))
        }
        Some(other) => Err(merge_error(format!(
            "{}: runs of kind {other:?} cannot be merged by this version",
            dirs[0].display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_and_limits_select() {
        let items: Vec<String> = (0..10).map(|i| format!("item{i}")).collect();
        let pick = |shard, limit| -> Vec<usize> {
            select(&items, shard, limit)
                .into_iter()
                .map(|(i, _)| i)
                .collect()
        };
        assert_eq!(pick(None, None), (0..10).collect::<Vec<_>>());
        assert_eq!(pick(None, Some(3)), vec![0, 1, 2]);
        // the shards partition the items, each by its key's hash
        let mut all: Vec<usize> = (0..3).flat_map(|k| pick(Some((k, 3)), None)).collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        for k in 0..3 {
            for i in pick(Some((k, 3)), None) {
                assert_eq!(crate::shard::shard_of(&items[i], 3), k);
            }
        }
        let first_two = pick(Some((1, 3)), Some(2));
        assert_eq!(first_two, pick(Some((1, 3)), None)[..2].to_vec());
        assert_eq!(parse_shard("1/4").unwrap(), (1, 4));
        for bad in ["4/4", "1", "a/2", "0/0"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }

    fn finished_shard(root: &Path, name: &str, shard: Option<&str>, hash: &str) -> PathBuf {
        let dir = root.join(name);
        let m = json!({"experiment": "grounding", "config_hash": hash, "shard": shard,
                       "variants": [], "seed": 0, "data": {"f": 1}});
        let run = RunDir::open(&dir, hash, &m).unwrap();
        run.finish(&json!({"variants": [], "paired": []})).unwrap();
        dir
    }

    #[test]
    fn merge_refuses_incomplete_or_mismatched_shard_sets() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        let s0 = finished_shard(r, "s0", Some("0/3"), "h");
        let s1 = finished_shard(r, "s1", Some("1/3"), "h");
        let s2 = finished_shard(r, "s2", Some("2/3"), "h");
        let other = finished_shard(r, "o", Some("2/3"), "other");
        let four = finished_shard(r, "f", Some("2/4"), "h");
        let whole = finished_shard(r, "w", None, "h");
        let err = |dirs: &[PathBuf]| {
            merge_runs(dirs, &r.join("out-err"))
                .expect_err("refused")
                .to_string()
        };
        let e = err(&[s0.clone(), s1.clone()]);
        assert!(e.contains("missing shard(s) 2/3"), "{e}");
        let e = err(&[s0.clone(), s1.clone(), s1.clone()]);
        assert!(e.contains("given twice"), "{e}");
        let e = err(&[s0.clone(), s1.clone(), four]);
        assert!(e.contains("shards of 3"), "{e}");
        let e = err(&[s0.clone(), s1.clone(), other]);
        assert!(e.contains("another configuration"), "{e}");
        let e = err(&[s0.clone(), whole.clone()]);
        assert!(e.contains("not a shard"), "{e}");
        let e = err(&[whole.clone(), whole.clone()]);
        assert!(e.contains("overlap"), "{e}");
        // an unfinished shard (no end stamp)
        let s2_unfinished = r.join("s2u");
        RunDir::open(
            &s2_unfinished,
            "h",
            &json!({"experiment": "grounding", "config_hash": "h", "shard": "2/3",
                    "data": {"f": 1}}),
        )
        .unwrap();
        let e = err(&[s0.clone(), s1.clone(), s2_unfinished]);
        assert!(e.contains("has not finished"), "{e}");
        // the complete set merges, and so does a single whole run
        assert!(merge_runs(&[s0, s1, s2], &r.join("merged")).is_ok());
        assert!(merge_runs(&[whole], &r.join("merged-whole")).is_ok());
    }
}
