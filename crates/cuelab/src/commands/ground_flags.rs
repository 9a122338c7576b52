//! The flags of `cuelab ground` ([`GroundArgs`]); `super::ground` turns them into the library's
//! `cuelab_tasks::grounding::GroundingSettings` (flags over the config file over the defaults).

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Args;
use cuelab_models::Pipeline;
use cuelab_tasks::grounding::{Aggregate, Method};
use cuelab_tasks::proposals::BoxFormat;

/// Flags of `cuelab ground`.
#[derive(Debug, Args)]
pub struct GroundArgs {
    /// Experiment file (TOML); flags below override its fields.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Samples: a RefCOCO/+/g folder (or its `refs(...).p` file; `instances.json` beside it),
    /// or a JSONL file of grounding samples (`{"id","image","expression","target":[x0,y0,x1,y1],"proposals":[[...]]}`;
    /// image paths relative to the file).
    #[arg(long)]
    pub data: PathBuf,
    /// RefCOCO split to evaluate (train, val, test, testA, testB); all when omitted.
    #[arg(long)]
    pub split: Option<String>,
    /// RefCOCO image folder (COCO train2014); every image must exist there.
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// Backbone (repeatable: scores are averaged). HF id, or a local directory.
    #[arg(long = "model", short = 'm')]
    pub models: Vec<String>,
    /// Methods (repeatable): baseline, redcircle.
    #[arg(long = "method", value_parser = PossibleValuesParser::new(["baseline", "redcircle"])
        .try_map(|s| s.parse::<Method>()))]
    pub methods: Vec<Method>,
    /// One cue recipe of the red-circle set (repeatable; the set is aggregated per proposal).
    #[arg(long = "cue")]
    pub cues: Vec<String>,
    /// Random expressions to debias with (0 = off).
    #[arg(long)]
    pub debias: Option<usize>,
    /// Where debias prompts are drawn from: `train` (seed 004: the training split's expressions;
    /// default for RefCOCO), `eval` (the evaluated expressions, cuelab's earlier behaviour;
    /// default for JSONL) or a FILE with one prompt per line.
    #[arg(long, value_name = "train|eval|FILE")]
    pub debias_pool: Option<String>,
    /// Draw debias prompts with replacement (default: true for train and FILE, as seed 004;
    /// false for eval).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub debias_with_replacement: Option<bool>,
    /// Which text of RefCOCO expressions is scored: `sent` (lower-case, tokenised, no
    /// punctuation; seed 004, default) or `raw` (as typed).
    #[arg(long, value_parser = ["raw", "sent"])]
    pub text_field: Option<String>,
    /// Aggregation over cue recipes: mean or max.
    #[arg(long, value_parser = PossibleValuesParser::new(["mean", "max"])
        .try_map(|s| s.parse::<Aggregate>()))]
    pub aggregate: Option<Aggregate>,
    /// Only the first N samples.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Seed for debias sampling and bootstrap.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run only shard I of N (`I/N`, 0-based; `auto` or `auto/N` from a Slurm job array or a
    /// Kubernetes Indexed Job) — merge shards with `cuelab merge`.
    #[arg(long, value_name = "I/N|auto")]
    pub shard: Option<String>,
    /// Image preprocessing for every backbone: openai (seed 004, default) or hf.
    #[arg(long, default_value = "openai", value_parser = |s: &str| Pipeline::parse(s))]
    pub preprocess: Pipeline,
    /// Run directory (resumed when it exists).
    #[arg(short, long, default_value = "runs/ground")]
    pub out: PathBuf,
    /// Device: cpu or cuda[:N].
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Do not use the SQLite embedding cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Region proposals from a JSON file instead of the samples' own (ground-truth) boxes:
    /// `{"IMAGE": [[x0,y0,x1,y1], ...] or [{"box": [...], "score": s}, ...]}` keyed by image file
    /// name, stem or path (e.g. a detector's output).
    #[arg(long, value_name = "FILE.json")]
    pub proposals: Option<PathBuf>,
    /// Box layout in the proposals file: xyxy (exclusive end) or xywh (COCO).
    #[arg(long, default_value = "xyxy", value_parser = PossibleValuesParser::new(["xyxy", "xywh"])
        .try_map(|s| s.parse::<BoxFormat>()))]
    pub proposals_format: BoxFormat,
    /// Drop proposals scored below this.
    #[arg(long, default_value_t = 0.0)]
    pub min_score: f32,
    /// Region proposals from an object detector run on each distinct image: `centernet` (built in)
    /// or an ONNX file (CenterNet layout or Ultralytics YOLO export). Detections are cached in
    /// the run directory (`detections.json`); the detector and thresholds go into the manifest.
    #[arg(long, value_name = "centernet|PATH.onnx", conflicts_with = "proposals")]
    pub detector: Option<String>,
    /// Weigh each proposal by how well its detector class matches the expression (needs classes:
    /// `--detector`, or a proposals file with `class`): final score = log softmax(100 · method
    /// score) + LAMBDA · log softmax(100 · cos(expression, "a picture of a {class}")). LAMBDA
    /// defaults to 1.
    #[arg(long, value_name = "LAMBDA", num_args = 0..=1, default_missing_value = "1")]
    pub class_prior: Option<f32>,
    /// Detector thresholds (with `--detector`).
    #[command(flatten)]
    pub thresholds: crate::commands::detect::Thresholds,
}
