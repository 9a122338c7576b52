//! RefCOCO / RefCOCO+ / RefCOCOg: `refs(unc|umd|google).p` (a Python pickle: a list of dicts)
//! plus the COCO `instances.json` of the same folder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::coco::{parse_segmentation, Instances};
use crate::error::{DataError, Result};
use crate::jsonl::Loaded;
use crate::sample::{Expression, Sample, Task, TextField};
use crate::util;

/// One sentence of a ref.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefSentence {
    /// Tokens.
    #[serde(default)]
    pub tokens: Vec<String>,
    /// The sentence as typed.
    pub raw: String,
    /// Sentence id.
    pub sent_id: u64,
    /// The normalised sentence.
    #[serde(default)]
    pub sent: String,
}

/// One record of a refs pickle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ref {
    /// COCO image id.
    pub image_id: u64,
    /// Split (`train`, `val`, `test`, `testA`, `testB`).
    pub split: String,
    /// Sentences.
    pub sentences: Vec<RefSentence>,
    /// File name (COCO name with an annotation-id suffix).
    #[serde(default)]
    pub file_name: String,
    /// COCO category id.
    pub category_id: u64,
    /// COCO annotation id of the target.
    pub ann_id: u64,
    /// Sentence ids.
    #[serde(default)]
    pub sent_ids: Vec<u64>,
    /// Ref id.
    pub ref_id: u64,
}

/// Read a refs pickle (any protocol; Python 2 byte strings are decoded as UTF-8).
pub fn read_refs(path: &Path) -> Result<Vec<Ref>> {
    let reader = util::open(path)?;
    let opts = serde_pickle::DeOptions::new().decode_strings();
    serde_pickle::from_reader(reader, opts).map_err(|e| DataError::Pickle {
        path: path.to_path_buf(),
        message: format!("expected a list of ref dicts: {e}"),
    })
}

/// Write a refs pickle (used by the synthetic exporter).
pub fn write_refs(path: &Path, refs: &[Ref]) -> Result<()> {
    let bytes = serde_pickle::to_vec(&refs, serde_pickle::SerOptions::new()).map_err(|e| {
        DataError::Pickle {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    })?;
    util::write_bytes(path, &bytes)
}

/// Find `refs(*).p` in `dir` (the first in name order) and `instances.json`; `dir` may also be
/// the refs file itself, with `instances.json` beside it.
pub fn find_files(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    if dir.is_file() {
        let parent = dir.parent().unwrap_or(Path::new("."));
        return Ok((dir.to_path_buf(), parent.join("instances.json")));
    }
    let rd = std::fs::read_dir(dir).map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut refs: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("refs(") && n.ends_with(").p"))
        })
        .collect();
    refs.sort();
    let refs = refs.into_iter().next().ok_or_else(|| DataError::Io {
        path: dir.join("refs(umd).p"),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no refs(*).p in folder"),
    })?;
    Ok((refs, dir.join("instances.json")))
}

/// Every expression of the refs in `split` (each ref's sentences in order, refs in file order),
/// as `field` gives it: the pool seed 004 draws its debias prompts from (`split = "train"`).
pub fn split_expressions(refs: &[Ref], split: &str, field: TextField) -> Vec<String> {
    refs.iter()
        .filter(|r| r.split == split)
        .flat_map(|r| r.sentences.iter())
        .map(|x| sentence_text(x, field).to_string())
        .collect()
}

/// The text of one sentence: `sent`, or `raw` when asked for or when `sent` is empty.
pub fn sentence_text(x: &RefSentence, field: TextField) -> &str {
    match field {
        TextField::Sent if !x.sent.trim().is_empty() => &x.sent,
        _ => &x.raw,
    }
}

/// Load grounding samples: one per ref, with every sentence, the target box (xyxy), category,
/// target mask/polygon and every instance box of the image as proposals. `split` filters;
/// with `image_dir`, each image must exist there.
pub fn load(
    refs_path: &Path,
    instances_path: &Path,
    image_dir: Option<&Path>,
    split: Option<&str>,
    skip_bad: bool,
) -> Result<Loaded> {
    let refs = read_refs(refs_path)?;
    load_refs(&refs, refs_path, instances_path, image_dir, split, skip_bad)
}

/// [`load`] with the refs already read from `refs_path` (to reuse them, e.g. for
/// [`split_expressions`]). Each expression keeps both `raw` and `sent`.
pub fn load_refs(
    refs: &[Ref],
    refs_path: &Path,
    instances_path: &Path,
    image_dir: Option<&Path>,
    split: Option<&str>,
    skip_bad: bool,
) -> Result<Loaded> {
    let inst = Instances::read(instances_path)?;
    let names = inst.category_names();
    let images: HashMap<u64, _> = inst.images.iter().map(|i| (i.id, i)).collect();
    let anns: HashMap<u64, _> = inst.annotations.iter().map(|a| (a.id, a)).collect();
    let mut per_image: HashMap<u64, Vec<u64>> = HashMap::new();
    for a in &inst.annotations {
        per_image.entry(a.image_id).or_default().push(a.id);
    }
    let dataset = refs_path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("refcoco")
        .to_string();
    let mut out = Loaded::default();
    for r in refs {
        if split.is_some_and(|s| s != r.split) {
            continue;
        }
        let record = format!("ref_id {}", r.ref_id);
        let res = (|| {
            let ann = anns.get(&r.ann_id).ok_or_else(|| {
                DataError::record(
                    instances_path,
                    &record,
                    format!("ann_id {} not in instances.json", r.ann_id),
                )
            })?;
            let img = images.get(&r.image_id).ok_or_else(|| {
                DataError::record(
                    instances_path,
                    &record,
                    format!("image_id {} not in instances.json", r.image_id),
                )
            })?;
            let image = match image_dir {
                None => PathBuf::from(&img.file_name),
                Some(d) => {
                    let p = d.join(&img.file_name);
                    if !p.is_file() {
                        return Err(DataError::MissingMedia {
                            path: refs_path.to_path_buf(),
                            record: record.clone(),
                            media: p,
                        });
                    }
                    p
                }
            };
            let mut s = Sample::new(format!("{dataset}-{}", r.ref_id), &dataset, Task::Grounding);
            s.split = Some(r.split.clone());
            s.image = Some(image);
            s.image_id = Some(r.image_id);
            s.width = Some(img.width);
            s.height = Some(img.height);
            s.target = Some(util::xywh(instances_path, &record, &ann.bbox)?);
            if let Some(seg) = &ann.segmentation {
                s.target_region = Some(parse_segmentation(instances_path, &record, seg)?);
            }
            s.category = names.get(&r.category_id).cloned();
            let mut ids = per_image.get(&r.image_id).cloned().unwrap_or_default();
            ids.sort_unstable();
            for (i, id) in ids.iter().enumerate() {
                if let Some(a) = anns.get(id) {
                    if *id == r.ann_id {
                        s.target_index = Some(i);
                    }
                    s.proposals
                        .push(util::xywh(instances_path, &record, &a.bbox)?);
                }
            }
            if r.sentences.is_empty() {
                return Err(DataError::record(refs_path, &record, "no sentences"));
            }
            s.expressions = r
                .sentences
                .iter()
                .map(|x| Expression {
                    raw: x.raw.clone(),
                    tokens: x.tokens.clone(),
                    sent_id: Some(x.sent_id),
                    sent: Some(x.sent.clone()),
                })
                .collect();
            s.extra.insert("ann_id".into(), r.ann_id.into());
            Ok(s)
        })();
        match res {
            Ok(s) => out.samples.push(s),
            Err(e) if skip_bad => out.skipped.push(e),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
