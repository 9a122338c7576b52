//! Integration tests of cuelab-tasks in one test binary (one link instead of one per file); each
//! module is one area. Run one module with `cargo test -p cuelab-tasks --test it parity::`.

mod boxtool_turns;
mod caption;
mod embed_parts;
mod front_settings;
mod local_video;
mod lora_plan;
mod mine;
mod mine_resume;
mod parity;
mod probe;
mod surprisal;
mod vqa;
