//! The error type of `cuelab-cue`.

use std::path::PathBuf;

/// Everything that can go wrong parsing a cue spec, reading an image or drawing a cue.
#[derive(Debug, thiserror::Error)]
pub enum CueError {
    /// A box with NaN/infinite coordinates or an inverted extent.
    #[error("invalid box {box_xyxy:?}: {reason}")]
    InvalidBox {
        /// The offending coordinates as given.
        box_xyxy: [f32; 4],
        /// What is wrong with them.
        reason: &'static str,
    },
    /// A box string that is not four comma-separated numbers.
    #[error("invalid box {text:?}: expected four comma-separated numbers x0,y0,x1,y1")]
    BoxSyntax {
        /// The text as given.
        text: String,
    },
    /// A malformed polygon.
    #[error("invalid polygon: {0}")]
    Polygon(String),
    /// A malformed RLE mask.
    #[error("invalid RLE mask: {0}")]
    Rle(String),
    /// A region description that names no region.
    #[error("{0}")]
    Region(String),
    /// A cue spec that does not parse.
    #[error("cue spec error at column {column}: {message}\n  {spec}\n  {caret:>width$}", caret = "^", width = column)]
    Spec {
        /// The whole spec as given.
        spec: String,
        /// 1-based column of the problem.
        column: usize,
        /// What was expected / found.
        message: String,
    },
    /// An image that cannot be read or decoded.
    #[error("cannot read image {path}: {reason}")]
    ImageRead {
        /// The file.
        path: PathBuf,
        /// The decoder's or the file system's error.
        reason: image::ImageError,
    },
    /// An image that cannot be written.
    #[error("cannot write image {path}: {message}")]
    ImageWrite {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A region that does not overlap the image at all.
    #[error("region {box_xyxy:?} lies entirely outside the {width}x{height} image")]
    RegionOutside {
        /// The region's bounding box.
        box_xyxy: [f32; 4],
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
    },
}

/// `Result` with [`CueError`].
pub type Result<T, E = CueError> = std::result::Result<T, E>;
