//! `cuelab ground`: the grounding experiment of seed 004 (baseline crops vs red-circle cues),
//! resumable, sharded, from a TOML config or flags (declared in [`super::ground_flags`]): flags →
//! `GroundingSettings` → `cuelab_tasks::grounding::run_study` → the table.

use anyhow::Result;
use cuelab_tasks::grounding::summary::table;
use cuelab_tasks::grounding::{run_study, GroundingConfig, GroundingOverrides, GroundingSettings};
use cuelab_tasks::proposals::ProposalSource;

pub use super::ground_flags::GroundArgs;
use crate::exit::ExitStatus;

/// Parse `I/N`.
pub fn parse_shard(text: &str) -> Result<(usize, usize)> {
    Ok(cuelab_tasks::runner::parse_shard(text)?)
}

/// The experiment: the TOML file's fields (or the defaults), then the flags over them.
fn config(args: &GroundArgs) -> Result<GroundingConfig> {
    Ok(GroundingOverrides {
        config_file: args.config.clone(),
        models: args.models.clone(),
        methods: args.methods.clone(),
        cues: args.cues.clone(),
        debias: args.debias,
        debias_pool: args.debias_pool.clone(),
        debias_with_replacement: args.debias_with_replacement,
        text_field: args.text_field.clone(),
        aggregate: args.aggregate,
        limit: args.limit,
        seed: args.seed,
        class_prior: args.class_prior,
    }
    .config()?)
}

/// The settings of the study the flags ask for.
fn settings(args: &GroundArgs) -> Result<GroundingSettings> {
    let proposals = match (&args.proposals, &args.detector) {
        (Some(path), _) => ProposalSource::File {
            path: path.clone(),
            format: args.proposals_format,
            min_score: args.min_score,
        },
        (None, Some(spec)) => ProposalSource::Detector {
            spec: spec.clone(),
            options: args.thresholds.options()?,
        },
        (None, None) => ProposalSource::GroundTruth,
    };
    Ok(GroundingSettings {
        config: config(args)?,
        data: args.data.clone(),
        split: args.split.clone(),
        images: args.images.clone(),
        proposals,
        preprocess: args.preprocess,
        device: args.device.clone(),
        out: args.out.clone(),
        shard: args.shard.as_deref().map(parse_shard).transpose()?,
        use_cache: !args.no_cache,
        progress: true,
    })
}

/// Run `cuelab ground`.
pub fn run(args: GroundArgs) -> Result<ExitStatus> {
    let settings = settings(&args)?;
    let outcome = run_study(&settings)?;
    if let (Some(d), Some(spec)) = (&outcome.detections, &args.detector) {
        eprintln!(
            "detector {spec}: {} image(s) detected, {} from the run directory's cache",
            d.detected, d.reused
        );
    }
    print!("{}", table(&outcome.summary));
    println!("run directory: {}", args.out.display());
    // Skipped or replaced inputs (listed under the table) make the run partial, like error rows.
    Ok(if outcome.errors() > 0 || !outcome.inputs.is_empty() {
        ExitStatus::Partial
    } else {
        ExitStatus::Success
    })
}
