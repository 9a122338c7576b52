//! The flags and code shared by `ask` and `mmvp`: which answering backend, the question-answering
//! configuration, and running + printing a run.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::Args;
use cuelab_models::Pipeline;
use cuelab_tasks::runner::{parse_shard, RunOptions};
use cuelab_tasks::vqa::{
    run_questions, vqa_table, Backend, BackendSettings, ChoiceOrder, VqaConfig, VqaItem,
    VqaOverrides,
};

use crate::exit::ExitStatus;

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

/// What is asked and where results go.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Experiment file (TOML, the fields of the question-answering configuration); flags override.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Cue variant (repeatable): `plain` or a cue recipe drawn on the question's target boxes,
    /// e.g. `rect(color=red,width=2)`, `trajectory()`.
    #[arg(long = "cue")]
    pub cues: Vec<String>,
    /// Option order: balanced (the right option visits every position equally), shuffle, keep.
    #[arg(long)]
    pub order: Option<ChoiceOrder>,
    /// System prompt.
    #[arg(long)]
    pub system: Option<String>,
    /// Only the first N questions.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Seed of the option order and bootstrap.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Frames of each clip shown (ask): all, frames=N (evenly spread) or fps=F; recorded in the
    /// run identity. Unset: frame folders as they are, video files decoded whole.
    #[arg(long)]
    pub frames: Option<String>,
    /// Run only shard I of N (`I/N`, 0-based; `auto` or `auto/N` from a Slurm job array or a
    /// Kubernetes Indexed Job) — merge shards with `cuelab merge`.
    #[arg(long, value_name = "I/N|auto")]
    pub shard: Option<String>,
    /// Run directory (resumed when it exists).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
}

impl RunArgs {
    /// The overrides these flags give over the configuration file.
    pub fn overrides(&self) -> VqaOverrides {
        VqaOverrides {
            config_file: self.config.clone(),
            cues: self.cues.clone(),
            order: self.order,
            system: self.system.clone(),
            limit: self.limit,
            seed: self.seed,
            frames: self.frames.clone(),
        }
    }

    /// The configuration from the file and flags.
    pub fn config(&self) -> Result<VqaConfig> {
        Ok(self.overrides().config()?)
    }
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

/// Build the answering backend and run every item, printing the table. Exit 1 when questions
/// are still unanswered or could not be asked.
pub fn execute(
    backend: &BackendArgs,
    run: &RunArgs,
    items: &[VqaItem],
    default_out: &Path,
    data_description: serde_json::Value,
) -> Result<ExitStatus> {
    if items.is_empty() {
        bail!("no questions to ask in the data");
    }
    let cfg = run.config()?;
    let out = run.out.clone().unwrap_or_else(|| default_out.to_path_buf());
    let opts = RunOptions {
        out: out.clone(),
        shard: run.shard.as_deref().map(parse_shard).transpose()?,
        progress: true,
    };
    let backend = backend.backend(&out)?;
    let outcome = run_questions(&cfg, items, &backend, &data_description, &opts)?;
    print!("{}", vqa_table(&outcome.summary));
    println!("run directory: {}", out.display());
    let errors: usize = outcome.summary.variants.iter().map(|v| v.all.errors).sum();
    Ok(if outcome.missing > 0 || errors > 0 {
        ExitStatus::Partial
    } else {
        ExitStatus::Success
    })
}
