//! Approximate pair search: an HNSW index (the `hnsw_rs` crate) over the CLIP embeddings; each
//! row asks for its `k` nearest neighbours and keeps those whose exact CLIP cosine is
//! `>= clip_min`. DINOv2 cosines and the classification are those of [`super::exact`].
//!
//! Misses come from two places: the graph search itself (raise `ef`), and rows with more than
//! `k` neighbours above `clip_min` (raise `k`). Recall against the exact search is measured in
//! the benchmark (`examples/mine_bench.rs`), not assumed.

use std::ops::Range;
use std::time::Instant;

use hnsw_rs::anndists::dist::distances::DistDot;
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

/// An HNSW index over L2-normalised rows (inner-product distance `1 - cos`).
pub struct AnnIndex {
    hnsw: Hnsw<'static, f32, DistDot>,
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
            DistDot {},
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
