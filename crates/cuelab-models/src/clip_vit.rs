//! CLIP with a ViT image tower, loaded from the Hugging Face layout (`config.json` +
//! `model.safetensors` + `tokenizer.json`), as in `openai/clip-vit-base-patch32`.
//!
//! Written against transformers' `modeling_clip.py` (pre-norm blocks, `quick_gelu` or `gelu`,
//! causal text attention, CLS pooling with `post_layernorm` for images, pooling at the first
//! `eos_token_id` — or the legacy arg-max when the config says `eos_token_id: 2` — for texts).
//! The query/key/value projections are fused into one matrix product at load time.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{Conv2d, Conv2dConfig, Linear};
use image::RgbImage;
use serde_json::Value;

use crate::clip_text::{ClipTextShape, ClipTextTower, Pooling};
use crate::dtype::ModelDtype;
use crate::error::{Error, Result, TensorContext};
use crate::preprocess::{Pipeline, Preprocess};
use crate::tokenize::TextTokenizer;
use crate::transformer::{conv, Act, Encoder, EncoderShape, Loader};
use crate::weights::Weights;
use crate::{ImageEmbedder, ImageTextScorer};

/// Images per forward pass inside [`ClipVit::encode_images`].
const IMAGE_BATCH: usize = 32;
/// Texts per forward pass inside [`ClipVit::encode_texts`].
const TEXT_BATCH: usize = 64;

/// The parts of a HF CLIP `config.json` that this crate uses.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipVitConfig {
    /// Text tower width.
    pub text_hidden: usize,
    /// Text MLP width.
    pub text_intermediate: usize,
    /// Text layers.
    pub text_layers: usize,
    /// Text attention heads.
    pub text_heads: usize,
    /// Text positions (context length).
    pub text_positions: usize,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// End-of-text id used for pooling (`2` selects the legacy arg-max pooling).
    pub eos_token_id: Option<u32>,
    /// Vision tower width.
    pub vision_hidden: usize,
    /// Vision MLP width.
    pub vision_intermediate: usize,
    /// Vision layers.
    pub vision_layers: usize,
    /// Vision attention heads.
    pub vision_heads: usize,
    /// Input resolution.
    pub image_size: usize,
    /// Patch size.
    pub patch_size: usize,
    /// Shared embedding width.
    pub projection_dim: usize,
    /// Text feed-forward activation.
    pub text_act: Act,
    /// Vision feed-forward activation.
    pub vision_act: Act,
    /// Text layer-norm epsilon.
    pub text_eps: f64,
    /// Vision layer-norm epsilon.
    pub vision_eps: f64,
}

fn get_usize(path: &Path, root: &Value, section: &str, key: &str, default: usize) -> Result<usize> {
    let sec = if section.is_empty() {
        Some(root)
    } else {
        root.get(section)
    };
    match sec.and_then(|s| s.get(key)) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v.as_u64().map(|x| x as usize).ok_or_else(|| Error::Config {
            path: path.to_path_buf(),
            key: if section.is_empty() {
                key.to_string()
            } else {
                format!("{section}.{key}")
            },
            message: format!("expected a non-negative integer, got {v}"),
        }),
    }
}

fn get_act(path: &Path, root: &Value, section: &str) -> Result<Act> {
    let act = root
        .get(section)
        .and_then(|s| s.get("hidden_act"))
        .and_then(Value::as_str)
        .unwrap_or("quick_gelu");
    Act::parse(act).ok_or_else(|| Error::Config {
        path: path.to_path_buf(),
        key: format!("{section}.hidden_act"),
        message: format!(
            "activation `{act}` is not supported (quick_gelu, gelu, gelu_pytorch_tanh)"
        ),
    })
}

fn get_eps(root: &Value, section: &str) -> f64 {
    root.get(section)
        .and_then(|s| s.get("layer_norm_eps"))
        .and_then(Value::as_f64)
        .unwrap_or(1e-5)
}

impl ClipVitConfig {
    /// Parse a HF CLIP `config.json` (transformers defaults for absent keys).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let root: Value = serde_json::from_str(&text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            key: String::new(),
            message: e.to_string(),
        })?;
        Self::from_value(path, &root)
    }

    /// Parse an already-read config value; `path` is only used in errors.
    pub fn from_value(path: &Path, root: &Value) -> Result<Self> {
        let model_type = root.get("model_type").and_then(Value::as_str).unwrap_or("");
        if model_type != "clip" {
            return Err(Error::UnsupportedArchitecture {
                path: path.to_path_buf(),
                architecture: model_type.to_string(),
                supported: "clip".into(),
            });
        }
        let t = "text_config";
        let v = "vision_config";
        let eos = match root.get(t).and_then(|s| s.get("eos_token_id")) {
            Some(Value::Number(n)) => n.as_u64().map(|x| x as u32),
            _ => None,
        };
        Ok(ClipVitConfig {
            text_hidden: get_usize(path, root, t, "hidden_size", 512)?,
            text_intermediate: get_usize(path, root, t, "intermediate_size", 2048)?,
            text_layers: get_usize(path, root, t, "num_hidden_layers", 12)?,
            text_heads: get_usize(path, root, t, "num_attention_heads", 8)?,
            text_positions: get_usize(path, root, t, "max_position_embeddings", 77)?,
            vocab_size: get_usize(path, root, t, "vocab_size", 49408)?,
            eos_token_id: eos,
            vision_hidden: get_usize(path, root, v, "hidden_size", 768)?,
            vision_intermediate: get_usize(path, root, v, "intermediate_size", 3072)?,
            vision_layers: get_usize(path, root, v, "num_hidden_layers", 12)?,
            vision_heads: get_usize(path, root, v, "num_attention_heads", 12)?,
            image_size: get_usize(path, root, v, "image_size", 224)?,
            patch_size: get_usize(path, root, v, "patch_size", 32)?,
            projection_dim: get_usize(path, root, "", "projection_dim", 512)?,
            text_act: get_act(path, root, t)?,
            vision_act: get_act(path, root, v)?,
            text_eps: get_eps(root, t),
            vision_eps: get_eps(root, v),
        })
    }

    fn check(&self, path: &Path) -> Result<()> {
        let bad = |key: &str, message: &str| {
            Err(Error::Config {
                path: path.to_path_buf(),
                key: key.into(),
                message: message.into(),
            })
        };
        if self.text_heads == 0 || !self.text_hidden.is_multiple_of(self.text_heads) {
            return bad(
                "text_config.num_attention_heads",
                "must divide text_config.hidden_size",
            );
        }
        if self.vision_heads == 0 || !self.vision_hidden.is_multiple_of(self.vision_heads) {
            return bad(
                "vision_config.num_attention_heads",
                "must divide vision_config.hidden_size",
            );
        }
        if self.patch_size == 0 || !self.image_size.is_multiple_of(self.patch_size) {
            return bad(
                "vision_config.patch_size",
                "must divide vision_config.image_size",
            );
        }
        Ok(())
    }
}

/// A loaded CLIP ViT model with its tokenizer and preprocessing.
#[derive(Debug)]
pub struct ClipVit {
    id: String,
    config: ClipVitConfig,
    text: ClipTextTower,
    patch: Conv2d,
    class_embedding: Tensor,
    vision_positions: Tensor,
    pre_norm: candle_nn::LayerNorm,
    vision_encoder: Encoder,
    post_norm: candle_nn::LayerNorm,
    visual_projection: Linear,
    logit_scale: f32,
    tokenizer: TextTokenizer,
    preprocess: Preprocess,
    device: Device,
    dtype: DType,
}

impl ClipVit {
    /// Load from a HF-layout directory in f32. `preprocess` overrides the default (`hf` for this
    /// layout; the crop size always comes from the model's image size).
    pub fn load(dir: &Path, pipeline: Option<Pipeline>, device: &Device) -> Result<Self> {
        Self::load_with_dtype(dir, pipeline, device, ModelDtype::F32)
    }

    /// [`load`](Self::load) with the weights stored and matrix products run in `dtype`; the id
    /// gets the dtype's [suffix](ModelDtype::id_suffix).
    pub fn load_with_dtype(
        dir: &Path,
        pipeline: Option<Pipeline>,
        device: &Device,
        dtype: ModelDtype,
    ) -> Result<Self> {
        let config_path = dir.join("config.json");
        let config = ClipVitConfig::from_file(&config_path)?;
        config.check(&config_path)?;
        let weights = Weights::load(&dir.join("model.safetensors"), device)?;
        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer = TextTokenizer::from_file(&tokenizer_path, config.text_positions)?;
        let tokenizer = match config.eos_token_id {
            Some(eos) if eos != 2 => tokenizer.with_pad_id(eos),
            _ => tokenizer,
        };
        let pipeline = pipeline.unwrap_or(Pipeline::Hf);
        let preprocess = Preprocess::clip(pipeline, config.image_size as u32);
        Self::build(dir, config, weights, tokenizer, preprocess, device, dtype)
    }

    fn build(
        dir: &Path,
        config: ClipVitConfig,
        weights: Weights,
        tokenizer: TextTokenizer,
        preprocess: Preprocess,
        device: &Device,
        dtype: ModelDtype,
    ) -> Result<Self> {
        let c = &config;
        let l = Loader::new(&weights, device, dtype.candle());
        let (dt, dv, p) = (c.text_hidden, c.vision_hidden, c.patch_size);
        let pooling = match c.eos_token_id {
            Some(eos) if eos != 2 => Pooling::FirstEos(eos),
            _ => Pooling::ArgMax,
        };
        let text = ClipTextTower::load_hf(
            &l,
            &ClipTextShape {
                vocab_size: c.vocab_size,
                context: c.text_positions,
                width: dt,
                layers: c.text_layers,
                heads: c.text_heads,
                ff: c.text_intermediate,
                eps: c.text_eps,
                act: c.text_act,
                embed_dim: c.projection_dim,
            },
            pooling,
        )?;
        let patch = l.conv2d(
            "vision_model.embeddings.patch_embedding",
            [dv, 3, p, p],
            false,
            Conv2dConfig {
                stride: p,
                ..Default::default()
            },
        )?;
        let grid = c.image_size / p;
        let class_embedding = l
            .t("vision_model.embeddings.class_embedding", &[dv])?
            .reshape((1, 1, dv))
            .op("class embedding")?;
        let vision_positions = l.t(
            "vision_model.embeddings.position_embedding.weight",
            &[grid * grid + 1, dv],
        )?;
        // transformers spells it `pre_layrnorm`.
        let pre_norm = l.norm("vision_model.pre_layrnorm", dv, c.vision_eps)?;
        let vision_encoder = Encoder::load_clip(
            &l,
            "vision_model.encoder.layers",
            &EncoderShape {
                layers: c.vision_layers,
                d: dv,
                ff: c.vision_intermediate,
                heads: c.vision_heads,
                eps: c.vision_eps,
                act: c.vision_act,
            },
        )?;
        let post_norm = l.norm("vision_model.post_layernorm", dv, c.vision_eps)?;
        let visual_projection = l.linear_no_bias("visual_projection", dv, c.projection_dim)?;
        let logit_scale = if l.has("logit_scale") {
            l.t_f32("logit_scale", &[])?
                .to_scalar::<f32>()
                .op("logit_scale")?
                .exp()
        } else {
            100.0
        };
        let id = format!(
            "clip-vit:{}@{}{}",
            dir.file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            &weights.sha256()[..16],
            dtype.id_suffix()
        );
        Ok(ClipVit {
            id,
            config,
            text,
            patch,
            class_embedding,
            vision_positions,
            pre_norm,
            vision_encoder,
            post_norm,
            visual_projection,
            logit_scale,
            tokenizer,
            preprocess,
            device: device.clone(),
            dtype: dtype.candle(),
        })
    }

    /// The parsed configuration.
    pub fn config(&self) -> &ClipVitConfig {
        &self.config
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// Replace the preprocessing pipeline (crop size stays the model's).
    pub fn set_pipeline(&mut self, pipeline: Pipeline) {
        self.preprocess.pipeline = pipeline;
    }

    /// Image embeddings (projected, not normalised) of already-preprocessed pixels, `n` images of
    /// CHW f32 at the model's resolution.
    pub fn encode_pixels(&self, pixels: &[f32], n: usize) -> Result<Vec<Vec<f32>>> {
        let s = self.config.image_size;
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
        let feats = self.vision_forward(&x).op("vision tower")?;
        feats
            .to_dtype(DType::F32)
            .and_then(|t| t.to_vec2::<f32>())
            .op("image embeddings")
    }

    /// Text embeddings (projected, not normalised) of a padded id batch, pooled at the first
    /// `eos_token_id` (or the arg-max id for legacy configs, `eos_token_id: 2`).
    pub fn encode_ids(&self, ids: &[u32], rows: usize, len: usize) -> Result<Vec<Vec<f32>>> {
        self.text.encode_ids(ids, rows, len)
    }
}

impl ClipVit {
    fn vision_forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let n = x.dim(0)?;
        let d = self.config.vision_hidden;
        let patches = conv(&self.patch, x)?.flatten_from(2)?.transpose(1, 2)?;
        let cls = self.class_embedding.expand((n, 1, d))?;
        let h = Tensor::cat(&[&cls, &patches], 1)?
            .broadcast_add(&self.vision_positions)?
            .apply(&self.pre_norm)?;
        let h = self.vision_encoder.forward(&h, None)?;
        h.narrow(1, 0, 1)?
            .squeeze(1)?
            .apply(&self.post_norm)?
            .apply(&self.visual_projection)
    }
}

impl ImageEmbedder for ClipVit {
    fn id(&self) -> &str {
        &self.id
    }

    fn preprocess(&self) -> &Preprocess {
        &self.preprocess
    }

    fn embed_dim(&self) -> usize {
        self.config.projection_dim
    }

    fn encode_images(&self, images: &[RgbImage]) -> Result<Vec<Vec<f32>>> {
        self.preprocess
            .encode_batched(images, IMAGE_BATCH, |pixels, n| {
                self.encode_pixels(pixels, n)
            })
    }
}

impl ImageTextScorer for ClipVit {
    fn encode_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(TEXT_BATCH) {
            let batch = self.tokenizer.encode_batch(chunk)?;
            out.extend(self.encode_ids(&batch.ids, batch.rows, batch.len)?);
        }
        Ok(out)
    }

    fn logit_scale(&self) -> f32 {
        self.logit_scale
    }
}
