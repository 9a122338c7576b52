//! Top-level command-line definition. Each subcommand's flags live beside its code in
//! `commands/<name>.rs`; this file only lists the subcommands.

use clap::{Parser, Subcommand};

use crate::commands;

/// cuelab: measure what vision-language models see, and how visual cues change it.
#[derive(Debug, Parser)]
#[command(name = "cuelab", version, about, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The main job on embedded defaults: no download, writes a run directory.
    Demo(commands::demo::DemoArgs),
    /// Grounding experiment (seed 004): baseline crops vs red-circle cues, resumable.
    Ground(Box<commands::ground::GroundArgs>),
    /// Cued multiple-choice and counting questions to a VLM server (or CLIP), by type x cue.
    Ask(Box<commands::ask::AskArgs>),
    /// MMVP pair accuracy with a VLM server, or MMVP-VLM with a CLIP model.
    Mmvp(Box<commands::mmvp::MmvpArgs>),
    /// Object detection with an ONNX detector (built-in CenterNet, or a YOLO export): region proposals for `ground`.
    Detect(commands::detect::DetectArgs),
    /// Mine CLIP-blind pairs (CLIP alike, DINOv2 apart) into an MMVP-style benchmark skeleton.
    Mine(Box<commands::mine::MineArgs>),
    /// Merge shard run directories into one and summarise.
    Merge(commands::merge::MergeArgs),
    /// Draw a cue recipe on an image for one or many regions.
    Render(commands::render::RenderArgs),
    /// List the cue primitives, their parameters and defaults.
    Cues(commands::cues::CuesArgs),
    /// Embed images or texts with a model (CLIP ViT/ResNet/open_clip, DINOv2, SigLIP) into a
    /// float32 .npy or a Parquet file.
    Embed(commands::embed::EmbedArgs),
    /// Score images against texts with a CLIP or SigLIP model (cosine, logit, probability).
    Score(commands::score::ScoreArgs),
    /// Ask an in-process Qwen3-VL about images: generate, score options, surprisal, attention heatmap.
    Vlm(Box<commands::vlm::VlmArgs>),
    /// Captioning sweep (seed 002): prompts x generation configs x cues, CIDEr-D / CLIPScore with CIs.
    Caption(Box<commands::caption::CaptionArgs>),
    /// Captioning metrics identical to pycocoevalcap (CIDEr-D, BLEU-1..4, ROUGE-L), no Java.
    CaptionEval(commands::caption_eval::CaptionEvalArgs),
    /// One self-contained HTML page for run directories (one run, or several compared).
    Report(commands::report::ReportArgs),
    /// Generate the deterministic synthetic dataset (scenes, pairs, clips) in every format.
    Scenes(commands::scenes::ScenesArgs),
    /// Dataset tools: `data check PATH --format F` validates a dataset.
    Data(commands::data::DataArgs),
}
