//! # cuelab-tasks — experiments
//!
//! The experiment runner every cuelab experiment reuses — configurations with grids
//! ([`experiment::GroundingConfig`]), resumable run directories ([`run_dir::RunDir`]),
//! statistics ([`stats`]) — the grounding experiment of seed 004 ([`grounding`]) and cued question
//! answering with VLMs or CLIP ([`vqa`], seeds 000, 001, 003).
//!
//! Depends on `cuelab-cue` (rendering) and `cuelab-models` (scorers); never on the CLI.

#![warn(missing_docs)]

pub mod boxes;
pub mod error;
pub mod experiment;
pub mod grounding;
pub mod mine;
pub mod run_dir;
pub mod spatial;
pub mod stats;
pub mod summary;
pub mod vqa;

pub use error::{Result, TaskError};
