//! A run directory read from its files only: `manifest.json` (grounding and question runs),
//! `summary.json`, `results.jsonl` (grounding, questions) or `per_image.jsonl` and
//! `clipscore.jsonl` (caption evaluation), and `timing.json` when present. Nothing is imported
//! from the crates that wrote them: the page depends on the file formats only.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{ReportError, Result};

/// One run directory, loaded.
#[derive(Debug, Clone)]
pub struct Run {
    /// The directory as given.
    pub dir: PathBuf,
    /// Short name shown on the page (the directory's last component, made unique by the caller).
    pub label: String,
    /// `manifest.json` (`Value::Null` when the run has none, as caption evaluation).
    pub manifest: Value,
    /// `summary.json`.
    pub summary: Value,
    /// Rows of `results.jsonl` (or `per_image.jsonl`), sorted by `key` (or `image_id`), with
    /// later duplicates of a key dropped as the runner does.
    pub rows: Vec<Value>,
    /// Rows of `clipscore.jsonl` (caption evaluation with images).
    pub clipscore: Vec<Value>,
    /// `timing.json` when present.
    pub timing: Value,
}

impl Run {
    /// Read the run directory `dir`.
    pub fn load(dir: &Path) -> Result<Run> {
        let summary_path = dir.join("summary.json");
        if !summary_path.is_file() {
            return Err(ReportError::NotARun(dir.to_path_buf()));
        }
        let summary = read_json(&summary_path)?;
        let manifest = read_json_opt(&dir.join("manifest.json"))?;
        let timing = read_json_opt(&dir.join("timing.json"))?;
        let mut rows = Vec::new();
        for (name, key) in [("results.jsonl", "key"), ("per_image.jsonl", "image_id")] {
            let p = dir.join(name);
            if p.is_file() {
                rows = read_jsonl(&p, Some(key))?;
                break;
            }
        }
        let cs = dir.join("clipscore.jsonl");
        let clipscore = if cs.is_file() {
            read_jsonl(&cs, Some("image_id"))?
        } else {
            Vec::new()
        };
        let label = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        Ok(Run {
            dir: dir.to_path_buf(),
            label,
            manifest,
            summary,
            rows,
            clipscore,
            timing,
        })
    }

    /// The `experiment` field of the manifest (`grounding`, `vqa`), or `caption` for a
    /// caption-evaluation directory, or `unknown`.
    pub fn experiment(&self) -> &str {
        if let Some(e) = self.manifest.get("experiment").and_then(Value::as_str) {
            return e;
        }
        if self.summary.get("cider_d").is_some() {
            return "caption";
        }
        "unknown"
    }

    /// Variants in run order as (id, label), from the manifest or else the summary.
    pub fn variants(&self) -> Vec<(String, String)> {
        let list = self
            .manifest
            .get("variants")
            .or_else(|| self.summary.get("variants"))
            .and_then(Value::as_array);
        list.map(|vs| {
            vs.iter()
                .map(|v| {
                    let id = v["id"].as_str().unwrap_or("").to_string();
                    let label = v["label"].as_str().unwrap_or(&id).to_string();
                    (id, label)
                })
                .collect()
        })
        .unwrap_or_default()
    }
}

/// Read a JSON file.
pub fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| ReportError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| ReportError::Json {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn read_json_opt(path: &Path) -> Result<Value> {
    if path.is_file() {
        read_json(path)
    } else {
        Ok(Value::Null)
    }
}

/// Read a JSONL file. A torn last line (a run killed mid-write) is skipped, as the runner does
/// when it resumes; a malformed line elsewhere is an error. With `key`, rows are sorted by that
/// string field and later duplicates dropped.
pub fn read_jsonl(path: &Path, key: Option<&str>) -> Result<Vec<Value>> {
    let file = File::open(path).map_err(|e| ReportError::io(path, e))?;
    let lines: Vec<String> = BufReader::new(file)
        .lines()
        .collect::<std::io::Result<_>>()
        .map_err(|e| ReportError::io(path, e))?;
    let last = lines.iter().rposition(|l| !l.trim().is_empty());
    let mut rows = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(v) => rows.push(v),
            Err(_) if Some(i) == last => break,
            Err(e) => {
                return Err(ReportError::Json {
                    path: path.to_path_buf(),
                    message: format!("line {}: {e}", i + 1),
                })
            }
        }
    }
    if let Some(k) = key {
        let get = |v: &Value| v.get(k).map(crate::html::text).unwrap_or_default();
        // Stable sort keeps the first of duplicates first; dedup keeps it.
        rows.sort_by_key(get);
        rows.dedup_by(|b, a| get(a) == get(b));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_tail_is_skipped_and_duplicates_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.jsonl");
        std::fs::write(
            &p,
            "{\"key\":\"b\",\"v\":1}\n{\"key\":\"a\",\"v\":2}\n{\"key\":\"b\",\"v\":3}\n{\"key\":\"c\",",
        )
        .unwrap();
        let rows = read_jsonl(&p, Some("key")).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["key"], "a");
        assert_eq!(rows[1]["v"], 1);
        std::fs::write(&p, "{\"key\":\"b\"}\nnot json\n{\"key\":\"c\"}\n").unwrap();
        assert!(read_jsonl(&p, Some("key")).is_err());
    }
}
