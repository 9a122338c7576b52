//! Cue primitives as types. A [`Primitive`] is parsed once from a spec; each primitive is a
//! struct that owns its typed parameters, their defaults and docs (its
//! [`crate::schema::PrimitiveSpec`]) and its drawing code. The variants are
//! grouped by [`Phase`]: [`Outside`] steps paint the background, [`Overlay`] steps draw on top,
//! [`Crop`] cuts the output, so the renderer matches each group exhaustively and a primitive
//! cannot be drawn in the wrong phase.
//!
//! ```
//! use cuelab_cue::primitive::{Outside, Overlay, Primitive};
//! use cuelab_cue::Recipe;
//! let recipe = Recipe::parse("ellipse(width=5) + blur")?;
//! let Primitive::Overlay(Overlay::Ellipse(ellipse)) = &recipe.steps()[0] else {
//!     unreachable!("parsed as written")
//! };
//! assert_eq!((ellipse.width, ellipse.aa), (5, false)); // `aa` took its default
//! assert!(matches!(recipe.outside().next(), Some(Outside::Blur(b)) if b.radius == 20.0));
//! assert_eq!(recipe.to_string(), "ellipse(color=red,width=5,aa=false,alpha=1)+blur(radius=20)");
//! # Ok::<(), cuelab_cue::CueError>(())
//! ```
//!
//! Adding a primitive: write its struct (a `Cue` impl and its drawing method) in a module of
//! its family, add a variant to its phase's enum and to the `kinds!` list (which declares
//! [`Kind`] and [`Kind::ALL`] together); the compiler then asks for every match arm the new
//! primitive needs: its kind, schema entry, construction, canonical text and drawing.

use std::fmt;

use crate::schema::{Phase, PrimitiveSpec};

mod crop;
mod label;
mod mask;
mod outline;
mod outside;
mod overlay;
pub(crate) mod param;
mod pointer;
mod trajectory;

pub use crop::Crop;
pub use label::{Label, LabelPos, LabelText};
pub use mask::Mask;
pub use outline::{Ellipse, Rect, Rounded};
pub use outside::{Blur, Colorcode, Dim, Fill, Gray, Outside};
pub use overlay::{Overlay, Placement, Tint};
pub use pointer::{Arrow, Direction, Dot};
pub use trajectory::Trajectory;

use param::{ArgWriter, Args};

/// What every primitive struct provides: its schema entry, construction from validated
/// parameters and its canonical parameter list.
pub(crate) trait Cue: Sized {
    /// Name, phase, description and parameters (with defaults) as `cuelab cues` prints them.
    const SPEC: PrimitiveSpec;
    /// The primitive from its parameters' values (given or default).
    fn from_args(args: &mut Args) -> Self;
    /// Every parameter with its value, in [`Self::SPEC`]'s order.
    fn write_args(&self, w: &mut ArgWriter<'_, '_>) -> fmt::Result;
}

/// One step of a recipe: a primitive with every parameter filled in.
#[derive(Debug, Clone, PartialEq)]
pub enum Primitive {
    /// Changes the image outside the region.
    Outside(Outside),
    /// Draws on top of the image.
    Overlay(Overlay),
    /// Cuts the output to the region.
    Crop(Crop),
}

/// Declares [`Kind`] and [`Kind::ALL`] from one list, so no primitive can be left out of
/// `ALL` (and so out of the schema, the parser and `cuelab cues`).
macro_rules! kinds {
    ($($(#[$doc:meta])* $variant:ident,)+) => {
        /// The primitives by name, without parameters, in the order `cuelab cues` lists them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Kind {
            $($(#[$doc])* $variant,)+
        }

        /// How many primitives there are.
        const COUNT: usize = [$(stringify!($variant)),+].len();

        impl Kind {
            /// Every primitive, in the order `cuelab cues` and the parser's messages list them.
            pub const ALL: [Kind; COUNT] = [$(Kind::$variant),+];
        }
    };
}

kinds! {
    /// [`Rect`].
    Rect,
    /// [`Ellipse`].
    Ellipse,
    /// [`Rounded`].
    Rounded,
    /// [`Blur`].
    Blur,
    /// [`Gray`].
    Gray,
    /// [`Dim`].
    Dim,
    /// [`Fill`].
    Fill,
    /// [`Colorcode`].
    Colorcode,
    /// [`Tint`].
    Tint,
    /// [`Crop`].
    Crop,
    /// [`Label`].
    Label,
    /// [`Arrow`].
    Arrow,
    /// [`Dot`].
    Dot,
    /// [`Trajectory`].
    Trajectory,
    /// [`Mask`].
    Mask,
}

impl Kind {
    /// The schema entries of [`Kind::ALL`], in that order.
    pub(crate) const SPECS: [PrimitiveSpec; COUNT] = {
        let mut specs = [Rect::SPEC; COUNT];
        let mut i = 0;
        while i < COUNT {
            specs[i] = Kind::ALL[i].spec();
            i += 1;
        }
        specs
    };

    /// The primitive's schema entry.
    pub const fn spec(self) -> PrimitiveSpec {
        match self {
            Kind::Rect => Rect::SPEC,
            Kind::Ellipse => Ellipse::SPEC,
            Kind::Rounded => Rounded::SPEC,
            Kind::Blur => Blur::SPEC,
            Kind::Gray => Gray::SPEC,
            Kind::Dim => Dim::SPEC,
            Kind::Fill => Fill::SPEC,
            Kind::Colorcode => Colorcode::SPEC,
            Kind::Tint => Tint::SPEC,
            Kind::Crop => Crop::SPEC,
            Kind::Label => Label::SPEC,
            Kind::Arrow => Arrow::SPEC,
            Kind::Dot => Dot::SPEC,
            Kind::Trajectory => Trajectory::SPEC,
            Kind::Mask => Mask::SPEC,
        }
    }

    /// The primitive's name in specs.
    pub const fn name(self) -> &'static str {
        self.spec().name
    }

    /// The primitive called `name`, if any.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Build the primitive from its validated parameter values.
    pub(crate) fn build(self, mut args: Args) -> Primitive {
        use Primitive::{Outside as Out, Overlay as Over};
        let args = &mut args;
        let primitive = match self {
            Kind::Rect => Over(Overlay::Rect(Rect::from_args(args))),
            Kind::Ellipse => Over(Overlay::Ellipse(Ellipse::from_args(args))),
            Kind::Rounded => Over(Overlay::Rounded(Rounded::from_args(args))),
            Kind::Blur => Out(Outside::Blur(Blur::from_args(args))),
            Kind::Gray => Out(Outside::Gray(Gray::from_args(args))),
            Kind::Dim => Out(Outside::Dim(Dim::from_args(args))),
            Kind::Fill => Out(Outside::Fill(Fill::from_args(args))),
            Kind::Colorcode => Out(Outside::Colorcode(Colorcode::from_args(args))),
            Kind::Tint => Over(Overlay::Tint(Tint::from_args(args))),
            Kind::Crop => Primitive::Crop(Crop::from_args(args)),
            Kind::Label => Over(Overlay::Label(Label::from_args(args))),
            Kind::Arrow => Over(Overlay::Arrow(Arrow::from_args(args))),
            Kind::Dot => Over(Overlay::Dot(Dot::from_args(args))),
            Kind::Trajectory => Over(Overlay::Trajectory(Trajectory::from_args(args))),
            Kind::Mask => Over(Overlay::Mask(Mask::from_args(args))),
        };
        debug_assert_eq!(
            args.unread(),
            None,
            "bug: {} ignores a parameter",
            self.name()
        );
        primitive
    }
}

impl Primitive {
    /// Which primitive this is.
    pub fn kind(&self) -> Kind {
        match self {
            Primitive::Outside(o) => o.kind(),
            Primitive::Overlay(o) => o.kind(),
            Primitive::Crop(_) => Kind::Crop,
        }
    }

    /// The primitive's name.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// When the step acts.
    pub fn phase(&self) -> Phase {
        match self {
            Primitive::Outside(_) => Phase::Outside,
            Primitive::Overlay(_) => Phase::Overlay,
            Primitive::Crop(_) => Phase::Crop,
        }
    }

    fn write_args(&self, w: &mut ArgWriter<'_, '_>) -> fmt::Result {
        match self {
            Primitive::Outside(o) => o.write_args(w),
            Primitive::Overlay(o) => o.write_args(w),
            Primitive::Crop(c) => c.write_args(w),
        }
    }
}

impl fmt::Display for Primitive {
    /// The canonical text: the name, then every parameter in schema order (none: no brackets).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let spec = self.kind().spec();
        f.write_str(spec.name)?;
        if spec.params.is_empty() {
            return Ok(());
        }
        f.write_str("(")?;
        self.write_args(&mut ArgWriter::new(f))?;
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests;
