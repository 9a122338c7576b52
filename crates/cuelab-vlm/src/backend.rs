//! The answering interface and a closure-backed implementation.

use serde_json::Value;

use crate::answer::{Answer, ParseOutcome};
use crate::error::{Result, VlmError};
use crate::question::Question;

/// Callback receiving `(index into the batch, answer or per-question error)`.
pub type AnswerSink<'a> = dyn FnMut(usize, Result<Answer>) + Send + 'a;

/// Something that answers questions about images.
///
/// `answer_all` calls `sink` exactly once per question, in completion order (not necessarily
/// input order), with either the answer or that question's error after the backend gave up on it.
/// It returns `Err` only for faults that make the rest of the batch pointless
/// ([`VlmError::Fatal`]); questions not yet answered then get no callback.
pub trait Answerer: Send + Sync {
    /// Backend settings for the run manifest (endpoint, model, mode, generation config, ...).
    /// Must never contain secrets such as API keys.
    fn describe(&self) -> Value;

    /// Answers a batch of questions, reporting each through `sink` as it completes.
    fn answer_all(&self, questions: &[Question], sink: &mut AnswerSink<'_>) -> Result<()>;

    /// Requests, failures and latency per endpoint so far, for the run summary (empty for
    /// backends without endpoints).
    fn endpoint_stats(&self) -> Vec<crate::remote::EndpointStats> {
        Vec::new()
    }

    /// Tells the backend that `image` is the unmodified decode of the image file `bytes`, so that
    /// a backend sending encoded images may send the file as it is (no second lossy encoding).
    /// Returns whether the backend will; the default ignores it.
    fn register_original(&self, _image: &std::sync::Arc<image::RgbImage>, _bytes: &[u8]) -> bool {
        false
    }
}

/// An [`Answerer`] backed by a closure: for tests, dry runs and oracle baselines.
pub struct FnAnswerer<F> {
    name: String,
    answer_one: F,
}

impl<F> FnAnswerer<F>
where
    F: Fn(&Question) -> Result<Answer> + Send + Sync,
{
    /// Wraps `answer_one`; `name` is what the manifest records.
    pub fn new(name: impl Into<String>, answer_one: F) -> Self {
        FnAnswerer {
            name: name.into(),
            answer_one,
        }
    }
}

impl<F> Answerer for FnAnswerer<F>
where
    F: Fn(&Question) -> Result<Answer> + Send + Sync,
{
    fn describe(&self) -> Value {
        serde_json::json!({ "backend": "function", "name": self.name })
    }

    fn answer_all(&self, questions: &[Question], sink: &mut AnswerSink<'_>) -> Result<()> {
        for (index, question) in questions.iter().enumerate() {
            match (self.answer_one)(question) {
                Err(VlmError::Fatal(message)) => return Err(VlmError::Fatal(message)),
                outcome => sink(index, outcome),
            }
        }
        Ok(())
    }
}

impl Answer {
    /// An exact answer naming option `index` of `question`.
    pub fn exact(question: &Question, index: usize) -> Answer {
        Answer {
            text: question.choices.get(index).cloned().unwrap_or_default(),
            choice: Some(index),
            parse: ParseOutcome::Exact,
            option_logprobs: None,
            from_cache: false,
        }
    }
}
