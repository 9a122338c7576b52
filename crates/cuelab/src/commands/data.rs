//! `cuelab data check`: validate a dataset on disk and report counts and problems.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use cuelab_data::{check, CheckOptions, Format};

use crate::exit::ExitStatus;

/// Flags of `cuelab data`.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: DataCommand,
}

/// Subcommands of `cuelab data`.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Validate a dataset and report counts and problems.
    Check(CheckArgs),
}

/// Flags of `cuelab data check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The dataset file or folder.
    pub path: PathBuf,
    /// Format: jsonl, refcoco, coco-instances, coco-captions, karpathy, caption-results, mmvp,
    /// mmvp-vlm, ssv2, scenes. Recognised from the path when omitted.
    #[arg(short, long, value_parser = parse_format)]
    pub format: Option<Format>,
    /// Image or video folder: every referenced file must exist there.
    #[arg(long)]
    pub media: Option<PathBuf>,
    /// Only this split (refcoco, karpathy).
    #[arg(long)]
    pub split: Option<String>,
    /// Apply the MMVP ground-truth errata fix (indices 99/100, 279/280).
    #[arg(long)]
    pub fix_errata: bool,
    /// Continue past bad records; report how many were skipped (exit 1 if any).
    #[arg(long)]
    pub skip_bad: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_format(s: &str) -> std::result::Result<Format, String> {
    Format::parse(s).ok_or_else(|| {
        let names: Vec<&str> = Format::ALL.iter().map(|(_, n)| *n).collect();
        format!("unknown format {s:?}; one of {}", names.join(", "))
    })
}

/// Run `cuelab data`.
pub fn run(args: DataArgs) -> Result<ExitStatus> {
    match args.command {
        DataCommand::Check(a) => run_check(a),
    }
}

fn run_check(a: CheckArgs) -> Result<ExitStatus> {
    let opts = CheckOptions {
        media: a.media.clone(),
        skip_bad: a.skip_bad,
        split: a.split.clone(),
        fix_errata: a.fix_errata,
    };
    let format = match a.format {
        Some(f) => f,
        None => {
            let f = cuelab_data::detect_format(&a.path)?;
            eprintln!("{}: recognised as {}", a.path.display(), f.name());
            f
        }
    };
    let report = check(&a.path, format, &opts)
        .with_context(|| format!("checking {} as {}", a.path.display(), format.name()))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for (part, counts) in &report.counts {
            let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!("{part}: {}", parts.join(" "));
        }
        for p in &report.problems {
            println!("problem: {p}");
        }
        println!("{}: ok ({} skipped)", a.path.display(), report.skipped);
    }
    Ok(if report.skipped > 0 {
        ExitStatus::Partial
    } else {
        ExitStatus::Success
    })
}
