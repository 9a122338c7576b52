//! Recognise a dataset's format from what is on disk, so `cuelab data check PATH` needs no
//! `--format` for the layouts cuelab knows: a `cuelab scenes` folder, a RefCOCO folder or refs
//! pickle, COCO instances/captions JSON, Karpathy's `dataset_coco.json`, caption results, MMVP /
//! MMVP-VLM folders or `Questions.csv`, an SSv2 folder and generic JSONL.

use std::path::Path;

use serde_json::Value;

use crate::check::Format;
use crate::error::{DataError, Result};

/// Guess the format of `path`, or explain why it cannot be told.
pub fn detect_format(path: &Path) -> Result<Format> {
    if path.is_dir() {
        detect_folder(path)
    } else if path.is_file() {
        detect_file(path)
    } else {
        Err(DataError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
        })
    }
}

fn unknown(path: &Path, why: &str) -> DataError {
    DataError::Invalid(format!(
        "{}: cannot tell the dataset format ({why}); pass --format",
        path.display()
    ))
}

fn detect_folder(dir: &Path) -> Result<Format> {
    let has = |name: &str| dir.join(name).is_file();
    if has("samples.jsonl") && dir.join("refcoco").is_dir() && dir.join("coco").is_dir() {
        return Ok(Format::Scenes);
    }
    let names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|source| DataError::Io {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    if names
        .iter()
        .any(|n| n.starts_with("refs(") && n.ends_with(").p"))
    {
        return Ok(Format::Refcoco);
    }
    if has("Questions.csv") {
        return detect_questions_csv(&dir.join("Questions.csv"));
    }
    if has("labels.json") && (has("train.json") || has("validation.json")) {
        return Ok(Format::Ssv2);
    }
    Err(unknown(
        dir,
        "no samples.jsonl with scene exports, refs(*).p, Questions.csv or SSv2 labels.json",
    ))
}

fn detect_file(path: &Path) -> Result<Format> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if name.ends_with(".jsonl") {
        return Ok(Format::Jsonl);
    }
    if name.starts_with("refs(") && name.ends_with(").p") {
        return Ok(Format::Refcoco);
    }
    if name.ends_with(".csv") {
        return detect_questions_csv(path);
    }
    if !name.ends_with(".json") {
        return Err(unknown(path, "not .jsonl, .json, .csv or refs(*).p"));
    }
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|source| DataError::Json {
        path: path.to_path_buf(),
        context: "recognising the format".into(),
        source,
    })?;
    match &value {
        Value::Array(items) => {
            let first = items.first();
            if first.is_none_or(|r| r.get("image_id").is_some() && r.get("caption").is_some()) {
                Ok(Format::CaptionResults)
            } else {
                Err(unknown(
                    path,
                    "a JSON list whose rows are not {image_id, caption}",
                ))
            }
        }
        Value::Object(obj) => {
            let images = obj.get("images").and_then(Value::as_array);
            if images
                .and_then(|v| v.first())
                .is_some_and(|im| im.get("sentences").is_some())
            {
                return Ok(Format::Karpathy);
            }
            if let Some(anns) = obj.get("annotations").and_then(Value::as_array) {
                let first = anns.first();
                if first.is_some_and(|a| a.get("caption").is_some()) {
                    return Ok(Format::CocoCaptions);
                }
                if first.is_none_or(|a| a.get("bbox").is_some() || a.get("category_id").is_some())
                    && obj.get("categories").is_some()
                {
                    return Ok(Format::CocoInstances);
                }
            }
            Err(unknown(
                path,
                "a JSON object that is neither COCO instances/captions nor Karpathy's dataset",
            ))
        }
        _ => Err(unknown(path, "JSON that is neither a list nor an object")),
    }
}

/// MMVP's `Questions.csv` has a `Correct Answer` column; MMVP-VLM's has `Statement`.
fn detect_questions_csv(path: &Path) -> Result<Format> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let header = text.lines().next().unwrap_or_default();
    if header.contains("Statement") {
        Ok(Format::MmvpVlm)
    } else if header.contains("Correct Answer") {
        Ok(Format::Mmvp)
    } else {
        Err(unknown(
            path,
            "a CSV without MMVP's `Correct Answer` or MMVP-VLM's `Statement` column",
        ))
    }
}
