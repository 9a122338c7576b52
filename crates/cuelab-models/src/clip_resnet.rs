//! OpenAI CLIP with a ResNet image tower (RN50, RN101, RN50x4, RN50x16, RN50x64), loaded from the
//! OpenAI / open_clip state-dict layout (`visual.conv1...`, `visual.layerN...`,
//! `visual.attnpool...`, `token_embedding`, `transformer.resblocks.N.attn.in_proj_weight`,
//! `ln_final`, `text_projection`, `logit_scale`) with an `open_clip_config.json`.
//!
//! The image tower ("modified ResNet"):
//! * stem: three 3x3 convolutions (the first with stride 2; widths `w/2`, `w/2`, `w`), each
//!   followed by BatchNorm and ReLU, then a 2x2 average pool;
//! * four stages of bottleneck blocks (`1x1 → 3x3 → 1x1`, expansion 4); a stage with stride 2
//!   downsamples by a 2x2 average pool after the 3x3 convolution (anti-aliased, instead of a strided
//!   convolution), and its shortcut is average pool → 1x1 convolution → BatchNorm;
//! * attention pooling: the spatial mean is prepended to the `h·w` feature vectors, a learned
//!   positional embedding is added, and one multi-head attention query (the mean token) over all
//!   tokens, projected by `c_proj`, is the image embedding.
//!
//! BatchNorm runs in inference mode (running statistics), folded into a per-channel scale and
//! shift at load time. The text tower is CLIP's causal pre-norm transformer, pooled at the
//! arg-max token id (the end-of-text token), then multiplied by `text_projection`.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Conv2d, Conv2dConfig, Linear};
use image::RgbImage;
use serde::Deserialize;
use serde_json::Value;

use crate::bpe::BpeTokenizer;
use crate::clip_text::{ClipTextShape, ClipTextTower};
use crate::config;
use crate::dtype::ModelDtype;
use crate::error::{Error, Result, TensorContext};
use crate::open_clip_vit::{VitCfg, VitTower};
use crate::preprocess::{Pipeline, Preprocess};
use crate::transformer::{linear3, softmax_f32, Act, Loader};
use crate::weights::Weights;
use crate::{ImageEmbedder, ImageTextScorer};

/// Images per forward pass inside [`ClipResnet::encode_images`].
const IMAGE_BATCH: usize = 16;
/// Texts per forward pass inside [`ClipResnet::encode_texts`].
const TEXT_BATCH: usize = 64;
/// BatchNorm epsilon (PyTorch's default, used by every OpenAI ResNet).
const BN_EPS: f64 = 1e-5;

/// Sizes of a ResNet CLIP (open_clip's `model_cfg` with a ResNet `vision_cfg`).
#[derive(Debug, Clone, PartialEq)]
pub struct ClipResnetConfig {
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

impl ClipResnetConfig {
    fn named(
        embed_dim: usize,
        image_size: usize,
        layers: [usize; 4],
        width: usize,
        text_width: usize,
        text_heads: usize,
    ) -> Self {
        ClipResnetConfig {
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
        let c = ClipResnetConfig {
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
        let embed = self.width * 32;
        if self.width < 2 || !self.width.is_multiple_of(2) {
            return bad("model_cfg.vision_cfg.width", "must be an even number >= 2");
        }
        if self.head_width == 0 || !embed.is_multiple_of(self.head_width) {
            return bad("model_cfg.vision_cfg.head_width", "must divide 32 * width");
        }
        if self.image_size < 32 || !self.image_size.is_multiple_of(32) {
            return bad(
                "model_cfg.vision_cfg.image_size",
                "must be a multiple of 32",
            );
        }
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

/// A convolution followed by inference-mode BatchNorm (as a per-channel scale and shift), all in
/// the loader's convolution dtype (f32 for bf16 on the CPU, see `Loader::conv_dtype`); the
/// BatchNorm statistics are folded into the scale and shift in f32.
#[derive(Debug)]
struct ConvBn {
    conv: Conv2d,
    scale: Tensor,
    shift: Tensor,
}

impl ConvBn {
    fn load(l: &Loader, conv: &str, bn: &str, shape: [usize; 4], stride: usize) -> Result<Self> {
        let [o, _, k, _] = shape;
        let conv = l.conv2d(
            conv,
            shape,
            false,
            Conv2dConfig {
                padding: k / 2,
                stride,
                ..Default::default()
            },
        )?;
        let gamma = l.t_f32(&format!("{bn}.weight"), &[o])?;
        let beta = l.t_f32(&format!("{bn}.bias"), &[o])?;
        let mean = l.t_f32(&format!("{bn}.running_mean"), &[o])?;
        let var = l.t_f32(&format!("{bn}.running_var"), &[o])?;
        let scale = (gamma / (var + BN_EPS).and_then(|v| v.sqrt()).op(bn)?).op(bn)?;
        let shift = (beta - (mean * &scale).op(bn)?).op(bn)?;
        let dt = l.conv_dtype();
        Ok(ConvBn {
            conv,
            scale: scale
                .reshape((1, o, 1, 1))
                .and_then(|t| t.to_dtype(dt))
                .op(bn)?,
            shift: shift
                .reshape((1, o, 1, 1))
                .and_then(|t| t.to_dtype(dt))
                .op(bn)?,
        })
    }

    /// Convolve and normalise in the convolution dtype; the result has `x`'s dtype.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let dt = x.dtype();
        self.conv
            .forward(&x.to_dtype(self.conv.weight().dtype())?)?
            .broadcast_mul(&self.scale)?
            .broadcast_add(&self.shift)?
            .to_dtype(dt)
    }
}

/// One bottleneck block.
#[derive(Debug)]
struct Bottleneck {
    c1: ConvBn,
    c2: ConvBn,
    c3: ConvBn,
    stride: usize,
    downsample: Option<ConvBn>,
}

impl Bottleneck {
    fn load(l: &Loader, p: &str, inplanes: usize, planes: usize, stride: usize) -> Result<Self> {
        let out = planes * 4;
        let downsample = if stride > 1 || inplanes != out {
            Some(ConvBn::load(
                l,
                &format!("{p}.downsample.0"),
                &format!("{p}.downsample.1"),
                [out, inplanes, 1, 1],
                1,
            )?)
        } else {
            None
        };
        Ok(Bottleneck {
            c1: ConvBn::load(
                l,
                &format!("{p}.conv1"),
                &format!("{p}.bn1"),
                [planes, inplanes, 1, 1],
                1,
            )?,
            c2: ConvBn::load(
                l,
                &format!("{p}.conv2"),
                &format!("{p}.bn2"),
                [planes, planes, 3, 3],
                1,
            )?,
            c3: ConvBn::load(
                l,
                &format!("{p}.conv3"),
                &format!("{p}.bn3"),
                [out, planes, 1, 1],
                1,
            )?,
            stride,
            downsample,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = self.c1.forward(x)?.relu()?;
        let mut y = self.c2.forward(&y)?.relu()?;
        if self.stride > 1 {
            y = y.avg_pool2d(self.stride)?;
        }
        let y = self.c3.forward(&y)?;
        let identity = match &self.downsample {
            Some(d) => {
                let x = if self.stride > 1 {
                    x.avg_pool2d(self.stride)?
                } else {
                    x.clone()
                };
                d.forward(&x)?
            }
            None => x.clone(),
        };
        (y + identity)?.relu()
    }
}

/// Attention pooling over the final feature map.
#[derive(Debug)]
struct AttnPool {
    positions: Tensor,
    q: Linear,
    k: Linear,
    v: Linear,
    c: Linear,
    heads: usize,
}

impl AttnPool {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (n, c, _, _) = x.dims4()?;
        let tokens = x.flatten_from(2)?.transpose(1, 2)?.contiguous()?; // (n, hw, c)
                                                                        // The spatial mean is taken in f32 (candle sums reduced dtypes in that dtype).
        let mean = tokens
            .to_dtype(DType::F32)?
            .mean_keepdim(1)?
            .to_dtype(tokens.dtype())?;
        let x = Tensor::cat(&[&mean, &tokens], 1)?.broadcast_add(&self.positions)?;
        let t = x.dim(1)?;
        let h = self.heads;
        let hd = c / h;
        let q = linear3(&x.narrow(1, 0, 1)?.contiguous()?, &self.q)?;
        let q =
            (q.reshape((n, 1, h, hd))?.transpose(1, 2)? * (hd as f64).powf(-0.5))?.contiguous()?;
        let k = linear3(&x, &self.k)?
            .reshape((n, t, h, hd))?
            .transpose(1, 2)?
            .contiguous()?;
        let v = linear3(&x, &self.v)?
            .reshape((n, t, h, hd))?
            .transpose(1, 2)?
            .contiguous()?;
        let att = softmax_f32(&q.matmul(&k.t()?)?, None)?;
        let o = att.matmul(&v)?.transpose(1, 2)?.reshape((n, c))?;
        self.c.forward(&o)
    }
}

/// The image tower of an open_clip / OpenAI checkpoint.
#[derive(Debug)]
enum Vision {
    Resnet {
        stem: [ConvBn; 3],
        stages: Vec<Vec<Bottleneck>>,
        attnpool: AttnPool,
    },
    Vit(VitTower),
}

/// A loaded open_clip / OpenAI-layout CLIP (ResNet image tower, or an open_clip ViT tower when the
/// config's `vision_cfg.layers` is a number) with its BPE tokenizer and preprocessing.
#[derive(Debug)]
pub struct ClipResnet {
    id: String,
    config: ClipResnetConfig,
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

impl ClipResnet {
    /// Load from a directory with `open_clip_config.json` and weights (see [`find_weights`]).
    /// `pipeline` overrides the default preprocessing (`openai`, as `clip.load()` and open_clip
    /// use for these checkpoints).
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
        let config = ClipResnetConfig::from_file(&dir.join("open_clip_config.json"))?;
        let weights = Weights::load_any(&find_weights(dir)?, device)?;
        Self::from_weights_with_dtype(dir, config, weights, pipeline, device, dtype)
    }

    /// Build from already-loaded weights in the OpenAI / open_clip layout, in f32.
    pub fn from_weights(
        dir: &Path,
        config: ClipResnetConfig,
        weights: Weights,
        pipeline: Option<Pipeline>,
        device: &Device,
    ) -> Result<Self> {
        Self::from_weights_with_dtype(dir, config, weights, pipeline, device, ModelDtype::F32)
    }

    /// [`from_weights`](Self::from_weights) in `dtype`.
    pub fn from_weights_with_dtype(
        dir: &Path,
        config: ClipResnetConfig,
        weights: Weights,
        pipeline: Option<Pipeline>,
        device: &Device,
        dtype: ModelDtype,
    ) -> Result<Self> {
        let c = &config;
        let l = Loader::new(&weights, device, dtype.candle());
        let act = if c.quick_gelu {
            Act::QuickGelu
        } else {
            Act::Gelu
        };
        let vision = match &c.vit {
            Some(v) => Vision::Vit(VitTower::load(&l, v, c.embed_dim, act)?),
            None => Self::load_resnet(&l, c)?,
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
        let preprocess =
            Preprocess::clip(pipeline.unwrap_or(Pipeline::Openai), c.image_size as u32);
        let id = format!(
            "{}:{}@{}{}",
            if c.vit.is_some() {
                "open-clip-vit"
            } else {
                "clip-rn"
            },
            dir.file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            &weights.sha256()[..16],
            dtype.id_suffix()
        );
        Ok(ClipResnet {
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

    fn load_resnet(l: &Loader, c: &ClipResnetConfig) -> Result<Vision> {
        let w = c.width;
        let stem = [
            ConvBn::load(l, "visual.conv1", "visual.bn1", [w / 2, 3, 3, 3], 2)?,
            ConvBn::load(l, "visual.conv2", "visual.bn2", [w / 2, w / 2, 3, 3], 1)?,
            ConvBn::load(l, "visual.conv3", "visual.bn3", [w, w / 2, 3, 3], 1)?,
        ];
        let mut inplanes = w;
        let mut stages = Vec::with_capacity(4);
        for (s, &blocks) in c.layers.iter().enumerate() {
            let planes = w << s;
            let stride = if s == 0 { 1 } else { 2 };
            let mut stage = Vec::with_capacity(blocks);
            for b in 0..blocks {
                let p = format!("visual.layer{}.{b}", s + 1);
                let st = if b == 0 { stride } else { 1 };
                stage.push(Bottleneck::load(l, &p, inplanes, planes, st)?);
                inplanes = planes * 4;
            }
            stages.push(stage);
        }
        let embed = w * 32;
        let grid = c.image_size / 32;
        let attnpool = AttnPool {
            positions: l.t(
                "visual.attnpool.positional_embedding",
                &[grid * grid + 1, embed],
            )?,
            q: l.linear("visual.attnpool.q_proj", embed, embed)?,
            k: l.linear("visual.attnpool.k_proj", embed, embed)?,
            v: l.linear("visual.attnpool.v_proj", embed, embed)?,
            c: l.linear("visual.attnpool.c_proj", embed, c.embed_dim)?,
            heads: embed / c.head_width,
        };
        Ok(Vision::Resnet {
            stem,
            stages,
            attnpool,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClipResnetConfig {
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
        let (stem, stages, attnpool) = match &self.vision {
            Vision::Vit(v) => return v.forward(x),
            Vision::Resnet {
                stem,
                stages,
                attnpool,
            } => (stem, stages, attnpool),
        };
        let mut h = x.clone();
        for c in stem {
            h = c.forward(&h)?.relu()?;
        }
        h = h.avg_pool2d(2)?;
        for stage in stages {
            for b in stage {
                h = b.forward(&h)?;
            }
        }
        attnpool.forward(&h)
    }
}

impl ImageEmbedder for ClipResnet {
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
        self.preprocess
            .encode_batched(images, IMAGE_BATCH, |pixels, n| {
                self.encode_pixels(pixels, n)
            })
    }
}

impl ImageTextScorer for ClipResnet {
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
