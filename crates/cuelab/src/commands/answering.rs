//! The flags and code shared by `ask` and `mmvp`: which answering backend, the question-answering
//! configuration, and running + printing a run.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use cuelab_tasks::experiment::RunOptions;
use cuelab_tasks::vqa::{
    run_vqa, vqa_table, ChoiceOrder, ClipChoiceAnswerer, LocalVlmAnswerer, VqaConfig, VqaItem,
};
use cuelab_vlm::Answerer;

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
    /// Answer with a CLIP model instead of a VLM: the option most similar to the image wins
    /// (MMVP-VLM's evaluation). HF id or local directory.
    #[arg(long, value_name = "MODEL", conflicts_with_all = ["endpoints"])]
    pub clip: Option<String>,
    /// Text put before each option for `--clip` (e.g. "a photo of ").
    #[arg(long, default_value = "")]
    pub clip_prefix: String,
    /// Image preprocessing for `--clip`: openai or hf.
    #[arg(long, default_value = "openai")]
    pub preprocess: String,
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
    /// Run only shard I of N (`I/N`, 0-based).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Run directory (resumed when it exists).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
}

impl RunArgs {
    /// The configuration from the file and flags.
    pub fn config(&self) -> Result<VqaConfig> {
        let mut cfg = match &self.config {
            Some(p) => VqaConfig::from_toml_file(p)?,
            None => VqaConfig::default(),
        };
        if !self.cues.is_empty() {
            cfg.cues = self.cues.clone();
        }
        if let Some(o) = self.order {
            cfg.order = o;
        }
        if self.system.is_some() {
            cfg.system = self.system.clone();
        }
        if self.limit.is_some() {
            cfg.limit = self.limit;
        }
        if let Some(s) = self.seed {
            cfg.seed = s;
        }
        cfg.variants()?;
        Ok(cfg)
    }

    /// The shard, parsed.
    pub fn shard(&self) -> Result<Option<(usize, usize)>> {
        self.shard
            .as_deref()
            .map(crate::commands::ground::parse_shard)
            .transpose()
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
        shard: run.shard()?,
        progress: true,
    };
    let outcome = if let Some(model) = &backend.clip {
        let scorer = crate::commands::ground::load_models(
            std::slice::from_ref(model),
            &backend.preprocess,
            &backend.device,
        )?
        .pop()
        .context("no model loaded")?;
        let answerer = ClipChoiceAnswerer::new(scorer.as_ref(), backend.clip_prefix.clone());
        run_vqa(
            &cfg,
            items,
            &answerer,
            &answerer.identity(),
            &data_description,
            &opts,
        )?
    } else if let Some(reference) = &backend.local {
        let resolved = cuelab_models::resolve::resolve(reference)?;
        let device = cuelab_models::device(&backend.device)?;
        let model = cuelab_models::qwen3_vl::Qwen3Vl::load_with_adapter(
            &resolved.dir,
            backend.adapter.as_deref(),
            &device,
        )
        .with_context(|| format!("loading {reference}"))?;
        let answerer = LocalVlmAnswerer::new(&model, backend.max_tokens.unwrap_or(16) as usize);
        run_vqa(
            &cfg,
            items,
            &answerer,
            &answerer.identity(),
            &data_description,
            &opts,
        )?
    } else {
        let (answerer, identity) = remote_answerer(backend, &out)?;
        run_vqa(
            &cfg,
            items,
            answerer.as_ref(),
            &identity,
            &data_description,
            &opts,
        )?
    };
    print!("{}", vqa_table(&outcome.summary));
    println!("run directory: {}", out.display());
    let errors: usize = outcome.summary.variants.iter().map(|v| v.all.errors).sum();
    Ok(if outcome.missing > 0 || errors > 0 {
        ExitStatus::Partial
    } else {
        ExitStatus::Success
    })
}

/// The OpenAI-compatible backend and its identity (what decides answers: not endpoints,
/// concurrency, timeouts or the cache).
fn remote_answerer(
    backend: &BackendArgs,
    out: &Path,
) -> Result<(Box<dyn Answerer>, serde_json::Value)> {
    use cuelab_vlm::remote::{RemoteAnswerer, RemoteConfig};
    let mut cfg = match &backend.backend_config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            toml::from_str::<RemoteConfig>(&text)
                .with_context(|| format!("{}: not a remote backend configuration", p.display()))?
        }
        None => RemoteConfig::default(),
    };
    if !backend.endpoints.is_empty() {
        cfg.endpoints = backend.endpoints.clone();
    } else if backend.backend_config.is_none() {
        bail!("give --endpoint URL (an OpenAI-compatible server), --backend-config FILE.toml or --clip MODEL");
    }
    if let Some(m) = &backend.model {
        cfg.model = m.clone();
    }
    if cfg.model.trim().is_empty() {
        bail!("--model is required with --endpoint (the model name the server serves)");
    }
    if let Some(mode) = backend.mode {
        cfg.mode = mode;
    }
    if let Some(c) = backend.concurrency {
        cfg.concurrency = c;
    }
    if let Some(t) = backend.timeout {
        cfg.timeout_s = t;
    }
    if let Some(r) = backend.retries {
        cfg.retries = r;
    }
    if let Some(k) = &backend.api_key_env {
        cfg.api_key_env = k.clone();
    }
    if let Some(f) = &backend.image_format {
        cfg.image_format = match f.as_str() {
            "png" => cuelab_vlm::remote::ImageFormat::Png,
            _ => cuelab_vlm::remote::ImageFormat::Jpeg,
        };
    }
    if let Some(q) = backend.jpeg_quality {
        cfg.jpeg_quality = q;
    }
    if backend.max_pixels.is_some() {
        cfg.max_pixels = backend.max_pixels;
    }
    let g = &mut cfg.generation;
    if backend.temperature.is_some() {
        g.temperature = backend.temperature;
    }
    if backend.top_p.is_some() {
        g.top_p = backend.top_p;
    }
    if backend.top_k.is_some() {
        g.top_k = backend.top_k;
    }
    if backend.max_tokens.is_some() {
        g.max_tokens = backend.max_tokens;
    }
    if backend.gen_seed.is_some() {
        g.seed = backend.gen_seed;
    }
    if backend.no_cache {
        cfg.cache_path = None;
    } else if cfg.cache_path.is_none() {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        cfg.cache_path = Some(out.join("responses.sqlite"));
    }
    let identity = serde_json::json!({
        "backend": "openai-compatible",
        "model": cfg.model,
        "mode": cfg.mode,
        "generation": cfg.generation,
        "template": cfg.template,
        "image_format": cfg.image_format,
        "jpeg_quality": cfg.jpeg_quality,
        "max_pixels": cfg.max_pixels,
        "top_logprobs": cfg.top_logprobs,
    });
    let answerer = RemoteAnswerer::new(cfg).context("starting the OpenAI-compatible client")?;
    Ok((Box::new(answerer), identity))
}
