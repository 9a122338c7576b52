//! `cuelab caption`: the captioning study (seed 002) — prompts × generation configs × cues over
//! a caption dataset, scored with CIDEr-D, BLEU, ROUGE-L and CLIPScore, with CIs and paired tests
//! (flags declared in [`super::caption_flags`]; the study is `cuelab_tasks::caption`).

use anyhow::{bail, Context, Result};
use cuelab_tasks::caption::{
    caption_table, data_or_scenes, load, run_caption_study, CaptionBackend, CaptionBackendSettings,
    CaptionConfig, CaptionData, CaptionOverrides,
};
use cuelab_tasks::runner::RunOptions;

pub use super::caption_flags::CaptionArgs;
use crate::exit::ExitStatus;

/// The configuration: the TOML file's fields (or the defaults), then the flags over them.
fn config(args: &CaptionArgs) -> Result<CaptionConfig> {
    Ok(CaptionOverrides {
        config_file: args.config.clone(),
        prompts: args.prompts.clone(),
        prompts_file: args.prompts_file.clone(),
        gens: args.gens.clone(),
        cues: args.cues.clone(),
        system: args.system.clone(),
        clip: args.clip.clone(),
        limit: args.limit,
        seed: args.seed,
        attention: args.attention,
        attention_layers: args.attention_layers.clone(),
        attention_heads: args.attention_heads.clone(),
        rollout: args.rollout,
        word_aggregate: args.word_aggregate,
    }
    .config()?)
}

/// The captioning backend the flags choose.
fn backend(args: &CaptionArgs) -> Result<CaptionBackend> {
    Ok(CaptionBackendSettings {
        local: args.local.clone(),
        adapter: args.adapter.clone(),
        device: args.device.clone(),
        endpoints: args.endpoints.clone(),
        model: args.model.clone(),
        backend_config: args.backend_config.clone(),
        concurrency: args.concurrency,
        no_cache: args.no_cache,
    }
    .backend(&args.out)?)
}

/// Run `cuelab caption`.
pub fn run(args: CaptionArgs) -> Result<ExitStatus> {
    let cfg = config(&args)?;
    let path = data_or_scenes(args.data.as_deref(), &args.out)?;
    let data = CaptionData {
        path: path.clone(),
        media: args.media.clone(),
        split: args.split.clone(),
        skip_bad: args.skip_bad,
    };
    let loaded = load(&data).with_context(|| format!("reading {}", path.display()))?;
    for s in &loaded.skipped {
        eprintln!("skipped: {s}");
    }
    if loaded.items.is_empty() {
        bail!("{}: no images with captions", path.display());
    }
    let opts = RunOptions {
        out: args.out.clone(),
        shard: args
            .shard
            .as_deref()
            .map(cuelab_tasks::runner::parse_shard)
            .transpose()?,
        progress: true,
    };
    let outcome = run_caption_study(
        &cfg,
        &loaded.items,
        &backend(&args)?,
        &loaded.description,
        &opts,
    )?;
    print!("{}", caption_table(&outcome.summary));
    println!("run directory: {}", args.out.display());
    let errors: usize = outcome.summary.cells.iter().map(|c| c.errors).sum();
    Ok(
        if outcome.missing > 0 || errors > 0 || !loaded.skipped.is_empty() {
            ExitStatus::Partial
        } else {
            ExitStatus::Success
        },
    )
}
