//! One module per subcommand; each exposes `run(args) -> anyhow::Result<ExitStatus>`.

pub mod answering;
pub mod ask;
pub mod build_mcq;
pub mod caption_eval;
pub mod clip_surprisal;
pub mod cues;
pub mod data;
pub mod demo;
pub mod detect;
pub mod embed;
pub mod export_sft;
pub mod ground;
pub mod lora_plan;
pub mod merge;
pub mod mine;
pub mod mmvp;
pub mod probe_surprisal;
pub mod render;
pub mod render_clip;
pub mod report;
pub mod scenes;
pub mod score;
pub mod slurm;
pub mod vlm;
