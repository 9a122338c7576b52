//! Datasets for cuelab: loaders for the real formats researchers already have (RefCOCO/+/g,
//! COCO instances and captions, MMVP and MMVP-VLM, Something-Something-v2 with Something-Else
//! boxes, generic JSONL) and a deterministic synthetic scene generator that writes the same
//! formats. Every loader produces [`Sample`]s; [`check`] validates a dataset on disk.
//!
//! ```
//! use cuelab_data::{check, CheckOptions, Format, Task};
//! // 12 seeded synthetic scenes (and 3 MMVP-style pairs), written as images + samples.jsonl
//! let out = tempfile::tempdir()?;
//! let mut config = cuelab_data::scenes::Config::new(7, 12);
//! config.clips = 0;
//! let written = cuelab_data::scenes::export::write(&config, out.path())?;
//! assert_eq!(written.scenes, 12);
//! // read back as any generic JSONL dataset, and checked like one
//! let path = out.path().join("samples.jsonl");
//! let loaded = cuelab_data::jsonl::read(&path, false)?;
//! assert_eq!(loaded.samples.len(), written.samples);
//! assert!(loaded.samples.iter().any(|s| s.task == Task::Grounding));
//! let report = check(&path, Format::Jsonl, &CheckOptions::default())?;
//! assert!(report.problems.is_empty(), "{:?}", report.problems);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

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
