//! The grounding experiment of seed 004: pick the region a referring expression describes among
//! region proposals, with CLIP.
//!
//! * `baseline`: crop each proposal, cosine similarity with the expression,
//!   `softmax(100 · sim)`, argmax (seed 004 §Baseline).
//! * `redcircle`: for every proposal render each cue recipe on the full image (default: red
//!   ellipse width 3 + blur 20 outside the box, and the same + grayscale), score against
//!   `"This is {expr}"`, average over backbones, subtract the mean similarity of the same cued
//!   image to N random expressions (debiasing), aggregate over cue variants (mean or max),
//!   argmax (seed 004 §6.2, "What does CLIP know about a red circle?").
//!
//! Text and debias embeddings are computed once per run. The debias term of an image is
//! `mean_t cos(img, t) = img_n · mean_t(t_n)`, so only the mean normalised debias text
//! embedding is kept per backbone. With seed 004's pools (`train`, a file; see [`crate::debias`])
//! the mean also runs over the sample's given prompts (every expression of its referent):
//! `score = cos(img, t) − img_n · (Σ_given t_n + N · mean_debias) / (K + N)`.

use std::path::PathBuf;
use std::sync::Mutex;

use cuelab_cue::{BoxXyxy, Recipe, Renderer, Target};
use cuelab_models::cache::EmbeddingCache;
use cuelab_models::{l2_normalize, ImageTextScorer};
use image::RgbImage;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::boxes::iou;
use crate::debias::DebiasPool;
use crate::error::{Result, TaskError};
use crate::spatial::is_spatial;

pub mod config;
pub mod inputs;
pub mod overrides;
pub mod run;
pub mod study;
pub mod summary;

pub use config::{default_cues, GroundingConfig, OneOrMany};
pub use inputs::InputCounts;
pub use overrides::GroundingOverrides;
pub use run::run_grounding;
pub use study::{
    is_refcoco, load_models, load_samples, read_refcoco, read_samples, read_samples_as, run_study,
    run_with_models, GroundingOutcome, GroundingSettings, DEFAULT_MODEL, TIMING_FILE,
};

/// One referring expression to ground.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundingSample {
    /// Stable id (e.g. `ref123/0` for the first sentence of ref 123).
    pub id: String,
    /// The image file.
    pub image: PathBuf,
    /// The referring expression.
    pub expression: String,
    /// The ground-truth box.
    pub target: BoxXyxy,
    /// Region proposals (ground-truth instance boxes, detector output, ...).
    pub proposals: Vec<BoxXyxy>,
    /// Dataset split.
    #[serde(default)]
    pub split: String,
    /// Class name of each proposal when a detector made them (same order as `proposals`); empty
    /// otherwise. Used by the class prior ([`Variant::class_prior`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proposal_classes: Vec<String>,
    /// Every expression of the same referent, this one included, in dataset order: seed 004's
    /// "given prompts", which join the debias prompts in the subtracted mean. Empty means just
    /// `expression`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub given_expressions: Vec<String>,
}

impl crate::shard::ShardKey for GroundingSample {
    fn shard_key(&self) -> &str {
        &self.id
    }
}

impl GroundingSample {
    /// The given prompts' expressions (see [`GroundingSample::given_expressions`]).
    pub fn given(&self) -> Vec<&str> {
        if self.given_expressions.is_empty() {
            vec![self.expression.as_str()]
        } else {
            self.given_expressions.iter().map(String::as_str).collect()
        }
    }
}

/// Grounding samples from generic dataset samples (cuelab-data's JSONL, RefCOCO, synthetic
/// scenes): one per referring expression of each grounding sample with a target box; other
/// samples are ignored. Relative image paths are resolved against `base`. Expressions are
/// scored as `sent` (seed 004), or `raw` where a sample has no `sent`.
pub fn from_data_samples(
    samples: &[cuelab_data::Sample],
    base: &std::path::Path,
) -> Vec<GroundingSample> {
    from_data_samples_as(samples, base, cuelab_data::TextField::Sent)
}

/// [`from_data_samples`] with the expression text taken from `field`.
pub fn from_data_samples_as(
    samples: &[cuelab_data::Sample],
    base: &std::path::Path,
    field: cuelab_data::TextField,
) -> Vec<GroundingSample> {
    from_data_samples_counted(samples, base, field, &mut InputCounts::default())
}

/// [`from_data_samples_as`], counting in `counts` the grounding samples it skips (no target
/// box, no image, no expression). Samples of other tasks are not grounding samples and are not
/// counted.
pub fn from_data_samples_counted(
    samples: &[cuelab_data::Sample],
    base: &std::path::Path,
    field: cuelab_data::TextField,
    counts: &mut InputCounts,
) -> Vec<GroundingSample> {
    let mut out = Vec::new();
    for s in samples {
        if s.task != cuelab_data::Task::Grounding {
            continue;
        }
        let (Some(target), Some(image)) = (s.target, s.image.as_ref()) else {
            counts.skip(if s.target.is_none() {
                "grounding sample without a target box"
            } else {
                "grounding sample without an image"
            });
            continue;
        };
        if s.expressions.is_empty() {
            counts.skip("grounding sample without an expression");
            continue;
        }
        let given: Vec<String> = s
            .expressions
            .iter()
            .map(|e| e.text(field).to_string())
            .collect();
        for (k, e) in given.iter().enumerate() {
            out.push(GroundingSample {
                id: format!("{}/{k}", s.id),
                image: cuelab_data::jsonl::resolve(base, image),
                expression: e.clone(),
                target,
                proposals: s.proposals.clone(),
                split: s.split.clone().unwrap_or_default(),
                proposal_classes: Vec::new(),
                given_expressions: given.clone(),
            });
        }
    }
    out
}

/// The two grounding methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Crop each proposal and score it.
    Baseline,
    /// Draw cues on the full image for each proposal and score it (Red-Circle).
    Redcircle,
}

impl std::str::FromStr for Method {
    type Err = TaskError;

    /// `baseline` or `redcircle`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "baseline" => Ok(Method::Baseline),
            "redcircle" => Ok(Method::Redcircle),
            other => Err(TaskError::Config(format!(
                "unknown method {other:?} (expected baseline or redcircle)"
            ))),
        }
    }
}

/// How scores of several cue recipes for one proposal are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregate {
    /// Mean over recipes.
    Mean,
    /// Max over recipes.
    Max,
}

impl std::str::FromStr for Aggregate {
    type Err = TaskError;

    /// `mean` or `max`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "mean" => Ok(Aggregate::Mean),
            "max" => Ok(Aggregate::Max),
            other => Err(TaskError::Config(format!(
                "unknown aggregation {other:?} (expected mean or max)"
            ))),
        }
    }
}

/// One point of the experiment grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    /// The method.
    pub method: Method,
    /// Cue recipes (canonical specs) for `redcircle`.
    pub cues: Vec<String>,
    /// Text template; `{expr}` is replaced by the expression.
    pub template: String,
    /// Number of random expressions to debias with (0 = off).
    pub debias: usize,
    /// How recipe scores are combined.
    pub aggregate: Aggregate,
    /// Drop proposals covering more than this fraction of the image (`None` = keep all).
    pub max_area: Option<f32>,
    /// Weight `λ` of the detector-class prior (`None` = off; see [`class_prior_scores`]). Only
    /// applied to samples whose proposals all carry a class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_prior: Option<f32>,
}

impl Variant {
    /// A short human label.
    pub fn label(&self) -> String {
        let prior = self
            .class_prior
            .map(|l| format!("+classprior({l})"))
            .unwrap_or_default();
        let base = match self.method {
            Method::Baseline => format!("baseline[{}]", self.template),
            Method::Redcircle => format!(
                "redcircle[{} cue(s), {}, debias={}, {:?}{}]",
                self.cues.len(),
                self.template,
                self.debias,
                self.aggregate,
                self.max_area
                    .map(|a| format!(", max_area={a}"))
                    .unwrap_or_default()
            )
            .to_lowercase(),
        };
        base + &prior
    }

    /// A stable id: a hash of the variant's canonical JSON.
    pub fn id(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        short_hash(&text)
    }
}

/// First 12 hex digits of the SHA-256 of `text`.
pub fn short_hash(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(text.as_bytes());
    d.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// The per-sample result row written to `results.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundingRow {
    /// `variant_id/sample_id`.
    pub key: String,
    /// Variant id.
    pub variant: String,
    /// Sample id.
    pub sample: String,
    /// The expression.
    pub expression: String,
    /// Whether it has a spatial word.
    pub spatial: bool,
    /// Error message when the sample could not be scored (excluded from metrics, counted).
    pub error: Option<String>,
    /// Number of proposals scored.
    pub proposals: usize,
    /// True when there were no proposals and the whole image was used.
    pub fallback: bool,
    /// Final score per proposal (after ensembling, debiasing and aggregation).
    pub scores: Vec<f32>,
    /// Index of the chosen proposal.
    pub chosen: usize,
    /// The chosen box.
    pub predicted: Option<BoxXyxy>,
    /// The ground-truth box.
    pub target: BoxXyxy,
    /// IoU of the prediction with the target (torchvision arithmetic).
    pub iou: f32,
    /// Cosine between the embeddings of the predicted and the ground-truth crops (first backbone).
    pub crop_cosine: Option<f32>,
}

/// Per-backbone text state computed once per run and variant template.
struct TextState {
    /// Normalised embedding per distinct prompt.
    prompts: std::collections::HashMap<String, Vec<f32>>,
    /// Mean normalised debias embedding (when debiasing).
    bias: Option<Vec<f32>>,
    /// Number of debias prompts behind `bias`.
    bias_count: usize,
    /// Normalised embedding of `"a picture of a {class}"` per proposal class (class prior only).
    classes: std::collections::HashMap<String, Vec<f32>>,
}

/// Where a run's time went, summed over every sample (with parallel samples the sums can exceed
/// the wall time). Text embeddings are computed once, in [`Grounder::new`].
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct StageSeconds {
    /// Embedding the prompts and debias texts (once per run).
    pub texts: f64,
    /// Drawing cued images and crops.
    pub render: f64,
    /// Image encoding (cache look-ups included).
    pub encode_images: f64,
}

/// Nanosecond counters behind [`StageSeconds`].
#[derive(Debug, Default)]
struct StageClock {
    texts: std::sync::atomic::AtomicU64,
    render: std::sync::atomic::AtomicU64,
    encode_images: std::sync::atomic::AtomicU64,
}

impl StageClock {
    fn add(counter: &std::sync::atomic::AtomicU64, since: std::time::Instant) {
        let ns = u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        counter.fetch_add(ns, std::sync::atomic::Ordering::Relaxed);
    }

    fn seconds(&self) -> StageSeconds {
        let s = |c: &std::sync::atomic::AtomicU64| {
            c.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e9
        };
        StageSeconds {
            texts: s(&self.texts),
            render: s(&self.render),
            encode_images: s(&self.encode_images),
        }
    }
}

/// Shared state of a grounding run: backbones, cache, precomputed texts.
pub struct Grounder<'m> {
    clock: StageClock,
    models: &'m [Box<dyn ImageTextScorer + Send + Sync>],
    cache: Option<Mutex<EmbeddingCache>>,
    /// `texts[variant][model]`.
    texts: Vec<Vec<TextState>>,
    /// Whether the given prompts join the debias mean (seed 004's pools).
    debias_includes_given: bool,
    variants: Vec<Variant>,
    recipes: Vec<Vec<Recipe>>,
    crop: Recipe,
}

impl<'m> Grounder<'m> {
    /// Prepare a run with cuelab's earlier debiasing ([`DebiasPool::eval`]): `debias_pool` is
    /// the set of expressions distinct debias prompts are drawn from.
    pub fn new(
        models: &'m [Box<dyn ImageTextScorer + Send + Sync>],
        cache: Option<EmbeddingCache>,
        variants: Vec<Variant>,
        samples: &[GroundingSample],
        debias_pool: &[String],
        seed: u64,
    ) -> Result<Self> {
        let pool = DebiasPool::eval(debias_pool.to_vec());
        Self::with_pool(models, cache, variants, samples, &pool, seed)
    }

    /// Prepare a run: parse recipes, embed every prompt (given prompts included) and each
    /// variant's debias prompts, drawn once from `pool` with `seed`.
    pub fn with_pool(
        models: &'m [Box<dyn ImageTextScorer + Send + Sync>],
        cache: Option<EmbeddingCache>,
        variants: Vec<Variant>,
        samples: &[GroundingSample],
        pool: &DebiasPool,
        seed: u64,
    ) -> Result<Self> {
        if models.is_empty() {
            return Err(TaskError::Config("at least one model is needed".into()));
        }
        let cache = cache.map(Mutex::new);
        let started = std::time::Instant::now();
        let recipes = variants
            .iter()
            .map(|v| {
                v.cues
                    .iter()
                    .map(|c| Recipe::parse(c).map_err(TaskError::from))
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        let mut texts = Vec::new();
        for v in &variants {
            if !v.template.contains("{expr}") {
                return Err(TaskError::Config(format!(
                    "template {:?} has no {{expr}} placeholder",
                    v.template
                )));
            }
            let mut prompts: Vec<String> = samples
                .iter()
                .flat_map(|s| {
                    let mut texts = vec![s.expression.as_str()];
                    if pool.includes_given() && v.debias > 0 {
                        texts.extend(s.given());
                    }
                    texts
                })
                .map(|e| v.template.replace("{expr}", e))
                .collect();
            prompts.sort();
            prompts.dedup();
            let debias_prompts: Vec<String> = pool
                .draw(v.debias, seed)
                .iter()
                .map(|e| v.template.replace("{expr}", e))
                .collect();
            let mut per_model = Vec::new();
            for m in models {
                let emb = encode_texts(&cache, m.as_ref(), &prompts)?;
                let map = prompts
                    .iter()
                    .cloned()
                    .zip(emb.iter().map(|e| l2_normalize(e)))
                    .collect();
                let bias = if debias_prompts.is_empty() {
                    None
                } else {
                    let emb = encode_texts(&cache, m.as_ref(), &debias_prompts)?;
                    let dim = emb.first().map_or(0, Vec::len);
                    let mut mean = vec![0f32; dim];
                    for e in &emb {
                        for (a, b) in mean.iter_mut().zip(l2_normalize(e)) {
                            *a += b;
                        }
                    }
                    let n = emb.len().max(1) as f32;
                    mean.iter_mut().for_each(|a| *a /= n);
                    Some(mean)
                };
                let classes = if v.class_prior.is_some() {
                    let mut names: Vec<String> = samples
                        .iter()
                        .flat_map(|s| s.proposal_classes.iter().cloned())
                        .collect();
                    names.sort();
                    names.dedup();
                    let texts: Vec<String> = names.iter().map(|c| class_prompt(c)).collect();
                    let emb = encode_texts(&cache, m.as_ref(), &texts)?;
                    names
                        .into_iter()
                        .zip(emb.iter().map(|e| l2_normalize(e)))
                        .collect()
                } else {
                    Default::default()
                };
                per_model.push(TextState {
                    prompts: map,
                    bias,
                    bias_count: debias_prompts.len(),
                    classes,
                });
            }
            texts.push(per_model);
        }
        let clock = StageClock::default();
        StageClock::add(&clock.texts, started);
        Ok(Grounder {
            clock,
            models,
            cache,
            texts,
            debias_includes_given: pool.includes_given(),
            variants,
            recipes,
            crop: Recipe::parse("crop")?,
        })
    }

    /// Time spent so far per stage.
    pub fn stage_seconds(&self) -> StageSeconds {
        self.clock.seconds()
    }

    /// The variants of this run.
    pub fn variants(&self) -> &[Variant] {
        &self.variants
    }

    /// Score one sample under variant `vi` with its image already loaded.
    pub fn ground(
        &self,
        vi: usize,
        sample: &GroundingSample,
        image: &RgbImage,
    ) -> Result<GroundingRow> {
        let variant = &self.variants[vi];
        let (w, h) = image.dimensions();
        let image_area = w as f32 * h as f32;
        let has_classes = sample.proposal_classes.len() == sample.proposals.len();
        let (mut proposals, classes): (Vec<BoxXyxy>, Vec<Option<&String>>) = sample
            .proposals
            .iter()
            .enumerate()
            .filter_map(|(i, b)| {
                let class = if has_classes {
                    sample.proposal_classes.get(i)
                } else {
                    None
                };
                b.clip_to(w, h).map(|b| (b, class))
            })
            .filter(|(b, _)| variant.max_area.is_none_or(|a| b.area() <= a * image_area))
            .unzip();
        let fallback = proposals.is_empty();
        if fallback {
            proposals.push(BoxXyxy {
                x0: 0.0,
                y0: 0.0,
                x1: w as f32,
                y1: h as f32,
            });
        }
        let renderer = Renderer::new(image);
        let recipes: Vec<(String, &Recipe)> = match variant.method {
            Method::Baseline => vec![(self.crop.to_string(), &self.crop)],
            Method::Redcircle => self.recipes[vi]
                .iter()
                .map(|r| (r.to_string(), r))
                .collect(),
        };
        let prompt = variant.template.replace("{expr}", &sample.expression);
        // scores[recipe][proposal], summed over models then divided
        let mut scores = vec![vec![0f32; proposals.len()]; recipes.len()];
        let mut first_model_crops: Option<Vec<Vec<f32>>> = None;
        for (ri, (spec, recipe)) in recipes.iter().enumerate() {
            let t = std::time::Instant::now();
            let cued: Vec<RgbImage> = proposals
                .par_iter()
                .map(|b| renderer.render(recipe, &Target::from_box(*b)))
                .collect::<std::result::Result<_, _>>()?;
            StageClock::add(&self.clock.render, t);
            for (mi, m) in self.models.iter().enumerate() {
                let t = std::time::Instant::now();
                let emb = encode_images(&self.cache, m.as_ref(), &cued, spec)?;
                StageClock::add(&self.clock.encode_images, t);
                let state = &self.texts[vi][mi];
                let t = state.prompts.get(&prompt).ok_or_else(|| {
                    TaskError::Config(format!("prompt {prompt:?} was not prepared"))
                })?;
                let bias = self.sample_bias(state, variant, sample)?;
                for (pi, e) in emb.iter().enumerate() {
                    let e = l2_normalize(e);
                    let mut s = dot(&e, t);
                    if let Some(bias) = &bias {
                        s -= dot(&e, bias);
                    }
                    scores[ri][pi] += s / self.models.len() as f32;
                }
                if mi == 0 && variant.method == Method::Baseline {
                    first_model_crops = Some(emb);
                }
            }
        }
        let mut final_scores: Vec<f32> = (0..proposals.len())
            .map(|pi| {
                let col = scores.iter().map(|r| r[pi]);
                match variant.aggregate {
                    Aggregate::Mean => col.sum::<f32>() / recipes.len() as f32,
                    Aggregate::Max => col.fold(f32::NEG_INFINITY, f32::max),
                }
            })
            .collect();
        if let (Some(lambda), false) = (variant.class_prior, fallback) {
            let names: Option<Vec<&String>> = classes.iter().copied().collect();
            if let Some(names) = names.filter(|n| !n.is_empty()) {
                // class-text similarity, averaged over backbones
                let mut sims = vec![0f32; names.len()];
                for (mi, _) in self.models.iter().enumerate() {
                    let state = &self.texts[vi][mi];
                    let t = state.prompts.get(&prompt).ok_or_else(|| {
                        TaskError::Config(format!("prompt {prompt:?} was not prepared"))
                    })?;
                    for (k, c) in names.iter().enumerate() {
                        let e = state.classes.get(*c).ok_or_else(|| {
                            TaskError::Config(format!("class {c:?} was not prepared"))
                        })?;
                        sims[k] += dot(t, e) / self.models.len() as f32;
                    }
                }
                final_scores = class_prior_scores(&final_scores, &sims, lambda);
            }
        }
        let chosen = argmax(&final_scores);
        let predicted = proposals[chosen];
        let crop_cosine = self.crop_cosine(
            &renderer,
            &predicted,
            &sample.target,
            first_model_crops.as_ref().map(|c| &c[chosen]),
        )?;
        Ok(GroundingRow {
            key: format!("{}/{}", variant.id(), sample.id),
            variant: variant.id(),
            sample: sample.id.clone(),
            expression: sample.expression.clone(),
            spatial: is_spatial(&sample.expression),
            error: None,
            proposals: proposals.len(),
            fallback,
            scores: final_scores,
            chosen,
            predicted: Some(predicted),
            target: sample.target,
            iou: iou(&predicted, &sample.target),
            crop_cosine,
        })
    }

    /// The text vector whose dot product with a normalised image embedding is subtracted: the
    /// mean debias embedding, or with seed 004's pools the mean over the debias prompts and the
    /// sample's given prompts together, `(Σ_given t + N · mean_debias) / (K + N)`.
    fn sample_bias(
        &self,
        state: &TextState,
        variant: &Variant,
        sample: &GroundingSample,
    ) -> Result<Option<Vec<f32>>> {
        let Some(mean) = &state.bias else {
            return Ok(None);
        };
        if !self.debias_includes_given {
            return Ok(Some(mean.clone()));
        }
        let n = state.bias_count as f32;
        let mut sum: Vec<f32> = mean.iter().map(|m| m * n).collect();
        let given = sample.given();
        for e in &given {
            let p = variant.template.replace("{expr}", e);
            let t = state
                .prompts
                .get(&p)
                .ok_or_else(|| TaskError::Config(format!("given prompt {p:?} was not prepared")))?;
            for (a, b) in sum.iter_mut().zip(t) {
                *a += b;
            }
        }
        let total = n + given.len() as f32;
        Ok(Some(sum.into_iter().map(|a| a / total).collect()))
    }

    /// Cosine between the first backbone's embeddings of the predicted and target crops.
    fn crop_cosine(
        &self,
        renderer: &Renderer<'_>,
        predicted: &BoxXyxy,
        target: &BoxXyxy,
        predicted_emb: Option<&Vec<f32>>,
    ) -> Result<Option<f32>> {
        let m = self.models[0].as_ref();
        let (w, h) = renderer.source().dimensions();
        let Some(t) = target.clip_to(w, h) else {
            return Ok(None);
        };
        let started = std::time::Instant::now();
        let mut crops = vec![renderer.render(&self.crop, &Target::from_box(t))?];
        if predicted_emb.is_none() {
            crops.push(renderer.render(&self.crop, &Target::from_box(*predicted))?);
        }
        StageClock::add(&self.clock.render, started);
        let spec = self.crop.to_string();
        let started = std::time::Instant::now();
        let emb = encode_images(&self.cache, m, &crops, &spec)?;
        StageClock::add(&self.clock.encode_images, started);
        let p = match predicted_emb {
            Some(e) => e.clone(),
            None => emb[1].clone(),
        };
        Ok(Some(dot(&l2_normalize(&emb[0]), &l2_normalize(&p))))
    }

    /// An error row for a sample that could not be scored.
    pub fn error_row(&self, vi: usize, sample: &GroundingSample, message: String) -> GroundingRow {
        let variant = &self.variants[vi];
        GroundingRow {
            key: format!("{}/{}", variant.id(), sample.id),
            variant: variant.id(),
            sample: sample.id.clone(),
            expression: sample.expression.clone(),
            spatial: is_spatial(&sample.expression),
            error: Some(message),
            proposals: sample.proposals.len(),
            fallback: false,
            scores: Vec::new(),
            chosen: 0,
            predicted: None,
            target: sample.target,
            iou: 0.0,
            crop_cosine: None,
        }
    }
}

fn encode_texts(
    cache: &Option<Mutex<EmbeddingCache>>,
    m: &dyn ImageTextScorer,
    texts: &[String],
) -> Result<Vec<Vec<f32>>> {
    Ok(match cache {
        Some(c) => c
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .encode_texts(m, texts)?,
        None => m.encode_texts(texts)?,
    })
}

fn encode_images(
    cache: &Option<Mutex<EmbeddingCache>>,
    m: &dyn ImageTextScorer,
    images: &[RgbImage],
    cue: &str,
) -> Result<Vec<Vec<f32>>> {
    Ok(match cache {
        Some(c) => c
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .encode_images(m, images, cue)?,
        None => m.encode_images(images)?,
    })
}

/// The text a proposal's class is embedded as for the class prior.
pub fn class_prompt(class: &str) -> String {
    format!("a picture of a {class}")
}

/// Log-softmax of `100 · x` (CLIP's logit scale), numerically stable.
fn log_softmax100(x: &[f32]) -> Vec<f32> {
    let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let z: f32 = x.iter().map(|v| (100.0 * (v - m)).exp()).sum();
    x.iter().map(|v| 100.0 * (v - m) - z.ln()).collect()
}

/// Combine method scores with the detector-class prior (seed 004's class-prior option):
///
/// `final_i = log softmax_i(100 · score_i) + λ · log softmax_i(100 · cos(t_expr, t_class_i))`
///
/// where `score_i` is the method's score of proposal `i` (crop or cue similarity, debiased and
/// aggregated), `t_expr` the normalised embedding of the expression prompt, and `t_class_i` that
/// of `"a picture of a {class_i}"` for the class the detector gave proposal `i`, both averaged over
/// backbones. In probability terms the chosen proposal maximises `p_method(i) · p_class(i)^λ`
/// (a product of experts); `λ = 0` gives back the method alone.
pub fn class_prior_scores(scores: &[f32], class_sims: &[f32], lambda: f32) -> Vec<f32> {
    let a = log_softmax100(scores);
    let b = log_softmax100(class_sims);
    a.iter().zip(&b).map(|(x, y)| x + lambda * y).collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Index of the largest value (first on ties; NaN never wins).
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] || v[best].is_nan() {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_prior_reorders_only_with_weight() {
        // the method prefers proposal 0 a little; the class text prefers proposal 1 clearly
        let scores = [0.30, 0.29];
        let sims = [0.20, 0.26];
        assert_eq!(argmax(&class_prior_scores(&scores, &sims, 0.0)), 0);
        assert_eq!(argmax(&class_prior_scores(&scores, &sims, 1.0)), 1);
        let out = class_prior_scores(&scores, &sims, 1.0);
        let p: f32 = out.iter().map(|v| v.exp()).sum();
        assert!(p <= 1.0 + 1e-6);
        // an id without the prior is unchanged by the new field
        let v = Variant {
            method: Method::Baseline,
            cues: vec![],
            template: "{expr}".into(),
            debias: 0,
            aggregate: Aggregate::Mean,
            max_area: None,
            class_prior: None,
        };
        assert!(!serde_json::to_string(&v)
            .unwrap_or_default()
            .contains("class_prior"));
    }

    #[test]
    fn argmax_first_on_ties() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0]), 1);
        assert_eq!(argmax(&[f32::NAN, 0.5]), 1);
    }

    #[test]
    fn variant_ids_are_stable_and_distinct() {
        let a = Variant {
            method: Method::Baseline,
            cues: vec![],
            template: "{expr}".into(),
            debias: 0,
            aggregate: Aggregate::Mean,
            max_area: None,
            class_prior: None,
        };
        let mut b = a.clone();
        b.method = Method::Redcircle;
        assert_eq!(a.id(), a.clone().id());
        assert_ne!(a.id(), b.id());
        assert_eq!(a.id().len(), 12);
    }
}
