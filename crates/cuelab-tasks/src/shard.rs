//! Shards: which samples a run works on when a job is split over many processes.
//!
//! - A shard is `(index, count)`, written `I/N` (0-based).
//! - The partition is by a stable hash of each unit's key (its sample id, or the pair id of
//!   paired questions, see [`ShardKey`]): `shard_of(key, N)` is the first 8 bytes of
//!   SHA-256(key) read as a little-endian integer, modulo `N`. Adding samples to a dataset never
//!   moves an existing sample to another shard, so finished shard directories stay valid; the
//!   partition does not depend on the order of the data file either.
//! - `--shard auto` takes the shard from the scheduler: a Slurm job array
//!   (`SLURM_ARRAY_TASK_ID` minus `SLURM_ARRAY_TASK_MIN`, of `SLURM_ARRAY_TASK_COUNT` or
//!   `MAX - MIN + 1`; with `--shard auto/N`, task id `I` is shard `I/N`), or
//!   a Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`, with the count from `--shard auto/N` or
//!   `CUELAB_SHARD_COUNT`); `CUELAB_SHARD=I/N` also works. Neither set is an error that says
//!   what to set.

use sha2::{Digest, Sha256};

use crate::error::{Result, TaskError};

/// The name of the partition recorded in manifests (`shard_partition`): merges refuse to mix
/// shards made with different partitions.
pub const PARTITION: &str = "sha256-key";

/// A unit of work that can be assigned to a shard by a stable key.
pub trait ShardKey {
    /// The key the shard is chosen by (units with equal keys always land in the same shard).
    fn shard_key(&self) -> &str;
}

impl ShardKey for String {
    fn shard_key(&self) -> &str {
        self
    }
}

impl ShardKey for &str {
    fn shard_key(&self) -> &str {
        self
    }
}

/// Samples of the common format: by their id, or their pair's id, so pairs stay together.
impl ShardKey for cuelab_data::Sample {
    fn shard_key(&self) -> &str {
        self.pair_id.as_deref().unwrap_or(&self.id)
    }
}

/// The shard (of `count`) that `key` belongs to.
pub fn shard_of(key: &str, count: usize) -> usize {
    let digest = Sha256::digest(key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_le_bytes(first) % count.max(1) as u64) as usize
}

/// True when `key` belongs to `shard` (always true without a shard).
pub fn in_shard(key: &str, shard: Option<(usize, usize)>) -> bool {
    shard.is_none_or(|(i, n)| shard_of(key, n) == i)
}

fn bad_shard(text: &str) -> TaskError {
    TaskError::Config(format!(
        "--shard {text}: expected I/N with 0 <= I < N (e.g. 0/4), `auto` (from a Slurm job \
         array or a Kubernetes Indexed Job) or `auto/N` (Kubernetes: N completions)"
    ))
}

/// Parse an explicit shard `I/N` (0-based, `I < N`).
pub fn parse_exact(text: &str) -> Result<(usize, usize)> {
    let (i, n) = text.split_once('/').ok_or_else(|| bad_shard(text))?;
    let i: usize = i.trim().parse().map_err(|_| bad_shard(text))?;
    let n: usize = n.trim().parse().map_err(|_| bad_shard(text))?;
    if n == 0 || i >= n {
        return Err(bad_shard(text));
    }
    Ok((i, n))
}

/// Parse a `--shard` value: `I/N`, `auto` or `auto/N`, reading the environment of the process
/// for `auto`.
pub fn parse(text: &str) -> Result<(usize, usize)> {
    parse_with(text, |k| std::env::var(k).ok())
}

/// [`parse`] with the environment given as a lookup function (for tests).
pub fn parse_with(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<(usize, usize)> {
    let t = text.trim();
    let Some(rest) = t.strip_prefix("auto") else {
        return parse_exact(t);
    };
    let count = match rest {
        "" => None,
        r => match r
            .strip_prefix('/')
            .and_then(|n| n.trim().parse::<usize>().ok())
        {
            Some(n) if n > 0 => Some(n),
            _ => return Err(bad_shard(text)),
        },
    };
    from_env(count, env)
}

/// The shard from a scheduler's environment (see the module docs); `count` is the shard count
/// given on the command line (`auto/N`), used by Kubernetes Indexed Jobs.
pub fn from_env(
    count: Option<usize>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(usize, usize)> {
    let num = |name: &str| -> Result<Option<usize>> {
        match env(name) {
            None => Ok(None),
            Some(v) if v.trim().is_empty() => Ok(None),
            Some(v) => v.trim().parse::<usize>().map(Some).map_err(|_| {
                TaskError::Config(format!(
                    "--shard auto: {name}={v:?} is not a non-negative integer"
                ))
            }),
        }
    };
    let checked = |i: usize, n: usize, source: &str| -> Result<(usize, usize)> {
        if n == 0 || i >= n {
            return Err(TaskError::Config(format!(
                "--shard auto: {source} gives shard {i} of {n}, outside 0..{n}"
            )));
        }
        Ok((i, n))
    };
    if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
        // With the count given (`auto/N`) the task ids are the shard indices themselves, so a
        // resubmission of some tasks only (`--array=1,3`) keeps its shards.
        if let Some(n) = count {
            return checked(id, n, "the Slurm job array (task id of --shard auto/N)");
        }
        let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let n =
            match (num("SLURM_ARRAY_TASK_COUNT")?, num("SLURM_ARRAY_TASK_MAX")?) {
                (Some(n), _) => n,
                (None, Some(max)) if max >= min => max - min + 1,
                _ => return Err(TaskError::Config(
                    "--shard auto: SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT \
                     nor SLURM_ARRAY_TASK_MAX is; give the count as --shard auto/N"
                        .into(),
                )),
            };
        let i = id.checked_sub(min).ok_or_else(|| {
            TaskError::Config(format!(
                "--shard auto: SLURM_ARRAY_TASK_ID {id} is below SLURM_ARRAY_TASK_MIN {min}"
            ))
        })?;
        return checked(i, n, "the Slurm job array");
    }
    if let Some(i) = num("JOB_COMPLETION_INDEX")? {
        let n =
            match count.or(num("CUELAB_SHARD_COUNT")?) {
                Some(n) => n,
                None => return Err(TaskError::Config(
                    "--shard auto: JOB_COMPLETION_INDEX (Kubernetes Indexed Job) is set but the \
                     shard count is not: pass --shard auto/N or set CUELAB_SHARD_COUNT to the \
                     job's completions"
                        .into(),
                )),
            };
        return checked(i, n, "the Kubernetes Indexed Job");
    }
    if let Some(s) = env("CUELAB_SHARD") {
        return parse_exact(&s);
    }
    Err(TaskError::Config(
        "--shard auto: no job array in the environment: run it as a Slurm array task \
         (sbatch --array, sets SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT), a Kubernetes \
         Indexed Job (JOB_COMPLETION_INDEX, with --shard auto/N or CUELAB_SHARD_COUNT), or set \
         CUELAB_SHARD=I/N"
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        let m: HashMap<&str, &str> = pairs.iter().copied().collect();
        move |k| m.get(k).map(|v| v.to_string())
    }

    #[test]
    fn explicit_and_auto_shards() {
        assert_eq!(parse_exact("1/4").ok(), Some((1, 4)));
        for bad in ["4/4", "1", "a/2", "0/0", "auto/0", "auto/x", "autox"] {
            assert!(parse_with(bad, env(&[])).is_err(), "{bad}");
        }
        let slurm = [
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert_eq!(parse_with("auto", env(&slurm)).ok(), Some((2, 4)));
        // an array 1-4 (MIN/MAX only): shard = ID - MIN
        let minmax = [
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "4"),
        ];
        assert_eq!(parse_with("auto", env(&minmax)).ok(), Some((3, 4)));
        // auto/N: the task id is the shard (a resubmitted `--array=1,3` of 4)
        let partial = [
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
        ];
        assert_eq!(parse_with("auto/4", env(&partial)).ok(), Some((3, 4)));
        assert!(parse_with("auto", env(&partial)).is_err());
        let k8s = [("JOB_COMPLETION_INDEX", "5")];
        assert_eq!(parse_with("auto/8", env(&k8s)).ok(), Some((5, 8)));
        let k8s_env = [("JOB_COMPLETION_INDEX", "5"), ("CUELAB_SHARD_COUNT", "6")];
        assert_eq!(parse_with("auto", env(&k8s_env)).ok(), Some((5, 6)));
        let e = parse_with("auto", env(&k8s)).unwrap_err().to_string();
        assert!(e.contains("auto/N"), "{e}");
        let e = parse_with("auto/4", env(&k8s)).unwrap_err().to_string();
        assert!(e.contains("outside"), "{e}");
        let e = parse_with("auto", env(&[])).unwrap_err().to_string();
        assert!(
            e.contains("SLURM_ARRAY_TASK_ID") && e.contains("JOB_COMPLETION_INDEX"),
            "{e}"
        );
        assert_eq!(
            parse_with("auto", env(&[("CUELAB_SHARD", "1/3")])).ok(),
            Some((1, 3))
        );
    }

    #[test]
    fn the_partition_is_stable_and_balanced() {
        // Pinned values: changing the hash would orphan every finished shard directory.
        let got: Vec<usize> = ["scene0/0", "scene1/0", "ref123/0", ""]
            .iter()
            .map(|k| shard_of(k, 4))
            .collect();
        assert_eq!(got, PINNED);
        // Adding samples never moves old ones; shards are roughly even.
        let keys: Vec<String> = (0..4000).map(|i| format!("s{i}")).collect();
        let before: Vec<usize> = keys[..1000].iter().map(|k| shard_of(k, 4)).collect();
        let after: Vec<usize> = keys.iter().map(|k| shard_of(k, 4)).collect();
        assert_eq!(&after[..1000], &before[..]);
        for s in 0..4 {
            let c = after.iter().filter(|&&x| x == s).count();
            assert!((900..1100).contains(&c), "shard {s}: {c}");
        }
    }

    // computed independently: python3 -c "import hashlib; print(int.from_bytes(hashlib.sha256(k.encode()).digest()[:8], 'little') % 4)"
    const PINNED: [usize; 4] = [3, 2, 1, 3];
}
