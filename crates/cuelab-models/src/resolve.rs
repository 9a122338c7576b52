//! Model references → files, offline first.
//!
//! A `--model` value is, in order:
//! 1. a local directory holding `config.json` (Hugging Face layout) or `open_clip_config.json`
//!    (open_clip / OpenAI state-dict layout), used as is;
//! 2. an open_clip name of an OpenAI ResNet (`RN50`, `RN101`, `RN50x4`, `RN50x16`, `RN50x64`),
//!    which stands for the hub id open_clip downloads it from (`timm/resnet50x16_clip.openai`...),
//!    then resolved as below;
//! 3. a Hugging Face id (`org/name`, optionally `org/name@revision`) looked up in the hub cache
//!    with the `huggingface_hub` layout: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
//!    `~/.cache/huggingface/hub`; inside it `models--org--name/refs/<revision>` names a snapshot
//!    under `snapshots/`, and any snapshot with a `config.json` is accepted when no ref exists.
//!
//! Nothing is downloaded: when no copy is found the error names the model and every place that
//! was searched (fill the cache with `huggingface-cli download org/name`).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A resolved model: the directory holding its files, and how it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedModel {
    /// The reference as given.
    pub reference: String,
    /// Directory with `config.json`, weights and tokenizer files.
    pub dir: PathBuf,
    /// `local` or `hf-cache`.
    pub origin: &'static str,
}

/// Whether `dir` holds a model config (`config.json` or `open_clip_config.json`).
pub fn is_model_dir(dir: &Path) -> bool {
    dir.join("config.json").is_file() || dir.join("open_clip_config.json").is_file()
}

/// The hub id behind an open_clip OpenAI ResNet name (case-insensitive), if `name` is one.
pub fn open_clip_hub_id(name: &str) -> Option<&'static str> {
    let n = name.to_ascii_lowercase();
    Some(match n.strip_suffix("-quickgelu").unwrap_or(&n) {
        "rn50" => "timm/resnet50_clip.openai",
        "rn101" => "timm/resnet101_clip.openai",
        "rn50x4" => "timm/resnet50x4_clip.openai",
        "rn50x16" => "timm/resnet50x16_clip.openai",
        "rn50x64" => "timm/resnet50x64_clip.openai",
        _ => return None,
    })
}

/// The hub cache directory from the environment (same rules as huggingface_hub).
pub fn hub_cache_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HF_HUB_CACHE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    if let Some(p) = std::env::var_os("HF_HOME").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p).join("hub"));
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p).join("huggingface").join("hub"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/huggingface/hub"))
}

/// Resolve with the environment's hub cache.
pub fn resolve(reference: &str) -> Result<ResolvedModel> {
    resolve_in(reference, hub_cache_dir().as_deref())
}

/// Resolve against an explicit hub cache directory (`None`: local paths only).
pub fn resolve_in(reference: &str, hub_cache: Option<&Path>) -> Result<ResolvedModel> {
    let mut looked = Vec::new();
    let local = PathBuf::from(reference);
    if is_model_dir(&local) {
        return Ok(ResolvedModel {
            reference: reference.to_string(),
            dir: local,
            origin: "local",
        });
    }
    looked.push(local.join("config.json"));
    let (id, revision) = match reference.split_once('@') {
        Some((id, rev)) => (id, rev),
        None => (reference, "main"),
    };
    let id = open_clip_hub_id(id).unwrap_or(id);
    let parts: Vec<&str> = id.split('/').collect();
    if parts.len() == 2 && parts.iter().all(|p| !p.is_empty() && !p.contains("..")) {
        if let Some(cache) = hub_cache {
            let repo = cache.join(format!("models--{}--{}", parts[0], parts[1]));
            let snapshots = repo.join("snapshots");
            let from_ref = std::fs::read_to_string(repo.join("refs").join(revision))
                .ok()
                .map(|s| snapshots.join(s.trim()));
            // A revision may also be a commit hash naming a snapshot directly.
            let candidates = from_ref
                .into_iter()
                .chain(std::iter::once(snapshots.join(revision)));
            for dir in candidates {
                if is_model_dir(&dir) {
                    return Ok(ResolvedModel {
                        reference: reference.to_string(),
                        dir,
                        origin: "hf-cache",
                    });
                }
            }
            if revision == "main" {
                if let Ok(entries) = std::fs::read_dir(&snapshots) {
                    let mut dirs: Vec<PathBuf> = entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|d| is_model_dir(d))
                        .collect();
                    dirs.sort();
                    if let Some(dir) = dirs.pop() {
                        return Ok(ResolvedModel {
                            reference: reference.to_string(),
                            dir,
                            origin: "hf-cache",
                        });
                    }
                }
            }
            looked.push(repo);
        }
    }
    Err(Error::ModelNotFound {
        model: reference.to_string(),
        looked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_local_dir_and_hub_cache_snapshot() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let local = tmp.path().join("m");
        std::fs::create_dir_all(&local).expect("mkdir");
        std::fs::write(local.join("config.json"), "{}").expect("write");
        let r = resolve_in(local.to_str().expect("utf8"), None).expect("local");
        assert_eq!(r.origin, "local");

        let cache = tmp.path().join("hub");
        let repo = cache.join("models--openai--clip-vit-base-patch32");
        let snap = repo.join("snapshots").join("abc123");
        std::fs::create_dir_all(&snap).expect("mkdir");
        std::fs::create_dir_all(repo.join("refs")).expect("mkdir");
        std::fs::write(repo.join("refs").join("main"), "abc123\n").expect("write");
        std::fs::write(snap.join("config.json"), "{}").expect("write");
        let r = resolve_in("openai/clip-vit-base-patch32", Some(&cache)).expect("cache");
        assert_eq!(r.dir, snap);
        assert_eq!(r.origin, "hf-cache");
        let r = resolve_in("openai/clip-vit-base-patch32@abc123", Some(&cache)).expect("rev");
        assert_eq!(r.dir, snap);

        let err = resolve_in("nobody/nothing", Some(&cache)).expect_err("missing");
        let msg = err.to_string();
        assert!(msg.contains("nobody/nothing"), "{msg}");
        assert!(msg.contains("models--nobody--nothing"), "{msg}");
    }

    #[test]
    fn open_clip_names_and_directories() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let local = tmp.path().join("rn");
        std::fs::create_dir_all(&local).expect("mkdir");
        std::fs::write(local.join("open_clip_config.json"), "{}").expect("write");
        let r = resolve_in(local.to_str().expect("utf8"), None).expect("local open_clip dir");
        assert_eq!(r.dir, local);

        let cache = tmp.path().join("hub");
        let snap = cache
            .join("models--timm--resnet50x16_clip.openai")
            .join("snapshots")
            .join("def456");
        std::fs::create_dir_all(&snap).expect("mkdir");
        std::fs::write(snap.join("open_clip_config.json"), "{}").expect("write");
        let r = resolve_in("RN50x16", Some(&cache)).expect("open_clip name");
        assert_eq!(r.dir, snap);
        let err = resolve_in("RN101", Some(&cache)).expect_err("not cached");
        assert!(
            err.to_string()
                .contains("models--timm--resnet101_clip.openai"),
            "{err}"
        );
    }
}
