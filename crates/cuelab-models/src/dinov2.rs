//! DINOv2 (with and without registers), Hugging Face layout (`Dinov2Model`,
//! `Dinov2WithRegistersModel`): the embedding is the final-layer-norm CLS token (`pooler_output`).
//!
//! Position embeddings are resized to the input grid exactly as transformers does: plain bicubic
//! (A = -0.75, `align_corners=False`) for `dinov2`, antialiased bicubic (a = -0.5) for
//! `dinov2_with_registers`. Preprocessing is transformers' `BitImageProcessor` (torchvision
//! backend): shorter side to 256, centre crop 224, ImageNet mean/std — i.e. the [`Pipeline::Hf`]
//! resampler with other sizes and statistics.

use std::path::Path;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Conv2d, Conv2dConfig, LayerNorm, Linear};
use image::RgbImage;
use serde::Deserialize;
use serde_json::Value;

use crate::config;
use crate::error::{Error, Result, TensorContext};
use crate::load::{model_id, LoadOptions};
use crate::preprocess::{Pipeline, Preprocess};
use crate::transformer::{attention, conv, gemm_linear, linear3, Loader};
use crate::weights::Weights;
use crate::ImageEmbedder;

/// ImageNet mean (RGB).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet standard deviation (RGB).
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

const IMAGE_BATCH: usize = 16;

/// The parts of a DINOv2 `config.json` used here.
#[derive(Debug, Clone, PartialEq)]
pub struct Dinov2Config {
    /// Width.
    pub hidden: usize,
    /// Layers.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// MLP width ratio.
    pub mlp_ratio: usize,
    /// Layer-norm epsilon.
    pub eps: f64,
    /// Pretraining resolution (sets the stored position grid).
    pub image_size: usize,
    /// Patch size.
    pub patch_size: usize,
    /// SwiGLU feed-forward (giant) instead of GELU MLP.
    pub swiglu: bool,
    /// Register tokens (0 without registers).
    pub registers: usize,
}

/// The keys of a DINOv2 `config.json` read here, with transformers' `Dinov2Config` defaults.
#[derive(Debug, Deserialize)]
#[serde(default)]
struct Dinov2File {
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    mlp_ratio: usize,
    layer_norm_eps: f64,
    image_size: usize,
    patch_size: usize,
    use_swiglu_ffn: bool,
    num_register_tokens: usize,
    hidden_act: String,
}

impl Default for Dinov2File {
    fn default() -> Self {
        Dinov2File {
            hidden_size: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            mlp_ratio: 4,
            layer_norm_eps: 1e-6,
            image_size: 224,
            patch_size: 14,
            use_swiglu_ffn: false,
            num_register_tokens: 4,
            hidden_act: "gelu".into(),
        }
    }
}

impl Dinov2Config {
    /// Parse `config.json` (`model_type` `dinov2` or `dinov2_with_registers`) and
    /// [validate](Self::validate) it; `path` is only used in errors.
    pub fn from_value(path: &Path, v: &Value) -> Result<Self> {
        let model_type = config::model_type(v).unwrap_or("");
        let with_registers = match model_type {
            "dinov2" => false,
            "dinov2_with_registers" => true,
            other => {
                return Err(Error::UnsupportedArchitecture {
                    path: path.to_path_buf(),
                    architecture: other.to_string(),
                    supported: "dinov2, dinov2_with_registers".into(),
                })
            }
        };
        let f: Dinov2File = config::section(path, "", v)?;
        if f.hidden_act != "gelu" {
            return Err(config::invalid(
                path,
                "hidden_act",
                format!(
                    "activation `{}` is not supported (only `gelu`)",
                    f.hidden_act
                ),
            ));
        }
        let cfg = Dinov2Config {
            hidden: f.hidden_size,
            layers: f.num_hidden_layers,
            heads: f.num_attention_heads,
            mlp_ratio: f.mlp_ratio,
            eps: f.layer_norm_eps,
            image_size: f.image_size,
            patch_size: f.patch_size,
            swiglu: f.use_swiglu_ffn,
            registers: if with_registers {
                f.num_register_tokens
            } else {
                0
            },
        };
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// Refuse sizes no DINOv2 can have, naming the key of the file at `path`: heads that are zero
    /// or do not divide the width, a patch size that is zero or does not divide the image size,
    /// a zero MLP ratio.
    pub fn validate(&self, path: &Path) -> Result<()> {
        config::check_heads(
            path,
            "num_attention_heads",
            self.heads,
            "hidden_size",
            self.hidden,
        )?;
        config::check_patch(
            path,
            "patch_size",
            self.patch_size,
            "image_size",
            self.image_size,
        )?;
        config::check_positive(path, "mlp_ratio", self.mlp_ratio)
    }
}

#[derive(Debug)]
enum Ffn {
    Mlp(Linear, Linear),
    SwiGlu {
        gate: Linear,
        up: Linear,
        down: Linear,
    },
}

#[derive(Debug)]
struct Layer {
    norm1: LayerNorm,
    qkv: Linear,
    out: Linear,
    ls1: Tensor,
    norm2: LayerNorm,
    ffn: Ffn,
    ls2: Tensor,
}

/// A loaded DINOv2 image encoder.
#[derive(Debug)]
pub struct Dinov2 {
    id: String,
    config: Dinov2Config,
    patch: Conv2d,
    cls: Tensor,
    registers: Option<Tensor>,
    /// Position embeddings resized to the preprocessing grid: `(1, 1 + grid², hidden)`.
    pos: Tensor,
    layers: Vec<Layer>,
    norm: LayerNorm,
    preprocess: Preprocess,
    device: Device,
    dtype: DType,
}

/// One-axis resampling matrix (`out x in`) of PyTorch's bicubic interpolation.
fn bicubic_matrix(inp: usize, out: usize, antialias: bool) -> Vec<f64> {
    let mut m = vec![0f64; out * inp];
    let scale = inp as f64 / out as f64;
    if antialias {
        let support = if scale >= 1.0 { 2.0 * scale } else { 2.0 };
        let invscale = if scale >= 1.0 { 1.0 / scale } else { 1.0 };
        let filter = cuelab_cue::resize::bicubic_torch;
        for i in 0..out {
            let center = scale * (i as f64 + 0.5);
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(inp as i64) as usize;
            let ws: Vec<f64> = (xmin..xmax)
                .map(|j| filter((j as f64 - center + 0.5) * invscale))
                .collect();
            let total: f64 = ws.iter().sum();
            for (k, w) in ws.iter().enumerate() {
                m[i * inp + xmin + k] = if total != 0.0 { w / total } else { 0.0 };
            }
        }
    } else {
        let a = -0.75;
        let c1 = |x: f64| ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
        let c2 = |x: f64| ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
        for i in 0..out {
            let real = scale * (i as f64 + 0.5) - 0.5;
            let x0 = real.floor();
            let t = real - x0;
            let coeffs = [c2(t + 1.0), c1(t), c1(1.0 - t), c2(2.0 - t)];
            for (k, c) in coeffs.iter().enumerate() {
                let j = (x0 as i64 - 1 + k as i64).clamp(0, inp as i64 - 1) as usize;
                m[i * inp + j] += c;
            }
        }
    }
    m
}

impl Dinov2 {
    /// Load a HF-layout DINOv2 directory (`config.json` + `model.safetensors`) on `opts.device`
    /// in `opts.dtype` (the id gets the dtype's [suffix](crate::ModelDtype::id_suffix); the position
    /// embeddings are resized in f64/f32 on the host before the cast). The preprocessing is
    /// `BitImageProcessor`'s (shorter side 256, crop 224) unless `preprocessor_config.json` says
    /// otherwise; `opts.pipeline` is not used.
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Self> {
        let (device, dtype) = (&opts.device, opts.dtype);
        let config_path = dir.join("config.json");
        let value = config::read_json(&config_path)?;
        let cfg = Dinov2Config::from_value(&config_path, &value)?;
        let preprocess = read_bit_preprocess(&dir.join("preprocessor_config.json"))?;
        let weights = Weights::load(&dir.join("model.safetensors"), device)?;
        let l = Loader::new(&weights, device, dtype.candle());
        let d = cfg.hidden;
        let p = cfg.patch_size;
        let patch = l.conv2d(
            "embeddings.patch_embeddings.projection",
            [d, 3, p, p],
            true,
            Conv2dConfig {
                stride: p,
                ..Default::default()
            },
        )?;
        let cls = l.t("embeddings.cls_token", &[1, 1, d])?;
        let registers = if cfg.registers > 0 {
            Some(l.t("embeddings.register_tokens", &[1, cfg.registers, d])?)
        } else {
            None
        };
        let stored = cfg.image_size / p;
        let pos = l.t_f32(
            "embeddings.position_embeddings",
            &[1, 1 + stored * stored, d],
        )?;
        let grid = preprocess.crop_height as usize / p;
        if preprocess.crop_height != preprocess.crop_width {
            return Err(Error::Invalid("DINOv2 crops must be square".into()));
        }
        let pos = if grid == stored {
            pos
        } else {
            resize_positions(&pos, stored, grid, d, cfg.registers > 0, device)?
        };
        let pos = pos.to_dtype(dtype.candle()).op("position embeddings")?;
        let mut layers = Vec::with_capacity(cfg.layers);
        let hidden_ffn = d * cfg.mlp_ratio;
        for i in 0..cfg.layers {
            let pre = format!("encoder.layer.{i}");
            let qkv = l.fused_qkv(
                &format!("{pre}.attention.attention.query"),
                &format!("{pre}.attention.attention.key"),
                &format!("{pre}.attention.attention.value"),
                d,
            )?;
            let ffn = if cfg.swiglu {
                // transformers: (int(hidden * ratio * 2 / 3) + 7) // 8 * 8
                let hf = (hidden_ffn * 2 / 3).div_ceil(8) * 8;
                if l.has(&format!("{pre}.mlp.gate_proj.weight")) {
                    Ffn::SwiGlu {
                        gate: l.linear(&format!("{pre}.mlp.gate_proj"), d, hf)?,
                        up: l.linear(&format!("{pre}.mlp.up_proj"), d, hf)?,
                        down: l.linear(&format!("{pre}.mlp.down_proj"), hf, d)?,
                    }
                } else {
                    let w_in = l.t(&format!("{pre}.mlp.weights_in.weight"), &[2 * hf, d])?;
                    let b_in = l.t(&format!("{pre}.mlp.weights_in.bias"), &[2 * hf])?;
                    let part = |t: &Tensor, k: usize| t.narrow(0, k * hf, hf).op("swiglu split");
                    Ffn::SwiGlu {
                        gate: gemm_linear(part(&w_in, 0)?, Some(part(&b_in, 0)?)).op("gate")?,
                        up: gemm_linear(part(&w_in, 1)?, Some(part(&b_in, 1)?)).op("up")?,
                        down: l.linear(&format!("{pre}.mlp.weights_out"), hf, d)?,
                    }
                }
            } else {
                Ffn::Mlp(
                    l.linear(&format!("{pre}.mlp.fc1"), d, hidden_ffn)?,
                    l.linear(&format!("{pre}.mlp.fc2"), hidden_ffn, d)?,
                )
            };
            layers.push(Layer {
                norm1: l.norm(&format!("{pre}.norm1"), d, cfg.eps)?,
                qkv,
                out: l.linear(&format!("{pre}.attention.output.dense"), d, d)?,
                ls1: l.t(&format!("{pre}.layer_scale1.lambda1"), &[d])?,
                norm2: l.norm(&format!("{pre}.norm2"), d, cfg.eps)?,
                ffn,
                ls2: l.t(&format!("{pre}.layer_scale2.lambda1"), &[d])?,
            });
        }
        let norm = l.norm("layernorm", d, cfg.eps)?;
        let id = model_id("dinov2", dir, &weights, dtype);
        Ok(Dinov2 {
            id,
            config: cfg,
            patch,
            cls,
            registers,
            pos,
            layers,
            norm,
            preprocess,
            device: device.clone(),
            dtype: dtype.candle(),
        })
    }

    /// The parsed configuration.
    pub fn config(&self) -> &Dinov2Config {
        &self.config
    }

    /// CLS embeddings of preprocessed pixels (`n` CHW images at the crop size).
    pub fn encode_pixels(&self, pixels: &[f32], n: usize) -> Result<Vec<Vec<f32>>> {
        let (h, w) = (
            self.preprocess.crop_height as usize,
            self.preprocess.crop_width as usize,
        );
        if pixels.len() != n * 3 * h * w {
            return Err(Error::Invalid(format!(
                "pixel buffer has {} values, expected {n}x3x{h}x{w}",
                pixels.len()
            )));
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        let x = Tensor::from_slice(pixels, (n, 3, h, w), &self.device)
            .and_then(|x| x.to_dtype(self.dtype))
            .op("pixels")?;
        self.forward(&x)
            .and_then(|t| t.to_dtype(DType::F32))
            .and_then(|t| t.to_vec2::<f32>())
            .op("dinov2 forward")
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let n = x.dim(0)?;
        let d = self.config.hidden;
        let patches = conv(&self.patch, x)?.flatten_from(2)?.transpose(1, 2)?;
        let cls = self.cls.expand((n, 1, d))?;
        let mut hs = Tensor::cat(&[&cls, &patches], 1)?.broadcast_add(&self.pos)?;
        if let Some(r) = &self.registers {
            let r = r.expand((n, r.dim(1)?, d))?;
            let rest = hs.narrow(1, 1, hs.dim(1)? - 1)?;
            hs = Tensor::cat(&[&hs.narrow(1, 0, 1)?, &r, &rest], 1)?;
        }
        for layer in &self.layers {
            let y = layer.norm1.forward(&hs)?;
            let o = attention(&y, &layer.qkv, &layer.out, self.config.heads, None)?;
            hs = (hs + o.broadcast_mul(&layer.ls1)?)?;
            let y = layer.norm2.forward(&hs)?;
            let y = match &layer.ffn {
                Ffn::Mlp(fc1, fc2) => linear3(&linear3(&y, fc1)?.gelu_erf()?, fc2)?,
                Ffn::SwiGlu { gate, up, down } => linear3(
                    &(candle_nn::ops::silu(&linear3(&y, gate)?)? * linear3(&y, up)?)?,
                    down,
                )?,
            };
            hs = (hs + y.broadcast_mul(&layer.ls2)?)?;
        }
        let out = self.norm.forward(&hs)?;
        out.narrow(1, 0, 1)?.squeeze(1)?.contiguous()
    }
}

/// Resize the patch position embeddings from `stored`² to `grid`² (PyTorch bicubic semantics).
fn resize_positions(
    pos: &Tensor,
    stored: usize,
    grid: usize,
    d: usize,
    antialias: bool,
    device: &Device,
) -> Result<Tensor> {
    let all: Vec<f32> = pos.flatten_all().and_then(|t| t.to_vec1()).op("pos")?;
    let m = bicubic_matrix(stored, grid, antialias);
    // out[y][x][c] = sum_i sum_j m[y][i] m[x][j] in[i][j][c]; horizontal first, f64 accumulation.
    let src = &all[d..];
    let mut tmp = vec![0f64; stored * grid * d];
    for i in 0..stored {
        for x in 0..grid {
            for j in 0..stored {
                let w = m[x * stored + j];
                if w == 0.0 {
                    continue;
                }
                let s = &src[(i * stored + j) * d..(i * stored + j + 1) * d];
                let t = &mut tmp[(i * grid + x) * d..(i * grid + x + 1) * d];
                for c in 0..d {
                    t[c] += w * s[c] as f64;
                }
            }
        }
    }
    let mut out = Vec::with_capacity((1 + grid * grid) * d);
    out.extend_from_slice(&all[..d]);
    for y in 0..grid {
        for x in 0..grid {
            let mut acc = vec![0f64; d];
            for i in 0..stored {
                let w = m[y * stored + i];
                if w == 0.0 {
                    continue;
                }
                let t = &tmp[(i * grid + x) * d..(i * grid + x + 1) * d];
                for c in 0..d {
                    acc[c] += w * t[c];
                }
            }
            out.extend(acc.iter().map(|&v| v as f32));
        }
    }
    Tensor::from_vec(out, (1, 1 + grid * grid, d), device).op("resized positions")
}

/// `BitImageProcessor` settings from `preprocessor_config.json` (defaults when absent).
fn read_bit_preprocess(path: &Path) -> Result<Preprocess> {
    let mut p = Preprocess {
        pipeline: Pipeline::Hf,
        shortest_edge: 256,
        crop_height: 224,
        crop_width: 224,
        mean: IMAGENET_MEAN,
        std: IMAGENET_STD,
        squash: false,
    };
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(p);
    };
    let v: Value = serde_json::from_str(&text).map_err(|e| Error::Config {
        path: path.to_path_buf(),
        key: String::new(),
        message: e.to_string(),
    })?;
    if let Some(s) = v.pointer("/size/shortest_edge").and_then(Value::as_u64) {
        p.shortest_edge = s as u32;
    }
    if let Some(s) = v.pointer("/crop_size/height").and_then(Value::as_u64) {
        p.crop_height = s as u32;
    }
    if let Some(s) = v.pointer("/crop_size/width").and_then(Value::as_u64) {
        p.crop_width = s as u32;
    }
    let three = |key: &str| -> Option<[f32; 3]> {
        let a = v.get(key)?.as_array()?;
        if a.len() != 3 {
            return None;
        }
        Some([
            a[0].as_f64()? as f32,
            a[1].as_f64()? as f32,
            a[2].as_f64()? as f32,
        ])
    };
    if let Some(m) = three("image_mean") {
        p.mean = m;
    }
    if let Some(s) = three("image_std") {
        p.std = s;
    }
    Ok(p)
}

impl ImageEmbedder for Dinov2 {
    fn id(&self) -> &str {
        &self.id
    }

    fn preprocess(&self) -> &Preprocess {
        &self.preprocess
    }

    fn embed_dim(&self) -> usize {
        self.config.hidden
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
        // SwiGLU keeps four tensors of ~2/3 the MLP width (gate, its SiLU, up, their product)
        // where a GELU MLP keeps two: twice the width covers them.
        let mlp = c.hidden * c.mlp_ratio * if c.swiglu { 2 } else { 1 };
        Some(crate::shape::vit(
            size,
            c.patch_size,
            1 + c.registers,
            c.hidden,
            mlp,
            c.heads,
            c.layers,
        ))
    }
}
