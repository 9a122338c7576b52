//! Which model answers a question-answering run ([`Backend`]), its construction and identity,
//! and the run itself as one call ([`run_questions`]).
//!
//! The crate documentation opens with a runnable example.

use std::path::PathBuf;

use cuelab_models::Pipeline;
use cuelab_vlm::remote::{RemoteAnswerer, RemoteConfig};
use cuelab_vlm::Answerer;
use serde_json::{json, Value};

use super::clip_choice::ClipChoiceAnswerer;
use super::config::VqaConfig;
use super::item::VqaItem;
use super::local::LocalVlmAnswerer;
use super::run::{run_vqa, VqaOutcome};
use crate::error::{Result, TaskError};
use crate::runner::RunOptions;

/// The model that answers.
#[derive(Debug, Clone)]
pub enum Backend {
    /// A CLIP model: the option most similar to the image wins (MMVP-VLM's evaluation).
    Clip {
        /// HF id or local directory.
        model: String,
        /// Text put before each option.
        prefix: String,
        /// Image preprocessing.
        pipeline: Pipeline,
        /// `cpu` or `cuda[:N]`.
        device: String,
    },
    /// An in-process Qwen3-VL: options ranked by log-likelihood, open questions by greedy
    /// generation.
    Local {
        /// Directory or HF id in the local cache.
        model: String,
        /// PEFT LoRA adapter merged into the model.
        adapter: Option<PathBuf>,
        /// Longest generated answer, in tokens.
        max_new_tokens: usize,
        /// `cpu` or `cuda[:N]`.
        device: String,
        /// A clip's frames as one video input at this frame rate (the model's video processor);
        /// `None` shows them as separate images.
        video_fps: Option<f64>,
    },
    /// An OpenAI-compatible server. A `cache_path` of `None` is kept (no response cache); set
    /// it with [`with_run_cache`] to cache in the run directory.
    Remote(Box<RemoteConfig>),
}

/// `config` with its response cache in `run_dir/responses.sqlite` unless it names one.
pub fn with_run_cache(mut config: RemoteConfig, run_dir: &std::path::Path) -> Result<RemoteConfig> {
    if config.cache_path.is_none() {
        std::fs::create_dir_all(run_dir).map_err(|e| TaskError::io(run_dir, e))?;
        config.cache_path = Some(run_dir.join("responses.sqlite"));
    }
    Ok(config)
}

/// What decides a remote backend's answers (the run identity): not endpoints, concurrency,
/// timeouts, keys or the cache.
pub fn remote_identity(cfg: &RemoteConfig) -> Value {
    let mut id = json!({
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
    // Clips sent as one video: how they are encoded decides the answers too (left out for
    // frames, so the identity of image runs is unchanged).
    if cfg.video_input != cuelab_vlm::remote::VideoInput::Frames {
        id["video_input"] = json!(cfg.video_input);
        id["video_fps"] = json!(cfg.video_fps);
    }
    // Only when set, so runs made before the field existed keep their identity.
    if let Some(format) = &cfg.response_format {
        id["response_format"] = format.clone();
    }
    id
}

/// Build `backend` and ask every item under every variant of `config`, resuming into
/// `opts.out` (see [`run_vqa`]).
pub fn run_questions(
    config: &VqaConfig,
    items: &[VqaItem],
    backend: &Backend,
    data_description: &Value,
    opts: &RunOptions,
) -> Result<VqaOutcome> {
    if items.is_empty() {
        return Err(TaskError::NoSamples(
            "no questions to ask in the data".into(),
        ));
    }
    with_answerer(backend, |answerer, identity| {
        run_vqa(config, items, answerer, identity, data_description, opts)
    })
}

/// Build `backend` (load the model, start the client) and call `f` with its answerer and run
/// identity (what decides its answers); every experiment that asks questions goes through here.
pub fn with_answerer<T>(
    backend: &Backend,
    f: impl FnOnce(&dyn Answerer, &Value) -> Result<T>,
) -> Result<T> {
    match backend {
        Backend::Clip {
            model,
            prefix,
            pipeline,
            device,
        } => {
            let scorer =
                crate::grounding::load_models(std::slice::from_ref(model), *pipeline, device)?
                    .pop()
                    .ok_or_else(|| TaskError::Config("no model loaded".into()))?;
            let answerer = ClipChoiceAnswerer::new(scorer.as_ref(), prefix.clone());
            f(&answerer, &answerer.identity())
        }
        Backend::Local {
            model,
            adapter,
            max_new_tokens,
            device,
            video_fps,
        } => {
            let resolved = cuelab_models::resolve::resolve(model)?;
            let device = cuelab_models::device(device)?;
            let loaded = cuelab_models::qwen3_vl::Qwen3Vl::load_with_adapter(
                &resolved.dir,
                adapter.as_deref(),
                &cuelab_models::LoadOptions::default().with_device(device),
            )
            .map_err(|source| TaskError::LoadModel {
                model: model.clone(),
                source: Box::new(source),
            })?;
            let answerer = LocalVlmAnswerer::new(&loaded, *max_new_tokens).with_video(*video_fps);
            f(&answerer, &answerer.identity())
        }
        Backend::Remote(cfg) => {
            let identity = remote_identity(cfg);
            let answerer = RemoteAnswerer::new(cfg.as_ref().clone()).map_err(|e| {
                TaskError::Backend(format!("starting the OpenAI-compatible client: {e}"))
            })?;
            f(&answerer, &identity)
        }
    }
}
