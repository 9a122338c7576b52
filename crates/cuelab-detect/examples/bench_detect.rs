//! Latency of the built-in CenterNet in tract: `cargo run -p cuelab-detect --example bench_detect --
//! [--runs N] PHOTO...` (tract is a dependency, so it is built at opt-level 3 even in dev). Prints one JSON line per photo with the median of N runs
//! of the model alone (input tensor in, raw output out) and of the whole `detect` (preprocess,
//! model, decode, NMS). `tools/reference/detect/bench.py` runs onnxruntime on the same tensors and
//! prints the ratio.

use std::path::PathBuf;
use std::time::Instant;

use cuelab_detect::{DetectOptions, Detector};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut runs = 5usize;
    let mut photos: Vec<PathBuf> = Vec::new();
    while let Some(a) = args.next() {
        if a == "--runs" {
            runs = args.next().ok_or("--runs needs a number")?.parse()?;
        } else {
            photos.push(a.into());
        }
    }
    if photos.is_empty() || runs == 0 {
        return Err("usage: bench_detect [--runs N] PHOTO...".into());
    }
    let t = Instant::now();
    let det = Detector::builtin("centernet")?;
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let opts = DetectOptions::default();
    for p in &photos {
        let img = cuelab_cue::load_rgb(p)?;
        let (input, _) = det.preprocess(&img);
        det.run_raw(&input)?; // warm-up
        let mut model_ms = Vec::new();
        let mut full_ms = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            det.run_raw(&input)?;
            model_ms.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            det.detect(&img, &opts)?;
            full_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        println!(
            "{{\"photo\": {:?}, \"engine\": \"tract\", \"runs\": {runs}, \"threads\": {}, \"load_ms\": {load_ms:.1}, \"model_ms\": {:.2}, \"detect_ms\": {:.2}}}",
            p.display().to_string(),
            rayon_threads(),
            median(model_ms),
            median(full_ms)
        );
    }
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
