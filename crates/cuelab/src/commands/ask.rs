//! `cuelab ask`: cued multiple-choice and counting questions (seeds 000, 001) over any
//! OpenAI-compatible server or CLIP, accuracy by question type x cue variant.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::Args;
use cuelab_tasks::vqa::{read_questions, QuestionSource};

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
    let sampling = args.run.config()?.frame_sampling()?;
    let cache = args
        .frame_cache
        .clone()
        .unwrap_or_else(cuelab_data::video::default_cache);
    let questions = read_questions(&QuestionSource {
        data: args.data.clone(),
        tasks: args.tasks.clone(),
        qtypes: args.qtypes.clone(),
        skip_bad: args.skip_bad,
        frames: args.run.frames.clone(),
        clips: Some((sampling, cache)),
    })?;
    for e in &questions.malformed {
        eprintln!("skipped: {e}");
    }
    let skipped = &questions.not_asked;
    if !skipped.is_empty() {
        eprintln!(
            "{} sample(s) not asked (first: {} — {})",
            skipped.len(),
            skipped[0].id,
            skipped[0].reason
        );
    }
    if questions.items.is_empty() {
        bail!("{}: no askable questions", args.data.display());
    }
    let status = execute(
        &args.backend,
        &args.run,
        &questions.items,
        Path::new("runs/ask"),
        questions.description,
    )?;
    Ok(if questions.malformed.is_empty() {
        status
    } else {
        ExitStatus::Partial
    })
}
