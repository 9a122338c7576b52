//! The miner's work directory: a manifest (`mine.json`: inputs' fingerprint, thresholds, block
//! size, mode), one file per finished row block (`blocks/block-NNNNNN.json`, written to a
//! temporary file then renamed), and the input labels (`inputs.txt`). A rerun skips finished
//! blocks; a rerun with other inputs or settings is refused. Shards (`I/N`) take the row blocks
//! `b` with `b % N == I`; [`collect`] joins the blocks of one or more shard directories and
//! refuses an incomplete or mixed set, and [`select`] makes the final pair list.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::approx::{AnnIndex, AnnParams};
use super::embeddings::{read_list, Embeddings};
use super::exact::{check_aligned, row_blocks, search_rows, SearchStats};
use super::{Candidate, Kind, Thresholds};
use crate::error::{Result, TaskError};

/// Exact (blocked products) or approximate (HNSW) search.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Blocked matrix products; `chunk` columns per tile.
    Exact {
        /// Columns per tile.
        chunk: usize,
    },
    /// HNSW index.
    Approx(AnnParams),
}

/// What a run searches with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MineConfig {
    /// The thresholds.
    pub thresholds: Thresholds,
    /// Rows per row block (the unit of resuming and sharding).
    pub block: usize,
    /// Exact or approximate.
    pub mode: Mode,
}

impl Default for MineConfig {
    fn default() -> Self {
        MineConfig {
            thresholds: Thresholds::default(),
            block: 2048,
            mode: Mode::Exact { chunk: 4096 },
        }
    }
}

/// The manifest of a work directory (`mine.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Number of rows.
    pub n: usize,
    /// CLIP embedding size.
    pub clip_dim: usize,
    /// DINOv2 embedding size.
    pub dino_dim: usize,
    /// SHA-256 of the labels and both (normalised) matrices.
    pub fingerprint: String,
    /// The configuration.
    pub config: MineConfig,
    /// Number of row blocks.
    pub blocks: usize,
}

/// One finished row block as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct BlockFile {
    block: usize,
    rows: [usize; 2],
    stats: StoredStats,
    pairs: Vec<Candidate>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct StoredStats {
    gemm_secs: f64,
    scan_secs: f64,
    gemm_flops: f64,
    clip_candidates: u64,
}

/// What [`search`] did.
#[derive(Debug, Clone, Default)]
pub struct SearchReport {
    /// Row blocks searched by this call.
    pub searched: usize,
    /// Row blocks of this shard already finished before (resumed).
    pub skipped: usize,
    /// Figures of the blocks searched now.
    pub stats: SearchStats,
    /// Seconds building the HNSW index (approximate mode).
    pub index_secs: f64,
    /// Wall seconds of the search.
    pub secs: f64,
}

/// The manifest file of a work directory.
pub fn manifest_path(dir: &Path) -> PathBuf {
    dir.join("mine.json")
}

fn block_path(dir: &Path, b: usize) -> PathBuf {
    dir.join("blocks").join(format!("block-{b:06}.json"))
}

/// SHA-256 of the labels and the values of both matrices.
pub fn fingerprint(clip: &Embeddings, dino: &Embeddings) -> String {
    let mut h = Sha256::new();
    for l in &clip.labels {
        h.update((l.len() as u64).to_le_bytes());
        h.update(l.as_bytes());
    }
    for e in [clip, dino] {
        h.update((e.dim as u64).to_le_bytes());
        for v in &e.data {
            h.update(v.to_le_bytes());
        }
    }
    format!("{:x}", h.finalize())
}

/// Write `bytes` to `path` through a temporary file beside it and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| TaskError::io(dir, e))?;
    let mut tmp = cuelab_cue::atomic_file_in(dir).map_err(|e| TaskError::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| TaskError::io(path, e))?;
    tmp.persist(path)
        .map_err(|e| TaskError::io(path, e.error))?;
    Ok(())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| TaskError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| TaskError::Invalid {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn manifest_hash(m: &Manifest) -> String {
    let text = serde_json::to_string(m).unwrap_or_default();
    format!("{:x}", Sha256::digest(text.as_bytes()))[..16].to_string()
}

/// Create the work directory's manifest and `inputs.txt`, or check that an existing one was made
/// from the same inputs and settings.
pub fn prepare(
    dir: &Path,
    clip: &Embeddings,
    dino: &Embeddings,
    config: &MineConfig,
) -> Result<Manifest> {
    config.thresholds.validate()?;
    check_aligned(clip, dino)?;
    if config.block == 0 {
        return Err(TaskError::Config("--block must be at least 1".into()));
    }
    let manifest = Manifest {
        n: clip.len(),
        clip_dim: clip.dim,
        dino_dim: dino.dim,
        fingerprint: fingerprint(clip, dino),
        config: *config,
        blocks: clip.len().div_ceil(config.block),
    };
    let path = manifest_path(dir);
    if path.is_file() {
        let found: Manifest = read_json(&path)?;
        if found != manifest {
            return Err(TaskError::RunMismatch {
                dir: dir.to_path_buf(),
                found: manifest_hash(&found),
                expected: manifest_hash(&manifest),
            });
        }
    } else {
        let text = serde_json::to_string_pretty(&manifest)
            .map_err(|e| TaskError::Config(e.to_string()))?;
        write_atomic(&path, text.as_bytes())?;
        let mut labels = clip.labels.join("\n");
        labels.push('\n');
        write_atomic(&dir.join("inputs.txt"), labels.as_bytes())?;
    }
    Ok(manifest)
}

/// Search the row blocks of `shard` (all when `None`) that are not finished yet, writing one
/// block file each. Both matrices must be L2-normalised; call [`prepare`] first.
pub fn search(
    dir: &Path,
    clip: &Embeddings,
    dino: &Embeddings,
    manifest: &Manifest,
    shard: Option<(usize, usize)>,
    progress: bool,
) -> Result<SearchReport> {
    let start = Instant::now();
    let cfg = &manifest.config;
    let mine: Vec<usize> = (0..manifest.blocks)
        .filter(|b| shard.is_none_or(|(i, n)| b % n == i))
        .collect();
    let todo: Vec<usize> = mine
        .iter()
        .copied()
        .filter(|&b| !block_path(dir, b).is_file())
        .collect();
    let mut report = SearchReport {
        skipped: mine.len() - todo.len(),
        ..SearchReport::default()
    };
    if todo.is_empty() {
        return Ok(report);
    }
    let index = match cfg.mode {
        Mode::Approx(p) => {
            let t = Instant::now();
            let idx = AnnIndex::build(clip, p)?;
            report.index_secs = t.elapsed().as_secs_f64();
            tracing::info!(secs = report.index_secs, "built the HNSW index");
            Some(idx)
        }
        Mode::Exact { .. } => None,
    };
    let ranges = row_blocks(manifest.n, cfg.block);
    let bar = if progress {
        ProgressBar::new(todo.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template("row blocks {bar:40} {pos}/{len} eta {eta}") {
        bar.set_style(style);
    }
    for b in todo {
        let rows = ranges[b].clone();
        let (pairs, stats) = match (&index, cfg.mode) {
            (Some(idx), _) => idx.search_rows(clip, dino, rows.clone(), &cfg.thresholds),
            (None, Mode::Exact { chunk }) => {
                search_rows(clip, dino, rows.clone(), chunk, &cfg.thresholds)?
            }
            (None, Mode::Approx(_)) => unreachable!("the index is built in approximate mode"),
        };
        report.stats.add(&stats);
        let file = BlockFile {
            block: b,
            rows: [rows.start, rows.end],
            stats: StoredStats {
                gemm_secs: stats.gemm_secs,
                scan_secs: stats.scan_secs,
                gemm_flops: stats.gemm_flops,
                clip_candidates: stats.clip_candidates,
            },
            pairs,
        };
        let text = serde_json::to_string(&file).map_err(|e| TaskError::Config(e.to_string()))?;
        write_atomic(&block_path(dir, b), text.as_bytes())?;
        report.searched += 1;
        bar.inc(1);
    }
    bar.finish_and_clear();
    report.secs = start.elapsed().as_secs_f64();
    Ok(report)
}

/// The recorded pairs of one or more work directories of the same run (shards), with the labels.
#[derive(Debug, Clone)]
pub struct Collected {
    /// The shared manifest.
    pub manifest: Manifest,
    /// The input labels.
    pub labels: Vec<String>,
    /// Every recorded pair once, sorted by `(i, j)`.
    pub candidates: Vec<Candidate>,
    /// Figures summed over every block.
    pub stats: SearchStats,
}

/// Join the finished blocks of `dirs` (shards of one run: same manifest). Every row block must
/// be present in at least one of them; the missing ones are listed otherwise.
pub fn collect(dirs: &[PathBuf]) -> Result<Collected> {
    let Some(first) = dirs.first() else {
        return Err(TaskError::Config("no work directory to collect".into()));
    };
    let manifest: Manifest = read_json(&manifest_path(first))?;
    let mut blocks: BTreeMap<usize, BlockFile> = BTreeMap::new();
    for dir in dirs {
        let m: Manifest = read_json(&manifest_path(dir))?;
        if m != manifest {
            return Err(TaskError::RunMismatch {
                dir: dir.clone(),
                found: manifest_hash(&m),
                expected: manifest_hash(&manifest),
            });
        }
        for b in 0..manifest.blocks {
            let p = block_path(dir, b);
            if !blocks.contains_key(&b) && p.is_file() {
                let file: BlockFile = read_json(&p)?;
                if file.block != b {
                    return Err(TaskError::Invalid {
                        path: p,
                        message: format!("holds block {}", file.block),
                    });
                }
                blocks.insert(b, file);
            }
        }
    }
    let missing: Vec<usize> = (0..manifest.blocks)
        .filter(|b| !blocks.contains_key(b))
        .collect();
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(10).map(usize::to_string).collect();
        return Err(TaskError::Config(format!(
            "{} of {} row blocks are not finished (e.g. {}): run the missing shards, or resume them",
            missing.len(),
            manifest.blocks,
            shown.join(", ")
        )));
    }
    let labels = read_list(&first.join("inputs.txt"))?;
    if labels.len() != manifest.n {
        return Err(TaskError::Invalid {
            path: first.join("inputs.txt"),
            message: format!("{} labels for {} rows", labels.len(), manifest.n),
        });
    }
    let mut stats = SearchStats::default();
    let mut candidates = Vec::new();
    for f in blocks.into_values() {
        stats.add(&SearchStats {
            gemm_secs: f.stats.gemm_secs,
            scan_secs: f.stats.scan_secs,
            gemm_flops: f.stats.gemm_flops,
            clip_candidates: f.stats.clip_candidates,
        });
        candidates.extend(f.pairs);
    }
    candidates.sort_by_key(|c| (c.i, c.j));
    candidates.dedup_by_key(|c| (c.i, c.j));
    Ok(Collected {
        manifest,
        labels,
        candidates,
        stats,
    })
}

/// The final selection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// CLIP-blind pairs without near-duplicate rows, by gap (largest first; ties by `(i, j)`).
    pub pairs: Vec<Candidate>,
    /// Near-duplicate pairs (`dino >= dedup`), sorted by `(i, j)`.
    pub duplicates: Vec<Candidate>,
    /// Rows excluded as near-duplicates of a smaller row (each group keeps its smallest row).
    pub excluded: Vec<u32>,
}

fn find(parent: &mut BTreeMap<u32, u32>, x: u32) -> u32 {
    let mut root = x;
    while let Some(&p) = parent.get(&root) {
        if p == root {
            break;
        }
        root = p;
    }
    let mut cur = x;
    while cur != root {
        let next = parent.get(&cur).copied().unwrap_or(root);
        parent.insert(cur, root);
        cur = next;
    }
    root
}

/// Split recorded pairs into near-duplicates and CLIP-blind pairs: rows joined by near-duplicate
/// pairs form groups that keep their smallest row; blind pairs touching another row of a group
/// are dropped (the same photo would otherwise appear in several pairs).
pub fn select(candidates: &[Candidate]) -> Selection {
    let mut parent: BTreeMap<u32, u32> = BTreeMap::new();
    let duplicates: Vec<Candidate> = candidates
        .iter()
        .filter(|c| c.kind == Kind::Duplicate)
        .copied()
        .collect();
    for c in &duplicates {
        let (a, b) = (find(&mut parent, c.i), find(&mut parent, c.j));
        if a != b {
            let (lo, hi) = (a.min(b), a.max(b));
            parent.insert(hi, lo);
            parent.entry(lo).or_insert(lo);
        }
    }
    let keys: Vec<u32> = parent.keys().copied().collect();
    let excluded: Vec<u32> = keys
        .into_iter()
        .filter(|&x| find(&mut parent, x) != x)
        .collect();
    let mut pairs: Vec<Candidate> = candidates
        .iter()
        .filter(|c| {
            c.kind == Kind::Blind
                && excluded.binary_search(&c.i).is_err()
                && excluded.binary_search(&c.j).is_err()
        })
        .copied()
        .collect();
    pairs.sort_by(|a, b| {
        b.gap()
            .total_cmp(&a.gap())
            .then((a.i, a.j).cmp(&(b.i, b.j)))
    });
    Selection {
        pairs,
        duplicates,
        excluded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(i: u32, j: u32, dino: f32, kind: Kind) -> Candidate {
        Candidate {
            i,
            j,
            clip: 0.99,
            dino,
            kind,
        }
    }

    #[test]
    fn duplicates_are_grouped_and_excluded() {
        let c = vec![
            cand(0, 5, 0.1, Kind::Blind),
            cand(1, 2, 0.99, Kind::Duplicate),
            cand(2, 3, 0.99, Kind::Duplicate),
            cand(0, 1, 0.3, Kind::Blind),
            cand(0, 3, 0.2, Kind::Blind),
            cand(4, 5, 0.5, Kind::Blind),
        ];
        let s = select(&c);
        assert_eq!(s.excluded, vec![2, 3]);
        assert_eq!(s.duplicates.len(), 2);
        let kept: Vec<(u32, u32)> = s.pairs.iter().map(|c| (c.i, c.j)).collect();
        assert_eq!(kept, vec![(0, 5), (0, 1), (4, 5)], "sorted by gap");
    }
}
