//! The Qwen3 language decoder of Qwen3-VL: RMSNorm pre-norm layers, grouped-query attention with
//! per-head q/k RMSNorm and interleaved MRoPE, SwiGLU MLP, deepstack visual features added to the
//! image positions after the first layers, a key/value cache, and optional capture of the
//! attention probabilities of chosen layers.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::Linear;

use super::config::TextConfig;
use super::rope::{apply_rotary, TextRope};
use crate::error::{Result, TensorContext};
use crate::transformer::Loader;

struct Layer {
    ln1: Tensor,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    q_norm: Tensor,
    k_norm: Tensor,
    ln2: Tensor,
    gate: Linear,
    up: Linear,
    down: Linear,
}

/// Keys and values of every layer for the tokens seen so far (batch 1).
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
    len: usize,
}

impl KvCache {
    /// Number of cached positions.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Visual features to add after the first decoder layers (deepstack).
pub(crate) struct Deepstack<'a> {
    /// Sequence positions of the image tokens, in order.
    pub positions: &'a Tensor,
    /// One `(image tokens, hidden)` tensor per level; level `l` is added after layer `l`.
    pub features: &'a [Tensor],
}

/// The decoder.
pub struct TextDecoder {
    cfg: TextConfig,
    embed: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    lm_head: Tensor,
    rope: TextRope,
    device: Device,
}

impl std::fmt::Debug for TextDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextDecoder")
            .field("layers", &self.layers.len())
            .finish()
    }
}

fn rms(x: &Tensor, w: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    candle_nn::ops::rms_norm(&x.contiguous()?, w, eps as f32)
}

impl TextDecoder {
    /// Load under `prefix` (`model.language_model`); `lm_head` is `head` or the embedding if tied.
    pub(crate) fn load(
        l: &Loader,
        prefix: &str,
        head: Option<&str>,
        cfg: &TextConfig,
    ) -> Result<Self> {
        let d = cfg.hidden_size;
        let hd = cfg.head_dim();
        let (nh, nkv) = (cfg.num_attention_heads, cfg.kv_heads());
        let ff = cfg.intermediate_size;
        let lin = |p: &str, i: usize, o: usize| -> Result<Linear> {
            if cfg.attention_bias {
                l.linear(p, i, o)
            } else {
                l.linear_no_bias(p, i, o)
            }
        };
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let p = format!("{prefix}.layers.{i}");
            layers.push(Layer {
                ln1: l.t(&format!("{p}.input_layernorm.weight"), &[d])?,
                q: lin(&format!("{p}.self_attn.q_proj"), d, nh * hd)?,
                k: lin(&format!("{p}.self_attn.k_proj"), d, nkv * hd)?,
                v: lin(&format!("{p}.self_attn.v_proj"), d, nkv * hd)?,
                o: lin(&format!("{p}.self_attn.o_proj"), nh * hd, d)?,
                q_norm: l.t(&format!("{p}.self_attn.q_norm.weight"), &[hd])?,
                k_norm: l.t(&format!("{p}.self_attn.k_norm.weight"), &[hd])?,
                ln2: l.t(&format!("{p}.post_attention_layernorm.weight"), &[d])?,
                gate: l.linear_no_bias(&format!("{p}.mlp.gate_proj"), d, ff)?,
                up: l.linear_no_bias(&format!("{p}.mlp.up_proj"), d, ff)?,
                down: l.linear_no_bias(&format!("{p}.mlp.down_proj"), ff, d)?,
            });
        }
        let embed = l.t(
            &format!("{prefix}.embed_tokens.weight"),
            &[cfg.vocab_size, d],
        )?;
        let lm_head = match head {
            Some(h) => l.t(h, &[cfg.vocab_size, d])?,
            None => embed.clone(),
        };
        Ok(TextDecoder {
            cfg: cfg.clone(),
            embed,
            layers,
            norm: l.t(&format!("{prefix}.norm.weight"), &[d])?,
            lm_head,
            rope: TextRope::new(hd, cfg.rope_theta(), &cfg.mrope_section()),
            device: l.device.clone(),
        })
    }

    /// Number of layers.
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Query heads.
    pub fn num_heads(&self) -> usize {
        self.cfg.num_attention_heads
    }

    /// Token embeddings `(n, hidden)`.
    pub fn embed(&self, ids: &[u32]) -> Result<Tensor> {
        let idx = Tensor::new(ids, &self.device).op("ids")?;
        self.embed.index_select(&idx, 0).op("embed")
    }

    /// Logits `(n, vocab)` from final hidden states `(n, hidden)`.
    pub fn logits(&self, h: &Tensor) -> Result<Tensor> {
        h.matmul(&self.lm_head.t().op("lm_head")?).op("lm_head")
    }

    /// Run `x` (`(n, hidden)`) at positions `pos` after what `cache` holds; returns the normed
    /// hidden states and, for each layer in `capture`, its attention probabilities
    /// `(heads, n, cache + n)`.
    pub(crate) fn forward(
        &self,
        x: &Tensor,
        pos: &[Vec<i64>; 3],
        cache: &mut KvCache,
        deepstack: Option<Deepstack<'_>>,
        capture: &[usize],
    ) -> Result<(Tensor, Vec<(usize, Tensor)>)> {
        let n = x.dim(0).op("seq")?;
        let hd = self.cfg.head_dim();
        let (nh, nkv) = (self.cfg.num_attention_heads, self.cfg.kv_heads());
        let rep = nh / nkv;
        let eps = self.cfg.rms_norm_eps;
        let (cos, sin) = self.rope.cos_sin(pos, &self.device).op("rope")?;
        // (1, n, hd) broadcast over heads laid out as (heads, n, hd)
        let cos = cos.unsqueeze(0).op("rope")?;
        let sin = sin.unsqueeze(0).op("rope")?;
        if cache.layers.len() != self.layers.len() {
            cache.layers = vec![None; self.layers.len()];
        }
        let past = cache.len;
        let total = past + n;
        let mask = if n > 1 {
            let m: Vec<f32> = (0..n)
                .flat_map(|i| {
                    (0..total).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 })
                })
                .collect();
            Some(Tensor::from_vec(m, (1, n, total), &self.device).op("mask")?)
        } else {
            None
        };
        let scale = (hd as f64).powf(-0.5);
        let mut h = x.clone();
        let mut captured = Vec::new();
        for (li, layer) in self.layers.iter().enumerate() {
            let a = rms(&h, &layer.ln1, eps).op("input norm")?;
            let q = layer
                .q
                .forward(&a)
                .and_then(|q| q.reshape((n, nh, hd)))
                .op("q")?;
            let k = layer
                .k
                .forward(&a)
                .and_then(|k| k.reshape((n, nkv, hd)))
                .op("k")?;
            let v = layer
                .v
                .forward(&a)
                .and_then(|v| v.reshape((n, nkv, hd)))
                .op("v")?;
            let q = rms(&q, &layer.q_norm, eps)
                .and_then(|q| q.transpose(0, 1))
                .op("q norm")?;
            let k = rms(&k, &layer.k_norm, eps)
                .and_then(|k| k.transpose(0, 1))
                .op("k norm")?;
            let v = v.transpose(0, 1).op("v")?;
            let q = apply_rotary(&q.contiguous().op("q")?, &cos, &sin).op("rope q")?;
            let k = apply_rotary(&k.contiguous().op("k")?, &cos, &sin).op("rope k")?;
            let (k, v) = match &cache.layers[li] {
                Some((pk, pv)) => (
                    Tensor::cat(&[pk, &k], 1).op("cache k")?,
                    Tensor::cat(&[pv, &v.contiguous().op("v")?], 1).op("cache v")?,
                ),
                None => (k, v.contiguous().op("v")?),
            };
            cache.layers[li] = Some((k.clone(), v.clone()));
            let expand = |t: &Tensor| -> candle_core::Result<Tensor> {
                if rep == 1 {
                    return Ok(t.clone());
                }
                t.unsqueeze(1)?
                    .broadcast_as((nkv, rep, total, hd))?
                    .reshape((nh, total, hd))
            };
            let k = expand(&k).op("gqa k")?;
            let v = expand(&v).op("gqa v")?;
            let mut att = (q.matmul(&k.t().op("kt")?).op("qk")? * scale).op("scale")?;
            if let Some(m) = &mask {
                att = att.broadcast_add(m).op("mask")?;
            }
            let att = candle_nn::ops::softmax_last_dim(&att).op("softmax")?;
            if capture.contains(&li) {
                captured.push((li, att.clone()));
            }
            let o = att
                .matmul(&v)
                .and_then(|o| o.transpose(0, 1))
                .and_then(|o| o.reshape((n, nh * hd)))
                .op("attn out")?;
            h = (h + layer.o.forward(&o).op("o_proj")?).op("residual")?;
            let a = rms(&h, &layer.ln2, eps).op("post norm")?;
            let g = layer.gate.forward(&a).and_then(|g| g.silu()).op("gate")?;
            let u = layer.up.forward(&a).op("up")?;
            h = (h + layer.down.forward(&(g * u).op("swiglu")?).op("down")?).op("residual")?;
            if let Some(ds) = &deepstack {
                if let Some(f) = ds.features.get(li) {
                    h = h.index_add(ds.positions, f, 0).op("deepstack")?;
                }
            }
        }
        cache.len = total;
        let h = rms(&h, &self.norm, eps).op("final norm")?;
        Ok((h, captured))
    }

    /// Data type of the weights.
    pub fn dtype(&self) -> DType {
        self.embed.dtype()
    }
}
