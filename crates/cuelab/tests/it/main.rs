//! End-to-end tests of the `cuelab` binary in one test binary (one link instead of one per
//! file). Each module was a test file of its own; `fixtures` holds what they share. Run one
//! module with `cargo test -p cuelab --test it ground_cli::`.

mod architecture;
mod ask_cli;
mod caption_cli;
mod caption_eval;
mod config_grid;
mod crash;
mod data_cli;
mod detect_cli;
mod disk_full;
mod embed_identity;
#[cfg(unix)]
mod file_modes;
mod fixtures;
mod ground_cli;
mod installed_demo;
mod mine_cli;
mod models_cli;
mod probe_cli;
mod probe_merge_cli;
mod render_cli;
mod run_identity;
mod run_identity_kinds;
mod scale_cli;
mod score_cli;
mod surprisal_cli;
mod video_cli;
mod video_local_cli;
mod vlm_cli;
