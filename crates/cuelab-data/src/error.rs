//! The one error type of the crate: every variant names the file and, where known, the record.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, DataError>;

/// What went wrong while reading or writing a dataset.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A JSON file is malformed or truncated, or does not match the expected schema.
    #[error("{path}: invalid JSON ({context}): {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Which record or part of the file.
        context: String,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// A Python pickle is malformed or truncated, or does not hold the expected structure.
    #[error("{path}: invalid pickle: {message}")]
    Pickle {
        /// The file.
        path: PathBuf,
        /// The reader's message.
        message: String,
    },
    /// A CSV file is malformed.
    #[error("{path}: invalid CSV: {source}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: csv::Error,
    },
    /// A record is readable but its content is wrong (missing field, bad box, unknown id).
    #[error("{path}: record {record}: {message}")]
    Record {
        /// The file.
        path: PathBuf,
        /// Which record (an id or a line number).
        record: String,
        /// What is wrong.
        message: String,
    },
    /// A record refers to an image or video file that does not exist.
    #[error("{path}: record {record}: missing media file {media}")]
    MissingMedia {
        /// The annotation file.
        path: PathBuf,
        /// Which record.
        record: String,
        /// The file it names.
        media: PathBuf,
    },
    /// An image could not be encoded or decoded.
    #[error("{path}: image error: {message}")]
    Image {
        /// The file.
        path: PathBuf,
        /// The underlying message.
        message: String,
    },
    /// A video could not be probed or decoded (ffmpeg missing, corrupt or unsupported file).
    #[error("{path}: video error: {message}")]
    Video {
        /// The video file.
        path: PathBuf,
        /// What went wrong (ffmpeg's last lines of stderr where it ran).
        message: String,
    },
    /// A caller-supplied option is invalid.
    #[error("invalid argument: {0}")]
    Invalid(String),
}

impl DataError {
    /// A [`DataError::Record`] for `path` and `record`.
    pub fn record(
        path: impl Into<PathBuf>,
        record: impl ToString,
        message: impl Into<String>,
    ) -> Self {
        DataError::Record {
            path: path.into(),
            record: record.to_string(),
            message: message.into(),
        }
    }
}
