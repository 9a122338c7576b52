//! `mask`: fill the region's own shape (box, polygon or RLE mask) with a translucent colour.

use std::fmt;

use image::RgbImage;

use super::overlay::Placement;
use super::param::{ArgWriter, Args, Param};
use super::Cue;
use crate::color::Color;
use crate::draw::{self, Brush};
use crate::effects::blend;
use crate::error::{CueError, Result};
use crate::region::{Region, Rle};
use crate::schema::{Phase, PrimitiveSpec};

/// `mask`: the region's shape, filled.
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    /// Colour.
    pub color: Color,
    /// Fill opacity.
    pub alpha: f32,
    /// Also stroke the shape's border.
    pub outline: bool,
    /// Outline width in pixels.
    pub width: u32,
}

const COLOR: Param<Color> = Param::color("color", "red", "colour");
const ALPHA: Param<f32> = Param::unit("alpha", "0.4", "fill opacity");
const OUTLINE: Param<bool> = Param::flag("outline", "true", "also stroke the shape's border");
const WIDTH: Param<u32> = Param::width("width", "2", "outline width in pixels");

impl Cue for Mask {
    const SPEC: PrimitiveSpec = PrimitiveSpec {
        name: "mask",
        phase: Phase::Overlay,
        doc: "fill the region's own shape (box, polygon or RLE mask) with a translucent colour",
        params: &[COLOR.spec, ALPHA.spec, OUTLINE.spec, WIDTH.spec],
    };
    fn from_args(args: &mut Args) -> Self {
        Mask {
            color: args.take(&COLOR),
            alpha: args.take(&ALPHA),
            outline: args.take(&OUTLINE),
            width: args.take(&WIDTH),
        }
    }
    fn write_args(&self, w: &mut ArgWriter<'_, '_>) -> fmt::Result {
        w.arg(&COLOR, &self.color)?;
        w.arg(&ALPHA, &self.alpha)?;
        w.arg(&OUTLINE, &self.outline)?;
        w.arg(&WIDTH, &self.width)
    }
}

impl Mask {
    /// Fill (and outline) the target's region. A mask of another size than the image is an
    /// error.
    pub fn draw(&self, out: &mut RgbImage, at: &Placement<'_>) -> Result<()> {
        let fill = self.color.with_opacity(self.alpha);
        let width = self.width as f32;
        let b = &at.bbox;
        let paths: Vec<tiny_skia::Path> = match &at.target.region {
            Region::Polygon(polys) => polys.iter().filter_map(|p| draw::polygon_path(p)).collect(),
            Region::Box(_) => draw::rect_path(b.x0, b.y0, b.x1, b.y1)
                .into_iter()
                .collect(),
            Region::Mask(rle) => return self.draw_rle(out, rle, fill),
        };
        for path in &paths {
            draw::paint_path(out, path, Brush::Fill, fill, true);
            if self.outline {
                draw::paint_path(out, path, Brush::Stroke(width), self.color, true);
            }
        }
        Ok(())
    }

    /// Blend `fill` over the mask's pixels; its border (when outlined) in the opaque colour.
    fn draw_rle(&self, out: &mut RgbImage, rle: &Rle, fill: Color) -> Result<()> {
        let (iw, ih) = out.dimensions();
        if rle.width != iw || rle.height != ih {
            return Err(CueError::Rle(format!(
                "mask is {}x{} but the image is {iw}x{ih}",
                rle.width, rle.height
            )));
        }
        let bits = rle.decode()?;
        let border = if self.outline {
            mask_border(&bits, iw as usize, ih as usize, self.width as usize)
        } else {
            vec![false; bits.len()]
        };
        let fa = fill.rgba[3];
        let color = self.color;
        for (i, (&on, &edge)) in bits.iter().zip(&border).enumerate() {
            if !on {
                continue;
            }
            let (x, y) = ((i % iw as usize) as u32, (i / iw as usize) as u32);
            let p = out.get_pixel_mut(x, y);
            for c in 0..3 {
                p.0[c] = if edge {
                    color.rgba[c]
                } else {
                    blend(p.0[c], color.rgba[c], fa)
                };
            }
        }
        Ok(())
    }
}

/// Mask pixels within `width` pixels (4-connected erosion steps) of the mask's outside.
fn mask_border(bits: &[bool], w: usize, h: usize, width: usize) -> Vec<bool> {
    let mut inner = bits.to_vec();
    for _ in 0..width.max(1) {
        let prev = inner.clone();
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                if !prev[i] {
                    continue;
                }
                let edge = x == 0
                    || y == 0
                    || x + 1 == w
                    || y + 1 == h
                    || !prev[i - 1]
                    || !prev[i + 1]
                    || !prev[i - w]
                    || !prev[i + w];
                if edge {
                    inner[i] = false;
                }
            }
        }
    }
    bits.iter().zip(&inner).map(|(&b, &i)| b && !i).collect()
}
