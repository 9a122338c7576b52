//! Small seeded synthetic grounding scenes for `cuelab demo`: coloured shapes on a textured
//! background, every object box a ground-truth proposal, referring expressions that are
//! unambiguous by attribute ("the red circle") or by position ("the square on the left").

use std::path::Path;

use anyhow::Result;
use cuelab_cue::draw::{self, Brush};
use cuelab_cue::{save_atomic, BoxXyxy, Color};
use cuelab_tasks::grounding::GroundingSample;
use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const COLORS: &[(&str, [u8; 3])] = &[
    ("red", [220, 30, 30]),
    ("green", [30, 160, 60]),
    ("blue", [30, 60, 220]),
    ("yellow", [235, 200, 20]),
    ("purple", [140, 40, 170]),
];
const SHAPES: &[&str] = &["square", "circle", "triangle"];

struct Object {
    color: usize,
    shape: usize,
    bbox: BoxXyxy,
}

/// Write `n` scenes under `dir` and return their grounding samples (one per object that can be
/// referred to unambiguously).
pub fn generate(dir: &Path, n: usize, seed: u64) -> Result<Vec<GroundingSample>> {
    std::fs::create_dir_all(dir)?;
    let mut samples = Vec::new();
    for i in 0..n {
        let mut rng =
            ChaCha8Rng::seed_from_u64(seed.wrapping_mul(1_000_003).wrapping_add(i as u64));
        let (w, h) = (320u32, 240u32);
        let base: u8 = rng.gen_range(200..240);
        let mut img = RgbImage::from_fn(w, h, |x, y| {
            let t = ((x / 8 + y / 8) % 2) as u8 * 6;
            image::Rgb([base - t, base - t, base.saturating_sub(10) - t])
        });
        let mut objects: Vec<Object> = Vec::new();
        let count = rng.gen_range(3..=5);
        let mut tries = 0;
        while objects.len() < count && tries < 200 {
            tries += 1;
            let size = rng.gen_range(36.0..70.0f32);
            let x0 = rng.gen_range(4.0..(w as f32 - size - 4.0));
            let y0 = rng.gen_range(4.0..(h as f32 - size - 4.0));
            let bbox = BoxXyxy {
                x0: x0.round(),
                y0: y0.round(),
                x1: (x0 + size).round(),
                y1: (y0 + size).round(),
            };
            let overlaps = objects.iter().any(|o| {
                bbox.x0 < o.bbox.x1 + 6.0
                    && o.bbox.x0 < bbox.x1 + 6.0
                    && bbox.y0 < o.bbox.y1 + 6.0
                    && o.bbox.y0 < bbox.y1 + 6.0
            });
            if overlaps {
                continue;
            }
            let o = Object {
                color: rng.gen_range(0..COLORS.len()),
                shape: rng.gen_range(0..SHAPES.len()),
                bbox,
            };
            let c = COLORS[o.color].1;
            let color = Color::rgb(c[0], c[1], c[2]);
            let b = o.bbox;
            let path = match SHAPES[o.shape] {
                "square" => draw::rect_path(b.x0, b.y0, b.x1, b.y1),
                "circle" => draw::ellipse_path(b.x0, b.y0, b.x1, b.y1),
                _ => draw::polygon_path(&[(b.x0 + b.x1) / 2.0, b.y0, b.x1, b.y1, b.x0, b.y1]),
            };
            if let Some(p) = path {
                draw::paint_path(&mut img, &p, Brush::Fill, color, true);
            }
            objects.push(o);
        }
        let file = format!("scene_{i:04}.png");
        save_atomic(&img, &dir.join(&file))?;
        let proposals: Vec<BoxXyxy> = objects.iter().map(|o| o.bbox).collect();
        for (k, o) in objects.iter().enumerate() {
            let (cname, sname) = (COLORS[o.color].0, SHAPES[o.shape]);
            let same_attr = objects
                .iter()
                .filter(|p| p.color == o.color && p.shape == o.shape)
                .count();
            let same_shape: Vec<&Object> = objects.iter().filter(|p| p.shape == o.shape).collect();
            let cx = |p: &Object| (p.bbox.x0 + p.bbox.x1) / 2.0;
            let leftmost = same_shape.iter().all(|p| cx(p) >= cx(o));
            let rightmost = same_shape.iter().all(|p| cx(p) <= cx(o));
            let mut expressions = Vec::new();
            if same_attr == 1 {
                expressions.push(format!("the {cname} {sname}"));
            }
            if same_shape.len() >= 2 && leftmost {
                expressions.push(format!("the {sname} on the left"));
            }
            if same_shape.len() >= 2 && rightmost {
                expressions.push(format!("the {sname} on the right"));
            }
            for (e, expression) in expressions.into_iter().enumerate() {
                samples.push(GroundingSample {
                    id: format!("scene{i:04}/obj{k}/{e}"),
                    image: dir.join(&file),
                    expression,
                    target: o.bbox,
                    proposals: proposals.clone(),
                    split: "test".into(),
                });
            }
        }
    }
    Ok(samples)
}
