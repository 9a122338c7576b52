//! The ViT image tower of open_clip / OpenAI state dicts (`visual.conv1`, `visual.class_embedding`,
//! `visual.positional_embedding`, `visual.ln_pre`, `visual.transformer.resblocks.N...`,
//! `visual.ln_post`, `visual.proj`), as in `laion/CLIP-ViT-B-32-laion2B-s34B-b79K`: patch
//! convolution without bias, class token, learned positions, pre-norm, pre-norm blocks,
//! class-token pooling, post-norm, `@ proj`. Shares the text tower with
//! [`crate::open_clip`]'s ResNet models.

use std::path::Path;

use candle_core::Tensor;
use candle_nn::{Conv2d, Conv2dConfig, LayerNorm, Linear};
use serde::Deserialize;
use serde_json::Value;

use crate::config;
use crate::error::{Error, Result, TensorContext};
use crate::transformer::{conv, Act, Encoder, EncoderShape, Loader};

/// Sizes of an open_clip ViT image tower (`vision_cfg` with an integer `layers`), with
/// open_clip's `CLIPVisionCfg` defaults for absent keys.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
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

impl Default for VitCfg {
    fn default() -> Self {
        VitCfg {
            image_size: 224,
            patch_size: 16,
            width: 768,
            layers: 12,
            head_width: 64,
            mlp_ratio: 4.0,
        }
    }
}

/// open_clip ViT options this crate does not implement; any of them set is refused.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct VitVariants {
    attentional_pool: bool,
    no_ln_pre: bool,
    final_ln_after_pool: bool,
    pool_type: Option<String>,
}

/// Where a ViT tower's keys live in `open_clip_config.json`.
const SECTION: &str = "model_cfg.vision_cfg";

impl VitCfg {
    /// Parse `vision_cfg` and [validate](Self::validate) it; `path` is only used in errors.
    pub fn from_value(path: &Path, v: &Value) -> Result<Self> {
        let variants: VitVariants = config::section(path, SECTION, v)?;
        for (name, on) in [
            ("attentional_pool", variants.attentional_pool),
            ("no_ln_pre", variants.no_ln_pre),
            ("final_ln_after_pool", variants.final_ln_after_pool),
        ] {
            if on {
                return Err(Error::UnsupportedArchitecture {
                    path: path.to_path_buf(),
                    architecture: format!("open_clip ViT with {name} = true"),
                    supported: "class-token pooling with ln_pre (open_clip's default)".into(),
                });
            }
        }
        if let Some(p) = variants.pool_type.filter(|p| p != "tok") {
            return Err(Error::UnsupportedArchitecture {
                path: path.to_path_buf(),
                architecture: format!("open_clip ViT with pool_type = {p}"),
                supported: "pool_type = tok".into(),
            });
        }
        let c: VitCfg = config::section(path, SECTION, v)?;
        c.validate(path)?;
        Ok(c)
    }

    /// Refuse sizes no ViT tower can have, naming the key of the file at `path`: a patch size
    /// that is zero or does not divide the image size, a head width that is zero or does not
    /// divide the width, a non-positive MLP ratio.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let key = |k: &str| format!("{SECTION}.{k}");
        config::check_patch(
            path,
            &key("patch_size"),
            self.patch_size,
            "image_size",
            self.image_size,
        )?;
        if self.head_width == 0 || !self.width.is_multiple_of(self.head_width) {
            return Err(config::invalid(
                path,
                &key("head_width"),
                format!(
                    "must divide width (got head width {} for width {})",
                    self.head_width, self.width
                ),
            ));
        }
        if !(self.mlp_ratio > 0.0 && self.mlp_ratio.is_finite()) {
            return Err(config::invalid(
                path,
                &key("mlp_ratio"),
                "must be a positive number",
            ));
        }
        Ok(())
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
