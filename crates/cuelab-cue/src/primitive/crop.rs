//! `crop`: cut the output to the region's box, with padding and context; applied last.

use std::fmt;

use image::RgbImage;

use super::param::{ArgWriter, Args, Param};
use super::Cue;
use crate::error::{CueError, Result};
use crate::region::BoxXyxy;
use crate::schema::{Phase, PrimitiveSpec};

/// `crop`: the output cut to the region's box.
#[derive(Debug, Clone, PartialEq)]
pub struct Crop {
    /// Pixels added on every side.
    pub pad: f32,
    /// Fraction of the box size added on every side.
    pub context: f32,
    /// Grow the shorter side to make a square.
    pub square: bool,
}

const PAD: Param<f32> = Param::number("pad", -10000.0, 10000.0, "0", "pixels added on every side");
const CONTEXT: Param<f32> = Param::number(
    "context",
    0.0,
    100.0,
    "0",
    "fraction of the box size added on every side",
);
const SQUARE: Param<bool> =
    Param::flag("square", "false", "grow the shorter side to make a square");

impl Cue for Crop {
    const SPEC: PrimitiveSpec = PrimitiveSpec {
        name: "crop",
        phase: Phase::Crop,
        doc: "cut the output to the region's box, with optional padding",
        params: &[PAD.spec, CONTEXT.spec, SQUARE.spec],
    };
    fn from_args(args: &mut Args) -> Self {
        Crop {
            pad: args.take(&PAD),
            context: args.take(&CONTEXT),
            square: args.take(&SQUARE),
        }
    }
    fn write_args(&self, w: &mut ArgWriter<'_, '_>) -> fmt::Result {
        w.arg(&PAD, &self.pad)?;
        w.arg(&CONTEXT, &self.context)?;
        w.arg(&SQUARE, &self.square)
    }
}

impl Crop {
    /// `out` cut to the crop box around `bbox`, clipped to the image (at least one pixel); a
    /// crop box entirely outside the image is an error.
    pub fn apply(&self, out: &RgbImage, bbox: &BoxXyxy) -> Result<RgbImage> {
        let (w, h) = out.dimensions();
        let (ctx, pad) = (self.context, self.pad);
        let mut b = BoxXyxy {
            x0: bbox.x0 - pad - ctx * bbox.width(),
            y0: bbox.y0 - pad - ctx * bbox.height(),
            x1: bbox.x1 + pad + ctx * bbox.width(),
            y1: bbox.y1 + pad + ctx * bbox.height(),
        };
        if self.square {
            let side = b.width().max(b.height());
            let (cx, cy) = b.center();
            b = BoxXyxy {
                x0: cx - side * 0.5,
                y0: cy - side * 0.5,
                x1: cx + side * 0.5,
                y1: cy + side * 0.5,
            };
        }
        let Some(c) = b.clip_to(w, h) else {
            return Err(CueError::RegionOutside {
                box_xyxy: [b.x0, b.y0, b.x1, b.y1],
                width: w,
                height: h,
            });
        };
        let (x0, y0, mut x1, mut y1) = c.pixel_span(w, h);
        // a sub-pixel box still yields one pixel
        if x1 <= x0 {
            x1 = (x0 + 1).min(w);
        }
        if y1 <= y0 {
            y1 = (y0 + 1).min(h);
        }
        let x0 = x0.min(x1.saturating_sub(1));
        let y0 = y0.min(y1.saturating_sub(1));
        Ok(image::imageops::crop_imm(out, x0, y0, x1 - x0, y1 - y0).to_image())
    }
}
