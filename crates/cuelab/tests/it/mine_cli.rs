//! `cuelab mine` end to end on generated scenes with the committed tiny random CLIP and DINOv2
//! (their cosines mean nothing, so the thresholds are lowered): every output is written, a rerun
//! resumes, shards merge to the same pairs, and the MMVP layout passes `cuelab data check` and
//! `cuelab mmvp`.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn models() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../cuelab-models/tests/data")
}

fn cuelab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cuelab"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn mine_args(images: &Path, cache: &Path, out: &Path, extra: &[&str]) -> Vec<String> {
    let clip = models().join("clip-vit-tiny");
    let dino = models().join("dinov2-tiny");
    let mut a: Vec<String> = [
        "mine",
        "--images",
        images.to_str().unwrap(),
        "--clip",
        clip.to_str().unwrap(),
        "--dino",
        dino.to_str().unwrap(),
        "--clip-min",
        "-1.0",
        "--dino-max",
        "0.999999",
        "--dedup",
        "1.0",
        "--block",
        "5",
        "--chunk",
        "7",
        "--max-pairs",
        "4",
        "--cache",
        cache.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn run(args: &[String]) -> Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    cuelab(&refs)
}

#[test]
fn mine_scenes_resume_shards_and_mmvp_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let scenes = tmp.path().join("scenes");
    ok(&cuelab(&[
        "scenes",
        "-n",
        "12",
        "--clips",
        "0",
        "--size",
        "64",
        "--out",
        scenes.to_str().unwrap(),
    ]));
    let images = scenes.join("images");
    let cache = tmp.path().join("cache.sqlite");
    let out = tmp.path().join("mined");
    let args = mine_args(&images, &cache, &out, &[]);
    let stdout = ok(&run(&args));
    assert!(stdout.contains("CLIP-blind pairs"), "{stdout}");
    for f in [
        "pairs.jsonl",
        "pairs.parquet",
        "duplicates.jsonl",
        "contact_sheet.png",
        "summary.json",
        "mine.json",
        "inputs.txt",
        "mmvp/Questions.csv",
        "mmvp/sources.csv",
        "mmvp/images/1.jpg",
        "mmvp/images/8.jpg",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let pairs = std::fs::read_to_string(out.join("pairs.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = pairs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(rows.len() >= 4, "{} pairs", rows.len());
    let gaps: Vec<f64> = rows.iter().map(|r| r["gap"].as_f64().unwrap()).collect();
    assert!(gaps.windows(2).all(|w| w[0] >= w[1]), "sorted by gap");
    for r in &rows {
        assert!(Path::new(r["path_a"].as_str().unwrap()).is_file());
        assert!(r["dino"].as_f64().unwrap() < 0.999999);
    }
    let sheet = image::open(out.join("contact_sheet.png")).unwrap();
    assert!(sheet.width() > 2 * 160 && sheet.height() > 160);
    let questions = std::fs::read_to_string(out.join("mmvp/Questions.csv")).unwrap();
    assert_eq!(questions.lines().count(), 1 + 8, "4 pairs, 2 rows each");

    // the batch was chosen from memory and every image decoded once per run
    let log = |dir: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("embedding.json")).unwrap()).unwrap()
    };
    let first = log(&out);
    for side in ["clip", "dino"] {
        assert_eq!(first[side]["batch"]["from"], "auto", "{first}");
        assert_eq!(first[side]["counts"]["decoded"], 12, "{first}");
    }

    // rerun: every block is finished, nothing is searched again, the same pairs come out, and
    // no image is decoded (the cache knows their file bytes)
    let stdout = ok(&run(&args));
    assert!(
        stdout.contains("searched 0 row blocks (3 already finished)"),
        "{stdout}"
    );
    let again = log(&out);
    for side in ["clip", "dino"] {
        assert_eq!(again[side]["counts"]["decoded"], 0, "{again}");
        assert_eq!(again[side]["counts"]["by_file"], 12, "{again}");
    }
    assert_eq!(
        std::fs::read_to_string(out.join("pairs.jsonl")).unwrap(),
        pairs
    );

    // Every setting that changes the pairs, one at a time, into the same directory: refused,
    // nothing written. The models, their preprocessing and dtype reach the identity through the
    // embeddings' fingerprint; thresholds, row blocks and the search mode through the settings.
    let snapshot = |dir: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    files.push((p.clone(), std::fs::read(&p).unwrap()));
                }
            }
        }
        files.sort();
        files
    };
    let before = snapshot(&out);
    let dino_reg = models().join("dinov2-reg-tiny");
    let changes: Vec<(&str, Option<&str>)> = vec![
        ("--clip-min", Some("-0.5")),
        ("--dino-max", Some("0.5")),
        ("--block", Some("4")),
        ("--approx", None),
        ("--dino", Some(dino_reg.to_str().unwrap())),
        // the tiny checkpoints default to `hf`
        ("--preprocess", Some("openai")),
        ("--dtype", Some("bf16")),
    ];
    for (flag, value) in changes {
        let mut other = args.clone();
        match (other.iter().position(|a| a == flag), value) {
            (Some(k), Some(v)) => other[k + 1] = v.into(),
            (None, Some(v)) => other.extend([flag.to_string(), v.to_string()]),
            (_, None) => other.push(flag.to_string()),
        }
        let o = run(&other);
        assert_eq!(o.status.code(), Some(2), "{flag}: {o:?}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("another configuration"),
            "{flag}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            snapshot(&out) == before,
            "{flag}: the work directory changed"
        );
    }
    // settings that do not change the pairs resume; an explicit batch wins and is recorded
    let mut same = args.clone();
    same.extend(["--batch".to_string(), "3".to_string()]);
    ok(&run(&same));
    let explicit = log(&out);
    assert_eq!(explicit["clip"]["batch"]["batch"], 3, "{explicit}");
    assert_eq!(explicit["clip"]["batch"]["from"], "explicit", "{explicit}");
    let mut zero = args.clone();
    zero.extend(["--batch".to_string(), "0".to_string()]);
    let o = run(&zero);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--batch"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // two shards in their own directories, then --merge: the same pairs
    let mut shard_dirs = Vec::new();
    for s in 0..2 {
        let dir = tmp.path().join(format!("shard{s}"));
        let shard = format!("{s}/2");
        let stdout = ok(&run(&mine_args(
            &images,
            &cache,
            &dir,
            &["--shard", shard.as_str()],
        )));
        assert!(stdout.contains("shard finished"), "{stdout}");
        shard_dirs.push(dir);
    }
    let merged = tmp.path().join("merged");
    ok(&cuelab(&[
        "mine",
        "--merge",
        shard_dirs[0].to_str().unwrap(),
        shard_dirs[1].to_str().unwrap(),
        "--max-pairs",
        "4",
        "-o",
        merged.to_str().unwrap(),
    ]));
    assert_eq!(
        std::fs::read_to_string(merged.join("pairs.jsonl")).unwrap(),
        pairs
    );

    // the MMVP layout is accepted by the dataset checker and by `cuelab mmvp`
    let mmvp = out.join("mmvp");
    ok(&cuelab(&[
        "data",
        "check",
        mmvp.to_str().unwrap(),
        "--format",
        "mmvp",
    ]));
    let clip = models().join("clip-vit-tiny");
    let eval = tmp.path().join("eval");
    ok(&cuelab(&[
        "mmvp",
        "--data",
        mmvp.to_str().unwrap(),
        "--clip",
        clip.to_str().unwrap(),
        "--out",
        eval.to_str().unwrap(),
    ]));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(eval.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["variants"][0]["pairs"]["n"], 4);
}

#[test]
fn precomputed_inputs_and_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let scenes = tmp.path().join("scenes");
    ok(&cuelab(&[
        "scenes",
        "-n",
        "6",
        "--clips",
        "0",
        "--size",
        "64",
        "--out",
        scenes.to_str().unwrap(),
    ]));
    let imgs: Vec<PathBuf> = {
        let mut v: Vec<PathBuf> = std::fs::read_dir(scenes.join("images"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    // embeddings precomputed by `cuelab embed` as Parquet, one file per model
    let mut files = Vec::new();
    for (name, model) in [("clip", "clip-vit-tiny"), ("dino", "dinov2-tiny")] {
        let f = tmp.path().join(format!("{name}.parquet"));
        let mut a = vec![
            "embed".to_string(),
            "--model".into(),
            models().join(model).to_str().unwrap().into(),
            "-o".into(),
            f.to_str().unwrap().into(),
        ];
        a.extend(imgs.iter().map(|p| p.to_str().unwrap().to_string()));
        ok(&run(&a));
        files.push(f);
    }
    let out = tmp.path().join("mined");
    let stdout = ok(&cuelab(&[
        "mine",
        "--clip",
        files[0].to_str().unwrap(),
        "--dino",
        files[1].to_str().unwrap(),
        "--clip-min",
        "-1.0",
        "--dino-max",
        "0.999999",
        "--dedup",
        "1.0",
        "-o",
        out.to_str().unwrap(),
    ]));
    assert!(
        stdout.contains(&format!("{} images", imgs.len())),
        "{stdout}"
    );
    assert!(out.join("pairs.parquet").is_file() && out.join("mmvp/Questions.csv").is_file());

    // a model without images, and inverted thresholds: clear errors
    let o = cuelab(&[
        "mine",
        "--clip",
        models().join("clip-vit-tiny").to_str().unwrap(),
        "--dino",
        files[1].to_str().unwrap(),
        "-o",
        tmp.path().join("x").to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("give --images"));
    let o = cuelab(&[
        "mine",
        "--clip",
        files[0].to_str().unwrap(),
        "--dino",
        files[1].to_str().unwrap(),
        "--dino-max",
        "0.99",
        "--dedup",
        "0.9",
        "-o",
        tmp.path().join("y").to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("must be below --dedup"));
}
