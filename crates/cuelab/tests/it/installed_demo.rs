//! `cuelab demo` from an installed binary: copied into an empty folder, run from another
//! folder with `HOME` and `HF_HOME` pointing at an empty folder (no model cache), it must finish
//! with exit code 0 and write its run directories — nothing may be looked up in the checkout.

use std::path::Path;
use std::process::Command;

#[test]
fn demo_runs_from_a_copied_binary_without_checkout_or_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let bin_dir = tmp.path().join("bin");
    let home = tmp.path().join("home");
    let work = tmp.path().join("work");
    for d in [&bin_dir, &home, &work] {
        std::fs::create_dir_all(d).unwrap();
    }
    let bin = bin_dir.join("cuelab");
    std::fs::copy(env!("CARGO_BIN_EXE_cuelab"), &bin).unwrap();

    let out = Command::new(&bin)
        .args(["demo", "--scenes", "4"])
        .current_dir(&work)
        .env("HOME", &home)
        .env("HF_HOME", home.join("hf"))
        .env_remove("HF_HUB_CACHE")
        .env_remove("HUGGINGFACE_HUB_CACHE")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("HF_HUB_OFFLINE")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "exit {:?}\n{text}", out.status.code());
    assert!(text.contains("bundled random-weight tiny CLIP"), "{text}");
    let demo = work.join("runs/demo");
    for f in [
        "gallery/manifest.json",
        "scenes/samples.jsonl",
        "models/clip-vit-tiny/model.safetensors",
        "grounding/summary.json",
        "grounding/results.jsonl",
        "questions/summary.json",
    ] {
        assert!(demo.join(f).is_file(), "missing {f}\n{text}");
    }

    // A rerun resumes from the same folder (the written model path is stable).
    let again = Command::new(&bin)
        .args(["demo", "--scenes", "4"])
        .current_dir(&work)
        .env("HOME", &home)
        .env("HF_HOME", home.join("hf"))
        .env_remove("HF_HUB_CACHE")
        .env_remove("HUGGINGFACE_HUB_CACHE")
        .env_remove("XDG_CACHE_HOME")
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

/// No library or binary source turns `CARGO_MANIFEST_DIR` into a run-time path (tests and
/// build scripts may).
#[test]
fn no_source_reads_the_checkout_at_run_time() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut offenders = Vec::new();
    let mut stack = vec![crates];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                if !matches!(name.as_str(), "tests" | "benches" | "target") {
                    stack.push(path);
                }
            } else if name.ends_with(".rs")
                && name != "build.rs"
                && std::fs::read_to_string(&path)
                    .unwrap()
                    .lines()
                    // Doc comments hold doctests, which are tests.
                    .filter(|l| !l.trim_start().starts_with("//"))
                    .any(|l| l.contains(concat!("CARGO_", "MANIFEST_DIR")))
            {
                offenders.push(path.display().to_string());
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "run-time checkout paths in {offenders:?}"
    );
}
