//! The data half of a run's identity, shared by the run kinds whose configuration hash covers
//! only their settings and backend (questions, MMVP, captioning, the probes).
//!
//! A data description (what a command records as the manifest's `data`) says which data a run
//! read and how it was selected: the file's SHA-256 (see [`crate::runner::describe_data_file`]),
//! the split, the image root, filters. Resuming a run directory with any of them changed would
//! mix rows computed on other data (e.g. a questions file edited under the same sample ids), so
//! [`with_data`] folds them into the run's hash and [`crate::runner::start`] refuses the resume.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Keys that say where the data lies, not what it is: left out when the description holds the
/// data's checksum (`sha256`), so moving a data file keeps the identity but editing it does not.
const LOCATION_KEYS: &[&str] = &["file", "path", "coco", "scenes", "samples_file"];

/// Keys that report what loading found (skipped or malformed records, items without an image):
/// consequences of the data and the machine (an undecodable video, a missing image), not settings.
/// Left out so that fixing a missing file and resuming is not refused.
const REPORT_KEYS: &[&str] = &[
    "not_asked",
    "malformed_lines",
    "malformed_records",
    "without_image",
    "inputs",
];

/// The part of `description` that identifies the data: everything but [`REPORT_KEYS`], and
/// [`LOCATION_KEYS`] too when a checksum identifies the file.
pub fn data_identity(description: &Value) -> Value {
    let Some(fields) = description.as_object() else {
        return description.clone();
    };
    let has_checksum = fields.get("sha256").is_some_and(|v| !v.is_null());
    let kept: Map<String, Value> = fields
        .iter()
        .filter(|(k, _)| !REPORT_KEYS.contains(&k.as_str()))
        .filter(|(k, _)| !(has_checksum && LOCATION_KEYS.contains(&k.as_str())))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(kept)
}

/// A run's hash: its kind's `config_hash` (settings and backend) combined with the
/// [`data_identity`] of `data_description`.
pub fn with_data(config_hash: &str, data_description: &Value) -> String {
    let text = serde_json::json!({
        "config": config_hash,
        "data": data_identity(data_description),
    })
    .to_string();
    Sha256::digest(text.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn checksum_replaces_location_and_reports_are_left_out() {
        let a = json!({"file": "/a/q.jsonl", "sha256": "s1", "tasks": [], "not_asked": []});
        let moved = json!({"file": "/b/q.jsonl", "sha256": "s1", "tasks": [], "not_asked": [1]});
        assert_eq!(with_data("h", &a), with_data("h", &moved));
        let edited = json!({"file": "/a/q.jsonl", "sha256": "s2", "tasks": []});
        assert_ne!(with_data("h", &a), with_data("h", &edited));
        let filtered = json!({"file": "/a/q.jsonl", "sha256": "s1", "tasks": ["counting"]});
        assert_ne!(with_data("h", &a), with_data("h", &filtered));
        assert_ne!(with_data("h", &a), with_data("g", &a));
        // Without a checksum the location is the identity.
        let folder = json!({"path": "/a"});
        assert_ne!(
            with_data("h", &folder),
            with_data("h", &json!({"path": "/b"}))
        );
    }
}
