//! `lora-plan`: how large a LoRA must be to hold what a fine-tuning set teaches.
//!
//! * Trainable parameters per rank come from the checkpoint's real shapes (safetensors headers
//!   and config.json, no weights loaded; [`cuelab_models::qwen3_vl::lora_shapes`]): a rank-`r`
//!   LoRA on a `(out, in)` matrix trains `r · (in + out)` parameters.
//! * Capacity = parameters × bits per parameter. The default of 2 bits/parameter is an
//!   **empirical rule**, not a law: language models trained long enough on synthetic facts store
//!   about 2 bits of knowledge per parameter (Allen-Zhu & Li, "Physics of Language Models:
//!   Part 3.3, Knowledge Capacity Scaling Laws", 2024), measured for full models; that LoRA
//!   parameters store as much is an assumption. It is a flag.
//! * The set's information is the total answer-span surprisal of its examples under the base
//!   model (a [`super::surprisal`] run): what the model cannot yet predict, an upper bound on
//!   what it must learn.
//! * The plan picks the smallest rank whose capacity is at least `margin` × the information.

use std::fmt::Write as _;
use std::path::Path;

use cuelab_models::qwen3_vl::lora_shapes::{lora_targets, trainable_params, Projection, Tower};
use cuelab_models::qwen3_vl::Qwen3VlConfig;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TaskError};
use crate::probe::surprisal::SurprisalSummary;

/// What to plan for.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraPlanConfig {
    /// Ranks to evaluate.
    pub ranks: Vec<usize>,
    /// Target projections.
    pub targets: Vec<Projection>,
    /// Also adapt the vision tower's blocks.
    pub vision: bool,
    /// Bits one trainable parameter is assumed to store (empirical rule; default 2).
    pub bits_per_param: f64,
    /// Capacity must be at least `margin` × the information (default 2).
    pub margin: f64,
}

impl Default for LoraPlanConfig {
    fn default() -> Self {
        LoraPlanConfig {
            ranks: vec![4, 8, 16, 32, 64],
            targets: Projection::ALL.to_vec(),
            vision: false,
            bits_per_param: 2.0,
            margin: 2.0,
        }
    }
}

/// One rank of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankPlan {
    /// LoRA rank.
    pub rank: usize,
    /// Trainable parameters.
    pub params: u64,
    /// Of which in the vision tower.
    pub vision_params: u64,
    /// `params × bits_per_param`.
    pub capacity_bits: f64,
    /// `capacity_bits / information_bits`.
    pub capacity_ratio: f64,
    /// `capacity_bits >= margin × information_bits`.
    pub fits: bool,
}

/// The plan (`lora-plan --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoraPlan {
    /// The checkpoint directory.
    pub model: String,
    /// Target projections.
    pub targets: Vec<String>,
    /// Whether the vision blocks are adapted.
    pub vision: bool,
    /// Adapted matrices in the language model.
    pub text_matrices: usize,
    /// Adapted matrices in the vision tower.
    pub vision_matrices: usize,
    /// Bits per parameter assumed.
    pub bits_per_param: f64,
    /// The rule behind `bits_per_param`.
    pub rule: String,
    /// Required capacity factor over the information.
    pub margin: f64,
    /// The dataset's information in bits.
    pub information_bits: f64,
    /// Where the information comes from.
    pub information_source: String,
    /// `margin × information_bits`.
    pub required_bits: f64,
    /// One row per rank, ascending.
    pub ranks: Vec<RankPlan>,
    /// The smallest rank that fits (none when even the largest is too small).
    pub chosen_rank: Option<usize>,
}

/// The documented default rule.
pub const RULE: &str = "about 2 bits of knowledge per parameter (Allen-Zhu & Li 2024, empirical, \
measured for full models; assumed for LoRA parameters)";

/// Plan LoRA ranks for the checkpoint at `model_dir` against `information_bits`.
pub fn plan(
    model_dir: &Path,
    config: &LoraPlanConfig,
    information_bits: f64,
    information_source: &str,
) -> Result<LoraPlan> {
    if config.ranks.is_empty() || config.ranks.contains(&0) {
        return Err(TaskError::Config(
            "ranks must be positive integers, e.g. 4,8,16".into(),
        ));
    }
    if !(config.bits_per_param.is_finite() && config.bits_per_param > 0.0) {
        return Err(TaskError::Config(format!(
            "bits per parameter must be positive, got {}",
            config.bits_per_param
        )));
    }
    if !(config.margin.is_finite() && config.margin > 0.0) {
        return Err(TaskError::Config(format!(
            "margin must be positive, got {}",
            config.margin
        )));
    }
    if !(information_bits.is_finite() && information_bits >= 0.0) {
        return Err(TaskError::Config(format!(
            "the dataset's information must be a non-negative number of bits, got {information_bits}"
        )));
    }
    let cfg = Qwen3VlConfig::load(&model_dir.join("config.json"))?;
    let matrices = lora_targets(model_dir, &config.targets, config.vision)?;
    let text: Vec<_> = matrices
        .iter()
        .filter(|m| m.tower == Tower::Text)
        .cloned()
        .collect();
    let vision: Vec<_> = matrices
        .iter()
        .filter(|m| m.tower == Tower::Vision)
        .cloned()
        .collect();
    let per_layer = config
        .targets
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if text.len() != per_layer * cfg.text_config.num_hidden_layers {
        return Err(TaskError::Config(format!(
            "{}: found {} target matrices in the language model, expected {} ({} per layer x {} layers in config.json)",
            model_dir.display(),
            text.len(),
            per_layer * cfg.text_config.num_hidden_layers,
            per_layer,
            cfg.text_config.num_hidden_layers
        )));
    }
    let mut ranks = config.ranks.clone();
    ranks.sort_unstable();
    ranks.dedup();
    let required = config.margin * information_bits;
    let rows: Vec<RankPlan> = ranks
        .iter()
        .map(|&r| {
            let params = trainable_params(&matrices, r);
            let capacity = params as f64 * config.bits_per_param;
            RankPlan {
                rank: r,
                params,
                vision_params: trainable_params(&vision, r),
                capacity_bits: capacity,
                capacity_ratio: if information_bits > 0.0 {
                    capacity / information_bits
                } else {
                    f64::INFINITY
                },
                fits: capacity >= required,
            }
        })
        .collect();
    let mut targets: Vec<Projection> = config.targets.clone();
    targets.sort();
    targets.dedup();
    Ok(LoraPlan {
        model: model_dir.display().to_string(),
        targets: targets.iter().map(|t| t.name().to_string()).collect(),
        vision: config.vision,
        text_matrices: text.len(),
        vision_matrices: vision.len(),
        bits_per_param: config.bits_per_param,
        rule: RULE.into(),
        margin: config.margin,
        information_bits,
        information_source: information_source.to_string(),
        required_bits: required,
        chosen_rank: rows.iter().find(|r| r.fits).map(|r| r.rank),
        ranks: rows,
    })
}

/// The dataset's information (answer-span bits under the plain images) from a finished
/// surprisal run directory's `summary.json`.
pub fn information_from_run(dir: &Path) -> Result<f64> {
    let path = dir.join(crate::run_dir::SUMMARY);
    if !path.is_file() {
        return Err(TaskError::Config(format!(
            "{}: no summary.json; is this a finished `probe surprisal` run directory?",
            dir.display()
        )));
    }
    let summary: SurprisalSummary =
        crate::run_dir::read_json(&path).map_err(|e| TaskError::Invalid {
            path: path.clone(),
            message: format!("not the summary of a surprisal run: {e}"),
        })?;
    Ok(summary.dataset_bits)
}

/// Human-readable count (`1.23M`).
fn human(n: f64) -> String {
    let a = n.abs();
    if a >= 1e9 {
        format!("{:.2}G", n / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", n / 1e6)
    } else if a >= 1e3 {
        format!("{:.2}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

/// The plan as a terminal table.
pub fn plan_table(p: &LoraPlan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "LoRA on {} ({} language-model matrices{}), {} bits/param, margin {}x",
        p.targets.join(","),
        p.text_matrices,
        if p.vision {
            format!(" + {} vision matrices", p.vision_matrices)
        } else {
            String::new()
        },
        p.bits_per_param,
        p.margin
    );
    let _ = writeln!(
        out,
        "information {:.1} bits ({}); needed {:.1} bits",
        p.information_bits, p.information_source, p.required_bits
    );
    let _ = writeln!(
        out,
        "{:>6} {:>14} {:>10} {:>16} {:>10} {:>6}",
        "rank", "params", "", "capacity bits", "x info", "fits"
    );
    for r in &p.ranks {
        let _ = writeln!(
            out,
            "{:>6} {:>14} {:>10} {:>16.0} {:>10.2} {:>6}",
            r.rank,
            r.params,
            human(r.params as f64),
            r.capacity_bits,
            r.capacity_ratio,
            if r.fits { "yes" } else { "no" }
        );
    }
    let _ = match p.chosen_rank {
        Some(r) => writeln!(out, "smallest rank that fits: {r}"),
        None => writeln!(
            out,
            "no listed rank fits: try larger ranks or more targets{}",
            if p.vision { "" } else { ", or --vision" }
        ),
    };
    out
}
