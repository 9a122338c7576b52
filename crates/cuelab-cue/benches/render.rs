//! Criterion benchmarks of the cue engine on a 640x480 photo-like image (CPU, this machine's
//! threads): Pillow-exact blur, grayscale, and seed 004's two recipes with and without the
//! per-image background cache. The side-by-side comparison with Pillow is
//! `tools/reference/cue/bench.py`.

#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use cuelab_cue::{blur, effects, BoxXyxy, Recipe, Renderer, Target};
use image::RgbImage;

fn photo() -> RgbImage {
    // deterministic texture with edges and gradients
    RgbImage::from_fn(640, 480, |x, y| {
        let v = (x * 7 + y * 13) ^ (x * y / 97);
        image::Rgb([
            (v % 251) as u8,
            ((v / 3) % 241) as u8,
            ((x + 2 * y) % 256) as u8,
        ])
    })
}

fn bench(c: &mut Criterion) {
    let img = photo();
    c.bench_function("cpu/blur_sigma20_640x480", |b| {
        b.iter(|| blur::gaussian_blur(&img, 20.0))
    });
    c.bench_function("cpu/grayscale_640x480", |b| {
        b.iter(|| {
            let mut x = img.clone();
            effects::grayscale_in_place(&mut x);
            x
        })
    });
    let target = Target::from_box(BoxXyxy {
        x0: 200.0,
        y0: 120.0,
        x1: 330.0,
        y1: 260.0,
    });
    for (name, spec) in [
        (
            "seed004_ellipse_blur",
            "ellipse(color=red,width=3)+blur(radius=20)",
        ),
        (
            "seed004_ellipse_blur_gray",
            "ellipse(color=red,width=3)+blur(radius=20)+gray",
        ),
    ] {
        let recipe = Recipe::parse(spec).expect("valid spec");
        c.bench_function(&format!("cpu/{name}/uncached"), |b| {
            b.iter(|| {
                Renderer::new(&img)
                    .render(&recipe, &target)
                    .expect("render")
            })
        });
        let renderer = Renderer::new(&img);
        c.bench_function(&format!("cpu/{name}/cached"), |b| {
            b.iter(|| renderer.render(&recipe, &target).expect("render"))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
