//! Regions as JSON, the one reader behind `cuelab render --boxes FILE` and the Python
//! package's `render`: a bare box `[x0, y0, x1, y1]` (in a chosen [`BoxLayout`]) or an object
//! with one of `box` (alias `bbox`), `polygon` or `rle` (raw or compressed COCO counts), and
//! optional `label` and `points` (a trajectory).

use serde::Deserialize;

use crate::error::{CueError, Result};
use crate::region::{BoxXyxy, Region, Rle};
use crate::render::Target;

/// How four box numbers are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BoxLayout {
    /// `[x0, y0, x1, y1]`, exclusive end (cuelab's own).
    #[default]
    Xyxy,
    /// `[x, y, width, height]` (COCO).
    Xywh,
    /// `[x0, y0, x1, y1]` with the end pixel included (Pillow's `ImageDraw`).
    Pillow,
}

impl BoxLayout {
    /// The box `v` read in this layout.
    pub fn to_box(self, v: [f32; 4]) -> Result<BoxXyxy> {
        match self {
            BoxLayout::Xyxy => BoxXyxy::new(v[0], v[1], v[2], v[3]),
            BoxLayout::Xywh => BoxXyxy::from_xywh(v[0], v[1], v[2], v[3]),
            BoxLayout::Pillow => BoxXyxy::from_pillow_inclusive(v[0], v[1], v[2], v[3]),
        }
    }
}

impl std::str::FromStr for BoxLayout {
    type Err = String;

    /// `xyxy`, `xywh` or `pillow`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "xyxy" => Ok(BoxLayout::Xyxy),
            "xywh" => Ok(BoxLayout::Xywh),
            "pillow" => Ok(BoxLayout::Pillow),
            other => Err(format!("{other:?}: expected xyxy, xywh or pillow")),
        }
    }
}

/// One region as JSON: a bare box or a region object.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RegionEntry {
    /// `[x0, y0, x1, y1]` in the caller's [`BoxLayout`].
    Plain([f32; 4]),
    /// An object with one of `box`, `polygon` or `rle`.
    Object(RegionObject),
}

/// A region object: one of `box`, `polygon` or `rle` (in that order of precedence: polygon,
/// then rle, then box), an optional label and trajectory points.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionObject {
    #[serde(rename = "box", alias = "bbox")]
    bbox: Option<[f32; 4]>,
    label: Option<String>,
    #[serde(default)]
    points: Vec<[f32; 2]>,
    polygon: Option<Vec<Vec<f32>>>,
    rle: Option<RleJson>,
}

#[derive(Debug, Deserialize)]
struct RleJson {
    size: [u32; 2],
    counts: RleCounts,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RleCounts {
    Raw(Vec<u32>),
    Compressed(String),
}

impl RegionEntry {
    /// The cue target this entry describes, as region number `index`; the region must have a
    /// valid bounding box.
    pub fn into_target(self, index: usize, layout: BoxLayout) -> Result<Target> {
        let (region, label, points) = match self {
            RegionEntry::Plain(v) => (Region::Box(layout.to_box(v)?), None, Vec::new()),
            RegionEntry::Object(o) => {
                let region = if let Some(poly) = o.polygon {
                    Region::Polygon(poly)
                } else if let Some(rle) = o.rle {
                    let [h, w] = rle.size;
                    Region::Mask(match rle.counts {
                        RleCounts::Raw(counts) => Rle {
                            height: h,
                            width: w,
                            counts,
                        },
                        RleCounts::Compressed(s) => Rle::from_compressed(h, w, &s)?,
                    })
                } else if let Some(v) = o.bbox {
                    Region::Box(layout.to_box(v)?)
                } else {
                    return Err(CueError::Region(
                        "a region needs one of box, polygon or rle".into(),
                    ));
                };
                region.bbox()?;
                (
                    region,
                    o.label,
                    o.points.into_iter().map(|[x, y]| (x, y)).collect(),
                )
            }
        };
        Ok(Target {
            region,
            index,
            points,
            label,
        })
    }
}
