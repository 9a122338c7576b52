//! The one error type of `cuelab-metrics`.

/// Everything that can go wrong while scoring captions.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The candidate and reference sets do not cover the same images.
    #[error("image `{image_id}` has {what}")]
    Mismatch {
        /// The offending image id.
        image_id: String,
        /// What is wrong with it.
        what: String,
    },
    /// An image has no reference captions.
    #[error("image `{0}` has no reference captions")]
    NoReferences(String),
    /// Nothing to score.
    #[error("the caption set is empty")]
    Empty,
    /// Embedding vectors of different lengths (CLIPScore).
    #[error("embedding dimensions differ: {0} vs {1}")]
    Dimension(usize, usize),
    /// A caption file could not be parsed.
    #[error("{0}")]
    Format(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
