//! The flags that choose the answering backend of `ask`, `mmvp` and the probes
//! ([`BackendArgs`]), turned into the library's `cuelab_tasks::vqa::BackendSettings`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use cuelab_models::Pipeline;
use cuelab_tasks::vqa::{Backend, BackendSettings};

/// Which model answers, and how.
#[derive(Debug, Args)]
pub struct BackendArgs {
    /// OpenAI-compatible base URL (vLLM, SGLang, mistral.rs, llama.cpp, an API), e.g.
    /// `http://localhost:8000/v1`. Repeat to spread the load over replicas.
    #[arg(long = "endpoint", value_name = "URL")]
    pub endpoints: Vec<String>,
    /// Model name sent to the server (e.g. `Qwen/Qwen3-VL-2B-Instruct`).
    #[arg(long)]
    pub model: Option<String>,
    /// Answering mode: structured (vLLM ≥ 0.12, default), guided (legacy guided_choice),
    /// logprobs, free.
    #[arg(long)]
    pub mode: Option<cuelab_vlm::AnswerMode>,
    /// Answer with an in-process Qwen3-VL instead of a server (directory or HF id in the local
    /// cache): options ranked by log-likelihood, open questions by greedy generation.
    #[arg(long, value_name = "MODEL", conflicts_with_all = ["endpoints", "clip"])]
    pub local: Option<String>,
    /// PEFT LoRA adapter merged into the `--local` model.
    #[arg(long, requires = "local")]
    pub adapter: Option<PathBuf>,
    /// Remote backend settings from a TOML file (`endpoints`, `model`, `mode`, `concurrency`,
    /// `timeout_s`, `retries`, `[generation]`, `[template]`, ...); the flags override it.
    #[arg(long, value_name = "FILE.toml")]
    pub backend_config: Option<PathBuf>,
    /// Requests in flight at once, over all endpoints (default 32).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Per-request timeout in seconds (default 120).
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Retries on timeouts, 429, 5xx, dropped connections and malformed replies (default 4).
    #[arg(long)]
    pub retries: Option<u32>,
    /// Environment variable holding the API key (default OPENAI_API_KEY); never recorded.
    #[arg(long)]
    pub api_key_env: Option<String>,
    /// Image encoding sent to the server: jpeg (default) or png.
    #[arg(long, value_parser = ["jpeg", "png"])]
    pub image_format: Option<String>,
    /// JPEG quality 1-100 (default 90).
    #[arg(long)]
    pub jpeg_quality: Option<u8>,
    /// Downscale images above this many pixels before sending.
    #[arg(long)]
    pub max_pixels: Option<u64>,
    /// Sampling temperature.
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[arg(long)]
    pub top_p: Option<f64>,
    /// Top-k sampling (vLLM/SGLang extension).
    #[arg(long)]
    pub top_k: Option<i64>,
    /// Maximum generated tokens.
    #[arg(long)]
    pub max_tokens: Option<u32>,
    /// Sampling seed sent to the server.
    #[arg(long)]
    pub gen_seed: Option<u64>,
    /// Do not use the response cache (`responses.sqlite` in the run directory).
    #[arg(long)]
    pub no_cache: bool,
    /// How a clip goes to the model: frames (one image per frame, default) or video_url (alias
    /// video): one MP4 part to a server (vLLM's video input; needs ffmpeg), or with `--local`
    /// the in-process Qwen3-VL's own video input (frame sampling, temporal patches, timestamps).
    #[arg(long)]
    pub video_input: Option<cuelab_vlm::remote::VideoInput>,
    /// Frame rate of the clip given as a video: written into the MP4 of `--video-input
    /// video_url`, or the clip's rate for the in-process video processor (default 2).
    #[arg(long)]
    pub video_fps: Option<f64>,
    /// Answer with a CLIP model instead of a VLM: the option most similar to the image wins
    /// (MMVP-VLM's evaluation). HF id or local directory.
    #[arg(long, value_name = "MODEL", conflicts_with_all = ["endpoints"])]
    pub clip: Option<String>,
    /// Text put before each option for `--clip` (e.g. "a photo of ").
    #[arg(long, default_value = "")]
    pub clip_prefix: String,
    /// Image preprocessing for `--clip`: openai or hf.
    #[arg(long, default_value = "openai", value_parser = |s: &str| Pipeline::parse(s))]
    pub preprocess: Pipeline,
    /// Device for in-process models: cpu or cuda[:N].
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

impl BackendArgs {
    /// The backend settings these flags give.
    pub fn settings(&self) -> BackendSettings {
        BackendSettings {
            endpoints: self.endpoints.clone(),
            model: self.model.clone(),
            mode: self.mode,
            local: self.local.clone(),
            adapter: self.adapter.clone(),
            backend_config: self.backend_config.clone(),
            concurrency: self.concurrency,
            timeout: self.timeout,
            retries: self.retries,
            api_key_env: self.api_key_env.clone(),
            image_format: self.image_format.clone(),
            jpeg_quality: self.jpeg_quality,
            max_pixels: self.max_pixels,
            temperature: self.temperature,
            top_p: self.top_p,
            top_k: self.top_k,
            max_tokens: self.max_tokens,
            gen_seed: self.gen_seed,
            no_cache: self.no_cache,
            video_input: self.video_input,
            video_fps: self.video_fps,
            clip: self.clip.clone(),
            clip_prefix: self.clip_prefix.clone(),
            preprocess: self.preprocess,
            device: self.device.clone(),
        }
    }

    /// The backend these flags choose; a remote one caches responses in `run_dir`.
    pub fn backend(&self, run_dir: &Path) -> Result<Backend> {
        Ok(self.settings().backend(run_dir)?)
    }
}
