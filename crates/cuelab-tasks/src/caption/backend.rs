//! Who writes the captions: an in-process Qwen3-VL (every generation config: greedy, sampling,
//! beam search) or an OpenAI-compatible server in free-text mode (greedy and sampling settings
//! are sent as `temperature`, `top_p`, `top_k`, `seed`, `max_tokens`; beam search, n-gram bans
//! and repetition penalties are refused, the API has no such fields).

use std::collections::HashSet;
use std::path::PathBuf;

use cuelab_models::qwen3_vl::words::{word_strip, WordAttentionOptions};
use cuelab_models::qwen3_vl::{prompt, Qwen3Vl};
use cuelab_vlm::remote::{GenerationConfig, RemoteAnswerer, RemoteConfig};
use cuelab_vlm::{AnswerMode, Answerer, Question, VlmError};
use serde_json::{json, Value};

use super::config::GenSpec;
use crate::error::{Result, TaskError};

/// The captioning backend, as configured.
#[derive(Debug, Clone)]
pub enum CaptionBackend {
    /// An in-process Qwen3-VL.
    Local {
        /// Directory or HF id in the local cache.
        model: String,
        /// PEFT LoRA adapter merged into the model.
        adapter: Option<PathBuf>,
        /// `cpu` or `cuda[:N]`.
        device: String,
    },
    /// An OpenAI-compatible server (its `mode` and `generation` are replaced per cell).
    Remote(Box<RemoteConfig>),
}

/// One caption, or why there is none.
#[derive(Debug, Clone)]
pub struct Written {
    /// The caption (trimmed).
    pub text: String,
    /// Generated tokens (in-process only).
    pub tokens: Option<usize>,
    /// Whether a stop token ended it (in-process only).
    pub stopped: Option<bool>,
    /// Served from the response cache.
    pub from_cache: bool,
}

/// Called with (index in the batch, caption or error).
pub type CaptionSink<'a> = dyn FnMut(usize, std::result::Result<Written, VlmError>) + Send + 'a;

/// A loaded backend.
pub trait Captioner {
    /// What decides the captions (part of the run identity).
    fn identity(&self) -> Value;
    /// Caption `questions` (open questions: images + prompt) with generation config `gen`.
    /// Per-question failures go to `sink`; an error return is fatal for the run.
    fn caption_all(
        &self,
        gen: &GenSpec,
        questions: &[Question],
        sink: &mut CaptionSink<'_>,
    ) -> std::result::Result<(), VlmError>;
}

/// Captions with a loaded Qwen3-VL.
pub struct LocalCaptioner<'m> {
    model: &'m Qwen3Vl,
    attention: Option<AttentionOutput>,
}

/// Where and for which captions per-word attention is written.
pub struct AttentionOutput {
    /// What attention to read.
    pub options: WordAttentionOptions,
    /// Folder receiving `<cell>__<sample>.{npy,json,png}`.
    pub dir: PathBuf,
    /// The caption keys (`cell/sample`) to write maps for.
    pub keys: HashSet<String>,
}

impl<'m> LocalCaptioner<'m> {
    /// Wrap a loaded model.
    pub fn new(model: &'m Qwen3Vl) -> Self {
        LocalCaptioner {
            model,
            attention: None,
        }
    }

    /// Also write per-word attention maps for the captions in `out.keys`.
    pub fn with_attention(mut self, out: AttentionOutput) -> Self {
        self.attention = Some(out);
        self
    }

    fn write_attention(
        &self,
        out: &AttentionOutput,
        key: &str,
        image: &image::RgbImage,
        p: &cuelab_models::qwen3_vl::Prepared,
        tokens: &[u32],
    ) -> cuelab_models::Result<()> {
        let att = self.model.word_attention(p, tokens, &out.options)?;
        let safe = key.replace(['/', '\\'], "__");
        std::fs::create_dir_all(&out.dir).map_err(|source| cuelab_models::Error::Io {
            path: out.dir.clone(),
            source,
        })?;
        let base = out.dir.join(safe);
        let (r, c) = att.grid;
        cuelab_models::npy::write_f32_shaped(
            &base.with_extension("npy"),
            &att.word_maps,
            &[att.word_maps.len(), r, c],
        )?;
        let meta = json!({
            "key": key,
            "grid": [r, c],
            "words": att.words,
            "options": out.options,
            "npy": "(words, grid rows, grid cols), float32, row i = words[i]",
        });
        let json_path = base.with_extension("json");
        std::fs::write(&json_path, meta.to_string()).map_err(|source| {
            cuelab_models::Error::Io {
                path: json_path.clone(),
                source,
            }
        })?;
        let strip = word_strip(image, &att, 160)?;
        let png = base.with_extension("png");
        strip
            .save(&png)
            .map_err(|e| cuelab_models::Error::Invalid(format!("{}: {e}", png.display())))
    }
}

impl Captioner for LocalCaptioner<'_> {
    fn identity(&self) -> Value {
        json!({
            "backend": "local-qwen3-vl",
            "model": self.model.id(),
            "prompt": "chat template: user(images, prompt), generation prompt",
        })
    }

    fn caption_all(
        &self,
        gen: &GenSpec,
        questions: &[Question],
        sink: &mut CaptionSink<'_>,
    ) -> std::result::Result<(), VlmError> {
        for (i, q) in questions.iter().enumerate() {
            let invalid = |e: cuelab_models::Error| VlmError::InvalidRequest {
                id: q.id.clone(),
                reason: e.to_string(),
            };
            let images: Vec<image::RgbImage> =
                q.images.iter().map(|im| im.as_ref().clone()).collect();
            let chat = prompt::chat_prompt(q.system.as_deref(), images.len(), &q.text);
            let result = self
                .model
                .prepare_with(self.model.processor(), &images, &chat)
                .and_then(|p| {
                    let g = self.model.generate_with(&p, &gen.decode)?;
                    if let Some(out) = self.attention.as_ref().filter(|o| o.keys.contains(&q.id)) {
                        if let Some(first) = images.first() {
                            if let Err(e) = self.write_attention(out, &q.id, first, &p, &g.tokens) {
                                tracing::warn!("{}: attention maps not written: {e}", q.id);
                            }
                        }
                    }
                    Ok(g)
                })
                .map(|g| Written {
                    text: g.text.trim().to_string(),
                    tokens: Some(g.tokens.len()),
                    stopped: Some(g.stopped),
                    from_cache: false,
                })
                .map_err(invalid);
            sink(i, result);
        }
        Ok(())
    }
}

/// The OpenAI-compatible generation fields of `gen`, or why it cannot be sent.
pub fn remote_generation(gen: &GenSpec) -> Result<GenerationConfig> {
    let d = &gen.decode;
    if d.num_beams > 1 || d.no_repeat_ngram_size > 0 || d.repetition_penalty != 1.0 {
        return Err(TaskError::Config(format!(
            "--gen {}: beam search, no_repeat_ngram_size and repetition_penalty need the \
             in-process backend (--local); an OpenAI-compatible server takes temperature, \
             top_p, top_k, seed and max_tokens",
            gen.label
        )));
    }
    Ok(GenerationConfig {
        temperature: Some(if d.do_sample { d.temperature } else { 0.0 }),
        top_p: (d.do_sample && d.top_p != 1.0).then_some(d.top_p),
        top_k: (d.do_sample && d.top_k != 0).then_some(d.top_k as i64),
        max_tokens: Some(d.max_new_tokens as u32),
        seed: (gen.seeded || d.do_sample).then_some(d.seed),
        presence_penalty: None,
    })
}

/// Captions from an OpenAI-compatible server: one client per generation config.
pub struct RemoteCaptioner {
    base: RemoteConfig,
    clients: Vec<(String, RemoteAnswerer)>,
}

impl RemoteCaptioner {
    /// Start one free-text client per generation config of `gens`.
    pub fn new(base: &RemoteConfig, gens: &[GenSpec]) -> Result<Self> {
        let mut clients = Vec::new();
        for g in gens {
            let mut cfg = base.clone();
            cfg.mode = AnswerMode::Free;
            cfg.generation = remote_generation(g)?;
            let client = RemoteAnswerer::new(cfg).map_err(|e| {
                TaskError::Backend(format!("starting the OpenAI-compatible client: {e}"))
            })?;
            clients.push((g.label.clone(), client));
        }
        Ok(RemoteCaptioner {
            base: base.clone(),
            clients,
        })
    }
}

impl Captioner for RemoteCaptioner {
    fn identity(&self) -> Value {
        let c = &self.base;
        json!({
            "backend": "openai-compatible",
            "model": c.model,
            "mode": "free",
            "image_format": c.image_format,
            "jpeg_quality": c.jpeg_quality,
            "max_pixels": c.max_pixels,
        })
    }

    fn caption_all(
        &self,
        gen: &GenSpec,
        questions: &[Question],
        sink: &mut CaptionSink<'_>,
    ) -> std::result::Result<(), VlmError> {
        let Some((_, client)) = self.clients.iter().find(|(l, _)| *l == gen.label) else {
            return Err(VlmError::Other(format!(
                "no client for generation config {}",
                gen.label
            )));
        };
        client.answer_all(questions, &mut |i, answer| {
            sink(
                i,
                answer.map(|a| Written {
                    text: a.text.trim().to_string(),
                    tokens: None,
                    stopped: None,
                    from_cache: a.from_cache,
                }),
            )
        })
    }
}
