//! `cuelab caption`: the captioning study (seed 002) — prompts × generation configs × cues over
//! a caption dataset, scored with CIDEr-D, BLEU, ROUGE-L and CLIPScore, with CIs and paired tests.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use cuelab_tasks::caption::{
    caption_table, load, run_caption_study, AttentionSettings, CaptionBackend, CaptionConfig,
    CaptionData,
};
use cuelab_tasks::runner::RunOptions;
use cuelab_vlm::remote::RemoteConfig;

use crate::exit::ExitStatus;

/// Flags of `cuelab caption`.
#[derive(Debug, Args)]
pub struct CaptionArgs {
    /// Captions: a `cuelab scenes` folder, JSONL with `captions`, COCO `captions_*.json` or
    /// Karpathy `dataset_coco.json`. Default: 24 synthetic scenes written to OUT/scenes.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Image folder of COCO / Karpathy files.
    #[arg(long)]
    pub media: Option<PathBuf>,
    /// Only this split (Karpathy: train/restval/val/test; samples' `split` otherwise).
    #[arg(long)]
    pub split: Option<String>,
    /// Only the first N images (after sharding).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Skip malformed records (reported) instead of stopping.
    #[arg(long)]
    pub skip_bad: bool,
    /// Instruction (repeatable); default "Describe the image in one sentence."
    #[arg(long = "prompt")]
    pub prompts: Vec<String>,
    /// A file of instructions, one per line (blank lines and `#` comments ignored).
    #[arg(long, value_name = "FILE")]
    pub prompts_file: Option<PathBuf>,
    /// Generation config (repeatable): greedy, beam=3,length_penalty=1.0,
    /// temperature=0.7,top_p=0.9,seed=1, max_tokens=30, ...
    #[arg(long = "gen")]
    pub gens: Vec<String>,
    /// Cue variant (repeatable): plain (default) or a recipe drawn on the sample's target box.
    #[arg(long = "cue")]
    pub cues: Vec<String>,
    /// System prompt.
    #[arg(long)]
    pub system: Option<String>,
    /// CLIP model for CLIPScore / RefCLIPScore (HF id in the local cache or a directory).
    #[arg(long, value_name = "MODEL")]
    pub clip: Option<String>,
    /// Experiment file (TOML: prompts, gens, cues, system, seed, limit, batch, clip, resamples).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Seed of the bootstrap.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Caption with an in-process Qwen3-VL (directory or HF id in the local cache).
    #[arg(long, value_name = "MODEL", conflicts_with = "endpoints")]
    pub local: Option<String>,
    /// PEFT LoRA adapter merged into the `--local` model.
    #[arg(long, requires = "local")]
    pub adapter: Option<PathBuf>,
    /// Device for `--local` and `--clip`: cpu or cuda[:N].
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// OpenAI-compatible base URL (repeatable), e.g. http://localhost:8000/v1.
    #[arg(long = "endpoint", value_name = "URL")]
    pub endpoints: Vec<String>,
    /// Model name sent to the server.
    #[arg(long)]
    pub model: Option<String>,
    /// Remote backend settings (TOML, as `cuelab ask --backend-config`); flags override it.
    #[arg(long, value_name = "FILE.toml")]
    pub backend_config: Option<PathBuf>,
    /// Requests in flight at once.
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Do not cache responses in the run directory.
    #[arg(long)]
    pub no_cache: bool,
    /// Per-word attention maps (.npy, .json, .png strip) for the first N images of every cell,
    /// in OUT/attention/ (`--local` only).
    #[arg(long, value_name = "N")]
    pub attention: Option<usize>,
    /// Decoder layers of the maps: `all`, `N` or `A..B` (end exclusive).
    #[arg(long, default_value = "all")]
    pub attention_layers: String,
    /// Heads of the maps, comma-separated (default: mean over all heads).
    #[arg(long, value_delimiter = ',')]
    pub attention_heads: Vec<usize>,
    /// Attention rollout over the layers instead of raw attention.
    #[arg(long)]
    pub rollout: bool,
    /// A word's map from its BPE pieces: sum or mean.
    #[arg(long, default_value = "sum")]
    pub word_aggregate: cuelab_models::qwen3_vl::words::WordAggregate,
    /// Run only shard I of N (`I/N`, 0-based).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Run directory (resumed when it exists).
    #[arg(short, long, default_value = "runs/caption")]
    pub out: PathBuf,
}

fn config(args: &CaptionArgs) -> Result<CaptionConfig> {
    let mut cfg = match &args.config {
        Some(p) => CaptionConfig::from_toml_file(p)?,
        None => CaptionConfig::default(),
    };
    let mut prompts = args.prompts.clone();
    if let Some(f) = &args.prompts_file {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        prompts.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    if !prompts.is_empty() {
        cfg.prompts = prompts;
    }
    if !args.gens.is_empty() {
        cfg.gens = args.gens.clone();
    }
    if !args.cues.is_empty() {
        cfg.cues = args.cues.clone();
    }
    cfg.system = args.system.clone().or(cfg.system);
    cfg.clip = args.clip.clone().or(cfg.clip);
    cfg.limit = args.limit.or(cfg.limit);
    cfg.seed = args.seed.unwrap_or(cfg.seed);
    if let Some(images) = args.attention {
        let layers = match args.attention_layers.split_once("..") {
            _ if args.attention_layers == "all" => Vec::new(),
            Some((a, b)) => (a.trim().parse::<usize>()?..b.trim().parse::<usize>()?).collect(),
            None => vec![args.attention_layers.trim().parse::<usize>()?],
        };
        cfg.attention = Some(AttentionSettings {
            images,
            layers,
            heads: (!args.attention_heads.is_empty()).then(|| args.attention_heads.clone()),
            rollout: args.rollout,
            aggregate: args.word_aggregate,
        });
    }
    cfg.cells()?;
    Ok(cfg)
}

fn backend(args: &CaptionArgs) -> Result<CaptionBackend> {
    if let Some(model) = &args.local {
        return Ok(CaptionBackend::Local {
            model: model.clone(),
            adapter: args.adapter.clone(),
            device: args.device.clone(),
        });
    }
    let mut cfg = match &args.backend_config {
        Some(p) => toml::from_str::<RemoteConfig>(&std::fs::read_to_string(p)?)
            .with_context(|| format!("{}: not a remote backend configuration", p.display()))?,
        None if args.endpoints.is_empty() => {
            bail!("give --local QWEN3_VL_DIR or --endpoint URL --model NAME (or --backend-config)")
        }
        None => RemoteConfig::default(),
    };
    if !args.endpoints.is_empty() {
        cfg.endpoints = args.endpoints.clone();
    }
    cfg.model = args.model.clone().unwrap_or(cfg.model);
    if cfg.model.trim().is_empty() {
        bail!("--model is required with --endpoint (the model name the server serves)");
    }
    cfg.concurrency = args.concurrency.unwrap_or(cfg.concurrency);
    Ok(CaptionBackend::Remote(Box::new(if args.no_cache {
        cfg.cache_path = None;
        cfg
    } else {
        cuelab_tasks::vqa::with_run_cache(cfg, &args.out)?
    })))
}

/// Run `cuelab caption`.
pub fn run(args: CaptionArgs) -> Result<ExitStatus> {
    let cfg = config(&args)?;
    let path = match &args.data {
        Some(p) => p.clone(),
        None => {
            let dir = args.out.join("scenes");
            if !dir.join("samples.jsonl").is_file() {
                cuelab_data::scenes::export::write(&cuelab_data::scenes::Config::new(0, 24), &dir)?;
            }
            dir
        }
    };
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
