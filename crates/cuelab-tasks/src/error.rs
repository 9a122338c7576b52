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
    /// Another process has the run directory open.
    #[error("{dir} is in use by another cuelab process ({holder}); wait for it to finish or choose another --out")]
    Locked {
        /// The run directory.
        dir: PathBuf,
        /// Who holds the lock, as recorded in the lock file.
        holder: String,
    },
    /// Run directories that do not form one complete run (merge).
    #[error("cannot merge: {0}")]
    Merge(String),
    /// A dataset could not be read.
    #[error(transparent)]
    Data(Box<cuelab_data::DataError>),
    /// The data holds nothing this run can use.
    #[error("{0}")]
    NoSamples(String),
    /// A model could not be loaded.
    #[error("loading model `{model}`")]
    LoadModel {
        /// The model reference (HF id or directory).
        model: String,
        /// Why.
        #[source]
        source: Box<cuelab_models::Error>,
    },
    /// An object detector failed (loading, thresholds, an image).
    #[error("{context}")]
    Detect {
        /// What was being done.
        context: String,
        /// Why it failed.
        #[source]
        source: Box<cuelab_detect::DetectError>,
    },
    /// A caption-metric error (CLIPScore).
    #[error(transparent)]
    Metrics(Box<cuelab_metrics::Error>),
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
    /// A request that cannot be carried out as given (conflicting or out-of-range options);
    /// the message names the option.
    #[error("{0}")]
    Usage(String),
    /// A number in an option that does not parse (e.g. `--layers 2..x`).
    #[error("{option} `{value}`")]
    BadNumber {
        /// The option, e.g. `--layers`.
        option: String,
        /// The value given.
        value: String,
        /// Why it does not parse.
        #[source]
        source: std::num::ParseIntError,
    },
    /// An underlying error under a line saying what was being done (e.g. `reading FILE`).
    #[error("{context}")]
    Context {
        /// What was being done.
        context: String,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An output file could not be written.
    #[error("writing {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl From<cuelab_data::DataError> for TaskError {
    fn from(e: cuelab_data::DataError) -> Self {
        TaskError::Data(Box::new(e))
    }
}

impl From<cuelab_metrics::Error> for TaskError {
    fn from(e: cuelab_metrics::Error) -> Self {
        TaskError::Metrics(Box::new(e))
    }
}

impl TaskError {
    /// `source` under the line `context`.
    pub fn context(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        TaskError::Context {
            context: context.into(),
            source: Box::new(source),
        }
    }

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
