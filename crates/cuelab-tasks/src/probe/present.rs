//! How an image is presented to the model: plain, numbered Set-of-Mark labels on every object,
//! a box on every object, every object's crop tiled into one grid image, or any cue recipe drawn
//! on every object. Objects are numbered left to right.

use cuelab_cue::{Recipe, Region, Renderer, Target};
use image::{imageops, Rgb, RgbImage};

use super::data::ProbeObject;
use crate::error::{Result, TaskError};
use crate::grounding::short_hash;

/// Side of one cell of the crops grid, in pixels.
pub const CROP_CELL: u32 = 96;
/// Context added around each object's box in the crops grid (fraction of the box side).
pub const CROP_CONTEXT: f32 = 0.25;

/// One presentation of an image.
#[derive(Debug, Clone, PartialEq)]
pub enum Presentation {
    /// The image as it is.
    Plain,
    /// A numbered label (Set-of-Mark) on every object, 1.. left to right.
    Marks,
    /// A red box around every object.
    Boxes,
    /// Every object's crop (with context) tiled left to right into one grid image.
    Crops,
    /// A cue recipe drawn on every object in turn.
    Cue(Recipe),
}

impl Presentation {
    /// Parse `plain`, `som` (or `marks`), `boxes`, `crops`, or a cue recipe.
    pub fn parse(text: &str) -> Result<Self> {
        Ok(match text.trim() {
            "plain" => Presentation::Plain,
            "som" | "marks" => Presentation::Marks,
            "boxes" => Presentation::Boxes,
            "crops" => Presentation::Crops,
            other => {
                let recipe = Recipe::parse(other).map_err(|e| {
                    TaskError::Config(format!(
                        "presentation {other:?}: expected plain, som, boxes, crops or a cue recipe ({e})"
                    ))
                })?;
                if recipe.is_plain() {
                    Presentation::Plain
                } else {
                    Presentation::Cue(recipe)
                }
            }
        })
    }

    /// Stable id (`plain`, `som`, `boxes`, `crops`, `cue-<hash>`).
    pub fn id(&self) -> String {
        match self {
            Presentation::Plain => "plain".into(),
            Presentation::Marks => "som".into(),
            Presentation::Boxes => "boxes".into(),
            Presentation::Crops => "crops".into(),
            Presentation::Cue(r) => format!("cue-{}", short_hash(&r.to_string())),
        }
    }

    /// What tables show.
    pub fn label(&self) -> String {
        match self {
            Presentation::Cue(r) => r.to_string(),
            other => other.id(),
        }
    }

    /// The sentence put before the question, telling the model what it sees.
    pub fn preamble(&self) -> &'static str {
        match self {
            Presentation::Plain | Presentation::Cue(_) => "",
            Presentation::Marks => "Every object in the image is marked with a number. ",
            Presentation::Boxes => "Every object in the image is outlined with a box. ",
            Presentation::Crops => {
                "The image shows every object of a picture, cropped and tiled in a grid in left-to-right order. "
            }
        }
    }

    /// The presented image.
    pub fn render(&self, image: &RgbImage, objects: &[ProbeObject]) -> Result<RgbImage> {
        let label_size = (image.width().min(image.height()) as f32 / 20.0).clamp(10.0, 40.0);
        let recipe = match self {
            Presentation::Plain => return Ok(image.clone()),
            Presentation::Crops => return Ok(crops_grid(image, objects)),
            Presentation::Marks => Recipe::parse(&format!("label(size={label_size:.0})"))?,
            Presentation::Boxes => Recipe::parse("rect(color=red,width=2)")?,
            Presentation::Cue(r) => r.clone(),
        };
        draw_on_all(image, objects, &recipe)
    }
}

/// `recipe` drawn on every object in turn (targets numbered left to right).
pub fn draw_on_all(image: &RgbImage, objects: &[ProbeObject], recipe: &Recipe) -> Result<RgbImage> {
    let mut current = image.clone();
    for (index, o) in objects.iter().enumerate() {
        let target = Target {
            region: Region::Box(o.bbox),
            index,
            points: Vec::new(),
            label: None,
        };
        current = Renderer::new(&current).render(recipe, &target)?;
    }
    Ok(current)
}

/// Every object's crop (box plus [`CROP_CONTEXT`]) scaled to fit a [`CROP_CELL`] square, tiled
/// left to right, top to bottom, in a grid of `ceil(sqrt(n))` columns on white.
pub fn crops_grid(image: &RgbImage, objects: &[ProbeObject]) -> RgbImage {
    let n = objects.len().max(1);
    let cols = (n as f64).sqrt().ceil() as u32;
    let rows = (n as u32).div_ceil(cols);
    let gap = 4;
    let mut out = RgbImage::from_pixel(
        cols * (CROP_CELL + gap) + gap,
        rows * (CROP_CELL + gap) + gap,
        Rgb([255, 255, 255]),
    );
    let (w, h) = image.dimensions();
    for (k, o) in objects.iter().enumerate() {
        let b = o.bbox;
        let pad = CROP_CONTEXT * b.width().max(b.height());
        let Some(c) = b.padded(pad).clip_to(w, h) else {
            continue;
        };
        let (x0, y0, x1, y1) = c.pixel_span(w, h);
        if x1 <= x0 || y1 <= y0 {
            continue;
        }
        let crop = imageops::crop_imm(image, x0, y0, x1 - x0, y1 - y0).to_image();
        let scale = CROP_CELL as f32 / (x1 - x0).max(y1 - y0) as f32;
        let (cw, ch) = (
            (((x1 - x0) as f32 * scale).round() as u32).clamp(1, CROP_CELL),
            (((y1 - y0) as f32 * scale).round() as u32).clamp(1, CROP_CELL),
        );
        let scaled = imageops::resize(&crop, cw, ch, imageops::FilterType::CatmullRom);
        let (col, row) = (k as u32 % cols, k as u32 / cols);
        let ox = gap + col * (CROP_CELL + gap) + (CROP_CELL - cw) / 2;
        let oy = gap + row * (CROP_CELL + gap) + (CROP_CELL - ch) / 2;
        imageops::replace(&mut out, &scaled, i64::from(ox), i64::from(oy));
    }
    out
}
