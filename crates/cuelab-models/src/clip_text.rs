//! CLIP's text tower, shared by the Hugging Face layout ([`crate::clip_vit`]) and the OpenAI /
//! open_clip state-dict layout ([`crate::open_clip`]): token embeddings plus learned absolute
//! positions, a causal pre-norm transformer, the final LayerNorm, one pooled position per row (the
//! end-of-text token), and a projection without bias into the shared image-text space.
//!
//! Both layouts hold the same numbers under other names; only the loaders differ
//! ([`ClipTextTower::load_hf`], [`ClipTextTower::load_openai`]).

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear};

use crate::error::{Error, Result, TensorContext};
use crate::transformer::{causal_mask, Act, Encoder, EncoderShape, Loader};

/// Sizes of a CLIP text tower.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClipTextShape {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Context length (learned positions).
    pub context: usize,
    /// Width of the residual stream.
    pub width: usize,
    /// Transformer blocks.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// MLP width.
    pub ff: usize,
    /// Layer-norm epsilon.
    pub eps: f64,
    /// Feed-forward activation.
    pub act: Act,
    /// Width of the projected embedding.
    pub embed_dim: usize,
}

/// Which position of each row is pooled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pooling {
    /// The first occurrence of this end-of-text id (transformers with a modern config), falling
    /// back to the arg-max when a row has none.
    FirstEos(u32),
    /// The first largest id (OpenAI CLIP: the end-of-text token has the highest id).
    ArgMax,
}

/// A loaded CLIP text tower.
#[derive(Debug)]
pub(crate) struct ClipTextTower {
    token_embedding: Embedding,
    positions: Tensor,
    encoder: Encoder,
    final_norm: LayerNorm,
    projection: Linear,
    causal: Tensor,
    shape: ClipTextShape,
    pooling: Pooling,
    device: Device,
}

impl ClipTextTower {
    /// Load from the Hugging Face `CLIPModel` names (`text_model.embeddings...`,
    /// `text_model.encoder.layers.N...`, `text_model.final_layer_norm`, `text_projection`).
    pub fn load_hf(l: &Loader, s: &ClipTextShape, pooling: Pooling) -> Result<Self> {
        let token_embedding = l.t(
            "text_model.embeddings.token_embedding.weight",
            &[s.vocab_size, s.width],
        )?;
        let positions = l.t(
            "text_model.embeddings.position_embedding.weight",
            &[s.context, s.width],
        )?;
        let encoder = Encoder::load_clip(l, "text_model.encoder.layers", &encoder_shape(s))?;
        let final_norm = l.norm("text_model.final_layer_norm", s.width, s.eps)?;
        let projection = l.linear_no_bias("text_projection", s.width, s.embed_dim)?;
        Self::assemble(
            l,
            s,
            pooling,
            [token_embedding, positions],
            encoder,
            final_norm,
            projection,
        )
    }

    /// Load from the OpenAI / open_clip state-dict names (`token_embedding`,
    /// `positional_embedding`, `transformer.resblocks.N...`, `ln_final`, `text_projection` stored
    /// as `(width, embed)` for `x @ P`); pooled at the arg-max id.
    pub fn load_openai(l: &Loader, s: &ClipTextShape) -> Result<Self> {
        let token_embedding = l.t("token_embedding.weight", &[s.vocab_size, s.width])?;
        let positions = l.t("positional_embedding", &[s.context, s.width])?;
        let encoder = Encoder::load_openai(l, "transformer.resblocks", &encoder_shape(s))?;
        let final_norm = l.norm("ln_final", s.width, s.eps)?;
        // Stored as (in, out) for `x @ P`: its transpose is the linear weight, already in the
        // layout `gemm_linear` would make.
        let proj = l
            .t("text_projection", &[s.width, s.embed_dim])?
            .t()
            .op("text_projection")?;
        Self::assemble(
            l,
            s,
            Pooling::ArgMax,
            [token_embedding, positions],
            encoder,
            final_norm,
            Linear::new(proj, None),
        )
    }

    fn assemble(
        l: &Loader,
        s: &ClipTextShape,
        pooling: Pooling,
        [token_embedding, positions]: [Tensor; 2],
        encoder: Encoder,
        final_norm: LayerNorm,
        projection: Linear,
    ) -> Result<Self> {
        Ok(ClipTextTower {
            token_embedding: Embedding::new(token_embedding, s.width),
            positions,
            encoder,
            final_norm,
            projection,
            causal: causal_mask(s.context, l.device).op("causal mask")?,
            shape: *s,
            pooling,
            device: l.device.clone(),
        })
    }

    /// Text embeddings (projected, not normalised) of a padded `rows x len` id batch.
    pub fn encode_ids(&self, ids: &[u32], rows: usize, len: usize) -> Result<Vec<Vec<f32>>> {
        if rows == 0 {
            return Ok(Vec::new());
        }
        let s = &self.shape;
        if len == 0 || len > s.context || ids.len() != rows * len {
            return Err(Error::Invalid(format!(
                "token batch {rows}x{len} does not fit the context of {}",
                s.context
            )));
        }
        if let Some(&bad) = ids.iter().find(|&&t| t as usize >= s.vocab_size) {
            return Err(Error::Invalid(format!(
                "token id {bad} is outside the vocabulary of {}",
                s.vocab_size
            )));
        }
        let index: Vec<u32> = (0..rows)
            .map(|r| (r * len + self.pooled_position(&ids[r * len..(r + 1) * len])) as u32)
            .collect();
        let input = Tensor::from_slice(ids, (rows, len), &self.device).op("token ids")?;
        let index = Tensor::from_slice(&index, rows, &self.device).op("pool index")?;
        self.forward(&input, len)
            .and_then(|h| h.reshape((rows * len, s.width)))
            .and_then(|h| h.index_select(&index, 0))
            .and_then(|h| self.projection.forward(&h))
            .and_then(|h| h.to_dtype(DType::F32))
            .and_then(|h| h.to_vec2::<f32>())
            .op("text tower")
    }

    /// The position of `row` whose hidden state is pooled.
    fn pooled_position(&self, row: &[u32]) -> usize {
        match self.pooling {
            Pooling::FirstEos(eos) => row.iter().position(|&t| t == eos),
            Pooling::ArgMax => None,
        }
        .unwrap_or_else(|| first_argmax(row))
    }

    /// Hidden states after the final LayerNorm, `(rows, len, width)`.
    fn forward(&self, ids: &Tensor, len: usize) -> candle_core::Result<Tensor> {
        let pos = self.positions.narrow(0, 0, len)?;
        let h = self.token_embedding.forward(ids)?.broadcast_add(&pos)?;
        let mask = self
            .causal
            .narrow(0, 0, len)?
            .narrow(1, 0, len)?
            .contiguous()?;
        self.encoder
            .forward(&h, Some(&mask))?
            .apply(&self.final_norm)
    }
}

fn encoder_shape(s: &ClipTextShape) -> EncoderShape {
    EncoderShape {
        layers: s.layers,
        d: s.width,
        ff: s.ff,
        heads: s.heads,
        eps: s.eps,
        act: s.act,
    }
}

/// Index of the first largest id in a row (the end-of-text token, the highest id in CLIP's vocab).
fn first_argmax(row: &[u32]) -> usize {
    let mut best = 0;
    for (i, &t) in row.iter().enumerate() {
        if t > row[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::first_argmax;

    #[test]
    fn argmax_takes_the_first_largest() {
        assert_eq!(first_argmax(&[3, 9, 1, 9]), 1);
        assert_eq!(first_argmax(&[0]), 0);
    }
}
