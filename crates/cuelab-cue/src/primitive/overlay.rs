//! Overlay primitives: drawn on top of the image, in written order, after every outside step.
//! The shapes live in their families' modules; `tint` (one blend) lives here.

use std::fmt;

use image::RgbImage;

use super::param::{ArgWriter, Args, Param};
use super::{Arrow, Cue, Dot, Ellipse, Kind, Label, Mask, Rect, Rounded, Trajectory};
use crate::effects::{fill_in_place, position_color};
use crate::error::Result;
use crate::region::BoxXyxy;
use crate::render::Target;
use crate::schema::{Phase, PrimitiveSpec};

/// Where an overlay is drawn: the target, its bounding box, and that box clipped to the image.
#[derive(Debug, Clone, Copy)]
pub struct Placement<'a> {
    /// The target (region, index, points, label).
    pub target: &'a Target,
    /// The region's bounding box, possibly reaching outside the image.
    pub bbox: BoxXyxy,
    /// The bounding box clipped to the image.
    pub clipped: BoxXyxy,
}

/// An overlay step.
#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    /// `rect`.
    Rect(Rect),
    /// `ellipse`.
    Ellipse(Ellipse),
    /// `rounded`.
    Rounded(Rounded),
    /// `tint`.
    Tint(Tint),
    /// `label`.
    Label(Label),
    /// `arrow`.
    Arrow(Arrow),
    /// `dot`.
    Dot(Dot),
    /// `trajectory`.
    Trajectory(Trajectory),
    /// `mask`.
    Mask(Mask),
}

impl Overlay {
    /// Which primitive this is.
    pub fn kind(&self) -> Kind {
        match self {
            Overlay::Rect(_) => Kind::Rect,
            Overlay::Ellipse(_) => Kind::Ellipse,
            Overlay::Rounded(_) => Kind::Rounded,
            Overlay::Tint(_) => Kind::Tint,
            Overlay::Label(_) => Kind::Label,
            Overlay::Arrow(_) => Kind::Arrow,
            Overlay::Dot(_) => Kind::Dot,
            Overlay::Trajectory(_) => Kind::Trajectory,
            Overlay::Mask(_) => Kind::Mask,
        }
    }

    /// Draw the step on `out`.
    pub fn draw(&self, out: &mut RgbImage, at: &Placement<'_>) -> Result<()> {
        match self {
            Overlay::Rect(r) => r.draw(out, &at.bbox),
            Overlay::Ellipse(e) => e.draw(out, &at.bbox),
            Overlay::Rounded(r) => r.draw(out, &at.bbox),
            Overlay::Tint(t) => t.draw(out, &at.clipped),
            Overlay::Label(l) => l.draw(out, at.target, &at.clipped),
            Overlay::Arrow(a) => a.draw(out, &at.bbox),
            Overlay::Dot(d) => d.draw(out, &at.bbox),
            Overlay::Trajectory(t) => t.draw(out, at.target),
            Overlay::Mask(m) => return m.draw(out, at),
        }
        Ok(())
    }

    pub(super) fn write_args(&self, w: &mut ArgWriter<'_, '_>) -> fmt::Result {
        match self {
            Overlay::Rect(r) => r.write_args(w),
            Overlay::Ellipse(e) => e.write_args(w),
            Overlay::Rounded(r) => r.write_args(w),
            Overlay::Tint(t) => t.write_args(w),
            Overlay::Label(l) => l.write_args(w),
            Overlay::Arrow(a) => a.write_args(w),
            Overlay::Dot(d) => d.write_args(w),
            Overlay::Trajectory(t) => t.write_args(w),
            Overlay::Mask(m) => m.write_args(w),
        }
    }
}

/// `tint`: blend the position table's colour for the region's centre over the whole image.
#[derive(Debug, Clone, PartialEq)]
pub struct Tint {
    /// Tint opacity.
    pub alpha: f32,
}

const TINT_ALPHA: Param<f32> = Param::unit("alpha", "0.5", "tint opacity");

impl Cue for Tint {
    const SPEC: PrimitiveSpec = PrimitiveSpec {
        name: "tint",
        phase: Phase::Overlay,
        doc:
            "blend the position table's colour for the region centroid over the whole image (6.1.2)",
        params: &[TINT_ALPHA.spec],
    };
    fn from_args(args: &mut Args) -> Self {
        Tint {
            alpha: args.take(&TINT_ALPHA),
        }
    }
    fn write_args(&self, w: &mut ArgWriter<'_, '_>) -> fmt::Result {
        w.arg(&TINT_ALPHA, &self.alpha)
    }
}

impl Tint {
    /// Blend the position colour of `clipped`'s centre over `out`.
    pub fn draw(&self, out: &mut RgbImage, clipped: &BoxXyxy) {
        let (iw, ih) = out.dimensions();
        let (cx, cy) = clipped.center();
        let c = position_color(cx / iw as f32, cy / ih as f32).with_opacity(self.alpha);
        fill_in_place(out, c);
    }
}
