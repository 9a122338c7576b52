//! Criterion benchmark: tokenise + CIDEr-D + BLEU + ROUGE-L on a synthetic 1,000-image set.

#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use cuelab_metrics::{evaluate, CaptionSet};

fn synthetic(n: usize) -> CaptionSet {
    const WORDS: [&str; 16] = [
        "a", "man", "dog", "riding", "red", "bike", "on", "the", "street", "near", "two", "people",
        "standing", "in", "park", "with",
    ];
    let mut set = CaptionSet::default();
    let mut x: u64 = 42;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) as usize
    };
    let caption = |next: &mut dyn FnMut() -> usize| {
        let len = 6 + next() % 10;
        let mut s: Vec<&str> = (0..len).map(|_| WORDS[next() % WORDS.len()]).collect();
        s[0] = "A";
        format!("{}.", s.join(" "))
    };
    for i in 0..n {
        let refs = (0..5).map(|_| caption(&mut next)).collect();
        set.refs.insert(i.to_string(), refs);
        set.cands.insert(i.to_string(), caption(&mut next));
    }
    set
}

fn bench(c: &mut Criterion) {
    let set = synthetic(1000);
    c.bench_function("evaluate_1000x5", |b| b.iter(|| evaluate(&set)));
}

criterion_group!(benches, bench);
criterion_main!(benches);
