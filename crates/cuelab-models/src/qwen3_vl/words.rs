//! Per-word attention over the image: for each generated token, the attention of the query that
//! produced it (the last prompt position for the first token, the previous token's position for
//! the others — what `generate(output_attentions=True)` returns) over the image tokens, on the
//! merged patch grid; byte-level BPE pieces merged into words; a strip of per-word heatmaps.
//!
//! * Raw attention: probabilities averaged over the chosen layers and heads (all heads by
//!   default).
//! * Rollout (Abnar & Zuidema 2020): per layer of the range, the head mean (or chosen heads)
//!   `A`, then `0.5 A + 0.5 I` with rows renormalised; the product from the first layer of the
//!   range to the last; the produced token's row over the image tokens.
//! * Words: a token whose piece starts with the byte-level space marker `Ġ` (or a space) starts
//!   a new word; stop and other special tokens are left out. A word's map is the sum (default)
//!   or the mean of its pieces' maps.
//!
//! The maps come from one teacher-forced pass over prompt + tokens (identical to the
//! incremental steps under the causal mask).

use candle_core::{DType, Tensor};
use image::{imageops, Rgb, RgbImage};
use serde::{Deserialize, Serialize};

use super::{Prepared, Qwen3Vl};
use crate::error::{Error, Result, TensorContext};

/// How a word's map is made from its pieces' maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WordAggregate {
    /// Sum of the pieces' maps.
    #[default]
    Sum,
    /// Mean of the pieces' maps.
    Mean,
}

impl std::str::FromStr for WordAggregate {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "sum" => Ok(WordAggregate::Sum),
            "mean" => Ok(WordAggregate::Mean),
            _ => Err(format!("word aggregate {s:?}: expected sum or mean")),
        }
    }
}

/// What attention to read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WordAttentionOptions {
    /// Decoder layers (raw: averaged; rollout: multiplied in order). Empty: every layer.
    pub layers: Vec<usize>,
    /// Heads (all when `None`).
    pub heads: Option<Vec<usize>>,
    /// Attention rollout instead of raw attention.
    pub rollout: bool,
    /// Sum or mean of a word's pieces.
    pub aggregate: WordAggregate,
}

impl Default for WordAttentionOptions {
    fn default() -> Self {
        WordAttentionOptions {
            layers: Vec::new(),
            heads: None,
            rollout: false,
            aggregate: WordAggregate::Sum,
        }
    }
}

/// One word of a generated text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    /// The word as decoded (trimmed).
    pub text: String,
    /// Indices of its tokens among the generated tokens.
    pub tokens: std::ops::Range<usize>,
}

/// Per-token and per-word maps over one image's merged patch grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WordAttention {
    /// Merged grid `(rows, cols)`.
    pub grid: (usize, usize),
    /// One map per generated token (row-major over the grid).
    pub token_maps: Vec<Vec<f32>>,
    /// The words.
    pub words: Vec<Word>,
    /// One map per word.
    pub word_maps: Vec<Vec<f32>>,
}

/// Group generated tokens into words from their BPE pieces (see the module docs); tokens in
/// `skip` (stop and special ids) belong to no word.
pub fn group_words(pieces: &[String], texts: &[String], skip: &[bool]) -> Vec<Word> {
    let mut words: Vec<Word> = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    let flush = |cur: &mut Option<(usize, usize)>, words: &mut Vec<Word>| {
        if let Some((a, b)) = cur.take() {
            let text: String = texts[a..b].concat().trim().to_string();
            if !text.is_empty() {
                words.push(Word { text, tokens: a..b });
            }
        }
    };
    for (i, piece) in pieces.iter().enumerate() {
        if skip[i] {
            flush(&mut current, &mut words);
            continue;
        }
        let starts = piece.starts_with('Ġ') || piece.starts_with(' ') || piece.starts_with('▁');
        match current {
            Some((a, _)) if !starts => current = Some((a, i + 1)),
            _ => {
                flush(&mut current, &mut words);
                current = Some((i, i + 1));
            }
        }
    }
    flush(&mut current, &mut words);
    words
}

/// Word maps from token maps.
pub fn aggregate(token_maps: &[Vec<f32>], words: &[Word], how: WordAggregate) -> Vec<Vec<f32>> {
    words
        .iter()
        .map(|w| {
            let n = token_maps.first().map(Vec::len).unwrap_or(0);
            let mut acc = vec![0f32; n];
            for m in &token_maps[w.tokens.clone()] {
                for (a, v) in acc.iter_mut().zip(m) {
                    *a += v;
                }
            }
            if how == WordAggregate::Mean && !w.tokens.is_empty() {
                let k = w.tokens.len() as f32;
                acc.iter_mut().for_each(|a| *a /= k);
            }
            acc
        })
        .collect()
}

fn head_mean(a: &Tensor, heads: Option<&[usize]>) -> Result<Vec<Vec<f64>>> {
    let v = a
        .to_dtype(DType::F32)
        .and_then(|a| a.to_vec3::<f32>())
        .op("attention to host")?;
    let nh = v.len();
    let hs: Vec<usize> = heads.map(<[usize]>::to_vec).unwrap_or((0..nh).collect());
    if let Some(&h) = hs.iter().find(|&&h| h >= nh) {
        return Err(Error::Invalid(format!(
            "head {h} out of range (model has {nh})"
        )));
    }
    let (nq, nk) = (v[0].len(), v[0].first().map(Vec::len).unwrap_or(0));
    let mut out = vec![vec![0f64; nk]; nq];
    for &h in &hs {
        for (q, row) in out.iter_mut().enumerate() {
            for (k, x) in row.iter_mut().enumerate() {
                *x += v[h][q][k] as f64 / hs.len() as f64;
            }
        }
    }
    Ok(out)
}

impl Qwen3Vl {
    /// Attention maps over the first image of `p` for each of `tokens` (generated after `p`),
    /// grouped into words (see the module docs).
    pub fn word_attention(
        &self,
        p: &Prepared,
        tokens: &[u32],
        opts: &WordAttentionOptions,
    ) -> Result<WordAttention> {
        let span = *p
            .spans
            .first()
            .ok_or_else(|| Error::Invalid("the prompt has no image".into()))?;
        if tokens.is_empty() {
            return Err(Error::Invalid("no generated tokens".into()));
        }
        let nl = self.num_layers();
        let layers: Vec<usize> = if opts.layers.is_empty() {
            (0..nl).collect()
        } else {
            opts.layers.clone()
        };
        if let Some(&l) = layers.iter().find(|&&l| l >= nl) {
            return Err(Error::Invalid(format!(
                "layer {l} out of range (model has {nl})"
            )));
        }
        let full = p.with_suffix(&tokens[..tokens.len() - 1]);
        let (_, _, captured) = self.prefill(&full, &layers)?;
        let first_q = p.ids.len() - 1;
        let queries = first_q..first_q + tokens.len();
        let token_maps: Vec<Vec<f32>> = if opts.rollout {
            let mut sorted = captured;
            sorted.sort_by_key(|(l, _)| *l);
            // rows of the produced tokens, propagated from the last layer down to the first
            let len = full.ids.len();
            let mut rows: Vec<Vec<f64>> = queries
                .clone()
                .map(|q| {
                    let mut r = vec![0f64; len];
                    r[q] = 1.0;
                    r
                })
                .collect();
            for (_, a) in sorted.iter().rev() {
                let m = head_mean(a, opts.heads.as_deref())?;
                let mut next = vec![vec![0f64; len]; rows.len()];
                for (r, out) in rows.iter().zip(next.iter_mut()) {
                    for (i, &ri) in r.iter().enumerate() {
                        if ri == 0.0 {
                            continue;
                        }
                        // row i of 0.5 A + 0.5 I, renormalised (rows of A sum to 1)
                        let z: f64 = m[i].iter().sum::<f64>() * 0.5 + 0.5;
                        for (k, o) in out.iter_mut().enumerate().take(i + 1) {
                            let mut v = 0.5 * m[i][k];
                            if k == i {
                                v += 0.5;
                            }
                            *o += ri * v / z;
                        }
                    }
                }
                rows = next;
            }
            rows.iter()
                .map(|r| {
                    r[span.start..span.start + span.len]
                        .iter()
                        .map(|&x| x as f32)
                        .collect()
                })
                .collect()
        } else {
            queries
                .map(|q| {
                    super::ops::image_attention_map(
                        &captured,
                        &layers,
                        opts.heads.as_deref(),
                        q..q + 1,
                        &span,
                    )
                })
                .collect::<Result<_>>()?
        };
        let tok = self.tokenizer();
        let pieces: Vec<String> = tokens
            .iter()
            .map(|&t| tok.id_to_token(t).unwrap_or_default())
            .collect();
        let texts: Vec<String> = tokens
            .iter()
            .map(|&t| tok.decode(&[t], true).unwrap_or_default())
            .collect();
        let special: Vec<bool> = tokens
            .iter()
            .zip(&texts)
            .map(|(t, s)| self.stop_tokens().contains(t) || s.is_empty())
            .collect();
        let words = group_words(&pieces, &texts, &special);
        let word_maps = aggregate(&token_maps, &words, opts.aggregate);
        Ok(WordAttention {
            grid: span.grid,
            token_maps,
            words,
            word_maps,
        })
    }
}

/// A strip of per-word heatmaps over `img`: one tile per word (the image scaled to `tile_h`
/// pixels high with the word's map overlaid), the word written under it.
pub fn word_strip(img: &RgbImage, att: &WordAttention, tile_h: u32) -> Result<RgbImage> {
    let n = att.words.len().max(1) as u32;
    let tile_w =
        ((img.width() as f64 * tile_h as f64 / img.height().max(1) as f64).round() as u32).max(1);
    let label_h = 22u32;
    let gap = 4u32;
    let mut out = RgbImage::from_pixel(
        n * tile_w + (n + 1) * gap,
        tile_h + label_h + 2 * gap,
        Rgb([255, 255, 255]),
    );
    let small = imageops::resize(img, tile_w, tile_h, imageops::FilterType::Triangle);
    for (i, (w, map)) in att.words.iter().zip(&att.word_maps).enumerate() {
        let tile = super::heatmap::overlay(&small, map, att.grid, 0.5)?;
        let x = gap + i as u32 * (tile_w + gap);
        imageops::replace(&mut out, &tile, i64::from(x), i64::from(gap));
        let mut label = w.text.clone();
        while cuelab_cue::text::measure(&label, 14.0).0 > tile_w as f32 && label.chars().count() > 1
        {
            label.pop();
        }
        let (lw, _) = cuelab_cue::text::measure(&label, 14.0);
        cuelab_cue::text::draw_text(
            &mut out,
            &label,
            x as f32 + (tile_w as f32 - lw) / 2.0,
            (tile_h + gap + 3) as f32,
            14.0,
            cuelab_cue::Color::rgb(0, 0, 0),
            1.0,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_merge_into_words() {
        let pieces: Vec<String> = ["A", "Ġbrown", "Ġdo", "g", ".", "<|im_end|>"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let texts: Vec<String> = ["A", " brown", " do", "g", ".", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let skip = [false, false, false, false, false, true];
        let w = group_words(&pieces, &texts, &skip);
        let got: Vec<(&str, std::ops::Range<usize>)> = w
            .iter()
            .map(|w| (w.text.as_str(), w.tokens.clone()))
            .collect();
        assert_eq!(got, vec![("A", 0..1), ("brown", 1..2), ("dog.", 2..5)]);
        let maps = vec![vec![1.0, 0.0]; 6];
        let s = aggregate(&maps, &w, WordAggregate::Sum);
        assert_eq!(s[2], vec![3.0, 0.0]);
        let m = aggregate(&maps, &w, WordAggregate::Mean);
        assert_eq!(m[2], vec![1.0, 0.0]);
    }
}
