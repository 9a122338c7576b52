//! `cuelab ask`: cued multiple-choice and counting questions (seeds 000, 001) over any
//! OpenAI-compatible server or CLIP, accuracy by question type x cue variant.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use cuelab_tasks::vqa::{items_from_samples, prepare_clips};

use super::answering::{execute, BackendArgs, RunArgs};
use crate::exit::ExitStatus;

/// Flags of `cuelab ask`.
#[derive(Debug, Args)]
pub struct AskArgs {
    /// Questions: cuelab's generic JSONL (`cuelab scenes`' samples.jsonl, converted datasets);
    /// image paths relative to the file. Multiple-choice, video and counting samples are asked.
    #[arg(long)]
    pub data: PathBuf,
    /// Only these tasks (repeatable): multiple_choice, counting, video.
    #[arg(long = "task", value_parser = ["multiple_choice", "counting", "video"])]
    pub tasks: Vec<String>,
    /// Only these question types (repeatable), e.g. fill_blank.
    #[arg(long = "qtype")]
    pub qtypes: Vec<String>,
    /// Skip malformed lines (reported) instead of stopping.
    #[arg(long)]
    pub skip_bad: bool,
    /// Cache of decoded videos (default: $CUELAB_FRAME_CACHE, else ~/.cache/cuelab/frames).
    #[arg(long)]
    pub frame_cache: Option<PathBuf>,
    #[command(flatten)]
    /// The answering backend.
    pub backend: BackendArgs,
    #[command(flatten)]
    /// The run.
    pub run: RunArgs,
}

/// Run `cuelab ask`.
pub fn run(args: AskArgs) -> Result<ExitStatus> {
    let loaded = cuelab_data::jsonl::read(&args.data, args.skip_bad)
        .with_context(|| format!("reading {}", args.data.display()))?;
    for e in &loaded.skipped {
        eprintln!("skipped: {e}");
    }
    let base = args.data.parent().unwrap_or(Path::new("."));
    let samples: Vec<cuelab_data::Sample> = loaded
        .samples
        .into_iter()
        .filter(|s| {
            args.tasks.is_empty()
                || args
                    .tasks
                    .iter()
                    .any(|t| serde_json::to_value(s.task).is_ok_and(|v| v == t.as_str()))
        })
        .filter(|s| {
            args.qtypes.is_empty() || s.qtype.as_ref().is_some_and(|q| args.qtypes.contains(q))
        })
        .collect();
    let sampling = args.run.config()?.frame_sampling()?;
    let cache = args
        .frame_cache
        .clone()
        .unwrap_or_else(cuelab_data::video::default_cache);
    let (samples, mut unreadable) = prepare_clips(samples, base, sampling, &cache);
    let (items, mut skipped) = items_from_samples(&samples, base);
    skipped.append(&mut unreadable);
    if !skipped.is_empty() {
        eprintln!(
            "{} sample(s) not asked (first: {} — {})",
            skipped.len(),
            skipped[0].id,
            skipped[0].reason
        );
    }
    if items.is_empty() {
        bail!("{}: no askable questions", args.data.display());
    }
    let status = execute(
        &args.backend,
        &args.run,
        &items,
        Path::new("runs/ask"),
        // the file's checksum makes its contents part of the run identity
        cuelab_tasks::runner::describe_data_file(
            &args.data,
            serde_json::json!({
                "file": args.data.display().to_string(),
                "tasks": args.tasks,
                "qtypes": args.qtypes,
                "not_asked": skipped,
                "malformed_lines": loaded.skipped.len(),
                "frames": args.run.frames,
            }),
        )?,
    )?;
    Ok(if loaded.skipped.is_empty() {
        status
    } else {
        ExitStatus::Partial
    })
}
