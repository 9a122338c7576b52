//! The ViT image tower of open_clip / OpenAI state dicts (`visual.conv1`, `visual.class_embedding`,
//! `visual.positional_embedding`, `visual.ln_pre`, `visual.transformer.resblocks.N...`,
//! `visual.ln_post`, `visual.proj`), as in `laion/CLIP-ViT-B-32-laion2B-s34B-b79K`: patch
//! convolution without bias, class token, learned positions, pre-norm, pre-norm blocks,
//! class-token pooling, post-norm, `@ proj`. Shares the text tower with
//! [`crate::clip_resnet`].

use std::path::Path;

use candle_core::Tensor;
use candle_nn::{Conv2d, Conv2dConfig, LayerNorm, Linear};
use serde_json::Value;

use crate::error::{Error, Result, TensorContext};
use crate::transformer::{conv, Act, Encoder, EncoderShape, Loader};

/// Sizes of an open_clip ViT image tower (`vision_cfg` with an integer `layers`).
#[derive(Debug, Clone, PartialEq)]
pub struct VitCfg {
    /// Input resolution (square).
    pub image_size: usize,
    /// Patch size.
    pub patch_size: usize,
    /// Width.
    pub width: usize,
    /// Blocks.
    pub layers: usize,
    /// Head width (default 64).
    pub head_width: usize,
    /// MLP ratio (default 4).
    pub mlp_ratio: f64,
}

impl VitCfg {
    /// Parse `vision_cfg`; `path` is only used in errors.
    pub fn from_value(path: &Path, v: &Value) -> Result<Self> {
        let int = |key: &str, default: Option<usize>| match v.get(key) {
            None | Some(Value::Null) => default.ok_or_else(|| Error::Config {
                path: path.to_path_buf(),
                key: format!("model_cfg.vision_cfg.{key}"),
                message: "missing".into(),
            }),
            Some(x) => x.as_u64().map(|x| x as usize).ok_or_else(|| Error::Config {
                path: path.to_path_buf(),
                key: format!("model_cfg.vision_cfg.{key}"),
                message: format!("expected a non-negative integer, got {x}"),
            }),
        };
        for unsupported in ["attentional_pool", "no_ln_pre", "final_ln_after_pool"] {
            if v.get(unsupported).and_then(Value::as_bool) == Some(true) {
                return Err(Error::UnsupportedArchitecture {
                    path: path.to_path_buf(),
                    architecture: format!("open_clip ViT with {unsupported} = true"),
                    supported: "class-token pooling with ln_pre (open_clip's default)".into(),
                });
            }
        }
        if let Some(p) = v.get("pool_type").and_then(Value::as_str) {
            if p != "tok" {
                return Err(Error::UnsupportedArchitecture {
                    path: path.to_path_buf(),
                    architecture: format!("open_clip ViT with pool_type = {p}"),
                    supported: "pool_type = tok".into(),
                });
            }
        }
        let c = VitCfg {
            image_size: int("image_size", Some(224))?,
            patch_size: int("patch_size", Some(16))?,
            width: int("width", Some(768))?,
            layers: int("layers", Some(12))?,
            head_width: int("head_width", Some(64))?,
            mlp_ratio: v.get("mlp_ratio").and_then(Value::as_f64).unwrap_or(4.0),
        };
        let bad = |key: &str, message: &str| Error::Config {
            path: path.to_path_buf(),
            key: format!("model_cfg.vision_cfg.{key}"),
            message: message.into(),
        };
        if c.patch_size == 0 || !c.image_size.is_multiple_of(c.patch_size) {
            return Err(bad("patch_size", "must divide image_size"));
        }
        if c.head_width == 0 || !c.width.is_multiple_of(c.head_width) {
            return Err(bad("head_width", "must divide width"));
        }
        Ok(c)
    }
}

/// A loaded open_clip ViT image tower.
#[derive(Debug)]
pub(crate) struct VitTower {
    patch: Conv2d,
    class_embedding: Tensor,
    positions: Tensor,
    ln_pre: LayerNorm,
    encoder: Encoder,
    ln_post: LayerNorm,
    proj: Linear,
    width: usize,
}

impl VitTower {
    pub(crate) fn load(l: &Loader, c: &VitCfg, embed_dim: usize, act: Act) -> Result<Self> {
        let (w, p) = (c.width, c.patch_size);
        let grid = c.image_size / p;
        let patch = l.conv2d(
            "visual.conv1",
            [w, 3, p, p],
            false,
            Conv2dConfig {
                stride: p,
                ..Default::default()
            },
        )?;
        let class_embedding = l
            .t("visual.class_embedding", &[w])?
            .reshape((1, 1, w))
            .op("class embedding")?;
        let positions = l.t("visual.positional_embedding", &[grid * grid + 1, w])?;
        let encoder = Encoder::load_openai(
            l,
            "visual.transformer.resblocks",
            &EncoderShape {
                layers: c.layers,
                d: w,
                ff: (w as f64 * c.mlp_ratio) as usize,
                heads: w / c.head_width,
                eps: 1e-5,
                act,
            },
        )?;
        // stored as (in, out) for `x @ P`: its transpose is the linear weight, already in the
        // layout `gemm_linear` makes
        let proj = l.t("visual.proj", &[w, embed_dim])?.t().op("visual.proj")?;
        Ok(VitTower {
            patch,
            class_embedding,
            positions,
            ln_pre: l.norm("visual.ln_pre", w, 1e-5)?,
            encoder,
            ln_post: l.norm("visual.ln_post", w, 1e-5)?,
            proj: Linear::new(proj, None),
            width: w,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let n = x.dim(0)?;
        let patches = conv(&self.patch, x)?.flatten_from(2)?.transpose(1, 2)?;
        let cls = self.class_embedding.expand((n, 1, self.width))?;
        let h = Tensor::cat(&[&cls, &patches], 1)?
            .broadcast_add(&self.positions)?
            .apply(&self.ln_pre)?;
        let h = self.encoder.forward(&h, None)?;
        h.narrow(1, 0, 1)?
            .squeeze(1)?
            .apply(&self.ln_post)?
            .apply(&self.proj)
    }
}
