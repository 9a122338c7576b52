//! `cuelab mine`'s encoding with the tiny random CLIP and DINOv2: a resumed run finds every
//! embedding from the file bytes without decoding (counted), whatever its batch; an edited file
//! is decoded and embedded again; an interrupted run ends byte-identical to an uninterrupted
//! one; an old cache (embeddings keyed by pixels only) is used and filled; and rows computed in
//! other batches agree to float rounding (candle's matrix products may round differently per
//! batch size, see scale_cli; the cache, not the batch, makes resumed rows identical).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use cuelab_models::cache::EmbeddingCache;
use cuelab_models::{load_embedder, load_image, ImageEmbedder, LoadOptions};
use cuelab_tasks::mine::batch::BatchSize;
use cuelab_tasks::mine::embeddings::{embed_images, EmbedCounts, Embeddings};
use cuelab_tasks::mine::pipeline::FinishOptions;
use cuelab_tasks::mine::run::MineConfig;
use cuelab_tasks::mine::study::{run_mining, MiningSettings};
use cuelab_tasks::mine::Thresholds;
use image::{Rgb, RgbImage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn model_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cuelab-models/tests/data")
        .join(name)
}

fn model(name: &str) -> Box<dyn ImageEmbedder + Send + Sync> {
    load_embedder(model_dir(name).to_str().unwrap(), &LoadOptions::default()).unwrap()
}

/// A photo-like picture: a gradient with noise and a bright block, `seed` moves everything.
fn picture(w: u32, h: u32, seed: u64) -> RgbImage {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (bx, by) = (rng.gen_range(0..w / 2), rng.gen_range(0..h / 2));
    RgbImage::from_fn(w, h, |x, y| {
        let n: i32 = rng.gen_range(-20..20);
        let inside = x >= bx && x < bx + w / 3 && y >= by && y < by + h / 3;
        let base = [
            (x * 255 / w) as i32,
            (y * 255 / h) as i32,
            ((seed * 37) % 256) as i32,
        ];
        Rgb(base.map(|c| if inside { 240 } else { (c + n).clamp(0, 255) } as u8))
    })
}

/// Ten images (JPEG and PNG, various sizes) in `dir`.
fn images(dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    (0..10u64)
        .map(|k| {
            let ext = if k % 4 == 3 { "png" } else { "jpg" };
            let p = dir.join(format!("img{k:02}.{ext}"));
            picture(64 + 13 * k as u32, 48 + 7 * k as u32, k)
                .save(&p)
                .unwrap();
            p
        })
        .collect()
}

fn embed(
    m: &dyn ImageEmbedder,
    paths: &[PathBuf],
    cache: &Path,
    batch: usize,
) -> (Embeddings, EmbedCounts) {
    let mut c = EmbeddingCache::open(cache).unwrap();
    embed_images(m, paths, &mut c, batch, false).unwrap()
}

fn bits(e: &Embeddings) -> Vec<u32> {
    e.data.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn a_resume_decodes_nothing_and_an_edited_file_is_embedded_again() {
    let tmp = tempfile::tempdir().unwrap();
    let paths = images(&tmp.path().join("images"));
    let cache = tmp.path().join("cache.sqlite");
    let clip = model("clip-vit-tiny");

    let (first, counts) = embed(clip.as_ref(), &paths, &cache, 4);
    assert_eq!((counts.images, counts.decoded, counts.by_file), (10, 10, 0));
    let stored = EmbeddingCache::open(&cache).unwrap().len().unwrap();
    assert_eq!(stored, 10);

    // resumed with another batch: every row from the file bytes, nothing decoded, the same bits
    let (again, counts) = embed(clip.as_ref(), &paths, &cache, 7);
    assert_eq!((counts.decoded, counts.by_file), (0, 10));
    assert_eq!(bits(&again), bits(&first));

    // an edited file (same name, same size in pixels) is decoded and embedded again
    picture(64 + 13 * 5, 48 + 7 * 5, 99)
        .save(&paths[5])
        .unwrap();
    let (edited, counts) = embed(clip.as_ref(), &paths, &cache, 4);
    assert_eq!((counts.decoded, counts.by_file), (1, 9));
    assert_eq!(EmbeddingCache::open(&cache).unwrap().len().unwrap(), 11);
    for r in 0..10 {
        assert_eq!(edited.row(r) == first.row(r), r != 5, "row {r}");
    }
    // and its new embedding is the one of its new pixels
    let fresh = clip
        .encode_images(&[load_image(&paths[5]).unwrap()])
        .unwrap();
    assert_eq!(edited.row(5), &fresh[0][..]);
}

#[test]
fn rows_agree_across_batches_and_an_old_cache_is_filled() {
    let tmp = tempfile::tempdir().unwrap();
    let paths = images(&tmp.path().join("images"));
    let dino = model("dinov2-tiny");
    let runs: Vec<Embeddings> = [1, 3, 10]
        .iter()
        .map(|&b| {
            let cache = tmp.path().join(format!("b{b}.sqlite"));
            embed(dino.as_ref(), &paths, &cache, b).0
        })
        .collect();
    for (b, run) in [(3, &runs[1]), (10, &runs[2])] {
        let worst = run
            .data
            .iter()
            .zip(&runs[0].data)
            .map(|(x, y)| (x - y).abs() / y.abs().max(1e-3))
            .fold(0f32, f32::max);
        assert!(worst <= 1e-5, "batch {b} vs 1: relative difference {worst}");
    }

    // a cache written before the file table: embeddings keyed by pixels only
    let old = tmp.path().join("old.sqlite");
    let stored: Vec<f32> = {
        let mut c = EmbeddingCache::open(&old).unwrap();
        let decoded: Vec<RgbImage> = paths.iter().map(|p| load_image(p).unwrap()).collect();
        c.encode_images(dino.as_ref(), &decoded, "")
            .unwrap()
            .concat()
    };
    // the first run decodes (to find the pixels) but encodes nothing; the next decodes nothing
    let (e, counts) = embed(dino.as_ref(), &paths, &old, 4);
    assert_eq!((counts.decoded, counts.by_file), (10, 0));
    assert_eq!(EmbeddingCache::open(&old).unwrap().len().unwrap(), 10);
    assert_eq!(e.data, stored, "the old cache's rows");
    let (_, counts) = embed(dino.as_ref(), &paths, &old, 4);
    assert_eq!((counts.decoded, counts.by_file), (0, 10));
}

fn settings(out: &Path, images: &Path, cache: &Path, batch: BatchSize) -> MiningSettings {
    MiningSettings {
        out: out.to_path_buf(),
        clip: model_dir("clip-vit-tiny").display().to_string(),
        dino: model_dir("dinov2-tiny").display().to_string(),
        images: Some(images.to_path_buf()),
        config: MineConfig {
            thresholds: Thresholds {
                clip_min: -1.0,
                dino_max: 0.999_999,
                dedup: 1.0,
            },
            block: 4,
            ..MineConfig::default()
        },
        shard: None,
        preprocess: None,
        device: "cpu".into(),
        dtype: "f32".into(),
        batch,
        cache: Some(cache.to_path_buf()),
        finish: FinishOptions {
            max_pairs: 3,
            sheet_pairs: 3,
            thumb: 32,
        },
    }
}

fn embedding_log(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("embedding.json")).unwrap()).unwrap()
}

#[test]
fn an_interrupted_run_ends_as_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("images");
    let paths = images(&dir);

    // uninterrupted, 3 images per batch
    let whole = tmp.path().join("whole");
    let s = settings(
        &whole,
        &dir,
        &tmp.path().join("w.sqlite"),
        BatchSize::Fixed(3),
    );
    run_mining(&s, &mut |_| {}).unwrap();
    let log = embedding_log(&whole);
    for side in ["clip", "dino"] {
        assert_eq!(log[side]["batch"]["from"], "explicit", "{log}");
        assert_eq!(log[side]["batch"]["batch"], 3, "{log}");
        assert_eq!(log[side]["counts"]["decoded"], 10, "{log}");
    }

    // interrupted: a run killed after two batches of each side (stored), then resumed
    let cache = tmp.path().join("i.sqlite");
    for name in ["clip-vit-tiny", "dinov2-tiny"] {
        embed(model(name).as_ref(), &paths[..6], &cache, 3);
    }
    let resumed = tmp.path().join("resumed");
    let s = settings(&resumed, &dir, &cache, BatchSize::Fixed(3));
    run_mining(&s, &mut |_| {}).unwrap();
    let log = embedding_log(&resumed);
    for side in ["clip", "dino"] {
        assert_eq!(log[side]["counts"]["decoded"], 4, "{log}");
        assert_eq!(log[side]["counts"]["by_file"], 6, "{log}");
    }
    for f in [
        "mine.json",
        "pairs.jsonl",
        "pairs.parquet",
        "duplicates.jsonl",
    ] {
        assert_eq!(
            std::fs::read(whole.join(f)).unwrap(),
            std::fs::read(resumed.join(f)).unwrap(),
            "{f}"
        );
    }

    // a rerun of the finished directory with the batch chosen from memory (the default) decodes
    // nothing and changes no result: the batch is a log entry, not part of the identity
    let pairs = std::fs::read(resumed.join("pairs.jsonl")).unwrap();
    let s = settings(&resumed, &dir, &cache, BatchSize::Auto);
    run_mining(&s, &mut |_| {}).unwrap();
    let log = embedding_log(&resumed);
    for side in ["clip", "dino"] {
        assert_eq!(log[side]["batch"]["from"], "auto", "{log}");
        let b = log[side]["batch"]["batch"].as_u64().unwrap();
        assert!((1..=256).contains(&b), "{log}");
        assert!(log[side]["batch"]["bytes_per_image"].as_u64().unwrap() > 0);
        assert!(log[side]["batch"]["available_bytes"].as_u64().unwrap() > 0);
        assert_eq!(log[side]["counts"]["decoded"], 0, "{log}");
        assert_eq!(log[side]["counts"]["by_file"], 10, "{log}");
    }
    assert_eq!(std::fs::read(resumed.join("pairs.jsonl")).unwrap(), pairs);
}
