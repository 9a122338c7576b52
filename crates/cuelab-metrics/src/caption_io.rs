//! Reading caption files: COCO `captions_*.json` (annotations with `image_id`/`caption`) and COCO
//! results (a list of `{image_id, caption}`), or the simple `{image_id: [refs]}` /
//! `{image_id: caption}` objects. Bad entries are skipped and reported, never silently dropped.
//! Empty captions are not bad entries: pycocoevalcap scores them (an empty candidate gets 0 and
//! stays in the mean), so they are kept; [`crate::CaptionScores`] lists them for a warning.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::caption_set::CaptionSet;
use crate::error::{Error, Result};

/// One input entry left out of the evaluation, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The image id concerned.
    pub image_id: String,
    /// Why it was skipped.
    pub reason: String,
}

fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn parse_json(bytes: &[u8], what: &str) -> Result<Value> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(Error::Format(format!(
            "{what}: not valid UTF-8 (first bad byte at offset {})",
            e.valid_up_to()
        )));
    }
    serde_json::from_slice(bytes).map_err(|e| Error::Format(format!("{what}: invalid JSON: {e}")))
}

/// Reference captions keyed by image id.
pub type RefMap = BTreeMap<String, Vec<String>>;

/// Parse reference captions. Empty captions are kept (pycocoevalcap keeps them: they count in
/// CIDEr-D's mean over references and in BLEU's closest length); non-strings are reported.
pub fn parse_refs(bytes: &[u8]) -> Result<(RefMap, Vec<Skipped>)> {
    let v = parse_json(bytes, "references")?;
    let mut refs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut skipped = Vec::new();
    let mut add = |id: String, cap: &Value, skipped: &mut Vec<Skipped>| match cap.as_str() {
        Some(c) => refs.entry(id).or_default().push(c.to_string()),
        None => skipped.push(Skipped {
            image_id: id,
            reason: "reference caption is not a string".into(),
        }),
    };
    match &v {
        Value::Object(m) if m.get("annotations").is_some_and(Value::is_array) => {
            for a in m["annotations"].as_array().into_iter().flatten() {
                let Some(id) = a.get("image_id").and_then(id_string) else {
                    return Err(Error::Format(
                        "references: an annotation has no image_id".into(),
                    ));
                };
                add(id, a.get("caption").unwrap_or(&Value::Null), &mut skipped);
            }
        }
        Value::Object(m) => {
            for (id, caps) in m {
                match caps {
                    Value::Array(list) => {
                        list.iter().for_each(|c| add(id.clone(), c, &mut skipped))
                    }
                    other => add(id.clone(), other, &mut skipped),
                }
            }
        }
        _ => {
            return Err(Error::Format(
                "references: expected a COCO captions file or an {image_id: [captions]} object"
                    .into(),
            ))
        }
    }
    Ok((refs, skipped))
}

/// Parse candidate captions; duplicate and non-string candidates are skipped and reported.
/// Empty candidates are kept: they are scored (0), as pycocoevalcap scores them.
pub fn parse_cands(bytes: &[u8]) -> Result<(BTreeMap<String, String>, Vec<Skipped>)> {
    let v = parse_json(bytes, "candidates")?;
    let mut cands = BTreeMap::new();
    let mut skipped = Vec::new();
    let mut add = |id: String, cap: &Value, skipped: &mut Vec<Skipped>| {
        let cap = match cap {
            Value::Array(a) if a.len() == 1 => &a[0],
            other => other,
        };
        match cap.as_str() {
            Some(_) if cands.contains_key(&id) => skipped.push(Skipped {
                image_id: id,
                reason: "duplicate candidate (first one kept)".into(),
            }),
            Some(c) => {
                cands.insert(id, c.to_string());
            }
            None => skipped.push(Skipped {
                image_id: id,
                reason: "candidate is not one string".into(),
            }),
        }
    };
    match &v {
        Value::Array(list) => {
            for r in list {
                let Some(id) = r.get("image_id").and_then(id_string) else {
                    return Err(Error::Format("candidates: a result has no image_id".into()));
                };
                add(id, r.get("caption").unwrap_or(&Value::Null), &mut skipped);
            }
        }
        Value::Object(m) => {
            for (id, c) in m {
                add(id.clone(), c, &mut skipped);
            }
        }
        _ => {
            return Err(Error::Format(
                "candidates: expected a COCO results list or an {image_id: caption} object".into(),
            ))
        }
    }
    Ok((cands, skipped))
}

/// Pair references and candidates; images with only one side are skipped and reported.
pub fn pair(
    refs: BTreeMap<String, Vec<String>>,
    cands: BTreeMap<String, String>,
) -> (CaptionSet, Vec<Skipped>) {
    let mut set = CaptionSet::default();
    let mut skipped = Vec::new();
    for (id, c) in cands {
        if refs.contains_key(&id) {
            set.cands.insert(id, c);
        } else {
            skipped.push(Skipped {
                image_id: id,
                reason: "candidate for an image with no references".into(),
            });
        }
    }
    for (id, r) in refs {
        if set.cands.contains_key(&id) {
            set.refs.insert(id, r);
        } else {
            skipped.push(Skipped {
                image_id: id,
                reason: "references but no candidate".into(),
            });
        }
    }
    (set, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coco_and_simple_formats() {
        let coco = br#"{"images":[],"annotations":[{"image_id":1,"caption":"a dog"},{"image_id":1,"caption":" "},{"image_id":2,"caption":"x"}]}"#;
        let (r, s) = parse_refs(coco).unwrap();
        assert_eq!(r["1"], vec!["a dog", " "]);
        assert!(s.is_empty());
        let (c, s) = parse_cands(br#"[{"image_id":1,"caption":"dog"},{"image_id":1,"caption":"cat"},{"image_id":3,"caption":""},{"image_id":2,"caption":7}]"#).unwrap();
        assert_eq!(c["1"], "dog");
        assert_eq!(c["3"], "");
        assert_eq!(s.len(), 2);
        let (set, s) = pair(r, c);
        assert_eq!(set.cands.len(), 1);
        assert_eq!(s.len(), 2);
        let (r, _) = parse_refs(br#"{"a":["x","y"]}"#).unwrap();
        assert_eq!(r["a"].len(), 2);
        assert!(parse_cands(b"[\xff]").is_err());
    }
}
