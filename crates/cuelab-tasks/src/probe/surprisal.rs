//! `probe surprisal`: teacher-forced bits/token of a fine-tuning set under an in-process
//! Qwen3-VL, plain vs cued images.
//!
//! Each example is the chat a fine-tune would train on: `[system] + user(images, question)`,
//! then the assistant's reply `answer<|im_end|>` (Qwen3-VL's chat format, [`prompt::chat_prompt`]
//! followed by the answer tokens and `<|im_end|>`, tokenised separately and concatenated). One
//! forward pass gives `-log2 p(token | everything before it)` for every token; two spans are
//! summed:
//!
//! * **answer**: the reply tokens including `<|im_end|>` — what supervised fine-tuning trains on
//!   (the loss of `labels = -100` everywhere else);
//! * **sequence**: every token after the first, except the image placeholder tokens (their
//!   inputs are replaced by image features, so predicting them means nothing; fine-tuning
//!   recipes mask them too).
//!
//! Bits/token of a span equals transformers' `loss / ln 2` with the same labels (checked on
//! fixtures to 1e-4). The dataset's total information is the answer-span bits summed over
//! every example under the plain images (or the first variant when `plain` is not run).
//!
//! Runs are resumable ([`crate::runner`]): one row per `(variant, example)` keyed
//! `variant/example`; an unreadable image or an example the model cannot take (too long for its
//! context) is a row with an error, not retried.

pub mod summary;
pub mod units;

use std::path::PathBuf;

use cuelab_cue::{load_rgb, Recipe, Renderer};
use cuelab_models::qwen3_vl::ops::log_softmax;
use cuelab_models::qwen3_vl::{prompt, ImageProcessor, Qwen3Vl};
use image::RgbImage;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::{Result, TaskError};
use crate::grounding::short_hash;
use crate::runner::{self, RunOptions};
pub use summary::{summarize, table, SurprisalSummary};
pub use units::{units_from_samples, SkippedSample, SurprisalUnit};

/// The `experiment` value of surprisal runs' manifests.
pub const SURPRISAL: &str = "surprisal";

fn default_cues() -> Vec<String> {
    vec!["plain".into()]
}
fn default_caption_prompt() -> String {
    "Describe the image in one sentence.".into()
}

/// What a surprisal run measures (flags or TOML).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurprisalConfig {
    /// Cue recipes, one variant each; `plain` is the uncued image. Cues apply to examples whose
    /// sample has a target (box or region); others are measured plain only.
    #[serde(default = "default_cues")]
    pub cues: Vec<String>,
    /// System prompt of every example.
    #[serde(default)]
    pub system: Option<String>,
    /// The question of caption examples (samples without a question of their own).
    #[serde(default = "default_caption_prompt")]
    pub caption_prompt: String,
    /// Override the processor's `min_pixels`.
    #[serde(default)]
    pub min_pixels: Option<usize>,
    /// Override the processor's `max_pixels`.
    #[serde(default)]
    pub max_pixels: Option<usize>,
    /// Only the first `limit` examples.
    #[serde(default)]
    pub limit: Option<usize>,
    /// Seed of the bootstrap.
    #[serde(default)]
    pub seed: u64,
}

impl Default for SurprisalConfig {
    fn default() -> Self {
        SurprisalConfig {
            cues: default_cues(),
            system: None,
            caption_prompt: default_caption_prompt(),
            min_pixels: None,
            max_pixels: None,
            limit: None,
            seed: 0,
        }
    }
}

/// One cue variant: `plain`, or `cue-<hash>` of the canonical recipe.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// Stable id.
    pub id: String,
    /// Canonical recipe text.
    pub label: String,
    /// The recipe.
    pub recipe: Recipe,
}

impl SurprisalConfig {
    /// The cue variants (a recipe listed twice is an error).
    pub fn variants(&self) -> Result<Vec<Variant>> {
        if self.cues.is_empty() {
            return Err(TaskError::Config(
                "at least one cue variant is needed (e.g. plain)".into(),
            ));
        }
        let mut out: Vec<Variant> = Vec::new();
        for spec in &self.cues {
            let recipe =
                Recipe::parse(spec).map_err(|e| TaskError::Config(format!("cue {spec:?}: {e}")))?;
            let label = recipe.to_string();
            let id = if recipe.is_plain() {
                "plain".to_string()
            } else {
                format!("cue-{}", short_hash(&label))
            };
            if out.iter().any(|v| v.id == id) {
                return Err(TaskError::Config(format!("cue {label:?} is listed twice")));
            }
            out.push(Variant { id, label, recipe });
        }
        Ok(out)
    }

    /// The image processor with this configuration's pixel bounds.
    pub fn processor(&self, model: &Qwen3Vl) -> Result<ImageProcessor> {
        let mut p = model.processor().clone();
        if let Some(m) = self.min_pixels {
            p.min_pixels = m;
        }
        if let Some(m) = self.max_pixels {
            p.max_pixels = m;
        }
        if p.min_pixels > p.max_pixels {
            return Err(TaskError::Config(format!(
                "min_pixels {} is larger than max_pixels {}",
                p.min_pixels, p.max_pixels
            )));
        }
        Ok(p)
    }

    /// Hash of what decides the measurements (canonical cues, prompts, pixel bounds) and the
    /// model id (its weights hash): resuming with another is refused.
    pub fn hash(&self, model_id: &str) -> Result<String> {
        let mut canonical = self.clone();
        canonical.cues = self.variants()?.into_iter().map(|v| v.label).collect();
        canonical.limit = None;
        let text = serde_json::to_string(&(canonical, model_id))
            .map_err(|e| TaskError::Config(e.to_string()))?;
        let digest = Sha256::digest(text.as_bytes());
        Ok(digest.iter().take(8).map(|b| format!("{b:02x}")).collect())
    }
}

/// Surprisal of one example.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// Tokens of the answer span (the reply and `<|im_end|>`).
    pub answer_tokens: usize,
    /// Their surprisal in bits.
    pub answer_bits: f64,
    /// Tokens of the whole sequence that are scored (all after the first, image tokens left out).
    pub sequence_tokens: usize,
    /// Their surprisal in bits.
    pub sequence_bits: f64,
    /// Image tokens in the sequence (not scored).
    pub image_tokens: usize,
}

/// Rows of logits brought to the host at once (bounds host memory for large vocabularies).
const ROW_CHUNK: usize = 64;

/// Teacher-forced surprisal of `answer` after `question` about `images` (see the module
/// documentation for the spans).
pub fn score_example(
    model: &Qwen3Vl,
    processor: &ImageProcessor,
    system: Option<&str>,
    images: &[RgbImage],
    question: &str,
    answer: &str,
) -> cuelab_models::Result<Scored> {
    let text = prompt::chat_prompt(system, images.len(), question);
    let prepared = model.prepare_with(processor, images, &text)?;
    let mut reply = model.encode(answer)?;
    if reply.is_empty() {
        return Err(cuelab_models::Error::Invalid(
            "the answer has no tokens".into(),
        ));
    }
    reply.extend(model.encode("<|im_end|>")?);
    let n0 = prepared.ids.len();
    let full = prepared.with_suffix(&reply);
    let (logits, _, _) = model.prefill(&full, &[])?;
    let image_token = model.config().image_token_id;
    let ln2 = std::f64::consts::LN_2;
    let mut s = Scored {
        answer_tokens: 0,
        answer_bits: 0.0,
        sequence_tokens: 0,
        sequence_bits: 0.0,
        image_tokens: full.ids.iter().filter(|&&t| t == image_token).count(),
    };
    let n = full.ids.len();
    let to_host = |e: candle_core::Error| cuelab_models::Error::Invalid(format!("logits: {e}"));
    // row `r` predicts token `r + 1`
    let mut start = 0;
    while start + 1 < n {
        let len = ROW_CHUNK.min(n - 1 - start);
        let rows = logits
            .narrow(0, start, len)
            .and_then(|l| l.to_dtype(candle_core::DType::F32))
            .and_then(|l| l.to_vec2::<f32>())
            .map_err(to_host)?;
        for (k, row) in rows.iter().enumerate() {
            let t = start + k + 1;
            let target = full.ids[t];
            let Some(&lp) = log_softmax(row).get(target as usize) else {
                return Err(cuelab_models::Error::Invalid(format!(
                    "token id {target} is outside the vocabulary of {} logits",
                    row.len()
                )));
            };
            let bits = -lp / ln2;
            if target != image_token {
                s.sequence_tokens += 1;
                s.sequence_bits += bits;
            }
            if t >= n0 {
                s.answer_tokens += 1;
                s.answer_bits += bits;
            }
        }
        start += len;
    }
    Ok(s)
}

/// One measured (or failed) example under one variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurprisalRow {
    /// `variant/example`.
    pub key: String,
    /// Variant id.
    pub variant: String,
    /// Example id.
    pub unit: String,
    /// Sample id.
    pub sample_id: String,
    /// `qa` or `caption`.
    pub kind: String,
    /// The measurement (absent when `error` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scored: Option<Scored>,
    /// Why it could not be measured (unreadable image, cue failure, too long for the model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a run reports.
#[derive(Debug, Clone)]
pub struct SurprisalOutcome {
    /// The summary (also in `summary.json` / `summary.txt`).
    pub summary: SurprisalSummary,
    /// Rows with an error.
    pub errors: usize,
}

fn cued_images(
    sources: &[RgbImage],
    unit: &SurprisalUnit,
    variant: &Variant,
) -> Result<Vec<RgbImage>> {
    let mut out = Vec::with_capacity(sources.len());
    for (k, source) in sources.iter().enumerate() {
        let targets = unit.targets.get(k).map(Vec::as_slice).unwrap_or(&[]);
        let mut current = source.clone();
        if !variant.recipe.is_plain() {
            for t in targets {
                current = Renderer::new(&current).render(&variant.recipe, t)?;
            }
        }
        out.push(current);
    }
    Ok(out)
}

/// Measure every example under every variant with `model`, resuming into `opts.out`.
/// `skipped` (samples that gave no example) and `data` (description of the data file) go into
/// the manifest and summary.
pub fn run_surprisal(
    config: &SurprisalConfig,
    model: &Qwen3Vl,
    units: &[SurprisalUnit],
    skipped: &[SkippedSample],
    data: &Value,
    opts: &RunOptions,
) -> Result<SurprisalOutcome> {
    let variants = config.variants()?;
    let processor = config.processor(model)?;
    if units.is_empty() {
        return Err(TaskError::NoSamples(format!(
            "no example to measure ({} sample(s) skipped{})",
            skipped.len(),
            skipped
                .first()
                .map(|s| format!(", e.g. {}: {}", s.id, s.reason))
                .unwrap_or_default()
        )));
    }
    let hash = crate::run_identity::with_data(&config.hash(model.id())?, data);
    let selected = runner::select(units, opts.shard, config.limit);
    let mut run = runner::start(
        opts,
        SURPRISAL,
        &hash,
        config.seed,
        json!({
            "config": config,
            "variants": variants.iter().map(|v| json!({"id": v.id, "label": v.label})).collect::<Vec<_>>(),
            "model": model.id(),
            "data": data,
            "examples": selected.len(),
            "skipped": skipped,
        }),
    )?;
    let mut todo: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut expected = 0usize;
    for (ordinal, (_, unit)) in selected.iter().enumerate() {
        let mut vs = Vec::new();
        for (vi, v) in variants.iter().enumerate() {
            if !v.recipe.is_plain() && !unit.has_targets() {
                continue;
            }
            expected += 1;
            if !run.is_done(&format!("{}/{}", v.id, unit.id)) {
                vs.push(vi);
            }
        }
        if !vs.is_empty() {
            todo.push((ordinal, vs));
        }
    }
    let remaining: usize = todo.iter().map(|(_, v)| v.len()).sum();
    let bar = runner::progress_bar(opts.progress, expected as u64, "examples");
    bar.set_position((expected - remaining) as u64);
    for (ordinal, vs) in todo {
        let unit = selected[ordinal].1;
        let sources: std::result::Result<Vec<RgbImage>, String> = unit
            .images
            .iter()
            .map(|p| load_rgb(p).map_err(|e| e.to_string()))
            .collect();
        for vi in vs {
            let v = &variants[vi];
            let key = format!("{}/{}", v.id, unit.id);
            let measured = match &sources {
                Ok(images) => cued_images(images, unit, v)
                    .map_err(|e| e.to_string())
                    .and_then(|imgs| {
                        score_example(
                            model,
                            &processor,
                            config.system.as_deref(),
                            &imgs,
                            &unit.question,
                            &unit.answer,
                        )
                        .map_err(|e| e.to_string())
                    }),
                Err(e) => Err(e.clone()),
            };
            if let Err(e) = &measured {
                tracing::warn!("{key}: {e}");
            }
            let row = SurprisalRow {
                key: key.clone(),
                variant: v.id.clone(),
                unit: unit.id.clone(),
                sample_id: unit.sample_id.clone(),
                kind: unit.kind.clone(),
                scored: measured.as_ref().ok().copied(),
                error: measured.err(),
            };
            run.append(&key, &row)?;
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let rows: Vec<SurprisalRow> = run.rows()?;
    let wanted: std::collections::BTreeSet<&str> =
        selected.iter().map(|(_, u)| u.id.as_str()).collect();
    let rows: Vec<SurprisalRow> = rows
        .into_iter()
        .filter(|r| wanted.contains(r.unit.as_str()))
        .collect();
    let order: Vec<(String, String)> = variants
        .iter()
        .map(|v| (v.id.clone(), v.label.clone()))
        .collect();
    let summary = summarize(&rows, &order, model.id(), skipped.len(), config.seed);
    runner::finish(&run, &summary, &table(&summary))?;
    let errors = rows.iter().filter(|r| r.error.is_some()).count();
    Ok(SurprisalOutcome { summary, errors })
}

/// Append the rows of finished shard directories `dirs` to `run` and summarise (used by
/// [`runner::merge_runs`], which checks the shard set first).
pub(crate) fn merge_into(
    run: &mut crate::run_dir::RunDir,
    dirs: &[PathBuf],
    manifest: &Value,
    order: &[(String, String)],
    seed: u64,
) -> Result<SurprisalSummary> {
    for d in dirs {
        let rows: Vec<SurprisalRow> = crate::run_dir::read_rows(&d.join(crate::run_dir::RESULTS))?;
        for r in rows {
            run.append(&r.key.clone(), &r)?;
        }
    }
    let rows: Vec<SurprisalRow> = run.rows()?;
    let skipped = manifest["skipped"].as_array().map(Vec::len).unwrap_or(0);
    let model = manifest["model"].as_str().unwrap_or("");
    let summary = summarize(&rows, order, model, skipped, seed);
    runner::finish(run, &summary, &table(&summary))?;
    Ok(summary)
}

/// Everything `cuelab probe surprisal` needs: where the model and data are, and the run.
#[derive(Debug, Clone)]
pub struct SurprisalSettings {
    /// A local Qwen3-VL directory or a Hugging Face id in the local hub cache.
    pub model: String,
    /// A PEFT LoRA adapter to merge first.
    pub adapter: Option<PathBuf>,
    /// `cpu` or `cuda[:N]`.
    pub device: String,
    /// Generic JSONL file (relative media paths resolve against its folder).
    pub data: PathBuf,
    /// What to measure.
    pub config: SurprisalConfig,
    /// Where and how to run.
    pub opts: RunOptions,
}

/// Load the model and the data of `settings`, and run [`run_surprisal`].
pub fn run_file(settings: &SurprisalSettings) -> Result<SurprisalOutcome> {
    let loaded = cuelab_data::jsonl::read(&settings.data, false)?;
    let base = settings
        .data
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    let (units, skipped) =
        units_from_samples(&loaded.samples, &base, &settings.config.caption_prompt);
    let load = || -> cuelab_models::Result<Qwen3Vl> {
        let device = cuelab_models::device(&settings.device)?;
        let resolved = cuelab_models::resolve::resolve(&settings.model)?;
        Qwen3Vl::load_with_adapter(
            &resolved.dir,
            settings.adapter.as_deref(),
            &cuelab_models::LoadOptions::default().with_device(device),
        )
    };
    let model = load().map_err(|e| TaskError::LoadModel {
        model: settings.model.clone(),
        source: Box::new(e),
    })?;
    let data = runner::describe_data_file(
        &settings.data,
        json!({"path": settings.data.display().to_string(), "format": "jsonl",
               "samples": loaded.samples.len()}),
    )?;
    run_surprisal(
        &settings.config,
        &model,
        &units,
        &skipped,
        &data,
        &settings.opts,
    )
}
