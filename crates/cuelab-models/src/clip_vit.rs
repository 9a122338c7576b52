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
use serde::Deserialize;
use serde_json::Value;

use crate::clip_text::{ClipTextShape, ClipTextTower, Pooling};
use crate::config;
use crate::dtype::ModelDtype;
use crate::error::{Error, Result, TensorContext};
use crate::load::{model_id, LoadOptions};
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

/// `text_config` of a HF CLIP `config.json`, with transformers' `CLIPTextConfig` defaults.
#[derive(Debug, Deserialize)]
#[serde(default)]
struct HfClipText {
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    max_position_embeddings: usize,
    vocab_size: usize,
    /// Any JSON value: only a non-negative integer selects first-eos pooling.
    eos_token_id: Option<Value>,
    hidden_act: String,
    layer_norm_eps: f64,
}

impl Default for HfClipText {
    fn default() -> Self {
        HfClipText {
            hidden_size: 512,
            intermediate_size: 2048,
            num_hidden_layers: 12,
            num_attention_heads: 8,
            max_position_embeddings: 77,
            vocab_size: 49408,
            eos_token_id: None,
            hidden_act: "quick_gelu".into(),
            layer_norm_eps: 1e-5,
        }
    }
}

/// `vision_config` of a HF CLIP `config.json`, with transformers' `CLIPVisionConfig` defaults.
#[derive(Debug, Deserialize)]
#[serde(default)]
struct HfClipVision {
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    image_size: usize,
    patch_size: usize,
    hidden_act: String,
    layer_norm_eps: f64,
}

impl Default for HfClipVision {
    fn default() -> Self {
        HfClipVision {
            hidden_size: 768,
            intermediate_size: 3072,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            image_size: 224,
            patch_size: 32,
            hidden_act: "quick_gelu".into(),
            layer_norm_eps: 1e-5,
        }
    }
}

/// The keys of a HF CLIP `config.json` this crate reads.
#[derive(Debug, Deserialize)]
#[serde(default)]
struct HfClipFile {
    projection_dim: usize,
    text_config: HfClipText,
    vision_config: HfClipVision,
}

impl Default for HfClipFile {
    fn default() -> Self {
        HfClipFile {
            projection_dim: 512,
            text_config: HfClipText::default(),
            vision_config: HfClipVision::default(),
        }
    }
}

impl ClipVitConfig {
    /// Parse a HF CLIP `config.json` (transformers defaults for absent keys) and
    /// [validate](Self::validate) it.
    pub fn from_file(path: &Path) -> Result<Self> {
        Self::from_value(path, &config::read_json(path)?)
    }

    /// Parse an already-read config value and [validate](Self::validate) it; `path` is only
    /// used in errors.
    pub fn from_value(path: &Path, root: &Value) -> Result<Self> {
        let model_type = config::model_type(root).unwrap_or("");
        if model_type != "clip" {
            return Err(Error::UnsupportedArchitecture {
                path: path.to_path_buf(),
                architecture: model_type.to_string(),
                supported: "clip".into(),
            });
        }
        let HfClipFile {
            projection_dim,
            text_config: t,
            vision_config: v,
        } = config::section(path, "", root)?;
        let c = ClipVitConfig {
            text_hidden: t.hidden_size,
            text_intermediate: t.intermediate_size,
            text_layers: t.num_hidden_layers,
            text_heads: t.num_attention_heads,
            text_positions: t.max_position_embeddings,
            vocab_size: t.vocab_size,
            eos_token_id: t.eos_token_id.and_then(|e| e.as_u64()).map(|x| x as u32),
            vision_hidden: v.hidden_size,
            vision_intermediate: v.intermediate_size,
            vision_layers: v.num_hidden_layers,
            vision_heads: v.num_attention_heads,
            image_size: v.image_size,
            patch_size: v.patch_size,
            projection_dim,
            text_act: config::activation(path, "text_config.hidden_act", &t.hidden_act)?,
            vision_act: config::activation(path, "vision_config.hidden_act", &v.hidden_act)?,
            text_eps: t.layer_norm_eps,
            vision_eps: v.layer_norm_eps,
        };
        c.validate(path)?;
        Ok(c)
    }

    /// Refuse sizes no CLIP can have, naming the key of the file at `path`: heads that are zero or
    /// do not divide their tower's width, a patch size that does not divide the image size, and
    /// zero context, vocabulary or projection sizes.
    pub fn validate(&self, path: &Path) -> Result<()> {
        config::check_heads(
            path,
            "text_config.num_attention_heads",
            self.text_heads,
            "text_config.hidden_size",
            self.text_hidden,
        )?;
        config::check_heads(
            path,
            "vision_config.num_attention_heads",
            self.vision_heads,
            "vision_config.hidden_size",
            self.vision_hidden,
        )?;
        config::check_patch(
            path,
            "vision_config.patch_size",
            self.patch_size,
            "vision_config.image_size",
            self.image_size,
        )?;
        config::check_positive(
            path,
            "text_config.max_position_embeddings",
            self.text_positions,
        )?;
        config::check_positive(path, "text_config.vocab_size", self.vocab_size)?;
        config::check_positive(path, "projection_dim", self.projection_dim)
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
    /// Load from a HF-layout directory. `opts.pipeline` overrides the default preprocessing
    /// (`hf` for this layout; the crop size always comes from the model's image size); the id
    /// gets the dtype's [suffix](ModelDtype::id_suffix).
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Self> {
        let (pipeline, device, dtype) = (opts.pipeline, &opts.device, opts.dtype);
        let config_path = dir.join("config.json");
        let config = ClipVitConfig::from_file(&config_path)?;
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
        let id = model_id("clip-vit", dir, &weights, dtype);
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
        self.encode_images_batched(images, IMAGE_BATCH)
    }

    fn encode_images_batched(&self, images: &[RgbImage], batch: usize) -> Result<Vec<Vec<f32>>> {
        self.preprocess
            .encode_batched(images, batch, |pixels, n| self.encode_pixels(pixels, n))
    }

    fn vision_shape(&self) -> Option<crate::VisionShape> {
        let c = &self.config;
        let size = (self.preprocess.crop_height, self.preprocess.crop_width);
        Some(crate::shape::vit(
            size,
            c.patch_size,
            1,
            c.vision_hidden,
            c.vision_intermediate,
            c.vision_heads,
            c.vision_layers,
        ))
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
