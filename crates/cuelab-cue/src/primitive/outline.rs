//! Outlines of the region's box: `rect`, `ellipse` (by default Pillow's aliased ellipse, pixel
//! for pixel) and `rounded`. The stroke lies inside the box; a box thinner than two strokes is
//! filled instead.

use std::fmt;

use image::RgbImage;

use super::param::{ArgWriter, Args, Param};
use super::Cue;
use crate::color::Color;
use crate::draw::{self, Brush};
use crate::pillow_ellipse;
use crate::region::BoxXyxy;
use crate::schema::{Phase, PrimitiveSpec};

const COLOR: Param<Color> = Param::color("color", "red", "stroke colour");
const WIDTH: Param<u32> = Param::width("width", "3", "stroke width in pixels");
const ALPHA: Param<f32> = Param::unit("alpha", "1", "opacity");

/// `rect`: outline of the region's box.
#[derive(Debug, Clone, PartialEq)]
pub struct Rect {
    /// Stroke colour.
    pub color: Color,
    /// Stroke width in pixels.
    pub width: u32,
    /// Anti-aliased edges.
    pub aa: bool,
    /// Opacity.
    pub alpha: f32,
}

const RECT_AA: Param<bool> =
    Param::flag("aa", "false", "anti-aliased edges (Pillow draws without)");

impl Cue for Rect {
    const SPEC: PrimitiveSpec = PrimitiveSpec {
        name: "rect",
        phase: Phase::Overlay,
        doc: "outline of the region's box, stroke inside the box",
        params: &[COLOR.spec, WIDTH.spec, RECT_AA.spec, ALPHA.spec],
    };
    fn from_args(args: &mut Args) -> Self {
        Rect {
            color: args.take(&COLOR),
            width: args.take(&WIDTH),
            aa: args.take(&RECT_AA),
            alpha: args.take(&ALPHA),
        }
    }
    fn write_args(&self, w: &mut ArgWriter<'_, '_>) -> fmt::Result {
        w.arg(&COLOR, &self.color)?;
        w.arg(&WIDTH, &self.width)?;
        w.arg(&RECT_AA, &self.aa)?;
        w.arg(&ALPHA, &self.alpha)
    }
}

impl Rect {
    /// Draw the outline of `bbox`.
    pub fn draw(&self, out: &mut RgbImage, bbox: &BoxXyxy) {
        let color = self.color.with_opacity(self.alpha);
        outline(out, bbox, Shape::Rect, self.width, self.aa, color);
    }
}

/// `ellipse`: outline of the ellipse inscribed in the region's box (seed 004's red circle).
#[derive(Debug, Clone, PartialEq)]
pub struct Ellipse {
    /// Stroke colour.
    pub color: Color,
    /// Stroke width in pixels.
    pub width: u32,
    /// Anti-aliased stroke; `false` draws Pillow's aliased ellipse, pixel for pixel.
    pub aa: bool,
    /// Opacity.
    pub alpha: f32,
}

const ELLIPSE_AA: Param<bool> = Param::flag(
    "aa",
    "false",
    "anti-aliased stroke (default false: Pillow's aliased ellipse, pixel for pixel)",
);

impl Cue for Ellipse {
    const SPEC: PrimitiveSpec = PrimitiveSpec {
        name: "ellipse",
        phase: Phase::Overlay,
        doc: "outline of the ellipse inscribed in the region's box (seed 004's red circle); by default pixel-identical to Pillow's ImageDraw.ellipse(outline, width)",
        params: &[COLOR.spec, WIDTH.spec, ELLIPSE_AA.spec, ALPHA.spec],
    };
    fn from_args(args: &mut Args) -> Self {
        Ellipse {
            color: args.take(&COLOR),
            width: args.take(&WIDTH),
            aa: args.take(&ELLIPSE_AA),
            alpha: args.take(&ALPHA),
        }
    }
    fn write_args(&self, w: &mut ArgWriter<'_, '_>) -> fmt::Result {
        w.arg(&COLOR, &self.color)?;
        w.arg(&WIDTH, &self.width)?;
        w.arg(&ELLIPSE_AA, &self.aa)?;
        w.arg(&ALPHA, &self.alpha)
    }
}

impl Ellipse {
    /// Draw the ellipse inscribed in `bbox`.
    pub fn draw(&self, out: &mut RgbImage, bbox: &BoxXyxy) {
        let color = self.color.with_opacity(self.alpha);
        if self.aa {
            outline(out, bbox, Shape::Ellipse, self.width, true, color);
        } else {
            // Pillow's `ImageDraw.ellipse(outline, width)`, pixel for pixel (the default).
            let style = pillow_ellipse::EllipseStyle::Outline(self.width);
            pillow_ellipse::draw(out, pillow_ellipse::pillow_box(bbox), style, color);
        }
    }
}

/// `rounded`: outline of the region's box with rounded corners.
#[derive(Debug, Clone, PartialEq)]
pub struct Rounded {
    /// Stroke colour.
    pub color: Color,
    /// Stroke width in pixels.
    pub width: u32,
    /// Corner radius in pixels (capped at half the shorter side).
    pub corner: f32,
    /// Anti-aliased edges.
    pub aa: bool,
    /// Opacity.
    pub alpha: f32,
}

const CORNER: Param<f32> = Param::number(
    "corner",
    0.0,
    10000.0,
    "12",
    "corner radius in pixels (capped at half the shorter side)",
);
const ROUNDED_AA: Param<bool> = Param::flag("aa", "true", "anti-aliased edges");

impl Cue for Rounded {
    const SPEC: PrimitiveSpec = PrimitiveSpec {
        name: "rounded",
        phase: Phase::Overlay,
        doc: "outline of the region's box with rounded corners",
        params: &[
            COLOR.spec,
            WIDTH.spec,
            CORNER.spec,
            ROUNDED_AA.spec,
            ALPHA.spec,
        ],
    };
    fn from_args(args: &mut Args) -> Self {
        Rounded {
            color: args.take(&COLOR),
            width: args.take(&WIDTH),
            corner: args.take(&CORNER),
            aa: args.take(&ROUNDED_AA),
            alpha: args.take(&ALPHA),
        }
    }
    fn write_args(&self, w: &mut ArgWriter<'_, '_>) -> fmt::Result {
        w.arg(&COLOR, &self.color)?;
        w.arg(&WIDTH, &self.width)?;
        w.arg(&CORNER, &self.corner)?;
        w.arg(&ROUNDED_AA, &self.aa)?;
        w.arg(&ALPHA, &self.alpha)
    }
}

impl Rounded {
    /// Draw the rounded outline of `bbox`.
    pub fn draw(&self, out: &mut RgbImage, bbox: &BoxXyxy) {
        let color = self.color.with_opacity(self.alpha);
        let shape = Shape::Rounded(self.corner);
        outline(out, bbox, shape, self.width, self.aa, color);
    }
}

/// The outline's shape.
#[derive(Clone, Copy)]
enum Shape {
    Rect,
    Ellipse,
    Rounded(f32),
}

/// Stroke `shape` inside `b`, or fill it when `b` is thinner than two strokes (a rounded box
/// is then filled as a plain one).
fn outline(out: &mut RgbImage, b: &BoxXyxy, shape: Shape, width: u32, aa: bool, color: Color) {
    let width = width as f32;
    let half = width * 0.5;
    let (x0, y0, x1, y1) = (b.x0 + half, b.y0 + half, b.x1 - half, b.y1 - half);
    let (path, brush) = if x1 > x0 && y1 > y0 {
        let path = match shape {
            Shape::Rect => draw::rect_path(x0, y0, x1, y1),
            Shape::Ellipse => draw::ellipse_path(x0, y0, x1, y1),
            Shape::Rounded(corner) => draw::rounded_rect_path(x0, y0, x1, y1, corner),
        };
        (path, Brush::Stroke(width))
    } else {
        let (x1, y1) = (b.x1.max(b.x0 + 1.0), b.y1.max(b.y0 + 1.0));
        let path = match shape {
            Shape::Ellipse => draw::ellipse_path(b.x0, b.y0, x1, y1),
            Shape::Rect | Shape::Rounded(_) => draw::rect_path(b.x0, b.y0, x1, y1),
        };
        (path, Brush::Fill)
    };
    if let Some(path) = path {
        draw::paint_path(out, &path, brush, color, aa);
    }
}
