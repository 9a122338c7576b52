//! `cuelab build-mcq`: fill-in-the-blank multiple-choice questions from an SSv2 folder (seed 000).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use cuelab_data::mcq::{self, McqOptions, Ssv2Source};

use crate::exit::ExitStatus;

/// Flags of `cuelab build-mcq`.
#[derive(Debug, Args)]
pub struct BuildMcqArgs {
    /// SSv2 labels folder: `labels.json`, `train.json`, `validation.json`.
    #[arg(long)]
    pub ssv2: PathBuf,
    /// Videos (`<id>.webm`/`.mp4`) or frame folders (`<id>/`); each listed video must exist.
    #[arg(long)]
    pub media: Option<PathBuf>,
    /// Something-Else box file(s), attached as per-frame boxes (repeatable).
    #[arg(long = "something-else")]
    pub something_else: Vec<PathBuf>,
    /// Options per question (the answer and distinct distractors).
    #[arg(long, default_value_t = 4)]
    pub choices: usize,
    /// Seed of distractors, answer positions and the split.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Test : train ratio of the split by video.
    #[arg(long, default_value = "1:8.5")]
    pub split_ratio: String,
    /// Output questions (generic JSONL); the report goes beside it as `<stem>.report.json`.
    #[arg(short, long)]
    pub out: PathBuf,
}

/// Run `cuelab build-mcq`.
pub fn run(args: BuildMcqArgs) -> Result<ExitStatus> {
    let opts = McqOptions {
        choices: args.choices,
        seed: args.seed,
        split_ratio: mcq::parse_split_ratio(&args.split_ratio)?,
    };
    let src = Ssv2Source {
        dir: args.ssv2.clone(),
        media: args.media.clone(),
        boxes: args.something_else.clone(),
    };
    let (mut questions, report) = mcq::build_from_dir(&src, &opts)
        .with_context(|| format!("building questions from {}", args.ssv2.display()))?;
    let out_dir = args
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    mcq::relative_media(&mut questions, &out_dir);
    cuelab_data::jsonl::write(&args.out, &questions)?;
    let stem = args
        .out
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "questions".into());
    let report_path = out_dir.join(format!("{stem}.report.json"));
    std::fs::write(&report_path, serde_json::to_vec_pretty(&report)?)
        .with_context(|| format!("writing {}", report_path.display()))?;
    for s in &report.skipped {
        let q = s
            .question
            .as_deref()
            .map(|q| format!(" {q}"))
            .unwrap_or_default();
        eprintln!("skipped: video {}{q}: {}", s.video, s.reason);
    }
    let types: Vec<String> = report
        .by_type
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    let splits: Vec<String> = report
        .videos_by_split
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    println!(
        "{} questions ({}) from {} videos; videos by split: {}; answer positions {:?}; \
         vocabulary {} objects, {} verbs; {} skipped -> {} (report {})",
        report.questions,
        types.join(", "),
        report.videos,
        splits.join(", "),
        report.answer_positions,
        report.objects,
        report.verbs,
        report.skipped.len(),
        args.out.display(),
        report_path.display()
    );
    Ok(if report.skipped.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Partial
    })
}
