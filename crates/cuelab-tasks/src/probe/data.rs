//! What the probes ask about: one image, a noun phrase `X` ("red circles", "people") and every
//! object of the image with its box and attribute words; the true count is the number of
//! objects that are `X`. Built from the synthetic scenes (exact, attributes known) or from a
//! COCO instances file (count of a category, objects above a minimum area).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cuelab_cue::BoxXyxy;
use serde::{Deserialize, Serialize};

use super::words::{plural, words};
use crate::error::{Result, TaskError};

/// One object of an image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeObject {
    /// Box in image pixels (xyxy, exclusive end).
    pub bbox: BoxXyxy,
    /// What it is, as a noun phrase ("red circle", "person").
    pub name: String,
    /// True when it is one of the objects the question is about.
    pub target: bool,
}

/// One image and the objects a counting question asks about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeItem {
    /// Stable id (`scene-000001`, `coco-<image>-<category>`).
    pub id: String,
    /// The image file.
    pub image: PathBuf,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// What is counted, singular ("red circle").
    pub singular: String,
    /// What is counted, plural ("red circles").
    pub plural: String,
    /// Question type tag (`count_crowd`, `count`, `coco`).
    pub qtype: String,
    /// Every object, sorted left to right by box centre.
    pub objects: Vec<ProbeObject>,
    /// Words a listed item may use to name an object (every object's words plus the data's
    /// attribute vocabulary), so "a blue star" in a listing is a named object even if wrong.
    pub vocabulary: Vec<String>,
}

impl ProbeItem {
    /// The true count.
    pub fn count(&self) -> usize {
        self.objects.iter().filter(|o| o.target).count()
    }

    /// The target objects, left to right.
    pub fn targets(&self) -> Vec<&ProbeObject> {
        self.objects.iter().filter(|o| o.target).collect()
    }
}

/// Why an image (or image x category) was not turned into a probe item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// The id.
    pub id: String,
    /// Why.
    pub reason: String,
}

fn sort_left_to_right(objects: &mut [ProbeObject]) {
    objects.sort_by(|a, b| {
        let (ax, ay) = a.bbox.center();
        let (bx, by) = b.bbox.center();
        ax.total_cmp(&bx).then(ay.total_cmp(&by))
    });
}

/// True when every word of `phrase` is among `name`'s words.
pub fn names(name: &str, phrase: &str) -> bool {
    let have = words(name);
    words(phrase).iter().all(|w| have.contains(w))
}

/// Items from a `cuelab scenes` folder: each scene's counting question ("How many red circles
/// are there?"), with every object's box and colour + shape. The scenes are rebuilt from the
/// generator settings in `DIR/manifest.json` (deterministic), and each count is checked against
/// the one in `samples.jsonl`'s question. `crowds_only` keeps the crowd scenes (0-20
/// near-identical objects).
pub fn load_scenes(dir: &Path, crowds_only: bool) -> Result<Vec<ProbeItem>> {
    use cuelab_data::scenes::{self, draw::Shape, draw::COLOURS};
    let manifest_path = dir.join("manifest.json");
    let manifest: serde_json::Value = crate::run_dir::read_json(&manifest_path)?;
    if manifest["generator"] != "cuelab scenes" {
        return Err(TaskError::Invalid {
            path: manifest_path,
            message: "not a `cuelab scenes` folder (no generator \"cuelab scenes\")".into(),
        });
    }
    let cfg: scenes::Config =
        serde_json::from_value(manifest["config"].clone()).map_err(|e| TaskError::Invalid {
            path: manifest_path.clone(),
            message: format!("generator config: {e}"),
        })?;
    let mut vocabulary: Vec<String> = COLOURS.iter().map(|c| c.0.to_string()).collect();
    vocabulary.extend(Shape::ALL.iter().map(|s| s.name().to_string()));
    let mut out = Vec::new();
    for i in 0..cfg.n {
        let scene = scenes::scene(&cfg, i);
        let Some(sample) = scene
            .samples
            .iter()
            .find(|s| s.task == cuelab_data::Task::Counting)
        else {
            continue;
        };
        let qtype = sample.qtype.clone().unwrap_or_else(|| "count".into());
        if crowds_only && qtype != "count_crowd" {
            continue;
        }
        let question = sample.question.clone().unwrap_or_default();
        let phrase = question
            .strip_prefix("How many ")
            .and_then(|q| q.strip_suffix(" are there?"))
            .ok_or_else(|| TaskError::Invalid {
                path: dir.join("samples.jsonl"),
                message: format!("{}: unexpected counting question {question:?}", sample.id),
            })?;
        let singular_phrase = words(phrase).join(" ");
        let mut objects: Vec<ProbeObject> = scene
            .objects
            .iter()
            .zip(&scene.boxes)
            .filter(|(_, b)| b.area() > 0.0)
            .map(|(o, b)| ProbeObject {
                bbox: *b,
                name: o.noun(),
                target: names(&o.noun(), &singular_phrase),
            })
            .collect();
        sort_left_to_right(&mut objects);
        let item = ProbeItem {
            id: format!("scene-{:06}", i + 1),
            image: dir.join(&scene.file),
            width: cfg.width,
            height: cfg.height,
            plural: phrase.to_string(),
            singular: singular_phrase,
            qtype,
            objects,
            vocabulary: vocabulary.clone(),
        };
        let expected: Option<usize> = sample.answer.as_deref().and_then(|a| a.parse().ok());
        if expected != Some(item.count()) {
            return Err(TaskError::Invalid {
                path: manifest_path,
                message: format!(
                    "{}: {} objects match {phrase:?} but the sample's answer is {:?} (scenes made by another cuelab version?)",
                    item.id,
                    item.count(),
                    sample.answer
                ),
            });
        }
        out.push(item);
    }
    if out.is_empty() {
        return Err(TaskError::NoSamples(format!(
            "{}: no {}counting scenes (generate crowds with `cuelab scenes --crowd 1`)",
            dir.display(),
            if crowds_only { "crowd " } else { "" }
        )));
    }
    Ok(out)
}

/// Items from a COCO instances file: one per image x category (the `categories` given, or every
/// category present), counting the category's objects whose box area is at least `min_area`
/// pixels. Objects below `min_area` are left out of the image's object list (neither counted
/// nor listed); images where the category has a crowd region are skipped (the count is not
/// defined). Images resolve against `images`.
pub fn load_coco(
    instances: &Path,
    images: &Path,
    categories: &[String],
    min_area: f64,
) -> Result<(Vec<ProbeItem>, Vec<Skipped>)> {
    let data = cuelab_data::coco::Instances::read(instances)?;
    let names = data.category_names();
    for c in categories {
        if !names.values().any(|n| n == c) {
            let mut known: Vec<&String> = names.values().collect();
            known.sort();
            return Err(TaskError::Config(format!(
                "category {c:?} is not in {} (categories: {})",
                instances.display(),
                known
                    .iter()
                    .take(20)
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let mut by_image: BTreeMap<u64, Vec<&cuelab_data::coco::CocoAnnotation>> = BTreeMap::new();
    for a in &data.annotations {
        by_image.entry(a.image_id).or_default().push(a);
    }
    let mut vocabulary: Vec<String> = names.values().flat_map(|n| words(n)).collect();
    vocabulary.sort();
    vocabulary.dedup();
    let mut items = Vec::new();
    let mut skipped = Vec::new();
    for image in &data.images {
        let anns = by_image.get(&image.id).cloned().unwrap_or_default();
        let mut objects: Vec<(u64, ProbeObject)> = Vec::new();
        for a in anns.iter().filter(|a| a.iscrowd == 0) {
            let [x, y, w, h] = a.bbox[..] else { continue };
            if w * h < min_area {
                continue;
            }
            let Ok(bbox) = BoxXyxy::from_xywh(x as f32, y as f32, w as f32, h as f32) else {
                continue;
            };
            let name = names.get(&a.category_id).cloned().unwrap_or_default();
            objects.push((
                a.category_id,
                ProbeObject {
                    bbox,
                    name,
                    target: false,
                },
            ));
        }
        let mut wanted: Vec<String> = if categories.is_empty() {
            let mut present: Vec<String> = objects.iter().map(|(_, o)| o.name.clone()).collect();
            present.sort();
            present.dedup();
            present
        } else {
            categories.to_vec()
        };
        wanted.retain(|c| !c.is_empty());
        for category in wanted {
            let id = format!("coco-{}-{}", image.id, category.replace(' ', "_"));
            if anns.iter().any(|a| {
                a.iscrowd != 0 && names.get(&a.category_id).is_some_and(|n| *n == category)
            }) {
                skipped.push(Skipped {
                    id,
                    reason: format!("a crowd region of {category} (count undefined)"),
                });
                continue;
            }
            let mut objs: Vec<ProbeObject> = objects
                .iter()
                .map(|(_, o)| ProbeObject {
                    target: o.name == category,
                    ..o.clone()
                })
                .collect();
            sort_left_to_right(&mut objs);
            items.push(ProbeItem {
                id,
                image: images.join(&image.file_name),
                width: image.width,
                height: image.height,
                singular: category.clone(),
                plural: plural(&category),
                qtype: "coco".into(),
                objects: objs,
                vocabulary: vocabulary.clone(),
            });
        }
    }
    if items.is_empty() {
        return Err(TaskError::NoSamples(format!(
            "{}: no image x category to count",
            instances.display()
        )));
    }
    Ok((items, skipped))
}

impl crate::shard::ShardKey for ProbeItem {
    /// The item id (one question per image and category).
    fn shard_key(&self) -> &str {
        &self.id
    }
}
