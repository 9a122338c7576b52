//! The spec language, the primitive table and the drawing of every primitive, frozen against
//! golden files written by the code before the typed primitive enum (issue 14):
//! - `recipe_golden.txt`: for a corpus of specs (every primitive and parameter, every error the
//!   parser reports), the canonical form or the full error message; for every accepted spec and
//!   six targets (box inside, box across the border, one-pixel-tall box, polygon, RLE mask, box
//!   with a label and trajectory points), the output size and the SHA-256 of its pixels, all
//!   drawn by one [`Renderer`] so that its background cache is exercised across specs;
//! - `primitives.json`: [`cuelab_cue::schema::primitives_json`] as `cuelab cues --json` prints it.
//!
//! Exact, byte for byte: the rendering is deterministic integer and `f32` arithmetic on one
//! platform. Regenerate with `CUELAB_BLESS=1 cargo test -p cuelab-cue --test it recipe_golden::`
//! only when a change of output is intended, and say so in the commit.

#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use cuelab_cue::{BoxXyxy, Recipe, Region, Renderer, Rle, Target};
use image::RgbImage;
use sha2::{Digest, Sha256};

/// Specs the parser must accept (canonical form recorded) or refuse (message recorded).
const SPECS: &[&str] = &[
    "",
    "   ",
    "plain",
    "none",
    "rect",
    "rect(color=blue,width=1,aa=true,alpha=0.5)",
    "rect(width=10)",
    "ellipse",
    "ellipse(color=#00ff0080,width=7)",
    "ellipse(aa=yes, alpha=0.75)",
    "ellipse(width=50)",
    "rounded",
    "rounded(corner=0,aa=off)",
    "rounded(corner=4.5,width=2,color=#abc)",
    "blur",
    "blur(radius=0)",
    "blur(radius=1.5)",
    "gray",
    "dim",
    "dim(amount=1)",
    "fill",
    "fill(color=blue,alpha=0.5)",
    "colorcode",
    "tint",
    "tint(alpha=1)",
    "crop",
    "crop(pad=5)",
    "crop(pad=-2,context=0.5,square=true)",
    "crop(pad=+3)",
    "label",
    "label(text=letter,pos=above)",
    "label(text=\"a, b\",size=10,color=black,bg=yellow,pos=center,alpha=0.8)",
    "label(text=\"say \\\"hi\\\" \\\\ there\")",
    "label(text=cat,pos=top-right)",
    "label(text=7,pos=bottom-left)",
    "label(pos=bottom-right)",
    "arrow",
    "arrow(from=top)",
    "arrow(from=top-right,length=20,width=5)",
    "arrow(from=left,aa=false)",
    "arrow(from=right,alpha=0.5)",
    "arrow(from=bottom-left)",
    "arrow(from=bottom)",
    "arrow(from=bottom-right,color=cyan)",
    "dot",
    "dot(radius=0.5,aa=false)",
    "dot(radius=3,color=white,alpha=0.3)",
    "trajectory",
    "trajectory(fade=true)",
    "trajectory(arrow=false,width=1,aa=false)",
    "mask",
    "mask(outline=false)",
    "mask(color=blue,alpha=1,width=4)",
    "ellipse+blur+gray",
    "ellipse(color=red, width=3) + blur(radius=20) + gray",
    "gray+blur(radius=2)",
    "blur(radius=2)+colorcode",
    "colorcode+tint(alpha=0.25)",
    "dim(amount=0.25)+fill(color=#ff000080)+gray",
    "crop(context=0.2)+ellipse+label(text=letter)",
    "mask+crop",
    "label+arrow+dot",
    "  rect ( width = 4 , color = green ) +gray ",
    "rect()",
    // refused
    "blurr",
    "ellipse + blurr(radius=2)",
    "ellipse(colour=red)",
    "gray(x=1)",
    "colorcode(alpha=1)",
    "ellipse(width=99)",
    "ellipse(width=2.5)",
    "ellipse(width=abc)",
    "blur(radius=-1)",
    "blur(radius=nan)",
    "blur(radius=inf)",
    "ellipse(aa=maybe)",
    "ellipse(color=reddish)",
    "label(pos=middle)",
    "arrow(from=up)",
    "ellipse(width=3",
    "ellipse(width=3,width=4)",
    "ellipse(width)",
    "ellipse(=3)",
    "ellipse(width=)",
    "label(text=\"open",
    "crop+crop",
    "plain+gray",
    "none+rect",
    "ellipse gray",
    "ellipse+",
    "+ellipse",
    "ellipse(width=3)(aa=true)",
    "dot(radius=0.1)",
    "trajectory(fade=2)",
    "mask(alpha=1.5)",
    "rounded(corner=-1)",
    "crop(context=101)",
    "label(size=3)",
    "arrow(length=2)",
    "été",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn photo() -> RgbImage {
    RgbImage::from_fn(80, 60, |x, y| {
        image::Rgb([(x * 3) as u8, (y * 4) as u8, ((x * 7 + y * 5) % 256) as u8])
    })
}

fn targets() -> Vec<(&'static str, Target)> {
    let b = |x0, y0, x1, y1| BoxXyxy::new(x0, y0, x1, y1).unwrap();
    let mut with_points = Target::from_box(b(30.0, 20.0, 50.0, 40.0));
    with_points.index = 2;
    with_points.label = Some("cat".into());
    with_points.points = vec![(10.0, 50.0), (25.0, 40.0), (40.0, 30.0), (55.5, 12.5)];
    let mut across = Target::from_box(b(60.5, -5.0, 95.0, 20.25));
    across.index = 27;
    across.points = vec![(70.0, 5.0), (75.0, 8.0)];
    let thin = Target::from_box(b(12.0, 30.0, 40.0, 31.0));
    let polygon = Target {
        region: Region::Polygon(vec![vec![10.0, 10.0, 40.0, 12.0, 30.0, 45.0, 8.0, 30.0]]),
        index: 1,
        points: Vec::new(),
        label: None,
    };
    // column-major runs over 80x60 = 4800 pixels
    let mask = Target {
        region: Region::Mask(Rle {
            height: 60,
            width: 80,
            counts: vec![1210, 25, 35, 30, 30, 20, 3450],
        }),
        index: 0,
        points: vec![(1.0, 1.0)],
        label: Some("a \"quoted\" one".into()),
    };
    vec![
        ("box", with_points),
        ("across", across),
        ("thin", thin),
        ("polygon", polygon),
        ("mask", mask),
        ("small", Target::from_box(b(3.0, 3.0, 4.0, 4.0))),
    ]
}

fn golden_text() -> String {
    let mut out = String::new();
    let mut accepted = Vec::new();
    for spec in SPECS {
        match Recipe::parse(spec) {
            Ok(r) => {
                writeln!(out, "{spec:?} => {:?}", r.to_string()).unwrap();
                assert_eq!(Recipe::parse(&r.to_string()).unwrap(), r, "{spec}");
                accepted.push((*spec, r));
            }
            Err(e) => writeln!(out, "{spec:?} !! {:?}", e.to_string()).unwrap(),
        }
    }
    let image = photo();
    let renderer = Renderer::new(&image);
    for (name, target) in targets() {
        for (spec, recipe) in &accepted {
            match renderer.render(recipe, &target) {
                Ok(img) => {
                    let (w, h) = img.dimensions();
                    let sha = Sha256::digest(img.as_raw());
                    let hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
                    writeln!(out, "{name} {spec:?} {w}x{h} {hex}").unwrap();
                }
                Err(e) => writeln!(out, "{name} {spec:?} !! {:?}", e.to_string()).unwrap(),
            }
        }
    }
    out
}

fn check(file: &str, actual: &str) {
    let path = fixtures().join(file);
    if std::env::var_os("CUELAB_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    for (i, (a, e)) in actual.lines().zip(expected.lines()).enumerate() {
        assert_eq!(a, e, "{file} line {} differs", i + 1);
    }
    assert_eq!(
        actual.lines().count(),
        expected.lines().count(),
        "{file}: line count differs"
    );
    assert_eq!(actual, expected, "{file} differs");
}

#[test]
fn specs_and_pixels_match_the_golden_file() {
    check("recipe_golden.txt", &golden_text());
}

#[test]
fn primitive_table_matches_the_golden_file() {
    let json = serde_json::to_string_pretty(&cuelab_cue::schema::primitives_json()).unwrap();
    check("primitives.json", &format!("{json}\n"));
}
