//! Operations on a loaded Qwen3-VL: greedy or sampled generation with stop tokens, teacher-forced
//! log-probabilities and surprisal (bits per token), option scoring by conditional
//! log-likelihood with the prompt's key/value cache shared by all options, and attention from
//! text tokens to image tokens mapped onto the merged patch grid.

use candle_core::{DType, Tensor};

use super::{ImageSpan, Prepared, Qwen3Vl};
use crate::error::{Error, Result, TensorContext};

/// How to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Upper bound on new tokens.
    pub max_new_tokens: usize,
    /// Extra stop ids (the model's own stop tokens always apply).
    pub stop: Vec<u32>,
    /// `None`: greedy. `Some(t)`: sample from `softmax(logits / t)`.
    pub temperature: Option<f64>,
    /// Nucleus sampling mass (1.0 = off); only with a temperature.
    pub top_p: f64,
    /// Seed of the sampler.
    pub seed: u64,
    /// Decoder layers whose attention is captured for every generated token.
    pub capture: Vec<usize>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            max_new_tokens: 64,
            stop: Vec::new(),
            temperature: None,
            top_p: 1.0,
            seed: 0,
            capture: Vec::new(),
        }
    }
}

/// The result of [`Qwen3Vl::generate`].
#[derive(Debug, Clone)]
pub struct Generation {
    /// New token ids, including the stop token when one was produced.
    pub tokens: Vec<u32>,
    /// Decoded text (special tokens skipped).
    pub text: String,
    /// Whether a stop token ended generation (otherwise `max_new_tokens` did).
    pub stopped: bool,
    /// Natural log-probability of each new token under the model (before sampling transforms).
    pub logprobs: Vec<f64>,
    /// For each generated token and captured layer, attention `(heads, context)` of the step that
    /// read the token before it (the step that produced it).
    pub attention: Vec<Vec<(usize, Tensor)>>,
}

/// Score of one answer option.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceScore {
    /// The option text.
    pub choice: String,
    /// Its token ids.
    pub tokens: Vec<u32>,
    /// Sum of natural log-probabilities of its tokens given the prompt.
    pub sum_logprob: f64,
    /// Mean per token.
    pub mean_logprob: f64,
}

/// Log-softmax of one row of logits, in f64.
pub fn log_softmax(row: &[f32]) -> Vec<f64> {
    let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let z: f64 = row.iter().map(|&x| (x as f64 - m).exp()).sum();
    let lz = m + z.ln();
    row.iter().map(|&x| x as f64 - lz).collect()
}

fn rows(t: &Tensor) -> Result<Vec<Vec<f32>>> {
    t.to_dtype(DType::F32)
        .and_then(|t| t.to_vec2::<f32>())
        .op("logits to host")
}

fn argmax(row: &[f32]) -> u32 {
    let mut best = 0usize;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best as u32
}

/// SplitMix64, a small deterministic generator for sampling.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn sample(row: &[f32], temperature: f64, top_p: f64, rng: &mut Rng) -> u32 {
    let scaled: Vec<f32> = row
        .iter()
        .map(|&x| (x as f64 / temperature) as f32)
        .collect();
    let lp = log_softmax(&scaled);
    let mut order: Vec<(usize, f64)> = lp.iter().map(|&l| l.exp()).enumerate().collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut kept = Vec::new();
    let mut mass = 0.0;
    for (i, p) in order {
        kept.push((i, p));
        mass += p;
        if mass >= top_p {
            break;
        }
    }
    let mut u = rng.next_f64() * mass;
    for &(i, p) in &kept {
        if u < p {
            return i as u32;
        }
        u -= p;
    }
    kept.last().map(|&(i, _)| i as u32).unwrap_or(0)
}

impl Qwen3Vl {
    /// Generate after the prepared prompt (greedy unless a temperature is set), stopping at a
    /// stop token or after `max_new_tokens`; uses the key/value cache.
    pub fn generate(&self, p: &Prepared, opts: &GenerateOptions) -> Result<Generation> {
        let (logits, mut cache, _) = self.prefill(p, &[])?;
        let n = logits.dim(0).op("logits")?;
        let mut row = rows(&logits.narrow(0, n - 1, 1).op("last")?)?.remove(0);
        let mut rng = Rng(opts.seed);
        let mut out = Generation {
            tokens: Vec::new(),
            text: String::new(),
            stopped: false,
            logprobs: Vec::new(),
            attention: Vec::new(),
        };
        let mut pending_att: Vec<(usize, Tensor)> = Vec::new();
        for step in 0..opts.max_new_tokens {
            let tok = match opts.temperature {
                Some(t) if t > 0.0 => sample(&row, t, opts.top_p, &mut rng),
                _ => argmax(&row),
            };
            out.logprobs.push(log_softmax(&row)[tok as usize]);
            out.tokens.push(tok);
            if step > 0 || !opts.capture.is_empty() {
                out.attention.push(std::mem::take(&mut pending_att));
            }
            if self.stop.contains(&tok) || opts.stop.contains(&tok) {
                out.stopped = true;
                break;
            }
            if step + 1 == opts.max_new_tokens {
                break;
            }
            let (l, att) = self.extend(&mut cache, &[tok], p.rope_delta, &opts.capture)?;
            pending_att = att
                .into_iter()
                .map(|(li, a)| a.squeeze(1).map(|a| (li, a)))
                .collect::<candle_core::Result<Vec<_>>>()
                .op("attention")?;
            row = rows(&l)?.remove(0);
        }
        if opts.capture.is_empty() {
            out.attention.clear();
        }
        out.text = self.decode(&out.tokens)?;
        Ok(out)
    }

    /// Teacher-forced natural log-probabilities of `continuation` after the prepared prompt,
    /// one per continuation token.
    pub fn continuation_logprobs(&self, p: &Prepared, continuation: &[u32]) -> Result<Vec<f64>> {
        let (logits, mut cache, _) = self.prefill(p, &[])?;
        self.logprobs_after(&logits, &mut cache, p.rope_delta, continuation)
    }

    fn logprobs_after(
        &self,
        prompt_logits: &Tensor,
        cache: &mut super::KvCache,
        rope_delta: i64,
        continuation: &[u32],
    ) -> Result<Vec<f64>> {
        if continuation.is_empty() {
            return Ok(Vec::new());
        }
        let n = prompt_logits.dim(0).op("logits")?;
        let mut prev = rows(&prompt_logits.narrow(0, n - 1, 1).op("last")?)?;
        if continuation.len() > 1 {
            let (l, _) = self.extend(
                cache,
                &continuation[..continuation.len() - 1],
                rope_delta,
                &[],
            )?;
            prev.extend(rows(&l)?);
        }
        Ok(continuation
            .iter()
            .zip(&prev)
            .map(|(&t, row)| log_softmax(row)[t as usize])
            .collect())
    }

    /// Log-probabilities of the prompt's own tokens (token `i` given tokens `< i`; the first has
    /// none and is left out), e.g. to measure the surprisal of a whole prompt.
    pub fn prompt_logprobs(&self, p: &Prepared) -> Result<Vec<f64>> {
        let (logits, _, _) = self.prefill(p, &[])?;
        let r = rows(&logits)?;
        Ok(p.ids
            .iter()
            .skip(1)
            .zip(&r)
            .map(|(&t, row)| log_softmax(row)[t as usize])
            .collect())
    }

    /// Score answer options by their conditional log-likelihood after the prompt: the prompt runs
    /// once and its cache is reused for every option.
    pub fn score_choices(&self, p: &Prepared, choices: &[String]) -> Result<Vec<ChoiceScore>> {
        if choices.is_empty() {
            return Err(Error::Invalid("no answer options to score".into()));
        }
        let (logits, cache, _) = self.prefill(p, &[])?;
        let mut out = Vec::with_capacity(choices.len());
        for c in choices {
            let tokens = self.encode(c)?;
            if tokens.is_empty() {
                return Err(Error::Invalid(format!("answer option `{c}` has no tokens")));
            }
            let mut cache = cache.clone();
            let lp = self.logprobs_after(&logits, &mut cache, p.rope_delta, &tokens)?;
            let sum: f64 = lp.iter().sum();
            out.push(ChoiceScore {
                choice: c.clone(),
                mean_logprob: sum / tokens.len() as f64,
                sum_logprob: sum,
                tokens,
            });
        }
        Ok(out)
    }
}

/// Surprisal in bits of each token (`-log2 p`) from natural log-probabilities.
pub fn bits(logprobs: &[f64]) -> Vec<f64> {
    logprobs
        .iter()
        .map(|l| -l / std::f64::consts::LN_2)
        .collect()
}

/// Attention from query rows to one image's tokens, averaged over the chosen `layers` and
/// `heads` (all heads when `None`) and over the query rows, as a `(rows, cols)` map over the
/// merged patch grid (row-major). `attention` holds `(layer, probs)` with `probs` of shape
/// `(heads, queries, keys)`; `queries` selects rows of it.
pub fn image_attention_map(
    attention: &[(usize, Tensor)],
    layers: &[usize],
    heads: Option<&[usize]>,
    queries: std::ops::Range<usize>,
    span: &ImageSpan,
) -> Result<Vec<f32>> {
    let mut acc = vec![0f64; span.len];
    let mut count = 0usize;
    for (li, a) in attention {
        if !layers.contains(li) {
            continue;
        }
        let a = a.to_dtype(DType::F32).op("attention")?;
        let (nh, nq, nk) = a.dims3().op("attention dims")?;
        if queries.end > nq || span.start + span.len > nk || queries.is_empty() {
            return Err(Error::Invalid(format!(
                "attention of shape ({nh}, {nq}, {nk}) does not cover queries {queries:?} and image tokens {}..{}",
                span.start,
                span.start + span.len
            )));
        }
        let v = a.to_vec3::<f32>().op("attention to host")?;
        let hs: Vec<usize> = match heads {
            Some(h) => h.to_vec(),
            None => (0..nh).collect(),
        };
        for &h in &hs {
            if h >= nh {
                return Err(Error::Invalid(format!(
                    "head {h} out of range (model has {nh})"
                )));
            }
            for q in queries.clone() {
                for (k, slot) in acc.iter_mut().enumerate() {
                    *slot += v[h][q][span.start + k] as f64;
                }
                count += 1;
            }
        }
    }
    if count == 0 {
        return Err(Error::Invalid(format!(
            "no captured attention for layers {layers:?}"
        )));
    }
    Ok(acc.iter().map(|x| (x / count as f64) as f32).collect())
}
