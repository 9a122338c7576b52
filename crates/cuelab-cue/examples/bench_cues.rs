//! Side-by-side benchmark driver: renders seed 004's two recipes (red ellipse width 3 + blur 20,
//! and + gray) for K boxes on each image and prints timings as JSON. Called by
//! `tools/reference/cue/bench.py`, which times Pillow on the same images and boxes.
//!
//! `cargo run --release -p cuelab-cue --example bench_cues -- BOXES.json REPEATS`
//! with `RAYON_NUM_THREADS` choosing the thread count. BOXES.json: `[{"image": path,
//! "boxes": [[x0,y0,x1,y1], ...]}, ...]` (exclusive-end boxes).

use std::time::Instant;

use cuelab_cue::{load_rgb, BoxXyxy, Recipe, Renderer, Target};
use rayon::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let spec_path = args
        .get(1)
        .ok_or("usage: bench_cues BOXES.json [REPEATS]")?;
    let repeats: usize = args.get(2).map(|r| r.parse()).transpose()?.unwrap_or(3);
    let jobs: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(spec_path)?)?;
    let recipes = [
        Recipe::parse("ellipse(color=red,width=3)+blur(radius=20)")?,
        Recipe::parse("ellipse(color=red,width=3)+blur(radius=20)+gray")?,
    ];
    let mut work = Vec::new();
    for job in &jobs {
        let img = load_rgb(std::path::Path::new(job["image"].as_str().ok_or("image")?))?;
        let mut targets = Vec::new();
        for b in job["boxes"].as_array().ok_or("boxes")? {
            let v: Vec<f32> = b
                .as_array()
                .ok_or("box")?
                .iter()
                .map(|x| x.as_f64().unwrap_or(0.0) as f32)
                .collect();
            targets.push(Target::from_box(BoxXyxy::new(v[0], v[1], v[2], v[3])?));
        }
        work.push((img, targets));
    }
    let renders: usize = work.iter().map(|(_, t)| t.len() * recipes.len()).sum();

    // Uncached: a fresh renderer per render, as the seed code re-blurs for every proposal.
    let mut best_uncached = f64::INFINITY;
    // Cached: one renderer per image, backgrounds reused across its proposals.
    let mut best_cached = f64::INFINITY;
    let mut checksum = 0u64;
    for _ in 0..repeats {
        let t0 = Instant::now();
        let sums: Vec<u64> = work
            .par_iter()
            .flat_map(|(img, targets)| {
                let recipes = &recipes;
                targets
                    .par_iter()
                    .flat_map(move |t| recipes.par_iter().map(move |r| (img, t, r)))
            })
            .map(|(img, t, r)| {
                let out = Renderer::new(img).render(r, t).expect("render");
                u64::from(out.as_raw()[out.as_raw().len() / 2])
            })
            .collect();
        best_uncached = best_uncached.min(t0.elapsed().as_secs_f64());
        checksum = checksum.wrapping_add(sums.iter().sum::<u64>());

        let t0 = Instant::now();
        let sums: Vec<u64> = work
            .par_iter()
            .map(|(img, targets)| {
                let renderer = Renderer::new(img);
                let mut s = 0u64;
                for t in targets {
                    for r in &recipes {
                        let out = renderer.render(r, t).expect("render");
                        s += u64::from(out.as_raw()[out.as_raw().len() / 2]);
                    }
                }
                s
            })
            .collect();
        best_cached = best_cached.min(t0.elapsed().as_secs_f64());
        checksum = checksum.wrapping_add(sums.iter().sum::<u64>());
    }
    println!(
        "{}",
        serde_json::json!({
            "renders": renders,
            "threads": rayon::current_num_threads(),
            "uncached_ms_per_render": best_uncached * 1e3 / renders as f64,
            "cached_ms_per_render": best_cached * 1e3 / renders as f64,
            "checksum": checksum,
        })
    );
    Ok(())
}
