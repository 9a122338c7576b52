//! A run directory: `manifest.json`, `results.jsonl` (one row per finished unit of work,
//! appended and flushed as it finishes) and `summary.json`.
//!
//! Resuming: opening an existing directory reads `results.jsonl`, drops a torn last line left
//! by a killed process (an unterminated tail: the only thing truncated), and reports which keys
//! are done, so work is never repeated or counted twice. A complete line that is not valid JSON
//! anywhere in the file stops the run with an error naming the line, and nothing is deleted. A
//! directory made for a different configuration is refused rather than mixed.
//!
//! Concurrency: an open run holds an exclusive advisory lock on `run.lock` (released by the
//! operating system when the process ends, even by `kill -9`), so a second process opening the
//! same directory is refused with a clear error instead of appending to the same file.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::{Result, TaskError};

/// File names inside a run directory.
pub const MANIFEST: &str = "manifest.json";
/// Per-row results.
pub const RESULTS: &str = "results.jsonl";
/// Final summary.
pub const SUMMARY: &str = "summary.json";
/// The lock file held while a process has the run open.
pub const LOCK: &str = "run.lock";

/// An open run directory.
#[derive(Debug)]
pub struct RunDir {
    dir: PathBuf,
    results: File,
    done: BTreeSet<String>,
    /// Held for the life of the run; the OS releases the lock when it is dropped or the
    /// process dies.
    _lock: File,
}

impl RunDir {
    /// Create or reopen `dir` for a run whose identity is `config_hash`. `manifest` is written
    /// when the directory is new (and its `end` field updated by [`RunDir::finish`]).
    pub fn open(dir: &Path, config_hash: &str, manifest: &Value) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| TaskError::io(dir, e))?;
        let lock = lock_dir(dir)?;
        let manifest_path = dir.join(MANIFEST);
        if manifest_path.exists() {
            let old: Value = read_json(&manifest_path)?;
            let old_hash = old.get("config_hash").and_then(Value::as_str).unwrap_or("");
            if old_hash != config_hash {
                return Err(TaskError::RunMismatch {
                    dir: dir.to_path_buf(),
                    found: old_hash.to_string(),
                    expected: config_hash.to_string(),
                });
            }
        } else {
            write_json_atomic(&manifest_path, manifest)?;
        }
        let results_path = dir.join(RESULTS);
        let done = recover_results(&results_path)?;
        let results = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&results_path)
            .map_err(|e| TaskError::io(&results_path, e))?;
        Ok(RunDir {
            dir: dir.to_path_buf(),
            results,
            done,
            _lock: lock,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// True when the row with this key is already in `results.jsonl`.
    pub fn is_done(&self, key: &str) -> bool {
        self.done.contains(key)
    }

    /// Number of finished rows.
    pub fn done_count(&self) -> usize {
        self.done.len()
    }

    /// Append one row (which must carry a string field `key`) and flush it to disk.
    pub fn append<T: Serialize>(&mut self, key: &str, row: &T) -> Result<()> {
        if self.done.contains(key) {
            return Ok(());
        }
        let mut line = serde_json::to_string(row).map_err(|e| TaskError::Json {
            path: self.dir.join(RESULTS),
            message: e.to_string(),
        })?;
        line.push('\n');
        let path = self.dir.join(RESULTS);
        self.results
            .write_all(line.as_bytes())
            .and_then(|_| self.results.flush())
            .and_then(|_| self.results.sync_data())
            .map_err(|e| TaskError::io(&path, e))?;
        self.done.insert(key.to_string());
        Ok(())
    }

    /// Every row in `results.jsonl`, sorted by key (so summaries do not depend on the order
    /// rows finished in).
    pub fn rows<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        read_rows(&self.dir.join(RESULTS))
    }

    /// Write `summary.json` and stamp the manifest's `end` time.
    pub fn finish(&self, summary: &Value) -> Result<()> {
        write_json_atomic(&self.dir.join(SUMMARY), summary)?;
        let manifest_path = self.dir.join(MANIFEST);
        let mut manifest: Value = read_json(&manifest_path)?;
        if let Some(obj) = manifest.as_object_mut() {
            obj.insert("end".into(), Value::String(now_rfc3339()));
        }
        write_json_atomic(&manifest_path, &manifest)
    }
}

/// Take the run directory's exclusive lock, or explain who holds it.
fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK);
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| TaskError::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            return Err(TaskError::Locked {
                dir: dir.to_path_buf(),
                holder: holder.trim().to_string(),
            });
        }
        Err(std::fs::TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
            tracing::warn!(
                "{}: this file system has no file locks; nothing stops a second process from \
                 writing to this run directory",
                dir.display()
            );
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(TaskError::io(&path, e)),
    }
    // Record who holds it (for the message a second process prints); a lock left by a killed
    // process is simply taken over, as the OS released it with the process.
    let me = format!("pid {}", std::process::id());
    file.set_len(0)
        .and_then(|_| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(me.as_bytes()))
        .and_then(|_| file.flush())
        .map_err(|e| TaskError::io(&path, e))?;
    Ok(file)
}

/// Read every row of a results file, sorted by its `key` field.
pub fn read_rows<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let file = File::open(path).map_err(|e| TaskError::io(path, e))?;
    let mut keyed: Vec<(String, Value)> = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| TaskError::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&line).map_err(|e| TaskError::Json {
            path: path.to_path_buf(),
            message: format!("line {}: {e}", i + 1),
        })?;
        let key = v
            .get("key")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        keyed.push((key, v));
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|a, b| a.0 == b.0);
    keyed
        .into_iter()
        .map(|(_, v)| {
            serde_json::from_value(v).map_err(|e| TaskError::Json {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
        })
        .collect()
}

/// Scan a results file: keep complete rows, truncate a torn (unterminated) tail, return the
/// done keys. A complete line that does not parse, or a row without a string `key`, is an error
/// naming the line; nothing is deleted then.
fn recover_results(path: &Path) -> Result<BTreeSet<String>> {
    let mut done = BTreeSet::new();
    if !path.exists() {
        return Ok(done);
    }
    let bytes = std::fs::read(path).map_err(|e| TaskError::io(path, e))?;
    let mut start = 0usize;
    let mut line_no = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        if b != b'\n' {
            continue;
        }
        line_no += 1;
        let line = &bytes[start..i];
        start = i + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let key = serde_json::from_slice::<Value>(line)
            .map_err(|e| e.to_string())
            .and_then(|v| match v.get("key").and_then(Value::as_str) {
                Some(k) => Ok(k.to_string()),
                None => Err("the row has no string field `key`".to_string()),
            });
        match key {
            Ok(k) => {
                done.insert(k);
            }
            Err(message) => {
                return Err(TaskError::Json {
                    path: path.to_path_buf(),
                    message: format!(
                        "line {line_no} is not a valid result row ({message}); nothing was \
                         deleted: repair or remove that line, then rerun to resume"
                    ),
                })
            }
        }
    }
    if start < bytes.len() {
        let tail = &bytes[start..];
        if tail.iter().all(u8::is_ascii_whitespace) {
            return Ok(done);
        }
        tracing::warn!(
            "{}: dropping {} bytes of an unfinished last row left by an interrupted run",
            path.display(),
            tail.len()
        );
        let f = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| TaskError::io(path, e))?;
        f.set_len(start as u64)
            .and_then(|_| f.sync_data())
            .map_err(|e| TaskError::io(path, e))?;
    }
    Ok(done)
}

/// Read a JSON file.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| TaskError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| TaskError::Json {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Write JSON through a temporary file renamed into place.
pub fn write_json_atomic(path: &Path, value: &Value) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = cuelab_cue::atomic_file_in(dir).map_err(|e| TaskError::io(dir, e))?;
    let text = serde_json::to_string_pretty(value).map_err(|e| TaskError::Json {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    tmp.write_all(text.as_bytes())
        .map_err(|e| TaskError::io(path, e))?;
    tmp.persist(path)
        .map_err(|e| TaskError::io(path, e.error))?;
    Ok(())
}

/// Current UTC time as RFC 3339 (seconds).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a (year, month, day) civil date.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn torn_tail_is_dropped_and_keys_resume() {
        let dir = tempfile::tempdir().unwrap();
        let m = json!({"config_hash": "abc"});
        {
            let mut run = RunDir::open(dir.path(), "abc", &m).unwrap();
            run.append("a", &json!({"key": "a", "v": 1})).unwrap();
            run.append("b", &json!({"key": "b", "v": 2})).unwrap();
        }
        // simulate kill -9 in the middle of a write
        let p = dir.path().join(RESULTS);
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"key\": \"c\", \"v\"").unwrap();
        drop(f);
        let mut run = RunDir::open(dir.path(), "abc", &m).unwrap();
        assert!(run.is_done("a") && run.is_done("b") && !run.is_done("c"));
        run.append("c", &json!({"key": "c", "v": 3})).unwrap();
        run.append("a", &json!({"key": "a", "v": 99})).unwrap(); // already done: ignored
        let rows: Vec<Value> = run.rows().unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0]["v"], 1);
        assert!(RunDir::open(dir.path(), "other", &m).is_err());
    }

    #[test]
    fn a_corrupt_middle_line_is_an_error_and_deletes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let m = json!({"config_hash": "abc"});
        {
            let mut run = RunDir::open(dir.path(), "abc", &m).unwrap();
            run.append("a", &json!({"key": "a"})).unwrap();
        }
        let p = dir.path().join(RESULTS);
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"key\": \"b\"\n{\"key\": \"c\"}\n{\"key\": \"d\"")
            .unwrap();
        drop(f);
        let before = std::fs::read(&p).unwrap();
        let err = RunDir::open(dir.path(), "abc", &m).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        assert_eq!(std::fs::read(&p).unwrap(), before, "nothing may be deleted");

        // A row without a key is refused the same way.
        std::fs::write(&p, b"{\"key\": \"a\"}\n{\"v\": 1}\n").unwrap();
        let err = RunDir::open(dir.path(), "abc", &m).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("key"), "{err}");
    }

    #[test]
    fn a_second_opener_is_refused_until_the_first_closes() {
        let dir = tempfile::tempdir().unwrap();
        let m = json!({"config_hash": "abc"});
        let first = RunDir::open(dir.path(), "abc", &m).unwrap();
        let err = RunDir::open(dir.path(), "abc", &m).unwrap_err().to_string();
        assert!(err.contains("in use") && err.contains("pid"), "{err}");
        drop(first);
        // A lock file left behind (as by kill -9) is taken over.
        assert!(dir.path().join(LOCK).exists());
        RunDir::open(dir.path(), "abc", &m).unwrap();
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_000), (2024, 10, 4));
    }
}
