//! The order options are shown in.
//!
//! Datasets often put the right answer in the same place (MMVP's pairs, generated questions), and
//! models have position biases, so by default the options are reordered with the run's seed such
//! that the correct option visits every position equally often (`balanced`). The permutation
//! depends only on the seed and the question's id, so every cue variant of a question shows the
//! same order — the paired comparison against plain is about the cue, not the order.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use super::config::ChoiceOrder;

/// A 64-bit seed from the run seed and a question id.
fn question_seed(seed: u64, id: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(id.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_le_bytes(b)
}

/// The shown order as indices into the original choices: `shown[k]` is the original index of the
/// option shown at position `k`. `ordinal` is the question's position in the (id-sorted) item list,
/// used by `balanced` to cycle the correct option through the positions.
pub fn shown_order(
    order: ChoiceOrder,
    seed: u64,
    id: &str,
    ordinal: usize,
    n: usize,
    correct: Option<usize>,
) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(question_seed(seed, id));
    match order {
        ChoiceOrder::Keep => (0..n).collect(),
        ChoiceOrder::Shuffle => {
            let mut v: Vec<usize> = (0..n).collect();
            v.shuffle(&mut rng);
            v
        }
        ChoiceOrder::Balanced => {
            let Some(correct) = correct.filter(|&c| c < n) else {
                let mut v: Vec<usize> = (0..n).collect();
                v.shuffle(&mut rng);
                return v;
            };
            let mut others: Vec<usize> = (0..n).filter(|&i| i != correct).collect();
            others.shuffle(&mut rng);
            let at = ordinal % n;
            others.insert(at, correct);
            others
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_cycles_the_correct_position_and_is_a_permutation() {
        let mut positions = [0usize; 4];
        for ordinal in 0..40 {
            let v = shown_order(
                ChoiceOrder::Balanced,
                7,
                &format!("q{ordinal}"),
                ordinal,
                4,
                Some(2),
            );
            let mut sorted = v.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, vec![0, 1, 2, 3]);
            positions[v.iter().position(|&i| i == 2).unwrap()] += 1;
        }
        assert_eq!(positions, [10, 10, 10, 10]);
    }

    #[test]
    fn order_depends_on_seed_and_id_only() {
        let a = shown_order(ChoiceOrder::Shuffle, 1, "x", 0, 6, None);
        assert_eq!(a, shown_order(ChoiceOrder::Shuffle, 1, "x", 5, 6, Some(1)));
        let others: Vec<Vec<usize>> = (2..10)
            .map(|s| shown_order(ChoiceOrder::Shuffle, s, "x", 0, 6, None))
            .collect();
        assert!(others.iter().any(|o| *o != a));
        assert_eq!(
            shown_order(ChoiceOrder::Keep, 1, "x", 3, 3, Some(2)),
            vec![0, 1, 2]
        );
    }
}
