//! GEMM throughput of candle's CPU matmul on the ViT-B/32 linear-layer shapes, `x W^T` with the
//! weight as a transposed view (how the model computes it) and pre-transposed to a contiguous
//! `(in, out)` matrix, at 16 rows (a short caption), 50 rows (one image) and 1,600 rows (32 images).
//!
//! `cargo run -p cuelab-models --example gemm_speed [-- SECONDS]`

use std::time::Instant;

use candle_core::{Device, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: f64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1.0);
    for rows in [16usize, 50, 32 * 50] {
        for (i, o) in [(768usize, 2304usize), (768, 3072), (3072, 768)] {
            let x = Tensor::randn(0f32, 1.0, (rows, i), &Device::Cpu)?;
            let w = Tensor::randn(0f32, 1.0, (o, i), &Device::Cpu)?;
            let wt = w.t()?.contiguous()?;
            for (layout, rhs) in [("W^T view", w.t()?), ("W^T contiguous", wt)] {
                let _ = x.matmul(&rhs)?;
                let t = Instant::now();
                let mut n = 0u32;
                while t.elapsed().as_secs_f64() < seconds || n < 3 {
                    let _ = x.matmul(&rhs)?;
                    n += 1;
                }
                let per = t.elapsed().as_secs_f64() / f64::from(n);
                let gflop = 2.0 * (rows * i * o) as f64 / 1e9;
                println!(
                    "{rows}x{i} @ {i}x{o} ({layout}): {:.1} GFLOP/s ({:.3} ms)",
                    gflop / per,
                    per * 1e3
                );
            }
        }
    }
    Ok(())
}
