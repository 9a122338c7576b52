//! Errors of the detector.

use std::path::PathBuf;

/// Everything that can go wrong loading or running a detector.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// The model file could not be read.
    #[error("cannot read detector model {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not an ONNX model tract can parse.
    #[error("{model}: not a readable ONNX model: {reason}")]
    NotOnnx {
        /// The model (path or built-in name).
        model: String,
        /// tract's message.
        reason: String,
    },
    /// The model's inputs/outputs match no supported detector layout.
    #[error("{model}: unsupported detector layout: {reason} (supported: CenterNet input [1,H,W,3] NHWC with output [1,N,6]; Ultralytics YOLO input [1,3,H,W] with output [1,4+C,N])")]
    UnsupportedLayout {
        /// The model.
        model: String,
        /// What was found.
        reason: String,
    },
    /// tract failed to optimise or run the model.
    #[error("{model}: {stage} failed: {reason}")]
    Tract {
        /// The model.
        model: String,
        /// What was being done (loading, optimising, running).
        stage: &'static str,
        /// tract's error chain.
        reason: String,
    },
    /// An input tensor with the wrong number of values for the model's input shape.
    #[error("{model}: input tensor has {got} values, the model expects shape {expected:?} ({} values)", expected.iter().product::<usize>())]
    InputShape {
        /// The model.
        model: String,
        /// The expected input shape.
        expected: Vec<usize>,
        /// Values given.
        got: usize,
    },
    /// The model's output does not have the shape its layout implies.
    #[error("{model}: output has shape {got:?}, expected {expected}")]
    OutputShape {
        /// The model.
        model: String,
        /// What was expected, in words.
        expected: String,
        /// The shape it had.
        got: Vec<usize>,
    },
    /// An unknown built-in detector name.
    #[error("unknown detector `{name}`: built-in detectors are {builtins:?}; otherwise give a path to an .onnx file")]
    UnknownBuiltin {
        /// The name asked for.
        name: String,
        /// The built-in names.
        builtins: Vec<&'static str>,
    },
    /// A threshold outside its range.
    #[error("invalid option {name} = {value}: {reason}")]
    InvalidOption {
        /// The option.
        name: &'static str,
        /// Its value.
        value: f32,
        /// The valid range.
        reason: &'static str,
    },
    /// An image could not be read.
    #[error(transparent)]
    Image(#[from] cuelab_cue::CueError),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, DetectError>;
