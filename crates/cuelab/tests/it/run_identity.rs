//! The run identity of `cuelab ground` covers everything that can change a row: resuming a run
//! directory with any one field changed (preprocessing, data file contents, text field,
//! proposals file and its contents, debias pool file contents, model weights, RefCOCO split and
//! image root) is refused with exit 2 and loses nothing, while an unchanged rerun resumes.
//! Also: skipped inputs are counted in the manifest, the summary and the terminal table.

#![allow(clippy::unwrap_used)]

use crate::fixtures::{cuelab as run, text, tiny_clip};
use std::path::{Path, PathBuf};
use std::process::Output;

pub(crate) fn scenes(dir: &Path, n: usize) -> PathBuf {
    let o = run(&[
        "scenes",
        "--n",
        &n.to_string(),
        "--seed",
        "3",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    dir.to_path_buf()
}

fn ground(model: &Path, data: &Path, out: &Path, extra: &[&str]) -> Output {
    ground_limited(model, data, out, "2", extra)
}

fn ground_limited(model: &Path, data: &Path, out: &Path, limit: &str, extra: &[&str]) -> Output {
    let mut args: Vec<String> = [
        "ground",
        "--data",
        data.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--method",
        "baseline",
        "--debias",
        "4",
        "--limit",
        limit,
        "--out",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&refs)
}

pub(crate) fn results(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("results.jsonl")).unwrap()
}

/// A first run into `out`, then: the unchanged rerun resumes (same rows), and each `changes`
/// entry (extra flags, or a mutation of an input file applied before the rerun) is refused
/// with exit 2 and the rows kept.
fn assert_refused(
    out: &Path,
    first: impl Fn() -> Output,
    changed: impl Fn() -> Output,
    what: &str,
) {
    let o = first();
    assert!(o.status.success(), "{what}: first run: {}", text(&o));
    let before = results(out);
    assert!(!before.is_empty(), "{what}: no rows");
    let o = changed();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{what} was not refused: {}",
        text(&o)
    );
    assert!(
        text(&o).contains("another configuration"),
        "{what}: {}",
        text(&o)
    );
    assert_eq!(
        results(out),
        before,
        "{what}: rows changed by the refused run"
    );
}

#[test]
fn every_identity_field_refuses_a_changed_resume_and_an_unchanged_rerun_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = scenes(&tmp.path().join("sc"), 24);
    let data = sc.join("samples.jsonl");
    let model = tiny_clip();
    let dir = |name: &str| tmp.path().join(name);

    // Unchanged rerun: resumes, nothing recomputed, same rows.
    let out = dir("same");
    let o = ground(&model, &data, &out, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let rows = results(&out);
    let o = ground(&model, &data, &out, &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(results(&out), rows);

    // Flags.
    for (name, flags) in [
        ("preprocess", &["--preprocess", "hf"][..]),
        ("text field", &["--text-field", "raw"][..]),
    ] {
        let out = dir(name);
        assert_refused(
            &out,
            || ground(&model, &data, &out, &[]),
            || ground(&model, &data, &out, flags),
            name,
        );
    }

    // The data file's contents (same sample ids, same path).
    let copy = sc.join("copy.jsonl");
    std::fs::copy(&data, &copy).unwrap();
    let out = dir("data");
    assert_refused(
        &out,
        || ground(&model, &copy, &out, &[]),
        || {
            let mut t = std::fs::read_to_string(&copy).unwrap();
            t = t.replacen("\"raw\":\"the ", "\"raw\":\"a ", 1);
            std::fs::write(&copy, t).unwrap();
            ground(&model, &copy, &out, &[])
        },
        "data file contents",
    );

    // A proposals file instead of the ground truth, then its contents.
    let props = tmp.path().join("props.json");
    let write_props = |x1: u32| {
        let mut map = serde_json::Map::new();
        for i in 1..=24 {
            map.insert(
                format!("{i:06}.png"),
                serde_json::json!([[0, 0, x1, 40], [10, 10, 60, 60]]),
            );
        }
        std::fs::write(&props, serde_json::Value::Object(map).to_string()).unwrap();
    };
    write_props(40);
    let p = props.to_str().unwrap();
    let out = dir("proposals");
    assert_refused(
        &out,
        || ground(&model, &data, &out, &[]),
        || ground(&model, &data, &out, &["--proposals", p]),
        "proposals source",
    );
    let out = dir("proposals-contents");
    assert_refused(
        &out,
        || {
            write_props(40);
            ground(&model, &data, &out, &["--proposals", p])
        },
        || {
            write_props(41);
            ground(&model, &data, &out, &["--proposals", p])
        },
        "proposals file contents",
    );

    // A debias pool file's contents.
    let pool = tmp.path().join("pool.txt");
    let q = pool.to_str().unwrap();
    let out = dir("pool");
    assert_refused(
        &out,
        || {
            std::fs::write(&pool, "a red thing\na blue thing\n").unwrap();
            ground(&model, &data, &out, &["--debias-pool", q])
        },
        || {
            std::fs::write(&pool, "a red thing\na green thing\n").unwrap();
            ground(&model, &data, &out, &["--debias-pool", q])
        },
        "debias pool contents",
    );

    // The model's weights (same architecture and config, one value changed).
    let other = tmp.path().join("other-model");
    std::fs::create_dir_all(&other).unwrap();
    for e in std::fs::read_dir(&model).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), other.join(e.file_name())).unwrap();
    }
    let weights = other.join("model.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&weights, bytes).unwrap();
    let out = dir("model");
    assert_refused(
        &out,
        || ground(&model, &data, &out, &[]),
        || ground(&other, &data, &out, &[]),
        "model weights",
    );

    // RefCOCO: the split and the image root.
    let refcoco = sc.join("refcoco");
    let images = sc.join("images");
    let images2 = tmp.path().join("images-copy");
    std::fs::create_dir_all(&images2).unwrap();
    for e in std::fs::read_dir(&images).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), images2.join(e.file_name())).unwrap();
    }
    let (i1, i2) = (images.to_str().unwrap(), images2.to_str().unwrap());
    let out = dir("split");
    assert_refused(
        &out,
        || {
            ground(
                &model,
                &refcoco,
                &out,
                &["--images", i1, "--split", "train"],
            )
        },
        || ground(&model, &refcoco, &out, &["--images", i1, "--split", "val"]),
        "split",
    );
    let out = dir("images");
    assert_refused(
        &out,
        || ground(&model, &refcoco, &out, &["--images", i1]),
        || ground(&model, &refcoco, &out, &["--images", i2]),
        "image root",
    );
}

#[test]
fn skipped_samples_and_images_without_proposals_are_counted_not_silent() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = scenes(&tmp.path().join("sc"), 6);
    let model = tiny_clip();
    // One grounding sample loses its target box, another its image.
    let text_in = std::fs::read_to_string(sc.join("samples.jsonl")).unwrap();
    let mut grounding = 0;
    let lines: Vec<String> = text_in
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if v["task"] == "grounding" {
                grounding += 1;
                let o = v.as_object_mut().unwrap();
                if grounding == 1 {
                    o.remove("target");
                } else if grounding == 2 {
                    o.remove("image");
                }
            }
            v.to_string()
        })
        .collect();
    let data = sc.join("edited.jsonl");
    std::fs::write(&data, lines.join("\n")).unwrap();
    // A proposals file that knows only one image.
    let props = tmp.path().join("props.json");
    std::fs::write(&props, r#"{"000003.png": [[0, 0, 40, 40]]}"#).unwrap();
    let out = tmp.path().join("run");
    let o = ground_limited(
        &model,
        &data,
        &out,
        "4",
        &["--proposals", props.to_str().unwrap()],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "skips make the run partial: {t}");
    assert!(
        t.contains("1 sample(s) skipped while loading: grounding sample without a target box"),
        "{t}"
    );
    assert!(
        t.contains("1 sample(s) skipped while loading: grounding sample without an image"),
        "{t}"
    );
    assert!(t.contains("had no entry in the proposals file"), "{t}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let inputs = &summary["inputs"];
    assert_eq!(
        inputs["skipped"]["grounding sample without a target box"],
        1
    );
    assert_eq!(inputs["skipped"]["grounding sample without an image"], 1);
    let n_without = inputs["images_without_proposals"].as_u64().unwrap();
    assert!(n_without >= 1, "{inputs}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["data"]["inputs"], *inputs);
    // Every sample without an entry fell back to the whole image, and the summary says so.
    let fallbacks = summary["variants"][0]["fallbacks"].as_u64().unwrap();
    assert_eq!(fallbacks, n_without);
}
