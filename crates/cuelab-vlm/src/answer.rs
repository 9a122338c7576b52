//! What comes back: the raw answer and the option it was resolved to.

use serde::{Deserialize, Serialize};

/// How an answer's text was resolved to an option.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ParseOutcome {
    /// The text is exactly one option (constrained modes, or a clean free answer).
    Exact,
    /// The option was found inside free text; `how` names the rule (`letter`, `paren_letter`,
    /// `option_text`, `answer_is`, ...).
    Extracted {
        /// The extraction rule that matched.
        how: String,
    },
    /// Chosen by ranking log-probabilities (no text to parse).
    Ranked,
    /// No option could be read from the text. Counted and reported, never scored as a guess.
    Unparseable,
    /// An open question: the text is the answer.
    Open,
}

/// A model's answer to one [`crate::Question`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The text the model produced (empty for pure ranking).
    pub text: String,
    /// Index into the question's `choices`, when one was resolved.
    pub choice: Option<usize>,
    /// How `choice` was obtained.
    pub parse: ParseOutcome,
    /// Per-option log-probabilities, in `choices` order, when the mode ranks options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub option_logprobs: Option<Vec<f64>>,
    /// Whether the answer came from the response cache (nothing was sent).
    #[serde(default)]
    pub from_cache: bool,
}
