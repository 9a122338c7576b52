//! Decoding settings with transformers' `generate` semantics, the logits processors in
//! transformers' order, and greedy / sampled decoding with them.
//!
//! Processors, applied to the next-token scores in this order (as `_get_logits_processor` builds
//! them): repetition penalty (over every id of the sequence so far, prompt included: scores
//! below zero are multiplied by the penalty, the others divided), no-repeat n-gram (an n-gram of
//! the sequence so far, prompt included, may not be completed twice); then, only when sampling,
//! the warpers: temperature, top-k (ties with the k-th score kept), top-p (the smallest set of
//! the most likely tokens whose mass exceeds `top_p`, at least one kept). Greedy decoding takes
//! the arg-max of the processed scores, sampling draws from their softmax with a seeded
//! SplitMix64 (not torch's generator, so sampled tokens differ from transformers'; the processed
//! distribution is the same). Beam search lives in [`super::beam`]; [`Qwen3Vl::generate_with`]
//! runs any of the three.
//!
//! Unset fields are *off* (transformers' defaults of `top_k = 50` and the checkpoint's
//! `generation_config.json` sampling values are not applied), so a configuration means the same
//! thing on every checkpoint.

use serde::{Deserialize, Serialize};

use super::ops::{log_softmax, Generation};
use super::{Prepared, Qwen3Vl};
use crate::error::{Error, Result, TensorContext};

/// transformers' `early_stopping` of beam search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EarlyStopping {
    /// `False` (the default): stop when the best running beam, scored at the current length,
    /// cannot beat the worst finished one.
    #[default]
    Heuristic,
    /// `True`: stop as soon as `num_beams` hypotheses are finished.
    Always,
    /// `"never"`: the canonical beam search bound (with a positive length penalty, the best
    /// running beam is scored at the maximum length).
    Never,
}

impl std::str::FromStr for EarlyStopping {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "false" | "heuristic" => Ok(EarlyStopping::Heuristic),
            "true" | "always" => Ok(EarlyStopping::Always),
            "never" => Ok(EarlyStopping::Never),
            _ => Err(format!(
                "early_stopping {s:?}: expected true, false or never"
            )),
        }
    }
}

/// How to decode: greedy, sampling or beam search, with transformers' meaning of every field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecodeOptions {
    /// Upper bound on new tokens (`max_new_tokens`).
    pub max_new_tokens: usize,
    /// Beams (1 = greedy or sampling).
    pub num_beams: usize,
    /// Finished beams are scored `sum logprob / length ^ length_penalty` (length counts the
    /// generated tokens, the stop token included).
    pub length_penalty: f64,
    /// When beam search stops.
    pub early_stopping: EarlyStopping,
    /// Ban repeating n-grams of this size (0 = off).
    pub no_repeat_ngram_size: usize,
    /// Sample instead of taking the arg-max.
    pub do_sample: bool,
    /// Sampling temperature (1.0 = off).
    pub temperature: f64,
    /// Top-k filter (0 = off).
    pub top_k: usize,
    /// Top-p (nucleus) filter (1.0 = off).
    pub top_p: f64,
    /// Repetition penalty (1.0 = off).
    pub repetition_penalty: f64,
    /// Seed of the sampler.
    pub seed: u64,
    /// Extra stop ids (the model's own stop tokens always apply).
    pub stop: Vec<u32>,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_new_tokens: 64,
            num_beams: 1,
            length_penalty: 1.0,
            early_stopping: EarlyStopping::Heuristic,
            no_repeat_ngram_size: 0,
            do_sample: false,
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            repetition_penalty: 1.0,
            seed: 0,
            stop: Vec::new(),
        }
    }
}

impl DecodeOptions {
    /// Check the values (the ranges transformers accepts).
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Invalid(m));
        if self.max_new_tokens == 0 {
            return bad("max_new_tokens must be at least 1".into());
        }
        if self.num_beams == 0 {
            return bad("num_beams must be at least 1".into());
        }
        if self.num_beams > 1 && self.do_sample {
            return bad("beam search with sampling is not supported; use one or the other".into());
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return bad(format!(
                "temperature must be a positive number, not {}",
                self.temperature
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad(format!("top_p must be in (0, 1], not {}", self.top_p));
        }
        if !(self.repetition_penalty.is_finite() && self.repetition_penalty > 0.0) {
            return bad(format!(
                "repetition_penalty must be a positive number, not {}",
                self.repetition_penalty
            ));
        }
        if !self.length_penalty.is_finite() {
            return bad("length_penalty must be finite".into());
        }
        Ok(())
    }
}

/// Repetition penalty over `history` (each distinct id once), in place.
pub fn repetition_penalty(history: &[u32], scores: &mut [f32], penalty: f64) {
    if penalty == 1.0 {
        return;
    }
    let p = penalty as f32;
    let mut seen = vec![false; scores.len()];
    for &t in history {
        let t = t as usize;
        if t < scores.len() && !seen[t] {
            seen[t] = true;
            let s = scores[t];
            scores[t] = if s < 0.0 { s * p } else { s / p };
        }
    }
}

/// No-repeat n-gram ban over `history`, in place: every token that would complete an n-gram
/// already present gets `-inf`.
pub fn no_repeat_ngram(history: &[u32], scores: &mut [f32], n: usize) {
    if n == 0 || history.len() < n {
        return;
    }
    let cur = history.len();
    let prefix = &history[cur + 1 - n..];
    for start in 0..=cur - n {
        if history[start..start + n - 1] == *prefix {
            let t = history[start + n - 1] as usize;
            if t < scores.len() {
                scores[t] = f32::NEG_INFINITY;
            }
        }
    }
}

/// Temperature, in place (scores divided by it).
pub fn temperature(scores: &mut [f32], t: f64) {
    if t == 1.0 {
        return;
    }
    let t = t as f32;
    for s in scores.iter_mut() {
        *s /= t;
    }
}

/// Top-k filter, in place: scores below the k-th largest become `-inf` (ties kept); `k = 0`
/// is off.
pub fn top_k(scores: &mut [f32], k: usize, min_keep: usize) {
    if k == 0 {
        return;
    }
    let k = k.max(min_keep);
    if k >= scores.len() {
        return;
    }
    let mut sorted: Vec<f32> = scores.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let kth = sorted[k - 1];
    for s in scores.iter_mut() {
        if *s < kth {
            *s = f32::NEG_INFINITY;
        }
    }
}

/// Top-p filter, in place, as transformers computes it: sort ascending, softmax, cumulative sum;
/// tokens whose cumulative mass is at most `1 - top_p` become `-inf` (the `min_keep` most
/// likely are always kept).
pub fn top_p(scores: &mut [f32], p: f64, min_keep: usize) {
    if p >= 1.0 {
        return;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let m = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = order.iter().map(|&i| (scores[i] - m).exp()).collect();
    let z: f32 = exps.iter().sum();
    let threshold = (1.0 - p) as f32;
    let mut cum = 0f32;
    let n = order.len();
    let mut remove = Vec::new();
    for (rank, (&i, e)) in order.iter().zip(&exps).enumerate() {
        cum += e / z;
        if cum <= threshold && rank < n.saturating_sub(min_keep) {
            remove.push(i);
        }
    }
    for i in remove {
        scores[i] = f32::NEG_INFINITY;
    }
}

/// The processors (and, when sampling, the warpers) applied to one row of next-token scores
/// given the sequence so far (`history`, prompt included), in transformers' order.
pub fn process_scores(history: &[u32], scores: &mut [f32], opts: &DecodeOptions) {
    repetition_penalty(history, scores, opts.repetition_penalty);
    no_repeat_ngram(history, scores, opts.no_repeat_ngram_size);
    if opts.do_sample {
        temperature(scores, opts.temperature);
        top_k(scores, opts.top_k, 1);
        top_p(scores, opts.top_p, 1);
    }
}

/// Softmax of processed scores (`-inf` entries get probability 0), in f64.
pub fn softmax(scores: &[f32]) -> Vec<f64> {
    let lp = log_softmax(scores);
    lp.iter().map(|l| l.exp()).collect()
}

/// SplitMix64, the sampler's seeded generator.
#[derive(Debug, Clone)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// A uniform draw in `[0, 1)` (53 bits).
    pub fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Draw one token from the softmax of processed scores.
pub fn draw(scores: &[f32], rng: &mut SplitMix) -> u32 {
    let probs = softmax(scores);
    let mut u = rng.next_f64();
    let mut last = 0usize;
    for (i, p) in probs.iter().enumerate() {
        if *p <= 0.0 {
            continue;
        }
        last = i;
        if u < *p {
            return i as u32;
        }
        u -= p;
    }
    last as u32
}

/// Index of the largest score (the first on ties, as `torch.argmax`).
pub fn argmax(scores: &[f32]) -> u32 {
    let mut best = 0usize;
    for (i, &v) in scores.iter().enumerate() {
        if v > scores[best] {
            best = i;
        }
    }
    best as u32
}

impl Qwen3Vl {
    /// Generate after the prepared prompt with `opts`: beam search when `num_beams > 1`,
    /// otherwise greedy or sampled decoding with the logits processors (see the module docs).
    /// `logprobs` are the model's own (unprocessed) log-probabilities of the chosen tokens.
    pub fn generate_with(&self, p: &Prepared, opts: &DecodeOptions) -> Result<Generation> {
        opts.validate()?;
        if opts.num_beams > 1 {
            return self.beam_search(p, opts);
        }
        let (logits, mut cache, _) = self.prefill(p, &[])?;
        let n = logits.dim(0).op("logits")?;
        let mut row = last_row(&logits.narrow(0, n - 1, 1).op("last")?)?;
        let mut rng = SplitMix(opts.seed);
        let mut history = p.ids.clone();
        let mut out = Generation {
            tokens: Vec::new(),
            text: String::new(),
            stopped: false,
            logprobs: Vec::new(),
            attention: Vec::new(),
        };
        for step in 0..opts.max_new_tokens {
            let mut scores = row.clone();
            process_scores(&history, &mut scores, opts);
            let tok = if opts.do_sample {
                draw(&scores, &mut rng)
            } else {
                argmax(&scores)
            };
            out.logprobs.push(log_softmax(&row)[tok as usize]);
            out.tokens.push(tok);
            history.push(tok);
            if self.stop_tokens().contains(&tok) || opts.stop.contains(&tok) {
                out.stopped = true;
                break;
            }
            if step + 1 == opts.max_new_tokens {
                break;
            }
            let (l, _) = self.extend(&mut cache, &[tok], p.rope_delta, &[])?;
            row = last_row(&l)?;
        }
        out.text = self.decode(&out.tokens)?;
        Ok(out)
    }
}

/// The only row of a `(1, vocab)` logits tensor, as f32.
pub(crate) fn last_row(t: &candle_core::Tensor) -> Result<Vec<f32>> {
    t.to_dtype(candle_core::DType::F32)
        .and_then(|t| t.to_vec2::<f32>())
        .op("logits to host")?
        .pop()
        .ok_or_else(|| Error::Invalid("empty logits".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processors_follow_transformers() {
        let mut s = vec![2.0f32, -1.0, 0.5, 3.0];
        repetition_penalty(&[0, 1, 1], &mut s, 2.0);
        assert_eq!(s, vec![1.0, -2.0, 0.5, 3.0]);
        // history 1 2 3 1 2: the 3-gram (1, 2, 3) would repeat with 3
        let mut s = vec![0f32; 5];
        no_repeat_ngram(&[1, 2, 3, 1, 2], &mut s, 3);
        assert_eq!(s[3], f32::NEG_INFINITY);
        assert_eq!(s.iter().filter(|x| x.is_infinite()).count(), 1);
        let mut s = vec![1.0f32, 3.0, 3.0, 2.0];
        top_k(&mut s, 2, 1);
        assert_eq!(s, vec![f32::NEG_INFINITY, 3.0, 3.0, f32::NEG_INFINITY]);
        // probabilities ~0.64, 0.24, 0.09, 0.03: top_p 0.7 keeps the first two
        let mut s = vec![3.0f32, 2.0, 1.0, 0.0];
        top_p(&mut s, 0.7, 1);
        assert!(s[0].is_finite() && s[1].is_finite());
        assert!(s[2].is_infinite() && s[3].is_infinite());
        let mut rng = SplitMix(1);
        for _ in 0..50 {
            assert!(draw(&s, &mut rng) < 2);
        }
        assert!(DecodeOptions {
            num_beams: 2,
            do_sample: true,
            ..DecodeOptions::default()
        }
        .validate()
        .is_err());
    }
}
