//! Integration tests of cuelab-cue in one test binary (one link instead of one per file); each
//! module is one area. Run one module with `cargo test -p cuelab-cue --test it pillow_parity::`.

mod jpeg_parity;
mod overlay_parity;
mod pillow_parity;
mod recipe_golden;
