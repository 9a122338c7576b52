//! The images a captioning sweep describes, with their reference captions, from any caption
//! dataset cuelab reads: a `cuelab scenes` folder (its caption samples), cuelab's generic JSONL
//! (samples with `captions`), a COCO captions file (`captions_val2014.json`) or Karpathy's
//! `dataset_coco.json`.

use std::path::{Path, PathBuf};

use cuelab_cue::BoxXyxy;
use cuelab_data::{Format, Sample, Task};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{Result, TaskError};

/// One image to caption.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptionItem {
    /// Sample id (unique in the run).
    pub id: String,
    /// The id written to COCO results files: the dataset's numeric image id when it has one,
    /// else the sample id.
    pub image_id: Value,
    /// The image file.
    pub image: PathBuf,
    /// Reference captions (may be empty: then only CLIPScore is meaningful).
    pub refs: Vec<String>,
    /// The box cue recipes are drawn on, if the sample has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<BoxXyxy>,
}

/// Where the captions come from.
#[derive(Debug, Clone, Default)]
pub struct CaptionData {
    /// A scenes folder, JSONL, COCO captions JSON or Karpathy JSON.
    pub path: PathBuf,
    /// Image folder for COCO / Karpathy files (Karpathy: the folder holding `filepath/filename`).
    pub media: Option<PathBuf>,
    /// Only samples of this split (`val`, `test`, ...; Karpathy's split field, the samples'
    /// `split` otherwise).
    pub split: Option<String>,
    /// Skip malformed records (reported) instead of stopping.
    pub skip_bad: bool,
}

/// The loaded items, a description for the manifest, and the records skipped as malformed.
#[derive(Debug, Clone)]
pub struct LoadedCaptions {
    /// The images, in dataset order.
    pub items: Vec<CaptionItem>,
    /// What was read (format, path, split, counts, checksum).
    pub description: Value,
    /// Malformed records skipped (with `skip_bad`).
    pub skipped: Vec<String>,
}

fn item_from(s: &Sample, base: &Path) -> Option<CaptionItem> {
    let image = s.image.as_ref()?;
    Some(CaptionItem {
        id: s.id.clone(),
        image_id: s.image_id.map(Value::from).unwrap_or(json!(s.id)),
        image: cuelab_data::jsonl::resolve(base, image),
        refs: s.captions.clone(),
        target: s.target,
    })
}

/// Load the caption items of `data`.
pub fn load(data: &CaptionData) -> Result<LoadedCaptions> {
    let path = &data.path;
    let format = cuelab_data::detect_format(path).map_err(|e| TaskError::Data(Box::new(e)))?;
    let (loaded, base, file) = match format {
        Format::Scenes => {
            let f = path.join("samples.jsonl");
            (cuelab_data::jsonl::read(&f, data.skip_bad), path.clone(), f)
        }
        Format::Jsonl => (
            cuelab_data::jsonl::read(path, data.skip_bad),
            path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            path.clone(),
        ),
        Format::CocoCaptions => (
            cuelab_data::coco::load_captions(path, data.media.as_deref(), data.skip_bad),
            PathBuf::new(),
            path.clone(),
        ),
        Format::Karpathy => (
            cuelab_data::coco::load_karpathy(
                path,
                data.media.as_deref(),
                data.split.as_deref(),
                data.skip_bad,
            ),
            PathBuf::new(),
            path.clone(),
        ),
        other => {
            return Err(TaskError::Config(format!(
                "{}: a {} dataset has no captions; give a scenes folder, JSONL with captions, \
                 a COCO captions file or Karpathy's dataset_coco.json",
                path.display(),
                other.name()
            )))
        }
    };
    let loaded = loaded.map_err(|e| TaskError::Data(Box::new(e)))?;
    let skipped: Vec<String> = loaded.skipped.iter().map(|s| s.to_string()).collect();
    let mut no_image = 0usize;
    let mut items = Vec::new();
    for s in &loaded.samples {
        let is_caption = s.task == Task::Caption || !s.captions.is_empty();
        if !is_caption {
            continue;
        }
        if let Some(split) = &data.split {
            if format != Format::Karpathy && s.split.as_deref() != Some(split.as_str()) {
                continue;
            }
        }
        match item_from(s, &base) {
            Some(item) => items.push(item),
            None => no_image += 1,
        }
    }
    let mut seen = std::collections::HashSet::new();
    for it in &items {
        if !seen.insert(it.id.as_str()) {
            return Err(TaskError::Config(format!(
                "{}: sample id {:?} appears twice",
                path.display(),
                it.id
            )));
        }
    }
    let description = crate::runner::describe_data_file(
        &file,
        json!({
            "path": path.display().to_string(),
            "format": format.name(),
            "split": data.split,
            "media": data.media.as_ref().map(|m| m.display().to_string()),
            "images": items.len(),
            "without_image": no_image,
            "malformed_records": skipped.len(),
        }),
    )?;
    Ok(LoadedCaptions {
        items,
        description,
        skipped,
    })
}

impl crate::shard::ShardKey for CaptionItem {
    /// The sample id.
    fn shard_key(&self) -> &str {
        &self.id
    }
}
