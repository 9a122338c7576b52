//! Scene objects and their anti-aliased rendering with tiny-skia; boxes come from each object's
//! own rendered coverage, so they are tight by construction.

use cuelab_cue::BoxXyxy;
use serde::{Deserialize, Serialize};
use tiny_skia::{FillRule, Paint, PathBuilder, Pixmap, Transform};

/// Object shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// A disc.
    Circle,
    /// A square.
    Square,
    /// An equilateral triangle (angle 0 points up).
    Triangle,
    /// A rhombus, taller than wide.
    Diamond,
    /// A five-pointed star.
    Star,
    /// A regular hexagon.
    Hexagon,
    /// An arrow (angle 0 points right).
    Arrow,
}

impl Shape {
    /// Every shape; the first six are used in ordinary scenes.
    pub const ALL: [Shape; 7] = [
        Shape::Circle,
        Shape::Square,
        Shape::Triangle,
        Shape::Diamond,
        Shape::Star,
        Shape::Hexagon,
        Shape::Arrow,
    ];

    /// Singular noun.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Circle => "circle",
            Shape::Square => "square",
            Shape::Triangle => "triangle",
            Shape::Diamond => "diamond",
            Shape::Star => "star",
            Shape::Hexagon => "hexagon",
            Shape::Arrow => "arrow",
        }
    }

    /// Plural noun.
    pub fn plural(self) -> String {
        format!("{}s", self.name())
    }
}

/// Named colours (names, RGB); far apart in hue so names are unambiguous.
pub const COLOURS: [(&str, [u8; 3]); 6] = [
    ("red", [215, 38, 38]),
    ("green", [34, 160, 60]),
    ("blue", [38, 84, 215]),
    ("yellow", [232, 196, 24]),
    ("purple", [136, 56, 186]),
    ("orange", [240, 126, 16]),
];

/// Size classes and their radius ranges (pixels, for a 256-pixel image).
pub const SIZES: [(&str, f32, f32); 3] = [
    ("small", 9.0, 11.0),
    ("medium", 15.0, 18.0),
    ("large", 24.0, 28.0),
];

/// One drawn object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Object {
    /// Shape.
    pub shape: Shape,
    /// Index into [`COLOURS`].
    pub colour: usize,
    /// Per-object RGB offset (near-identical crowds), added to the named colour.
    pub jitter: [i8; 3],
    /// Index into [`SIZES`].
    pub size: usize,
    /// Centre x.
    pub cx: f32,
    /// Centre y.
    pub cy: f32,
    /// Radius of the circumscribed circle.
    pub r: f32,
    /// Rotation in degrees (clockwise in image coordinates).
    pub angle: f32,
}

impl Object {
    /// Colour name.
    pub fn colour_name(&self) -> &'static str {
        COLOURS[self.colour % COLOURS.len()].0
    }

    /// Size name.
    pub fn size_name(&self) -> &'static str {
        SIZES[self.size % SIZES.len()].0
    }

    /// `"red circle"`.
    pub fn noun(&self) -> String {
        format!("{} {}", self.colour_name(), self.shape.name())
    }

    fn rgb(&self) -> [u8; 3] {
        let base = COLOURS[self.colour % COLOURS.len()].1;
        let mut out = [0u8; 3];
        for i in 0..3 {
            out[i] = (base[i] as i16 + self.jitter[i] as i16).clamp(0, 255) as u8;
        }
        out
    }

    /// Outline points relative to the centre, unrotated (None for the circle).
    fn outline(&self) -> Option<Vec<(f32, f32)>> {
        let r = self.r;
        let poly = |n: usize, start: f32| -> Vec<(f32, f32)> {
            (0..n)
                .map(|k| {
                    let a = (start + 360.0 * k as f32 / n as f32).to_radians();
                    (r * a.cos(), r * a.sin())
                })
                .collect()
        };
        match self.shape {
            Shape::Circle => None,
            Shape::Square => Some(poly(4, 45.0)),
            Shape::Triangle => Some(poly(3, -90.0)),
            Shape::Diamond => Some(vec![(0.0, -r), (0.62 * r, 0.0), (0.0, r), (-0.62 * r, 0.0)]),
            Shape::Hexagon => Some(poly(6, 0.0)),
            Shape::Star => Some(
                (0..10)
                    .map(|k| {
                        let a = (-90.0 + 36.0 * k as f32).to_radians();
                        let rr = if k % 2 == 0 { r } else { 0.45 * r };
                        (rr * a.cos(), rr * a.sin())
                    })
                    .collect(),
            ),
            Shape::Arrow => Some(vec![
                (-r, -0.22 * r),
                (0.15 * r, -0.22 * r),
                (0.15 * r, -0.6 * r),
                (r, 0.0),
                (0.15 * r, 0.6 * r),
                (0.15 * r, 0.22 * r),
                (-r, 0.22 * r),
            ]),
        }
    }

    /// The object's path, translated by `(-ox, -oy)`.
    fn path(&self, ox: f32, oy: f32) -> Option<tiny_skia::Path> {
        let (cx, cy) = (self.cx - ox, self.cy - oy);
        match self.outline() {
            None => PathBuilder::from_circle(cx, cy, self.r),
            Some(pts) => {
                let (s, c) = self.angle.to_radians().sin_cos();
                let mut pb = PathBuilder::new();
                for (i, (x, y)) in pts.into_iter().enumerate() {
                    let (px, py) = (cx + x * c - y * s, cy + x * s + y * c);
                    if i == 0 {
                        pb.move_to(px, py);
                    } else {
                        pb.line_to(px, py);
                    }
                }
                pb.close();
                pb.finish()
            }
        }
    }

    /// Draw onto `pm`.
    pub fn draw(&self, pm: &mut Pixmap) {
        if let Some(path) = self.path(0.0, 0.0) {
            let [r, g, b] = self.rgb();
            let mut paint = Paint::default();
            paint.set_color_rgba8(r, g, b, 255);
            paint.anti_alias = true;
            pm.fill_path(
                &path,
                &paint,
                FillRule::Winding,
                Transform::identity(),
                None,
            );
        }
    }

    /// The tight box of the pixels this object covers (alpha > 0), clipped to `w x h`.
    pub fn coverage_box(&self, w: u32, h: u32) -> Option<BoxXyxy> {
        let pad = 2.0;
        let ox = (self.cx - self.r - pad).floor();
        let oy = (self.cy - self.r - pad).floor();
        let side = (2.0 * (self.r + pad)).ceil() as u32 + 2;
        let mut pm = Pixmap::new(side, side)?;
        let path = self.path(ox, oy)?;
        let mut paint = Paint::default();
        paint.set_color_rgba8(0, 0, 0, 255);
        paint.anti_alias = true;
        pm.fill_path(
            &path,
            &paint,
            FillRule::Winding,
            Transform::identity(),
            None,
        );
        let (mut x0, mut y0, mut x1, mut y1) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
        for (i, px) in pm.pixels().iter().enumerate() {
            if px.alpha() > 0 {
                let x = ox as i64 + (i as u32 % side) as i64;
                let y = oy as i64 + (i as u32 / side) as i64;
                if x < 0 || y < 0 || x >= w as i64 || y >= h as i64 {
                    continue;
                }
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x + 1);
                y1 = y1.max(y + 1);
            }
        }
        if x0 > x1 {
            return None;
        }
        BoxXyxy::new(x0 as f32, y0 as f32, x1 as f32, y1 as f32).ok()
    }
}

/// Scene background.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Background {
    /// One flat colour.
    Plain([u8; 3]),
    /// A flat colour with grey line and dot clutter drawn from `seed`.
    Cluttered {
        /// Base colour.
        base: [u8; 3],
        /// Clutter seed.
        seed: u64,
    },
}

/// Draw the background into a new pixmap.
pub fn background(bg: &Background, w: u32, h: u32) -> Option<Pixmap> {
    use rand::{Rng, SeedableRng};
    let mut pm = Pixmap::new(w, h)?;
    let base = match bg {
        Background::Plain(c) | Background::Cluttered { base: c, .. } => *c,
    };
    pm.fill(tiny_skia::Color::from_rgba8(base[0], base[1], base[2], 255));
    if let Background::Cluttered { seed, .. } = bg {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(*seed);
        let mut paint = Paint {
            anti_alias: true,
            ..Paint::default()
        };
        for _ in 0..40 {
            let g: u8 = rng.gen_range(90..190);
            paint.set_color_rgba8(g, g, g, rng.gen_range(60..160));
            let mut pb = PathBuilder::new();
            let (x, y) = (rng.gen_range(0.0..w as f32), rng.gen_range(0.0..h as f32));
            pb.move_to(x, y);
            pb.line_to(
                x + rng.gen_range(-60.0..60.0),
                y + rng.gen_range(-60.0..60.0),
            );
            if let Some(p) = pb.finish() {
                let stroke = tiny_skia::Stroke {
                    width: rng.gen_range(0.8..2.5),
                    ..Default::default()
                };
                pm.stroke_path(&p, &paint, &stroke, Transform::identity(), None);
            }
        }
        for _ in 0..60 {
            let g: u8 = rng.gen_range(90..200);
            paint.set_color_rgba8(g, g, g, rng.gen_range(60..140));
            let (x, y) = (rng.gen_range(0.0..w as f32), rng.gen_range(0.0..h as f32));
            if let Some(p) = PathBuilder::from_circle(x, y, rng.gen_range(0.8..2.5)) {
                pm.fill_path(&p, &paint, FillRule::Winding, Transform::identity(), None);
            }
        }
    }
    Some(pm)
}

/// Render a background and objects to RGB bytes (row-major, 3 bytes per pixel).
pub fn render_rgb(bg: &Background, objects: &[Object], w: u32, h: u32) -> Vec<u8> {
    let Some(mut pm) = background(bg, w, h) else {
        return Vec::new();
    };
    for o in objects {
        o.draw(&mut pm);
    }
    let mut out = Vec::with_capacity((w * h * 3) as usize);
    for p in pm.pixels() {
        let c = p.demultiply();
        out.extend_from_slice(&[c.red(), c.green(), c.blue()]);
    }
    out
}
