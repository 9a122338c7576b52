//! `cuelab lora-plan`: LoRA trainable parameters per rank from the checkpoint's real shapes,
//! their capacity at a stated bits/parameter, and the smallest rank that holds the fine-tuning
//! set's information (its surprisal in bits) with a margin.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use cuelab_models::qwen3_vl::lora_shapes::Projection;
use cuelab_tasks::probe::lora_plan::{information_from_run, plan, plan_table, LoraPlanConfig};
use cuelab_tasks::probe::surprisal::{run_file, SurprisalConfig, SurprisalSettings};
use cuelab_tasks::runner::RunOptions;

use crate::exit::ExitStatus;

/// Flags of `cuelab lora-plan`.
#[derive(Debug, Args)]
pub struct LoraPlanArgs {
    /// Model: a local Qwen3-VL directory or a Hugging Face id in the local hub cache (only its
    /// config.json and safetensors headers are read, unless --data needs a surprisal run).
    #[arg(long, short = 'm')]
    pub model: String,
    /// The dataset's information: a finished `probe surprisal` run directory (its summary is
    /// read), or a generic JSONL file (its surprisal is measured now, plain images).
    #[arg(long, required_unless_present = "bits", conflicts_with = "bits")]
    pub data: Option<PathBuf>,
    /// The dataset's information in bits, given directly.
    #[arg(long)]
    pub bits: Option<f64>,
    /// LoRA ranks to evaluate (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "4,8,16,32,64")]
    pub rank: Vec<usize>,
    /// Target projections (comma-separated): q, k, v, o, gate, up, down.
    #[arg(long, value_delimiter = ',', default_value = "q,k,v,o,gate,up,down")]
    pub targets: Vec<String>,
    /// Also adapt the vision tower's blocks (q/k/v → attn.qkv, o → attn.proj, up → linear_fc1,
    /// down → linear_fc2).
    #[arg(long)]
    pub vision: bool,
    /// Bits one trainable parameter stores: an empirical rule (about 2 for knowledge in
    /// language models, Allen-Zhu & Li 2024), adjustable.
    #[arg(long, default_value_t = 2.0)]
    pub bits_per_param: f64,
    /// Capacity must be at least this many times the information.
    #[arg(long, default_value_t = 2.0)]
    pub margin: f64,
    /// Run directory of the surprisal run when --data is a JSONL file (resumed when it exists).
    #[arg(short, long, default_value = "runs/lora-plan-surprisal")]
    pub out: PathBuf,
    /// Device of the surprisal run: cpu, or cuda[:N].
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Also write the plan as JSON to this file.
    #[arg(long, value_name = "FILE.json")]
    pub json: Option<PathBuf>,
}

/// Run `cuelab lora-plan`.
pub fn run(args: LoraPlanArgs) -> Result<ExitStatus> {
    let targets = args
        .targets
        .iter()
        .map(|t| Projection::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    let resolved = cuelab_models::resolve::resolve(&args.model)?;
    let (bits, source) = match (&args.data, args.bits) {
        (_, Some(b)) => (b, "given with --bits".to_string()),
        (Some(d), None) if d.is_dir() => (
            information_from_run(d)?,
            format!("surprisal run {}", d.display()),
        ),
        (Some(d), None) if d.is_file() => {
            let settings = SurprisalSettings {
                model: args.model.clone(),
                adapter: None,
                device: args.device.clone(),
                data: d.clone(),
                config: SurprisalConfig::default(),
                opts: RunOptions {
                    out: args.out.clone(),
                    shard: None,
                    progress: true,
                },
            };
            let outcome = run_file(&settings)
                .with_context(|| format!("measuring surprisal of {}", d.display()))?;
            (
                outcome.summary.dataset_bits,
                format!(
                    "answer surprisal of {} (run {})",
                    d.display(),
                    args.out.display()
                ),
            )
        }
        (Some(d), None) => bail!("--data {}: no such file or directory", d.display()),
        (None, None) => bail!("give --data or --bits"),
    };
    let config = LoraPlanConfig {
        ranks: args.rank,
        targets,
        vision: args.vision,
        bits_per_param: args.bits_per_param,
        margin: args.margin,
    };
    let p = plan(&resolved.dir, &config, bits, &source)?;
    print!("{}", plan_table(&p));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&p)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(ExitStatus::Success)
}
