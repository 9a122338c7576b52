//! The grounding experiment as one library call: [`GroundingSettings`] (a typed configuration
//! with [`Default`]) in, a run directory and a [`GroundingOutcome`] out.
//!
//! Precedence, as `cuelab ground` applies it: command-line flags, then the TOML experiment file
//! ([`GroundingConfig::from_toml_file`]), then [`GroundingConfig::default`] and
//! [`GroundingSettings::default`].
//!
//! The crate documentation opens with a runnable example.

use std::path::{Path, PathBuf};

use cuelab_models::cache::EmbeddingCache;
use cuelab_models::{load_scorer, ImageTextScorer, LoadOptions, Pipeline};
use serde_json::{json, Value};

use super::config::GroundingConfig;
use super::run::run_grounding;
use super::summary::Summary;
use super::{from_data_samples_counted, Grounder, GroundingSample, InputCounts, StageSeconds};
use crate::error::{Result, TaskError};
use crate::proposals::{CachedDetections, ProposalSource};
use crate::runner::{self, RunOptions};

/// The model a grounding run uses when neither flags nor the configuration file name one.
pub const DEFAULT_MODEL: &str = "openai/clip-vit-base-patch32";

/// File with the time per stage of the last invocation, in the run directory.
pub const TIMING_FILE: &str = "timing.json";

/// Everything one grounding run needs besides the experiment configuration.
#[derive(Debug, Clone)]
pub struct GroundingSettings {
    /// The experiment (models, methods, cues, debiasing, seed, limit).
    pub config: GroundingConfig,
    /// Samples: a RefCOCO/+/g folder (or its `refs(...).p` file), or a JSONL file (cuelab's
    /// dataset format, or flat grounding rows); see [`load_samples`].
    pub data: PathBuf,
    /// RefCOCO split (all when `None`).
    pub split: Option<String>,
    /// RefCOCO image folder.
    pub images: Option<PathBuf>,
    /// Where proposals come from.
    pub proposals: ProposalSource,
    /// Image preprocessing of every backbone.
    pub preprocess: Pipeline,
    /// Device: `cpu` or `cuda[:N]`.
    pub device: String,
    /// Run directory (resumed when it exists).
    pub out: PathBuf,
    /// Only shard `(I, N)`.
    pub shard: Option<(usize, usize)>,
    /// Use the SQLite embedding cache in the run directory.
    pub use_cache: bool,
    /// Show a progress bar.
    pub progress: bool,
}

impl Default for GroundingSettings {
    fn default() -> Self {
        GroundingSettings {
            config: GroundingConfig::default(),
            data: PathBuf::from("samples.jsonl"),
            split: None,
            images: None,
            proposals: ProposalSource::GroundTruth,
            preprocess: Pipeline::Openai,
            device: "cpu".into(),
            out: PathBuf::from("runs/ground"),
            shard: None,
            use_cache: true,
            progress: false,
        }
    }
}

/// What a grounding run reports.
#[derive(Debug, Clone)]
pub struct GroundingOutcome {
    /// The summary (also in `summary.json` / `summary.txt`).
    pub summary: Summary,
    /// Inputs skipped, replaced or dropped (also in the manifest and the summary).
    pub inputs: InputCounts,
    /// Where this invocation's time went (also in `timing.json`).
    pub timing: StageSeconds,
    /// The detections, when a detector made the proposals.
    pub detections: Option<CachedDetections>,
}

impl GroundingOutcome {
    /// Rows that could not be scored (unreadable image, no proposals), over all variants.
    pub fn errors(&self) -> usize {
        self.summary.variants.iter().map(|v| v.errors).sum()
    }
}

/// Load every backbone with `pipeline` on `device`.
pub fn load_models(
    names: &[String],
    pipeline: Pipeline,
    device: &str,
) -> Result<Vec<Box<dyn ImageTextScorer + Send + Sync>>> {
    let opts = LoadOptions {
        pipeline: Some(pipeline),
        device: cuelab_models::device(device)?,
        ..LoadOptions::default()
    };
    names
        .iter()
        .map(|m| {
            load_scorer(m, &opts).map_err(|source| TaskError::LoadModel {
                model: m.clone(),
                source: Box::new(source),
            })
        })
        .collect()
}

/// Read grounding samples from JSONL: either cuelab's generic dataset format (`cuelab scenes`'
/// `samples.jsonl`, any converted dataset: grounding samples expand to one row per expression) or
/// flat grounding rows (`{"id","image","expression","target","proposals"}`). Image paths are
/// relative to the file. Generic samples' expressions are scored as their `sent` text.
pub fn read_samples(path: &Path) -> Result<Vec<GroundingSample>> {
    read_samples_as(path, cuelab_data::TextField::Sent)
}

/// [`read_samples`] with generic samples' expression text taken from `field`.
pub fn read_samples_as(path: &Path, field: cuelab_data::TextField) -> Result<Vec<GroundingSample>> {
    read_samples_counted(path, field, &mut InputCounts::default())
}

/// [`read_samples_as`], counting the grounding samples it skips in `counts`.
pub fn read_samples_counted(
    path: &Path,
    field: cuelab_data::TextField,
    counts: &mut InputCounts,
) -> Result<Vec<GroundingSample>> {
    let text = std::fs::read_to_string(path).map_err(|e| TaskError::io(path, e))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| TaskError::Json {
            path: path.to_path_buf(),
            message: format!("line {}: {message}", i + 1),
        };
        let value: Value = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        if value.get("task").is_some() {
            let sample: cuelab_data::Sample =
                serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
            out.extend(from_data_samples_counted(&[sample], base, field, counts));
        } else {
            let mut s: GroundingSample = serde_json::from_value(value)
                .map_err(|e| bad(format!("not a grounding sample: {e}")))?;
            if s.image.is_relative() {
                s.image = base.join(&s.image);
            }
            out.push(s);
        }
    }
    if out.is_empty() {
        return Err(TaskError::NoSamples(format!(
            "{}: no grounding samples",
            path.display()
        )));
    }
    Ok(out)
}

/// Grounding samples of a RefCOCO-style dataset: one per sentence (its `field` text), all
/// instance boxes of the image as proposals; and the training split's expressions (the `train`
/// debias pool).
pub fn read_refcoco(
    data: &Path,
    images: Option<&Path>,
    split: Option<&str>,
    field: cuelab_data::TextField,
) -> Result<(Vec<GroundingSample>, Vec<String>)> {
    read_refcoco_counted(data, images, split, field, &mut InputCounts::default())
}

/// [`read_refcoco`], counting the grounding samples it skips in `counts`.
pub fn read_refcoco_counted(
    data: &Path,
    images: Option<&Path>,
    split: Option<&str>,
    field: cuelab_data::TextField,
    counts: &mut InputCounts,
) -> Result<(Vec<GroundingSample>, Vec<String>)> {
    let (refs_path, instances) = cuelab_data::refcoco::find_files(data)?;
    let refs = cuelab_data::refcoco::read_refs(&refs_path)?;
    let loaded =
        cuelab_data::refcoco::load_refs(&refs, &refs_path, &instances, images, split, false)?;
    let train = cuelab_data::refcoco::split_expressions(&refs, "train", field);
    let base = match images {
        Some(dir) => dir.to_path_buf(),
        None => refs_path.parent().unwrap_or(Path::new(".")).to_path_buf(),
    };
    let samples = from_data_samples_counted(&loaded.samples, &base, field, counts);
    if samples.is_empty() {
        return Err(TaskError::NoSamples(format!(
            "{}: no grounding samples{}",
            data.display(),
            split.map(|s| format!(" in split {s}")).unwrap_or_default()
        )));
    }
    Ok((samples, train))
}

/// True when `data` is read as RefCOCO (a folder or a `.p` refs file).
pub fn is_refcoco(data: &Path) -> bool {
    data.is_dir() || data.extension().is_some_and(|e| e == "p")
}

/// Samples of `data` with their expressions' `field` text: a RefCOCO folder or `.p` file
/// ([`read_refcoco`]), else JSONL ([`read_samples_as`]); and the training split's expressions
/// (RefCOCO refs with split `train`, or JSONL samples with `"split": "train"`).
pub fn load_samples(
    data: &Path,
    images: Option<&Path>,
    split: Option<&str>,
    field: cuelab_data::TextField,
) -> Result<(Vec<GroundingSample>, Vec<String>)> {
    load_samples_counted(data, images, split, field, &mut InputCounts::default())
}

/// [`load_samples`], counting the grounding samples it skips in `counts`.
pub fn load_samples_counted(
    data: &Path,
    images: Option<&Path>,
    split: Option<&str>,
    field: cuelab_data::TextField,
    counts: &mut InputCounts,
) -> Result<(Vec<GroundingSample>, Vec<String>)> {
    if is_refcoco(data) {
        read_refcoco_counted(data, images, split, field, counts)
    } else {
        let samples = read_samples_counted(data, field, counts)?;
        let train = samples
            .iter()
            .filter(|s| s.split == "train")
            .map(|s| s.expression.clone())
            .collect();
        Ok((samples, train))
    }
}

/// Run a grounding experiment on loaded samples and models into `opts.out`, and write the time
/// per stage of this invocation to `timing.json` (a resumed run counts only what it did itself).
/// `train_expressions` feed the `train` debias pool ([`GroundingConfig::build_debias_pool`]).
pub fn run_with_models(
    config: &GroundingConfig,
    samples: &[GroundingSample],
    train_expressions: Option<&[String]>,
    models: &[Box<dyn ImageTextScorer + Send + Sync>],
    opts: &RunOptions,
    use_cache: bool,
    data_description: &Value,
) -> Result<(Summary, StageSeconds)> {
    let out = &opts.out;
    let cache = if use_cache {
        std::fs::create_dir_all(out).map_err(|e| TaskError::io(out, e))?;
        Some(EmbeddingCache::open(&out.join("embeddings.sqlite"))?)
    } else {
        None
    };
    let debias = config.build_debias_pool(samples, train_expressions)?;
    let mut data_description = data_description.clone();
    if let Some(d) = data_description.as_object_mut() {
        d.insert("debias".into(), debias.describe());
        d.insert("text_field".into(), config.text_field().as_str().into());
    }
    let pool = debias.expressions.clone();
    let grounder = Grounder::with_pool(
        models,
        cache,
        config.variants()?,
        samples,
        &debias,
        config.seed,
    )?;
    let ids: Vec<String> = models
        .iter()
        .map(|m| format!("{} ({})", m.id(), m.preprocess().key()))
        .collect();
    let summary = run_grounding(
        config,
        samples,
        &pool,
        &grounder,
        &ids,
        &data_description,
        opts,
    )?;
    let stages = grounder.stage_seconds();
    tracing::info!(
        texts_s = stages.texts,
        render_s = stages.render,
        encode_images_s = stages.encode_images,
        "time per stage (summed over samples)"
    );
    let timing_path = out.join(TIMING_FILE);
    let timing = serde_json::to_string_pretty(&stages).map_err(|e| TaskError::Json {
        path: timing_path.clone(),
        message: e.to_string(),
    })?;
    std::fs::write(&timing_path, timing).map_err(|e| TaskError::io(&timing_path, e))?;
    Ok((summary, stages))
}

/// Run the grounding experiment `settings` describe: load the samples, replace their proposals
/// from the chosen source, load the models, run (resuming) into `settings.out`.
pub fn run_study(settings: &GroundingSettings) -> Result<GroundingOutcome> {
    let mut config = settings.config.clone();
    config.resolve_defaults(is_refcoco(&settings.data));
    let config = &config;
    let mut inputs = InputCounts::default();
    let (mut samples, train) = load_samples_counted(
        &settings.data,
        settings.images.as_deref(),
        settings.split.as_deref(),
        config.text_field(),
        &mut inputs,
    )?;
    let detections = settings.proposals.apply(
        &mut samples,
        settings.shard,
        config.limit,
        &settings.out,
        &mut inputs,
    )?;
    let models = load_models(&config.models, settings.preprocess, &settings.device)?;
    let mut data_description = runner::describe_data_file(
        &settings.data,
        json!({
            "samples_file": settings.data.display().to_string(),
            "proposals": settings.proposals.describe(),
            "proposals_sha256": settings.proposals.file_sha256()?,
            "detector": detections.as_ref().map(|d| d.description.clone()),
            "split": settings.split,
            "images": settings.images.as_ref().map(|p| p.display().to_string()),
            "inputs": inputs,
        }),
    )?;
    if let (Some(d), true) = (data_description.as_object_mut(), is_refcoco(&settings.data)) {
        // A RefCOCO folder: its refs and instances files are the data.
        let (refs, instances) =
            cuelab_data::refcoco::find_files(&settings.data).map_err(TaskError::from)?;
        d.insert("refs_sha256".into(), runner::sha256_file(&refs)?.into());
        if instances.is_file() {
            d.insert(
                "instances_sha256".into(),
                runner::sha256_file(&instances)?.into(),
            );
        }
    }
    let opts = RunOptions {
        out: settings.out.clone(),
        shard: settings.shard,
        progress: settings.progress,
    };
    let (summary, timing) = run_with_models(
        config,
        &samples,
        Some(train.as_slice()),
        &models,
        &opts,
        settings.use_cache,
        &data_description,
    )?;
    Ok(GroundingOutcome {
        summary,
        timing,
        detections,
        inputs,
    })
}
