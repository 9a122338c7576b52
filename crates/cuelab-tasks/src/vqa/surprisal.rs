//! Bits per token of the right answer given plain vs cued clips, per question type (seed 000's
//! "cues are a different language" hypothesis), from an in-process Qwen3-VL.
//!
//! Each question is shown as `ask --local` shows it (its frames as images, in order, the
//! question with its options), and the answer's tokens are teacher-forced after the prompt with
//! the model's own surprisal function (`Qwen3Vl::continuation_logprobs`, as `cuelab vlm
//! --surprisal`). The clip goes in as a sequence of images ([`clip_surprisal`]) or, with
//! [`clip_surprisal_with_video`], as one video through Qwen3-VL's video path (frame sampling,
//! temporal patches of 2 frames, timestamps), as `ask --local --video-input video` asks it.

use std::collections::BTreeMap;

use cuelab_cue::{load_rgb, Renderer};
use cuelab_models::qwen3_vl::ops::bits;
use cuelab_models::qwen3_vl::Qwen3Vl;
use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::config::VqaVariant;
use super::item::{ItemKind, VqaItem};
use crate::error::{Result, TaskError};

/// The surprisal of one question's answer under one variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurprisalRow {
    /// Question id.
    pub id: String,
    /// Variant id.
    pub variant: String,
    /// Question type.
    pub qtype: String,
    /// Answer tokens.
    pub tokens: usize,
    /// Total surprisal in bits.
    pub bits: f64,
    /// Bits per answer token.
    pub bits_per_token: f64,
}

/// Mean bits/token per (variant, question type), over the questions every variant answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurprisalCell {
    /// Variant label (the canonical cue).
    pub variant: String,
    /// Question type (`all` for every type).
    pub qtype: String,
    /// Questions.
    pub n: usize,
    /// Mean of the questions' bits/token.
    pub mean_bits_per_token: f64,
}

/// Draw `v` on every frame's targets.
fn cued(images: &[RgbImage], item: &VqaItem, v: &VqaVariant) -> Result<Vec<RgbImage>> {
    let mut out = Vec::with_capacity(images.len());
    for (k, img) in images.iter().enumerate() {
        let mut cur = img.clone();
        if !v.recipe.is_plain() {
            for t in item.targets.get(k).map(Vec::as_slice).unwrap_or(&[]) {
                cur = Renderer::new(&cur).render(&v.recipe, t)?;
            }
        }
        out.push(cur);
    }
    Ok(out)
}

/// Surprisal of every choice question's right answer under every variant (cued variants only
/// where the question has targets), and the per-type means over the questions that every
/// variant covers (so the cells compare the same questions).
pub fn clip_surprisal(
    model: &Qwen3Vl,
    items: &[VqaItem],
    variants: &[VqaVariant],
) -> Result<(Vec<SurprisalRow>, Vec<SurprisalCell>)> {
    clip_surprisal_with_video(model, items, variants, None)
}

/// [`clip_surprisal`] with each clip (two or more frames) given as one video playing at
/// `video_fps` frames per second (`None`: frames as images).
pub fn clip_surprisal_with_video(
    model: &Qwen3Vl,
    items: &[VqaItem],
    variants: &[VqaVariant],
    video_fps: Option<f64>,
) -> Result<(Vec<SurprisalRow>, Vec<SurprisalCell>)> {
    let mut rows = Vec::new();
    let model_err = |e: cuelab_models::Error| TaskError::Config(format!("model: {e}"));
    for item in items {
        if item.kind != ItemKind::Choice || !item.has_targets() {
            continue;
        }
        let Some(answer) = item.answer_index.and_then(|i| item.choices.get(i)) else {
            continue;
        };
        let images: Vec<RgbImage> = item
            .images
            .iter()
            .map(|p| load_rgb(p))
            .collect::<std::result::Result<_, _>>()?;
        let text = format!("{}\nOptions: {}", item.question, item.choices.join(", "));
        let ids = model.encode(answer).map_err(model_err)?;
        if ids.is_empty() {
            continue;
        }
        for v in variants {
            let frames = cued(&images, item, v)?;
            let prepared = match video_fps {
                Some(fps) if frames.len() > 1 => {
                    model.prepare_video_chat(None, &frames, fps, &text)
                }
                _ => model.prepare_chat(&frames, &text),
            }
            .map_err(model_err)?;
            let lp = model
                .continuation_logprobs(&prepared, &ids)
                .map_err(model_err)?;
            let b: f64 = bits(&lp).iter().sum();
            rows.push(SurprisalRow {
                id: item.id.clone(),
                variant: v.id.clone(),
                qtype: item.qtype.clone(),
                tokens: ids.len(),
                bits: b,
                bits_per_token: b / ids.len() as f64,
            });
        }
    }
    let mut cells: BTreeMap<(usize, String), (usize, f64)> = BTreeMap::new();
    for (vi, v) in variants.iter().enumerate() {
        for r in rows.iter().filter(|r| r.variant == v.id) {
            for q in [r.qtype.clone(), "all".to_string()] {
                let c = cells.entry((vi, q)).or_default();
                c.0 += 1;
                c.1 += r.bits_per_token;
            }
        }
    }
    let summary = cells
        .into_iter()
        .map(|((vi, qtype), (n, sum))| SurprisalCell {
            variant: variants[vi].label.clone(),
            qtype,
            n,
            mean_bits_per_token: sum / n as f64,
        })
        .collect();
    Ok((rows, summary))
}
