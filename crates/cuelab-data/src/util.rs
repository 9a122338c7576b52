//! Small file helpers shared by the loaders.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{DataError, Result};

/// Open a file for buffered reading, naming it in the error.
pub(crate) fn open(path: &Path) -> Result<BufReader<File>> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// Read and parse a whole JSON file.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path, context: &str) -> Result<T> {
    let reader = open(path)?;
    serde_json::from_reader(reader).map_err(|source| DataError::Json {
        path: path.to_path_buf(),
        context: context.to_string(),
        source,
    })
}

/// Serialise `value` as compact JSON to `path`, creating parent folders.
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value).map_err(|source| DataError::Json {
        path: path.to_path_buf(),
        context: "serialising".into(),
        source,
    })?;
    write_bytes(path, &bytes)
}

/// Write bytes to `path`, creating parent folders.
pub(crate) fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let file = File::create(path).map_err(io)?;
    let mut w = BufWriter::new(file);
    w.write_all(bytes).map_err(io)?;
    w.flush().map_err(io)
}

/// Convert a COCO `[x, y, w, h]` list into a box, rejecting malformed ones.
pub(crate) fn xywh(path: &Path, record: &str, b: &[f64]) -> Result<cuelab_cue::BoxXyxy> {
    if b.len() != 4 {
        return Err(DataError::record(
            path,
            record,
            format!("bbox must have 4 numbers, found {}", b.len()),
        ));
    }
    if b[2] < 0.0 || b[3] < 0.0 {
        return Err(DataError::record(path, record, "bbox has negative size"));
    }
    cuelab_cue::BoxXyxy::from_xywh(b[0] as f32, b[1] as f32, b[2] as f32, b[3] as f32)
        .map_err(|e| DataError::record(path, record, e.to_string()))
}
