//! Integration tests of cuelab-vlm in one test binary (one link instead of one per file); each
//! module is one area. Run one module with `cargo test -p cuelab-vlm --test it remote::`.

mod health;
mod payload;
mod remote;
