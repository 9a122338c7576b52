//! Helpers shared by the test modules of the CLI crate: running the binary and finding the
//! fixtures that other crates commit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Path of the `cuelab` binary under test.
pub fn bin_path() -> &'static str {
    env!("CARGO_BIN_EXE_cuelab")
}

/// A `Command` for the binary under test.
pub fn command() -> Command {
    Command::new(bin_path())
}

/// Run the binary with `args` and wait for its output.
pub fn cuelab(args: &[&str]) -> Output {
    command().args(args).output().expect("run cuelab")
}

/// stdout followed by stderr, for assertions and failure messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The fixtures committed by cuelab-models (tiny random-weight checkpoints, references).
pub fn models_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cuelab-models/tests/data")
}

/// The tiny random-weight CLIP ViT checkpoint.
pub fn tiny_clip() -> PathBuf {
    models_data().join("clip-vit-tiny")
}

/// [`tiny_clip`] as a command-line argument.
pub fn tiny_clip_arg() -> String {
    tiny_clip().display().to_string()
}

/// The bundled photo `assets/photos/dog.jpg`.
pub fn photo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/photos/dog.jpg")
}
