//! Beam search with transformers' (≥ 4.50, vectorised) `_beam_search` semantics, batch 1:
//!
//! * each step, the log-softmax of every running beam's next-token logits goes through the
//!   logits processors (repetition penalty, no-repeat n-gram; over prompt + beam) and is added to
//!   the beam's running score; the best `max(2, 1 + stop ids) * num_beams` candidates over all
//!   beams are kept (at the first step only beam 0 is live: the others start at -1e9);
//! * a candidate ending in a stop id, or reaching `max_new_tokens`, "hits the stopping
//!   criteria": among the first `num_beams` candidates these become finished hypotheses scored
//!   `score / generated_len ^ length_penalty` (the stop token counted) and compete with the
//!   finished ones kept so far (the best `num_beams`); the best `num_beams` candidates that did
//!   not hit continue (those that did are kept at -1e9 when fewer remain);
//! * stopping: when every kept hypothesis is finished and `early_stopping` is `true`; or when the
//!   best running beam, scored at the current length (the maximum length with `never` and a
//!   positive length penalty), cannot beat the worst finished hypothesis once all `num_beams`
//!   are finished; or when every candidate hit the criteria (maximum length).
//!
//! The answer is the best finished hypothesis. Each beam keeps its own key/value cache (a clone
//! of its parent's, which shares the parent's tensors), so the decoder still runs batch 1.

use super::ops::{log_softmax, Generation};
use super::sampling::{last_row, process_scores, DecodeOptions, EarlyStopping};
use super::{KvCache, Prepared, Qwen3Vl};
use crate::error::{Result, TensorContext};

const NEG: f64 = -1.0e9;

struct Running {
    tokens: Vec<u32>,
    score: f64,
    cache: KvCache,
    row: Vec<f32>,
}

#[derive(Clone)]
struct Finished {
    tokens: Vec<u32>,
    score: f64,
    done: bool,
}

struct Candidate {
    parent: usize,
    token: u32,
    score: f64,
    hits: bool,
}

/// Indices of the `k` largest values, best first (lower index first on ties, as a stable sort).
fn top_indices(values: &[f64], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    idx.truncate(k);
    idx
}

impl Qwen3Vl {
    /// Beam search after the prepared prompt (see the module docs); `opts.num_beams > 1`.
    pub(crate) fn beam_search(&self, p: &Prepared, opts: &DecodeOptions) -> Result<Generation> {
        let nb = opts.num_beams;
        let mut stops: Vec<u32> = self.stop_tokens().to_vec();
        stops.extend(&opts.stop);
        stops.sort_unstable();
        stops.dedup();
        let keep = 2usize.max(1 + stops.len()) * nb;
        let (logits, cache, _) = self.prefill(p, &[])?;
        let n = logits.dim(0).op("logits")?;
        let row = last_row(&logits.narrow(0, n - 1, 1).op("last")?)?;
        let mut running: Vec<Running> = (0..nb)
            .map(|b| Running {
                tokens: Vec::new(),
                score: if b == 0 { 0.0 } else { NEG },
                cache: cache.clone(),
                row: row.clone(),
            })
            .collect();
        let mut finished: Vec<Finished> = vec![
            Finished {
                tokens: Vec::new(),
                score: NEG,
                done: false,
            };
            nb
        ];
        let mut heuristic_open = true;
        let mut generated = 0usize;
        loop {
            // candidates over every beam's processed log-probabilities
            let mut all: Vec<(usize, u32, f64)> = Vec::new();
            for (b, r) in running.iter().enumerate() {
                let lp = log_softmax(&r.row);
                let mut scores: Vec<f32> = lp.iter().map(|&x| x as f32).collect();
                let mut history = p.ids.clone();
                history.extend(&r.tokens);
                process_scores(&history, &mut scores, opts);
                for (v, &s) in scores.iter().enumerate() {
                    all.push((b, v as u32, s as f64 + r.score));
                }
            }
            let values: Vec<f64> = all.iter().map(|c| c.2).collect();
            let cands: Vec<Candidate> = top_indices(&values, keep)
                .into_iter()
                .map(|i| {
                    let (parent, token, score) = all[i];
                    Candidate {
                        parent,
                        token,
                        score,
                        hits: stops.contains(&token) || generated + 1 >= opts.max_new_tokens,
                    }
                })
                .collect();
            // finished hypotheses: the first `nb` candidates that hit, merged with the kept ones
            let all_done = finished.iter().all(|f| f.done);
            let norm = ((generated + 1) as f64).powf(opts.length_penalty);
            let mut merged = finished.clone();
            for (k, c) in cands.iter().enumerate() {
                let mut s = c.score / norm;
                if all_done && opts.early_stopping == EarlyStopping::Always {
                    s += NEG;
                }
                if !heuristic_open {
                    s += NEG;
                }
                let just = c.hits && k < nb;
                if !just {
                    s += NEG;
                }
                let mut tokens = running[c.parent].tokens.clone();
                tokens.push(c.token);
                merged.push(Finished {
                    tokens,
                    score: s,
                    done: just,
                });
            }
            let ms: Vec<f64> = merged.iter().map(|f| f.score).collect();
            finished = top_indices(&ms, nb)
                .into_iter()
                .map(|i| merged[i].clone())
                .collect();
            // running beams for the next step
            let rs: Vec<f64> = cands
                .iter()
                .map(|c| c.score + if c.hits { NEG } else { 0.0 })
                .collect();
            let next = top_indices(&rs, nb);
            generated += 1;
            let best_running = rs[next[0]];
            let len = if opts.early_stopping == EarlyStopping::Never && opts.length_penalty > 0.0 {
                opts.max_new_tokens
            } else {
                generated
            };
            let best_possible = best_running / (len as f64).powf(opts.length_penalty);
            let worst = finished
                .iter()
                .map(|f| f.score)
                .fold(f64::INFINITY, f64::min);
            heuristic_open &= finished
                .iter()
                .any(|f| best_possible > if f.done { worst } else { NEG });
            let all_done = finished.iter().all(|f| f.done);
            let open_beam = !(all_done && opts.early_stopping == EarlyStopping::Always);
            let can_continue = !cands.iter().all(|c| c.hits);
            if !(heuristic_open && open_beam && can_continue) {
                break;
            }
            let mut new_running = Vec::with_capacity(nb);
            for &i in &next {
                let c = &cands[i];
                let parent = &running[c.parent];
                let mut cache = parent.cache.clone();
                let (l, _) = self.extend(&mut cache, &[c.token], p.rope_delta, &[])?;
                let mut tokens = parent.tokens.clone();
                tokens.push(c.token);
                new_running.push(Running {
                    tokens,
                    score: rs[i],
                    cache,
                    row: last_row(&l)?,
                });
            }
            running = new_running;
        }
        let best = finished.into_iter().next().unwrap_or(Finished {
            tokens: Vec::new(),
            score: NEG,
            done: false,
        });
        let stopped = best.tokens.last().is_some_and(|t| stops.contains(t));
        let logprobs = self.continuation_logprobs(p, &best.tokens)?;
        Ok(Generation {
            text: self.decode(&best.tokens)?,
            tokens: best.tokens,
            stopped,
            logprobs,
            attention: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::top_indices;

    #[test]
    fn top_indices_are_stable_and_sorted() {
        assert_eq!(top_indices(&[1.0, 3.0, 3.0, 2.0], 3), vec![1, 2, 3]);
        assert_eq!(top_indices(&[1.0], 4), vec![0]);
    }
}
