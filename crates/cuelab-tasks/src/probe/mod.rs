//! The probing lab (issue 16, seed 001): what a VLM sees when asked to count and list several
//! similar objects, and what changes it.
//!
//! - [`count`]: "How many X are there?" and "List the X from left to right" under plain,
//!   Set-of-Mark, boxes and tiled-crops presentations; the accuracy-vs-N curve, MAE, bias,
//!   listing precision/recall/F1 and order.
//! - [`surprisal`]: teacher-forced bits/token of a fine-tuning set, plain vs cued images.
//! - [`lora_plan`]: LoRA trainable parameters per rank vs the set's information in bits.
//! - [`boxtool`]: the box-drawing tool loop (boxes asked in the model's native grounding format,
//!   parsed by [`boxfmt`], drawn, and the question asked again) against direct answering.
//!
//! Data: [`data::load_scenes`] (the synthetic scenes' counting questions, crowds of 0-20
//! near-identical objects) or [`data::load_coco`] (a COCO instances file). Every probe is a
//! resumable run directory on the shared [`crate::runner`] machinery, on any
//! [`crate::vqa::Backend`].

pub mod arms;
pub mod ask;
pub mod boxfmt;
pub mod boxtool;
pub mod count;
pub mod data;
pub mod listing;
pub mod lora_plan;
pub mod preprocess;
pub mod present;
pub mod scores;
pub mod surprisal;
pub mod transform;
pub mod words;

pub use count::{run_count, run_count_with, CountConfig, CountOutcome, CountRow, CountSummary};
pub use data::{load_coco, load_scenes, ProbeItem, ProbeObject};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Result, TaskError};

/// Hash of a probe's canonical configuration and the backend identity (the run identity).
pub fn config_hash<C: Serialize>(config: &C, identity: &serde_json::Value) -> Result<String> {
    let text =
        serde_json::to_string(&(config, identity)).map_err(|e| TaskError::Config(e.to_string()))?;
    let digest = Sha256::digest(text.as_bytes());
    Ok(digest.iter().take(8).map(|b| format!("{b:02x}")).collect())
}
