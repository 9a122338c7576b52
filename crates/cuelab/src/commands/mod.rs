//! One module per subcommand; each exposes `run(args) -> anyhow::Result<ExitStatus>`.

pub mod answering;
pub mod ask;
pub mod caption;
pub mod caption_eval;
pub mod cues;
pub mod data;
pub mod demo;
pub mod detect;
pub mod embed;
pub mod ground;
pub mod merge;
pub mod mine;
pub mod mmvp;
pub mod render;
pub mod report;
pub mod scenes;
pub mod score;
pub mod vlm;
