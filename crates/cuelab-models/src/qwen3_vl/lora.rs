//! PEFT LoRA adapters (`adapter_config.json` + `adapter_model.safetensors`) merged into the base
//! weights: `W += s · B·A` with `s = lora_alpha / r` (`lora_alpha / sqrt(r)` with rsLoRA).
//!
//! Plain LoRA on linear layers only; DoRA, per-module rank/alpha patterns and `fan_in_fan_out`
//! are refused with an error. An adapter whose targets are missing from the base or have other
//! shapes (an adapter trained for a different base) is refused before anything is merged.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result, TensorContext};
use crate::weights::{hex, Weights};

#[derive(Debug, Deserialize)]
struct AdapterConfig {
    r: usize,
    lora_alpha: f64,
    #[serde(default)]
    use_rslora: bool,
    #[serde(default)]
    use_dora: bool,
    #[serde(default)]
    fan_in_fan_out: bool,
    #[serde(default)]
    rank_pattern: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    alpha_pattern: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    peft_type: Option<String>,
    #[serde(default)]
    base_model_name_or_path: Option<String>,
}

/// A loaded adapter.
#[derive(Debug)]
pub struct LoraAdapter {
    dir: PathBuf,
    scale: f64,
    /// Base model the adapter names (informational).
    pub base_model: Option<String>,
    weights: Weights,
    /// `(target weight name in the base, lora_A name, lora_B name)`.
    pairs: Vec<(String, String, String)>,
}

impl LoraAdapter {
    /// Read an adapter directory.
    pub fn load(dir: &Path) -> Result<Self> {
        let cfg_path = dir.join("adapter_config.json");
        let text = std::fs::read_to_string(&cfg_path).map_err(|source| Error::Io {
            path: cfg_path.clone(),
            source,
        })?;
        let cfg: AdapterConfig = serde_json::from_str(&text).map_err(|e| Error::Config {
            path: cfg_path.clone(),
            key: String::new(),
            message: e.to_string(),
        })?;
        let refuse = |key: &str, message: &str| Error::Config {
            path: cfg_path.clone(),
            key: key.into(),
            message: message.into(),
        };
        if cfg.peft_type.as_deref().is_some_and(|t| t != "LORA") {
            return Err(refuse("peft_type", "only LORA adapters are supported"));
        }
        if cfg.use_dora {
            return Err(refuse("use_dora", "DoRA adapters are not supported"));
        }
        if cfg.fan_in_fan_out {
            return Err(refuse(
                "fan_in_fan_out",
                "fan_in_fan_out adapters are not supported",
            ));
        }
        if !cfg.rank_pattern.is_empty() || !cfg.alpha_pattern.is_empty() {
            return Err(refuse(
                "rank_pattern",
                "per-module rank/alpha patterns are not supported",
            ));
        }
        if cfg.r == 0 {
            return Err(refuse("r", "rank must be positive"));
        }
        let scale = if cfg.use_rslora {
            cfg.lora_alpha / (cfg.r as f64).sqrt()
        } else {
            cfg.lora_alpha / cfg.r as f64
        };
        let weights = Weights::load(&dir.join("adapter_model.safetensors"), &Device::Cpu)?;
        let mut pairs = Vec::new();
        for name in weights.names() {
            if let Some(stem) = name.strip_suffix(".lora_A.weight") {
                let b = format!("{stem}.lora_B.weight");
                let target = stem.strip_prefix("base_model.model.").unwrap_or(stem);
                pairs.push((format!("{target}.weight"), name.to_string(), b));
            } else if !name.ends_with(".lora_B.weight") {
                return Err(Error::Weights {
                    path: weights.path().to_path_buf(),
                    tensor: name.to_string(),
                    message: "not a LoRA A/B matrix (modules_to_save and biases are not supported)"
                        .into(),
                });
            }
        }
        pairs.sort();
        if pairs.is_empty() {
            return Err(Error::Weights {
                path: weights.path().to_path_buf(),
                tensor: String::new(),
                message: "no lora_A/lora_B tensors".into(),
            });
        }
        Ok(LoraAdapter {
            dir: dir.to_path_buf(),
            scale,
            base_model: cfg.base_model_name_or_path,
            weights,
            pairs,
        })
    }

    /// The adapter directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of adapted weight matrices.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether the adapter adapts nothing.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Merge into `base` (all targets are checked first, so a mismatch changes nothing).
    pub fn merge_into(&self, base: &mut Weights) -> Result<()> {
        let mismatch = |t: &str, message: String| {
            Error::Invalid(format!(
                "adapter {} does not fit this base model (is it for a different base{}?): `{t}`: {message}",
                self.dir.display(),
                self.base_model
                    .as_deref()
                    .map(|b| format!(", it names `{b}`"))
                    .unwrap_or_default()
            ))
        };
        let mut merged = Vec::with_capacity(self.pairs.len());
        for (target, a, b) in &self.pairs {
            let w = base
                .get(target, DType::F32)
                .map_err(|_| mismatch(target, "no such weight in the base".into()))?;
            let a = self.weights.get(a, DType::F32)?;
            let b = self.weights.get(b, DType::F32)?;
            let (o, i) = w
                .dims2()
                .map_err(|_| mismatch(target, "not a matrix".into()))?;
            let (ra, ia) = a.dims2().op("lora A")?;
            let (ob, rb) = b.dims2().op("lora B")?;
            if ia != i || ob != o || ra != rb {
                return Err(mismatch(
                    target,
                    format!("base {o}x{i}, adapter B {ob}x{rb} · A {ra}x{ia}"),
                ));
            }
            let delta = (b.matmul(&a).op("B·A")? * self.scale).op("scale")?;
            merged.push((target.clone(), (w + delta).op("merge")?));
        }
        for (t, w) in merged {
            base.replace(&t, w)?;
        }
        let mut h = Sha256::new();
        h.update(base.sha256().as_bytes());
        h.update(self.weights.sha256().as_bytes());
        base.set_sha256(hex(&h.finalize()));
        Ok(())
    }
}
