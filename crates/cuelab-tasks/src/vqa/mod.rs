//! Cued question answering (seeds 000, 001, 003): multiple-choice questions on images and video
//! frames, asked plain and with cue recipes drawn on the fly, answered by any
//! [`cuelab_vlm::Answerer`] (an OpenAI-compatible server, an in-process model, CLIP for
//! MMVP-VLM), scored by question type x cue variant with bootstrap CIs, McNemar against plain,
//! MMVP pair accuracy, and counting scored exactly and by absolute error.

pub mod backend;
pub mod backend_settings;
pub mod clip_choice;
pub mod clips;
pub mod config;
pub mod count;
pub mod item;
pub mod local;
pub mod order;
pub mod questions;
pub mod run;
pub mod summary;
pub mod surprisal;

pub use backend::{remote_identity, run_questions, with_answerer, with_run_cache, Backend};
pub use backend_settings::BackendSettings;
pub use clip_choice::ClipChoiceAnswerer;
pub use clips::prepare_clips;
pub use config::{ChoiceOrder, VqaConfig, VqaVariant};
pub use item::{items_from_samples, ItemKind, VqaItem};
pub use local::LocalVlmAnswerer;
pub use questions::{
    read_mmvp, read_questions, MmvpSource, QuestionSource, Questions, VqaOverrides,
};
pub use run::{run_vqa, VqaOutcome, VqaRow};
pub use summary::{summarize_vqa, vqa_table, VqaSummary};
