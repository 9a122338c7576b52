//! `cuelab-models`: the in-process model engine of cuelab, on candle (pure Rust, CPU by default,
//! `cuda` feature for NVIDIA GPUs).
//!
//! * [`clip_vit::ClipVit`] — CLIP with a ViT image tower, Hugging Face layout.
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

pub mod bpe;
pub mod cache;
pub mod clip_resnet;
mod clip_text;
pub mod clip_vit;
mod config;
pub mod dinov2;
pub mod dtype;
pub mod error;
pub mod npy;
pub mod open_clip_vit;
pub mod preprocess;
pub mod qwen3_vl;
pub mod resolve;
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
pub use preprocess::{load_image, Pipeline, Preprocess};

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

/// Options for [`load_scorer`].
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Preprocessing override (`None`: the documented default of the checkpoint's layout).
    pub pipeline: Option<Pipeline>,
    /// Where to run.
    pub device: Device,
    /// The dtype weights are stored and matrix products run in (see [`dtype`]); embeddings are
    /// returned as f32 whatever it is, and a non-f32 dtype is part of the model's id.
    pub dtype: ModelDtype,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            pipeline: None,
            device: Device::Cpu,
            dtype: ModelDtype::F32,
        }
    }
}

/// Resolve a model reference (see [`resolve`]) and load it as an image-text scorer, dispatching on
/// `model_type` in its `config.json`.
pub fn load_scorer(
    reference: &str,
    opts: &LoadOptions,
) -> Result<Box<dyn ImageTextScorer + Send + Sync>> {
    let resolved = resolve::resolve(reference)?;
    let config_path = resolved.dir.join("config.json");
    let (dir, dev, dt) = (&resolved.dir, &opts.device, opts.dtype);
    match model_type(dir)?.as_str() {
        "clip" => Ok(Box::new(clip_vit::ClipVit::load_with_dtype(
            dir,
            opts.pipeline,
            dev,
            dt,
        )?)),
        OPEN_CLIP => Ok(Box::new(clip_resnet::ClipResnet::load_with_dtype(
            dir,
            opts.pipeline,
            dev,
            dt,
        )?)),
        "siglip" => Ok(Box::new(siglip::Siglip::load_with_dtype(dir, dev, dt)?)),
        other => Err(Error::UnsupportedArchitecture {
            path: config_path,
            architecture: other.to_string(),
            supported: "clip, siglip (image-text scoring), open_clip ResNet / ViT CLIP".into(),
        }),
    }
}

/// Resolve a model reference and load it as an image embedder: CLIP (image tower) or DINOv2.
pub fn load_embedder(
    reference: &str,
    opts: &LoadOptions,
) -> Result<Box<dyn ImageEmbedder + Send + Sync>> {
    let resolved = resolve::resolve(reference)?;
    let config_path = resolved.dir.join("config.json");
    let (dir, dev, dt) = (&resolved.dir, &opts.device, opts.dtype);
    match model_type(dir)?.as_str() {
        "clip" => Ok(Box::new(clip_vit::ClipVit::load_with_dtype(
            dir,
            opts.pipeline,
            dev,
            dt,
        )?)),
        OPEN_CLIP => Ok(Box::new(clip_resnet::ClipResnet::load_with_dtype(
            dir,
            opts.pipeline,
            dev,
            dt,
        )?)),
        "dinov2" | "dinov2_with_registers" => {
            Ok(Box::new(dinov2::Dinov2::load_with_dtype(dir, dev, dt)?))
        }
        "siglip" | "siglip_vision_model" => Ok(Box::new(siglip::SiglipVision::load_with_dtype(
            dir, dev, dt,
        )?)),
        other => Err(Error::UnsupportedArchitecture {
            path: config_path,
            architecture: other.to_string(),
            supported: "clip, dinov2, dinov2_with_registers, siglip, open_clip ResNet / ViT CLIP"
                .into(),
        }),
    }
}

/// The architecture name used internally for open_clip / OpenAI state-dict checkpoints.
const OPEN_CLIP: &str = "open_clip";

/// `model_type` of `config.json`; `open_clip` for a directory with only `open_clip_config.json`.
fn model_type(dir: &std::path::Path) -> Result<String> {
    let config_path = dir.join("config.json");
    let open_clip = dir.join("open_clip_config.json");
    if !config_path.is_file() && open_clip.is_file() {
        // ResNet and ViT image towers both load through `ClipResnet` (shared text tower); its
        // config parser decides which and reports bad keys.
        return Ok(OPEN_CLIP.to_string());
    }
    model_type_of(&config_path)
}

fn model_type_of(config_path: &std::path::Path) -> Result<String> {
    let value = config::read_json(config_path)?;
    Ok(config::model_type(&value)
        .unwrap_or("<no model_type>")
        .to_string())
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
