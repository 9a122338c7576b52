//! The encoder batch size of the miner: explicit (`--batch N`) or chosen from memory
//! (`--batch auto`, the default).
//!
//! The cost model (bytes per image in one forward pass; docs/mine.md states it with figures):
//!
//! - **Transformer** (ViT, DINOv2, SigLIP) with `T` tokens, width `D`, MLP width `M`, `h` heads and
//!   activations of `b` bytes (the model dtype): only one block's activations are alive at a
//!   time (inference keeps no graph), and a block holds at most
//!   `b (8 T D + 2 T M) + 12 h T^2`: the residual stream, its norm, q, k, v and their
//!   head-major copies, the attention output (`8 T D`), the MLP's hidden layer before and after
//!   its activation (`2 T M`), and three `T x T` maps per head (scores, their f32 softmax and the
//!   probabilities) counted at 4 bytes.
//! - **Convolutional** (ResNet): the largest convolution, `4 (2 in + k^2 C_in H_out W_out +
//!   2 out)` bytes: its input twice (the block input kept for the shortcut), the im2col buffer of
//!   candle's CPU convolution, and the output twice (before and after BatchNorm), in f32 (CPU
//!   convolutions run in f32 whatever the dtype).
//! - **Both**: the preprocessed pixels, `16 x 3 H W` bytes (the per-image f32 buffer, the batch
//!   copy, the input tensor and the patch convolution's im2col), plus everything above doubled
//!   for allocator slack and temporaries, plus the decoded source image (`3 w h` bytes, the
//!   largest among the first [`HEADER_SAMPLE`] images' headers), held for the whole batch.
//!
//! The batch is the largest that fits in [`MEMORY_FRACTION`] of the available memory, clamped
//! to `[1, MAX_BATCH]`. Available memory is read after the model is loaded (its weights are
//! already taken): `MemAvailable` of `/proc/meminfo` for the CPU; for a CUDA device the free
//! memory `nvidia-smi` reports (candle does not expose it without the `cuda` feature's driver
//! calls), else [`FALLBACK_MEMORY`]. A model without a known shape gets [`FALLBACK_BATCH`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use cuelab_models::{Device, ImageEmbedder, ModelDtype, VisionShape};
use serde::Serialize;

use crate::error::TaskError;

/// Share of the available memory one batch may take.
pub const MEMORY_FRACTION: f64 = 0.25;
/// Largest batch chosen (or accepted).
pub const MAX_BATCH: usize = 256;
/// Factor on the activations for allocator slack and short-lived temporaries.
pub const SAFETY: u64 = 2;
/// Batch of a model that reports no [`VisionShape`].
pub const FALLBACK_BATCH: usize = 16;
/// Assumed available memory when none can be read (4 GiB).
pub const FALLBACK_MEMORY: u64 = 4 << 30;
/// Images whose headers are read for the decoded-image size.
pub const HEADER_SAMPLE: usize = 16;

/// The `--batch` setting: a number, or `auto` (from memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BatchSize {
    /// Chosen from the model's cost and the available memory.
    #[default]
    Auto,
    /// This many images per forward pass.
    Fixed(usize),
}

impl FromStr for BatchSize {
    type Err = TaskError;

    fn from_str(s: &str) -> Result<Self, TaskError> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(BatchSize::Auto);
        }
        match s.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(BatchSize::Fixed(n)),
            _ => Err(TaskError::Usage(format!(
                "--batch `{s}`: give `auto` or a number of images (at least 1)"
            ))),
        }
    }
}

impl fmt::Display for BatchSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchSize::Auto => f.write_str("auto"),
            BatchSize::Fixed(n) => write!(f, "{n}"),
        }
    }
}

/// The batch a side is encoded with, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchChoice {
    /// Images per forward pass.
    pub batch: usize,
    /// `explicit` (`--batch N`), `auto`, or `fallback` (a model without a known shape).
    pub from: &'static str,
    /// Estimated bytes per image (auto).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_per_image: Option<u64>,
    /// Available memory in bytes (auto).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_bytes: Option<u64>,
    /// Where the available memory was read (auto).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_source: Option<String>,
}

/// Bytes of activations one image needs inside the tower (the largest block or convolution),
/// `activation_bytes` per value for transformers.
pub fn activation_bytes(shape: &VisionShape, activation_bytes: u64) -> u64 {
    match shape {
        VisionShape::Transformer {
            tokens,
            hidden,
            mlp,
            heads,
            ..
        } => {
            let (t, d, m, h) = (*tokens as u64, *hidden as u64, *mlp as u64, *heads as u64);
            activation_bytes * (8 * t * d + 2 * t * m) + 12 * h * t * t
        }
        VisionShape::Conv(steps) => steps
            .iter()
            .map(|s| {
                let (ci, hi, wi) = s.input;
                let (co, ho, wo) = s.output;
                let (input, output) = ((ci * hi * wi) as u64, (co * ho * wo) as u64);
                let im2col = (s.kernel * s.kernel * ci * ho * wo) as u64;
                4 * (2 * input + im2col + 2 * output)
            })
            .max()
            .unwrap_or(0),
    }
}

/// Bytes one image of a batch needs: [`activation_bytes`] and the model input
/// (`input = (height, width)`), doubled, plus the decoded source image of `source_pixels` pixels.
pub fn bytes_per_image(
    shape: &VisionShape,
    input: (u32, u32),
    dtype_bytes: u64,
    source_pixels: u64,
) -> u64 {
    let pixels = 16 * 3 * u64::from(input.0) * u64::from(input.1);
    SAFETY * (activation_bytes(shape, dtype_bytes) + pixels) + 3 * source_pixels
}

/// The largest batch whose images fit in `fraction` of `available` bytes, in `[1, MAX_BATCH]`.
pub fn fit_batch(per_image: u64, available: u64, fraction: f64) -> usize {
    let budget = (available as f64 * fraction).max(0.0);
    let n = budget / per_image.max(1) as f64;
    (n.floor() as usize).clamp(1, MAX_BATCH)
}

/// `MemAvailable` of a `/proc/meminfo` text, in bytes.
pub fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut parts = line.split_whitespace().skip(1);
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | None => Some(value * 1024),
        _ => None,
    }
}

/// Available memory of `device` in bytes and where it was read; [`FALLBACK_MEMORY`] when it
/// cannot be read.
pub fn available_memory(device: &Device) -> (u64, String) {
    let read = match device.location() {
        candle_core::DeviceLocation::Cpu => std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|t| parse_meminfo(&t))
            .map(|b| (b, "/proc/meminfo MemAvailable".to_string())),
        candle_core::DeviceLocation::Cuda { gpu_id } => cuda_free(gpu_id),
        candle_core::DeviceLocation::Metal { .. } => None,
    };
    read.unwrap_or_else(|| {
        (
            FALLBACK_MEMORY,
            "not readable: assumed 4 GiB (fallback)".to_string(),
        )
    })
}

/// Free memory of CUDA device `id` as `nvidia-smi` reports it (MiB), in bytes.
fn cuda_free(id: usize) -> Option<(u64, String)> {
    let out = std::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=memory.free",
            "--format=csv,noheader,nounits",
            &format!("--id={id}"),
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let mib: u64 = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()?;
    Some((mib << 20, format!("nvidia-smi memory.free of GPU {id}")))
}

/// The largest decoded size (pixels) among the headers of the first [`HEADER_SAMPLE`] images
/// (unreadable headers are skipped here; decoding reports them).
pub fn sample_source_pixels(images: &[PathBuf]) -> u64 {
    images
        .iter()
        .take(HEADER_SAMPLE)
        .filter_map(|p: &PathBuf| image::image_dimensions(Path::new(p)).ok())
        .map(|(w, h)| u64::from(w) * u64::from(h))
        .max()
        .unwrap_or(0)
}

/// The batch for encoding `images` with `model`: `setting` when explicit, else the largest that
/// fits (see the module's cost model).
pub fn choose_batch(
    setting: BatchSize,
    model: &dyn ImageEmbedder,
    dtype: ModelDtype,
    device: &Device,
    images: &[PathBuf],
) -> BatchChoice {
    if let BatchSize::Fixed(n) = setting {
        return BatchChoice {
            batch: n.max(1),
            from: "explicit",
            bytes_per_image: None,
            available_bytes: None,
            memory_source: None,
        };
    }
    let Some(shape) = model.vision_shape() else {
        return BatchChoice {
            batch: FALLBACK_BATCH,
            from: "fallback",
            bytes_per_image: None,
            available_bytes: None,
            memory_source: None,
        };
    };
    let pre = model.preprocess();
    let per_image = bytes_per_image(
        &shape,
        (pre.crop_height, pre.crop_width),
        dtype.candle().size_in_bytes() as u64,
        sample_source_pixels(images),
    );
    let (available, source) = available_memory(device);
    BatchChoice {
        batch: fit_batch(per_image, available, MEMORY_FRACTION),
        from: "auto",
        bytes_per_image: Some(per_image),
        available_bytes: Some(available),
        memory_source: Some(source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cuelab_models::ConvStep;

    fn vit(tokens: usize, hidden: usize) -> VisionShape {
        VisionShape::Transformer {
            tokens,
            hidden,
            mlp: 4 * hidden,
            heads: hidden / 64,
            layers: 24,
        }
    }

    #[test]
    fn vit_l14_costs_what_the_docs_say() {
        // CLIP ViT-L/14 at 224 px, f32, from a 640 x 480 photo
        let shape = vit(257, 1024);
        assert_eq!(activation_bytes(&shape, 4), 29_524_160);
        let per = bytes_per_image(&shape, (224, 224), 4, 640 * 480);
        assert_eq!(per, 2 * (29_524_160 + 16 * 3 * 224 * 224) + 3 * 640 * 480);
        // 16 GiB available: a quarter of it is 4 GiB
        assert_eq!(fit_batch(per, 16 << 30, 0.25), 66);
    }

    #[test]
    fn monotone_in_image_and_model_size() {
        let mut last = 0;
        for tokens in [50, 197, 257, 577, 1025] {
            let b = bytes_per_image(&vit(tokens, 768), (224, 224), 4, 0);
            assert!(b > last, "{tokens} tokens: {b} <= {last}");
            last = b;
        }
        let mut last = 0;
        for hidden in [192, 384, 768, 1024, 1536] {
            let b = bytes_per_image(&vit(257, hidden), (224, 224), 4, 0);
            assert!(b > last, "width {hidden}: {b} <= {last}");
            last = b;
        }
        let small = bytes_per_image(&vit(257, 768), (224, 224), 4, 0);
        assert!(bytes_per_image(&vit(257, 768), (336, 336), 4, 0) > small);
        assert!(bytes_per_image(&vit(257, 768), (224, 224), 4, 4000 * 3000) > small);
        assert!(bytes_per_image(&vit(257, 768), (224, 224), 2, 0) < small);
        // batches shrink as images grow, never below 1
        let mut last = usize::MAX;
        for tokens in [50, 257, 1025, 4097, 16385] {
            let n = fit_batch(
                bytes_per_image(&vit(tokens, 1024), (224, 224), 4, 0),
                8 << 30,
                0.25,
            );
            assert!(n <= last && n >= 1, "{tokens}: {n}");
            last = n;
        }
        assert_eq!(last, 1);
    }

    #[test]
    fn conv_cost_is_the_largest_convolution() {
        let step = |c, s, k| ConvStep {
            input: (c, s, s),
            output: (c, s, s),
            kernel: k,
        };
        let one = VisionShape::Conv(vec![step(64, 56, 3)]);
        let v = 64 * 56 * 56;
        assert_eq!(activation_bytes(&one, 2), 4 * (2 * v + 9 * v + 2 * v));
        let two = VisionShape::Conv(vec![step(64, 56, 3), step(256, 14, 1)]);
        assert_eq!(activation_bytes(&two, 4), activation_bytes(&one, 4));
        let bigger = VisionShape::Conv(vec![step(64, 112, 3)]);
        assert!(activation_bytes(&bigger, 4) > activation_bytes(&one, 4));
        assert_eq!(activation_bytes(&VisionShape::Conv(vec![]), 4), 0);
    }

    #[test]
    fn clamps_and_settings() {
        assert_eq!(fit_batch(1, u64::MAX, 0.25), MAX_BATCH);
        assert_eq!(fit_batch(0, 1 << 30, 0.25), MAX_BATCH);
        assert_eq!(fit_batch(u64::MAX, 1 << 30, 0.25), 1);
        assert_eq!(fit_batch(1 << 20, 0, 0.25), 1);
        assert_eq!(fit_batch(1 << 20, 400 << 20, 0.25), 100);
        assert_eq!("auto".parse::<BatchSize>().unwrap(), BatchSize::Auto);
        assert_eq!("AUTO".parse::<BatchSize>().unwrap(), BatchSize::Auto);
        assert_eq!("7".parse::<BatchSize>().unwrap(), BatchSize::Fixed(7));
        assert_eq!("300".parse::<BatchSize>().unwrap(), BatchSize::Fixed(300));
        for bad in ["0", "-3", "x", ""] {
            assert!(bad.parse::<BatchSize>().is_err(), "{bad}");
        }
        assert_eq!(BatchSize::Fixed(7).to_string(), "7");
        assert_eq!(BatchSize::default().to_string(), "auto");
    }

    /// A model with a given shape (or none) that embeds nothing.
    struct Shaped(Option<VisionShape>, cuelab_models::Preprocess);

    impl ImageEmbedder for Shaped {
        fn id(&self) -> &str {
            "shaped"
        }
        fn preprocess(&self) -> &cuelab_models::Preprocess {
            &self.1
        }
        fn embed_dim(&self) -> usize {
            1
        }
        fn encode_images(&self, _: &[image::RgbImage]) -> cuelab_models::Result<Vec<Vec<f32>>> {
            Ok(Vec::new())
        }
        fn vision_shape(&self) -> Option<VisionShape> {
            self.0.clone()
        }
    }

    #[test]
    fn an_explicit_batch_wins() {
        let pre = cuelab_models::Preprocess::clip(cuelab_models::Pipeline::Openai, 224);
        // a shape so large that auto gives 1
        let huge = Shaped(Some(vit(1 << 16, 4096)), pre.clone());
        let auto = choose_batch(BatchSize::Auto, &huge, ModelDtype::F32, &Device::Cpu, &[]);
        assert_eq!((auto.batch, auto.from), (1, "auto"));
        assert!(auto.bytes_per_image.is_some() && auto.available_bytes.is_some());
        let fixed = choose_batch(
            BatchSize::Fixed(300),
            &huge,
            ModelDtype::F32,
            &Device::Cpu,
            &[],
        );
        assert_eq!((fixed.batch, fixed.from), (300, "explicit"));
        let unknown = Shaped(None, pre);
        let c = choose_batch(
            BatchSize::Auto,
            &unknown,
            ModelDtype::F32,
            &Device::Cpu,
            &[],
        );
        assert_eq!((c.batch, c.from), (FALLBACK_BATCH, "fallback"));
    }

    #[test]
    fn meminfo_is_parsed_in_bytes() {
        let text =
            "MemTotal:       16384000 kB\nMemFree:         1000 kB\nMemAvailable:    8000000 kB\n";
        assert_eq!(parse_meminfo(text), Some(8_000_000 * 1024));
        assert_eq!(parse_meminfo("MemTotal: 5 kB\n"), None);
        let (bytes, source) = available_memory(&Device::Cpu);
        assert!(bytes > 0, "{source}");
    }
}
