//! Token interning and n-gram counting shared by CIDEr-D and BLEU.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// An n-gram (n ≤ 4) packed into one integer: the order in the top bits, then up to four token ids.
pub type NgramKey = u128;

/// Maximum n-gram order used by CIDEr-D and BLEU.
pub const MAX_N: usize = 4;

/// A small, fast, non-cryptographic hasher for integer keys.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u128(&mut self, i: u128) {
        self.write_u64(i as u64);
        self.write_u64((i >> 64) as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}

/// HashMap with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// Interns token strings into dense `u32` ids.
#[derive(Default)]
pub struct Interner {
    ids: FastMap<String, u32>,
}

impl Interner {
    /// The id of `token`, assigning a new one on first sight.
    pub fn id(&mut self, token: &str) -> u32 {
        if let Some(&id) = self.ids.get(token) {
            return id;
        }
        let id = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        self.ids.insert(token.to_string(), id);
        id
    }
}

/// The order (1..=4) of a packed n-gram.
pub fn order(key: NgramKey) -> usize {
    (key >> 124) as usize
}

/// Sorted `(n-gram, count)` pairs for all n-grams of order 1..=`MAX_N` of `tokens`.
pub fn count_ngrams(tokens: &[u32]) -> Vec<(NgramKey, u32)> {
    let mut keys: Vec<NgramKey> = Vec::with_capacity(tokens.len() * MAX_N);
    for k in 1..=MAX_N {
        if tokens.len() < k {
            break;
        }
        for w in tokens.windows(k) {
            let mut key: NgramKey = (k as u128) << 124;
            for (j, &t) in w.iter().enumerate() {
                key |= u128::from(t) << (31 * j);
            }
            keys.push(key);
        }
    }
    keys.sort_unstable();
    let mut out: Vec<(NgramKey, u32)> = Vec::with_capacity(keys.len());
    for key in keys {
        match out.last_mut() {
            Some((k, c)) if *k == key => *c += 1,
            _ => out.push((key, 1)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_all_orders() {
        let c = count_ngrams(&[1, 2, 1, 2]);
        let total: u32 = c.iter().map(|x| x.1).sum();
        assert_eq!(total, 4 + 3 + 2 + 1);
        let uni: Vec<_> = c.iter().filter(|x| order(x.0) == 1).collect();
        assert_eq!(uni.len(), 2);
        assert!(uni.iter().all(|x| x.1 == 2));
    }
}
