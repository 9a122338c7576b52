//! Where the debias prompts of the red-circle method come from, and how they are drawn.
//!
//! Seed 004 (§6.2, after Shtedritski et al.) draws its debias prompts at random, **with
//! replacement**, from the referring expressions of the **training** split, and subtracts from
//! each given prompt's similarity to a visual prompt the mean similarity of that visual prompt
//! over the debias prompts *together with* the given prompts of the sample (every expression of
//! the referent). Three pools are offered:
//!
//! * [`PoolKind::Train`] — the seed's method (default for RefCOCO): the training split's
//!   expressions, drawn with replacement, mean over debias ∪ given prompts;
//! * [`PoolKind::File`] — one prompt per line of a text file, same formula as `train`;
//! * [`PoolKind::Eval`] — cuelab's earlier behaviour (default for other data): distinct
//!   expressions of the evaluated samples, drawn without replacement, mean over the debias
//!   prompts only. It lets test expressions into the method; kept to reproduce earlier runs.
//!
//! Draws with replacement use SplitMix64 seeded with the run's seed, index `next() % len`, so a
//! reference implementation can repeat them exactly (`tools/reference/tasks/make_fixtures.py`).

use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TaskError};

/// The source of debias prompts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolKind {
    /// The training split's expressions (seed 004).
    Train,
    /// The evaluated samples' own expressions (cuelab before issue 13).
    Eval,
    /// One prompt per line of a file.
    File(PathBuf),
}

impl PoolKind {
    /// Parse `train`, `eval` or a file path.
    pub fn parse(text: &str) -> Self {
        match text {
            "train" => PoolKind::Train,
            "eval" => PoolKind::Eval,
            path => PoolKind::File(PathBuf::from(path)),
        }
    }

    /// The spelling [`PoolKind::parse`] reads.
    pub fn spec(&self) -> String {
        match self {
            PoolKind::Train => "train".into(),
            PoolKind::Eval => "eval".into(),
            PoolKind::File(p) => p.display().to_string(),
        }
    }
}

/// A resolved debias pool: the expressions prompts are drawn from and how.
#[derive(Debug, Clone, PartialEq)]
pub struct DebiasPool {
    /// Where the expressions came from.
    pub kind: PoolKind,
    /// The expressions (before the variant's template), in source order, duplicates kept.
    pub expressions: Vec<String>,
    /// Draw with replacement (seed 004) or distinct expressions without replacement.
    pub with_replacement: bool,
}

impl DebiasPool {
    /// cuelab's earlier pool: the evaluated expressions, without replacement, mean over the
    /// debias prompts only.
    pub fn eval(expressions: Vec<String>) -> Self {
        DebiasPool {
            kind: PoolKind::Eval,
            expressions,
            with_replacement: false,
        }
    }

    /// Whether the given prompts of a sample join the debias prompts in the mean that is
    /// subtracted (seed 004's formula; not for the `eval` pool, which keeps the earlier one).
    pub fn includes_given(&self) -> bool {
        self.kind != PoolKind::Eval
    }

    /// Draw `n` expressions with `seed`: with replacement, `n` SplitMix64 draws over the pool
    /// as it is; without, the distinct expressions shuffled (ChaCha8) and cut to `n`.
    pub fn draw(&self, n: usize, seed: u64) -> Vec<String> {
        if n == 0 || self.expressions.is_empty() {
            return Vec::new();
        }
        if self.with_replacement {
            let mut rng = SplitMix64(seed);
            let len = self.expressions.len() as u64;
            (0..n)
                .map(|_| self.expressions[(rng.next_u64() % len) as usize].clone())
                .collect()
        } else {
            let mut pool = self.expressions.clone();
            pool.sort();
            pool.dedup();
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            pool.shuffle(&mut rng);
            pool.truncate(n);
            pool
        }
    }

    /// What the manifest records: kind, size, replacement, and a hash of the expressions.
    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "pool": self.kind.spec(),
            "expressions": self.expressions.len(),
            "with_replacement": self.with_replacement,
            "mean_includes_given_prompts": self.includes_given(),
            "expressions_hash": crate::grounding::short_hash(&self.expressions.join("\n")),
        })
    }
}

/// Read a pool file: one prompt per line (UTF-8), surrounding whitespace trimmed, blank lines
/// skipped. An unreadable file or one without prompts is an error.
pub fn read_pool_file(path: &Path) -> Result<Vec<String>> {
    let bytes = std::fs::read(path).map_err(|e| TaskError::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        TaskError::Config(format!(
            "{}: debias pool is not UTF-8 (byte {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })?;
    let prompts: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if prompts.is_empty() {
        return Err(TaskError::Config(format!(
            "{}: debias pool file has no prompts (one per line expected)",
            path.display()
        )));
    }
    Ok(prompts)
}

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny generator a reference script can repeat.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_known_values() {
        // Reference values of SplitMix64 seeded with 0.
        let mut r = SplitMix64(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn with_replacement_repeats_and_keeps_duplicates() {
        let pool = DebiasPool {
            kind: PoolKind::Train,
            expressions: vec!["a".into(), "b".into(), "b".into()],
            with_replacement: true,
        };
        let d = pool.draw(50, 7);
        assert_eq!(d.len(), 50);
        assert_eq!(d, pool.draw(50, 7));
        assert_ne!(d, pool.draw(50, 8));
        let bs = d.iter().filter(|x| *x == "b").count();
        assert!(bs > 25, "duplicates weigh the draw: {bs} of 50");
        assert!(pool.includes_given());
    }

    #[test]
    fn without_replacement_is_distinct_and_capped() {
        let pool = DebiasPool::eval(vec!["x".into(), "y".into(), "x".into()]);
        let mut d = pool.draw(10, 0);
        d.sort();
        assert_eq!(d, vec!["x", "y"]);
        assert!(!pool.includes_given());
    }

    #[test]
    fn pool_file_errors_are_clear() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("pool.txt");
        std::fs::write(&p, "  a red thing \n\n\tthe dog\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            read_pool_file(&p).unwrap_or_else(|e| panic!("{e}")),
            vec!["a red thing", "the dog"]
        );
        std::fs::write(&p, " \n\n").unwrap_or_else(|e| panic!("{e}"));
        assert!(read_pool_file(&p)
            .unwrap_err()
            .to_string()
            .contains("no prompts"));
        assert!(read_pool_file(&dir.path().join("missing.txt")).is_err());
        assert_eq!(PoolKind::parse("train"), PoolKind::Train);
        assert_eq!(PoolKind::parse("p.txt").spec(), "p.txt");
    }
}
