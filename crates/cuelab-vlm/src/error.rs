//! Errors of the answering layer.

use thiserror::Error;

/// What can go wrong while asking a model.
#[derive(Debug, Error)]
pub enum VlmError {
    /// The request could not be built (bad image, unsupported option for this mode, ...).
    #[error("invalid request for question {id}: {reason}")]
    InvalidRequest {
        /// The question's id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// The backend failed for this question after every retry; other questions may still succeed.
    #[error("question {id} failed after {attempts} attempt(s): {reason}")]
    Failed {
        /// The question's id.
        id: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last error.
        reason: String,
    },
    /// A fault no retry can fix (unknown model, bad API key, rejected parameters): the run stops.
    #[error("fatal backend error: {0}")]
    Fatal(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, VlmError>;
