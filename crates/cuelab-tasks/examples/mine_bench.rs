//! Pair-search benchmark of `cuelab mine`: random L2-normalised embeddings plus planted pairs of
//! known CLIP / DINOv2 cosine; exact search time, GEMM rate, and the approximate (HNSW) search's
//! build/search time and recall against the exact result, or (with `--no-exact`, for corpora
//! where the exact search is too slow to run beside it) against the planted pairs: among random
//! 768-d rows no other pair comes near a CLIP cosine of 0.95 (the cosine of two random unit rows
//! has a standard deviation of 1/sqrt(768) = 0.036), so the planted pairs that meet the thresholds
//! are the exact result; the 100,000-row run checks that the two sets are equal.
//!
//! ```sh
//! cargo run --release -p cuelab-tasks --example mine_bench -- --n 100000 --dim 768 \
//!     [--approx] [--no-exact] [--write-npy DIR]
//! ```
//! `--write-npy DIR` writes `clip.npy` for `tools/reference/mine/bench_faiss.py` (same data).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use cuelab_tasks::mine::approx::{AnnIndex, AnnParams};
use cuelab_tasks::mine::embeddings::Embeddings;
use cuelab_tasks::mine::exact::{dot, row_blocks, search_rows, SearchStats};
use cuelab_tasks::mine::{Candidate, Thresholds};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

fn gaussian(rng: &mut ChaCha8Rng, d: usize) -> Vec<f32> {
    (0..d)
        .map(|_| {
            let (u, v): (f64, f64) = (rng.gen::<f64>().max(1e-300), rng.gen());
            ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
        })
        .collect()
}

/// `base` turned by angle acos(cos) towards a random direction (unit result).
fn at_cosine(rng: &mut ChaCha8Rng, base: &[f32], cos: f64) -> Vec<f32> {
    let d = base.len();
    let mut r = gaussian(rng, d);
    let proj: f64 = r
        .iter()
        .zip(base)
        .map(|(&a, &b)| f64::from(a) * f64::from(b))
        .sum();
    for (x, &b) in r.iter_mut().zip(base) {
        *x -= (proj * f64::from(b)) as f32;
    }
    let nr = r.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let sin = (1.0 - cos * cos).sqrt();
    base.iter()
        .zip(&r)
        .map(|(&b, &o)| (cos * f64::from(b) + sin * f64::from(o) / nr) as f32)
        .collect()
}

fn matrix(n: usize, d: usize, seed: u64) -> Vec<f32> {
    // rows generated in parallel, each from its own seeded stream: deterministic
    (0..n)
        .into_par_iter()
        .flat_map_iter(|i| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (i as u64).wrapping_mul(0x9E37_79B9));
            gaussian(&mut rng, d)
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let get = |flag: &str, default: usize| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|k| args.get(k + 1))
            .map_or(default, |v| v.parse().expect("a number"))
    };
    let n = get("--n", 100_000);
    let dim = get("--dim", 768);
    let planted = get("--planted", 1000);
    let block = get("--block", 2048);
    let chunk = get("--chunk", 4096);
    let ef_c = get("--ef-construction", 100);
    let k = get("--k", 16);
    let ef = get("--ef", 64);
    let approx = args.iter().any(|a| a == "--approx");
    let exact = !args.iter().any(|a| a == "--no-exact");
    let write_npy = args
        .iter()
        .position(|a| a == "--write-npy")
        .and_then(|k| args.get(k + 1))
        .map(PathBuf::from);
    let th = Thresholds::default();
    println!(
        "n {n}, dim {dim}, {planted} planted pairs, threads {}, thresholds {th:?}",
        rayon::current_num_threads()
    );

    let t = Instant::now();
    let mut clip = Embeddings::new(
        (0..n).map(|i| i.to_string()).collect(),
        dim,
        matrix(n, dim, 1),
    )
    .unwrap();
    let mut dino = Embeddings::new(
        (0..n).map(|i| i.to_string()).collect(),
        dim,
        matrix(n, dim, 2),
    )
    .unwrap();
    clip.normalize().unwrap();
    dino.normalize().unwrap();
    // planted pairs (2p, 2p+1) for p < planted: CLIP cosine 0.93..0.999, DINOv2 0.0..0.99
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for p in 0..planted.min(n / 2) {
        let (a, b) = (2 * p, 2 * p + 1);
        let c = rng.gen_range(0.93..0.999);
        let d = rng.gen_range(0.0..0.99);
        let row = at_cosine(&mut rng, clip.row(a), c);
        clip.data[b * dim..(b + 1) * dim].copy_from_slice(&row);
        let row = at_cosine(&mut rng, dino.row(a), d);
        dino.data[b * dim..(b + 1) * dim].copy_from_slice(&row);
    }
    clip.normalize().unwrap();
    dino.normalize().unwrap();
    println!("data: {:.1} s", t.elapsed().as_secs_f64());
    if let Some(dir) = write_npy {
        std::fs::create_dir_all(&dir).unwrap();
        clip.save(&dir.join("clip.npy"), &dir.join("inputs.txt"))
            .unwrap();
        println!("wrote {}", dir.join("clip.npy").display());
    }

    // the planted pairs that meet the thresholds, classified as the search does
    let planted_pairs: BTreeSet<(u32, u32)> = (0..planted.min(n / 2))
        .filter(|p| {
            let (a, b) = (2 * p, 2 * p + 1);
            dot(clip.row(a), clip.row(b)) >= th.clip_min
                && th.classify(dot(dino.row(a), dino.row(b))).is_some()
        })
        .map(|p| (2 * p as u32, 2 * p as u32 + 1))
        .collect();
    println!(
        "planted pairs meeting the thresholds: {}",
        planted_pairs.len()
    );
    let mut exact_pairs: Option<BTreeSet<(u32, u32)>> = None;
    if exact {
        let t = Instant::now();
        let mut stats = SearchStats::default();
        let mut all: Vec<Candidate> = Vec::new();
        for rows in row_blocks(n, block) {
            let (c, s) = search_rows(&clip, &dino, rows, chunk, &th).unwrap();
            stats.add(&s);
            all.extend(c);
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "exact: {secs:.2} s wall; GEMM {:.2} s, {:.1} TFLOP, {:.1} GFLOP/s; scan {:.2} s; \
             {} CLIP candidates (>= {}), {} recorded pairs; tile memory {:.0} MiB",
            stats.gemm_secs,
            stats.gemm_flops / 1e12,
            stats.gemm_flops / stats.gemm_secs / 1e9,
            stats.scan_secs,
            stats.clip_candidates,
            th.clip_min,
            all.len(),
            (2 * block * chunk * 4) as f64 / (1 << 20) as f64,
        );
        let pairs: BTreeSet<(u32, u32)> = all.iter().map(|c| (c.i, c.j)).collect();
        println!(
            "exact result equals the planted pairs meeting the thresholds: {}",
            pairs == planted_pairs
        );
        exact_pairs = Some(pairs);
    }
    if approx {
        let params = AnnParams {
            m: 16,
            ef_construction: ef_c,
            k,
            ef_search: ef,
        };
        let t = Instant::now();
        let index = AnnIndex::build(&clip, params).unwrap();
        let build = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut found = BTreeSet::new();
        let mut cands = 0;
        for rows in row_blocks(n, block) {
            let (c, s) = index.search_rows(&clip, &dino, rows, &th);
            cands += s.clip_candidates;
            found.extend(c.iter().map(|c| (c.i, c.j)));
        }
        let search = t.elapsed().as_secs_f64();
        print!(
            "approx (HNSW m 16, ef_construction {ef_c}, k {k}, ef {ef}): build {build:.1} s, \
             search {search:.1} s, {cands} candidate hits, {} recorded pairs",
            found.len()
        );
        match &exact_pairs {
            Some(e) => {
                let hit = e.intersection(&found).count();
                println!(
                    "; recall vs exact {hit}/{} = {:.4}",
                    e.len(),
                    hit as f64 / e.len().max(1) as f64
                );
            }
            None => {
                let hit = planted_pairs.intersection(&found).count();
                println!(
                    "; recall vs the planted pairs meeting the thresholds {hit}/{} = {:.4}; \
                     {} recorded pairs not planted",
                    planted_pairs.len(),
                    hit as f64 / planted_pairs.len().max(1) as f64,
                    found.difference(&planted_pairs).count()
                );
            }
        }
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM")) {
            println!("peak memory {line}");
        }
    }
}
