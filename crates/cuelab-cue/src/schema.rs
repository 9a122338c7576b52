//! The table of cue primitives: names, what they do, their parameters, kinds and defaults.
//! The parser validates against it, `cuelab cues` prints it, and the canonical spec prints
//! parameters in its order.

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

const fn p(
    name: &'static str,
    kind: ParamKind,
    default: &'static str,
    doc: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        kind,
        default,
        doc,
    }
}

const COLOR: ParamKind = ParamKind::Color;
const BOOL: ParamKind = ParamKind::Bool;
const UNIT: ParamKind = ParamKind::Number { min: 0.0, max: 1.0 };
const WIDTH: ParamKind = ParamKind::Int { min: 1, max: 50 };
const POSITIONS: &[&str] = &[
    "top-left",
    "top-right",
    "bottom-left",
    "bottom-right",
    "center",
    "above",
];
const DIRECTIONS: &[&str] = &[
    "top-left",
    "top",
    "top-right",
    "left",
    "right",
    "bottom-left",
    "bottom",
    "bottom-right",
];

/// Every primitive cuelab knows.
pub const PRIMITIVES: &[PrimitiveSpec] = &[
    PrimitiveSpec {
        name: "rect",
        phase: Phase::Overlay,
        doc: "outline of the region's box, stroke inside the box",
        params: &[
            p("color", COLOR, "red", "stroke colour"),
            p("width", WIDTH, "3", "stroke width in pixels"),
            p("aa", BOOL, "false", "anti-aliased edges (Pillow draws without)"),
            p("alpha", UNIT, "1", "opacity"),
        ],
    },
    PrimitiveSpec {
        name: "ellipse",
        phase: Phase::Overlay,
        doc: "outline of the ellipse inscribed in the region's box (seed 004's red circle); by default pixel-identical to Pillow's ImageDraw.ellipse(outline, width)",
        params: &[
            p("color", COLOR, "red", "stroke colour"),
            p("width", WIDTH, "3", "stroke width in pixels"),
            p(
                "aa",
                BOOL,
                "false",
                "anti-aliased stroke (default false: Pillow's aliased ellipse, pixel for pixel)",
            ),
            p("alpha", UNIT, "1", "opacity"),
        ],
    },
    PrimitiveSpec {
        name: "rounded",
        phase: Phase::Overlay,
        doc: "outline of the region's box with rounded corners",
        params: &[
            p("color", COLOR, "red", "stroke colour"),
            p("width", WIDTH, "3", "stroke width in pixels"),
            p(
                "corner",
                ParamKind::Number {
                    min: 0.0,
                    max: 10000.0,
                },
                "12",
                "corner radius in pixels (capped at half the shorter side)",
            ),
            p("aa", BOOL, "true", "anti-aliased edges"),
            p("alpha", UNIT, "1", "opacity"),
        ],
    },
    PrimitiveSpec {
        name: "blur",
        phase: Phase::Outside,
        doc: "Gaussian blur outside the region; radius = standard deviation, as Pillow's GaussianBlur",
        params: &[p(
            "radius",
            ParamKind::Number {
                min: 0.0,
                max: 1000.0,
            },
            "20",
            "standard deviation in pixels",
        )],
    },
    PrimitiveSpec {
        name: "gray",
        phase: Phase::Outside,
        doc: "grayscale outside the region (Pillow convert('L'), ITU-R 601-2 luma)",
        params: &[],
    },
    PrimitiveSpec {
        name: "dim",
        phase: Phase::Outside,
        doc: "darken outside the region",
        params: &[p("amount", UNIT, "0.5", "0 = unchanged, 1 = black")],
    },
    PrimitiveSpec {
        name: "fill",
        phase: Phase::Outside,
        doc: "paint outside the region with a solid colour",
        params: &[
            p("color", COLOR, "black", "fill colour"),
            p("alpha", UNIT, "1", "opacity"),
        ],
    },
    PrimitiveSpec {
        name: "colorcode",
        phase: Phase::Outside,
        doc: "paint outside the region with the colour seed 004's 3x3 position table gives the region centroid (6.1.1)",
        params: &[],
    },
    PrimitiveSpec {
        name: "tint",
        phase: Phase::Overlay,
        doc: "blend the position table's colour for the region centroid over the whole image (6.1.2)",
        params: &[p("alpha", UNIT, "0.5", "tint opacity")],
    },
    PrimitiveSpec {
        name: "crop",
        phase: Phase::Crop,
        doc: "cut the output to the region's box, with optional padding",
        params: &[
            p(
                "pad",
                ParamKind::Number {
                    min: -10000.0,
                    max: 10000.0,
                },
                "0",
                "pixels added on every side",
            ),
            p(
                "context",
                ParamKind::Number {
                    min: 0.0,
                    max: 100.0,
                },
                "0",
                "fraction of the box size added on every side",
            ),
            p("square", BOOL, "false", "grow the shorter side to make a square"),
        ],
    },
    PrimitiveSpec {
        name: "label",
        phase: Phase::Overlay,
        doc: "a text tag (Set-of-Mark style number, letter or word) at the region",
        params: &[
            p(
                "text",
                ParamKind::Text,
                "auto",
                "the text; auto = region number (1, 2, ...); letter = A, B, ...",
            ),
            p(
                "size",
                ParamKind::Number {
                    min: 4.0,
                    max: 400.0,
                },
                "18",
                "font size in pixels per em (as Pillow's truetype size)",
            ),
            p("color", COLOR, "white", "text colour"),
            p("bg", COLOR, "red", "tag background colour"),
            p("pos", ParamKind::Choice(POSITIONS), "top-left", "where the tag sits"),
            p("alpha", UNIT, "1", "opacity"),
        ],
    },
    PrimitiveSpec {
        name: "arrow",
        phase: Phase::Overlay,
        doc: "an arrow pointing at the region from outside",
        params: &[
            p("color", COLOR, "red", "colour"),
            p("width", WIDTH, "3", "shaft width in pixels"),
            p(
                "length",
                ParamKind::Number {
                    min: 4.0,
                    max: 10000.0,
                },
                "60",
                "length in pixels",
            ),
            p(
                "from",
                ParamKind::Choice(DIRECTIONS),
                "top-left",
                "side the arrow comes from",
            ),
            p("aa", BOOL, "true", "anti-aliased edges"),
            p("alpha", UNIT, "1", "opacity"),
        ],
    },
    PrimitiveSpec {
        name: "dot",
        phase: Phase::Overlay,
        doc: "a filled dot at the region's centre",
        params: &[
            p("color", COLOR, "red", "colour"),
            p(
                "radius",
                ParamKind::Number {
                    min: 0.5,
                    max: 10000.0,
                },
                "6",
                "radius in pixels",
            ),
            p("aa", BOOL, "true", "anti-aliased edges"),
            p("alpha", UNIT, "1", "opacity"),
        ],
    },
    PrimitiveSpec {
        name: "trajectory",
        phase: Phase::Overlay,
        doc: "a polyline through the target's points (e.g. box centres over frames)",
        params: &[
            p("color", COLOR, "red", "colour"),
            p("width", WIDTH, "3", "line width in pixels"),
            p("arrow", BOOL, "true", "arrowhead at the last point"),
            p("fade", BOOL, "false", "older segments fade out"),
            p("aa", BOOL, "true", "anti-aliased edges"),
            p("alpha", UNIT, "1", "opacity"),
        ],
    },
    PrimitiveSpec {
        name: "mask",
        phase: Phase::Overlay,
        doc: "fill the region's own shape (box, polygon or RLE mask) with a translucent colour",
        params: &[
            p("color", COLOR, "red", "colour"),
            p("alpha", UNIT, "0.4", "fill opacity"),
            p("outline", BOOL, "true", "also stroke the shape's border"),
            p("width", WIDTH, "2", "outline width in pixels"),
        ],
    },
];

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
