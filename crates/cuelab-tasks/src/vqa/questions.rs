//! The front-end side of a question run (`cuelab ask`, `cuelab mmvp`, the Python `ask`): the
//! configuration with the caller's overrides on top ([`VqaOverrides`]), and the questions read
//! from cuelab's generic JSONL or MMVP's CSV with the data description that becomes part of the
//! run identity ([`read_questions`], [`read_mmvp`]).

use std::path::{Path, PathBuf};

use cuelab_data::video::FrameSampling;
use serde_json::{json, Value};

use super::clips::prepare_clips;
use super::config::{ChoiceOrder, VqaConfig};
use super::item::{items_from_samples, SkippedSample, VqaItem};
use crate::error::{Result, TaskError};
use crate::runner::describe_data_file;

/// Values that replace the configuration's (flags > configuration file > defaults); `None` and
/// empty lists keep the configuration's value.
#[derive(Debug, Clone, Default)]
pub struct VqaOverrides {
    /// The experiment file (TOML); `None`: the defaults.
    pub config_file: Option<PathBuf>,
    /// Cue variants.
    pub cues: Vec<String>,
    /// Option order.
    pub order: Option<ChoiceOrder>,
    /// System prompt.
    pub system: Option<String>,
    /// Only the first N questions.
    pub limit: Option<usize>,
    /// Seed of the option order and bootstrap.
    pub seed: Option<u64>,
    /// Frames of each clip shown.
    pub frames: Option<String>,
}

impl VqaOverrides {
    /// The configuration file (or the defaults) with these values over it, checked.
    pub fn config(&self) -> Result<VqaConfig> {
        let cfg = match &self.config_file {
            Some(p) => VqaConfig::from_toml_file(p)?,
            None => VqaConfig::default(),
        };
        self.apply(cfg)
    }

    /// `cfg` with these values over it, checked (its cue variants parse).
    pub fn apply(&self, mut cfg: VqaConfig) -> Result<VqaConfig> {
        if !self.cues.is_empty() {
            cfg.cues = self.cues.clone();
        }
        if let Some(o) = self.order {
            cfg.order = o;
        }
        if self.system.is_some() {
            cfg.system = self.system.clone();
        }
        if self.limit.is_some() {
            cfg.limit = self.limit;
        }
        if let Some(s) = self.seed {
            cfg.seed = s;
        }
        if self.frames.is_some() {
            cfg.frames = self.frames.clone();
        }
        cfg.variants()?;
        Ok(cfg)
    }
}

/// Which questions of a JSONL file to ask.
#[derive(Debug, Clone, Default)]
pub struct QuestionSource {
    /// The JSONL file (media paths relative to its folder).
    pub data: PathBuf,
    /// Only samples of these tasks (`multiple_choice`, `counting`, `video`); empty: all.
    pub tasks: Vec<String>,
    /// Only samples of these question types; empty: all.
    pub qtypes: Vec<String>,
    /// Skip malformed lines instead of failing.
    pub skip_bad: bool,
    /// The frames setting as given (recorded in the data description).
    pub frames: Option<String>,
    /// Prepare video clips with this sampling and frame cache (`None`: clips are left as
    /// they are).
    pub clips: Option<(Option<FrameSampling>, PathBuf)>,
}

/// The questions read, and what was left out.
#[derive(Debug, Clone)]
pub struct Questions {
    /// The questions to ask.
    pub items: Vec<VqaItem>,
    /// Samples that cannot be asked (then clips that cannot be read), with the reason.
    pub not_asked: Vec<SkippedSample>,
    /// Malformed lines skipped (`skip_bad`), as messages.
    pub malformed: Vec<String>,
    /// The data description of the run identity (the file's checksum included).
    pub description: Value,
}

/// Read, filter and prepare the questions of `source`.
pub fn read_questions(source: &QuestionSource) -> Result<Questions> {
    let data = &source.data;
    let loaded = cuelab_data::jsonl::read(data, source.skip_bad)
        .map_err(|e| TaskError::context(format!("reading {}", data.display()), e))?;
    let base = data.parent().unwrap_or(Path::new("."));
    let samples: Vec<cuelab_data::Sample> = loaded
        .samples
        .into_iter()
        .filter(|s| {
            source.tasks.is_empty()
                || source
                    .tasks
                    .iter()
                    .any(|t| serde_json::to_value(s.task).is_ok_and(|v| v == t.as_str()))
        })
        .filter(|s| {
            source.qtypes.is_empty() || s.qtype.as_ref().is_some_and(|q| source.qtypes.contains(q))
        })
        .collect();
    let (samples, mut unreadable) = match &source.clips {
        Some((sampling, cache)) => prepare_clips(samples, base, *sampling, cache),
        None => (samples, Vec::new()),
    };
    let (items, mut not_asked) = items_from_samples(&samples, base);
    not_asked.append(&mut unreadable);
    let malformed: Vec<String> = loaded.skipped.iter().map(|e| e.to_string()).collect();
    // the file's checksum makes its contents part of the run identity
    let description = describe_data_file(
        data,
        json!({
            "file": data.display().to_string(),
            "tasks": source.tasks,
            "qtypes": source.qtypes,
            "not_asked": not_asked,
            "malformed_lines": malformed.len(),
            "frames": source.frames,
        }),
    )?;
    Ok(Questions {
        items,
        not_asked,
        malformed,
        description,
    })
}

/// Which MMVP benchmark to read.
#[derive(Debug, Clone, Default)]
pub struct MmvpSource {
    /// The folder holding `Questions.csv`, or the CSV itself.
    pub data: PathBuf,
    /// The image folder (default: next to the CSV).
    pub images: Option<PathBuf>,
    /// MMVP-VLM (statement pairs for CLIP) instead of MMVP.
    pub vlm: bool,
    /// Apply the known answer-key errata (MMVP).
    pub errata: bool,
}

/// Read the MMVP questions; every question must be askable. Returns the questions (with no
/// `not_asked` and no `malformed`) and their data description.
pub fn read_mmvp(source: &MmvpSource) -> Result<Questions> {
    let csv = if source.data.is_dir() {
        source.data.join("Questions.csv")
    } else {
        source.data.clone()
    };
    if !csv.is_file() {
        return Err(TaskError::NoSamples(format!(
            "{}: no Questions.csv",
            source.data.display()
        )));
    }
    let loaded = if source.vlm {
        cuelab_data::mmvp::load_vlm(&csv, source.images.as_deref(), false)
    } else {
        cuelab_data::mmvp::load(&csv, source.images.as_deref(), source.errata, false)
    }
    .map_err(|e| TaskError::context(format!("reading {}", csv.display()), e))?;
    let (items, skipped) = items_from_samples(&loaded.samples, Path::new("."));
    if let Some(s) = skipped.first() {
        return Err(TaskError::NoSamples(format!(
            "{}: question {} cannot be asked: {}",
            csv.display(),
            s.id,
            s.reason
        )));
    }
    // the CSV's checksum and the image folder are part of the run identity
    let description = describe_data_file(
        &csv,
        json!({
            "file": csv.display().to_string(),
            "images": source.images.as_ref().map(|p| p.display().to_string()),
            "variant": if source.vlm { "mmvp-vlm" } else { "mmvp" },
            "errata_fixed": source.errata,
        }),
    )?;
    Ok(Questions {
        items,
        not_asked: Vec::new(),
        malformed: Vec::new(),
        description,
    })
}
