//! What a captioning sweep asks: prompts × generation configs × cue variants (the cells), parsed
//! from flags or a TOML file.
//!
//! A generation config is written `key=value` pairs joined by commas (`greedy`,
//! `beam=3,length_penalty=1.0`, `temperature=0.7,top_p=0.9,seed=1`, `max_tokens=30`):
//!
//! | key | meaning (transformers' `generate`) |
//! |---|---|
//! | `greedy` | arg-max decoding (the default) |
//! | `beam=N` / `num_beams=N` | beam search with N beams |
//! | `length_penalty=X`, `early_stopping=true\|false\|never`, `no_repeat_ngram_size=N` | beam search / processor settings |
//! | `sample`, `temperature=X`, `top_p=X`, `top_k=N` | sampling (any of these turns it on; `temperature=0` is greedy) |
//! | `repetition_penalty=X` | repetition penalty |
//! | `seed=N` | sampler seed (sent to servers as `seed`) |
//! | `max_tokens=N` / `max_new_tokens=N` | longest caption in tokens (default 32) |

use cuelab_cue::Recipe;
use cuelab_models::qwen3_vl::words::WordAggregate;
use cuelab_models::qwen3_vl::{DecodeOptions, EarlyStopping};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Result, TaskError};
use crate::grounding::short_hash;

/// Default longest caption, in tokens.
pub const DEFAULT_MAX_TOKENS: usize = 32;

/// The default captioning instruction.
pub const DEFAULT_PROMPT: &str = "Describe the image in one sentence.";

/// One generation configuration of the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenSpec {
    /// The canonical text (every set field, fixed order): the config's identity.
    pub label: String,
    /// The decoding settings (in-process backends use them as they are).
    pub decode: DecodeOptions,
    /// Whether `seed` was given (servers get a seed only then).
    pub seeded: bool,
}

fn bad(spec: &str, why: impl std::fmt::Display) -> TaskError {
    TaskError::Config(format!(
        "--gen {spec:?}: {why} (expected e.g. greedy, beam=3,length_penalty=1.0, \
         temperature=0.7,top_p=0.9,seed=1, max_tokens=30)"
    ))
}

impl GenSpec {
    /// Parse a generation config (see the module docs).
    pub fn parse(spec: &str) -> Result<GenSpec> {
        let mut d = DecodeOptions {
            max_new_tokens: DEFAULT_MAX_TOKENS,
            ..DecodeOptions::default()
        };
        let mut seeded = false;
        let mut greedy = false;
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = match part.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (part, None),
            };
            let num = |v: Option<&str>| -> Result<f64> {
                let v = v.ok_or_else(|| bad(spec, format!("{key} needs a value")))?;
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| bad(spec, format!("{key}={v} is not a number")))
            };
            let int = |v: Option<&str>| -> Result<u64> {
                let v = v.ok_or_else(|| bad(spec, format!("{key} needs a value")))?;
                v.parse::<u64>()
                    .map_err(|_| bad(spec, format!("{key}={v} is not a whole number")))
            };
            match key {
                "greedy" => greedy = true,
                "sample" => d.do_sample = true,
                "beam" | "num_beams" => d.num_beams = int(value)? as usize,
                "length_penalty" => d.length_penalty = num(value)?,
                "early_stopping" => {
                    d.early_stopping = value
                        .ok_or_else(|| bad(spec, "early_stopping needs a value"))?
                        .parse::<EarlyStopping>()
                        .map_err(|e| bad(spec, e))?
                }
                "no_repeat_ngram_size" => d.no_repeat_ngram_size = int(value)? as usize,
                "temperature" => {
                    let t = num(value)?;
                    if t == 0.0 {
                        greedy = true;
                    } else {
                        d.temperature = t;
                        d.do_sample = true;
                    }
                }
                "top_p" => {
                    d.top_p = num(value)?;
                    d.do_sample = true;
                }
                "top_k" => {
                    d.top_k = int(value)? as usize;
                    d.do_sample = true;
                }
                "repetition_penalty" => d.repetition_penalty = num(value)?,
                "seed" => {
                    d.seed = int(value)?;
                    seeded = true;
                }
                "max_tokens" | "max_new_tokens" => d.max_new_tokens = int(value)? as usize,
                other => return Err(bad(spec, format!("unknown key {other:?}"))),
            }
        }
        if greedy && d.do_sample {
            return Err(bad(spec, "greedy and sampling settings together"));
        }
        d.validate().map_err(|e| bad(spec, e))?;
        let label = canonical(&d, seeded);
        Ok(GenSpec {
            label,
            decode: d,
            seeded,
        })
    }
}

fn canonical(d: &DecodeOptions, seeded: bool) -> String {
    let mut parts: Vec<String> = Vec::new();
    if d.num_beams > 1 {
        parts.push(format!("beam={}", d.num_beams));
        parts.push(format!("length_penalty={}", d.length_penalty));
        let es = match d.early_stopping {
            EarlyStopping::Heuristic => "false",
            EarlyStopping::Always => "true",
            EarlyStopping::Never => "never",
        };
        parts.push(format!("early_stopping={es}"));
    } else if d.do_sample {
        parts.push("sample".into());
        if d.temperature != 1.0 {
            parts.push(format!("temperature={}", d.temperature));
        }
        if d.top_k != 0 {
            parts.push(format!("top_k={}", d.top_k));
        }
        if d.top_p != 1.0 {
            parts.push(format!("top_p={}", d.top_p));
        }
    } else {
        parts.push("greedy".into());
    }
    if d.no_repeat_ngram_size != 0 {
        parts.push(format!("no_repeat_ngram_size={}", d.no_repeat_ngram_size));
    }
    if d.repetition_penalty != 1.0 {
        parts.push(format!("repetition_penalty={}", d.repetition_penalty));
    }
    if seeded || d.do_sample {
        parts.push(format!("seed={}", d.seed));
    }
    parts.push(format!("max_tokens={}", d.max_new_tokens));
    parts.join(",")
}

fn default_prompts() -> Vec<String> {
    vec![DEFAULT_PROMPT.into()]
}
fn default_gens() -> Vec<String> {
    vec!["greedy".into()]
}
fn default_cues() -> Vec<String> {
    vec!["plain".into()]
}
fn default_batch() -> usize {
    32
}
fn default_resamples() -> usize {
    1000
}

/// A captioning sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptionConfig {
    /// Instructions (one cell row each).
    #[serde(default = "default_prompts")]
    pub prompts: Vec<String>,
    /// Generation configs (see the module docs).
    #[serde(default = "default_gens")]
    pub gens: Vec<String>,
    /// Cue recipes drawn on the sample's target box; `plain` is the image as it is.
    #[serde(default = "default_cues")]
    pub cues: Vec<String>,
    /// System prompt.
    #[serde(default)]
    pub system: Option<String>,
    /// Seed of the bootstrap (and the default sampler seed is the config's own).
    #[serde(default)]
    pub seed: u64,
    /// Only the first `limit` images (after sharding).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Captions requested at once from a server (memory bound; the client keeps its own
    /// concurrency).
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// CLIP model for CLIPScore / RefCLIPScore (HF id or directory); none: text metrics only.
    #[serde(default)]
    pub clip: Option<String>,
    /// Bootstrap resamples of the confidence intervals and paired tests.
    #[serde(default = "default_resamples")]
    pub resamples: usize,
    /// Per-word attention maps (in-process backend only); not part of the run identity.
    #[serde(default)]
    pub attention: Option<AttentionSettings>,
}

/// Per-word attention maps written for the first images of every cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttentionSettings {
    /// How many images per cell (the first of the run's selection).
    pub images: usize,
    /// Decoder layers (empty: all).
    #[serde(default)]
    pub layers: Vec<usize>,
    /// Heads (all when absent).
    #[serde(default)]
    pub heads: Option<Vec<usize>>,
    /// Attention rollout instead of raw attention.
    #[serde(default)]
    pub rollout: bool,
    /// Sum or mean of a word's BPE pieces.
    #[serde(default)]
    pub aggregate: WordAggregate,
}

impl Default for CaptionConfig {
    fn default() -> Self {
        CaptionConfig {
            prompts: default_prompts(),
            gens: default_gens(),
            cues: default_cues(),
            system: None,
            seed: 0,
            limit: None,
            batch: default_batch(),
            clip: None,
            resamples: default_resamples(),
            attention: None,
        }
    }
}

/// One cell of the grid: a prompt, a generation config and a cue variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Stable id: `cell-<hash of prompt, generation and cue>`.
    pub id: String,
    /// Index of the prompt in the config.
    pub prompt_index: usize,
    /// The prompt.
    pub prompt: String,
    /// Index of the generation config.
    pub gen_index: usize,
    /// The generation config, canonical.
    pub gen: String,
    /// The cue recipe, canonical (`plain` for none).
    pub cue: String,
}

impl Cell {
    /// A short label for tables: `p1 greedy,max_tokens=32 plain`.
    pub fn label(&self) -> String {
        format!("p{} {} {}", self.prompt_index + 1, self.gen, self.cue)
    }
}

impl CaptionConfig {
    /// Read a TOML file.
    pub fn from_toml_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| TaskError::io(path, e))?;
        toml::from_str(&text).map_err(|e| TaskError::Json {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// The parsed generation configs, in order (duplicates are an error).
    pub fn gen_specs(&self) -> Result<Vec<GenSpec>> {
        let mut out: Vec<GenSpec> = Vec::new();
        for g in &self.gens {
            let spec = GenSpec::parse(g)?;
            if out.iter().any(|o| o.label == spec.label) {
                return Err(TaskError::Config(format!(
                    "--gen {g:?} is listed twice ({})",
                    spec.label
                )));
            }
            out.push(spec);
        }
        Ok(out)
    }

    /// The parsed cue recipes, in order.
    pub fn recipes(&self) -> Result<Vec<Recipe>> {
        let mut out: Vec<Recipe> = Vec::new();
        for spec in &self.cues {
            let r =
                Recipe::parse(spec).map_err(|e| TaskError::Config(format!("cue {spec:?}: {e}")))?;
            if out.iter().any(|o| o.to_string() == r.to_string()) {
                return Err(TaskError::Config(format!("cue {spec:?} is listed twice")));
            }
            out.push(r);
        }
        Ok(out)
    }

    /// Every cell: prompts × generation configs × cues, prompt-major.
    pub fn cells(&self) -> Result<Vec<Cell>> {
        if self.prompts.is_empty() || self.gens.is_empty() || self.cues.is_empty() {
            return Err(TaskError::Config(
                "a sweep needs at least one prompt, one generation config and one cue".into(),
            ));
        }
        if self.batch == 0 {
            return Err(TaskError::Config("batch must be at least 1".into()));
        }
        for (i, p) in self.prompts.iter().enumerate() {
            if p.trim().is_empty() {
                return Err(TaskError::Config(format!("prompt {} is empty", i + 1)));
            }
            if self.prompts[..i].contains(p) {
                return Err(TaskError::Config(format!("prompt {p:?} is listed twice")));
            }
        }
        let gens = self.gen_specs()?;
        let cues = self.recipes()?;
        let mut cells = Vec::new();
        for (pi, prompt) in self.prompts.iter().enumerate() {
            for (gi, g) in gens.iter().enumerate() {
                for cue in &cues {
                    let cue = cue.to_string();
                    let id = format!(
                        "cell-{}",
                        short_hash(&format!("{prompt}\n{}\n{cue}", g.label))
                    );
                    cells.push(Cell {
                        id,
                        prompt_index: pi,
                        prompt: prompt.clone(),
                        gen_index: gi,
                        gen: g.label.clone(),
                        cue,
                    });
                }
            }
        }
        Ok(cells)
    }

    /// Hash of everything that decides the captions and scores, with the backend's identity.
    pub fn hash(&self, backend_identity: &serde_json::Value) -> Result<String> {
        let cells = self.cells()?;
        let canonical = serde_json::json!({
            "cells": cells.iter().map(|c| &c.id).collect::<Vec<_>>(),
            "system": self.system,
            "clip": self.clip,
            "backend": backend_identity,
        });
        let digest = Sha256::digest(canonical.to_string().as_bytes());
        Ok(digest.iter().take(8).map(|b| format!("{b:02x}")).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gen_specs_parse_to_canonical_labels() {
        let g = GenSpec::parse("greedy").unwrap();
        assert_eq!(g.label, "greedy,max_tokens=32");
        let b = GenSpec::parse("beam=3, length_penalty=1.0").unwrap();
        assert_eq!(b.decode.num_beams, 3);
        assert_eq!(
            b.label,
            "beam=3,length_penalty=1,early_stopping=false,max_tokens=32"
        );
        let s = GenSpec::parse("temperature=0.7,top_p=0.9,seed=1").unwrap();
        assert!(s.decode.do_sample);
        assert_eq!(
            s.label,
            "sample,temperature=0.7,top_p=0.9,seed=1,max_tokens=32"
        );
        assert_eq!(
            GenSpec::parse("max_tokens=30")
                .unwrap()
                .decode
                .max_new_tokens,
            30
        );
        assert!(!GenSpec::parse("temperature=0").unwrap().decode.do_sample);
        for bad in [
            "beam",
            "beam=x",
            "top_p=2",
            "warmth=1",
            "greedy,top_p=0.9",
            "beam=2,temperature=0.5",
            "max_tokens=0",
        ] {
            assert!(GenSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cells_are_the_grid_with_stable_ids() {
        let cfg = CaptionConfig {
            prompts: vec!["a".into(), "b".into()],
            gens: vec!["greedy".into(), "beam=2".into()],
            ..CaptionConfig::default()
        };
        let cells = cfg.cells().unwrap();
        assert_eq!(cells.len(), 4);
        let again = cfg.cells().unwrap();
        assert_eq!(cells, again);
        let mut ids: Vec<&str> = cells.iter().map(|c| c.id.as_str()).collect();
        ids.dedup();
        assert_eq!(ids.len(), 4);
        let dup = CaptionConfig {
            gens: vec!["greedy".into(), "max_tokens=32".into()],
            ..CaptionConfig::default()
        };
        assert!(dup.cells().is_err());
    }
}
