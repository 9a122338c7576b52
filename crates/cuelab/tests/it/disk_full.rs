//! Disk full: `cuelab ground` writing its run directory onto a tmpfs too small for it fails
//! with a clear error (exit 2, "No space left on device" or SQLite's "disk is full"), leaves
//! every written row readable, and completes after space is freed, with results identical to a
//! run that had room. Needs root and permission to mount a tmpfs; skipped (and said so) where
//! mounting is not allowed.

#![allow(clippy::unwrap_used)]

use crate::fixtures::{command, cuelab as run, text, tiny_clip};
use std::path::Path;
use std::process::Output;

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

fn mount_tmpfs(at: &Path, bytes: u64) -> bool {
    command_status(
        "mount",
        &[
            "-t",
            "tmpfs",
            "-o",
            &format!("size={bytes}"),
            "tmpfs",
            at.to_str().unwrap(),
        ],
    )
}

fn command_status(program: &str, args: &[&str]) -> bool {
    std::process::Command::new(program)
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

struct Unmount<'a>(&'a Path);

impl Drop for Unmount<'_> {
    fn drop(&mut self) {
        command_status("umount", &[self.0.to_str().unwrap()]);
    }
}

fn sorted(path: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn a_full_disk_fails_clearly_corrupts_nothing_and_the_run_completes_after_space_is_freed() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = tmp.path().join("sc");
    let o = run(&[
        "scenes",
        "--n",
        "16",
        "--seed",
        "9",
        "-o",
        sc.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let data = sc.join("samples.jsonl");
    let model = tiny_clip();
    let ground = |out: &Path| -> Output {
        command()
            .args([
                "ground",
                "--data",
                data.to_str().unwrap(),
                "--model",
                model.to_str().unwrap(),
                "--debias",
                "40",
                "--out",
                out.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    let reference = tmp.path().join("reference");
    let o = ground(&reference);
    assert!(o.status.success(), "{}", text(&o));
    let needed = dir_bytes(&reference);

    let small = tmp.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    // Room for about a third of the run directory.
    if !mount_tmpfs(&small, (needed / 3).max(16 * 1024)) {
        eprintln!("disk_full: skipped, this machine does not allow mounting a tmpfs");
        return;
    }
    let _unmount = Unmount(&small);
    let out = small.join("run");
    let o = ground(&out);
    let t = text(&o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a full disk must fail the run: {t}"
    );
    assert!(
        t.contains("No space left on device") || t.contains("disk is full"),
        "the error names the cause: {t}"
    );
    // Every complete row that was written is valid JSON; at most the last line is torn.
    if let Ok(rows) = std::fs::read_to_string(out.join("results.jsonl")) {
        let lines: Vec<&str> = rows.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let ok = serde_json::from_str::<serde_json::Value>(line).is_ok();
            assert!(ok || i + 1 == lines.len(), "line {} corrupt: {line}", i + 1);
        }
    }
    // Free space (grow the tmpfs) and resume.
    assert!(command_status(
        "mount",
        &[
            "-o",
            &format!("remount,size={}", needed * 4 + (1 << 20)),
            small.to_str().unwrap()
        ]
    ));
    let o = ground(&out);
    assert!(
        o.status.success(),
        "resume after freeing space: {}",
        text(&o)
    );
    assert_eq!(
        sorted(&out.join("results.jsonl")),
        sorted(&reference.join("results.jsonl"))
    );
    assert_eq!(
        std::fs::read_to_string(out.join("summary.json")).unwrap(),
        std::fs::read_to_string(reference.join("summary.json")).unwrap()
    );
}
