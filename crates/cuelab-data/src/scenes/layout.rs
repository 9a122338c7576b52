//! Random scene layouts: ordinary scenes, near-identical crowds, MMVP-style pairs and clips.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::draw::{Background, Object, Shape, COLOURS, SIZES};

/// Shapes used in ordinary scenes (the arrow is kept for direction pairs).
pub const SCENE_SHAPES: [Shape; 6] = [
    Shape::Circle,
    Shape::Square,
    Shape::Triangle,
    Shape::Diamond,
    Shape::Star,
    Shape::Hexagon,
];

const BG_PLAIN: [[u8; 3]; 4] = [
    [236, 236, 236],
    [214, 214, 214],
    [244, 238, 224],
    [200, 206, 212],
];

/// A random background, plain or cluttered.
pub fn random_background(rng: &mut ChaCha8Rng, clutter_prob: f64) -> Background {
    let base = BG_PLAIN[rng.gen_range(0..BG_PLAIN.len())];
    if rng.gen_bool(clutter_prob) {
        Background::Cluttered {
            base,
            seed: rng.gen(),
        }
    } else {
        Background::Plain(base)
    }
}

/// A random object of the given attributes at a free spot, or None when there is no room.
pub fn place(
    rng: &mut ChaCha8Rng,
    placed: &[Object],
    shape: Shape,
    colour: usize,
    size: usize,
    w: u32,
    h: u32,
) -> Option<Object> {
    let (_, lo, hi) = SIZES[size];
    let r = rng.gen_range(lo..hi);
    let margin = r + 3.0;
    if 2.0 * margin >= w as f32 || 2.0 * margin >= h as f32 {
        return None;
    }
    for _ in 0..200 {
        let cx = rng.gen_range(margin..w as f32 - margin);
        let cy = rng.gen_range(margin..h as f32 - margin);
        if placed.iter().all(|o| free(o, cx, cy, r)) {
            return Some(Object {
                shape,
                colour,
                jitter: [0; 3],
                size,
                cx,
                cy,
                r,
                angle: rng.gen_range(0.0..360.0f32).round(),
            });
        }
    }
    None
}

/// Whether a circle `(cx, cy, r)` keeps a 5-pixel gap from `o`.
pub fn free(o: &Object, cx: f32, cy: f32, r: f32) -> bool {
    let d = ((o.cx - cx).powi(2) + (o.cy - cy).powi(2)).sqrt();
    d > o.r + r + 5.0
}

/// An ordinary scene: `n` objects of random shape, colour and size.
pub fn ordinary(rng: &mut ChaCha8Rng, n: usize, w: u32, h: u32) -> Vec<Object> {
    let mut objs: Vec<Object> = Vec::new();
    for _ in 0..n {
        let shape = *SCENE_SHAPES.choose(rng).unwrap_or(&Shape::Circle);
        let colour = rng.gen_range(0..COLOURS.len());
        let size = rng.gen_range(0..SIZES.len());
        if let Some(o) = place(rng, &objs, shape, colour, size, w, h) {
            objs.push(o);
        }
    }
    objs
}

/// A crowd: `count` near-identical small objects (same shape and colour, a few levels of colour
/// jitter) plus `others` distinct objects of other shapes. Returns the objects and the crowd's
/// shape and colour.
pub fn crowd(
    rng: &mut ChaCha8Rng,
    count: usize,
    others: usize,
    w: u32,
    h: u32,
) -> (Vec<Object>, Shape, usize) {
    let shape = *SCENE_SHAPES.choose(rng).unwrap_or(&Shape::Circle);
    let colour = rng.gen_range(0..COLOURS.len());
    let mut objs: Vec<Object> = Vec::new();
    for _ in 0..count {
        if let Some(mut o) = place(rng, &objs, shape, colour, 0, w, h) {
            o.jitter = [
                rng.gen_range(-8..=8),
                rng.gen_range(-8..=8),
                rng.gen_range(-8..=8),
            ];
            objs.push(o);
        }
    }
    for _ in 0..others {
        let other: Vec<Shape> = SCENE_SHAPES
            .iter()
            .copied()
            .filter(|s| *s != shape)
            .collect();
        let s = *other.choose(rng).unwrap_or(&Shape::Square);
        let c = rng.gen_range(0..COLOURS.len());
        if let Some(o) = place(rng, &objs, s, c, 1, w, h) {
            objs.push(o);
        }
    }
    (objs, shape, colour)
}
