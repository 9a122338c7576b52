//! Integration tests of cuelab-models in one test binary (one link against candle instead of
//! one per file). Each module was a test file of its own; `fixtures` holds what they share.
//! Run one module with `cargo test -p cuelab-models --test it resnet::`.

mod configs;
mod decode;
mod dtype;
mod errors;
mod fixtures;
mod loading;
mod parity;
mod qwen3_vl;
mod qwen3_vl_video;
mod resnet;
mod siglip_text;
mod words;
