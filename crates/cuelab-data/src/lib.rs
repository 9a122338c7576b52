//! Datasets for cuelab: loaders for the real formats researchers already have (RefCOCO/+/g,
//! COCO instances and captions, MMVP and MMVP-VLM, Something-Something-v2 with Something-Else
//! boxes, generic JSONL) and a deterministic synthetic scene generator that writes the same
//! formats. Every loader produces [`Sample`]s; [`check`] validates a dataset on disk.

pub mod check;
pub mod clip;
pub mod coco;
pub mod detect_format;
pub mod error;
pub mod jsonl;
pub mod mcq;
pub mod mmvp;
pub mod refcoco;
pub mod sample;
pub mod scenes;
pub mod ssv2;
mod util;
pub mod video;

pub use check::{check, CheckOptions, CheckReport, Format};
pub use detect_format::detect_format;
pub use error::{DataError, Result};
pub use sample::{Expression, FrameBoxes, Sample, Task, TextField};
