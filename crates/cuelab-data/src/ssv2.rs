//! Something-Something-v2: `labels.json` (template → class id), `train.json` / `validation.json`
//! (`id`, `label`, `template`, `placeholders`), and Something-Else style per-frame boxes
//! (`{video_id: [{name, labels: [{box2d: {x1,y1,x2,y2}, category}]}]}`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use cuelab_cue::BoxXyxy;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::jsonl::Loaded;
use crate::sample::{FrameBoxes, LabeledBox, Sample, Task};
use crate::util;

/// One entry of `train.json` / `validation.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoEntry {
    /// Video id (file stem of `<id>.webm`).
    pub id: String,
    /// The label with placeholders filled.
    pub label: String,
    /// The template, with `[something]` placeholders.
    pub template: String,
    /// The objects filling the placeholders.
    #[serde(default)]
    pub placeholders: Vec<String>,
}

/// A Something-Else box.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Box2d {
    /// Left.
    pub x1: f32,
    /// Top.
    pub y1: f32,
    /// Right.
    pub x2: f32,
    /// Bottom.
    pub y2: f32,
}

/// A labelled box of one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameLabel {
    /// The box.
    pub box2d: Box2d,
    /// The object's name (a placeholder or `hand`).
    pub category: String,
}

/// Boxes of one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameEntry {
    /// Frame file name, e.g. `0001.jpg`.
    pub name: String,
    /// Boxes.
    pub labels: Vec<FrameLabel>,
}

/// Per-video frame boxes.
pub type BoxFile = BTreeMap<String, Vec<FrameEntry>>;

/// Strip the brackets of a label-file template: `"Pushing [something] left"` → `"Pushing something left"`.
pub fn normalise_template(t: &str) -> String {
    t.replace(['[', ']'], "")
}

/// Read `labels.json` (normalised template → class id).
pub fn read_labels(path: &Path) -> Result<HashMap<String, u32>> {
    let raw: HashMap<String, String> = util::read_json(path, "labels: {template: id}")?;
    raw.into_iter()
        .map(|(k, v)| {
            v.parse::<u32>()
                .map(|id| (k.clone(), id))
                .map_err(|_| DataError::record(path, &k, format!("class id {v:?} is not a number")))
        })
        .collect()
}

/// Options for [`load`].
#[derive(Debug, Clone, Default)]
pub struct Ssv2Options {
    /// `labels.json`, to attach class ids and reject unknown templates.
    pub labels: Option<PathBuf>,
    /// Folder of videos (`<id>.webm`) or frame folders (`<id>/`); each must exist.
    pub video_dir: Option<PathBuf>,
    /// Something-Else box files.
    pub boxes: Vec<PathBuf>,
    /// Split name recorded on samples.
    pub split: Option<String>,
    /// Collect bad records instead of failing.
    pub skip_bad: bool,
}

fn find_video(dir: &Path, id: &str) -> Option<PathBuf> {
    let d = dir.join(id);
    if d.is_dir() {
        return Some(d);
    }
    ["webm", "mp4"]
        .iter()
        .map(|e| dir.join(format!("{id}.{e}")))
        .find(|p| p.is_file())
}

/// The 0-based frame index of a Something-Else frame name (`"2/0001.jpg"` → 0): the digits of
/// the file stem, which count from 1. `None` when the stem holds no number.
pub fn frame_number(name: &str) -> Option<u32> {
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let stem = file.split('.').next().unwrap_or(file);
    let digits: String = stem.chars().filter(char::is_ascii_digit).collect();
    digits.parse::<u32>().ok().map(|n| n.saturating_sub(1))
}

/// Load a `train.json` / `validation.json` list as video samples. The caption is the label;
/// `extra` holds `template`, `placeholders` and `class_id`.
pub fn load(path: &Path, opts: &Ssv2Options) -> Result<Loaded> {
    let entries: Vec<VideoEntry> =
        util::read_json(path, "SSv2 list: [{id, label, template, placeholders}]")?;
    let labels = opts.labels.as_deref().map(read_labels).transpose()?;
    let mut boxes = BoxFile::new();
    for b in &opts.boxes {
        let f: BoxFile = util::read_json(b, "Something-Else boxes: {video_id: [frames]}")?;
        boxes.extend(f);
    }
    let mut out = Loaded::default();
    for e in &entries {
        let record = format!("video {}", e.id);
        let res = (|| {
            let mut s = Sample::new(format!("ssv2-{}", e.id), "ssv2", Task::Video);
            s.split = opts.split.clone();
            if let Some(dir) = &opts.video_dir {
                let v = find_video(dir, &e.id).ok_or_else(|| DataError::MissingMedia {
                    path: path.to_path_buf(),
                    record: record.clone(),
                    media: dir.join(format!("{}.webm", e.id)),
                })?;
                if v.is_dir() {
                    let mut frames: Vec<PathBuf> = std::fs::read_dir(&v)
                        .map_err(|source| DataError::Io {
                            path: v.clone(),
                            source,
                        })?
                        .filter_map(|x| x.ok().map(|x| x.path()))
                        .collect();
                    frames.sort();
                    s.frames = frames;
                } else {
                    s.video = Some(v);
                }
            }
            let norm = normalise_template(&e.template);
            if let Some(l) = &labels {
                let id = l.get(&norm).ok_or_else(|| {
                    DataError::record(
                        path,
                        &record,
                        format!("template {norm:?} not in labels.json"),
                    )
                })?;
                s.extra.insert("class_id".into(), (*id).into());
            }
            let n_slots =
                e.template.matches("[something").count() + e.template.matches("[Something").count();
            if n_slots != e.placeholders.len() {
                return Err(DataError::record(
                    path,
                    &record,
                    format!(
                        "template has {n_slots} placeholders, list has {}",
                        e.placeholders.len()
                    ),
                ));
            }
            s.captions = vec![e.label.clone()];
            s.extra.insert("template".into(), norm.into());
            s.extra
                .insert("placeholders".into(), e.placeholders.clone().into());
            if let Some(frames) = boxes.get(&e.id) {
                for (i, f) in frames.iter().enumerate() {
                    let mut fb = FrameBoxes {
                        frame: frame_number(&f.name).unwrap_or(i as u32),
                        boxes: Vec::new(),
                    };
                    for l in &f.labels {
                        let b = BoxXyxy::new(l.box2d.x1, l.box2d.y1, l.box2d.x2, l.box2d.y2)
                            .map_err(|err| {
                                DataError::record(
                                    path,
                                    format!("{record} frame {}", f.name),
                                    err.to_string(),
                                )
                            })?;
                        fb.boxes.push(LabeledBox {
                            label: l.category.clone(),
                            bbox: b,
                        });
                    }
                    s.frame_boxes.push(fb);
                }
            }
            Ok(s)
        })();
        match res {
            Ok(s) => out.samples.push(s),
            Err(e) if opts.skip_bad => out.skipped.push(e),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_normalisation() {
        assert_eq!(
            normalise_template("Putting [something] onto [something]"),
            "Putting something onto something"
        );
    }

    #[test]
    fn frame_numbers_come_from_names() {
        assert_eq!(frame_number("2/0001.jpg"), Some(0));
        assert_eq!(frame_number("0012.png"), Some(11));
        assert_eq!(frame_number("frame.png"), None);
    }
}
