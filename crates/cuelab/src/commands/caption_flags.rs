//! The flags of `cuelab caption` ([`CaptionArgs`]); `super::caption` turns them into the
//! library's configuration, data and backend settings (`cuelab_tasks::caption`).

use std::path::PathBuf;

use clap::Args;

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
