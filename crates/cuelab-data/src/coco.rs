//! COCO instances (boxes, categories, polygon/RLE masks), COCO captions (`captions_*.json`),
//! Karpathy `dataset_coco.json`, and COCO-style caption results files.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use cuelab_cue::{Region, Rle};
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::jsonl::Loaded;
use crate::sample::{Sample, Task};
use crate::util;

/// An `images` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CocoImage {
    /// Image id.
    pub id: u64,
    /// File name inside the image folder.
    pub file_name: String,
    /// Width in pixels.
    #[serde(default)]
    pub width: u32,
    /// Height in pixels.
    #[serde(default)]
    pub height: u32,
}

/// A `categories` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CocoCategory {
    /// Category id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Super-category.
    #[serde(default)]
    pub supercategory: String,
}

/// An `annotations` entry of an instances file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CocoAnnotation {
    /// Annotation id.
    pub id: u64,
    /// Image id.
    pub image_id: u64,
    /// Category id.
    pub category_id: u64,
    /// `[x, y, w, h]`.
    pub bbox: Vec<f64>,
    /// Polygons or RLE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segmentation: Option<serde_json::Value>,
    /// Area.
    #[serde(default)]
    pub area: f64,
    /// 1 for crowd regions.
    #[serde(default)]
    pub iscrowd: u8,
}

/// A COCO instances file.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Instances {
    /// Images.
    pub images: Vec<CocoImage>,
    /// Instance annotations.
    pub annotations: Vec<CocoAnnotation>,
    /// Categories.
    pub categories: Vec<CocoCategory>,
}

/// A caption annotation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CocoCaption {
    /// Annotation id.
    #[serde(default)]
    pub id: u64,
    /// Image id.
    pub image_id: u64,
    /// The caption.
    pub caption: String,
}

/// A COCO captions file (`captions_train2014.json`, ...).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Captions {
    /// Images.
    pub images: Vec<CocoImage>,
    /// Captions.
    pub annotations: Vec<CocoCaption>,
}

impl Instances {
    /// Read an instances file.
    pub fn read(path: &Path) -> Result<Self> {
        util::read_json(path, "COCO instances: images/annotations/categories")
    }

    /// Category names by id.
    pub fn category_names(&self) -> HashMap<u64, String> {
        self.categories
            .iter()
            .map(|c| (c.id, c.name.clone()))
            .collect()
    }
}

/// Parse a COCO `segmentation` value (polygon lists, compressed or uncompressed RLE).
pub fn parse_segmentation(path: &Path, record: &str, v: &serde_json::Value) -> Result<Region> {
    let bad = |m: &str| DataError::record(path, record, format!("segmentation: {m}"));
    match v {
        serde_json::Value::Array(polys) => {
            let mut out = Vec::new();
            for p in polys {
                let coords: Vec<f32> = serde_json::from_value(p.clone())
                    .map_err(|_| bad("a polygon must be a list of numbers"))?;
                if coords.len() < 6 || !coords.len().is_multiple_of(2) {
                    return Err(bad("a polygon needs an even count of at least 6 numbers"));
                }
                out.push(coords);
            }
            Ok(Region::Polygon(out))
        }
        serde_json::Value::Object(m) => {
            let size: Vec<u32> = m
                .get("size")
                .and_then(|s| serde_json::from_value(s.clone()).ok())
                .ok_or_else(|| bad("RLE needs size [h, w]"))?;
            if size.len() != 2 {
                return Err(bad("RLE size must be [h, w]"));
            }
            let rle = match m.get("counts") {
                Some(serde_json::Value::String(s)) => {
                    Rle::from_compressed(size[0], size[1], s).map_err(|e| bad(&e.to_string()))?
                }
                Some(c @ serde_json::Value::Array(_)) => Rle {
                    height: size[0],
                    width: size[1],
                    counts: serde_json::from_value(c.clone())
                        .map_err(|_| bad("RLE counts must be integers"))?,
                },
                _ => return Err(bad("RLE needs counts")),
            };
            let total: u64 = rle.counts.iter().map(|&c| c as u64).sum();
            if total != size[0] as u64 * size[1] as u64 {
                return Err(bad("RLE counts do not sum to h*w"));
            }
            Ok(Region::Mask(rle))
        }
        _ => Err(bad("expected a list of polygons or an RLE object")),
    }
}

fn media_check(
    path: &Path,
    image_dir: Option<&Path>,
    record: &str,
    file_name: &str,
) -> Result<Option<PathBuf>> {
    match image_dir {
        None => Ok(Some(PathBuf::from(file_name))),
        Some(dir) => {
            let p = dir.join(file_name);
            if p.is_file() {
                Ok(Some(p))
            } else {
                Err(DataError::MissingMedia {
                    path: path.to_path_buf(),
                    record: record.to_string(),
                    media: p,
                })
            }
        }
    }
}

fn push_or_skip(out: &mut Loaded, r: Result<Sample>, skip_bad: bool) -> Result<()> {
    match r {
        Ok(s) => out.samples.push(s),
        Err(e) if skip_bad => out.skipped.push(e),
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Load an instances file as one detection sample per image (proposals = every instance box).
/// With `image_dir`, every image must exist there.
pub fn load_instances(path: &Path, image_dir: Option<&Path>, skip_bad: bool) -> Result<Loaded> {
    let inst = Instances::read(path)?;
    let names = inst.category_names();
    let mut by_image: BTreeMap<u64, Vec<&CocoAnnotation>> = BTreeMap::new();
    let known: HashMap<u64, &CocoImage> = inst.images.iter().map(|i| (i.id, i)).collect();
    let mut out = Loaded::default();
    for a in &inst.annotations {
        let record = format!("annotation {}", a.id);
        let r = (|| {
            if !known.contains_key(&a.image_id) {
                return Err(DataError::record(
                    path,
                    &record,
                    format!("image_id {} is not in images", a.image_id),
                ));
            }
            if !names.contains_key(&a.category_id) {
                return Err(DataError::record(
                    path,
                    &record,
                    format!("category_id {} is not in categories", a.category_id),
                ));
            }
            util::xywh(path, &record, &a.bbox)?;
            if let Some(seg) = &a.segmentation {
                parse_segmentation(path, &record, seg)?;
            }
            Ok(())
        })();
        match r {
            Ok(()) => by_image.entry(a.image_id).or_default().push(a),
            Err(e) if skip_bad => out.skipped.push(e),
            Err(e) => return Err(e),
        }
    }
    for img in &inst.images {
        let record = format!("image {}", img.id);
        let r = (|| {
            let image = media_check(path, image_dir, &record, &img.file_name)?;
            let anns = by_image.get(&img.id).map(Vec::as_slice).unwrap_or(&[]);
            let mut s = Sample::new(format!("coco-{}", img.id), "coco", Task::Detection);
            s.image = image;
            s.image_id = Some(img.id);
            s.width = Some(img.width);
            s.height = Some(img.height);
            for a in anns {
                s.proposals.push(util::xywh(path, &record, &a.bbox)?);
            }
            let cats: Vec<serde_json::Value> = anns
                .iter()
                .map(|a| serde_json::Value::from(names.get(&a.category_id).cloned()))
                .collect();
            s.extra
                .insert("categories".into(), serde_json::Value::Array(cats));
            Ok(s)
        })();
        push_or_skip(&mut out, r, skip_bad)?;
    }
    Ok(out)
}

/// Load a COCO captions file: one caption sample per image with every reference caption.
pub fn load_captions(path: &Path, image_dir: Option<&Path>, skip_bad: bool) -> Result<Loaded> {
    let caps: Captions = util::read_json(path, "COCO captions: images/annotations")?;
    let mut by_image: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let known: HashMap<u64, &CocoImage> = caps.images.iter().map(|i| (i.id, i)).collect();
    let mut out = Loaded::default();
    for a in &caps.annotations {
        if known.contains_key(&a.image_id) {
            by_image
                .entry(a.image_id)
                .or_default()
                .push(a.caption.clone());
        } else {
            let e = DataError::record(
                path,
                format!("annotation {}", a.id),
                format!("image_id {} is not in images", a.image_id),
            );
            push_or_skip(&mut out, Err(e), skip_bad)?;
        }
    }
    for img in &caps.images {
        let record = format!("image {}", img.id);
        let r = (|| {
            let mut s = Sample::new(format!("coco-{}", img.id), "coco-captions", Task::Caption);
            s.image = media_check(path, image_dir, &record, &img.file_name)?;
            s.image_id = Some(img.id);
            s.width = Some(img.width);
            s.height = Some(img.height);
            s.captions = by_image.get(&img.id).cloned().unwrap_or_default();
            Ok(s)
        })();
        push_or_skip(&mut out, r, skip_bad)?;
    }
    Ok(out)
}

#[derive(Deserialize)]
struct KarpathyFile {
    images: Vec<KarpathyImage>,
}

#[derive(Deserialize)]
struct KarpathyImage {
    #[serde(default)]
    filepath: String,
    filename: String,
    #[serde(default)]
    cocoid: Option<u64>,
    #[serde(default)]
    imgid: Option<u64>,
    split: String,
    sentences: Vec<KarpathySentence>,
}

#[derive(Deserialize)]
struct KarpathySentence {
    raw: String,
}

/// Load Karpathy's `dataset_coco.json` (splits train/restval/val/test). Images are looked up as
/// `image_dir/filepath/filename`.
pub fn load_karpathy(
    path: &Path,
    image_dir: Option<&Path>,
    split: Option<&str>,
    skip_bad: bool,
) -> Result<Loaded> {
    let f: KarpathyFile = util::read_json(path, "Karpathy split: images[]")?;
    let mut out = Loaded::default();
    for img in &f.images {
        if split.is_some_and(|sp| sp != img.split) {
            continue;
        }
        let id = img.cocoid.or(img.imgid).unwrap_or(0);
        let record = format!("image {} ({})", id, img.filename);
        let rel = Path::new(&img.filepath).join(&img.filename);
        let r = (|| {
            let mut s = Sample::new(format!("coco-{id}"), "coco-karpathy", Task::Caption);
            s.image = media_check(path, image_dir, &record, &rel.to_string_lossy())?;
            s.image_id = Some(id);
            s.split = Some(img.split.clone());
            s.captions = img.sentences.iter().map(|x| x.raw.clone()).collect();
            if img.sentences.is_empty() {
                return Err(DataError::record(path, &record, "no sentences"));
            }
            Ok(s)
        })();
        push_or_skip(&mut out, r, skip_bad)?;
    }
    Ok(out)
}

/// A COCO-style caption result (`[{"image_id": .., "caption": ..}]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptionResult {
    /// Image id.
    pub image_id: u64,
    /// The generated caption.
    pub caption: String,
}

/// Read a COCO-style caption results file.
pub fn read_results(path: &Path) -> Result<Vec<CaptionResult>> {
    util::read_json(path, "caption results: [{image_id, caption}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segmentation_forms() {
        let p = Path::new("x.json");
        let poly = serde_json::json!([[0, 0, 4, 0, 4, 4]]);
        assert!(matches!(
            parse_segmentation(p, "a", &poly).unwrap(),
            Region::Polygon(_)
        ));
        let rle = serde_json::json!({"size": [2, 2], "counts": [1, 2, 1]});
        assert!(matches!(
            parse_segmentation(p, "a", &rle).unwrap(),
            Region::Mask(_)
        ));
        let bad = serde_json::json!({"size": [2, 2], "counts": [1, 2]});
        assert!(parse_segmentation(p, "a", &bad).is_err());
        assert!(parse_segmentation(p, "a", &serde_json::json!(3)).is_err());
    }
}
