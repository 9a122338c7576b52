//! # cuelab-tasks — experiments
//!
//! Every cuelab experiment as a library call, on one run machinery ([`runner`]: resumable run
//! directories ([`run_dir::RunDir`]) with a config-hash identity, manifest, shard/limit
//! selection, progress, summaries, and `merge` for every run kind), with statistics
//! ([`stats`]). The studies: the grounding experiment of seed 004 ([`grounding`], configured by
//! [`grounding::GroundingConfig`], run by [`grounding::run_study`], proposals from
//! [`proposals`]), cued question answering with VLMs or CLIP ([`vqa`], seeds 000, 001, 003; run
//! by [`vqa::run_questions`]), captioning sweeps ([`caption`], seed 002; run by
//! [`caption::run_caption_study`]) and CLIPScore over images ([`clipscore`]). The demo's whole
//! sequence (gallery, scenes, grounding, questions) is one call, [`demo::run_demo`].
//!
//! Grounding and cued questions, each one library call into a run directory (here on three
//! synthetic scenes with the committed random-weight tiny CLIP, so it runs offline):
//!
//! ```
//! use cuelab_models::Pipeline;
//! use cuelab_tasks::grounding::{run_study, GroundingConfig, GroundingSettings, OneOrMany};
//! use cuelab_tasks::runner::RunOptions;
//! use cuelab_tasks::vqa::{items_from_samples, run_questions, Backend, VqaConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tmp = tempfile::tempdir()?;
//! let scenes = tmp.path().join("scenes");
//! cuelab_data::scenes::export::write(&cuelab_data::scenes::Config::new(0, 3), &scenes)?;
//! let clip = concat!(env!("CARGO_MANIFEST_DIR"), "/../cuelab-models/tests/data/clip-vit-tiny");
//!
//! // Grounding: baseline crops vs red-circle cues (flags > config file > these defaults).
//! let settings = GroundingSettings {
//!     config: GroundingConfig {
//!         models: vec![clip.into()],
//!         debias: OneOrMany::One(10),
//!         ..GroundingConfig::default()
//!     },
//!     data: scenes.join("samples.jsonl"),
//!     out: tmp.path().join("grounding"),
//!     ..GroundingSettings::default()
//! };
//! let grounded = run_study(&settings)?;
//! assert_eq!(grounded.summary.variants.len(), 2);
//! print!("{}", cuelab_tasks::grounding::summary::table(&grounded.summary));
//!
//! // Multiple-choice questions answered by the same CLIP, plain vs a red box.
//! let loaded = cuelab_data::jsonl::read(&scenes.join("samples.jsonl"), false)?;
//! let mcq: Vec<_> = loaded
//!     .samples
//!     .into_iter()
//!     .filter(|s| s.task == cuelab_data::Task::MultipleChoice)
//!     .collect();
//! let (items, _not_asked) = items_from_samples(&mcq, &scenes);
//! let config = VqaConfig {
//!     cues: vec!["plain".into(), "rect(color=red,width=3)".into()],
//!     ..VqaConfig::default()
//! };
//! let backend = Backend::Clip {
//!     model: clip.into(),
//!     prefix: String::new(),
//!     pipeline: Pipeline::Openai,
//!     device: "cpu".into(),
//! };
//! let opts = RunOptions {
//!     out: tmp.path().join("questions"),
//!     shard: None,
//!     progress: false,
//! };
//! let answered = run_questions(&config, &items, &backend, &serde_json::json!({}), &opts)?;
//! assert_eq!(answered.missing, 0);
//! print!("{}", cuelab_tasks::vqa::vqa_table(&answered.summary));
//! # Ok(())
//! # }
//! ```
//!
//! Depends on `cuelab-cue` (rendering), `cuelab-data` (datasets), `cuelab-detect` (proposals),
//! `cuelab-metrics` (CLIPScore), `cuelab-models` (scorers) and `cuelab-vlm` (answerers); never on
//! the CLI.

#![warn(missing_docs)]

pub mod boxes;
pub mod bundled;
pub mod caption;
pub mod caption_eval;
pub mod clips;
pub mod clipscore;
pub mod debias;
pub mod demo;
pub mod embed_parts;
pub mod embed_run;
pub mod error;
pub mod gallery;
pub mod grounding;
pub mod merge_kinds;
pub mod mine;
pub mod probe;
pub mod proposals;
pub mod regions;
pub mod run_dir;
pub mod run_identity;
pub mod runner;
pub mod sft;
pub mod shard;
pub mod slurm;
pub mod spatial;
pub mod stats;
pub mod vlm_ask;
pub mod vqa;

pub use error::{Result, TaskError};

/// Former home of the grounding configuration and the run options, kept so that existing
/// imports compile: the configuration is [`grounding::config`], the run machinery
/// [`runner`].
pub mod experiment {
    pub use crate::grounding::config::{default_cues, GroundingConfig, OneOrMany};
    pub use crate::grounding::run::run_grounding;
    pub use crate::runner::{merge_runs, RunOptions};
}

/// Former name of [`grounding::summary`] (the grounding summary), kept so that existing
/// imports compile.
pub mod summary {
    pub use crate::grounding::summary::*;
}
