//! CLIP in the OpenAI / open_clip state-dict layout, with an `open_clip_config.json`: OpenAI's
//! ResNet models (RN50, RN101, RN50x4, RN50x16, RN50x64, [`resnet`] tower) and open_clip ViTs such
//! as `laion/CLIP-ViT-B-32-laion2B-s34B-b79K` ([`vit`] tower, when the config's
//! `vision_cfg.layers` is a number). Tensor names: `visual.*` for the image tower,
//! `token_embedding`, `positional_embedding`, `transformer.resblocks.N.attn.in_proj_weight`,
//! `ln_final`, `text_projection`, `logit_scale`.
//!
//! The text tower is CLIP's ([`crate::clip_text`]): causal pre-norm transformer, pooled at the
//! arg-max token id (the end-of-text token), then multiplied by `text_projection`. Texts are
//! tokenized with OpenAI's BPE ([`crate::bpe`]).

mod config;
mod resnet;
pub mod vit;

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use image::RgbImage;

use crate::bpe::BpeTokenizer;
use crate::clip_text::{ClipTextShape, ClipTextTower};
use crate::error::{Error, Result, TensorContext};
use crate::load::{model_id, LoadOptions};
use crate::preprocess::{Pipeline, Preprocess};
use crate::transformer::{Act, Loader};
use crate::weights::Weights;
use crate::{ImageEmbedder, ImageTextScorer};

pub use config::OpenClipConfig;
use resnet::ResnetTower;
pub use vit::VitCfg;
use vit::VitTower;

/// Images per forward pass inside [`OpenClip::encode_images`](ImageEmbedder::encode_images).
const IMAGE_BATCH: usize = 16;
/// Texts per forward pass inside [`OpenClip::encode_texts`](ImageTextScorer::encode_texts).
const TEXT_BATCH: usize = 64;

/// The image tower of an open_clip / OpenAI checkpoint.
#[derive(Debug)]
enum Vision {
    Resnet(ResnetTower),
    Vit(VitTower),
}

/// A loaded open_clip / OpenAI-layout CLIP (ResNet image tower, or an open_clip ViT tower when the
/// config's `vision_cfg.layers` is a number) with its BPE tokenizer and preprocessing.
#[derive(Debug)]
pub struct OpenClip {
    id: String,
    config: OpenClipConfig,
    vision: Vision,
    text: ClipTextTower,
    logit_scale: f32,
    tokenizer: BpeTokenizer,
    preprocess: Preprocess,
    device: Device,
    dtype: DType,
}

/// The weights file of an open_clip / OpenAI checkpoint directory, in order of preference.
pub fn find_weights(dir: &Path) -> Result<PathBuf> {
    const NAMES: [&str; 4] = [
        "open_clip_model.safetensors",
        "model.safetensors",
        "open_clip_pytorch_model.bin",
        "pytorch_model.bin",
    ];
    for n in NAMES {
        let p = dir.join(n);
        if p.is_file() {
            return Ok(p);
        }
    }
    // Last resort: one `*.pt` / `*.pth` file (e.g. OpenAI's `RN50.pt`).
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut pts: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("pt" | "pth"))
            })
            .collect();
        pts.sort();
        if pts.len() == 1 {
            return Ok(pts.remove(0));
        }
    }
    Err(Error::ModelNotFound {
        model: format!("weights of {}", dir.display()),
        looked: NAMES.iter().map(|n| dir.join(n)).collect(),
    })
}

impl OpenClip {
    /// Load from a directory with `open_clip_config.json` and weights (see [`find_weights`]).
    /// `opts.pipeline` overrides the default preprocessing (`openai`, as `clip.load()` and
    /// open_clip use for these checkpoints); the id gets the dtype's
    /// [suffix](crate::ModelDtype::id_suffix).
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Self> {
        let config = OpenClipConfig::from_file(&dir.join("open_clip_config.json"))?;
        let weights = Weights::load_any(&find_weights(dir)?, &opts.device)?;
        Self::from_weights(dir, config, weights, opts)
    }

    /// Build from already-loaded weights in the OpenAI / open_clip layout (`dir` names the id and,
    /// with `open_clip_config.json`, errors); `config` is [validated](OpenClipConfig::validate)
    /// first, as it may not come from a file.
    pub fn from_weights(
        dir: &Path,
        config: OpenClipConfig,
        weights: Weights,
        opts: &LoadOptions,
    ) -> Result<Self> {
        config.validate(&dir.join("open_clip_config.json"))?;
        let (device, dtype) = (&opts.device, opts.dtype);
        let c = &config;
        let l = Loader::new(&weights, device, dtype.candle());
        let act = if c.quick_gelu {
            Act::QuickGelu
        } else {
            Act::Gelu
        };
        let vision = match &c.vit {
            Some(v) => Vision::Vit(VitTower::load(&l, v, c.embed_dim, act)?),
            None => Vision::Resnet(ResnetTower::load(&l, c)?),
        };
        let text = ClipTextTower::load_openai(
            &l,
            &ClipTextShape {
                vocab_size: c.vocab_size,
                context: c.context_length,
                width: c.text_width,
                layers: c.text_layers,
                heads: c.text_heads,
                ff: (c.text_width as f64 * c.mlp_ratio) as usize,
                eps: 1e-5,
                act,
                embed_dim: c.embed_dim,
            },
        )?;
        let logit_scale = if l.has("logit_scale") {
            let t = l.t_any_f32("logit_scale")?;
            t.flatten_all()
                .and_then(|t| t.get(0))
                .and_then(|t| t.to_scalar::<f32>())
                .op("logit_scale")?
                .exp()
        } else {
            100.0
        };
        let tokenizer = BpeTokenizer::openai()?.with_context(c.context_length);
        let preprocess = Preprocess::clip(
            opts.pipeline.unwrap_or(Pipeline::Openai),
            c.image_size as u32,
        );
        let kind = if c.vit.is_some() {
            "open-clip-vit"
        } else {
            "clip-rn"
        };
        let id = model_id(kind, dir, &weights, dtype);
        Ok(OpenClip {
            id,
            config,
            vision,
            text,
            logit_scale,
            tokenizer,
            preprocess,
            device: device.clone(),
            dtype: dtype.candle(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OpenClipConfig {
        &self.config
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &BpeTokenizer {
        &self.tokenizer
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
        self.vision_forward(&x)
            .and_then(|t| t.to_dtype(DType::F32))
            .and_then(|t| t.to_vec2::<f32>())
            .op("resnet image tower")
    }

    /// Text embeddings (projected, not normalised) of a zero-padded id batch; pooled at the
    /// arg-max id of each row (the end-of-text token), as OpenAI CLIP does.
    pub fn encode_ids(&self, ids: &[u32], rows: usize, len: usize) -> Result<Vec<Vec<f32>>> {
        self.text.encode_ids(ids, rows, len)
    }

    fn vision_forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match &self.vision {
            Vision::Resnet(r) => r.forward(x),
            Vision::Vit(v) => v.forward(x),
        }
    }
}

impl ImageEmbedder for OpenClip {
    fn id(&self) -> &str {
        &self.id
    }

    fn preprocess(&self) -> &Preprocess {
        &self.preprocess
    }

    fn embed_dim(&self) -> usize {
        self.config.embed_dim
    }

    fn encode_images(&self, images: &[RgbImage]) -> Result<Vec<Vec<f32>>> {
        self.encode_images_batched(images, IMAGE_BATCH)
    }

    fn encode_images_batched(&self, images: &[RgbImage], batch: usize) -> Result<Vec<Vec<f32>>> {
        self.preprocess
            .encode_batched(images, batch, |pixels, n| self.encode_pixels(pixels, n))
    }

    fn vision_shape(&self) -> Option<crate::VisionShape> {
        let size = (self.preprocess.crop_height, self.preprocess.crop_width);
        Some(match &self.config.vit {
            Some(v) => crate::shape::vit(
                size,
                v.patch_size,
                1,
                v.width,
                (v.width as f64 * v.mlp_ratio).round() as usize,
                v.width / v.head_width.max(1),
                v.layers,
            ),
            None => crate::VisionShape::Conv(resnet::conv_steps(&self.config, size)),
        })
    }
}

impl ImageTextScorer for OpenClip {
    fn encode_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(TEXT_BATCH) {
            let batch = self.tokenizer.encode_batch(chunk, true)?;
            out.extend(self.encode_ids(&batch.ids, batch.rows, batch.len)?);
        }
        Ok(out)
    }

    fn logit_scale(&self) -> f32 {
        self.logit_scale
    }
}
