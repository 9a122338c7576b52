//! A small, seeded mutation fuzzer that runs on stable Rust inside `cargo test`.
//!
//! Each target is a function from bytes to "anything but a panic": it may return an error, but
//! it must not panic, abort or hang. [`fuzz`] starts from a committed seed corpus
//! (`corpus/<target>/`), applies random structural mutations (bit flips, byte edits, insertions
//! of tokens that parsers trip over, deletions, duplications, truncations, splices of two
//! inputs) and calls the target under `catch_unwind`. Every run is reproducible from its seed;
//! inputs that panic are written to a findings folder so they can be turned into regression
//! cases.
//!
//! ```
//! use cuelab_fuzz::{fuzz, FuzzOptions};
//! let corpus = vec![b"1,2,3".to_vec()];
//! let report = fuzz("digits", &corpus, &FuzzOptions { iterations: 200, ..Default::default() }, |bytes| {
//!     let _ = std::str::from_utf8(bytes).map(|s| s.split(',').map(str::parse::<u32>).count());
//! });
//! assert_eq!(report.panics, 0);
//! assert_eq!(report.executions, 201);
//! ```

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Tokens inserted by the mutator: delimiters and values that parsers mishandle.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"(",
    b")",
    b"=",
    b"+",
    b"\n",
    b"\r\n",
    b"\0",
    b"-1",
    b"0",
    b"-0",
    b"1e309",
    b"-1e309",
    b"NaN",
    b"nan",
    b"inf",
    b"null",
    b"true",
    b"4294967296",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"99999999999999999999",
    b"\xff\xfe",
    b"\xc3\x28",
    b"\xe2\x82",
    b"\xf0\x9f\x98\x80",
    b"\\u0000",
    b"\\ud800",
    b"    ",
    b"\t",
];

/// How long and from which seed to fuzz.
#[derive(Debug, Clone)]
pub struct FuzzOptions {
    /// Mutated inputs to try (the unmutated corpus entries are tried too).
    pub iterations: usize,
    /// RNG seed (every run is reproducible from it).
    pub seed: u64,
    /// Largest input produced, in bytes.
    pub max_len: usize,
    /// Where inputs that panic are written (`<dir>/<target>/<n>.bin`); none when `None`.
    pub findings: Option<PathBuf>,
}

impl Default for FuzzOptions {
    fn default() -> Self {
        FuzzOptions {
            iterations: 1000,
            seed: 0,
            max_len: 1 << 20,
            findings: None,
        }
    }
}

/// What a fuzzing run saw.
#[derive(Debug, Clone, Default)]
pub struct FuzzReport {
    /// The target's name.
    pub target: String,
    /// Inputs the target was called with.
    pub executions: usize,
    /// Inputs on which the target panicked.
    pub panics: usize,
    /// The first few panic messages, with the input's length.
    pub panic_messages: Vec<String>,
}

/// Fuzz `target` from `corpus`; see the crate docs.
pub fn fuzz(
    name: &str,
    corpus: &[Vec<u8>],
    opts: &FuzzOptions,
    target: impl Fn(&[u8]),
) -> FuzzReport {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed ^ hash_name(name));
    let mut report = FuzzReport {
        target: name.to_string(),
        ..Default::default()
    };
    let seeds: Vec<Vec<u8>> = if corpus.is_empty() {
        vec![Vec::new()]
    } else {
        corpus.to_vec()
    };
    let run_one = |input: &[u8], report: &mut FuzzReport| {
        report.executions += 1;
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| target(input))) {
            report.panics += 1;
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "non-string panic".into());
            if report.panic_messages.len() < 10 {
                report
                    .panic_messages
                    .push(format!("{msg} (input of {} bytes)", input.len()));
            }
            if let Some(dir) = &opts.findings {
                save_finding(dir, name, report.panics, input);
            }
        }
    };
    for s in &seeds {
        run_one(s, &mut report);
    }
    for _ in 0..opts.iterations {
        let base = &seeds[rng.gen_range(0..seeds.len())];
        let other = &seeds[rng.gen_range(0..seeds.len())];
        let input = mutate(&mut rng, base, other, opts.max_len);
        run_one(&input, &mut report);
    }
    report
}

/// Apply 1–4 random mutations to `base` (`other` is used for splices).
pub fn mutate(rng: &mut impl Rng, base: &[u8], other: &[u8], max_len: usize) -> Vec<u8> {
    let mut data = base.to_vec();
    let rounds = rng.gen_range(1..=4);
    for _ in 0..rounds {
        let len = data.len();
        match rng.gen_range(0..9) {
            0 if len > 0 => {
                let i = rng.gen_range(0..len);
                data[i] ^= 1 << rng.gen_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.gen_range(0..len);
                data[i] = rng.gen();
            }
            2 => {
                let i = rng.gen_range(0..=len);
                let tok = TOKENS[rng.gen_range(0..TOKENS.len())];
                data.splice(i..i, tok.iter().copied());
            }
            3 if len > 0 => {
                let a = rng.gen_range(0..len);
                let b = (a + rng.gen_range(1..=16.min(len - a))).min(len);
                data.drain(a..b);
            }
            4 if len > 0 => {
                let a = rng.gen_range(0..len);
                let b = (a + rng.gen_range(1..=64.min(len - a))).min(len);
                let chunk: Vec<u8> = data[a..b].to_vec();
                let at = rng.gen_range(0..=data.len());
                data.splice(at..at, chunk);
            }
            5 if len > 0 => {
                data.truncate(rng.gen_range(0..len));
            }
            6 if !other.is_empty() && len > 0 => {
                let cut = rng.gen_range(0..len);
                let from = rng.gen_range(0..other.len());
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            7 if len > 0 => {
                // Replace a run of ASCII digits with an extreme number.
                let i = rng.gen_range(0..len);
                if data[i].is_ascii_digit() {
                    let mut j = i;
                    while j < data.len() && data[j].is_ascii_digit() {
                        j += 1;
                    }
                    let tok = TOKENS[rng.gen_range(15..29)];
                    data.splice(i..j, tok.iter().copied());
                }
            }
            _ => {
                let i = rng.gen_range(0..=len);
                let n = rng.gen_range(1..=8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
                data.splice(i..i, bytes);
            }
        }
    }
    data.truncate(max_len);
    data
}

/// Read every file of a corpus folder (sorted by name, so runs are reproducible).
pub fn read_corpus(dir: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths.iter().map(std::fs::read).collect()
}

fn save_finding(dir: &Path, name: &str, n: usize, input: &[u8]) {
    let d = dir.join(name);
    if std::fs::create_dir_all(&d).is_ok() {
        let _ = std::fs::write(d.join(format!("{n}.bin")), input);
    }
}

fn hash_name(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
