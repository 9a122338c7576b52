//! What is asked: a question with its images and, for multiple choice, its options.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use image::RgbImage;
use serde::{Deserialize, Serialize};

/// One question to a model.
///
/// `choices` are the options in the order they are to be shown (the task shuffles them before, if
/// it shuffles); an [`crate::Answer`]'s `choice` indexes this list. An empty list means an open
/// question (free text answer).
#[derive(Debug, Clone)]
pub struct Question {
    /// Stable id (used in logs and error messages, never sent to the model).
    pub id: String,
    /// Optional system prompt.
    pub system: Option<String>,
    /// The question text as the task wrote it (the backend adds the option list per its prompt
    /// template and answering mode).
    pub text: String,
    /// Images shown with the question, already cued, in order (video = frames).
    pub images: Vec<Arc<RgbImage>>,
    /// Answer options; empty for open questions.
    pub choices: Vec<String>,
}

/// How the model is made to pick an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnswerMode {
    /// Constrained decoding via vLLM ≥ 0.12 `structured_outputs: {"choice": [...]}`.
    Structured,
    /// Constrained decoding via the legacy `guided_choice` field (what seed 000 sent).
    Guided,
    /// Rank the options by the log-probabilities the server returns for their labels.
    Logprobs,
    /// Free text, parsed by a tolerant extractor; unparseable answers are recorded as such.
    Free,
}

impl AnswerMode {
    /// Every mode, in documentation order.
    pub const ALL: [AnswerMode; 4] = [
        AnswerMode::Structured,
        AnswerMode::Guided,
        AnswerMode::Logprobs,
        AnswerMode::Free,
    ];

    /// The mode's name as written on the command line and in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerMode::Structured => "structured",
            AnswerMode::Guided => "guided",
            AnswerMode::Logprobs => "logprobs",
            AnswerMode::Free => "free",
        }
    }
}

impl fmt::Display for AnswerMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AnswerMode {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        AnswerMode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown answering mode {s:?}: expected structured, guided, logprobs or free"
                )
            })
    }
}
