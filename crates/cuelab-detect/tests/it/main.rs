//! Integration tests of cuelab-detect in one test binary (one link instead of one per file); each
//! module is one area. Run one module with `cargo test -p cuelab-detect --test it parity::`.

mod parity;
