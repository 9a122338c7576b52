//! GEMM throughput of candle's CPU matmul on the ViT-B/32 shapes at batch 32 (50 tokens per image),
//! `x W^T` as the model's linear layers compute it. Prints GFLOP/s per shape.
//!
//! `cargo run -p cuelab-models --example gemm_speed [-- SECONDS]`

use std::time::Instant;

use candle_core::{Device, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: f64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(2.0);
    let rows = 32 * 50;
    for (i, o) in [(768usize, 2304usize), (768, 768), (768, 3072), (3072, 768)] {
        let x = Tensor::randn(0f32, 1.0, (rows, i), &Device::Cpu)?;
        let w = Tensor::randn(0f32, 1.0, (o, i), &Device::Cpu)?;
        let _ = x.matmul(&w.t()?)?;
        let t = Instant::now();
        let mut n = 0u32;
        while t.elapsed().as_secs_f64() < seconds || n < 3 {
            let _ = x.matmul(&w.t()?)?;
            n += 1;
        }
        let per = t.elapsed().as_secs_f64() / f64::from(n);
        let gflop = 2.0 * (rows * i * o) as f64 / 1e9;
        println!(
            "{rows}x{i} @ {i}x{o}: {:.1} GFLOP/s ({:.2} ms)",
            gflop / per,
            per * 1e3
        );
    }
    Ok(())
}
