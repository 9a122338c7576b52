//! Outside primitives: they change the whole image, whose region the renderer then restores
//! from the original (the region stays sharp).

use std::fmt;

use image::RgbImage;

use super::param::{ArgWriter, Args, Param};
use super::{Cue, Kind};
use crate::blur::gaussian_blur_in_place;
use crate::color::Color;
use crate::effects::{dim_in_place, fill_in_place, grayscale_in_place};
use crate::schema::{Phase, PrimitiveSpec};

/// An outside step.
#[derive(Debug, Clone, PartialEq)]
pub enum Outside {
    /// `blur`.
    Blur(Blur),
    /// `gray`.
    Gray(Gray),
    /// `dim`.
    Dim(Dim),
    /// `fill`.
    Fill(Fill),
    /// `colorcode`.
    Colorcode(Colorcode),
}

impl Outside {
    /// Which primitive this is.
    pub fn kind(&self) -> Kind {
        match self {
            Outside::Blur(_) => Kind::Blur,
            Outside::Gray(_) => Kind::Gray,
            Outside::Dim(_) => Kind::Dim,
            Outside::Fill(_) => Kind::Fill,
            Outside::Colorcode(_) => Kind::Colorcode,
        }
    }

    /// True when the step paints the position colour (the background then depends on where
    /// the region is).
    pub fn uses_position_color(&self) -> bool {
        matches!(self, Outside::Colorcode(_))
    }

    /// Apply the step to the whole `image`; `position` is the position table's colour for the
    /// region's centre.
    pub fn apply(&self, image: &mut RgbImage, position: Color) {
        match self {
            Outside::Blur(b) => gaussian_blur_in_place(image, b.radius),
            Outside::Gray(Gray) => grayscale_in_place(image),
            Outside::Dim(d) => dim_in_place(image, d.amount),
            Outside::Fill(f) => fill_in_place(image, f.color.with_opacity(f.alpha)),
            Outside::Colorcode(Colorcode) => fill_in_place(image, position),
        }
    }

    pub(super) fn write_args(&self, w: &mut ArgWriter<'_, '_>) -> fmt::Result {
        match self {
            Outside::Blur(b) => b.write_args(w),
            Outside::Gray(g) => g.write_args(w),
            Outside::Dim(d) => d.write_args(w),
            Outside::Fill(f) => f.write_args(w),
            Outside::Colorcode(c) => c.write_args(w),
        }
    }
}

/// `blur`: Gaussian blur outside the region, as Pillow's `GaussianBlur`.
#[derive(Debug, Clone, PartialEq)]
pub struct Blur {
    /// Standard deviation in pixels.
    pub radius: f32,
}

const RADIUS: Param<f32> =
    Param::number("radius", 0.0, 1000.0, "20", "standard deviation in pixels");

impl Cue for Blur {
    const SPEC: PrimitiveSpec = PrimitiveSpec {
        name: "blur",
        phase: Phase::Outside,
        doc: "Gaussian blur outside the region; radius = standard deviation, as Pillow's GaussianBlur",
        params: &[RADIUS.spec],
    };
    fn from_args(args: &mut Args) -> Self {
        Blur {
            radius: args.take(&RADIUS),
        }
    }
    fn write_args(&self, w: &mut ArgWriter<'_, '_>) -> fmt::Result {
        w.arg(&RADIUS, &self.radius)
    }
}

/// `gray`: grayscale outside the region (Pillow's `convert('L')`).
#[derive(Debug, Clone, PartialEq)]
pub struct Gray;

impl Cue for Gray {
    const SPEC: PrimitiveSpec = PrimitiveSpec {
        name: "gray",
        phase: Phase::Outside,
        doc: "grayscale outside the region (Pillow convert('L'), ITU-R 601-2 luma)",
        params: &[],
    };
    fn from_args(_: &mut Args) -> Self {
        Gray
    }
    fn write_args(&self, _: &mut ArgWriter<'_, '_>) -> fmt::Result {
        Ok(())
    }
}

/// `dim`: darken outside the region.
#[derive(Debug, Clone, PartialEq)]
pub struct Dim {
    /// 0 = unchanged, 1 = black.
    pub amount: f32,
}

const AMOUNT: Param<f32> = Param::unit("amount", "0.5", "0 = unchanged, 1 = black");

impl Cue for Dim {
    const SPEC: PrimitiveSpec = PrimitiveSpec {
        name: "dim",
        phase: Phase::Outside,
        doc: "darken outside the region",
        params: &[AMOUNT.spec],
    };
    fn from_args(args: &mut Args) -> Self {
        Dim {
            amount: args.take(&AMOUNT),
        }
    }
    fn write_args(&self, w: &mut ArgWriter<'_, '_>) -> fmt::Result {
        w.arg(&AMOUNT, &self.amount)
    }
}

/// `fill`: paint outside the region with a solid colour.
#[derive(Debug, Clone, PartialEq)]
pub struct Fill {
    /// Fill colour.
    pub color: Color,
    /// Opacity.
    pub alpha: f32,
}

const FILL_COLOR: Param<Color> = Param::color("color", "black", "fill colour");
const FILL_ALPHA: Param<f32> = Param::unit("alpha", "1", "opacity");

impl Cue for Fill {
    const SPEC: PrimitiveSpec = PrimitiveSpec {
        name: "fill",
        phase: Phase::Outside,
        doc: "paint outside the region with a solid colour",
        params: &[FILL_COLOR.spec, FILL_ALPHA.spec],
    };
    fn from_args(args: &mut Args) -> Self {
        Fill {
            color: args.take(&FILL_COLOR),
            alpha: args.take(&FILL_ALPHA),
        }
    }
    fn write_args(&self, w: &mut ArgWriter<'_, '_>) -> fmt::Result {
        w.arg(&FILL_COLOR, &self.color)?;
        w.arg(&FILL_ALPHA, &self.alpha)
    }
}

/// `colorcode`: paint outside the region with seed 004's position colour for its centre.
#[derive(Debug, Clone, PartialEq)]
pub struct Colorcode;

impl Cue for Colorcode {
    const SPEC: PrimitiveSpec = PrimitiveSpec {
        name: "colorcode",
        phase: Phase::Outside,
        doc: "paint outside the region with the colour seed 004's 3x3 position table gives the region centroid (6.1.1)",
        params: &[],
    };
    fn from_args(_: &mut Args) -> Self {
        Colorcode
    }
    fn write_args(&self, _: &mut ArgWriter<'_, '_>) -> fmt::Result {
        Ok(())
    }
}
