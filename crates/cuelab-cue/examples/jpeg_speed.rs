//! Side-by-side benchmark driver: decodes JPEG files to RGB and prints the time per decode as
//! JSON, for cuelab's decoder (`decode_rgb`: libjpeg-turbo, Pillow-exact) and for the `image`
//! crate's (zune-jpeg, the decoder cuelab used before). Called by
//! `tools/reference/cue/bench_jpeg.py`, which times Pillow on the same files in the same run.
//!
//! `cargo run --release -p cuelab-cue --example jpeg_speed -- REPEATS FILE...`
//! Files are read into memory first; each decode is timed on its own, the median is reported.

use std::path::Path;
use std::time::Instant;

use cuelab_cue::decode_rgb;

fn median_ms(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn time<F: FnMut()>(repeats: usize, mut f: F) -> f64 {
    f(); // warm-up: page in the code and the allocator
    let times = (0..repeats)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    median_ms(times)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let repeats: usize = args
        .get(1)
        .ok_or("usage: jpeg_speed REPEATS FILE...")?
        .parse()?;
    let mut rows = Vec::new();
    for file in &args[2..] {
        let bytes = std::fs::read(file)?;
        let name = Path::new(file);
        let img = decode_rgb(&bytes, name)?;
        let ours = time(repeats, || {
            std::hint::black_box(decode_rgb(&bytes, name).map(|i| i.len()).unwrap_or(0));
        });
        let zune = time(repeats, || {
            let decoded = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
                .map(|i| i.to_rgb8().len())
                .unwrap_or(0);
            std::hint::black_box(decoded);
        });
        rows.push(serde_json::json!({
            "file": file,
            "width": img.width(),
            "height": img.height(),
            "cuelab_ms": ours,
            "image_crate_ms": zune,
        }));
    }
    println!("{}", serde_json::to_string_pretty(&rows)?);
    Ok(())
}
