//! `open_clip_config.json`: the sizes of an open_clip / OpenAI CLIP (`model_cfg` with
//! `vision_cfg` and `text_cfg`), serde-parsed with open_clip's defaults and validated.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::vit::VitCfg;
use crate::config;
use crate::error::{Error, Result};

/// Sizes of an open_clip / OpenAI CLIP (open_clip's `model_cfg`): a ResNet image tower, or a ViT
/// one when [`vit`](Self::vit) is set.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenClipConfig {
    /// Shared embedding width (`embed_dim`).
    pub embed_dim: usize,
    /// `quick_gelu` in the text tower (OpenAI weights need `true`; open_clip's default is `false`).
    pub quick_gelu: bool,
    /// Input resolution (square).
    pub image_size: usize,
    /// Bottleneck blocks per stage.
    pub layers: [usize; 4],
    /// Stem width (`width`); the last stage has `32 * width` channels.
    pub width: usize,
    /// Attention-pool head width (`head_width`, default 64).
    pub head_width: usize,
    /// Text context length.
    pub context_length: usize,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Text width.
    pub text_width: usize,
    /// Text heads.
    pub text_heads: usize,
    /// Text layers.
    pub text_layers: usize,
    /// Text MLP ratio (default 4).
    pub mlp_ratio: f64,
    /// An open_clip ViT image tower instead of the ResNet (then `layers`, `width`, `head_width`
    /// are unused).
    pub vit: Option<VitCfg>,
}

impl OpenClipConfig {
    fn named(
        embed_dim: usize,
        image_size: usize,
        layers: [usize; 4],
        width: usize,
        text_width: usize,
        text_heads: usize,
    ) -> Self {
        OpenClipConfig {
            embed_dim,
            quick_gelu: true,
            image_size,
            layers,
            width,
            head_width: 64,
            context_length: 77,
            vocab_size: 49408,
            text_width,
            text_heads,
            text_layers: 12,
            mlp_ratio: 4.0,
            vit: None,
        }
    }

    /// The OpenAI models by their open_clip names (`RN50`, `RN101`, `RN50x4`, `RN50x16`,
    /// `RN50x64`, case-insensitive, `-quickgelu` suffix accepted), with `quick_gelu` on as the
    /// OpenAI weights need.
    pub fn builtin(name: &str) -> Option<Self> {
        let n = name.to_ascii_lowercase();
        let n = n.strip_suffix("-quickgelu").unwrap_or(&n);
        Some(match n {
            "rn50" => Self::named(1024, 224, [3, 4, 6, 3], 64, 512, 8),
            "rn101" => Self::named(512, 224, [3, 4, 23, 3], 64, 512, 8),
            "rn50x4" => Self::named(640, 288, [4, 6, 10, 6], 80, 640, 10),
            "rn50x16" => Self::named(768, 384, [6, 8, 18, 8], 96, 768, 12),
            "rn50x64" => Self::named(1024, 448, [3, 15, 36, 10], 128, 1024, 16),
            _ => return None,
        })
    }

    /// Parse an `open_clip_config.json` (`{"model_cfg": {...}}` or a bare model config) and
    /// [validate](Self::validate) it.
    pub fn from_file(path: &Path) -> Result<Self> {
        Self::from_value(path, &config::read_json(path)?)
    }

    /// Parse an already-read open_clip config and [validate](Self::validate) it; `path` is only
    /// used in errors. Keys are named `model_cfg.…` in errors whether or not the file nests the
    /// model config under `model_cfg`.
    pub fn from_value(path: &Path, root: &Value) -> Result<Self> {
        let cfg = root.get("model_cfg").unwrap_or(root);
        let file: OpenClipModelCfg = config::section(path, "model_cfg", cfg)?;
        let vision = cfg.get("vision_cfg").unwrap_or(&Value::Null);
        let (vit, resnet) = match vision.get("layers") {
            Some(Value::Number(_)) => {
                let v = VitCfg::from_value(path, vision)?;
                // The ResNet-only fields repeat the ViT's sizes (they are unused).
                let sizes = ResnetVisionCfg {
                    layers: [0; 4],
                    image_size: v.image_size,
                    width: v.width,
                    head_width: v.head_width,
                };
                (Some(v), sizes)
            }
            Some(Value::Array(a)) if a.len() == 4 => {
                (None, config::section(path, "model_cfg.vision_cfg", vision)?)
            }
            Some(v) if !v.is_null() => {
                return Err(Error::UnsupportedArchitecture {
                    path: path.to_path_buf(),
                    architecture: format!("open_clip vision_cfg with layers = {v}"),
                    supported: "ResNet CLIP (vision_cfg.layers = [a, b, c, d])".into(),
                })
            }
            _ => {
                return Err(config::invalid(
                    path,
                    "model_cfg.vision_cfg.layers",
                    "missing",
                ))
            }
        };
        let t = file.text_cfg;
        let c = OpenClipConfig {
            embed_dim: file.embed_dim,
            quick_gelu: file.quick_gelu,
            image_size: resnet.image_size,
            layers: resnet.layers,
            width: resnet.width,
            head_width: resnet.head_width,
            context_length: t.context_length,
            vocab_size: t.vocab_size,
            text_width: t.width,
            text_heads: t.heads,
            text_layers: t.layers,
            mlp_ratio: t.mlp_ratio,
            vit,
        };
        c.validate(path)?;
        Ok(c)
    }

    /// Refuse sizes no open_clip model can have, naming the key of the file at `path`: text heads
    /// that are zero or do not divide the text width, zero context, vocabulary or embedding sizes,
    /// a non-positive MLP ratio; for a ResNet tower an odd stem width, a head width that does not
    /// divide `32 * width`, an image size that is not a multiple of 32 (a ViT tower is checked by
    /// [`VitCfg::validate`]).
    pub fn validate(&self, path: &Path) -> Result<()> {
        config::check_heads(
            path,
            "model_cfg.text_cfg.heads",
            self.text_heads,
            "text_cfg.width",
            self.text_width,
        )?;
        config::check_positive(
            path,
            "model_cfg.text_cfg.context_length",
            self.context_length,
        )?;
        config::check_positive(path, "model_cfg.text_cfg.vocab_size", self.vocab_size)?;
        config::check_positive(path, "model_cfg.embed_dim", self.embed_dim)?;
        if !(self.mlp_ratio > 0.0 && self.mlp_ratio.is_finite()) {
            return Err(config::invalid(
                path,
                "model_cfg.text_cfg.mlp_ratio",
                "must be a positive number",
            ));
        }
        if let Some(vit) = &self.vit {
            return vit.validate(path);
        }
        let bad = |key: &str, message: &str| Err(config::invalid(path, key, message));
        if self.width < 2 || !self.width.is_multiple_of(2) {
            return bad("model_cfg.vision_cfg.width", "must be an even number >= 2");
        }
        let Some(embed) = self.width.checked_mul(32) else {
            return bad("model_cfg.vision_cfg.width", "is too large");
        };
        if self.head_width == 0 || !embed.is_multiple_of(self.head_width) {
            return bad("model_cfg.vision_cfg.head_width", "must divide 32 * width");
        }
        if self.image_size < 32 || !self.image_size.is_multiple_of(32) {
            return bad(
                "model_cfg.vision_cfg.image_size",
                "must be a multiple of 32",
            );
        }
        config::check_patch(
            path,
            "model_cfg.vision_cfg.image_size",
            32,
            "model_cfg.vision_cfg.image_size",
            self.image_size,
        )?;
        Ok(())
    }
}

/// The keys of an open_clip `model_cfg` read here (open_clip's defaults where it has them).
#[derive(Debug, Deserialize)]
struct OpenClipModelCfg {
    /// Required: open_clip has no default either.
    embed_dim: usize,
    #[serde(default)]
    quick_gelu: bool,
    #[serde(default)]
    text_cfg: OpenClipTextCfg,
}

/// `model_cfg.text_cfg` (open_clip's `CLIPTextCfg` defaults).
#[derive(Debug, Deserialize)]
#[serde(default)]
struct OpenClipTextCfg {
    context_length: usize,
    vocab_size: usize,
    width: usize,
    heads: usize,
    layers: usize,
    mlp_ratio: f64,
}

impl Default for OpenClipTextCfg {
    fn default() -> Self {
        OpenClipTextCfg {
            context_length: 77,
            vocab_size: 49408,
            width: 512,
            heads: 8,
            layers: 12,
            mlp_ratio: 4.0,
        }
    }
}

/// `model_cfg.vision_cfg` of a ResNet tower (`layers` is a list of four block counts).
#[derive(Debug, Deserialize)]
#[serde(default)]
struct ResnetVisionCfg {
    layers: [usize; 4],
    image_size: usize,
    width: usize,
    head_width: usize,
}

impl Default for ResnetVisionCfg {
    fn default() -> Self {
        ResnetVisionCfg {
            layers: [0; 4],
            image_size: 224,
            width: 64,
            head_width: 64,
        }
    }
}
