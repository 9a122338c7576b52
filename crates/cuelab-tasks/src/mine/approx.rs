//! Approximate pair search: an HNSW index (the `hnsw_rs` crate) over the CLIP embeddings; each
//! row asks for its `k` nearest neighbours and keeps those whose exact CLIP cosine is
//! `>= clip_min`. DINOv2 cosines and the classification are those of [`super::exact`].
//!
//! Misses come from two places: the graph search itself (raise `ef`), and rows with more than
//! `k` neighbours above `clip_min` (raise `k`). Recall against the exact search is measured in
//! the benchmark (`examples/mine_bench.rs`), not assumed.

use std::ops::Range;
use std::time::Instant;

use hnsw_rs::anndists::dist::distances::Distance;
use hnsw_rs::hnsw::Hnsw;
use rayon::prelude::*;

use super::embeddings::Embeddings;
use super::exact::{dot, SearchStats};
use super::{Candidate, Thresholds};
use crate::error::{Result, TaskError};

/// Parameters of the HNSW index and its queries.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AnnParams {
    /// Links per node and layer (HNSW `M`, at most 256).
    pub m: usize,
    /// Candidate list size while building.
    pub ef_construction: usize,
    /// Neighbours asked per row.
    pub k: usize,
    /// Candidate list size while searching (at least `k`).
    pub ef_search: usize,
}

impl Default for AnnParams {
    fn default() -> Self {
        AnnParams {
            m: 16,
            ef_construction: 200,
            k: 32,
            ef_search: 64,
        }
    }
}

/// The index's distance between L2-normalised rows: `1 - a.b`, clamped at 0.
///
/// `anndists`' own `DistDot` asserts `a.b <= 1`, and rounding puts the dot product of a unit
/// row with itself or with a near-duplicate (the same photo twice, which mining must flag) just
/// above 1: the build panicked on 100,000 rows with planted pairs (measured). The sum runs in 16
/// lanes so that it vectorises.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnitDotDistance;

impl Distance<f32> for UnitDotDistance {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - lane_dot(a, b)).max(0.0)
    }
}

/// `a.b` in f32 with 16 partial sums (vectorisable; the order differs from a sequential sum by
/// rounding only).
fn lane_dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..16 {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// An HNSW index over L2-normalised rows (inner-product distance `1 - cos`).
pub struct AnnIndex {
    hnsw: Hnsw<'static, f32, UnitDotDistance>,
    params: AnnParams,
}

impl std::fmt::Debug for AnnIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnnIndex")
            .field("params", &self.params)
            .finish()
    }
}

impl AnnIndex {
    /// Build the index over every row of `clip` (in parallel).
    pub fn build(clip: &Embeddings, params: AnnParams) -> Result<Self> {
        if !(2..=256).contains(&params.m) || params.k == 0 {
            return Err(TaskError::Config(format!(
                "HNSW needs 2 <= m <= 256 and k >= 1 (m {}, k {})",
                params.m, params.k
            )));
        }
        let hnsw = Hnsw::new(
            params.m,
            clip.len().max(1),
            16,
            params.ef_construction.max(params.m),
            UnitDotDistance,
        );
        let items: Vec<(&[f32], usize)> = (0..clip.len()).map(|i| (clip.row(i), i)).collect();
        hnsw.parallel_insert_slice(&items);
        Ok(AnnIndex { hnsw, params })
    }

    /// The recorded pairs found from the rows in `rows` (each as `(min, max)`; a pair may also be
    /// found from its other row, so callers deduplicate), sorted by `(i, j)`.
    pub fn search_rows(
        &self,
        clip: &Embeddings,
        dino: &Embeddings,
        rows: Range<usize>,
        th: &Thresholds,
    ) -> (Vec<Candidate>, SearchStats) {
        let t = Instant::now();
        let k = self.params.k + 1; // the row itself comes back too
        let ef = self.params.ef_search.max(k);
        let found: Vec<(Vec<Candidate>, u64)> = rows
            .into_par_iter()
            .map(|i| {
                let mut local = Vec::new();
                let mut seen = 0u64;
                for nb in self.hnsw.search(clip.row(i), k, ef) {
                    let j = nb.d_id;
                    if j == i {
                        continue;
                    }
                    let (a, b) = (i.min(j), i.max(j));
                    let c = dot(clip.row(a), clip.row(b));
                    if c >= th.clip_min {
                        seen += 1;
                        let d = dot(dino.row(a), dino.row(b));
                        if let Some(kind) = th.classify(d) {
                            local.push(Candidate {
                                i: a as u32,
                                j: b as u32,
                                clip: c,
                                dino: d,
                                kind,
                            });
                        }
                    }
                }
                (local, seen)
            })
            .collect();
        let mut stats = SearchStats::default();
        let mut out = Vec::new();
        for (local, seen) in found {
            out.extend(local);
            stats.clip_candidates += seen;
        }
        out.sort_by_key(|c| (c.i, c.j));
        out.dedup_by_key(|c| (c.i, c.j));
        stats.scan_secs = t.elapsed().as_secs_f64();
        (out, stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mine::Kind;

    /// Unit rows in pairs of identical copies (the same photo twice), some of whose f32 dot
    /// product with themselves rounds above 1.
    fn duplicated_rows(pairs: usize, dim: usize) -> Embeddings {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let mut data = Vec::with_capacity(2 * pairs * dim);
        for _ in 0..pairs {
            let row: Vec<f32> = (0..dim).map(|_| next()).collect();
            data.extend(&row);
            data.extend(&row);
        }
        let labels = (0..2 * pairs).map(|k| k.to_string()).collect();
        let mut e = Embeddings::new(labels, dim, data).unwrap();
        e.normalize().unwrap();
        e
    }

    #[test]
    fn duplicates_whose_dot_rounds_above_one_are_indexed_and_flagged() {
        let e = duplicated_rows(150, 768);
        let above = (0..e.len())
            .filter(|&i| lane_dot(e.row(i), e.row(i)) > 1.0)
            .count();
        assert!(
            above > 0,
            "the test needs rows whose self dot rounds above 1"
        );
        assert_eq!(UnitDotDistance.eval(e.row(0), e.row(1)), 0.0);
        let index = AnnIndex::build(&e, AnnParams::default()).unwrap();
        let (found, stats) = index.search_rows(&e, &e, 0..e.len(), &Thresholds::default());
        let expected: Vec<(u32, u32, Kind)> = (0..150u32)
            .map(|p| (2 * p, 2 * p + 1, Kind::Duplicate))
            .collect();
        let got: Vec<(u32, u32, Kind)> = found.iter().map(|c| (c.i, c.j, c.kind)).collect();
        assert_eq!(got, expected);
        assert!(stats.clip_candidates >= 150);
    }

    #[test]
    fn lane_dot_matches_a_plain_sum() {
        for dim in [1, 15, 16, 17, 768] {
            let a: Vec<f32> = (0..dim).map(|k| (k as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..dim).map(|k| (k as f32 * 0.11).cos()).collect();
            let plain: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(x * y)).sum();
            assert!(
                (f64::from(lane_dot(&a, &b)) - plain).abs() < 1e-4,
                "dim {dim}"
            );
        }
    }
}
