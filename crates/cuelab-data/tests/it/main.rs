//! Integration tests of cuelab-data in one test binary (one link instead of one per file); each
//! module is one area. Run one module with `cargo test -p cuelab-data --test it loaders::`.

mod loaders;
mod mcq;
mod scenes;
mod video;
