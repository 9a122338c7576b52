//! CLIP-blind pair mining: parity with the NumPy reference (tools/reference/mine), recovery of
//! planted pairs at the exact threshold edges, shards, resuming and the approximate search.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cuelab_tasks::mine::approx::AnnParams;
use cuelab_tasks::mine::embeddings::{read_npy, Embeddings};
use cuelab_tasks::mine::run::{collect, prepare, search, select, MineConfig, Mode};
use cuelab_tasks::mine::{Candidate, Kind, Thresholds};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mine")
}

fn run_all(
    dir: &Path,
    clip: &Embeddings,
    dino: &Embeddings,
    config: MineConfig,
    shard: Option<(usize, usize)>,
) -> Vec<Candidate> {
    let m = prepare(dir, clip, dino, &config).unwrap();
    search(dir, clip, dino, &m, shard, false).unwrap();
    collect(&[dir.to_path_buf()]).unwrap().candidates
}

#[test]
fn parity_with_numpy_reference() {
    let d = data();
    let mut clip = read_npy(&d.join("clip.npy"), Some(&d.join("inputs.txt"))).unwrap();
    let mut dino = read_npy(&d.join("dino.npy"), Some(&d.join("inputs.txt"))).unwrap();
    let text = std::fs::read_to_string(d.join("expected.json")).unwrap();
    let want: serde_json::Value = serde_json::from_str(&text).unwrap();
    // the fixture rows are already normalised; normalising again must not move them off
    clip.normalize().unwrap();
    dino.normalize().unwrap();
    let th = Thresholds {
        clip_min: want["clip_min"].as_f64().unwrap() as f32,
        dino_max: want["dino_max"].as_f64().unwrap() as f32,
        dedup: want["dedup"].as_f64().unwrap() as f32,
    };
    let records = want["records"].as_array().unwrap();
    assert!(records.len() > 100, "the fixture has many candidates");
    // several blockings, including blocks that do not divide n and one block for all
    for (block, chunk) in [(64, 100), (7, 333), (320, 320), (1000, 50)] {
        let tmp = tempfile::tempdir().unwrap();
        let config = MineConfig {
            thresholds: th,
            block,
            mode: Mode::Exact { chunk },
        };
        let got = run_all(tmp.path(), &clip, &dino, config, None);
        assert_eq!(got.len(), records.len(), "block {block} chunk {chunk}");
        for (g, w) in got.iter().zip(records) {
            assert_eq!(
                (g.i, g.j),
                (
                    w["i"].as_u64().unwrap() as u32,
                    w["j"].as_u64().unwrap() as u32
                )
            );
            let kind = if w["kind"] == "blind" {
                Kind::Blind
            } else {
                Kind::Duplicate
            };
            assert_eq!(g.kind, kind, "pair ({}, {})", g.i, g.j);
            // float32 products in another summation order: ~1e-7 apart
            assert!((f64::from(g.clip) - w["clip"].as_f64().unwrap()).abs() < 1e-5);
            assert!((f64::from(g.dino) - w["dino"].as_f64().unwrap()).abs() < 1e-6);
        }
        let sel = select(&got);
        let pairs: Vec<[u64; 2]> = sel
            .pairs
            .iter()
            .map(|c| [u64::from(c.i), u64::from(c.j)])
            .collect();
        let want_pairs: Vec<[u64; 2]> = want["selected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| [p[0].as_u64().unwrap(), p[1].as_u64().unwrap()])
            .collect();
        assert_eq!(pairs, want_pairs, "selection and gap order");
        let excluded: Vec<u64> = sel.excluded.iter().map(|&x| u64::from(x)).collect();
        let want_ex: Vec<u64> = want["excluded"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        assert_eq!(excluded, want_ex);
    }
}

const D: usize = 64;

/// A random sign vector scaled by 1/8: unit norm exactly, and every cosine between two of them
/// is a multiple of 1/64, computed exactly in f32 in any summation order.
fn signs(rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..D)
        .map(|_| if rng.gen::<bool>() { 0.125 } else { -0.125 })
        .collect()
}

/// `v` with the first `k` signs flipped: cosine with `v` is exactly `(64 - 2k) / 64`.
fn flip(v: &[f32], k: usize) -> Vec<f32> {
    v.iter()
        .enumerate()
        .map(|(t, &x)| if t < k { -x } else { x })
        .collect()
}

struct Planted {
    clip: Embeddings,
    dino: Embeddings,
    /// (i, j, kind) of every pair that must be recorded.
    expected: BTreeSet<(u32, u32, Kind)>,
}

/// 1,500 random rows, then planted pairs at and around the edges of
/// clip_min = 56/64, dino_max = 32/64, dedup = 60/64.
fn planted() -> (Planted, Thresholds) {
    let th = Thresholds {
        clip_min: 56.0 / 64.0,
        dino_max: 32.0 / 64.0,
        dedup: 60.0 / 64.0,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(18);
    let n_random = 1500;
    let mut clip: Vec<Vec<f32>> = (0..n_random).map(|_| signs(&mut rng)).collect();
    let mut dino: Vec<Vec<f32>> = (0..n_random).map(|_| signs(&mut rng)).collect();
    let mut expected = BTreeSet::new();
    // (CLIP flips, DINOv2 flips, what the pair must be): clip cos = 1 - k/32, dino cos = 1 - m/32
    let cases: [(usize, usize, Option<Kind>); 10] = [
        (4, 17, Some(Kind::Blind)), // clip exactly at clip_min (inclusive), dino 30/64
        (5, 17, None),              // clip 54/64: one step below clip_min
        (0, 16, None),              // dino exactly at dino_max (exclusive)
        (2, 17, Some(Kind::Blind)), // dino one step below dino_max
        (0, 32, Some(Kind::Blind)), // identical for CLIP, orthogonal for DINOv2: the largest gap
        (1, 2, Some(Kind::Duplicate)), // dino exactly at dedup (inclusive)
        (1, 3, None),               // dino 58/64: one step below dedup, not blind either
        (0, 0, Some(Kind::Duplicate)), // the same image twice
        (3, 24, Some(Kind::Blind)),
        (4, 48, Some(Kind::Blind)), // negative DINOv2 cosine
    ];
    for (case, (k, m, kind)) in cases.into_iter().enumerate() {
        // plant against a distinct random row (its partner is appended at the end)
        let base = 100 * case + 7;
        clip.push(flip(&clip[base], k));
        dino.push(flip(&dino[base], m));
        if let Some(kind) = kind {
            expected.insert((base as u32, (clip.len() - 1) as u32, kind));
        }
    }
    let labels: Vec<String> = (0..clip.len()).map(|k| format!("r{k}")).collect();
    let planted = Planted {
        clip: Embeddings::from_rows(labels.clone(), &clip).unwrap(),
        dino: Embeddings::from_rows(labels, &dino).unwrap(),
        expected,
    };
    (planted, th)
}

fn found(c: &[Candidate]) -> BTreeSet<(u32, u32, Kind)> {
    c.iter().map(|c| (c.i, c.j, c.kind)).collect()
}

#[test]
fn planted_pairs_are_recovered_at_the_edges_and_nothing_else() {
    let (mut p, th) = planted();
    p.clip.normalize().unwrap();
    p.dino.normalize().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let config = MineConfig {
        thresholds: th,
        block: 128,
        mode: Mode::Exact { chunk: 200 },
    };
    let got = run_all(tmp.path(), &p.clip, &p.dino, config, None);
    assert_eq!(found(&got), p.expected);
    for c in &got {
        // exactly representable cosines come back exactly
        assert_eq!((c.clip * 64.0).fract(), 0.0, "{c:?}");
        assert_eq!((c.dino * 64.0).fract(), 0.0, "{c:?}");
    }
    let sel = select(&got);
    // the largest gap first: clip 56/64, dino -32/64 (gap 1.375) before clip 1, dino 0
    assert_eq!((sel.pairs[0].clip, sel.pairs[0].dino), (0.875, -0.5));
    assert_eq!((sel.pairs[1].clip, sel.pairs[1].dino), (1.0, 0.0));
    assert!(sel.pairs.windows(2).all(|w| w[0].gap() >= w[1].gap()));
}

#[test]
fn shards_resume_and_merge_to_the_unsharded_result() {
    let (mut p, th) = planted();
    p.clip.normalize().unwrap();
    p.dino.normalize().unwrap();
    let config = MineConfig {
        thresholds: th,
        block: 100,
        mode: Mode::Exact { chunk: 256 },
    };
    let tmp = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = (0..3)
        .map(|s| tmp.path().join(format!("shard{s}")))
        .collect();
    for (s, dir) in dirs.iter().enumerate() {
        let m = prepare(dir, &p.clip, &p.dino, &config).unwrap();
        let r = search(dir, &p.clip, &p.dino, &m, Some((s, 3)), false).unwrap();
        assert!(r.searched > 0 && r.skipped == 0);
        // a rerun finds every block of its shard finished
        let again = search(dir, &p.clip, &p.dino, &m, Some((s, 3)), false).unwrap();
        assert_eq!((again.searched, again.skipped), (0, r.searched));
    }
    // one shard alone is incomplete, and says so
    let err = collect(&dirs[..1]).unwrap_err().to_string();
    assert!(err.contains("row blocks are not finished"), "{err}");
    let merged = collect(&dirs).unwrap();
    assert_eq!(found(&merged.candidates), p.expected);
    // another configuration in the same directory is refused, not mixed
    let other = MineConfig {
        block: 50,
        ..config
    };
    let err = prepare(&dirs[0], &p.clip, &p.dino, &other)
        .unwrap_err()
        .to_string();
    assert!(err.contains("another configuration"), "{err}");
}

#[test]
fn approximate_search_finds_the_planted_pairs() {
    let (mut p, th) = planted();
    p.clip.normalize().unwrap();
    p.dino.normalize().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let config = MineConfig {
        thresholds: th,
        block: 512,
        mode: Mode::Approx(AnnParams::default()),
    };
    let got = run_all(tmp.path(), &p.clip, &p.dino, config, None);
    // the planted pairs are the nearest neighbours by far (random rows: cos ~ N(0, 1/64)),
    // so the graph search must find all of them, and the exact cosines decide the edges
    assert_eq!(found(&got), p.expected);
}
