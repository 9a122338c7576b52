//! Choosing and building the answering [`Backend`] from front-end settings (`cuelab ask` /
//! `cuelab mmvp` flags): CLIP, an in-process Qwen3-VL, or an OpenAI-compatible server whose
//! settings are the flags over a TOML file over the defaults.

use std::path::{Path, PathBuf};

use cuelab_models::Pipeline;
use cuelab_vlm::remote::{ImageFormat, RemoteConfig, VideoInput};
use cuelab_vlm::AnswerMode;

use super::backend::{with_run_cache, Backend};
use crate::error::{Result, TaskError};

/// Which model answers, and how; every `None` leaves the file's or the default value.
#[derive(Debug, Clone)]
pub struct BackendSettings {
    /// OpenAI-compatible base URLs (replicas).
    pub endpoints: Vec<String>,
    /// Model name sent to the server.
    pub model: Option<String>,
    /// Answering mode of the server.
    pub mode: Option<AnswerMode>,
    /// Answer with this in-process Qwen3-VL (directory or HF id) instead of a server.
    pub local: Option<String>,
    /// PEFT LoRA adapter merged into the local model.
    pub adapter: Option<PathBuf>,
    /// Remote backend settings from this TOML file (the other fields override it).
    pub backend_config: Option<PathBuf>,
    /// Requests in flight at once.
    pub concurrency: Option<usize>,
    /// Per-request timeout in seconds.
    pub timeout: Option<f64>,
    /// Retries of failed requests.
    pub retries: Option<u32>,
    /// Environment variable holding the API key.
    pub api_key_env: Option<String>,
    /// Image encoding sent to the server: `png`, otherwise JPEG.
    pub image_format: Option<String>,
    /// JPEG quality 1-100.
    pub jpeg_quality: Option<u8>,
    /// Downscale images above this many pixels before sending.
    pub max_pixels: Option<u64>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    pub top_p: Option<f64>,
    /// Top-k sampling.
    pub top_k: Option<i64>,
    /// Maximum generated tokens (also the local model's, default 16).
    pub max_tokens: Option<u32>,
    /// Sampling seed sent to the server.
    pub gen_seed: Option<u64>,
    /// Do not use the response cache of the run directory.
    pub no_cache: bool,
    /// How a clip goes to the model.
    pub video_input: Option<VideoInput>,
    /// Frame rate of a clip given as a video (default 2).
    pub video_fps: Option<f64>,
    /// Answer with this CLIP model instead of a VLM.
    pub clip: Option<String>,
    /// Text put before each option for CLIP.
    pub clip_prefix: String,
    /// Image preprocessing for CLIP.
    pub preprocess: Pipeline,
    /// Device for in-process models.
    pub device: String,
}

impl Default for BackendSettings {
    fn default() -> Self {
        BackendSettings {
            endpoints: Vec::new(),
            model: None,
            mode: None,
            local: None,
            adapter: None,
            backend_config: None,
            concurrency: None,
            timeout: None,
            retries: None,
            api_key_env: None,
            image_format: None,
            jpeg_quality: None,
            max_pixels: None,
            temperature: None,
            top_p: None,
            top_k: None,
            max_tokens: None,
            gen_seed: None,
            no_cache: false,
            video_input: None,
            video_fps: None,
            clip: None,
            clip_prefix: String::new(),
            preprocess: Pipeline::Openai,
            device: "cpu".into(),
        }
    }
}

impl BackendSettings {
    /// The backend these settings choose (CLIP, then local, then a server); a server's
    /// responses are cached in `run_dir` unless `no_cache`.
    pub fn backend(&self, run_dir: &Path) -> Result<Backend> {
        if let Some(model) = &self.clip {
            return Ok(Backend::Clip {
                model: model.clone(),
                prefix: self.clip_prefix.clone(),
                pipeline: self.preprocess,
                device: self.device.clone(),
            });
        }
        if let Some(model) = &self.local {
            if self.video_fps.is_some_and(|f| !(f.is_finite() && f > 0.0)) {
                return Err(TaskError::Usage(
                    "--video-fps must be a positive number".into(),
                ));
            }
            return Ok(Backend::Local {
                model: model.clone(),
                adapter: self.adapter.clone(),
                max_new_tokens: self.max_tokens.unwrap_or(16) as usize,
                device: self.device.clone(),
                video_fps: (self.video_input == Some(VideoInput::VideoUrl))
                    .then(|| self.video_fps.unwrap_or(2.0)),
            });
        }
        let cfg = self.remote_config()?;
        Ok(Backend::Remote(Box::new(if self.no_cache {
            cfg
        } else {
            with_run_cache(cfg, run_dir)?
        })))
    }

    /// The OpenAI-compatible backend's settings: these over `backend_config` over the defaults.
    pub fn remote_config(&self) -> Result<RemoteConfig> {
        let mut cfg = match &self.backend_config {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| TaskError::context(format!("cannot read {}", p.display()), e))?;
                toml::from_str::<RemoteConfig>(&text).map_err(|e| {
                    TaskError::context(
                        format!("{}: not a remote backend configuration", p.display()),
                        e,
                    )
                })?
            }
            None => RemoteConfig::default(),
        };
        if !self.endpoints.is_empty() {
            cfg.endpoints = self.endpoints.clone();
        } else if self.backend_config.is_none() {
            return Err(TaskError::Usage("give --endpoint URL (an OpenAI-compatible server), --backend-config FILE.toml or --clip MODEL".into()));
        }
        cfg.model = self.model.clone().unwrap_or(cfg.model);
        if cfg.model.trim().is_empty() {
            return Err(TaskError::Usage(
                "--model is required with --endpoint (the model name the server serves)".into(),
            ));
        }
        cfg.mode = self.mode.unwrap_or(cfg.mode);
        cfg.concurrency = self.concurrency.unwrap_or(cfg.concurrency);
        cfg.timeout_s = self.timeout.unwrap_or(cfg.timeout_s);
        cfg.retries = self.retries.unwrap_or(cfg.retries);
        cfg.api_key_env = self.api_key_env.clone().unwrap_or(cfg.api_key_env);
        if let Some(f) = &self.image_format {
            cfg.image_format = match f.as_str() {
                "png" => ImageFormat::Png,
                _ => ImageFormat::Jpeg,
            };
        }
        cfg.jpeg_quality = self.jpeg_quality.unwrap_or(cfg.jpeg_quality);
        cfg.max_pixels = self.max_pixels.or(cfg.max_pixels);
        cfg.video_input = self.video_input.unwrap_or(cfg.video_input);
        cfg.video_fps = self.video_fps.unwrap_or(cfg.video_fps);
        let g = &mut cfg.generation;
        g.temperature = self.temperature.or(g.temperature);
        g.top_p = self.top_p.or(g.top_p);
        g.top_k = self.top_k.or(g.top_k);
        g.max_tokens = self.max_tokens.or(g.max_tokens);
        g.seed = self.gen_seed.or(g.seed);
        if self.no_cache {
            cfg.cache_path = None;
        }
        Ok(cfg)
    }
}
