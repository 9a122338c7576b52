//! SigLIP image tower (Hugging Face `SiglipModel` / `SiglipVisionModel` layout): the embedding is
//! the attention-pooling head's output (`pooler_output`, what `get_image_features` returns).
//!
//! Preprocessing is `SiglipImageProcessor` (torchvision backend): resize straight to the model
//! resolution ignoring the aspect ratio with the uint8 antialiased bicubic kernel, no crop,
//! mean = std = 0.5. The text tower is not implemented: SigLIP checkpoints ship a SentencePiece
//! `spiece.model`, which the `tokenizers` crate cannot read.

use std::path::Path;

use candle_core::{Device, Module, Tensor};
use candle_nn::{Conv2d, Conv2dConfig, LayerNorm, Linear};
use image::RgbImage;
use serde_json::Value;

use crate::error::{Error, Result, TensorContext};
use crate::preprocess::{Pipeline, Preprocess};
use crate::transformer::{linear3, Act, Encoder, EncoderShape, Loader};
use crate::weights::Weights;
use crate::ImageEmbedder;

const IMAGE_BATCH: usize = 16;

/// A loaded SigLIP image encoder.
#[derive(Debug)]
pub struct SiglipVision {
    id: String,
    hidden: usize,
    heads: usize,
    patch: Conv2d,
    positions: Tensor,
    encoder: Encoder,
    post_norm: LayerNorm,
    probe: Tensor,
    head_q: Linear,
    head_kv: Linear,
    head_out: Linear,
    head_norm: LayerNorm,
    head_fc1: Linear,
    head_fc2: Linear,
    act: Act,
    preprocess: Preprocess,
    device: Device,
}

impl SiglipVision {
    /// Load the image tower from a HF-layout directory (`model_type` `siglip` or
    /// `siglip_vision_model`).
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let config_path = dir.join("config.json");
        let text = std::fs::read_to_string(&config_path).map_err(|source| Error::Io {
            path: config_path.clone(),
            source,
        })?;
        let root: Value = serde_json::from_str(&text).map_err(|e| Error::Config {
            path: config_path.clone(),
            key: String::new(),
            message: e.to_string(),
        })?;
        let (v, prefix, section) = match root.get("model_type").and_then(Value::as_str) {
            Some("siglip") => (
                root.get("vision_config").cloned().unwrap_or(Value::Null),
                "vision_model",
                "vision_config.",
            ),
            Some("siglip_vision_model") => (root.clone(), "vision_model", ""),
            other => {
                return Err(Error::UnsupportedArchitecture {
                    path: config_path,
                    architecture: other.unwrap_or("<no model_type>").to_string(),
                    supported: "siglip, siglip_vision_model".into(),
                })
            }
        };
        let num = |key: &str, default: usize| -> Result<usize> {
            match v.get(key) {
                None | Some(Value::Null) => Ok(default),
                Some(x) => x.as_u64().map(|n| n as usize).ok_or_else(|| Error::Config {
                    path: config_path.clone(),
                    key: format!("{section}{key}"),
                    message: format!("expected a non-negative integer, got {x}"),
                }),
            }
        };
        let d = num("hidden_size", 768)?;
        let ff = num("intermediate_size", 3072)?;
        let layers = num("num_hidden_layers", 12)?;
        let heads = num("num_attention_heads", 12)?;
        let image_size = num("image_size", 224)?;
        let p = num("patch_size", 16)?;
        let eps = v
            .get("layer_norm_eps")
            .and_then(Value::as_f64)
            .unwrap_or(1e-6);
        let act_name = v
            .get("hidden_act")
            .and_then(Value::as_str)
            .unwrap_or("gelu_pytorch_tanh");
        let act = Act::parse(act_name).ok_or_else(|| Error::Config {
            path: config_path.clone(),
            key: format!("{section}hidden_act"),
            message: format!("activation `{act_name}` is not supported"),
        })?;
        if v.get("vision_use_head").and_then(Value::as_bool) == Some(false) {
            return Err(Error::Config {
                path: config_path,
                key: format!("{section}vision_use_head"),
                message: "towers without the attention-pooling head are not supported".into(),
            });
        }
        if heads == 0 || d % heads != 0 || p == 0 || image_size % p != 0 {
            return Err(Error::Config {
                path: config_path,
                key: format!("{section}num_attention_heads"),
                message: "heads must divide hidden_size and patch_size must divide image_size"
                    .into(),
            });
        }
        let weights = Weights::load(&dir.join("model.safetensors"), device)?;
        let l = Loader {
            w: &weights,
            device,
        };
        let pre = |s: &str| format!("{prefix}.{s}");
        let grid = image_size / p;
        let patch = Conv2d::new(
            l.t(&pre("embeddings.patch_embedding.weight"), &[d, 3, p, p])?,
            Some(l.t(&pre("embeddings.patch_embedding.bias"), &[d])?),
            Conv2dConfig {
                stride: p,
                ..Default::default()
            },
        );
        let positions = l.t(
            &pre("embeddings.position_embedding.weight"),
            &[grid * grid, d],
        )?;
        let encoder = Encoder::load_clip(
            &l,
            &pre("encoder.layers"),
            &EncoderShape {
                layers,
                d,
                ff,
                heads,
                eps,
                act,
            },
        )?;
        let post_norm = l.norm(&pre("post_layernorm"), d, eps)?;
        let probe = l.t(&pre("head.probe"), &[1, 1, d])?;
        let in_w = l.t(&pre("head.attention.in_proj_weight"), &[3 * d, d])?;
        let in_b = l.t(&pre("head.attention.in_proj_bias"), &[3 * d])?;
        let split = |t: &Tensor, a: usize, n: usize| t.narrow(0, a, n).op("split in_proj");
        let head_q = Linear::new(split(&in_w, 0, d)?, Some(split(&in_b, 0, d)?));
        let head_kv = Linear::new(split(&in_w, d, 2 * d)?, Some(split(&in_b, d, 2 * d)?));
        let head_out = l.linear(&pre("head.attention.out_proj"), d, d)?;
        let head_norm = l.norm(&pre("head.layernorm"), d, eps)?;
        let head_fc1 = l.linear(&pre("head.mlp.fc1"), d, ff)?;
        let head_fc2 = l.linear(&pre("head.mlp.fc2"), ff, d)?;
        let preprocess = Preprocess {
            pipeline: Pipeline::Hf,
            shortest_edge: image_size as u32,
            crop_height: image_size as u32,
            crop_width: image_size as u32,
            mean: [0.5; 3],
            std: [0.5; 3],
            squash: true,
        };
        let id = format!(
            "siglip-vision:{}@{}",
            dir.file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            &weights.sha256()[..16]
        );
        Ok(SiglipVision {
            id,
            hidden: d,
            heads,
            patch,
            positions,
            encoder,
            post_norm,
            probe,
            head_q,
            head_kv,
            head_out,
            head_norm,
            head_fc1,
            head_fc2,
            act,
            preprocess,
            device: device.clone(),
        })
    }

    /// Pooled embeddings of preprocessed pixels (`n` CHW images at the model resolution).
    pub fn encode_pixels(&self, pixels: &[f32], n: usize) -> Result<Vec<Vec<f32>>> {
        let s = self.preprocess.crop_height as usize;
        if pixels.len() != n * 3 * s * s {
            return Err(Error::Invalid(format!(
                "pixel buffer has {} values, expected {n}x3x{s}x{s}",
                pixels.len()
            )));
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        let x = Tensor::from_slice(pixels, (n, 3, s, s), &self.device).op("pixels")?;
        self.forward(&x)
            .and_then(|t| t.to_vec2::<f32>())
            .op("siglip forward")
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let n = x.dim(0)?;
        let d = self.hidden;
        let h = self
            .patch
            .forward(x)?
            .flatten_from(2)?
            .transpose(1, 2)?
            .broadcast_add(&self.positions)?;
        let h = self.encoder.forward(&h, None)?.apply(&self.post_norm)?;
        // Attention pooling: one learned query over all patch tokens.
        let t = h.dim(1)?;
        let hd = d / self.heads;
        let q = linear3(&self.probe, &self.head_q)?
            .reshape((1, 1, self.heads, hd))?
            .transpose(1, 2)?
            .broadcast_as((n, self.heads, 1, hd))?
            .contiguous()?;
        let kv = linear3(&h, &self.head_kv)?
            .reshape((n, t, 2, self.heads, hd))?
            .permute((2, 0, 3, 1, 4))?;
        let k = kv.get(0)?.contiguous()?;
        let v = kv.get(1)?.contiguous()?;
        let att =
            candle_nn::ops::softmax_last_dim(&(q.matmul(&k.t()?)? * (hd as f64).powf(-0.5))?)?;
        let o = att.matmul(&v)?.transpose(1, 2)?.reshape((n, 1, d))?;
        let o = linear3(&o, &self.head_out)?;
        let y = self.head_norm.forward(&o)?;
        let y = linear3(
            &self.act.apply(&linear3(&y, &self.head_fc1)?)?,
            &self.head_fc2,
        )?;
        (o + y)?.squeeze(1)
    }
}

impl ImageEmbedder for SiglipVision {
    fn id(&self) -> &str {
        &self.id
    }

    fn preprocess(&self) -> &Preprocess {
        &self.preprocess
    }

    fn embed_dim(&self) -> usize {
        self.hidden
    }

    fn encode_images(&self, images: &[RgbImage]) -> Result<Vec<Vec<f32>>> {
        self.preprocess
            .encode_batched(images, IMAGE_BATCH, |pixels, n| {
                self.encode_pixels(pixels, n)
            })
    }
}
