//! SigLIP (Hugging Face `SiglipModel` / `SiglipVisionModel` layout).
//!
//! * [`SiglipVision`] — the image tower alone: the embedding is the attention-pooling head's output
//!   (`pooler_output`, what `get_image_features` returns). Works on vision-only checkpoints.
//! * [`SiglipText`] — the text tower (`SiglipTextModel`): pooled at the last position, then `head`.
//! * [`Siglip`] — both towers with the tokenizer ([`crate::siglip_tokenizer`]) as an
//!   [`ImageTextScorer`]: logits `exp(logit_scale) * cos + logit_bias`, sigmoid probabilities.
//!
//! Preprocessing is `SiglipImageProcessor` (torchvision backend): resize straight to the model
//! resolution ignoring the aspect ratio with the uint8 antialiased bicubic kernel, no crop,
//! mean = std = 0.5.

use std::path::Path;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Conv2d, Conv2dConfig, Embedding, LayerNorm, Linear};
use image::RgbImage;
use serde::Deserialize;
use serde_json::Value;

use crate::config;
use crate::dtype::ModelDtype;
use crate::error::{Error, Result, TensorContext};
use crate::load::{model_id, LoadOptions};
use crate::preprocess::{Pipeline, Preprocess};
use crate::siglip_tokenizer::SiglipTokenizer;
use crate::transformer::{
    conv, gemm_linear, linear3, softmax_f32, Act, Encoder, EncoderShape, Loader,
};
use crate::weights::Weights;
use crate::{ImageEmbedder, ImageTextScorer};

const IMAGE_BATCH: usize = 16;

/// The parts of a SigLIP vision config this crate uses: `vision_config` of a `siglip`
/// `config.json`, or the whole file of a `siglip_vision_model` (transformers defaults for absent
/// keys).
#[derive(Debug, Clone, PartialEq)]
pub struct SiglipVisionConfig {
    /// Width.
    pub hidden: usize,
    /// MLP width (also the attention-pooling head's).
    pub intermediate: usize,
    /// Layers.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Input resolution (square).
    pub image_size: usize,
    /// Patch size.
    pub patch_size: usize,
    /// Layer-norm epsilon.
    pub eps: f64,
    /// Feed-forward activation.
    pub act: Act,
    /// Where the keys live in the file (`vision_config.` or empty), for errors.
    section: &'static str,
}

/// The vision keys of a SigLIP config, with transformers' `SiglipVisionConfig` defaults.
#[derive(Debug, Deserialize)]
#[serde(default)]
struct HfSiglipVision {
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    image_size: usize,
    patch_size: usize,
    layer_norm_eps: f64,
    hidden_act: String,
    vision_use_head: Option<bool>,
}

impl Default for HfSiglipVision {
    fn default() -> Self {
        HfSiglipVision {
            hidden_size: 768,
            intermediate_size: 3072,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            image_size: 224,
            patch_size: 16,
            layer_norm_eps: 1e-6,
            hidden_act: "gelu_pytorch_tanh".into(),
            vision_use_head: None,
        }
    }
}

impl SiglipVisionConfig {
    /// Parse the vision part of a `siglip` or `siglip_vision_model` `config.json` and
    /// [validate](Self::validate) it; `path` is only used in errors.
    pub fn from_value(path: &Path, root: &Value) -> Result<Self> {
        let (value, section) = match config::model_type(root) {
            Some("siglip") => (
                root.get("vision_config").unwrap_or(&Value::Null),
                "vision_config.",
            ),
            Some("siglip_vision_model") => (root, ""),
            other => {
                return Err(Error::UnsupportedArchitecture {
                    path: path.to_path_buf(),
                    architecture: other.unwrap_or("<no model_type>").to_string(),
                    supported: "siglip, siglip_vision_model".into(),
                })
            }
        };
        let v: HfSiglipVision = config::section(path, section.trim_end_matches('.'), value)?;
        let act_key = format!("{section}hidden_act");
        let act = Act::parse(&v.hidden_act).ok_or_else(|| {
            config::invalid(
                path,
                &act_key,
                format!("activation `{}` is not supported", v.hidden_act),
            )
        })?;
        if v.vision_use_head == Some(false) {
            return Err(config::invalid(
                path,
                &format!("{section}vision_use_head"),
                "towers without the attention-pooling head are not supported",
            ));
        }
        let c = SiglipVisionConfig {
            hidden: v.hidden_size,
            intermediate: v.intermediate_size,
            layers: v.num_hidden_layers,
            heads: v.num_attention_heads,
            image_size: v.image_size,
            patch_size: v.patch_size,
            eps: v.layer_norm_eps,
            act,
            section,
        };
        c.validate(path)?;
        Ok(c)
    }

    /// Refuse sizes no SigLIP image tower can have, naming the key of the file at `path`: heads
    /// that are zero or do not divide the width, a patch size that is zero or does not divide the
    /// image size.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let s = self.section;
        config::check_heads(
            path,
            &format!("{s}num_attention_heads"),
            self.heads,
            &format!("{s}hidden_size"),
            self.hidden,
        )?;
        config::check_patch(
            path,
            &format!("{s}patch_size"),
            self.patch_size,
            &format!("{s}image_size"),
            self.image_size,
        )
    }
}

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
    /// Activation sizes per image (patch tokens, width, MLP width, heads, layers).
    shape: crate::VisionShape,
    device: Device,
    dtype: DType,
}

impl SiglipVision {
    /// Load the image tower from a HF-layout directory (`model_type` `siglip` or
    /// `siglip_vision_model`) on `opts.device` in `opts.dtype` (the id gets the dtype's
    /// [suffix](ModelDtype::id_suffix)). The preprocessing is always `SiglipImageProcessor`'s;
    /// `opts.pipeline` is not used.
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Self> {
        let (device, dtype) = (&opts.device, opts.dtype);
        let config_path = dir.join("config.json");
        let config =
            SiglipVisionConfig::from_value(&config_path, &config::read_json(&config_path)?)?;
        let weights = Weights::load(&dir.join("model.safetensors"), device)?;
        Self::from_weights(dir, &config, &weights, device, dtype)
    }

    /// Build the tower from already-loaded weights.
    fn from_weights(
        dir: &Path,
        config: &SiglipVisionConfig,
        weights: &Weights,
        device: &Device,
        dtype: ModelDtype,
    ) -> Result<Self> {
        let SiglipVisionConfig {
            hidden: d,
            intermediate: ff,
            layers,
            heads,
            image_size,
            patch_size: p,
            eps,
            act,
            ..
        } = *config;
        let prefix = "vision_model";
        let l = Loader::new(weights, device, dtype.candle());
        let pre = |s: &str| format!("{prefix}.{s}");
        let grid = image_size / p;
        let patch = l.conv2d(
            &pre("embeddings.patch_embedding"),
            [d, 3, p, p],
            true,
            Conv2dConfig {
                stride: p,
                ..Default::default()
            },
        )?;
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
        let head_q = gemm_linear(split(&in_w, 0, d)?, Some(split(&in_b, 0, d)?)).op("head q")?;
        let head_kv =
            gemm_linear(split(&in_w, d, 2 * d)?, Some(split(&in_b, d, 2 * d)?)).op("head kv")?;
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
        let id = model_id("siglip-vision", dir, weights, dtype);
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
            shape: crate::shape::vit(
                (preprocess.crop_height, preprocess.crop_width),
                p,
                0,
                d,
                ff,
                heads,
                layers,
            ),
            preprocess,
            device: device.clone(),
            dtype: dtype.candle(),
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
        let x = Tensor::from_slice(pixels, (n, 3, s, s), &self.device)
            .and_then(|x| x.to_dtype(self.dtype))
            .op("pixels")?;
        self.forward(&x)
            .and_then(|t| t.to_dtype(DType::F32))
            .and_then(|t| t.to_vec2::<f32>())
            .op("siglip forward")
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let n = x.dim(0)?;
        let d = self.hidden;
        let h = conv(&self.patch, x)?
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
        let att = softmax_f32(&(q.matmul(&k.t()?)? * (hd as f64).powf(-0.5))?, None)?;
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
        self.encode_images_batched(images, IMAGE_BATCH)
    }

    fn encode_images_batched(&self, images: &[RgbImage], batch: usize) -> Result<Vec<Vec<f32>>> {
        self.preprocess
            .encode_batched(images, batch, |pixels, n| self.encode_pixels(pixels, n))
    }

    fn vision_shape(&self) -> Option<crate::VisionShape> {
        Some(self.shape.clone())
    }
}

/// The parts of a SigLIP `text_config` this crate uses (transformers defaults for absent keys).
#[derive(Debug, Clone, PartialEq)]
pub struct SiglipTextConfig {
    /// Width.
    pub hidden: usize,
    /// MLP width.
    pub intermediate: usize,
    /// Layers.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Positions (the context length, 64 for the released checkpoints).
    pub positions: usize,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Output width of the `head` projection (defaults to `hidden`).
    pub projection: usize,
    /// Feed-forward activation.
    pub act: Act,
    /// Layer-norm epsilon.
    pub eps: f64,
}

impl SiglipTextConfig {
    /// Parse the `text_config` section of a `siglip` config and [validate](Self::validate) it
    /// (`path` only names errors).
    pub fn from_value(path: &Path, root: &Value) -> Result<Self> {
        let t: HfSiglipText = config::section(
            path,
            "text_config",
            root.get("text_config").unwrap_or(&Value::Null),
        )?;
        let c = SiglipTextConfig {
            hidden: t.hidden_size,
            intermediate: t.intermediate_size,
            layers: t.num_hidden_layers,
            heads: t.num_attention_heads,
            positions: t.max_position_embeddings,
            vocab_size: t.vocab_size,
            projection: t.projection_size.unwrap_or(t.hidden_size),
            act: config::activation(path, "text_config.hidden_act", &t.hidden_act)?,
            eps: t.layer_norm_eps,
        };
        c.validate(path)?;
        Ok(c)
    }

    /// Refuse sizes no SigLIP text tower can have, naming the key of the file at `path`: heads
    /// that are zero or do not divide the width, zero positions, vocabulary or projection sizes.
    pub fn validate(&self, path: &Path) -> Result<()> {
        config::check_heads(
            path,
            "text_config.num_attention_heads",
            self.heads,
            "text_config.hidden_size",
            self.hidden,
        )?;
        config::check_positive(path, "text_config.max_position_embeddings", self.positions)?;
        config::check_positive(path, "text_config.vocab_size", self.vocab_size)?;
        config::check_positive(path, "text_config.projection_size", self.projection)
    }
}

/// `text_config` of a SigLIP `config.json`, with transformers' `SiglipTextConfig` defaults.
#[derive(Debug, Deserialize)]
#[serde(default)]
struct HfSiglipText {
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    max_position_embeddings: usize,
    vocab_size: usize,
    /// Defaults to `hidden_size`.
    projection_size: Option<usize>,
    hidden_act: String,
    layer_norm_eps: f64,
}

impl Default for HfSiglipText {
    fn default() -> Self {
        HfSiglipText {
            hidden_size: 768,
            intermediate_size: 3072,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            max_position_embeddings: 64,
            vocab_size: 32000,
            projection_size: None,
            hidden_act: "gelu_pytorch_tanh".into(),
            layer_norm_eps: 1e-6,
        }
    }
}

/// The SigLIP text tower (transformers `SiglipTextModel`): token + absolute position embeddings,
/// a pre-norm encoder with full (not causal) attention and no mask, the final LayerNorm, the last
/// position's hidden state (always a `</s>` or pad token with max-length padding) through `head`.
#[derive(Debug)]
pub struct SiglipText {
    config: SiglipTextConfig,
    token_embedding: Embedding,
    positions: Tensor,
    encoder: Encoder,
    final_norm: LayerNorm,
    head: Linear,
    device: Device,
}

impl SiglipText {
    fn from_weights(
        config: SiglipTextConfig,
        weights: &Weights,
        device: &Device,
        dtype: ModelDtype,
    ) -> Result<Self> {
        let c = &config;
        let l = Loader::new(weights, device, dtype.candle());
        let d = c.hidden;
        let token_embedding = Embedding::new(
            l.t(
                "text_model.embeddings.token_embedding.weight",
                &[c.vocab_size, d],
            )?,
            d,
        );
        let positions = l.t(
            "text_model.embeddings.position_embedding.weight",
            &[c.positions, d],
        )?;
        let encoder = Encoder::load_clip(
            &l,
            "text_model.encoder.layers",
            &EncoderShape {
                layers: c.layers,
                d,
                ff: c.intermediate,
                heads: c.heads,
                eps: c.eps,
                act: c.act,
            },
        )?;
        let final_norm = l.norm("text_model.final_layer_norm", d, c.eps)?;
        let head = l.linear("text_model.head", d, c.projection)?;
        Ok(SiglipText {
            config,
            token_embedding,
            positions,
            encoder,
            final_norm,
            head,
            device: device.clone(),
        })
    }

    /// The parsed `text_config`.
    pub fn config(&self) -> &SiglipTextConfig {
        &self.config
    }

    /// Text embeddings (`head` output, not normalised) of a `rows x len` id batch; the pooled
    /// position is the last one, so rows should be padded to the full context as SigLIP expects.
    pub fn encode_ids(&self, ids: &[u32], rows: usize, len: usize) -> Result<Vec<Vec<f32>>> {
        if rows == 0 {
            return Ok(Vec::new());
        }
        let c = &self.config;
        if len == 0 || len > c.positions || ids.len() != rows * len {
            return Err(Error::Invalid(format!(
                "token batch {rows}x{len} ({} ids) does not fit the context of {}",
                ids.len(),
                c.positions
            )));
        }
        if let Some(&bad) = ids.iter().find(|&&t| t as usize >= c.vocab_size) {
            return Err(Error::Invalid(format!(
                "token id {bad} is outside the vocabulary of {}",
                c.vocab_size
            )));
        }
        let input = Tensor::from_slice(ids, (rows, len), &self.device).op("token ids")?;
        self.forward(&input, len)
            .and_then(|t| t.to_dtype(DType::F32))
            .and_then(|t| t.to_vec2::<f32>())
            .op("siglip text tower")
    }

    fn forward(&self, ids: &Tensor, len: usize) -> candle_core::Result<Tensor> {
        let pos = self.positions.narrow(0, 0, len)?;
        let h = self.token_embedding.forward(ids)?.broadcast_add(&pos)?;
        let h = self.encoder.forward(&h, None)?;
        let last = h.narrow(1, len - 1, 1)?.squeeze(1)?;
        last.apply(&self.final_norm)?.apply(&self.head)
    }
}

/// SigLIP as an image-text scorer: both towers, the tokenizer, and the learned logit scale and
/// bias. Logits are `exp(logit_scale) * cos + logit_bias` and each image-text pair's probability
/// is the sigmoid of its logit (SigLIP's loss), not a softmax over the candidate texts.
#[derive(Debug)]
pub struct Siglip {
    id: String,
    vision: SiglipVision,
    text: SiglipText,
    tokenizer: SiglipTokenizer,
    logit_scale: f32,
    logit_bias: f32,
}

/// Texts per forward pass inside [`Siglip::encode_texts`](ImageTextScorer::encode_texts).
const TEXT_BATCH: usize = 32;

impl Siglip {
    /// Load a full SigLIP checkpoint (`model_type: "siglip"`, `config.json` + `model.safetensors`
    /// with both towers, and `spiece.model` or `tokenizer.json`).
    ///
    /// Both towers run on `opts.device` in `opts.dtype` (the id gets the dtype's
    /// [suffix](ModelDtype::id_suffix)); `opts.pipeline` is not used.
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Self> {
        let (device, dtype) = (&opts.device, opts.dtype);
        let config_path = dir.join("config.json");
        let root = config::read_json(&config_path)?;
        match config::model_type(&root) {
            Some("siglip") => {}
            other => {
                return Err(Error::UnsupportedArchitecture {
                    path: config_path,
                    architecture: other.unwrap_or("<no model_type>").to_string(),
                    supported: "siglip (image-text scoring needs both towers)".into(),
                })
            }
        }
        let text_config = SiglipTextConfig::from_value(&config_path, &root)?;
        let tokenizer = SiglipTokenizer::load(dir, text_config.positions)?;
        let weights = Weights::load(&dir.join("model.safetensors"), device)?;
        let vision_config = SiglipVisionConfig::from_value(&config_path, &root)?;
        let vision = SiglipVision::from_weights(dir, &vision_config, &weights, device, dtype)?;
        if text_config.projection != vision.hidden {
            return Err(Error::Config {
                path: config_path,
                key: "text_config.projection_size".into(),
                message: format!(
                    "{} differs from the image embedding width {}",
                    text_config.projection, vision.hidden
                ),
            });
        }
        let text = SiglipText::from_weights(text_config, &weights, device, dtype)?;
        let l = Loader::new(&weights, device, dtype.candle());
        let scalar = |name: &str| -> Result<f32> {
            l.t_any_f32(name)?
                .flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .op(name)?
                .first()
                .copied()
                .ok_or_else(|| Error::Weights {
                    path: weights.path().to_path_buf(),
                    tensor: name.to_string(),
                    message: "expected one value".into(),
                })
        };
        let logit_scale = scalar("logit_scale")?.exp();
        let logit_bias = scalar("logit_bias")?;
        let id = model_id("siglip", dir, &weights, dtype);
        Ok(Siglip {
            id,
            vision,
            text,
            tokenizer,
            logit_scale,
            logit_bias,
        })
    }

    /// The image tower.
    pub fn vision(&self) -> &SiglipVision {
        &self.vision
    }

    /// The text tower.
    pub fn text(&self) -> &SiglipText {
        &self.text
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &SiglipTokenizer {
        &self.tokenizer
    }

    /// The learned bias added to scaled cosines.
    pub fn logit_bias(&self) -> f32 {
        self.logit_bias
    }

    /// Logits `images x texts`: `exp(logit_scale) * cos + logit_bias` (transformers'
    /// `logits_per_image`).
    pub fn logits(&self, images: &[RgbImage], texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let sims = self.similarity(images, texts)?;
        Ok(sims
            .iter()
            .map(|row| {
                row.iter()
                    .map(|c| c * self.logit_scale + self.logit_bias)
                    .collect()
            })
            .collect())
    }

    /// SigLIP's per-pair probabilities `images x texts`: the sigmoid of each logit.
    pub fn probabilities(&self, images: &[RgbImage], texts: &[String]) -> Result<Vec<Vec<f32>>> {
        Ok(sigmoid_rows(&self.logits(images, texts)?))
    }
}

/// Element-wise logistic sigmoid of a matrix.
pub fn sigmoid_rows(logits: &[Vec<f32>]) -> Vec<Vec<f32>> {
    logits
        .iter()
        .map(|row| row.iter().map(|x| 1.0 / (1.0 + (-x).exp())).collect())
        .collect()
}

impl ImageEmbedder for Siglip {
    fn id(&self) -> &str {
        &self.id
    }

    fn preprocess(&self) -> &Preprocess {
        self.vision.preprocess()
    }

    fn embed_dim(&self) -> usize {
        self.vision.embed_dim()
    }

    fn encode_images(&self, images: &[RgbImage]) -> Result<Vec<Vec<f32>>> {
        self.vision.encode_images(images)
    }

    fn encode_images_batched(&self, images: &[RgbImage], batch: usize) -> Result<Vec<Vec<f32>>> {
        self.vision.encode_images_batched(images, batch)
    }

    fn vision_shape(&self) -> Option<crate::VisionShape> {
        self.vision.vision_shape()
    }
}

impl ImageTextScorer for Siglip {
    fn encode_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(TEXT_BATCH) {
            let batch = self.tokenizer.encode_batch(chunk)?;
            out.extend(self.text.encode_ids(&batch.ids, batch.rows, batch.len)?);
        }
        Ok(out)
    }

    fn logit_scale(&self) -> f32 {
        self.logit_scale
    }

    fn logit_bias(&self) -> Option<f32> {
        Some(self.logit_bias)
    }
}
