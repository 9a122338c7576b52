//! # cuelab-tasks — experiments
//!
//! Every cuelab experiment as a library call, on one run machinery ([`runner`]: resumable run
//! directories ([`run_dir::RunDir`]) with a config-hash identity, manifest, shard/limit
//! selection, progress, summaries, and `merge` for every run kind), with statistics
//! ([`stats`]). The studies: the grounding experiment of seed 004 ([`grounding`], configured by
//! [`grounding::GroundingConfig`]) and cued question answering with VLMs or CLIP ([`vqa`],
//! seeds 000, 001, 003).
//!
//! Depends on `cuelab-cue` (rendering) and `cuelab-models` (scorers); never on the CLI.

#![warn(missing_docs)]

pub mod boxes;
pub mod error;
pub mod grounding;
pub mod run_dir;
pub mod runner;
pub mod spatial;
pub mod stats;
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
