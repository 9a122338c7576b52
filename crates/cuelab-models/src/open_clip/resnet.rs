//! The "modified ResNet" image tower of OpenAI CLIP (RN50, RN101, RN50x4, RN50x16, RN50x64) in
//! the OpenAI / open_clip state-dict layout (`visual.conv1...`, `visual.layerN...`,
//! `visual.attnpool...`):
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
//! shift at load time.

use candle_core::{DType, Module, Tensor};
use candle_nn::{Conv2d, Conv2dConfig, Linear};

use super::OpenClipConfig;
use crate::error::{Result, TensorContext};
use crate::transformer::{linear3, softmax_f32, Loader};

/// BatchNorm epsilon (PyTorch's default, used by every OpenAI ResNet).
const BN_EPS: f64 = 1e-5;

/// A loaded ResNet image tower.
#[derive(Debug)]
pub(super) struct ResnetTower {
    stem: [ConvBn; 3],
    stages: Vec<Vec<Bottleneck>>,
    attnpool: AttnPool,
}

impl ResnetTower {
    /// Load the tower's tensors (`visual.*`) with the sizes of `c`.
    pub(super) fn load(l: &Loader, c: &OpenClipConfig) -> Result<Self> {
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
        Ok(ResnetTower {
            stem,
            stages,
            attnpool,
        })
    }

    /// Image embeddings of `(n, 3, s, s)` pixels.
    pub(super) fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        for c in &self.stem {
            h = c.forward(&h)?.relu()?;
        }
        h = h.avg_pool2d(2)?;
        for stage in &self.stages {
            for b in stage {
                h = b.forward(&h)?;
            }
        }
        self.attnpool.forward(&h)
    }
}

/// The convolutions of the tower for an `(height, width)` input, in forward order (stem, then
/// each bottleneck's `1x1`, `3x3`, `1x1` and shortcut), for memory estimates.
pub(super) fn conv_steps(c: &OpenClipConfig, (height, width): (u32, u32)) -> Vec<crate::ConvStep> {
    let step = |input, output, kernel| crate::ConvStep {
        input,
        output,
        kernel,
    };
    let w = c.width;
    let (h2, w2) = (height as usize / 2, width as usize / 2);
    let mut steps = vec![
        step((3, height as usize, width as usize), (w / 2, h2, w2), 3),
        step((w / 2, h2, w2), (w / 2, h2, w2), 3),
        step((w / 2, h2, w2), (w, h2, w2), 3),
    ];
    let (mut hh, mut ww, mut inplanes) = (h2 / 2, w2 / 2, w);
    for (s, &blocks) in c.layers.iter().enumerate() {
        let planes = w << s;
        for b in 0..blocks {
            let stride = if s > 0 && b == 0 { 2 } else { 1 };
            let (oh, ow) = (hh / stride, ww / stride);
            steps.push(step((inplanes, hh, ww), (planes, hh, ww), 1));
            steps.push(step((planes, hh, ww), (planes, hh, ww), 3));
            steps.push(step((planes, oh, ow), (planes * 4, oh, ow), 1));
            if b == 0 {
                steps.push(step((inplanes, oh, ow), (planes * 4, oh, ow), 1));
            }
            (hh, ww, inplanes) = (oh, ow, planes * 4);
        }
    }
    steps
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
