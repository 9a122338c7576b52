//! Errors of report generation.

use std::path::PathBuf;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A JSON file or JSONL line is malformed.
    #[error("{path}: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// What is wrong (with the line number for JSONL).
        message: String,
    },
    /// The directory is not a run directory any section understands.
    #[error("{0}: not a run directory (no summary.json; expected the output of `cuelab ground`, `ask`, `mmvp`, `demo` or `caption-eval --out`)")]
    NotARun(PathBuf),
    /// No run directory was given.
    #[error("no run directory given")]
    NoRuns,
    /// A plot could not be drawn.
    #[error("plot {title:?}: {message}")]
    Plot {
        /// The plot's title.
        title: String,
        /// The backend's message.
        message: String,
    },
}

impl ReportError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ReportError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias.
pub type Result<T> = std::result::Result<T, ReportError>;
