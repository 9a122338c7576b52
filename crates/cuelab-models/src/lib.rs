//! `cuelab-models`: the in-process model engine of cuelab, on candle (pure Rust, CPU by default,
//! `cuda` feature for NVIDIA GPUs).
//!
//! * [`clip_vit::ClipVit`] — CLIP with a ViT image tower, Hugging Face layout.
//! * [`open_clip::OpenClip`] — CLIP in the OpenAI / open_clip state-dict layout (ResNet or ViT
//!   image tower).
//! * [`dinov2::Dinov2`] — DINOv2 image embeddings.
//! * [`load`] — one loading entry point: [`LoadOptions`], [`load_scorer`], [`load_embedder`].
//! * [`preprocess`] — the OpenAI and transformers CLIP preprocessings, bit-exact.
//! * [`tokenize`] — `tokenizer.json` tokenization with CLIP's truncation.
//! * [`siglip::Siglip`] — SigLIP image-text scoring (sigmoid probabilities), with
//!   [`siglip_tokenizer`] and the SentencePiece reader [`spiece`].
//! * [`resolve`] — model references (HF id, local directory) to files, offline first.
//! * [`cache`] — the SQLite embedding cache.
//! * [`dtype::ModelDtype`] — f32 (default), bf16 or f16 weights and matrix products.
//! * [`qwen3_vl::Qwen3Vl`] — Qwen3-VL in-process: generation, scoring, surprisal, attention maps.
//!
//! The experiment code talks to models through two traits: [`ImageEmbedder`] (images → vectors)
//! and [`ImageTextScorer`] (images and texts → vectors in one space, plus the logit scale).
//!
//! ```
//! use cuelab_models::{load_scorer, ImageTextScorer, LoadOptions};
//! // A model directory (config.json + model.safetensors + tokenizer.json) or a Hugging Face id
//! // from the local hub cache, e.g. "openai/clip-vit-base-patch32"; here a tiny random-weight
//! // CLIP ViT committed with the tests.
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/clip-vit-tiny");
//! let clip = load_scorer(dir, &LoadOptions::default())?;
//! let images = [image::RgbImage::from_pixel(64, 48, image::Rgb([200, 30, 30]))];
//! let texts = ["a red square".to_string(), "a photo of a dog".to_string()];
//! let cosines = clip.similarity(&images, &texts)?;
//! let probabilities = clip.probabilities_from_cosines(&cosines);
//! assert_eq!((cosines.len(), cosines[0].len()), (1, 2));
//! assert!((probabilities[0].iter().sum::<f32>() - 1.0).abs() < 1e-5);
//! # Ok::<(), cuelab_models::Error>(())
//! ```

pub mod bpe;
pub mod cache;
mod clip_text;
pub mod clip_vit;
mod config;
pub mod dinov2;
pub mod dtype;
pub mod error;
pub mod load;
pub mod npy;
pub mod open_clip;
pub mod preprocess;
pub mod qwen3_vl;
pub mod resolve;
pub mod shape;
pub mod siglip;
pub mod siglip_tokenizer;
pub mod spiece;
pub mod tokenize;
mod transformer;
pub mod weights;

pub use transformer::Act;

pub use candle_core::Device;
pub use dtype::ModelDtype;
pub use error::{Error, Result};
pub use load::{load_embedder, load_scorer, LoadOptions, ModelFamily};
pub use preprocess::{load_image, Pipeline, Preprocess};
pub use shape::{ConvStep, VisionShape};

use image::RgbImage;

/// A model that embeds images.
pub trait ImageEmbedder {
    /// Stable identifier: architecture, name and a prefix of the weights' SHA-256.
    fn id(&self) -> &str;
    /// The preprocessing applied to every image.
    fn preprocess(&self) -> &Preprocess;
    /// Length of each embedding.
    fn embed_dim(&self) -> usize;
    /// Raw (not normalised) embeddings, one per image, in order. Batches internally.
    fn encode_images(&self, images: &[RgbImage]) -> Result<Vec<Vec<f32>>>;
    /// As [`encode_images`](Self::encode_images), with at most `batch` images per forward pass
    /// (the default splits `images` into chunks of `batch` and lets each model batch a chunk as
    /// it does; the models of this crate run each chunk as one forward pass).
    fn encode_images_batched(&self, images: &[RgbImage], batch: usize) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(images.len());
        for chunk in images.chunks(batch.max(1)) {
            out.extend(self.encode_images(chunk)?);
        }
        Ok(out)
    }
    /// The image tower's activation sizes per image, for memory estimates (`None`: unknown).
    fn vision_shape(&self) -> Option<VisionShape> {
        None
    }
}

/// A model that embeds images and texts into one space (CLIP-like).
pub trait ImageTextScorer: ImageEmbedder {
    /// Raw (not normalised) text embeddings, one per text, in order. An empty list is fine.
    fn encode_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>>;
    /// The multiplier applied to cosine similarities to get logits (`exp(logit_scale)`).
    fn logit_scale(&self) -> f32;
    /// The bias of sigmoid-loss models (SigLIP): `Some(b)` means logits are
    /// `logit_scale * cos + b` and every image-text pair's probability is `sigmoid(logit)` on its
    /// own; `None` (CLIP, the default) means logits are `logit_scale * cos` and probabilities are a
    /// softmax over the candidate texts.
    fn logit_bias(&self) -> Option<f32> {
        None
    }
    /// Logits from a cosine matrix (`images x texts`).
    fn logits_from_cosines(&self, sims: &[Vec<f32>]) -> Vec<Vec<f32>> {
        let (scale, bias) = (self.logit_scale(), self.logit_bias().unwrap_or(0.0));
        sims.iter()
            .map(|row| row.iter().map(|c| c * scale + bias).collect())
            .collect()
    }
    /// Probabilities from a cosine matrix: softmax over each image's texts, or per-pair sigmoid
    /// when the model has a [`logit_bias`](Self::logit_bias).
    fn probabilities_from_cosines(&self, sims: &[Vec<f32>]) -> Vec<Vec<f32>> {
        match self.logit_bias() {
            Some(_) => siglip::sigmoid_rows(&self.logits_from_cosines(sims)),
            None => softmax_rows(sims, self.logit_scale()),
        }
    }
    /// Cosine similarities, `images x texts`.
    fn similarity(&self, images: &[RgbImage], texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let im = self.encode_images(images)?;
        let tx = self.encode_texts(texts)?;
        Ok(cosine_matrix(&im, &tx))
    }
}

/// L2-normalise a vector (unchanged when its norm is zero).
pub fn l2_normalize(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter().map(|x| x / n).collect()
    } else {
        v.to_vec()
    }
}

/// Cosine similarity matrix `a x b`.
pub fn cosine_matrix(a: &[Vec<f32>], b: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let an: Vec<Vec<f32>> = a.iter().map(|v| l2_normalize(v)).collect();
    let bn: Vec<Vec<f32>> = b.iter().map(|v| l2_normalize(v)).collect();
    an.iter()
        .map(|x| {
            bn.iter()
                .map(|y| x.iter().zip(y).map(|(p, q)| p * q).sum())
                .collect()
        })
        .collect()
}

/// Softmax of `scale * row` for each row (CLIP's zero-shot probabilities).
pub fn softmax_rows(sims: &[Vec<f32>], scale: f32) -> Vec<Vec<f32>> {
    sims.iter()
        .map(|row| {
            let m = row
                .iter()
                .map(|s| s * scale)
                .fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f32> = row.iter().map(|s| (s * scale - m).exp()).collect();
            let z: f32 = e.iter().sum();
            e.iter().map(|x| x / z).collect()
        })
        .collect()
}

/// The device named on the command line: `cpu`, or `cuda`/`cuda:N` with the `cuda` feature.
pub fn device(name: &str) -> Result<Device> {
    match name {
        "cpu" => Ok(Device::Cpu),
        n if n == "cuda" || n.starts_with("cuda:") => {
            let ordinal = n
                .strip_prefix("cuda:")
                .map(|s| s.parse::<usize>())
                .transpose()
                .map_err(|_| Error::Invalid(format!("bad device `{n}`")))?
                .unwrap_or(0);
            Device::new_cuda(ordinal).map_err(|e| Error::Invalid(format!("device `{n}`: {e}")))
        }
        other => Err(Error::Invalid(format!(
            "unknown device `{other}` (expected cpu or cuda[:N])"
        ))),
    }
}
