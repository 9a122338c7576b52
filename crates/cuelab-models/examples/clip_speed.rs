//! CLIP encode throughput (forward pass only), the cuelab side of
//! `tools/reference/models/bench.py`: images/s and texts/s at batch 1 and 32, one JSON line per
//! case, same inputs and timing scope as the Python script.
//!
//! `cargo run -p cuelab-models --example clip_speed -- MODEL_DIR [SECONDS] [f32|bf16|f16] [BATCHES]`
//!
//! The optional third argument is the model dtype (default f32); it is echoed in every line.
//! BATCHES is a comma-separated list of batch sizes (default `1,32`).
//!
//! MODEL_DIR is a HF-layout CLIP ViT checkpoint or an open_clip-layout ResNet CLIP checkpoint
//! (e.g. the random-weight ones written by the fixture scripts with `--full-size`).

use cuelab_models::LoadOptions;
use std::path::PathBuf;
use std::time::Instant;

use cuelab_models::clip_vit::ClipVit;
use cuelab_models::open_clip::OpenClip;
use cuelab_models::ModelDtype;

/// Either CLIP family, behind the two calls the benchmark needs.
enum Model {
    Vit(Box<ClipVit>),
    Resnet(Box<OpenClip>),
}

impl Model {
    fn image_size(&self) -> usize {
        match self {
            Model::Vit(m) => m.config().image_size,
            Model::Resnet(m) => m.config().image_size,
        }
    }
    fn encode_pixels(&self, px: &[f32], n: usize) -> cuelab_models::Result<Vec<Vec<f32>>> {
        match self {
            Model::Vit(m) => m.encode_pixels(px, n),
            Model::Resnet(m) => m.encode_pixels(px, n),
        }
    }
    fn encode_ids(
        &self,
        ids: &[u32],
        n: usize,
        len: usize,
    ) -> cuelab_models::Result<Vec<Vec<f32>>> {
        match self {
            Model::Vit(m) => m.encode_ids(ids, n, len),
            Model::Resnet(m) => m.encode_ids(ids, n, len),
        }
    }
}

/// Seconds per call: one warm-up, then repeat until `seconds` have passed and at least 3 calls.
fn time_it(seconds: f64, mut f: impl FnMut()) -> f64 {
    f();
    let t = Instant::now();
    let mut n = 0u32;
    loop {
        f();
        n += 1;
        let dt = t.elapsed().as_secs_f64();
        if dt >= seconds && n >= 3 {
            return dt / f64::from(n);
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let Some(dir) = args.get(1).map(PathBuf::from) else {
        return Err("usage: clip_speed MODEL_DIR [SECONDS] [f32|bf16|f16] [BATCHES]".into());
    };
    let seconds: f64 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(5.0);
    let dtype: ModelDtype = args
        .get(3)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or_default();
    let model = if dir.join("config.json").exists() {
        Model::Vit(Box::new(ClipVit::load(
            &dir,
            &LoadOptions::default().with_dtype(dtype),
        )?))
    } else {
        Model::Resnet(Box::new(OpenClip::load(
            &dir,
            &LoadOptions::default().with_dtype(dtype),
        )?))
    };
    let batches: Vec<usize> = match args.get(4) {
        Some(list) => list
            .split(',')
            .map(|b| b.parse())
            .collect::<Result<_, _>>()?,
        None => vec![1, 32],
    };
    let s = model.image_size();
    let threads = rayon::current_num_threads();
    for &batch in &batches {
        let pixels: Vec<f32> = (0..batch * 3 * s * s)
            .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
            .collect();
        let per = time_it(seconds, || {
            model.encode_pixels(&pixels, batch).expect("image forward");
        });
        println!(
            "{{\"impl\":\"cuelab\",\"dtype\":\"{dtype}\",\"what\":\"image\",\"batch\":{batch},\"threads\":{threads},\"seconds_per_batch\":{per},\"items_per_s\":{}}}",
            batch as f64 / per
        );
    }
    for &batch in &batches {
        // 16-token captions: start, 14 words, end — as in bench.py.
        let mut ids = Vec::with_capacity(batch * 16);
        for r in 0..batch {
            ids.push(49406u32);
            ids.extend((0..14).map(|k| 1 + ((r * 31 + k * 977) % 49000) as u32));
            ids.push(49407);
        }
        let per = time_it(seconds, || {
            model.encode_ids(&ids, batch, 16).expect("text forward");
        });
        println!(
            "{{\"impl\":\"cuelab\",\"dtype\":\"{dtype}\",\"what\":\"text\",\"batch\":{batch},\"threads\":{threads},\"seconds_per_batch\":{per},\"items_per_s\":{}}}",
            batch as f64 / per
        );
    }
    Ok(())
}
