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
//!
//! [`RemoteAnswerer`] (module [`remote`]) asks OpenAI-compatible servers in four answering modes
//! (see [`AnswerMode`]); free-text answers are read by [`extract`]. With the `mock` feature,
//! [`mock`] serves a deterministic, fault-injecting OpenAI-compatible server on loopback for
//! tests.
//!
//! ```
//! use std::sync::Arc;
//! use cuelab_vlm::{AnswerMode, Answerer, Question, RemoteAnswerer, RemoteConfig};
//! // an OpenAI-compatible server on loopback (the `mock` feature; a vLLM URL in real use)
//! let server = cuelab_vlm::mock::MockServer::start()?;
//! let answerer = RemoteAnswerer::new(RemoteConfig {
//!     endpoints: vec![server.url()],
//!     model: "mock/vlm".into(),
//!     mode: AnswerMode::Structured,
//!     ..RemoteConfig::default()
//! })?;
//! let image = Arc::new(image::RgbImage::from_pixel(32, 24, image::Rgb([200, 30, 30])));
//! let question = Question {
//!     id: "q0".into(),
//!     system: None,
//!     text: "What colour is the picture?".into(),
//!     images: vec![image],
//!     choices: vec!["red".into(), "green".into(), "blue".into()],
//! };
//! let mut answers = Vec::new();
//! answerer.answer_all(&[question], &mut |index, answer| answers.push((index, answer)))?;
//! let (index, answer) = answers.pop().expect("one answer");
//! assert_eq!(index, 0);
//! assert!(answer?.choice.is_some_and(|c| c < 3));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod answer;
pub mod backend;
pub mod error;
pub mod extract;
#[cfg(feature = "mock")]
pub mod mock;
pub mod question;
pub mod remote;

pub use answer::{Answer, ParseOutcome};
pub use backend::{Answerer, FnAnswerer};
pub use error::{Result, VlmError};
pub use question::{AnswerMode, Question};
pub use remote::{
    EndpointStats, GenerationConfig, ImageFormat, PromptTemplate, RemoteAnswerer, RemoteConfig,
    ResponseCache,
};
