//! Exact pair search by blocked matrix products.
//!
//! Rows are split into row blocks of `block` rows; a row block is compared with every column at
//! or after its first row, `chunk` columns at a time: one `block x dim` by `dim x chunk` product
//! (candle's CPU matmul, the `gemm` crate), then a scan of that `block x chunk` tile for CLIP
//! cosines `>= clip_min` above the diagonal. DINOv2 cosines are computed (as f64-accumulated dot
//! products) only for those candidates. Memory is bounded by the tile, never `n x n`.
//!
//! Cost model for `n` rows of `d` dims: the upper triangle of the Gram matrix costs
//! `~n^2 d` FLOPs (half of the `2 n^2 d` of the full product; the diagonal tiles are computed
//! whole), the tiles hold `block * chunk * 4` bytes (twice: the product and its copy for the
//! scan), and the inputs stay resident (`n (d_clip + d_dino) 4` bytes). The scan reads every tile
//! value once (`n^2 / 2` comparisons); the DINOv2 side costs `2 d_dino` FLOPs per candidate.

use std::ops::Range;
use std::time::Instant;

use candle_core::{Device, Tensor};
use rayon::prelude::*;

use super::embeddings::Embeddings;
use super::{Candidate, Thresholds};
use crate::error::{Result, TaskError};

/// Time and work of a search, summed over the row blocks it ran.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SearchStats {
    /// Seconds in the matrix products.
    pub gemm_secs: f64,
    /// Seconds scanning tiles and computing DINOv2 cosines.
    pub scan_secs: f64,
    /// Floating-point operations of the matrix products (2 per multiply-add).
    pub gemm_flops: f64,
    /// CLIP candidates (`clip >= clip_min`) examined with DINOv2.
    pub clip_candidates: u64,
}

impl SearchStats {
    /// Add another block's figures.
    pub fn add(&mut self, other: &SearchStats) {
        self.gemm_secs += other.gemm_secs;
        self.scan_secs += other.scan_secs;
        self.gemm_flops += other.gemm_flops;
        self.clip_candidates += other.clip_candidates;
    }
}

/// The row blocks of `n` rows, `block` rows each (the last may be shorter).
pub fn row_blocks(n: usize, block: usize) -> Vec<Range<usize>> {
    let block = block.max(1);
    (0..n.div_ceil(block))
        .map(|b| b * block..((b + 1) * block).min(n))
        .collect()
}

fn compute(e: candle_core::Error) -> TaskError {
    TaskError::Compute(e.to_string())
}

/// Check that the CLIP and DINOv2 matrices describe the same inputs in the same order.
pub fn check_aligned(clip: &Embeddings, dino: &Embeddings) -> Result<()> {
    if clip.len() != dino.len() {
        return Err(TaskError::Config(format!(
            "{} CLIP rows but {} DINOv2 rows",
            clip.len(),
            dino.len()
        )));
    }
    if let Some(k) = (0..clip.len()).find(|&k| clip.labels[k] != dino.labels[k]) {
        return Err(TaskError::Config(format!(
            "row {k} is `{}` for CLIP but `{}` for DINOv2: the two embeddings must list the same inputs in the same order",
            clip.labels[k], dino.labels[k]
        )));
    }
    Ok(())
}

/// The dot product of two rows, accumulated in f64.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum::<f64>() as f32
}

fn tensor(e: &Embeddings, rows: Range<usize>) -> Result<Tensor> {
    let d = e.dim;
    Tensor::from_slice(
        &e.data[rows.start * d..rows.end * d],
        (rows.len(), d),
        &Device::Cpu,
    )
    .map_err(compute)
}

/// Every recorded pair `(i, j)` with `i` in `rows` and `j > i`: CLIP cosine `>= clip_min` and
/// DINOv2 cosine classified by [`Thresholds::classify`]. Both matrices must be L2-normalised.
/// Returns the pairs sorted by `(i, j)` and the block's figures.
pub fn search_rows(
    clip: &Embeddings,
    dino: &Embeddings,
    rows: Range<usize>,
    chunk: usize,
    th: &Thresholds,
) -> Result<(Vec<Candidate>, SearchStats)> {
    let n = clip.len();
    let mut stats = SearchStats::default();
    let mut out = Vec::new();
    if rows.is_empty() {
        return Ok((out, stats));
    }
    let a = tensor(clip, rows.clone())?;
    let mut c0 = rows.start;
    while c0 < n {
        let c1 = (c0 + chunk.max(1)).min(n);
        let t = Instant::now();
        let b = tensor(clip, c0..c1)?;
        let tile = a.matmul(&b.t().map_err(compute)?).map_err(compute)?;
        let tile = tile
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(compute)?;
        stats.gemm_secs += t.elapsed().as_secs_f64();
        stats.gemm_flops += 2.0 * rows.len() as f64 * (c1 - c0) as f64 * clip.dim as f64;
        let t = Instant::now();
        let width = c1 - c0;
        let found: Vec<(Vec<Candidate>, u64)> = tile
            .par_chunks(width)
            .enumerate()
            .map(|(r, line)| {
                let i = rows.start + r;
                let first = (i + 1).saturating_sub(c0);
                let mut local = Vec::new();
                let mut seen = 0u64;
                for (k, &s) in line.iter().enumerate().skip(first) {
                    if s >= th.clip_min {
                        seen += 1;
                        let j = c0 + k;
                        let d = dot(dino.row(i), dino.row(j));
                        if let Some(kind) = th.classify(d) {
                            local.push(Candidate {
                                i: i as u32,
                                j: j as u32,
                                clip: s,
                                dino: d,
                                kind,
                            });
                        }
                    }
                }
                (local, seen)
            })
            .collect();
        for (local, seen) in found {
            out.extend(local);
            stats.clip_candidates += seen;
        }
        stats.scan_secs += t.elapsed().as_secs_f64();
        c0 = c1;
    }
    out.sort_by_key(|c| (c.i, c.j));
    Ok((out, stats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mine::Kind;

    fn emb(rows: &[[f32; 2]]) -> Embeddings {
        let labels = (0..rows.len()).map(|k| k.to_string()).collect();
        Embeddings::new(labels, 2, rows.iter().flatten().copied().collect()).unwrap()
    }

    #[test]
    fn blocks_cover_the_upper_triangle_once() {
        // four identical CLIP rows: every pair is a candidate, found once whatever the blocking
        let clip = emb(&[[1.0, 0.0]; 4]);
        let dino = emb(&[[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]]);
        let th = Thresholds {
            clip_min: 0.5,
            dino_max: 0.5,
            dedup: 0.9,
        };
        for (block, chunk) in [(1, 1), (2, 3), (3, 2), (4, 4), (10, 1)] {
            let mut all = Vec::new();
            for r in row_blocks(4, block) {
                all.extend(search_rows(&clip, &dino, r, chunk, &th).unwrap().0);
            }
            let pairs: Vec<(u32, u32, Kind)> = all.iter().map(|c| (c.i, c.j, c.kind)).collect();
            assert_eq!(
                pairs,
                vec![
                    (0, 1, Kind::Blind),
                    (0, 2, Kind::Blind),
                    (0, 3, Kind::Duplicate),
                    (1, 2, Kind::Duplicate),
                    (1, 3, Kind::Blind),
                    (2, 3, Kind::Blind),
                ],
                "block {block} chunk {chunk}"
            );
        }
        assert_eq!(row_blocks(5, 2), vec![0..2, 2..4, 4..5]);
    }
}
