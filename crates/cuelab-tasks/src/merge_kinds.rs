//! Merging the shards of run kinds that do not keep a `results.jsonl` run directory: `mine`
//! work directories (one file per finished row block) and `embed` Parquet parts. Called by
//! [`crate::runner::merge_runs`], which recognises them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Result, TaskError};
use crate::mine::pipeline::{finish, FinishOptions, Finished};
use crate::mine::run::{collect, manifest_path};

/// True when `dir` is a `cuelab mine` work directory.
pub fn is_mine_dir(dir: &Path) -> bool {
    manifest_path(dir).is_file()
}

/// The finished row blocks in a mine work directory.
fn block_files(dir: &Path) -> Result<Vec<String>> {
    let blocks = dir.join("blocks");
    if !blocks.is_dir() {
        return Ok(Vec::new());
    }
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&blocks).map_err(|e| TaskError::io(&blocks, e))? {
        let entry = entry.map_err(|e| TaskError::io(&blocks, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("block-") && name.ends_with(".json") {
            names.push(name);
        }
    }
    Ok(names)
}

/// Merge `mine` shard work directories into `out`: refused when a directory is not a mine
/// work directory, when two hold the same row block (overlapping shards), when their inputs or
/// settings differ (manifest), or when a row block is missing; then the outputs an unsharded
/// run writes (`pairs.jsonl`, `pairs.parquet`, `summary.json`, ...) with default output options.
pub fn merge_mine(dirs: &[PathBuf], out: &Path) -> Result<Finished> {
    let mut owner: BTreeMap<String, &PathBuf> = BTreeMap::new();
    for d in dirs {
        if !is_mine_dir(d) {
            return Err(TaskError::Merge(format!(
                "{} is not a `cuelab mine` work directory (no mine.json), {} is",
                d.display(),
                dirs[0].display()
            )));
        }
        for b in block_files(d)? {
            if let Some(other) = owner.insert(b.clone(), d) {
                return Err(TaskError::Merge(format!(
                    "{} and {} both hold {b}: the shards overlap (merge each shard once)",
                    other.display(),
                    d.display()
                )));
            }
        }
    }
    let collected = collect(dirs).map_err(|e| match e {
        TaskError::Config(m) => TaskError::Merge(format!("incomplete shard set: {m}")),
        other => other,
    })?;
    finish(out, &collected, &FinishOptions::default())
}

/// The summary table of a merged mine run.
pub fn mine_table(f: &Finished) -> String {
    format!(
        "{} images: {} CLIP candidates, {} CLIP-blind pairs, {} near-duplicate pairs ({} images \
         excluded), {} pairs in the MMVP skeleton\n",
        f.n, f.clip_candidates, f.pairs, f.duplicates, f.excluded, f.mmvp_pairs
    )
}
