//! Rotary position embeddings: the vision tower's 2-D (row, column) rotary and the language
//! model's interleaved multimodal rotary (MRoPE: each frequency follows the temporal, height or
//! width position id, interleaved `T H W T H W ...` over the first `3 * section` frequencies).

use candle_core::{Device, Tensor};

/// `cos` and `sin` of `cat(angles, angles)` along the last axis (rotate-half layout).
pub(crate) fn rotate_half_cos_sin(angles: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
    let full = Tensor::cat(&[angles, angles], candle_core::D::Minus1)?;
    Ok((full.cos()?, full.sin()?))
}

/// `x * cos + rotate_half(x) * sin`, `cos`/`sin` broadcast against `x`.
pub(crate) fn apply_rotary(x: &Tensor, cos: &Tensor, sin: &Tensor) -> candle_core::Result<Tensor> {
    let d = x.dim(candle_core::D::Minus1)?;
    let x1 = x.narrow(candle_core::D::Minus1, 0, d / 2)?;
    let x2 = x.narrow(candle_core::D::Minus1, d / 2, d / 2)?;
    let rot = Tensor::cat(&[&x2.neg()?, &x1], candle_core::D::Minus1)?;
    x.broadcast_mul(cos)? + rot.broadcast_mul(sin)?
}

/// The language model's rotary tables.
#[derive(Debug, Clone)]
pub(crate) struct TextRope {
    inv_freq: Vec<f32>,
    /// For each frequency, which position axis drives it (0 = T, 1 = H, 2 = W).
    axis: Vec<usize>,
}

impl TextRope {
    pub fn new(head_dim: usize, theta: f64, section: &[usize]) -> Self {
        let half = head_dim / 2;
        let inv_freq = (0..head_dim)
            .step_by(2)
            .map(|i| 1.0 / (theta as f32).powf(i as f32 / head_dim as f32))
            .collect();
        let mut axis = vec![0usize; half];
        for (dim, offset) in [(1usize, 1usize), (2, 2)] {
            let end = (section[dim] * 3).min(half);
            let mut i = offset;
            while i < end {
                axis[i] = dim;
                i += 3;
            }
        }
        TextRope { inv_freq, axis }
    }

    /// `(cos, sin)` of shape `(seq, head_dim)` for position ids `pos[axis][token]`.
    pub fn cos_sin(
        &self,
        pos: &[Vec<i64>; 3],
        device: &Device,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let n = pos[0].len();
        let half = self.inv_freq.len();
        let mut ang = Vec::with_capacity(n * half);
        for t in 0..n {
            for (&a, f) in self.axis.iter().zip(&self.inv_freq) {
                let p: &[i64] = &pos[a];
                ang.push(p[t] as f32 * f);
            }
        }
        let ang = Tensor::from_vec(ang, (n, half), device)?;
        rotate_half_cos_sin(&ang)
    }
}
