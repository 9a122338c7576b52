//! Settings of the remote backend, deserialisable from a TOML table or JSON.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::question::AnswerMode;

/// How images are encoded into the request's data URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    /// Baseline JPEG at [`RemoteConfig::jpeg_quality`] (small requests; lossy).
    #[default]
    Jpeg,
    /// PNG (lossless; larger requests, slower to encode).
    Png,
}

/// Sampling settings sent with every request. Only the fields that are set are sent, so the
/// server's defaults (or the model's generation config) apply to the rest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenerationConfig {
    /// Sampling temperature (0 = greedy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Top-k sampling (a vLLM/SGLang extension; -1 disables).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<i64>,
    /// Maximum number of generated tokens (the `logprobs` mode always sends 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Presence penalty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
}

/// How the user message's text is built from the question and its options.
///
/// Placeholders: `{question}` (the question text) and `{options}` (the options: comma-separated
/// for `choice_list`, one `A. option` line each for `lettered`). Open questions (no options) send
/// the question text alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PromptTemplate {
    /// Used by the constrained modes (`structured`, `guided`), whose answer is an option's text.
    pub choice_list: String,
    /// Used by `logprobs` and `free`, whose answer is an option's letter.
    pub lettered: String,
}

impl Default for PromptTemplate {
    fn default() -> Self {
        PromptTemplate {
            choice_list: "{question}\nOptions: {options}".to_string(),
            lettered: "{question}\n{options}\nAnswer with the option's letter.".to_string(),
        }
    }
}

/// Everything the remote backend needs. Durations are in seconds (fractions allowed).
///
/// ```toml
/// endpoints = ["http://gpu1:8000/v1", "http://gpu2:8000/v1"]
/// model = "Qwen/Qwen3-VL-2B-Instruct"
/// mode = "structured"
/// concurrency = 64
/// [generation]
/// temperature = 0.0
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RemoteConfig {
    /// Base URLs of OpenAI-compatible servers (`http://host:8000/v1`, `http://host:8000`, or the
    /// full `.../chat/completions` URL). Requests go to the endpoint with the fewest requests in
    /// flight (ties in turn), so replicas of one model share the load.
    pub endpoints: Vec<String>,
    /// Model name sent in every request.
    pub model: String,
    /// How the model is made to pick an option.
    pub mode: AnswerMode,
    /// Name of the environment variable holding the API key (sent as `Authorization: Bearer`);
    /// no header is sent when the variable is unset or empty. The key itself is never recorded.
    pub api_key_env: String,
    /// Maximum number of requests in flight, over all endpoints.
    pub concurrency: usize,
    /// Per-request timeout in seconds (connect, send, and read the whole response).
    pub timeout_s: f64,
    /// Retries after the first attempt, on timeouts, connection errors, 429, 5xx and malformed
    /// responses.
    pub retries: u32,
    /// First backoff delay in seconds; doubles on each retry, with jitter, up to `backoff_max_s`.
    /// A 429's `Retry-After` is honoured when longer.
    pub backoff_base_s: f64,
    /// Longest backoff delay in seconds (also caps `Retry-After`).
    pub backoff_max_s: f64,
    /// Image encoding of the data URLs.
    pub image_format: ImageFormat,
    /// JPEG quality, 1–100.
    pub jpeg_quality: u8,
    /// Downscale images with more pixels than this before sending (aspect ratio kept, Catmull-Rom
    /// bicubic filter); `None` sends them as they are.
    pub max_pixels: Option<u64>,
    /// Sampling settings.
    pub generation: GenerationConfig,
    /// `top_logprobs` requested in the `logprobs` mode (vLLM allows up to 20 by default).
    pub top_logprobs: u32,
    /// SQLite response cache; `None` disables caching.
    pub cache_path: Option<PathBuf>,
    /// Prompt template.
    pub template: PromptTemplate,
    /// Worker threads of the client's own async runtime.
    pub threads: usize,
    /// A replica failing this many attempts in a row (connection errors, timeouts, 5xx,
    /// malformed bodies) leaves the rotation until a probe succeeds; 0 keeps every replica in.
    pub eject_after: u32,
    /// Seconds before the first probe of a replica out of the rotation; doubles after each
    /// failed probe, up to `probe_max_s`.
    pub probe_base_s: f64,
    /// Longest delay between probes, in seconds.
    pub probe_max_s: f64,
    /// How a question with several images (a clip's frames) is sent: as that many `image_url`
    /// parts (`frames`, the default) or as one MP4 `video_url` part (`video_url`, vLLM's form;
    /// encoded by the system ffmpeg).
    pub video_input: VideoInput,
    /// Frame rate written into the MP4 of `video_input = "video_url"` (the server's own frame
    /// sampler reads the clip's duration from it).
    pub video_fps: f64,
    /// OpenAI `response_format` sent with open questions (e.g. `{"type": "json_schema", ...}`
    /// to constrain the answer to a JSON schema, as vLLM and OpenAI support); `None` sends none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<serde_json::Value>,
}

/// How the frames of a clip are sent to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoInput {
    /// One `image_url` part per frame.
    #[default]
    Frames,
    /// One `video_url` part: the frames encoded as an H.264 MP4 data URL (`video` is accepted
    /// too; with an in-process Qwen3-VL it selects the model's own video input).
    #[serde(alias = "video")]
    VideoUrl,
}

impl std::str::FromStr for VideoInput {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "frames" => Ok(VideoInput::Frames),
            "video_url" | "video" => Ok(VideoInput::VideoUrl),
            _ => Err(format!(
                "unknown video input {s:?}: expected frames or video_url (alias video)"
            )),
        }
    }
}

impl Default for RemoteConfig {
    fn default() -> Self {
        RemoteConfig {
            endpoints: vec!["http://127.0.0.1:8000/v1".to_string()],
            model: String::new(),
            mode: AnswerMode::Structured,
            api_key_env: "OPENAI_API_KEY".to_string(),
            concurrency: 32,
            timeout_s: 120.0,
            retries: 4,
            backoff_base_s: 0.5,
            backoff_max_s: 30.0,
            image_format: ImageFormat::Jpeg,
            jpeg_quality: 90,
            max_pixels: None,
            generation: GenerationConfig::default(),
            top_logprobs: 20,
            cache_path: None,
            template: PromptTemplate::default(),
            threads: 2,
            eject_after: 3,
            probe_base_s: 2.0,
            probe_max_s: 120.0,
            video_input: VideoInput::Frames,
            video_fps: 2.0,
            response_format: None,
        }
    }
}

impl RemoteConfig {
    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_s.max(0.001))
    }

    /// Checks values a server could not fix; `Err` says which field is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.endpoints.is_empty() {
            return Err("endpoints: at least one endpoint is needed".into());
        }
        if self.model.trim().is_empty() {
            return Err("model: a model name is needed".into());
        }
        if self.concurrency == 0 {
            return Err("concurrency: must be at least 1".into());
        }
        if !(self.timeout_s.is_finite() && self.timeout_s > 0.0) {
            return Err(format!(
                "timeout_s: must be a positive number, got {}",
                self.timeout_s
            ));
        }
        let non_negative = |x: f64| x.is_finite() && x >= 0.0;
        if !non_negative(self.backoff_base_s) || !non_negative(self.backoff_max_s) {
            return Err("backoff_base_s / backoff_max_s: must be non-negative numbers".into());
        }
        if !non_negative(self.probe_base_s) || !non_negative(self.probe_max_s) {
            return Err("probe_base_s / probe_max_s: must be non-negative numbers".into());
        }
        if !(1..=100).contains(&self.jpeg_quality) {
            return Err(format!(
                "jpeg_quality: must be 1..=100, got {}",
                self.jpeg_quality
            ));
        }
        if self.max_pixels == Some(0) {
            return Err("max_pixels: must be at least 1".into());
        }
        if self.top_logprobs == 0 {
            return Err("top_logprobs: must be at least 1".into());
        }
        if self.threads == 0 {
            return Err("threads: must be at least 1".into());
        }
        for (name, t) in [
            ("template.choice_list", &self.template.choice_list),
            ("template.lettered", &self.template.lettered),
        ] {
            if !t.contains("{question}") {
                return Err(format!("{name}: must contain {{question}}"));
            }
        }
        Ok(())
    }
}
