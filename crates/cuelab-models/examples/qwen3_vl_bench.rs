//! Timing of a Qwen3-VL checkpoint on one image: load, prefill (vision + decoder over the whole
//! prompt) and cached decode. Used by `tools/reference/models/bench_qwen3_vl.py`.
//!
//! `cargo run -p cuelab-models --example qwen3_vl_bench -- MODEL_DIR IMAGE NEW_TOKENS REPEATS [LOGITS.npy]`
//!
//! With `LOGITS.npy`, the prompt's logits (all positions) are written there and the greedy tokens
//! printed (used by `tools/reference/models/qwen3_vl_large_parity.py`).

use std::path::PathBuf;
use std::time::Instant;

use cuelab_models::qwen3_vl::{GenerateOptions, Qwen3Vl};
use cuelab_models::{load_image, LoadOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        return Err("usage: qwen3_vl_bench MODEL_DIR IMAGE NEW_TOKENS REPEATS".into());
    }
    let dir = PathBuf::from(&args[1]);
    let img = load_image(&PathBuf::from(&args[2]))?;
    let new_tokens: usize = args[3].parse()?;
    let repeats: usize = args[4].parse()?;
    let t = Instant::now();
    let model = Qwen3Vl::load(&dir, &LoadOptions::default())?;
    let load_s = t.elapsed().as_secs_f64();
    let p = model.prepare_chat(&[img], "Describe the image in one sentence.")?;
    let mut greedy = Vec::new();
    if let Some(out) = args.get(5) {
        let (logits, _, _) = model.prefill(&p, &[])?;
        let rows = logits.to_vec2::<f32>()?;
        let dim = rows.first().map(Vec::len).unwrap_or(0);
        cuelab_models::npy::write_f32_2d(&PathBuf::from(out), &rows, dim)?;
    }
    let mut prefill = Vec::new();
    let mut decode = Vec::new();
    for _ in 0..repeats {
        let t = Instant::now();
        let _ = model.prefill(&p, &[])?;
        prefill.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        // no stop tokens: the random model must run all steps
        let mut opts = GenerateOptions {
            max_new_tokens: new_tokens,
            ..Default::default()
        };
        opts.stop.clear();
        let g = model.generate(&p, &opts)?;
        greedy = g.tokens.clone();
        let total = t.elapsed().as_secs_f64();
        let steps = g.tokens.len().saturating_sub(1).max(1);
        decode.push((total - prefill.last().copied().unwrap_or(0.0)) / steps as f64);
    }
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "{{\"load_s\": {load_s:.3}, \"prompt_tokens\": {}, \"prefill_s\": {:.4}, \"decode_s_per_token\": {:.5}, \"greedy\": {:?}}}",
        p.ids.len(),
        best(&prefill),
        best(&decode),
        greedy
    );
    Ok(())
}
