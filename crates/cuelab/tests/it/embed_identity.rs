//! The identity of `cuelab embed`. Its output is a file, not a run directory: a whole-run
//! `.npy` / `.parquet` is computed again (through the embedding cache when `--cache` is given)
//! and replaced on every run, while a `--shard` part of a Parquet dataset folder is the one
//! thing a rerun skips ("already done"). So: (1) every field that can change a row — the model's
//! weights, `--preprocess`, `--dtype`, `--normalize`, the input list, an image file's contents
//! under the same path, the texts — makes a rerun of a finished shard refuse with exit 2 and
//! leave every file of the folder byte for byte, and so does a shard of another run into the
//! same folder; the unchanged rerun is "already done". (2) With `--cache`, a changed model,
//! preprocessing, dtype or image content never reuses a cached row: the rows equal an uncached
//! run's with the new setting.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::fixtures::{cuelab as run, text, tiny_clip};
use crate::run_identity::scenes;

fn images(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("images"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

fn embed(model: &Path, out: &Path, inputs: &[PathBuf], extra: &[&str]) -> Output {
    let mut args: Vec<String> = vec![
        "embed".into(),
        "-m".into(),
        model.display().to_string(),
        "-o".into(),
        out.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&refs)
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn refused(o: &Output, what: &str) {
    assert_eq!(
        o.status.code(),
        Some(2),
        "{what} was not refused: {}",
        text(o)
    );
    assert!(
        text(o).contains("another configuration"),
        "{what}: {}",
        text(o)
    );
}

/// A copy of `model` under the same folder name inside `parent`, with the last byte of its
/// weights flipped (an exponent bit of `visual_projection.weight`; same config and shapes).
fn other_weights(model: &Path, parent: &Path) -> PathBuf {
    let to = parent.join(model.file_name().unwrap());
    std::fs::create_dir_all(&to).unwrap();
    for e in std::fs::read_dir(model).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
    let weights = to.join("model.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&weights, bytes).unwrap();
    to
}

#[test]
fn a_finished_shard_is_refused_under_any_changed_field_and_an_unchanged_rerun_is_done() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = scenes(&tmp.path().join("sc"), 6);
    let files = images(&sc);
    let model = tiny_clip();
    let flipped = other_weights(&model, &tmp.path().join("flipped"));
    let parts = tmp.path().join("parts.parquet");
    let shard0 = ["--normalize", "--shard", "0/2"];
    let o = embed(&model, &parts, &files, &shard0);
    assert!(o.status.success(), "{}", text(&o));
    let o = embed(&model, &parts, &files, &["--normalize", "--shard", "1/2"]);
    assert!(o.status.success(), "{}", text(&o));
    let before = snapshot(&parts);
    assert_eq!(before.len(), 2);

    // Unchanged: done, nothing written.
    let o = embed(&model, &parts, &files, &shard0);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("already done"), "{}", text(&o));
    assert_eq!(snapshot(&parts), before);

    let cases: Vec<(&str, &Path, Vec<PathBuf>, Vec<&str>)> = vec![
        (
            "weights (one byte)",
            &flipped,
            files.clone(),
            shard0.to_vec(),
        ),
        (
            "preprocess",
            &model,
            files.clone(),
            [&shard0[..], &["--preprocess", "openai"]].concat(),
        ),
        (
            "dtype",
            &model,
            files.clone(),
            [&shard0[..], &["--dtype", "bf16"]].concat(),
        ),
        ("normalize", &model, files.clone(), vec!["--shard", "0/2"]),
        ("input list", &model, files[1..].to_vec(), shard0.to_vec()),
        // another shard count into the same folder would duplicate rows in the dataset
        (
            "shard count",
            &model,
            files.clone(),
            vec!["--normalize", "--shard", "1/3"],
        ),
    ];
    for (what, m, inputs, flags) in &cases {
        refused(&embed(m, &parts, inputs, flags), what);
        assert_eq!(snapshot(&parts), before, "{what}: files changed");
    }
    // The other shard of another run into the folder (no part of its own yet) is refused too.
    std::fs::remove_file(parts.join("part-00001-of-00002.parquet")).unwrap();
    let half = snapshot(&parts);
    let o = embed(&flipped, &parts, &files, &["--normalize", "--shard", "1/2"]);
    refused(&o, "a shard of another run into the folder");
    assert_eq!(snapshot(&parts), half);
    let o = embed(&model, &parts, &files, &["--normalize", "--shard", "1/2"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        snapshot(&parts),
        before,
        "the same run writes the same part"
    );

    // An image's contents under the same path: the shard holding it is refused, the other
    // shard is still done. Shards split by a hash of the paths, which lie in a fresh temporary
    // folder, so either shard may hold all six images: edit one from a shard that has rows.
    let part = |k: usize| {
        cuelab_tasks::embed_parts::read_rows(&parts.join(format!("part-0000{k}-of-00002.parquet")))
            .unwrap()
    };
    let k = if part(0).is_empty() { 1 } else { 0 };
    let edited = PathBuf::from(&part(k)[0].input);
    let other = files.iter().find(|f| **f != edited).unwrap();
    std::fs::copy(other, &edited).unwrap();
    let shard = |k: usize| format!("{k}/2");
    refused(
        &embed(
            &model,
            &parts,
            &files,
            &["--normalize", "--shard", &shard(k)],
        ),
        "image contents",
    );
    assert_eq!(snapshot(&parts), before, "image contents: files changed");
    let o = embed(
        &model,
        &parts,
        &files,
        &["--normalize", "--shard", &shard(1 - k)],
    );
    let in_other = part(1 - k).iter().any(|r| Path::new(&r.input) == edited);
    assert!(!in_other);
    assert!(text(&o).contains("already done"), "{}", text(&o));

    // Texts: another text is refused, the same texts are done.
    let tparts = tmp.path().join("texts.parquet");
    let texts = |last: &str| -> Vec<String> {
        ["", "a red square", "ünïcode 🐕", last]
            .iter()
            .flat_map(|t| ["--text".to_string(), t.to_string()])
            .chain(["--shard".into(), "0/1".into()])
            .collect()
    };
    let targs = |last: &str| {
        let t = texts(last);
        embed(
            &model,
            &tparts,
            &[],
            &t.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    };
    assert!(targs("a dog").status.success());
    let tbefore = snapshot(&tparts);
    assert!(text(&targs("a dog")).contains("already done"));
    refused(&targs("a cat"), "texts");
    assert_eq!(snapshot(&tparts), tbefore);
}

#[test]
fn the_cache_never_serves_rows_of_another_model_preprocessing_dtype_or_image() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = scenes(&tmp.path().join("sc"), 3);
    let files = images(&sc);
    let model = tiny_clip();
    let flipped = other_weights(&model, &tmp.path().join("flipped"));
    let cache = tmp.path().join("cache.sqlite");
    let c = cache.to_str().unwrap();
    let rows = |m: &Path, name: &str, extra: &[&str]| {
        let out = tmp.path().join(format!("{name}.parquet"));
        let o = embed(m, &out, &files, extra);
        assert!(o.status.success(), "{name}: {}", text(&o));
        cuelab_tasks::embed_parts::read_rows(&out).unwrap()
    };
    let first = rows(&model, "first", &["--cache", c]);
    let cases: Vec<(&str, &Path, Vec<&str>)> = vec![
        ("weights", &flipped, vec![]),
        ("preprocess", &model, vec!["--preprocess", "openai"]),
        ("dtype", &model, vec!["--dtype", "f16"]),
    ];
    for (what, m, flags) in &cases {
        let cached = rows(
            m,
            &format!("{what}-cached"),
            &[&["--cache", c][..], flags].concat(),
        );
        let fresh = rows(m, &format!("{what}-fresh"), flags);
        assert_eq!(cached, fresh, "{what}: a cached row was served");
        assert_ne!(cached, first, "{what}: the setting changed nothing");
    }
    // The same path with other pixels: the cache is keyed by content, so image 0 now gets the
    // row cached for image 1's pixels (computed in the first run), never its old row.
    std::fs::copy(&files[1], &files[0]).unwrap();
    let cached = rows(&model, "image-cached", &["--cache", c]);
    assert_eq!(cached.len(), first.len());
    assert_eq!(cached[0].embedding, first[1].embedding);
    assert_ne!(cached[0].embedding, first[0].embedding);
    assert_eq!(cached[1..], first[1..]);
    // and an uncached run agrees (to float rounding: it embeds another batch)
    let fresh = rows(&model, "image-fresh", &[]);
    assert_eq!(fresh.len(), cached.len());
    for (a, b) in fresh.iter().zip(&cached) {
        assert_eq!(a.embedding.len(), b.embedding.len());
        for (x, y) in a.embedding.iter().zip(&b.embedding) {
            assert!((x - y).abs() < 1e-5, "{}: {x} vs {y}", a.input);
        }
    }
}
