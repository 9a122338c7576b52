//! The captioning study from front-end settings (`cuelab caption` flags): the configuration
//! with the caller's values over the configuration file ([`CaptionOverrides`]), and the
//! captioning backend ([`CaptionBackendSettings`]).

use std::path::{Path, PathBuf};

use cuelab_models::qwen3_vl::words::WordAggregate;
use cuelab_vlm::remote::RemoteConfig;

use super::backend::CaptionBackend;
use super::config::{AttentionSettings, CaptionConfig};
use crate::error::{Result, TaskError};

/// Values over the configuration file (flags > file > defaults); `None` and empty lists keep
/// the file's value.
#[derive(Debug, Clone, Default)]
pub struct CaptionOverrides {
    /// The experiment file (TOML); `None`: the defaults.
    pub config_file: Option<PathBuf>,
    /// Prompts.
    pub prompts: Vec<String>,
    /// More prompts, one per line (blank lines and `#` comments ignored).
    pub prompts_file: Option<PathBuf>,
    /// Generation configurations.
    pub gens: Vec<String>,
    /// Cue variants.
    pub cues: Vec<String>,
    /// System prompt.
    pub system: Option<String>,
    /// CLIP model for CLIPScore.
    pub clip: Option<String>,
    /// Only the first N images.
    pub limit: Option<usize>,
    /// Seed.
    pub seed: Option<u64>,
    /// Attention maps for the first N images (in-process backend).
    pub attention: Option<usize>,
    /// Decoder layers of the attention maps: `all`, `N` or `A..B`.
    pub attention_layers: String,
    /// Heads of the attention maps (empty: all).
    pub attention_heads: Vec<usize>,
    /// Attention rollout instead of raw attention.
    pub rollout: bool,
    /// How token maps are aggregated into word maps.
    pub word_aggregate: WordAggregate,
}

/// `e` as a message-only error (the message as the error prints it).
fn plain(e: impl std::fmt::Display) -> TaskError {
    TaskError::Usage(e.to_string())
}

impl CaptionOverrides {
    /// The configuration file (or the defaults) with these values over it, checked.
    pub fn config(&self) -> Result<CaptionConfig> {
        let mut cfg = match &self.config_file {
            Some(p) => CaptionConfig::from_toml_file(p)?,
            None => CaptionConfig::default(),
        };
        let mut prompts = self.prompts.clone();
        if let Some(f) = &self.prompts_file {
            let text = std::fs::read_to_string(f)
                .map_err(|e| TaskError::context(format!("reading {}", f.display()), e))?;
            prompts.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_string),
            );
        }
        if !prompts.is_empty() {
            cfg.prompts = prompts;
        }
        if !self.gens.is_empty() {
            cfg.gens = self.gens.clone();
        }
        if !self.cues.is_empty() {
            cfg.cues = self.cues.clone();
        }
        cfg.system = self.system.clone().or(cfg.system);
        cfg.clip = self.clip.clone().or(cfg.clip);
        cfg.limit = self.limit.or(cfg.limit);
        cfg.seed = self.seed.unwrap_or(cfg.seed);
        if let Some(images) = self.attention {
            let spec = &self.attention_layers;
            let number = |s: &str| s.trim().parse::<usize>().map_err(plain);
            let layers = match spec.split_once("..") {
                _ if spec == "all" => Vec::new(),
                Some((a, b)) => (number(a)?..number(b)?).collect(),
                None => vec![number(spec)?],
            };
            cfg.attention = Some(AttentionSettings {
                images,
                layers,
                heads: (!self.attention_heads.is_empty()).then(|| self.attention_heads.clone()),
                rollout: self.rollout,
                aggregate: self.word_aggregate,
            });
        }
        cfg.cells()?;
        Ok(cfg)
    }
}

/// Which model writes the captions.
#[derive(Debug, Clone, Default)]
pub struct CaptionBackendSettings {
    /// An in-process Qwen3-VL (directory or HF id).
    pub local: Option<String>,
    /// PEFT LoRA adapter merged into the local model.
    pub adapter: Option<PathBuf>,
    /// Device of the local model.
    pub device: String,
    /// OpenAI-compatible base URLs.
    pub endpoints: Vec<String>,
    /// Model name sent to the server.
    pub model: Option<String>,
    /// Remote backend settings from this TOML file.
    pub backend_config: Option<PathBuf>,
    /// Requests in flight at once.
    pub concurrency: Option<usize>,
    /// Do not cache responses in the run directory.
    pub no_cache: bool,
}

impl CaptionBackendSettings {
    /// The backend (local first, else a server whose responses are cached in `run_dir`).
    pub fn backend(&self, run_dir: &Path) -> Result<CaptionBackend> {
        if let Some(model) = &self.local {
            return Ok(CaptionBackend::Local {
                model: model.clone(),
                adapter: self.adapter.clone(),
                device: self.device.clone(),
            });
        }
        let mut cfg = match &self.backend_config {
            Some(p) => toml::from_str::<RemoteConfig>(&std::fs::read_to_string(p).map_err(plain)?)
                .map_err(|e| {
                    TaskError::context(
                        format!("{}: not a remote backend configuration", p.display()),
                        e,
                    )
                })?,
            None if self.endpoints.is_empty() => return Err(TaskError::Usage(
                "give --local QWEN3_VL_DIR or --endpoint URL --model NAME (or --backend-config)"
                    .into(),
            )),
            None => RemoteConfig::default(),
        };
        if !self.endpoints.is_empty() {
            cfg.endpoints = self.endpoints.clone();
        }
        cfg.model = self.model.clone().unwrap_or(cfg.model);
        if cfg.model.trim().is_empty() {
            return Err(TaskError::Usage(
                "--model is required with --endpoint (the model name the server serves)".into(),
            ));
        }
        cfg.concurrency = self.concurrency.unwrap_or(cfg.concurrency);
        Ok(CaptionBackend::Remote(Box::new(if self.no_cache {
            cfg.cache_path = None;
            cfg
        } else {
            crate::vqa::with_run_cache(cfg, run_dir)?
        })))
    }
}

/// The caption data: `data` when given, else synthetic scenes (seed 0, 24 scenes) generated
/// once under `out/scenes`.
pub fn data_or_scenes(data: Option<&Path>, out: &Path) -> Result<PathBuf> {
    match data {
        Some(p) => Ok(p.to_path_buf()),
        None => {
            let dir = out.join("scenes");
            if !dir.join("samples.jsonl").is_file() {
                cuelab_data::scenes::export::write(&cuelab_data::scenes::Config::new(0, 24), &dir)?;
            }
            Ok(dir)
        }
    }
}
