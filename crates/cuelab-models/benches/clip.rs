//! CLIP ViT throughput: images/s and texts/s at batch 1 and 32 (forward pass only).
//!
//! Needs a HF-layout checkpoint in `CUELAB_BENCH_MODEL` (e.g. the random-weight ViT-B/32 written by
//! `tools/reference/models/make_fixtures.py --full-size DIR`); without it the bench does nothing.
//! The PyTorch side is `tools/reference/models/bench.py` on the same directory.

use cuelab_models::LoadOptions;
use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_main, Criterion, Throughput};
use cuelab_models::clip_vit::ClipVit;

fn clip(c: &mut Criterion) {
    let Some(dir) = std::env::var_os("CUELAB_BENCH_MODEL").map(PathBuf::from) else {
        eprintln!("CUELAB_BENCH_MODEL not set; skipping the CLIP bench");
        return;
    };
    let model = ClipVit::load(&dir, &LoadOptions::default()).expect("load bench model");
    let s = model.config().image_size;
    let mut g = c.benchmark_group("clip_vit");
    g.sample_size(10);
    for batch in [1usize, 32] {
        let pixels: Vec<f32> = (0..batch * 3 * s * s)
            .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
            .collect();
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_function(format!("image_b{batch}"), |b| {
            b.iter(|| black_box(model.encode_pixels(&pixels, batch).expect("forward")))
        });
        // 16-token captions: start, 14 words, end — as in bench.py.
        let mut ids = Vec::with_capacity(batch * 16);
        for r in 0..batch {
            ids.push(49406u32);
            ids.extend((0..14).map(|k| 1 + ((r * 31 + k * 977) % 49000) as u32));
            ids.push(49407);
        }
        g.bench_function(format!("text_b{batch}"), |b| {
            b.iter(|| black_box(model.encode_ids(&ids, batch, 16).expect("forward")))
        });
    }
    g.finish();
}

#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::clip);
}
criterion_main!(group::benches);
