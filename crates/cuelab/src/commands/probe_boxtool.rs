//! `cuelab probe boxtool`: the box-drawing tool loop (turn 1: boxes in the model's native
//! grounding format or schema-constrained JSON; turn 2: the question again on the marked image;
//! with --max-turns above 2 the model may add boxes before answering) against direct answering.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use cuelab_tasks::probe::boxfmt::BoxFormat;
use cuelab_tasks::probe::boxtool::{boxtool_table, run_boxtool, BoxtoolConfig};

use super::answering::BackendArgs;
use super::probe_common::{finish, read_config, ProbeDataArgs, ProbeRunArgs};
use crate::exit::ExitStatus;

/// Flags of `cuelab probe boxtool`.
#[derive(Debug, Args)]
pub struct ProbeBoxtoolArgs {
    #[command(flatten)]
    /// The images.
    pub data: ProbeDataArgs,
    /// Experiment file (TOML, the fields of the box tool's configuration); flags override.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// How the model writes boxes: json (pixels, schema-constrained on servers), qwen2
    /// (`<|box_start|>(x1,y1),(x2,y2)<|box_end|>`, 0-1000), qwen2.5 (JSON, pixels of its resized
    /// input), qwen3 (JSON `bbox_2d`, 0-1000).
    #[arg(long)]
    pub format: Option<BoxFormat>,
    /// Do not send the JSON schema (`response_format`) with the box request.
    #[arg(long)]
    pub no_schema: bool,
    /// Turn 2 also shows the found boxes' crops, tiled, as a second image.
    #[arg(long)]
    pub crops: bool,
    /// Model turns of the tool loop at most (default 2: boxes, then the question on the marked
    /// image); above 2 the model may add boxes for unmarked objects before answering.
    #[arg(long, value_name = "N")]
    pub max_turns: Option<usize>,
    #[command(flatten)]
    /// The run.
    pub run: ProbeRunArgs,
    #[command(flatten)]
    /// The answering backend.
    pub backend: BackendArgs,
}

/// Run `cuelab probe boxtool`.
pub fn run(args: ProbeBoxtoolArgs) -> Result<ExitStatus> {
    let mut cfg: BoxtoolConfig = read_config(args.config.as_deref())?;
    cfg.format = args.format.unwrap_or(cfg.format);
    cfg.schema = cfg.schema && !args.no_schema;
    cfg.crops = cfg.crops || args.crops;
    cfg.max_turns = args.max_turns.unwrap_or(cfg.max_turns);
    args.run
        .override_config(&mut cfg.limit, &mut cfg.seed, &mut cfg.system);
    let (items, description) = args.data.load()?;
    let opts = args.run.options(Path::new("runs/probe-boxtool"))?;
    let backend = args.backend.backend(&opts.out)?;
    let summary = run_boxtool(&cfg, &items, &backend, &description, &opts)?;
    Ok(finish(
        &boxtool_table(&summary),
        &opts.out,
        summary.missing + summary.errors,
    ))
}
