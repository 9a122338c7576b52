//! `cuelab caption`: the captioning study (seed 002) — prompts × generation configs × cues over
//! a caption dataset, scored with CIDEr-D, BLEU, ROUGE-L and CLIPScore, with CIs and paired tests
//! (flags declared in [`super::caption_flags`]; the run is `cuelab_tasks::caption::run_caption`).

use anyhow::Result;
use cuelab_tasks::caption::{
    caption_table, run_caption, CaptionBackendSettings, CaptionConfig, CaptionOverrides,
    CaptionSettings,
};

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

/// Run `cuelab caption`.
pub fn run(args: CaptionArgs) -> Result<ExitStatus> {
    let settings = CaptionSettings {
        config: config(&args)?,
        data: args.data.clone(),
        media: args.media.clone(),
        split: args.split.clone(),
        skip_bad: args.skip_bad,
        backend: CaptionBackendSettings {
            local: args.local.clone(),
            adapter: args.adapter.clone(),
            device: args.device.clone(),
            endpoints: args.endpoints.clone(),
            model: args.model.clone(),
            backend_config: args.backend_config.clone(),
            concurrency: args.concurrency,
            no_cache: args.no_cache,
        },
        out: args.out.clone(),
        shard: args.shard.clone(),
        progress: true,
    };
    let study = run_caption(&settings, &mut |s| eprintln!("skipped: {s}"))?;
    print!("{}", caption_table(&study.outcome.summary));
    println!("run directory: {}", args.out.display());
    Ok(
        if study.outcome.missing > 0 || study.errors() > 0 || !study.skipped.is_empty() {
            ExitStatus::Partial
        } else {
            ExitStatus::Success
        },
    )
}
