//! The table of cue primitives: names, what they do, their parameters, kinds and defaults.
//! The parser validates against it, `cuelab cues` prints it, and the canonical spec prints
//! parameters in its order. Each entry is declared by its primitive's type in
//! [`crate::primitive`]; this module holds the types that describe them.

use crate::primitive::Kind;

/// When a primitive acts during rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Changes the image outside the region (the region itself stays sharp), in written order.
    Outside,
    /// Draws on top of the image, in written order, after every `Outside` step.
    Overlay,
    /// Cuts the output to the region; last.
    Crop,
}

/// The type and valid range of a parameter value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamKind {
    /// A real number in `[min, max]`.
    Number {
        /// Smallest accepted value.
        min: f32,
        /// Largest accepted value.
        max: f32,
    },
    /// An integer in `[min, max]`.
    Int {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// `true` / `false` (also `on`/`off`, `yes`/`no`, `1`/`0`).
    Bool,
    /// A colour name or hex code.
    Color,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
    /// Free text (quote it when it has spaces or punctuation).
    Text,
}

/// One parameter of a primitive.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    /// Its name in specs.
    pub name: &'static str,
    /// Its type and range.
    pub kind: ParamKind,
    /// Its default, written as in a spec.
    pub default: &'static str,
    /// One line of help.
    pub doc: &'static str,
}

/// One primitive.
#[derive(Debug, Clone, Copy)]
pub struct PrimitiveSpec {
    /// Its name in specs.
    pub name: &'static str,
    /// When it acts.
    pub phase: Phase,
    /// One line of help.
    pub doc: &'static str,
    /// Its parameters, in canonical order.
    pub params: &'static [ParamSpec],
}

/// Every primitive cuelab knows, in the order `cuelab cues` lists them: the schema entries
/// the primitive types in [`crate::primitive`] declare, one per [`Kind`].
pub const PRIMITIVES: &[PrimitiveSpec] = &Kind::SPECS;

/// Look up a primitive by name.
pub fn primitive(name: &str) -> Option<&'static PrimitiveSpec> {
    PRIMITIVES.iter().find(|p| p.name == name)
}

impl Phase {
    /// The phase's name as `cuelab cues` prints it (`outside`, `overlay`, `crop`).
    pub fn name(self) -> &'static str {
        match self {
            Phase::Outside => "outside",
            Phase::Overlay => "overlay",
            Phase::Crop => "crop",
        }
    }
}

impl ParamKind {
    /// The kind and range as `cuelab cues` prints it, e.g. `number 0..100` or `a|b|c`.
    pub fn describe(self) -> String {
        match self {
            ParamKind::Number { min, max } => format!("number {min}..{max}"),
            ParamKind::Int { min, max } => format!("integer {min}..{max}"),
            ParamKind::Bool => "bool".into(),
            ParamKind::Color => "colour".into(),
            ParamKind::Choice(c) => c.join("|"),
            ParamKind::Text => "text".into(),
        }
    }
}

/// Every primitive with its phase, description and parameters (name, kind, default, doc) as a
/// JSON array: the output of `cuelab cues --json` and of the Python package's `cues()`.
pub fn primitives_json() -> serde_json::Value {
    PRIMITIVES
        .iter()
        .map(|p| {
            serde_json::json!({
                "name": p.name,
                "phase": p.phase.name(),
                "doc": p.doc,
                "params": p.params.iter().map(|q| serde_json::json!({
                    "name": q.name, "kind": q.kind.describe(), "default": q.default, "doc": q.doc,
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}
