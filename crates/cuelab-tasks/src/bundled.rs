//! Files compiled into the library, so that the demo ([`crate::demo::run_demo`], `cuelab demo`)
//! runs from an installed binary anywhere: nothing is looked up in the source tree at run time.
//!
//! The tiny CLIP is the random-weight `CLIPModel` committed as a test fixture of
//! `cuelab-models` (real architecture and checkpoint layout, under 1 MB; made by
//! `tools/reference/models/make_fixtures.py`). It is written out on first use into a folder
//! the caller chooses (the demo uses its own output folder, so the model path, which is part of
//! the run identity, is the same on every rerun and resuming works).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Result, TaskError};

/// Name of the folder the tiny CLIP is written to.
pub const TINY_CLIP_DIR: &str = "clip-vit-tiny";

/// The tiny CLIP checkpoint's files: (file name, bytes).
const TINY_CLIP_FILES: &[(&str, &[u8])] = &[
    (
        "config.json",
        include_bytes!("../../cuelab-models/tests/data/clip-vit-tiny/config.json"),
    ),
    (
        "model.safetensors",
        include_bytes!("../../cuelab-models/tests/data/clip-vit-tiny/model.safetensors"),
    ),
    (
        "preprocessor_config.json",
        include_bytes!("../../cuelab-models/tests/data/clip-vit-tiny/preprocessor_config.json"),
    ),
    (
        "tokenizer.json",
        include_bytes!("../../cuelab-models/tests/data/clip-vit-tiny/tokenizer.json"),
    ),
    (
        "tokenizer_config.json",
        include_bytes!("../../cuelab-models/tests/data/clip-vit-tiny/tokenizer_config.json"),
    ),
];

/// Write the bundled tiny CLIP into `parent/clip-vit-tiny/` (files that already hold the same
/// bytes are left alone; others are replaced atomically) and return that folder.
pub fn write_tiny_clip(parent: &Path) -> Result<PathBuf> {
    let dir = parent.join(TINY_CLIP_DIR);
    std::fs::create_dir_all(&dir)
        .map_err(|e| TaskError::context(format!("cannot create {}", dir.display()), e))?;
    for (name, bytes) in TINY_CLIP_FILES {
        let path = dir.join(name);
        if std::fs::read(&path).is_ok_and(|have| have == *bytes) {
            continue;
        }
        let mut tmp = cuelab_cue::atomic_file_in(&dir)
            .map_err(|e| TaskError::context(format!("cannot write into {}", dir.display()), e))?;
        tmp.write_all(bytes)
            .map_err(|e| TaskError::context(format!("cannot write {}", path.display()), e))?;
        tmp.persist(&path)
            .map_err(|e| TaskError::context(format!("cannot write {}", path.display()), e.error))?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn tiny_clip_is_written_once_and_complete() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = write_tiny_clip(tmp.path()).unwrap();
        for (name, bytes) in TINY_CLIP_FILES {
            assert_eq!(std::fs::read(dir.join(name)).unwrap(), *bytes, "{name}");
        }
        // A damaged file is repaired on the next call.
        std::fs::write(dir.join("config.json"), b"{").unwrap();
        write_tiny_clip(tmp.path()).unwrap();
        assert_eq!(
            std::fs::read(dir.join("config.json")).unwrap(),
            TINY_CLIP_FILES[0].1
        );
    }
}
