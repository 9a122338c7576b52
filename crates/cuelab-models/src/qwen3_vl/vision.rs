//! The Qwen3-VL vision tower: patch embedding (the Conv3d as one linear map over a flattened
//! patch), learned position table resampled bilinearly (align-corners) to each image's grid, 2-D
//! rotary attention within each frame, pre-norm blocks, the 2x2 patch merger and the deepstack
//! mergers whose outputs are added to the first decoder layers.

use candle_core::{Device, Module, Tensor};
use candle_nn::{LayerNorm, Linear};

use super::config::VisionConfig;
use super::rope::{apply_rotary, rotate_half_cos_sin};
use crate::error::{Error, Result, TensorContext};
use crate::transformer::{Act, Loader};

struct Block {
    norm1: LayerNorm,
    qkv: Linear,
    proj: Linear,
    norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

struct Merger {
    /// Norm before the shuffle (over `hidden`) or after it (over `4 * hidden`).
    norm: LayerNorm,
    post_shuffle: bool,
    fc1: Linear,
    fc2: Linear,
}

impl Merger {
    fn load(
        l: &Loader,
        p: &str,
        hidden: usize,
        unit: usize,
        out: usize,
        post: bool,
    ) -> Result<Self> {
        let wide = hidden * unit;
        Ok(Merger {
            norm: l.norm(&format!("{p}.norm"), if post { wide } else { hidden }, 1e-6)?,
            post_shuffle: post,
            fc1: l.linear(&format!("{p}.linear_fc1"), wide, wide)?,
            fc2: l.linear(&format!("{p}.linear_fc2"), wide, out)?,
        })
    }

    fn forward(&self, x: &Tensor, wide: usize) -> candle_core::Result<Tensor> {
        let n = x.dim(0)?;
        let x = if self.post_shuffle {
            self.norm
                .forward(&x.reshape((n * x.dim(1)? / wide, wide))?)?
        } else {
            self.norm
                .forward(x)?
                .reshape((n * x.dim(1)? / wide, wide))?
        };
        let x = self.fc1.forward(&x)?.gelu_erf()?;
        self.fc2.forward(&x)
    }
}

/// Output of the vision tower for one image: merged tokens and deepstack features.
#[derive(Debug, Clone)]
pub struct VisionOutput {
    /// `(tokens, out_hidden)`.
    pub embeds: Tensor,
    /// One `(tokens, out_hidden)` tensor per deepstack level.
    pub deepstack: Vec<Tensor>,
}

/// The vision tower.
pub struct VisionTower {
    cfg: VisionConfig,
    patch: Linear,
    pos_embed: Tensor,
    blocks: Vec<Block>,
    merger: Merger,
    deepstack: Vec<Merger>,
    act: Act,
    device: Device,
}

impl std::fmt::Debug for VisionTower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VisionTower")
            .field("depth", &self.blocks.len())
            .finish()
    }
}

impl VisionTower {
    /// Load the tower's tensors under `prefix` (`model.visual` in transformers 5 checkpoints).
    pub(crate) fn load(l: &Loader, prefix: &str, cfg: &VisionConfig) -> Result<Self> {
        let d = cfg.hidden_size;
        let plen = cfg.in_channels * cfg.temporal_patch_size * cfg.patch_size * cfg.patch_size;
        let w = l.t(
            &format!("{prefix}.patch_embed.proj.weight"),
            &[
                d,
                cfg.in_channels,
                cfg.temporal_patch_size,
                cfg.patch_size,
                cfg.patch_size,
            ],
        )?;
        let w = w.reshape((d, plen)).op("patch embed weight")?;
        let b = l.t(&format!("{prefix}.patch_embed.proj.bias"), &[d])?;
        let pos_embed = l.t(
            &format!("{prefix}.pos_embed.weight"),
            &[cfg.num_position_embeddings, d],
        )?;
        let mut blocks = Vec::with_capacity(cfg.depth);
        for i in 0..cfg.depth {
            let p = format!("{prefix}.blocks.{i}");
            blocks.push(Block {
                norm1: l.norm(&format!("{p}.norm1"), d, 1e-6)?,
                qkv: l.linear(&format!("{p}.attn.qkv"), d, 3 * d)?,
                proj: l.linear(&format!("{p}.attn.proj"), d, d)?,
                norm2: l.norm(&format!("{p}.norm2"), d, 1e-6)?,
                fc1: l.linear(&format!("{p}.mlp.linear_fc1"), d, cfg.intermediate_size)?,
                fc2: l.linear(&format!("{p}.mlp.linear_fc2"), cfg.intermediate_size, d)?,
            });
        }
        let unit = cfg.spatial_merge_size * cfg.spatial_merge_size;
        let merger = Merger::load(
            l,
            &format!("{prefix}.merger"),
            d,
            unit,
            cfg.out_hidden_size,
            false,
        )?;
        let deepstack = (0..cfg.deepstack_visual_indexes.len())
            .map(|i| {
                Merger::load(
                    l,
                    &format!("{prefix}.deepstack_merger_list.{i}"),
                    d,
                    unit,
                    cfg.out_hidden_size,
                    true,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let act = Act::parse(&cfg.hidden_act).ok_or_else(|| {
            Error::Invalid(format!(
            "vision_config.hidden_act `{}` is not supported (gelu, gelu_pytorch_tanh, quick_gelu)",
            cfg.hidden_act
        ))
        })?;
        Ok(VisionTower {
            cfg: cfg.clone(),
            patch: crate::transformer::gemm_linear(w, Some(b)).op("patch_embed")?,
            pos_embed,
            blocks,
            merger,
            deepstack,
            act,
            device: l.device.clone(),
        })
    }

    /// (row, col) of every patch in the processor's order (merge blocks contiguous).
    fn patch_coords(&self, gh: usize, gw: usize) -> Vec<(usize, usize)> {
        let m = self.cfg.spatial_merge_size;
        let mut v = Vec::with_capacity(gh * gw);
        for bh in 0..gh / m {
            for bw in 0..gw / m {
                for mh in 0..m {
                    for mw in 0..m {
                        v.push((bh * m + mh, bw * m + mw));
                    }
                }
            }
        }
        v
    }

    /// The learned position table resampled to `gh x gw` (bilinear, align corners), in patch order.
    fn position_embeddings(
        &self,
        coords: &[(usize, usize)],
        gh: usize,
        gw: usize,
    ) -> Result<Tensor> {
        let side = (self.cfg.num_position_embeddings as f64).sqrt() as usize;
        let taps = |i: usize, size: usize| -> [(usize, f32); 2] {
            let src = i as f32 * (side as f32 - 1.0) / ((size as f32 - 1.0).max(1.0));
            let f = src.floor();
            let mut out = [(0usize, 0f32); 2];
            for (o, slot) in out.iter_mut().enumerate() {
                let tap = (f as i64 + o as i64).clamp(0, side as i64 - 1) as usize;
                let dist = (src - f - o as f32).abs();
                *slot = (tap, (1.0 - dist).max(0.0));
            }
            out
        };
        let mut idx = Vec::with_capacity(coords.len() * 4);
        let mut wts = Vec::with_capacity(coords.len() * 4);
        for &(r, c) in coords {
            let th = taps(r, gh);
            let tw = taps(c, gw);
            for &(hi, hw) in &th {
                for &(wi, ww) in &tw {
                    idx.push((hi * side + wi) as u32);
                    wts.push(hw * ww);
                }
            }
        }
        let n = coords.len();
        let d = self.cfg.hidden_size;
        let idx = Tensor::from_vec(idx, n * 4, &self.device).op("pos idx")?;
        let wts = Tensor::from_vec(wts, (n, 4, 1), &self.device).op("pos weights")?;
        self.pos_embed
            .index_select(&idx, 0)
            .and_then(|e| e.reshape((n, 4, d)))
            .and_then(|e| e.broadcast_mul(&wts))
            .and_then(|e| e.sum(1))
            .op("position embeddings")
    }

    /// Run one image or video (`pixels`: `(t*h*w, patch_len)`, grid `(t, h, w)`).
    pub fn forward(&self, pixels: &Tensor, grid_thw: [usize; 3]) -> Result<VisionOutput> {
        let [t, gh, gw] = grid_thw;
        let m = self.cfg.spatial_merge_size;
        if gh % m != 0 || gw % m != 0 || gh == 0 || gw == 0 || t == 0 {
            return Err(Error::Invalid(format!(
                "vision grid {t}x{gh}x{gw} is not a positive multiple of the merge size {m}"
            )));
        }
        let n = t * gh * gw;
        let coords = self.patch_coords(gh, gw);
        let mut x = self.patch.forward(pixels).op("patch embed")?;
        let pos = self.position_embeddings(&coords, gh, gw)?;
        let pos = Tensor::cat(&vec![pos; t], 0).op("pos repeat")?;
        x = (x + pos).op("add pos")?;
        // 2-D rotary: head_dim/4 frequencies for rows, the same for columns.
        let hd = self.cfg.head_dim();
        let sd = hd / 2;
        let inv: Vec<f32> = (0..sd)
            .step_by(2)
            .map(|i| 1.0 / (self.cfg.rope_theta() as f32).powf(i as f32 / sd as f32))
            .collect();
        let mut ang = Vec::with_capacity(n * sd);
        for _ in 0..t {
            for &(r, c) in &coords {
                ang.extend(inv.iter().map(|f| r as f32 * f));
                ang.extend(inv.iter().map(|f| c as f32 * f));
            }
        }
        let ang = Tensor::from_vec(ang, (n, sd), &self.device).op("vision rope")?;
        let (cos, sin) = rotate_half_cos_sin(&ang).op("vision rope")?;
        // (n, 1, hd) to broadcast over heads
        let cos = cos.unsqueeze(1).op("rope")?;
        let sin = sin.unsqueeze(1).op("rope")?;
        let heads = self.cfg.num_heads;
        let d = self.cfg.hidden_size;
        let frame = gh * gw;
        let mut deep = Vec::new();
        for (li, b) in self.blocks.iter().enumerate() {
            let h = b.norm1.forward(&x).op("norm1")?;
            let qkv = b
                .qkv
                .forward(&h)
                .op("qkv")?
                .reshape((n, 3, heads, hd))
                .op("qkv")?;
            let q = qkv.narrow(1, 0, 1).and_then(|q| q.squeeze(1)).op("q")?;
            let k = qkv.narrow(1, 1, 1).and_then(|q| q.squeeze(1)).op("k")?;
            let v = qkv.narrow(1, 2, 1).and_then(|q| q.squeeze(1)).op("v")?;
            let q = apply_rotary(&q, &cos, &sin).op("rope q")?;
            let k = apply_rotary(&k, &cos, &sin).op("rope k")?;
            // (heads, n, hd)
            let q = q.transpose(0, 1).and_then(|x| x.contiguous()).op("q")?;
            let k = k.transpose(0, 1).and_then(|x| x.contiguous()).op("k")?;
            let v = v.transpose(0, 1).and_then(|x| x.contiguous()).op("v")?;
            let scale = (hd as f64).powf(-0.5);
            let mut outs = Vec::with_capacity(t);
            for f in 0..t {
                let qf = q.narrow(1, f * frame, frame).op("frame")?;
                let kf = k.narrow(1, f * frame, frame).op("frame")?;
                let vf = v.narrow(1, f * frame, frame).op("frame")?;
                let att = (qf.matmul(&kf.t().op("kt")?).op("qk")? * scale).op("scale")?;
                let att = candle_nn::ops::softmax_last_dim(&att).op("softmax")?;
                outs.push(att.matmul(&vf).op("av")?);
            }
            let o = Tensor::cat(&outs, 1)
                .and_then(|o| o.transpose(0, 1))
                .and_then(|o| o.reshape((n, d)))
                .op("attn out")?;
            x = (x + b.proj.forward(&o).op("proj")?).op("residual")?;
            let h = b.norm2.forward(&x).op("norm2")?;
            let h = b.fc1.forward(&h).op("fc1")?;
            let h = self.act.apply(&h).op("act")?;
            x = (x + b.fc2.forward(&h).op("fc2")?).op("residual")?;
            if let Some(j) = self
                .cfg
                .deepstack_visual_indexes
                .iter()
                .position(|&i| i == li)
            {
                deep.push((
                    j,
                    self.deepstack[j]
                        .forward(&x, d * m * m)
                        .op("deepstack merger")?,
                ));
            }
        }
        deep.sort_by_key(|(j, _)| *j);
        let embeds = self.merger.forward(&x, d * m * m).op("merger")?;
        Ok(VisionOutput {
            embeds,
            deepstack: deep.into_iter().map(|(_, t)| t).collect(),
        })
    }
}
