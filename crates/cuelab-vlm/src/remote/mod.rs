//! The remote backend: any OpenAI-compatible `/v1/chat/completions` server (vLLM, SGLang,
//! mistral.rs, llama.cpp, hosted APIs).
//!
//! [`RemoteAnswerer`] owns a multi-threaded tokio runtime; [`Answerer::answer_all`] blocks on it
//! while up to `concurrency` requests are in flight, spread over the endpoints. Each question's
//! images are encoded when its request is about to be sent, once per image: the data URL is kept
//! in a [`payload::PayloadCache`] (bounded, keyed by the image) and shared by every question that
//! shows the same image; an image registered with [`RemoteAnswerer::register_original`] is sent
//! as its file's own bytes. Each answer is looked up in the response cache first and stored there
//! after.
//!
//! Modules: [`config`] (settings), [`prompt`] (user text), [`encode`] (images to data URLs),
//! [`jpeg`] (the JPEG encoder), [`payload`] (encodings shared across requests),
//! [`request`] (body and cache key), [`http`] (sending, retries), [`response`] (reading the
//! answer), [`cache`] (SQLite).

pub mod cache;
pub mod config;
pub mod encode;
pub mod health;
pub mod http;
pub mod jpeg;
pub mod payload;
pub mod prompt;
pub mod request;
pub mod response;
pub mod video;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::answer::Answer;
use crate::backend::{AnswerSink, Answerer};
use crate::error::{Result, VlmError};
use crate::question::Question;

pub use cache::ResponseCache;
pub use config::{GenerationConfig, ImageFormat, PromptTemplate, RemoteConfig, VideoInput};
pub use health::EndpointStats;
use http::{ApiKey, RetryPolicy, SendError, Transport};

/// An [`Answerer`] asking OpenAI-compatible servers.
pub struct RemoteAnswerer {
    runtime: tokio::runtime::Runtime,
    shared: Arc<Shared>,
}

struct Shared {
    config: RemoteConfig,
    endpoints: Vec<String>,
    transport: Transport,
    cache: Option<ResponseCache>,
    has_key: bool,
    payloads: payload::PayloadCache,
}

impl RemoteAnswerer {
    /// Checks `config`, reads the API key from the environment variable it names, opens the
    /// response cache and starts the client's runtime. Nothing is sent yet.
    pub fn new(config: RemoteConfig) -> Result<Self> {
        config
            .validate()
            .map_err(|e| VlmError::Other(format!("remote backend config: {e}")))?;
        let endpoints: Vec<String> = config
            .endpoints
            .iter()
            .map(|e| http::completions_url(e))
            .collect();
        let api_key = ApiKey::from_env(&config.api_key_env);
        let has_key = api_key.is_some();
        let policy = RetryPolicy {
            retries: config.retries,
            base: Duration::from_secs_f64(config.backoff_base_s),
            max: Duration::from_secs_f64(config.backoff_max_s),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.threads)
            .thread_name("vlm-client")
            .enable_all()
            .build()
            .map_err(|e| VlmError::Other(format!("cannot start the client runtime: {e}")))?;
        // reqwest's client must be built inside a runtime context
        let transport = {
            let _enter = runtime.enter();
            Transport::new(
                &endpoints,
                api_key,
                config.timeout(),
                config.concurrency,
                policy,
                health::HealthPolicy {
                    eject_after: config.eject_after,
                    probe_base: Duration::from_secs_f64(config.probe_base_s),
                    probe_max: Duration::from_secs_f64(config.probe_max_s),
                    probe_timeout: config.timeout(),
                },
            )
            .map_err(VlmError::Other)?
        };
        let cache = match &config.cache_path {
            Some(path) => Some(ResponseCache::open(path).map_err(VlmError::Other)?),
            None => None,
        };
        Ok(RemoteAnswerer {
            runtime,
            shared: Arc::new(Shared {
                config,
                endpoints,
                transport,
                cache,
                has_key,
                payloads: payload::PayloadCache::new(payload::DEFAULT_BUDGET),
            }),
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &RemoteConfig {
        &self.shared.config
    }

    /// Requests, failures, ejections and latency percentiles of each endpoint so far.
    pub fn endpoint_stats(&self) -> Vec<EndpointStats> {
        self.shared.transport.endpoint_stats()
    }

    /// Attempts sent to each endpoint so far (full URL, count), retries included.
    pub fn sent_per_endpoint(&self) -> Vec<(String, usize)> {
        self.shared.transport.sent_per_endpoint()
    }

    /// Registers `image` as the unmodified decode of the image file `bytes`, so that questions
    /// showing it (this allocation, or any image with the same pixels) send the file's own bytes
    /// instead of a re-encoding. Returns false, and registers nothing, when the file cannot stand
    /// for the pixels (see [`encode::original_mime`]) or the image must be downscaled to
    /// `max_pixels`. The registration lasts while `image` is alive and the payload cache has room.
    pub fn register_original(&self, image: &Arc<image::RgbImage>, bytes: &[u8]) -> bool {
        let (w, h) = image.dimensions();
        if encode::fitted_size(w, h, self.shared.config.max_pixels) != (w, h) {
            return false;
        }
        let Some(mime) = encode::original_mime(bytes, w, h) else {
            return false;
        };
        self.shared
            .payloads
            .insert(image, encode::data_url(bytes, mime));
        true
    }

    /// Entries and data-URL bytes in the shared payload cache.
    pub fn payload_usage(&self) -> (usize, usize) {
        self.shared.payloads.usage()
    }

    /// Answers one question (a batch of one); the per-question error is returned as is.
    pub fn answer_one(&self, question: &Question) -> Result<Answer> {
        let mut out = None;
        self.answer_all(std::slice::from_ref(question), &mut |_, r| out = Some(r))?;
        out.unwrap_or_else(|| Err(VlmError::Other("no answer was produced".into())))
    }
}

impl Shared {
    async fn answer(&self, question: &Question) -> Result<Answer> {
        let invalid = |reason: String| VlmError::InvalidRequest {
            id: question.id.clone(),
            reason,
        };
        let config = &self.config;
        let text = prompt::user_text(&config.template, config.mode, question).ok_or_else(|| {
            invalid(format!(
                "{} options cannot be lettered in the {} mode (at most 26)",
                question.choices.len(),
                config.mode
            ))
        })?;
        let as_video =
            config.video_input == config::VideoInput::VideoUrl && question.images.len() > 1;
        let images = if as_video {
            let frames: Vec<image::RgbImage> =
                question.images.iter().map(|f| f.as_ref().clone()).collect();
            video::encode(&frames, config.video_fps, config.max_pixels)
                .map(|v| vec![Arc::new(v)])
                .map_err(invalid)?
        } else {
            let mut shared = Vec::with_capacity(question.images.len());
            for img in &question.images {
                let encoded = match self.payloads.get(img) {
                    Some(e) => e,
                    None => {
                        let e = encode::encode(
                            img,
                            config.image_format,
                            config.jpeg_quality,
                            config.max_pixels,
                        )
                        .map_err(invalid)?;
                        self.payloads.insert(img, e)
                    }
                };
                shared.push(encoded);
            }
            shared
        };
        let built = request::build(config, question, &text, &images).map_err(invalid)?;
        drop(images);
        if let Some(cache) = &self.cache {
            match cache.get(&built.cache_key) {
                Ok(Some(answer)) => return Ok(answer),
                Ok(None) => {}
                Err(e) => tracing::warn!("{e}; asking the server"),
            }
        }
        let mode = config.mode;
        let answer = self
            .transport
            .send(Bytes::from(built.body), |body| {
                response::parse(body, mode, question)
            })
            .await
            .map_err(|e| match e {
                SendError::Fatal(message) => VlmError::Fatal(message),
                SendError::Failed { attempts, reason } => VlmError::Failed {
                    id: question.id.clone(),
                    attempts,
                    reason,
                },
            })?;
        if let Some(cache) = &self.cache {
            if let Err(e) = cache.put(&built.cache_key, &answer) {
                tracing::warn!("{e}");
            }
        }
        Ok(answer)
    }
}

impl Answerer for RemoteAnswerer {
    fn register_original(&self, image: &Arc<image::RgbImage>, bytes: &[u8]) -> bool {
        RemoteAnswerer::register_original(self, image, bytes)
    }

    fn endpoint_stats(&self) -> Vec<EndpointStats> {
        RemoteAnswerer::endpoint_stats(self)
    }

    fn describe(&self) -> Value {
        let c = &self.shared.config;
        json!({
            "backend": "openai-compatible",
            "endpoints": self.shared.endpoints,
            "model": c.model,
            "mode": c.mode,
            "api_key_env": c.api_key_env,
            "api_key_set": self.shared.has_key,
            "concurrency": c.concurrency,
            "timeout_s": c.timeout_s,
            "retries": c.retries,
            "backoff_base_s": c.backoff_base_s,
            "backoff_max_s": c.backoff_max_s,
            "image_format": c.image_format,
            "jpeg_quality": c.jpeg_quality,
            "max_pixels": c.max_pixels,
            "resize_filter": "catmull-rom",
            "generation": c.generation,
            "top_logprobs": c.top_logprobs,
            "cache_path": c.cache_path,
            "template": c.template,
        })
    }

    fn answer_all(&self, questions: &[Question], sink: &mut AnswerSink<'_>) -> Result<()> {
        let shared = &self.shared;
        let limit = shared.config.concurrency;
        self.runtime.block_on(async {
            let mut tasks: JoinSet<(usize, Result<Answer>)> = JoinSet::new();
            let mut index_of = HashMap::new();
            let mut next = 0;
            let mut fatal: Option<String> = None;
            loop {
                while fatal.is_none() && tasks.len() < limit && next < questions.len() {
                    let question = questions[next].clone();
                    let shared = Arc::clone(shared);
                    let i = next;
                    let handle = tasks.spawn(async move { (i, shared.answer(&question).await) });
                    index_of.insert(handle.id(), i);
                    next += 1;
                }
                let Some(joined) = tasks.join_next_with_id().await else {
                    break;
                };
                match joined {
                    Ok((id, (i, result))) => {
                        index_of.remove(&id);
                        match result {
                            Err(VlmError::Fatal(message)) => {
                                if fatal.is_none() {
                                    fatal = Some(message);
                                    tasks.abort_all();
                                }
                            }
                            other => sink(i, other),
                        }
                    }
                    Err(e) if e.is_cancelled() => {}
                    Err(e) => {
                        if let Some(i) = index_of.remove(&e.id()) {
                            let id = questions[i].id.clone();
                            sink(
                                i,
                                Err(VlmError::Other(format!(
                                    "question {id}: the request task panicked"
                                ))),
                            );
                        }
                    }
                }
            }
            match fatal {
                Some(message) => Err(VlmError::Fatal(message)),
                None => Ok(()),
            }
        })
    }
}
