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
    /// A sharded run (ground, ask, mmvp, caption, probe ..., mine, embed) as a Slurm job array plus a
    /// merge job.
    Slurm(commands::slurm::SlurmArgs),
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
    /// Fill-in-the-blank multiple-choice questions (objects and verb) from an SSv2 folder.
    BuildMcq(commands::build_mcq::BuildMcqArgs),
    /// Draw a cue on every frame of a clip (boxes, labels, trajectories) into a GIF or MP4.
    RenderClip(commands::render_clip::RenderClipArgs),
    /// Questions and captions under every cue variant, media written out, in a fine-tuning
    /// trainer's format (LLaMA-Factory, ms-swift, chat messages).
    ExportSft(commands::export_sft::ExportSftArgs),
    /// Bits/token of the right answer given plain vs cued clips, per question type (in-process Qwen3-VL).
    ClipSurprisal(Box<commands::clip_surprisal::ClipSurprisalArgs>),
    /// The probing lab (seed 001): counting and listing, preprocessing sensitivity, box tool,
    /// surprisal.
    Probe(ProbeArgs),
    /// LoRA trainable parameters per rank vs a fine-tuning set's information in bits.
    LoraPlan(Box<commands::lora_plan::LoraPlanArgs>),
}

/// Flags of `cuelab probe`.
#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// The probe to run.
    #[command(subcommand)]
    pub command: ProbeCommand,
}

/// The probes.
#[derive(Debug, Subcommand)]
pub enum ProbeCommand {
    /// Teacher-forced bits/token of a fine-tuning set (in-process Qwen3-VL), plain vs cued images.
    Surprisal(Box<commands::probe_surprisal::ProbeSurprisalArgs>),
    /// "How many X?" and "List the X left to right" under plain / Set-of-Mark / boxes / crops:
    /// accuracy-vs-N curve, MAE, bias, listing P/R/F1 and order.
    Count(Box<commands::probe_count::ProbeCountArgs>),
    /// The box-drawing tool loop: boxes in the model's native format, drawn, asked again; vs
    /// direct answering (accuracy, MAE, box IoU, duplicates, misses, malformed output).
    Boxtool(Box<commands::probe_boxtool::ProbeBoxtoolArgs>),
    /// Preprocessing sensitivity: resize, pixel budgets, sub-patch shifts, rotations, pad/crop,
    /// JPEG; accuracy, flip rate and McNemar vs the untransformed image, visual tokens.
    Preprocess(Box<commands::probe_preprocess::ProbePreprocessArgs>),
}
