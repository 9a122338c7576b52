//! Pointers at the region: `arrow` (from outside, tip on the box border) and `dot` (at the
//! centre).

use std::fmt;

use image::RgbImage;

use super::param::{word_enum, ArgWriter, Args, Param};
use super::Cue;
use crate::color::Color;
use crate::draw::{self, Brush};
use crate::region::BoxXyxy;
use crate::schema::{Phase, PrimitiveSpec};

/// `arrow`: an arrow pointing at the region from outside.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrow {
    /// Colour.
    pub color: Color,
    /// Shaft width in pixels.
    pub width: u32,
    /// Length in pixels.
    pub length: f32,
    /// Side the arrow comes from.
    pub from: Direction,
    /// Anti-aliased edges.
    pub aa: bool,
    /// Opacity.
    pub alpha: f32,
}

word_enum! {
    /// The side an arrow comes from.
    pub enum Direction {
        /// From the top left.
        TopLeft = "top-left",
        /// From above.
        Top = "top",
        /// From the top right.
        TopRight = "top-right",
        /// From the left.
        Left = "left",
        /// From the right.
        Right = "right",
        /// From the bottom left.
        BottomLeft = "bottom-left",
        /// From below.
        Bottom = "bottom",
        /// From the bottom right.
        BottomRight = "bottom-right",
    }
}

impl Direction {
    /// The (unnormalised) vector from the region's centre towards the arrow's tail.
    pub fn vector(self) -> (f32, f32) {
        match self {
            Direction::TopLeft => (-1.0, -1.0),
            Direction::Top => (0.0, -1.0),
            Direction::TopRight => (1.0, -1.0),
            Direction::Left => (-1.0, 0.0),
            Direction::Right => (1.0, 0.0),
            Direction::BottomLeft => (-1.0, 1.0),
            Direction::Bottom => (0.0, 1.0),
            Direction::BottomRight => (1.0, 1.0),
        }
    }
}

const COLOR: Param<Color> = Param::color("color", "red", "colour");
const ALPHA: Param<f32> = Param::unit("alpha", "1", "opacity");
const AA: Param<bool> = Param::flag("aa", "true", "anti-aliased edges");
const ARROW_WIDTH: Param<u32> = Param::width("width", "3", "shaft width in pixels");
const LENGTH: Param<f32> = Param::number("length", 4.0, 10000.0, "60", "length in pixels");
const FROM: Param<Direction> = Param::choice("from", "top-left", "side the arrow comes from");

impl Cue for Arrow {
    const SPEC: PrimitiveSpec = PrimitiveSpec {
        name: "arrow",
        phase: Phase::Overlay,
        doc: "an arrow pointing at the region from outside",
        params: &[
            COLOR.spec,
            ARROW_WIDTH.spec,
            LENGTH.spec,
            FROM.spec,
            AA.spec,
            ALPHA.spec,
        ],
    };
    fn from_args(args: &mut Args) -> Self {
        Arrow {
            color: args.take(&COLOR),
            width: args.take(&ARROW_WIDTH),
            length: args.take(&LENGTH),
            from: args.take(&FROM),
            aa: args.take(&AA),
            alpha: args.take(&ALPHA),
        }
    }
    fn write_args(&self, w: &mut ArgWriter<'_, '_>) -> fmt::Result {
        w.arg(&COLOR, &self.color)?;
        w.arg(&ARROW_WIDTH, &self.width)?;
        w.arg(&LENGTH, &self.length)?;
        w.arg(&FROM, &self.from)?;
        w.arg(&AA, &self.aa)?;
        w.arg(&ALPHA, &self.alpha)
    }
}

impl Arrow {
    /// Draw the arrow with its tip on `b`'s border, on the line from its centre.
    pub fn draw(&self, out: &mut RgbImage, b: &BoxXyxy) {
        let (cx, cy) = b.center();
        let (dx, dy) = self.from.vector();
        let norm = (dx * dx + dy * dy).sqrt();
        let (ux, uy) = (dx / norm, dy / norm);
        // tip on the box border along the direction from the centre
        let tx = if ux.abs() > 1e-6 {
            (b.width() * 0.5) / ux.abs()
        } else {
            f32::INFINITY
        };
        let ty = if uy.abs() > 1e-6 {
            (b.height() * 0.5) / uy.abs()
        } else {
            f32::INFINITY
        };
        let t = tx.min(ty);
        let tip = (cx + ux * t, cy + uy * t);
        let len = self.length;
        let tail = (tip.0 + ux * len, tip.1 + uy * len);
        let width = self.width as f32;
        let head = (width * 4.0).max(8.0).min(len);
        let color = self.color.with_opacity(self.alpha);
        let neck = (tip.0 + ux * head * 0.9, tip.1 + uy * head * 0.9);
        if let Some(shaft) = draw::polyline_path(&[tail, neck]) {
            draw::paint_path(out, &shaft, Brush::Stroke(width), color, self.aa);
        }
        if let Some(h) = draw::arrowhead_path(tip, (-ux, -uy), head) {
            draw::paint_path(out, &h, Brush::Fill, color, self.aa);
        }
    }
}

/// `dot`: a filled dot at the region's centre.
#[derive(Debug, Clone, PartialEq)]
pub struct Dot {
    /// Colour.
    pub color: Color,
    /// Radius in pixels.
    pub radius: f32,
    /// Anti-aliased edges.
    pub aa: bool,
    /// Opacity.
    pub alpha: f32,
}

const RADIUS: Param<f32> = Param::number("radius", 0.5, 10000.0, "6", "radius in pixels");

impl Cue for Dot {
    const SPEC: PrimitiveSpec = PrimitiveSpec {
        name: "dot",
        phase: Phase::Overlay,
        doc: "a filled dot at the region's centre",
        params: &[COLOR.spec, RADIUS.spec, AA.spec, ALPHA.spec],
    };
    fn from_args(args: &mut Args) -> Self {
        Dot {
            color: args.take(&COLOR),
            radius: args.take(&RADIUS),
            aa: args.take(&AA),
            alpha: args.take(&ALPHA),
        }
    }
    fn write_args(&self, w: &mut ArgWriter<'_, '_>) -> fmt::Result {
        w.arg(&COLOR, &self.color)?;
        w.arg(&RADIUS, &self.radius)?;
        w.arg(&AA, &self.aa)?;
        w.arg(&ALPHA, &self.alpha)
    }
}

impl Dot {
    /// Fill a disc at `b`'s centre.
    pub fn draw(&self, out: &mut RgbImage, b: &BoxXyxy) {
        let (cx, cy) = b.center();
        if let Some(path) = draw::circle_path(cx, cy, self.radius) {
            let color = self.color.with_opacity(self.alpha);
            draw::paint_path(out, &path, Brush::Fill, color, self.aa);
        }
    }
}
