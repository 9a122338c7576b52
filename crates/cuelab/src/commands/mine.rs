//! `cuelab mine`: CLIP-blind pair mining (seed 003) into pair lists, a contact sheet and an
//! MMVP-layout benchmark skeleton. The work (and the text of each step) is in `cuelab_tasks::mine`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use cuelab_tasks::mine::approx::AnnParams;
use cuelab_tasks::mine::pipeline::FinishOptions;
use cuelab_tasks::mine::run::{MineConfig, Mode};
use cuelab_tasks::mine::study::{merge_shards, run_mining, MiningSettings, MiningStep};
use cuelab_tasks::mine::Thresholds;
use cuelab_tasks::runner::parse_shard;

use crate::exit::ExitStatus;

/// Flags of `cuelab mine`.
#[derive(Debug, Args)]
pub struct MineArgs {
    /// Images to encode: a directory, a list file (one path per line) or a COCO JSON; with a
    /// precomputed `.npy`, the list of its rows' labels.
    #[arg(long, value_name = "DIR|LIST.txt|coco.json")]
    pub images: Option<PathBuf>,
    /// CLIP side: a model (Hugging Face id or directory) or precomputed embeddings
    /// (`.parquet` from `cuelab embed`, or `.npy` with --images LIST.txt).
    #[arg(long, value_name = "MODEL|EMB.parquet|EMB.npy")]
    pub clip: Option<String>,
    /// DINOv2 side: a model or precomputed embeddings, as --clip.
    #[arg(long, value_name = "MODEL|EMB.parquet|EMB.npy")]
    pub dino: Option<String>,
    /// CLIP cosine at or above which a pair is a candidate (inclusive).
    #[arg(long, default_value_t = 0.95, allow_negative_numbers = true)]
    pub clip_min: f32,
    /// DINOv2 cosine below which a candidate is CLIP-blind (exclusive).
    #[arg(long, default_value_t = 0.6, allow_negative_numbers = true)]
    pub dino_max: f32,
    /// DINOv2 cosine at or above which a candidate is a near-duplicate (flagged, excluded).
    #[arg(long, default_value_t = 0.98, allow_negative_numbers = true)]
    pub dedup: f32,
    /// Approximate search with an HNSW index instead of the exact blocked products.
    #[arg(long)]
    pub approx: bool,
    /// Approximate mode: neighbours asked per image.
    #[arg(long, default_value_t = 32)]
    pub ann_k: usize,
    /// Approximate mode: search list size (at least --ann-k).
    #[arg(long, default_value_t = 64)]
    pub ann_ef: usize,
    /// Approximate mode: HNSW links per node.
    #[arg(long, default_value_t = 16)]
    pub ann_m: usize,
    /// Rows per row block (the unit of resuming and sharding).
    #[arg(long, default_value_t = 2048)]
    pub block: usize,
    /// Exact mode: columns per product tile (tile memory: block x chunk x 8 bytes).
    #[arg(long, default_value_t = 4096)]
    pub chunk: usize,
    /// Search only the row blocks b with b % N == I; `auto` / `auto/N` read a Slurm job array
    /// or a Kubernetes Indexed Job (docs/scaling.md), or CUELAB_SHARD. Shards may share one -o directory, or use their
    /// own and be joined with --merge.
    #[arg(long, value_name = "I/N|auto")]
    pub shard: Option<String>,
    /// Join the finished blocks of these shard directories (same inputs and settings) and write
    /// the outputs into -o; nothing is searched.
    #[arg(long, value_name = "DIR", num_args = 1..)]
    pub merge: Vec<PathBuf>,
    /// SQLite embedding cache (default: OUT/embeddings.sqlite).
    #[arg(long, value_name = "FILE.sqlite")]
    pub cache: Option<PathBuf>,
    /// Images per encoder forward pass, or `auto`: the largest batch whose estimated memory
    /// fits in a quarter of the available memory (docs/mine.md).
    #[arg(long, default_value = "auto", value_name = "auto|N")]
    pub batch: cuelab_tasks::mine::batch::BatchSize,
    /// Device: cpu, or cuda[:N] (build with the `cuda` feature).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Dtype of the encoders: f32, bf16 or f16.
    #[arg(long, default_value = "f32", value_name = "f32|bf16|f16")]
    pub dtype: String,
    /// CLIP image preprocessing: `openai` or `hf` (default: per model layout).
    #[arg(long, value_name = "openai|hf")]
    pub preprocess: Option<String>,
    /// Pairs in the MMVP skeleton (each image at most once).
    #[arg(long, default_value_t = 150)]
    pub max_pairs: usize,
    /// Pairs on the contact sheet.
    #[arg(long, default_value_t = 50)]
    pub sheet_pairs: usize,
    /// Output (work) directory: resumable; holds the finished blocks and every output.
    #[arg(short, long)]
    pub out: PathBuf,
}

fn finish_opts(args: &MineArgs) -> FinishOptions {
    FinishOptions {
        max_pairs: args.max_pairs,
        sheet_pairs: args.sheet_pairs,
        ..FinishOptions::default()
    }
}

/// Run `cuelab mine`.
pub fn run(args: MineArgs) -> Result<ExitStatus> {
    if !args.merge.is_empty() {
        let f = merge_shards(&args.merge, &args.out, &finish_opts(&args))?;
        print!("{}", MiningStep::Finished(&f).report(&args.out));
        return Ok(ExitStatus::Success);
    }
    let (Some(clip_ref), Some(dino_ref)) = (&args.clip, &args.dino) else {
        bail!("give --clip and --dino (models or precomputed embeddings), or --merge DIR...");
    };
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    let thresholds = Thresholds {
        clip_min: args.clip_min,
        dino_max: args.dino_max,
        dedup: args.dedup,
    };
    thresholds.validate()?;
    let mode = if args.approx {
        Mode::Approx(AnnParams {
            m: args.ann_m,
            ef_construction: AnnParams::default().ef_construction,
            k: args.ann_k,
            ef_search: args.ann_ef,
        })
    } else {
        Mode::Exact { chunk: args.chunk }
    };
    let settings = MiningSettings {
        out: args.out.clone(),
        clip: clip_ref.clone(),
        dino: dino_ref.clone(),
        images: args.images.clone(),
        config: MineConfig {
            thresholds,
            block: args.block,
            mode,
        },
        shard,
        preprocess: args.preprocess.clone(),
        device: args.device.clone(),
        dtype: args.dtype.clone(),
        batch: args.batch,
        cache: args.cache.clone(),
        finish: finish_opts(&args),
    };
    run_mining(&settings, &mut |step| print!("{}", step.report(&args.out)))?;
    Ok(ExitStatus::Success)
}
