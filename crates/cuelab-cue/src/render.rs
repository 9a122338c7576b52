//! Applying a [`Recipe`] to an image and a [`Target`]; each primitive's drawing code lives
//! with its type in [`crate::primitive`].
//!
//! Order of work, whatever order the spec lists primitives in:
//! 1. `Outside` steps (blur, gray, dim, fill, colorcode), in written order, on a copy of the whole
//!    image; then the region's own pixels are restored from the original (the region stays
//!    sharp) — seed 004's `filter → paste(original, mask=rectangle)`;
//! 2. `Overlay` steps (shapes, marks, labels, tint), in written order;
//! 3. `crop`, last.
//!
//! A [`Renderer`] holds one source image and caches the processed background per distinct
//! chain of outside steps, so rendering many regions of the same image blurs it once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use image::RgbImage;
use tracing::warn;

use crate::color::Color;
use crate::draw;
use crate::effects::position_color;
use crate::error::{CueError, Result};
use crate::primitive::Placement;
use crate::region::{BoxXyxy, Region};
use crate::spec::Recipe;

/// What a cue is drawn for: a region, its 0-based index among the image's targets (for
/// automatic labels), optional trajectory points and an optional label text.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The region.
    pub region: Region,
    /// 0-based position among the targets of the image (`label(text=auto)` prints `index + 1`).
    pub index: usize,
    /// Trajectory points in image pixels (used by `trajectory`).
    pub points: Vec<(f32, f32)>,
    /// Text for `label(text=auto)` instead of the number.
    pub label: Option<String>,
}

impl Target {
    /// A target for a box, index 0.
    pub fn from_box(b: BoxXyxy) -> Self {
        Target {
            region: Region::Box(b),
            index: 0,
            points: Vec::new(),
            label: None,
        }
    }
}

/// Renders recipes on one source image, caching backgrounds.
pub struct Renderer<'a> {
    image: &'a RgbImage,
    backgrounds: Mutex<HashMap<String, Arc<RgbImage>>>,
}

impl<'a> Renderer<'a> {
    /// A renderer for `image`.
    pub fn new(image: &'a RgbImage) -> Self {
        Renderer {
            image,
            backgrounds: Mutex::new(HashMap::new()),
        }
    }

    /// The source image.
    pub fn source(&self) -> &RgbImage {
        self.image
    }

    /// Render `recipe` for `target`. A region partly outside the image is clipped (with a
    /// warning); one entirely outside is an error.
    pub fn render(&self, recipe: &Recipe, target: &Target) -> Result<RgbImage> {
        let (w, h) = self.image.dimensions();
        let bbox = target.region.bbox()?;
        let Some(clipped) = bbox.clip_to(w, h) else {
            return Err(CueError::RegionOutside {
                box_xyxy: [bbox.x0, bbox.y0, bbox.x1, bbox.y1],
                width: w,
                height: h,
            });
        };
        if !bbox.inside(w, h) {
            warn!(
                "region {:?} extends beyond the {w}x{h} image; clipped to {:?}",
                [bbox.x0, bbox.y0, bbox.x1, bbox.y1],
                [clipped.x0, clipped.y0, clipped.x1, clipped.y1]
            );
        }

        let mut out = if recipe.outside().next().is_none() {
            self.image.clone()
        } else {
            let (cx, cy) = clipped.center();
            let lut = position_color(cx / w as f32, cy / h as f32);
            let bg = self.background(recipe, lut);
            let mut out = (*bg).clone();
            restore_region(&mut out, self.image, &target.region, &clipped)?;
            out
        };

        let at = Placement {
            target,
            bbox,
            clipped,
        };
        for step in recipe.overlays() {
            step.draw(&mut out, &at)?;
        }

        if let Some(crop) = recipe.crop() {
            out = crop.apply(&out, &bbox)?;
        }
        Ok(out)
    }

    /// The whole image with the recipe's outside steps applied, cached by their canonical text
    /// ([`Recipe::outside_key`]) and the position colour when `colorcode` is among them.
    fn background(&self, recipe: &Recipe, lut: Color) -> Arc<RgbImage> {
        let mut key = recipe.outside_key();
        if recipe.outside().any(|s| s.uses_position_color()) {
            key.push_str(&format!("@{lut}"));
        }
        if let Some(bg) = self.lock().get(&key) {
            return Arc::clone(bg);
        }
        let mut bg = self.image.clone();
        for step in recipe.outside() {
            step.apply(&mut bg, lut);
        }
        let bg = Arc::new(bg);
        self.lock().insert(key, Arc::clone(&bg));
        bg
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<RgbImage>>> {
        // A poisoned cache only means another render panicked; its entries are still whole.
        self.backgrounds.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Copy the region's pixels from `original` back into `out`.
fn restore_region(
    out: &mut RgbImage,
    original: &RgbImage,
    region: &Region,
    clipped: &BoxXyxy,
) -> Result<()> {
    let (w, h) = original.dimensions();
    match region {
        Region::Box(_) => {
            let (x0, y0, x1, y1) = clipped.pixel_span(w, h);
            let stride = w as usize * 3;
            let (a, b) = (x0 as usize * 3, x1 as usize * 3);
            let src: &[u8] = original;
            let dst: &mut [u8] = out;
            for y in y0 as usize..y1 as usize {
                let row = y * stride;
                dst[row + a..row + b].copy_from_slice(&src[row + a..row + b]);
            }
        }
        Region::Polygon(polys) => {
            let mut mask = tiny_skia::Mask::new(w, h).ok_or(CueError::Polygon(
                "image too large for a polygon mask".into(),
            ))?;
            for poly in polys {
                if let Some(path) = draw::polygon_path(poly) {
                    mask.fill_path(
                        &path,
                        tiny_skia::FillRule::Winding,
                        false,
                        tiny_skia::Transform::identity(),
                    );
                }
            }
            copy_where(out, original, mask.data());
        }
        Region::Mask(rle) => {
            if rle.width != w || rle.height != h {
                return Err(CueError::Rle(format!(
                    "mask is {}x{} but the image is {w}x{h}",
                    rle.width, rle.height
                )));
            }
            let bits = rle.decode()?;
            let mask: Vec<u8> = bits.iter().map(|&b| if b { 255 } else { 0 }).collect();
            copy_where(out, original, &mask);
        }
    }
    Ok(())
}

fn copy_where(out: &mut RgbImage, original: &RgbImage, mask: &[u8]) {
    let src: &[u8] = original;
    let dst: &mut [u8] = out;
    for (i, &m) in mask.iter().enumerate() {
        if m >= 128 {
            dst[i * 3..i * 3 + 3].copy_from_slice(&src[i * 3..i * 3 + 3]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo() -> RgbImage {
        RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, ((x + y) * 2) as u8])
        })
    }

    fn target(x0: f32, y0: f32, x1: f32, y1: f32) -> Target {
        Target::from_box(BoxXyxy::new(x0, y0, x1, y1).unwrap())
    }

    #[test]
    fn plain_is_identity_and_region_stays_sharp() {
        let img = photo();
        let r = Renderer::new(&img);
        let t = target(10.0, 10.0, 30.0, 30.0);
        assert_eq!(r.render(&Recipe::plain(), &t).unwrap(), img);
        let out = r
            .render(&Recipe::parse("blur(radius=3)+gray").unwrap(), &t)
            .unwrap();
        for y in 10..30 {
            for x in 10..30 {
                assert_eq!(out.get_pixel(x, y), img.get_pixel(x, y));
            }
        }
        let p = out.get_pixel(50, 5);
        assert!(p[0] == p[1] && p[1] == p[2]);
    }

    #[test]
    fn crop_and_edge_cases() {
        let img = photo();
        let r = Renderer::new(&img);
        let out = r
            .render(
                &Recipe::parse("crop").unwrap(),
                &target(10.0, 5.0, 30.0, 25.0),
            )
            .unwrap();
        assert_eq!(out.dimensions(), (20, 20));
        let out = r
            .render(
                &Recipe::parse("crop(pad=5)").unwrap(),
                &target(-10.0, -10.0, 5.0, 5.0),
            )
            .unwrap();
        assert_eq!(out.dimensions(), (10, 10));
        // one-pixel box, box larger than the image, box crossing the border
        for t in [
            target(3.0, 3.0, 4.0, 4.0),
            target(-100.0, -100.0, 500.0, 500.0),
            target(60.0, 40.0, 80.0, 60.0),
        ] {
            for spec in [
                "ellipse+blur+gray",
                "rect(width=10)",
                "rounded",
                "label+arrow+dot",
                "mask+crop",
                "colorcode+tint",
            ] {
                r.render(&Recipe::parse(spec).unwrap(), &t).unwrap();
            }
        }
        assert!(r
            .render(&Recipe::plain(), &target(100.0, 100.0, 120.0, 120.0))
            .is_err());
    }
}
