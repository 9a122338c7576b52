//! The demo (`cuelab demo`, the README's main command) as one library call, [`run_demo`]: on the
//! embedded defaults and with no download it
//!
//! 1. renders every cue primitive on the bundled photo (`gallery/`, [`crate::gallery`]),
//! 2. generates seeded synthetic scenes (`scenes/`),
//! 3. runs seed 004's grounding experiment on them, plain-crop baseline vs red-circle cues, with
//!    the chosen CLIP model (`grounding/`),
//! 4. asks the scenes' multiple-choice questions with the same CLIP as the answerer (the option
//!    closest to the image), plain vs a red box, with MMVP-style pair accuracy (`questions/`),
//!
//! and returns both summaries and every path, so that a caller prints the tables and writes the
//! HTML report (`cuelab-report`, which this crate does not depend on) from them.
//!
//! The model is the caller's, else [`DEFAULT_MODEL`] when it is in the local Hugging Face cache,
//! else the bundled random-weight tiny CLIP ([`crate::bundled`]), written under
//! `OUTPUT/models/` so that its path (part of the run identity) is the same on every rerun and
//! the runs resume.
//!
//! ```
//! use cuelab_tasks::demo::{run_demo, DemoSettings};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tmp = tempfile::tempdir()?;
//! // The bundled tiny CLIP, named explicitly so that no cached real model is picked up.
//! let tiny = cuelab_tasks::bundled::write_tiny_clip(&tmp.path().join("models"))?;
//! let settings = DemoSettings {
//!     output: tmp.path().join("demo"),
//!     model: Some(tiny.display().to_string()),
//!     scenes: 3,
//!     progress: false,
//!     ..DemoSettings::default()
//! };
//! let demo = run_demo(&settings, &mut |_step| {})?;
//! assert_eq!(demo.grounding_summary.variants.len(), 2);
//! assert!(demo.grounding.join("summary.json").is_file());
//! assert!(demo.questions.join("summary.json").is_file());
//! print!("{}", cuelab_tasks::vqa::vqa_table(&demo.questions_summary));
//! # Ok(())
//! # }
//! ```

use std::path::PathBuf;

use cuelab_models::Pipeline;

use crate::error::Result;
use crate::gallery::write_gallery;
use crate::grounding::summary::Summary;
use crate::grounding::{self, GroundingConfig, Method, OneOrMany};
use crate::runner::RunOptions;
use crate::vqa::{items_from_samples, run_vqa, ClipChoiceAnswerer, VqaConfig, VqaSummary};

/// The real default model of the demo, used when it is in the local Hugging Face cache.
pub const DEFAULT_MODEL: &str = "openai/clip-vit-base-patch32";

/// What the demo runs on (the flags of `cuelab demo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSettings {
    /// The demo's folder: `gallery/`, `scenes/`, `grounding/`, `questions/` (and `models/` when
    /// the bundled tiny CLIP is used). Default `runs/demo`.
    pub output: PathBuf,
    /// CLIP backbone: HF id (looked up in the local hub cache) or a local directory. `None`:
    /// [`DEFAULT_MODEL`] when cached, else the bundled random-weight tiny CLIP.
    pub model: Option<String>,
    /// Number of synthetic scenes (default 24).
    pub scenes: usize,
    /// Seed for scenes, debiasing, option order and bootstrap (default 0).
    pub seed: u64,
    /// Device: `cpu` (default) or `cuda[:N]`.
    pub device: String,
    /// Progress bars on stderr (default true).
    pub progress: bool,
}

impl Default for DemoSettings {
    fn default() -> Self {
        DemoSettings {
            output: PathBuf::from("runs/demo"),
            model: None,
            scenes: 24,
            seed: 0,
            device: "cpu".into(),
            progress: true,
        }
    }
}

/// The model the demo runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoModel {
    /// The model reference given to the loaders (HF id or directory).
    pub reference: String,
    /// True for the bundled random-weight tiny CLIP: the numbers show the pipeline, not what
    /// CLIP sees.
    pub random_weights: bool,
    /// Why [`DEFAULT_MODEL`] was not used (its lookup error), when the tiny CLIP replaced it.
    pub fallback_reason: Option<String>,
}

/// A finished step of [`run_demo`], reported while the demo goes on (so that a caller prints
/// each table as soon as it exists).
#[derive(Debug)]
pub enum DemoStep<'a> {
    /// The model is chosen (before anything is loaded).
    ModelChosen(&'a DemoModel),
    /// The grounding run is finished.
    Grounded {
        /// Its summary.
        summary: &'a Summary,
        /// Grounding samples (referring expressions) evaluated.
        samples: usize,
    },
    /// The multiple-choice questions are answered.
    Answered(&'a VqaSummary),
}

/// Everything the demo made.
#[derive(Debug)]
pub struct DemoOutcome {
    /// The cue gallery folder.
    pub gallery: PathBuf,
    /// Cued images in the gallery.
    pub cued: usize,
    /// The model used.
    pub model: DemoModel,
    /// The synthetic scenes' samples file (`scenes/samples.jsonl`).
    pub samples_file: PathBuf,
    /// Grounding samples (referring expressions) evaluated.
    pub grounding_samples: usize,
    /// The grounding run directory.
    pub grounding: PathBuf,
    /// The grounding summary (baseline and red circle).
    pub grounding_summary: Summary,
    /// The question-answering run directory.
    pub questions: PathBuf,
    /// The question-answering summary (plain and boxed).
    pub questions_summary: VqaSummary,
}

/// Pick the model: the caller's, else [`DEFAULT_MODEL`] when cached, else the bundled tiny CLIP
/// written under `settings.output/models/`.
pub fn choose_model(settings: &DemoSettings) -> Result<DemoModel> {
    if let Some(m) = &settings.model {
        return Ok(DemoModel {
            reference: m.clone(),
            random_weights: false,
            fallback_reason: None,
        });
    }
    match cuelab_models::resolve::resolve(DEFAULT_MODEL) {
        Ok(_) => Ok(DemoModel {
            reference: DEFAULT_MODEL.to_string(),
            random_weights: false,
            fallback_reason: None,
        }),
        Err(e) => {
            let tiny = crate::bundled::write_tiny_clip(&settings.output.join("models"))?;
            Ok(DemoModel {
                reference: tiny.display().to_string(),
                random_weights: true,
                fallback_reason: Some(e.to_string()),
            })
        }
    }
}

/// Run the demo into `settings.output` (resumed when it exists), reporting each finished step to
/// `on_step`; see the [module](self) documentation.
pub fn run_demo(
    settings: &DemoSettings,
    on_step: &mut dyn FnMut(DemoStep<'_>),
) -> Result<DemoOutcome> {
    let gallery = settings.output.join("gallery");
    let cued = write_gallery(&gallery)?;
    tracing::info!("{} cued images in {}", cued, gallery.display());

    let model = choose_model(settings)?;
    on_step(DemoStep::ModelChosen(&model));
    let scenes_dir = settings.output.join("scenes");
    cuelab_data::scenes::export::write(
        &cuelab_data::scenes::Config::new(settings.seed, settings.scenes),
        &scenes_dir,
    )?;
    let samples_file = scenes_dir.join("samples.jsonl");
    let samples = grounding::read_samples(&samples_file)?;
    let cfg = GroundingConfig {
        models: vec![model.reference.clone()],
        method: OneOrMany::Many(vec![Method::Baseline, Method::Redcircle]),
        debias: OneOrMany::One(samples.len().min(5000)),
        seed: settings.seed,
        ..GroundingConfig::default()
    };
    let models = grounding::load_models(&cfg.models, Pipeline::Openai, &settings.device)?;
    let data_description = serde_json::json!({
        "synthetic_scenes": settings.scenes,
        "seed": settings.seed,
        "random_weights": model.random_weights,
    });
    let grounding_dir = settings.output.join("grounding");
    let (grounding_summary, _timing) = grounding::run_with_models(
        &cfg,
        &samples,
        None,
        &models,
        &RunOptions {
            out: grounding_dir.clone(),
            shard: None,
            progress: settings.progress,
        },
        true,
        &data_description,
    )?;
    on_step(DemoStep::Grounded {
        summary: &grounding_summary,
        samples: samples.len(),
    });

    // Cued multiple-choice questions answered by the same CLIP (option most similar to the
    // image): plain vs a red box on the object asked about, and the MMVP-style pairs.
    let loaded = cuelab_data::jsonl::read(&samples_file, false)?;
    let mcq: Vec<cuelab_data::Sample> = loaded
        .samples
        .into_iter()
        .filter(|s| s.task == cuelab_data::Task::MultipleChoice)
        .collect();
    let (items, _) = items_from_samples(&mcq, &scenes_dir);
    let answerer = ClipChoiceAnswerer::new(models[0].as_ref(), "");
    let vqa_cfg = VqaConfig {
        cues: vec!["plain".into(), "rect(color=red,width=3)".into()],
        seed: settings.seed,
        ..Default::default()
    };
    let questions = settings.output.join("questions");
    let answered = run_vqa(
        &vqa_cfg,
        &items,
        &answerer,
        &answerer.identity(),
        &data_description,
        &RunOptions {
            out: questions.clone(),
            shard: None,
            progress: settings.progress,
        },
    )?;
    on_step(DemoStep::Answered(&answered.summary));
    Ok(DemoOutcome {
        gallery,
        cued,
        model,
        samples_file,
        grounding_samples: samples.len(),
        grounding: grounding_dir,
        grounding_summary,
        questions,
        questions_summary: answered.summary,
    })
}
