//! CLIP-blind pair mining (seed 003, "Eyes Wide Shut?"): find image pairs that CLIP embeds
//! alike (cosine `>= clip_min`) but DINOv2 tells apart (cosine `< dino_max`), at corpus scale.
//!
//! - [`embeddings`]: where the embeddings come from (precomputed `.npy` / Parquet, or the
//!   encoders of `cuelab-models` through the SQLite embedding cache).
//! - [`batch`]: the encoder batch, explicit or chosen from memory (the cost model).
//! - [`exact`]: blocked matrix products over L2-normalised CLIP embeddings, never an n x n
//!   matrix; DINOv2 cosines only for the CLIP candidates.
//! - [`approx`]: the same candidates from an HNSW index (approximate, for corpora past a few
//!   million images).
//! - [`run`]: the resumable, sharded work directory (one file per finished row block), merging
//!   shards, and the final selection (near-duplicates flagged and excluded, sorted by gap).
//! - [`output`]: `pairs.parquet`, `pairs.jsonl`, the contact sheet and the MMVP-layout skeleton.
//!
//! Threshold edges (the same in the NumPy reference `tools/reference/mine/`):
//! a pair is a CLIP candidate when `clip >= clip_min` (inclusive); a candidate is CLIP-blind
//! when `dino < dino_max` (exclusive) and a near-duplicate when `dino >= dedup` (inclusive).

pub mod approx;
pub mod batch;
pub mod embeddings;
pub mod exact;
pub mod output;
pub mod pipeline;
mod report;
pub mod run;
pub mod study;

use serde::{Deserialize, Serialize};

use crate::error::{Result, TaskError};

/// The three thresholds of the search.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// CLIP cosine at or above which a pair is a candidate (paper: 0.95).
    pub clip_min: f32,
    /// DINOv2 cosine below which a candidate is CLIP-blind (paper: 0.6).
    pub dino_max: f32,
    /// DINOv2 cosine at or above which a candidate is a near-duplicate (the same photo twice).
    pub dedup: f32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            clip_min: 0.95,
            dino_max: 0.6,
            dedup: 0.98,
        }
    }
}

impl Thresholds {
    /// Check that the thresholds are cosines and that `dino_max < dedup` (a pair cannot be both
    /// CLIP-blind and a near-duplicate).
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("clip-min", self.clip_min),
            ("dino-max", self.dino_max),
            ("dedup", self.dedup),
        ] {
            if !(-1.0..=1.0).contains(&v) {
                return Err(TaskError::Config(format!(
                    "--{name} {v}: a cosine lies in [-1, 1]"
                )));
            }
        }
        if self.dino_max >= self.dedup {
            return Err(TaskError::Config(format!(
                "--dino-max {} must be below --dedup {}",
                self.dino_max, self.dedup
            )));
        }
        Ok(())
    }

    /// What a pair with CLIP cosine `clip` (already `>= clip_min`) and DINOv2 cosine `dino` is.
    pub fn classify(&self, dino: f32) -> Option<Kind> {
        if dino < self.dino_max {
            Some(Kind::Blind)
        } else if dino >= self.dedup {
            Some(Kind::Duplicate)
        } else {
            None
        }
    }
}

/// What a recorded candidate pair is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// CLIP-alike, DINOv2-different: a CLIP-blind pair.
    Blind,
    /// DINOv2 cosine at or above `dedup`: the same image twice.
    Duplicate,
}

/// One recorded pair of rows `i < j`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The first row (smaller index).
    pub i: u32,
    /// The second row.
    pub j: u32,
    /// CLIP cosine.
    pub clip: f32,
    /// DINOv2 cosine.
    pub dino: f32,
    /// Blind pair or near-duplicate.
    pub kind: Kind,
}

impl Candidate {
    /// CLIP cosine minus DINOv2 cosine: how much more alike CLIP finds the pair.
    pub fn gap(&self) -> f32 {
        self.clip - self.dino
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_edges() {
        let t = Thresholds {
            clip_min: 0.9,
            dino_max: 0.5,
            dedup: 0.75,
        };
        assert_eq!(t.classify(0.5), None, "dino_max is exclusive");
        assert_eq!(t.classify(0.499), Some(Kind::Blind));
        assert_eq!(
            t.classify(0.75),
            Some(Kind::Duplicate),
            "dedup is inclusive"
        );
        assert_eq!(t.classify(0.7499), None);
        assert!(Thresholds { dedup: 0.5, ..t }.validate().is_err());
        assert!(Thresholds { clip_min: 1.5, ..t }.validate().is_err());
    }
}
