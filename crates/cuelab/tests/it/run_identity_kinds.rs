//! The run identity of the run kinds other than `ground` (see `run_identity` for grounding):
//! `ask` (mock server, and CLIP), `mmvp`, `caption` and the probes (`probe count`, `preprocess`,
//! `boxtool`, `surprisal`). For each, a rerun with one field changed — a flag, or the contents of
//! an input file — is refused with exit 2 ("another configuration") and the rows are left byte
//! for byte; an unchanged rerun, or one that changes only a setting that cannot change a row
//! (concurrency, timeouts, limit), resumes and leaves the rows as they were.

#![allow(clippy::unwrap_used)]

use crate::fixtures::{cuelab, models_data, text, tiny_clip};
use crate::run_identity::{results, scenes};
use cuelab_vlm::mock::MockServer;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A command line: the subcommand words and `--flag value` pairs; `extra` flags replace the
/// base pairs of the same name.
struct Cli {
    cmd: Vec<String>,
    base: Vec<(String, Option<String>)>,
}

impl Cli {
    fn new(cmd: &[&str], base: &[(&str, &str)]) -> Self {
        Cli {
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            base: base
                .iter()
                .map(|(f, v)| (f.to_string(), Some(v.to_string())))
                .collect(),
        }
    }

    fn run(&self, extra: &[&str]) -> Output {
        let names: Vec<&str> = extra
            .iter()
            .copied()
            .filter(|a| a.starts_with("--"))
            .collect();
        let mut args = self.cmd.clone();
        for (flag, value) in &self.base {
            if names.contains(&flag.as_str()) {
                continue;
            }
            args.push(flag.clone());
            args.extend(value.clone());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        cuelab(&refs)
    }
}

/// A change of an input file's contents: `(name, file, edit)`; the file is restored after.
type Edit<'a> = (&'a str, &'a Path, &'a dyn Fn(&str) -> String);

/// The identity checks of one run kind writing into `out`: the first run succeeds; the
/// unchanged rerun and each `same` change resume with the rows unchanged; each `changed` flag
/// set and each file edit is refused with exit 2 and leaves the rows byte for byte.
fn identity_holds(
    what: &str,
    cli: &Cli,
    out: &Path,
    same: &[(&str, &[&str])],
    changed: &[(&str, &[&str])],
    edits: &[Edit<'_>],
) {
    let o = cli.run(&[]);
    assert_eq!(o.status.code(), Some(0), "{what}: first run: {}", text(&o));
    let rows = results(out);
    assert!(!rows.is_empty(), "{what}: no rows");
    let o = cli.run(&[]);
    assert_eq!(o.status.code(), Some(0), "{what}: rerun: {}", text(&o));
    assert_eq!(
        results(out),
        rows,
        "{what}: the unchanged rerun changed rows"
    );
    for (name, flags) in same {
        let o = cli.run(flags);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{what}: {name} should resume: {}",
            text(&o)
        );
        assert_eq!(results(out), rows, "{what}: {name} changed rows");
    }
    let refused = |name: &str, o: Output| {
        assert_eq!(
            o.status.code(),
            Some(2),
            "{what}: {name} was not refused: {}",
            text(&o)
        );
        assert!(
            text(&o).contains("another configuration"),
            "{what}: {name}: {}",
            text(&o)
        );
        assert_eq!(
            results(out),
            rows,
            "{what}: {name}: rows changed by the refused run"
        );
    };
    for (name, flags) in changed {
        refused(name, cli.run(flags));
    }
    for (name, file, edit) in edits {
        let original = std::fs::read_to_string(file).unwrap();
        let edited = edit(&original);
        assert_ne!(edited, original, "{what}: {name}: the edit changed nothing");
        std::fs::write(file, &edited).unwrap();
        let o = cli.run(&[]);
        std::fs::write(file, &original).unwrap();
        refused(name, o);
    }
    // Still resumable after all the refusals.
    let o = cli.run(&[]);
    assert_eq!(o.status.code(), Some(0), "{what}: last rerun: {}", text(&o));
    assert_eq!(results(out), rows, "{what}: the last rerun changed rows");
}

/// `text` with the first JSONL line whose `task` is `task` given `" (edited)"` after its
/// `field`'s value (a string, or the first string of a list).
fn edit_jsonl(text: &str, task: &str, field: &str) -> String {
    let mut done = false;
    text.lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if !done && v["task"] == task {
                let target = if v[field].is_array() {
                    &mut v[field][0]
                } else {
                    &mut v[field]
                };
                if let Some(s) = target.as_str() {
                    *target = format!("{s} (edited)").into();
                    done = true;
                }
            }
            v.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// A copy of the directory `from` at `to` (flat).
fn copy_dir(from: &Path, to: &Path) -> PathBuf {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
    to.to_path_buf()
}

/// A copy of a model directory whose `model.safetensors` differs in its last byte.
fn other_weights(model: &Path, to: &Path) -> PathBuf {
    copy_dir(model, to);
    let weights = to.join("model.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&weights, bytes).unwrap();
    to.to_path_buf()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn ask_over_a_server_refuses_every_changed_field() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = scenes(&tmp.path().join("sc"), 6);
    let data = sc.join("samples.jsonl");
    let server = MockServer::start().unwrap();
    let url = server.url();
    let out = tmp.path().join("run");
    let cli = Cli::new(
        &["ask"],
        &[
            ("--data", s(&data)),
            ("--endpoint", &url),
            ("--model", "mock-vlm"),
            ("--mode", "structured"),
            ("--out", s(&out)),
        ],
    );
    let backend = tmp.path().join("backend.toml");
    std::fs::write(
        &backend,
        "[template]\nchoice_list = \"{question}\\nChoose one of: {options}\"\n",
    )
    .unwrap();
    let config = tmp.path().join("ask.toml");
    std::fs::write(&config, "count_suffix = \" Reply with digits only.\"\n").unwrap();
    let questions_file = |t: &str| edit_jsonl(t, "multiple_choice", "question");
    identity_holds(
        "ask",
        &cli,
        &out,
        &[
            ("concurrency", &["--concurrency", "2"]),
            (
                "timeout and retries",
                &["--timeout", "30", "--retries", "1"],
            ),
            ("limit", &["--limit", "1000"]),
        ],
        &[
            ("endpoint model", &["--model", "other-vlm"]),
            ("answer mode", &["--mode", "free"]),
            ("prompt template", &["--backend-config", s(&backend)]),
            ("count suffix", &["--config", s(&config)]),
            ("system prompt", &["--system", "Answer briefly."]),
            ("option order", &["--order", "keep"]),
            ("seed", &["--seed", "5"]),
            ("cue variants", &["--cue", "rect(color=red,width=2)"]),
            ("frames", &["--frames", "frames=2"]),
            ("temperature", &["--temperature", "0.5"]),
            ("top_p", &["--top-p", "0.9"]),
            ("max tokens", &["--max-tokens", "7"]),
            ("generation seed", &["--gen-seed", "9"]),
            ("image format", &["--image-format", "png"]),
            ("JPEG quality", &["--jpeg-quality", "50"]),
            ("max pixels", &["--max-pixels", "4096"]),
            ("video input", &["--video-input", "video_url"]),
            ("task filter", &["--task", "multiple_choice"]),
            ("question type filter", &["--qtype", "fill_blank"]),
        ],
        &[("questions file contents", &data, &questions_file)],
    );
}

#[test]
fn ask_and_mmvp_with_clip_refuse_every_changed_field() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = scenes(&tmp.path().join("sc"), 8);
    let clip = tiny_clip();
    let other = other_weights(&clip, &tmp.path().join("other-clip"));

    let data = sc.join("samples.jsonl");
    let out = tmp.path().join("ask");
    let cli = Cli::new(
        &["ask"],
        &[
            ("--data", s(&data)),
            ("--clip", s(&clip)),
            ("--task", "multiple_choice"),
            ("--out", s(&out)),
        ],
    );
    identity_holds(
        "ask --clip",
        &cli,
        &out,
        &[],
        &[
            ("CLIP weights", &["--clip", s(&other)]),
            ("option prefix", &["--clip-prefix", "a photo of "]),
            ("preprocessing", &["--preprocess", "hf"]),
        ],
        &[],
    );

    let mmvp = sc.join("mmvp");
    let csv = mmvp.join("Questions.csv");
    let images = mmvp.join("images");
    assert!(images.is_dir(), "scenes' MMVP folder has images/");
    let images2 = copy_dir(&images, &tmp.path().join("mmvp-images"));
    let out = tmp.path().join("mmvp-run");
    let cli = Cli::new(
        &["mmvp"],
        &[
            ("--data", s(&mmvp)),
            ("--clip", s(&clip)),
            ("--out", s(&out)),
        ],
    );
    let edit_csv = |t: &str| t.replacen('?', " ?", 1);
    identity_holds(
        "mmvp",
        &cli,
        &out,
        &[],
        &[
            ("errata", &["--errata"]),
            ("image folder", &["--images", s(&images2)]),
            ("CLIP weights", &["--clip", s(&other)]),
            ("option prefix", &["--clip-prefix", "a photo of "]),
            ("preprocessing", &["--preprocess", "hf"]),
            ("option order", &["--order", "keep"]),
            ("seed", &["--seed", "1"]),
        ],
        &[("questions CSV contents", &csv, &edit_csv)],
    );
}

#[test]
fn caption_refuses_every_changed_field() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = scenes(&tmp.path().join("sc"), 4);
    let data = sc.join("samples.jsonl");
    let server = MockServer::start().unwrap();
    let url = server.url();
    let out = tmp.path().join("run");
    let clip = tiny_clip();
    let other = other_weights(&clip, &tmp.path().join("other-clip"));
    let cli = Cli::new(
        &["caption"],
        &[
            ("--data", s(&sc)),
            ("--endpoint", &url),
            ("--model", "mock-vlm"),
            ("--clip", s(&clip)),
            ("--out", s(&out)),
        ],
    );
    let captions = |t: &str| edit_jsonl(t, "caption", "captions");
    identity_holds(
        "caption",
        &cli,
        &out,
        &[
            ("concurrency", &["--concurrency", "2"]),
            ("bootstrap seed", &["--seed", "3"]),
        ],
        &[
            ("endpoint model", &["--model", "other-vlm"]),
            ("prompt", &["--prompt", "Describe it in five words."]),
            ("generation", &["--gen", "temperature=0.7,seed=1"]),
            ("cue", &["--cue", "rect(color=red,width=2)"]),
            ("system prompt", &["--system", "Be terse."]),
            ("CLIPScore model", &["--clip", s(&other)]),
        ],
        &[("caption data contents", &data, &captions)],
    );
}

#[test]
fn probes_refuse_every_changed_field() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = tmp.path().join("crowds");
    let o = cuelab(&[
        "scenes",
        "-n",
        "4",
        "--crowd",
        "1",
        "--pairs",
        "0",
        "--clips",
        "0",
        "--out",
        s(&sc),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let manifest = sc.join("manifest.json");
    let reseeded = |t: &str| {
        let mut v: serde_json::Value = serde_json::from_str(t).unwrap();
        let seed = v["config"]["seed"].as_u64().unwrap();
        v["config"]["seed"] = (seed + 1).into();
        serde_json::to_string_pretty(&v).unwrap()
    };
    let server = MockServer::start().unwrap();
    let url = server.url();

    let out = tmp.path().join("count");
    let cli = Cli::new(
        &["probe", "count"],
        &[
            ("--scenes", s(&sc)),
            ("--endpoint", &url),
            ("--model", "mock"),
            ("--out", s(&out)),
        ],
    );
    identity_holds(
        "probe count",
        &cli,
        &out,
        &[("concurrency", &["--concurrency", "2"])],
        &[
            ("endpoint model", &["--model", "other"]),
            ("variants", &["--variant", "plain"]),
            ("questions", &["--question", "count"]),
            ("count choices", &["--count-choices", "12"]),
            ("system prompt", &["--system", "Count carefully."]),
            ("seed", &["--seed", "2"]),
            ("all scenes", &["--all-scenes"]),
            ("temperature", &["--temperature", "0.3"]),
        ],
        &[("scenes (generator seed)", &manifest, &reseeded)],
    );

    let out = tmp.path().join("preprocess");
    let cli = Cli::new(
        &["probe", "preprocess"],
        &[
            ("--scenes", s(&sc)),
            ("--endpoint", &url),
            ("--model", "mock"),
            ("--transform", "rotate(90)"),
            ("--out", s(&out)),
        ],
    );
    identity_holds(
        "probe preprocess",
        &cli,
        &out,
        &[],
        &[
            ("endpoint model", &["--model", "other"]),
            ("transforms", &["--transform", "resize(0.5)"]),
            ("questions", &["--question", "list"]),
            ("system prompt", &["--system", "Count carefully."]),
            ("image encoding", &["--image-format", "png"]),
        ],
        &[("scenes (generator seed)", &manifest, &reseeded)],
    );

    let out = tmp.path().join("boxtool");
    let cli = Cli::new(
        &["probe", "boxtool"],
        &[
            ("--scenes", s(&sc)),
            ("--endpoint", &url),
            ("--model", "mock"),
            ("--format", "json"),
            ("--out", s(&out)),
        ],
    );
    identity_holds(
        "probe boxtool",
        &cli,
        &out,
        &[],
        &[
            ("endpoint model", &["--model", "other"]),
            ("box format", &["--format", "qwen2.5"]),
            ("crops", &["--crops"]),
            ("no schema", &["--no-schema"]),
            ("system prompt", &["--system", "Count carefully."]),
        ],
        &[("scenes (generator seed)", &manifest, &reseeded)],
    );
}

#[test]
fn probe_surprisal_refuses_every_changed_field() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = tmp.path().join("sc");
    let o = cuelab(&[
        "scenes",
        "-n",
        "2",
        "--pairs",
        "0",
        "--clips",
        "0",
        "--out",
        s(&sc),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let data = sc.join("samples.jsonl");
    let model = models_data().join("qwen3-vl-tiny");
    let other = other_weights(&model, &tmp.path().join("other-qwen"));
    let adapter = models_data().join("qwen3-vl-tiny-lora");
    let out = tmp.path().join("run");
    let cli = Cli::new(
        &["probe", "surprisal"],
        &[
            ("--model", s(&model)),
            ("--data", s(&data)),
            ("--limit", "2"),
            ("-o", s(&out)),
        ],
    );
    let captions = |t: &str| edit_jsonl(t, "caption", "captions");
    identity_holds(
        "probe surprisal",
        &cli,
        &out,
        &[],
        &[
            ("model weights", &["--model", s(&other)]),
            ("LoRA adapter", &["--adapter", s(&adapter)]),
            ("cues", &["--cue", "rect(color=red,width=3)"]),
            ("system prompt", &["--system", "You describe images."]),
            ("caption prompt", &["--caption-prompt", "Say what you see."]),
            ("max pixels", &["--max-pixels", "20000"]),
        ],
        &[("data file contents", &data, &captions)],
    );
}
