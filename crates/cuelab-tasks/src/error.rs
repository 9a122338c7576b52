//! The error type of `cuelab-tasks`.

use std::path::{Path, PathBuf};

/// Everything that can stop an experiment.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// File-system error on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Malformed JSON/TOML.
    #[error("{path}: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An invalid experiment configuration.
    #[error("invalid experiment configuration: {0}")]
    Config(String),
    /// Resuming into a run directory made by a different configuration.
    #[error("{dir} holds a run of another configuration (config hash {found}, this run {expected}); choose another --out or delete it")]
    RunMismatch {
        /// The run directory.
        dir: PathBuf,
        /// The hash found in its manifest.
        found: String,
        /// The hash of this run.
        expected: String,
    },
    /// A cue error.
    #[error(transparent)]
    Cue(#[from] cuelab_cue::CueError),
    /// A model error.
    #[error(transparent)]
    Model(#[from] cuelab_models::Error),
    /// A malformed input file (embeddings, lists, shard outputs).
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A failed tensor computation (matrix products of the pair search).
    #[error("compute: {0}")]
    Compute(String),
    /// A fatal error of the answering backend (server, in-process VLM).
    #[error("backend: {0}")]
    Backend(String),
}

impl TaskError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        TaskError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// `Result` with [`TaskError`].
pub type Result<T, E = TaskError> = std::result::Result<T, E>;
