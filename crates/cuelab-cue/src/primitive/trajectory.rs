//! `trajectory`: a polyline through the target's points (e.g. box centres over frames).

use std::fmt;

use image::RgbImage;

use super::param::{ArgWriter, Args, Param};
use super::Cue;
use crate::color::Color;
use crate::draw::{self, Brush};
use crate::render::Target;
use crate::schema::{Phase, PrimitiveSpec};

/// `trajectory`: a polyline through [`Target::points`].
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    /// Colour.
    pub color: Color,
    /// Line width in pixels.
    pub width: u32,
    /// Arrowhead at the last point.
    pub arrow: bool,
    /// Older segments fade out.
    pub fade: bool,
    /// Anti-aliased edges.
    pub aa: bool,
    /// Opacity.
    pub alpha: f32,
}

const COLOR: Param<Color> = Param::color("color", "red", "colour");
const WIDTH: Param<u32> = Param::width("width", "3", "line width in pixels");
const ARROW: Param<bool> = Param::flag("arrow", "true", "arrowhead at the last point");
const FADE: Param<bool> = Param::flag("fade", "false", "older segments fade out");
const AA: Param<bool> = Param::flag("aa", "true", "anti-aliased edges");
const ALPHA: Param<f32> = Param::unit("alpha", "1", "opacity");

impl Cue for Trajectory {
    const SPEC: PrimitiveSpec = PrimitiveSpec {
        name: "trajectory",
        phase: Phase::Overlay,
        doc: "a polyline through the target's points (e.g. box centres over frames)",
        params: &[
            COLOR.spec, WIDTH.spec, ARROW.spec, FADE.spec, AA.spec, ALPHA.spec,
        ],
    };
    fn from_args(args: &mut Args) -> Self {
        Trajectory {
            color: args.take(&COLOR),
            width: args.take(&WIDTH),
            arrow: args.take(&ARROW),
            fade: args.take(&FADE),
            aa: args.take(&AA),
            alpha: args.take(&ALPHA),
        }
    }
    fn write_args(&self, w: &mut ArgWriter<'_, '_>) -> fmt::Result {
        w.arg(&COLOR, &self.color)?;
        w.arg(&WIDTH, &self.width)?;
        w.arg(&ARROW, &self.arrow)?;
        w.arg(&FADE, &self.fade)?;
        w.arg(&AA, &self.aa)?;
        w.arg(&ALPHA, &self.alpha)
    }
}

impl Trajectory {
    /// Draw the polyline through `target`'s points; fewer than two points draw nothing.
    pub fn draw(&self, out: &mut RgbImage, target: &Target) {
        let pts = &target.points;
        if pts.len() < 2 {
            // Normal on a clip's first frame and for still objects: nothing to draw.
            tracing::debug!(
                "trajectory needs at least two points; target {} has {}",
                target.index,
                pts.len()
            );
            return;
        }
        let width = self.width as f32;
        let color = self.color.with_opacity(self.alpha);
        let aa = self.aa;
        if self.fade {
            let n = (pts.len() - 1) as f32;
            for (i, seg) in pts.windows(2).enumerate() {
                let opacity = 0.25 + 0.75 * (i as f32 + 1.0) / n;
                if let Some(path) = draw::polyline_path(seg) {
                    let faded = color.with_opacity(opacity);
                    draw::paint_path(out, &path, Brush::Stroke(width), faded, aa);
                }
            }
        } else if let Some(path) = draw::polyline_path(pts) {
            draw::paint_path(out, &path, Brush::Stroke(width), color, aa);
        }
        if self.arrow {
            let (a, z) = (pts[pts.len() - 2], pts[pts.len() - 1]);
            let head = (width * 4.0).max(8.0);
            if let Some(h) = draw::arrowhead_path(z, (z.0 - a.0, z.1 - a.1), head) {
                draw::paint_path(out, &h, Brush::Fill, color, aa);
            }
        }
    }
}
