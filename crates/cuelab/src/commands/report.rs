//! `cuelab report`: one self-contained HTML page for run directories (see `cuelab-report`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use crate::exit::ExitStatus;

/// Flags of `cuelab report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run directories (grounding, questions/MMVP, caption evaluation); several are compared,
    /// matched by sample or question id.
    #[arg(required = true, value_name = "RUN_DIR")]
    pub runs: Vec<PathBuf>,
    /// The page to write.
    #[arg(short, long, default_value = "report.html")]
    pub output: PathBuf,
    /// Page title (default: the runs' names).
    #[arg(long)]
    pub title: Option<String>,
    /// Cards per gallery at most (samples, worst failures, each flip direction).
    #[arg(long, default_value_t = 200)]
    pub max_gallery: usize,
    /// Samples file(s) (dataset JSONL) with the images, expressions and questions, when the
    /// run's manifest does not name one (`data.samples_file`).
    #[arg(long, value_name = "JSONL")]
    pub samples: Vec<PathBuf>,
    /// Longest side of gallery thumbnails in pixels.
    #[arg(long, default_value_t = 192)]
    pub thumb_size: u32,
}

/// Run `cuelab report`.
pub fn run(args: ReportArgs) -> Result<ExitStatus> {
    let t0 = Instant::now();
    let opts = cuelab_report::Options {
        title: args.title,
        max_gallery: args.max_gallery,
        samples: args.samples,
        thumb_side: args.thumb_size,
        ..Default::default()
    };
    write(&args.runs, &args.output, &opts)?;
    let bytes = std::fs::metadata(&args.output)
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "report: {} ({:.1} MB, {:.1} s)",
        args.output.display(),
        bytes as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    Ok(ExitStatus::Success)
}

/// Write the page for `runs` to `out`.
pub fn write(runs: &[PathBuf], out: &std::path::Path, opts: &cuelab_report::Options) -> Result<()> {
    cuelab_report::write(runs, out, opts)
        .with_context(|| format!("cannot write the report {}", out.display()))
}
