//! The one error type of `cuelab-models`.

use std::path::PathBuf;

/// Everything that can go wrong while resolving, loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file (config, tokenizer, preprocessor) is malformed, misses a key, or has a value
    /// of the wrong type or an impossible one (a config's `validate()`).
    #[error("{path}: {}{message}", config_key(key))]
    Config {
        /// The file.
        path: PathBuf,
        /// The key that is wrong or missing (empty when the whole file is bad).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// config.json names an architecture this crate does not implement.
    #[error("{path}: unsupported architecture `{architecture}` (supported: {supported})")]
    UnsupportedArchitecture {
        /// The config file.
        path: PathBuf,
        /// The architecture or model_type found.
        architecture: String,
        /// What is supported.
        supported: String,
    },
    /// A weights file is missing a tensor, has the wrong shape, or cannot be parsed.
    #[error("{path}: tensor `{tensor}`: {message}")]
    Weights {
        /// The weights file.
        path: PathBuf,
        /// The tensor name (empty when the file as a whole is bad).
        tensor: String,
        /// What is wrong.
        message: String,
    },
    /// A model reference could not be resolved to files.
    #[error("model `{model}` not found; looked in: {}", looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    ModelNotFound {
        /// The reference as given.
        model: String,
        /// Every place that was searched.
        looked: Vec<PathBuf>,
    },
    /// An image could not be decoded.
    #[error("{path}: cannot decode image: {message}")]
    Image {
        /// The image file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The tokenizer failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A tensor operation failed inside candle.
    #[error("tensor op `{op}`: {source}")]
    Tensor {
        /// What was being computed.
        op: String,
        /// The candle error.
        #[source]
        source: candle_core::Error,
    },
    /// The embedding cache (SQLite) failed.
    #[error("embedding cache {path}: {source}")]
    Cache {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// An argument is out of range or inconsistent.
    #[error("invalid input: {0}")]
    Invalid(String),
}

/// How [`Error::Config`] names its key: nothing for a malformed file, else the key.
fn config_key(key: &str) -> String {
    if key.is_empty() {
        "invalid JSON: ".to_string()
    } else {
        format!("key `{key}`: ")
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attach an operation name to a candle error.
pub(crate) trait TensorContext<T> {
    /// Map a candle error into [`Error::Tensor`] naming `op`.
    fn op(self, op: &str) -> Result<T>;
}

impl<T> TensorContext<T> for candle_core::Result<T> {
    fn op(self, op: &str) -> Result<T> {
        self.map_err(|source| Error::Tensor {
            op: op.to_string(),
            source,
        })
    }
}
