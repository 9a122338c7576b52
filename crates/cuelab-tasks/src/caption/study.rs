//! The captioning study as one call, [`run_caption`]: the data (or synthetic scenes), its
//! checks, the backend and the resumable sweep, in the order `cuelab caption` has always done
//! them (so the same error comes first).

use std::path::PathBuf;

use super::data::{load, CaptionData};
use super::run::CaptionOutcome;
use super::settings::{data_or_scenes, CaptionBackendSettings};
use super::{run_caption_study, CaptionConfig};
use crate::error::{Result, TaskError};
use crate::runner::{parse_shard, RunOptions};

/// Everything a captioning run needs (the flags of `cuelab caption`).
#[derive(Debug, Clone)]
pub struct CaptionSettings {
    /// The sweep (see [`super::CaptionOverrides`] for flags over a file over the defaults).
    pub config: CaptionConfig,
    /// Captions: a scenes folder, JSONL, COCO captions JSON or Karpathy JSON. `None`: 24
    /// synthetic scenes written once to `out/scenes` ([`data_or_scenes`]).
    pub data: Option<PathBuf>,
    /// Image folder of COCO / Karpathy files.
    pub media: Option<PathBuf>,
    /// Only this split.
    pub split: Option<String>,
    /// Skip malformed records (reported) instead of stopping.
    pub skip_bad: bool,
    /// Which model writes the captions.
    pub backend: CaptionBackendSettings,
    /// The run directory (resumed when it exists).
    pub out: PathBuf,
    /// Only this shard, as given: `I/N`, `auto` or `auto/N` (see [`parse_shard`]).
    pub shard: Option<String>,
    /// Progress bars on stderr.
    pub progress: bool,
}

/// A finished captioning run.
#[derive(Debug)]
pub struct CaptionStudy {
    /// The sweep's summary and the captions still missing.
    pub outcome: CaptionOutcome,
    /// Malformed records skipped while reading the data (with `skip_bad`).
    pub skipped: Vec<String>,
    /// The data read (the scenes folder when none was given).
    pub data: PathBuf,
}

impl CaptionStudy {
    /// Cells' error rows summed.
    pub fn errors(&self) -> usize {
        self.outcome.summary.cells.iter().map(|c| c.errors).sum()
    }
}

/// Read the data, build the backend and run the sweep into `settings.out`. Each skipped record
/// goes to `on_skipped` as soon as the data is read (before any caption is asked). Data without
/// a single image with captions is an error.
pub fn run_caption(
    settings: &CaptionSettings,
    on_skipped: &mut dyn FnMut(&str),
) -> Result<CaptionStudy> {
    let s = settings;
    let path = data_or_scenes(s.data.as_deref(), &s.out)?;
    let data = CaptionData {
        path: path.clone(),
        media: s.media.clone(),
        split: s.split.clone(),
        skip_bad: s.skip_bad,
    };
    let loaded =
        load(&data).map_err(|e| TaskError::context(format!("reading {}", path.display()), e))?;
    for skipped in &loaded.skipped {
        on_skipped(skipped);
    }
    if loaded.items.is_empty() {
        return Err(TaskError::NoSamples(format!(
            "{}: no images with captions",
            path.display()
        )));
    }
    let opts = RunOptions {
        out: s.out.clone(),
        shard: s.shard.as_deref().map(parse_shard).transpose()?,
        progress: s.progress,
    };
    let backend = s.backend.backend(&s.out)?;
    let outcome = run_caption_study(
        &s.config,
        &loaded.items,
        &backend,
        &loaded.description,
        &opts,
    )?;
    Ok(CaptionStudy {
        outcome,
        skipped: loaded.skipped,
        data: path,
    })
}
