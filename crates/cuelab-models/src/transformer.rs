//! The pre-norm transformer encoder shared by the ViT-style models, and a weight loader that
//! checks every tensor's shape and names it in errors.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Conv2d, Conv2dConfig, LayerNorm, Linear};

use crate::error::{Result, TensorContext};
use crate::weights::Weights;

/// Feed-forward activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// `x * sigmoid(1.702 x)` (OpenAI CLIP).
    QuickGelu,
    /// Exact (erf) GELU.
    Gelu,
    /// tanh-approximated GELU (`gelu_pytorch_tanh`).
    GeluTanh,
}

impl Act {
    /// Parse a transformers `hidden_act` name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "quick_gelu" => Some(Act::QuickGelu),
            "gelu" => Some(Act::Gelu),
            "gelu_pytorch_tanh" | "gelu_new" => Some(Act::GeluTanh),
            _ => None,
        }
    }

    pub(crate) fn apply(self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Act::QuickGelu if x.device().is_cpu() && x.dtype() == DType::F32 => {
                x.contiguous()?.apply_op1_no_bwd(&QuickGeluF32)
            }
            Act::QuickGelu => x * candle_nn::ops::sigmoid(&(x * 1.702)?)?,
            Act::Gelu => x.gelu_erf(),
            Act::GeluTanh => x.gelu(),
        }
    }
}

/// `x * sigmoid(1.702 x)` in one parallel pass over a contiguous f32 CPU tensor (the generic
/// path makes three single-threaded passes and two temporaries; the activation of a ViT-B MLP at
/// batch 32 is 4.9 M values per layer).
struct QuickGeluF32;

impl candle_core::CustomOp1 for QuickGeluF32 {
    fn name(&self) -> &'static str {
        "quick-gelu-f32"
    }

    fn cpu_fwd(
        &self,
        storage: &candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
        use rayon::prelude::*;
        let candle_core::CpuStorage::F32(data) = storage else {
            candle_core::bail!("quick-gelu-f32 needs f32 storage");
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("quick-gelu-f32 needs a contiguous tensor");
        };
        let out: Vec<f32> = data[start..end]
            .par_iter()
            .with_min_len(1 << 14)
            .map(|&v| v * (1.0 / (1.0 + (-(1.702 * v)).exp())))
            .collect();
        Ok((candle_core::CpuStorage::F32(out), layout.shape().clone()))
    }
}

/// Reads tensors with checked shapes, converted to the compute dtype.
pub(crate) struct Loader<'a> {
    pub w: &'a Weights,
    pub device: &'a Device,
    /// The dtype weights are stored in and matrix products run in.
    pub dtype: DType,
}

impl<'a> Loader<'a> {
    pub fn new(w: &'a Weights, device: &'a Device, dtype: DType) -> Self {
        Loader { w, device, dtype }
    }

    /// A tensor with a checked shape, in the compute dtype.
    pub fn t(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        self.t_as(name, shape, self.dtype)
    }

    /// A tensor with a checked shape, in f32 whatever the compute dtype (scalars read on the
    /// host, statistics folded at load time, embeddings resampled on the host).
    pub fn t_f32(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        self.t_as(name, shape, DType::F32)
    }

    fn t_as(&self, name: &str, shape: &[usize], dtype: DType) -> Result<Tensor> {
        self.w
            .get_shape(name, shape, dtype)?
            .to_device(self.device)
            .op(name)
    }

    /// A tensor of any shape, in f32 (used for scalars read back on the host).
    pub fn t_any_f32(&self, name: &str) -> Result<Tensor> {
        self.w
            .get(name, DType::F32)?
            .to_device(self.device)
            .op(name)
    }

    /// The dtype convolutions run in: the compute dtype, except bf16 on the CPU, where candle
    /// 0.11's convolution has no bf16 kernel (its im2col path calls the f16/f32/f64-only GEMM
    /// directly), so convolutions are upcast to f32 around the call (see [`conv`]).
    pub fn conv_dtype(&self) -> DType {
        if self.device.is_cpu() && self.dtype == DType::BF16 {
            DType::F32
        } else {
            self.dtype
        }
    }

    /// A 2-D convolution with weight `{prefix}.weight` of `shape` (and `{prefix}.bias` when
    /// `bias`), in [`conv_dtype`](Self::conv_dtype).
    pub fn conv2d(
        &self,
        prefix: &str,
        shape: [usize; 4],
        bias: bool,
        cfg: Conv2dConfig,
    ) -> Result<Conv2d> {
        let dt = self.conv_dtype();
        let w = self.t_as(&format!("{prefix}.weight"), &shape, dt)?;
        let b = if bias {
            Some(self.t_as(&format!("{prefix}.bias"), &[shape[0]], dt)?)
        } else {
            None
        };
        Ok(Conv2d::new(w, b, cfg))
    }

    pub fn has(&self, name: &str) -> bool {
        self.w.names().any(|n| n == name)
    }

    pub fn linear(&self, prefix: &str, i: usize, o: usize) -> Result<Linear> {
        gemm_linear(
            self.t(&format!("{prefix}.weight"), &[o, i])?,
            Some(self.t(&format!("{prefix}.bias"), &[o])?),
        )
        .op(prefix)
    }

    pub fn linear_no_bias(&self, prefix: &str, i: usize, o: usize) -> Result<Linear> {
        gemm_linear(self.t(&format!("{prefix}.weight"), &[o, i])?, None).op(prefix)
    }

    /// A LayerNorm with weight and bias in the compute dtype. candle's fused layer-norm kernel
    /// (used for contiguous inputs) accumulates the mean and variance in f32 for bf16/f16 inputs,
    /// and its fallback upcasts to f32, so the statistics are f32 whatever the dtype.
    pub fn norm(&self, prefix: &str, d: usize, eps: f64) -> Result<LayerNorm> {
        Ok(LayerNorm::new(
            self.t(&format!("{prefix}.weight"), &[d])?,
            self.t(&format!("{prefix}.bias"), &[d])?,
            eps,
        ))
    }

    /// Three `d -> d` projections fused into one `d -> 3d` linear.
    pub fn fused_qkv(&self, q: &str, k: &str, v: &str, d: usize) -> Result<Linear> {
        let q = self.linear(q, d, d)?;
        let k = self.linear(k, d, d)?;
        let v = self.linear(v, d, d)?;
        let w = Tensor::cat(&[q.weight(), k.weight(), v.weight()], 0).op("fuse qkv")?;
        let b = match (q.bias(), k.bias(), v.bias()) {
            (Some(a), Some(b), Some(c)) => Some(Tensor::cat(&[a, b, c], 0).op("fuse qkv bias")?),
            _ => None,
        };
        gemm_linear(w, b).op("fuse qkv")
    }
}

/// A linear layer whose `(out, in)` weight is stored transposed in memory, so that the
/// `x W^T` every forward computes multiplies by a contiguous `(in, out)` matrix. candle's CPU
/// GEMM packs a strided right-hand side on every call; with the weight as PyTorch stores it
/// that packing dominated small products (16- and 50-row inputs: 3-14x slower, measured with
/// `examples/gemm_speed.rs`). Values are unchanged.
pub(crate) fn gemm_linear(weight: Tensor, bias: Option<Tensor>) -> candle_core::Result<Linear> {
    let weight = weight.t()?.contiguous()?.t()?;
    Ok(Linear::new(weight, bias))
}

/// Apply a convolution whose weights may be in another dtype than `x` (see
/// [`Loader::conv_dtype`]): `x` is cast to the weights' dtype and the result back to `x`'s. Both
/// casts are no-ops when the dtypes agree (always, for f32).
pub(crate) fn conv(c: &Conv2d, x: &Tensor) -> candle_core::Result<Tensor> {
    let dt = x.dtype();
    c.forward(&x.to_dtype(c.weight().dtype())?)?.to_dtype(dt)
}

/// Softmax over the last dimension computed in f32 (candle's CPU softmax accumulates the
/// exponentials in the input dtype, which loses most of bf16's 8 mantissa bits over a few hundred
/// keys), returned in `x`'s dtype; an additive f32 `mask` is applied after the upcast so that
/// its large negative values never pass through f16.
pub(crate) fn softmax_f32(x: &Tensor, mask: Option<&Tensor>) -> candle_core::Result<Tensor> {
    let dt = x.dtype();
    let mut y = x.to_dtype(DType::F32)?;
    if let Some(m) = mask {
        y = y.broadcast_add(&m.to_dtype(DType::F32)?)?;
    }
    candle_nn::ops::softmax_last_dim(&y)?.to_dtype(dt)
}

/// `x W^T + b` for `x` of shape `(n, t, d)` as one 2-D matrix product over all `n * t` rows
/// (candle's `Linear` broadcasts the weight into `n` small batched products instead, which is
/// several times slower at batch 32 on CPU).
pub(crate) fn linear3(x: &Tensor, l: &Linear) -> candle_core::Result<Tensor> {
    let (n, t, d) = x.dims3()?;
    let y = x.reshape((n * t, d))?.matmul(&l.weight().t()?)?;
    let y = match l.bias() {
        Some(b) => y.broadcast_add(b)?,
        None => y,
    };
    let o = y.dim(1)?;
    y.reshape((n, t, o))
}

/// One pre-norm block: `x + attn(ln1 x)`, then `x + mlp(ln2 x)`.
#[derive(Debug)]
pub(crate) struct Block {
    pub ln1: LayerNorm,
    pub qkv: Linear,
    pub out: Linear,
    pub ln2: LayerNorm,
    pub fc1: Linear,
    pub fc2: Linear,
}

/// Sizes of an encoder stack.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EncoderShape {
    pub layers: usize,
    pub d: usize,
    pub ff: usize,
    pub heads: usize,
    pub eps: f64,
    pub act: Act,
}

/// A stack of blocks.
#[derive(Debug)]
pub(crate) struct Encoder {
    pub blocks: Vec<Block>,
    pub heads: usize,
    pub act: Act,
}

impl Encoder {
    /// CLIP-named blocks under `prefix` (`{prefix}.{i}.self_attn.q_proj`, `layer_norm1`, `mlp.fc1`...).
    pub fn load_clip(l: &Loader, prefix: &str, s: &EncoderShape) -> Result<Self> {
        let EncoderShape {
            layers,
            d,
            ff,
            heads,
            eps,
            act,
        } = *s;
        let mut blocks = Vec::with_capacity(layers);
        for i in 0..layers {
            let p = format!("{prefix}.{i}");
            blocks.push(Block {
                ln1: l.norm(&format!("{p}.layer_norm1"), d, eps)?,
                qkv: l.fused_qkv(
                    &format!("{p}.self_attn.q_proj"),
                    &format!("{p}.self_attn.k_proj"),
                    &format!("{p}.self_attn.v_proj"),
                    d,
                )?,
                out: l.linear(&format!("{p}.self_attn.out_proj"), d, d)?,
                ln2: l.norm(&format!("{p}.layer_norm2"), d, eps)?,
                fc1: l.linear(&format!("{p}.mlp.fc1"), d, ff)?,
                fc2: l.linear(&format!("{p}.mlp.fc2"), ff, d)?,
            });
        }
        Ok(Encoder { blocks, heads, act })
    }

    /// OpenAI / open_clip-named blocks under `prefix` (`{prefix}.{i}.ln_1`,
    /// `attn.in_proj_weight` (q, k, v stacked), `attn.out_proj`, `ln_2`, `mlp.c_fc`, `mlp.c_proj`).
    pub fn load_openai(l: &Loader, prefix: &str, s: &EncoderShape) -> Result<Self> {
        let EncoderShape {
            layers,
            d,
            ff,
            heads,
            eps,
            act,
        } = *s;
        let mut blocks = Vec::with_capacity(layers);
        for i in 0..layers {
            let p = format!("{prefix}.{i}");
            blocks.push(Block {
                ln1: l.norm(&format!("{p}.ln_1"), d, eps)?,
                qkv: gemm_linear(
                    l.t(&format!("{p}.attn.in_proj_weight"), &[3 * d, d])?,
                    Some(l.t(&format!("{p}.attn.in_proj_bias"), &[3 * d])?),
                )
                .op("in_proj")?,
                out: l.linear(&format!("{p}.attn.out_proj"), d, d)?,
                ln2: l.norm(&format!("{p}.ln_2"), d, eps)?,
                fc1: l.linear(&format!("{p}.mlp.c_fc"), d, ff)?,
                fc2: l.linear(&format!("{p}.mlp.c_proj"), ff, d)?,
            });
        }
        Ok(Encoder { blocks, heads, act })
    }

    /// Run all blocks; `mask` is an additive `(t, t)` attention mask.
    pub fn forward(&self, x: &Tensor, mask: Option<&Tensor>) -> candle_core::Result<Tensor> {
        let mut x = x.clone();
        for b in &self.blocks {
            let y = attention(&b.ln1.forward(&x)?, &b.qkv, &b.out, self.heads, mask)?;
            x = (x + y)?;
            let y = b.ln2.forward(&x)?;
            let y = linear3(&self.act.apply(&linear3(&y, &b.fc1)?)?, &b.fc2)?;
            x = (x + y)?;
        }
        Ok(x)
    }
}

/// Multi-head self-attention with a fused qkv projection; `x` is `(n, t, d)`.
pub(crate) fn attention(
    x: &Tensor,
    qkv: &Linear,
    out: &Linear,
    heads: usize,
    mask: Option<&Tensor>,
) -> candle_core::Result<Tensor> {
    let (n, t, d) = x.dims3()?;
    let hd = d / heads;
    let qkv = linear3(x, qkv)?
        .reshape((n, t, 3, heads, hd))?
        .permute((2, 0, 3, 1, 4))?;
    let q = (qkv.get(0)? * (hd as f64).powf(-0.5))?.contiguous()?;
    let k = qkv.get(1)?.contiguous()?;
    let v = qkv.get(2)?.contiguous()?;
    let att = softmax_f32(&q.matmul(&k.t()?)?, mask)?;
    let o = att.matmul(&v)?.transpose(1, 2)?.reshape((n, t, d))?;
    linear3(&o, out)
}

/// Additive causal mask `(t, t)` in f32: 0 on and below the diagonal, `-inf`-like above (added
/// in f32 by [`softmax_f32`] whatever the compute dtype).
pub(crate) fn causal_mask(t: usize, device: &Device) -> candle_core::Result<Tensor> {
    let m: Vec<f32> = (0..t)
        .flat_map(|i| (0..t).map(move |j| if j > i { f32::MIN } else { 0.0 }))
        .collect();
    Tensor::from_vec(m, (t, t), device)
}
