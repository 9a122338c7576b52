//! The generic JSONL format: one [`Sample`] per line.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};
use crate::sample::Sample;
use crate::util;

/// Samples read from a file, and the lines skipped when asked to continue past bad ones.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The samples read.
    pub samples: Vec<Sample>,
    /// Errors of records that were skipped (empty unless `skip_bad`).
    pub skipped: Vec<DataError>,
}

/// Resolve a media path relative to `base` (absolute paths are kept).
pub fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Read a JSONL file. Blank lines are ignored. With `skip_bad`, malformed lines are collected in
/// [`Loaded::skipped`] instead of failing.
pub fn read(path: &Path, skip_bad: bool) -> Result<Loaded> {
    let reader = util::open(path)?;
    let mut out = Loaded::default();
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Sample>(&line) {
            Ok(s) => out.samples.push(s),
            Err(source) => {
                let err = DataError::Json {
                    path: path.to_path_buf(),
                    context: format!("line {}", i + 1),
                    source,
                };
                if skip_bad {
                    out.skipped.push(err);
                } else {
                    return Err(err);
                }
            }
        }
    }
    Ok(out)
}

/// Serialise samples as JSONL bytes.
pub fn to_bytes(samples: &[Sample]) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    for s in samples {
        serde_json::to_writer(&mut buf, s).map_err(|source| DataError::Json {
            path: PathBuf::from("<memory>"),
            context: format!("sample {}", s.id),
            source,
        })?;
        // Writing to a Vec cannot fail.
        let _ = buf.write_all(b"\n");
    }
    Ok(buf)
}

/// Write samples to a JSONL file.
pub fn write(path: &Path, samples: &[Sample]) -> Result<()> {
    util::write_bytes(path, &to_bytes(samples)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Task;

    #[test]
    fn round_trip_and_skip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jsonl");
        let s = vec![Sample::new("1", "d", Task::Caption)];
        write(&p, &s).unwrap();
        assert_eq!(read(&p, false).unwrap().samples, s);
        std::fs::write(
            &p,
            "{\"id\":\"1\",\"dataset\":\"d\",\"task\":\"caption\"}\n{\"id\":\n",
        )
        .unwrap();
        let err = read(&p, false).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        let l = read(&p, true).unwrap();
        assert_eq!((l.samples.len(), l.skipped.len()), (1, 1));
    }
}
