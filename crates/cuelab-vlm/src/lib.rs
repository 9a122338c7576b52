//! Asking vision-language models questions about images.
//!
//! This crate holds the *answering interface* every task uses ([`Answerer`]): a batch of
//! [`Question`]s (text, images, optional answer choices) goes in, one [`Answer`] per question comes
//! back, in completion order, through a callback — so a runner can append each answer to its
//! results file the moment it exists and a killed run loses nothing.
//!
//! Backends implement [`Answerer`]: OpenAI-compatible servers (vLLM, SGLang, mistral.rs,
//! llama.cpp, hosted APIs) and, in `cuelab-models`, in-process models. [`FnAnswerer`] wraps a
//! closure for tests and dry runs.

pub mod answer;
pub mod backend;
pub mod error;
pub mod question;

pub use answer::{Answer, ParseOutcome};
pub use backend::{Answerer, FnAnswerer};
pub use error::{Result, VlmError};
pub use question::{AnswerMode, Question};
