//! Encoded images shared across requests: each image is encoded (or its original file read) once
//! and its data URL reused by every question that shows it.
//!
//! An entry is found by the image's allocation (`Arc` pointer, held as a `Weak`: an `Arc`'s
//! pixels cannot change while a `Weak` to it exists, since `Arc::get_mut` refuses and
//! `Arc::make_mut` moves them out) or, for another allocation, by a hash of the pixels confirmed
//! by comparing every byte. Entries whose image was dropped are evicted; the rest are kept up to a
//! byte budget, oldest first out. Nothing keeps an image alive.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};

use image::RgbImage;

use crate::remote::encode::EncodedImage;

/// Bytes of data URLs kept at most (64 MiB: ~500 640x480 JPEGs at quality 90).
pub const DEFAULT_BUDGET: usize = 64 << 20;

/// A 64-bit hash of an image's size and pixels (non-cryptographic; matches are confirmed by
/// comparing the pixels). Four independent multiply-rotate lanes over 8-byte words, several
/// GB/s on one core.
pub fn pixel_hash(image: &RgbImage) -> u64 {
    const K: [u64; 4] = [
        0x9E37_79B9_7F4A_7C15,
        0xC2B2_AE3D_27D4_EB4F,
        0x1656_67B1_9E37_79F9,
        0x85EB_CA77_C2B2_AE63,
    ];
    let raw = image.as_raw();
    let mut lanes = [
        K[0] ^ u64::from(image.width()),
        K[1] ^ u64::from(image.height()),
        K[2] ^ raw.len() as u64,
        K[3],
    ];
    let mut blocks = raw.chunks_exact(32);
    for block in &mut blocks {
        for (l, (lane, word)) in lanes.iter_mut().zip(block.chunks_exact(8)).enumerate() {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            *lane = (*lane ^ u64::from_le_bytes(w))
                .wrapping_mul(K[l])
                .rotate_left(29);
        }
    }
    let mut tail = lanes[0] ^ lanes[1].rotate_left(17) ^ lanes[2].rotate_left(31);
    tail ^= lanes[3].rotate_left(47);
    for &b in blocks.remainder() {
        tail = (tail ^ u64::from(b)).wrapping_mul(K[0]);
    }
    tail ^= tail >> 33;
    tail = tail.wrapping_mul(K[1]);
    tail ^ (tail >> 29)
}

struct Entry {
    image: Weak<RgbImage>,
    ptr: usize,
    hash: u64,
    encoded: Arc<EncodedImage>,
}

#[derive(Default)]
struct Inner {
    /// Insertion order (oldest first); `None` marks a removed entry.
    order: VecDeque<Option<Entry>>,
    /// Index offset of `order[0]` (indices below are stable ids).
    base: u64,
    by_ptr: HashMap<usize, u64>,
    by_hash: HashMap<u64, Vec<u64>>,
    bytes: usize,
}

impl Inner {
    fn get(&self, id: u64) -> Option<&Entry> {
        let k = usize::try_from(id.checked_sub(self.base)?).ok()?;
        self.order.get(k)?.as_ref()
    }

    fn remove(&mut self, id: u64) {
        let Some(k) = id
            .checked_sub(self.base)
            .and_then(|k| usize::try_from(k).ok())
        else {
            return;
        };
        let Some(entry) = self.order.get_mut(k).and_then(Option::take) else {
            return;
        };
        self.bytes -= entry.encoded.data_url.len();
        if self.by_ptr.get(&entry.ptr) == Some(&id) {
            self.by_ptr.remove(&entry.ptr);
        }
        if let Some(ids) = self.by_hash.get_mut(&entry.hash) {
            ids.retain(|&x| x != id);
            if ids.is_empty() {
                self.by_hash.remove(&entry.hash);
            }
        }
    }

    fn trim_front(&mut self) {
        while matches!(self.order.front(), Some(None)) {
            self.order.pop_front();
            self.base += 1;
        }
    }
}

/// The shared encodings of one client (see the module documentation).
pub struct PayloadCache {
    inner: Mutex<Inner>,
    budget: usize,
}

impl std::fmt::Debug for PayloadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayloadCache")
            .field("budget", &self.budget)
            .finish()
    }
}

impl PayloadCache {
    /// An empty cache keeping at most `budget` bytes of data URLs.
    pub fn new(budget: usize) -> Self {
        PayloadCache {
            inner: Mutex::new(Inner::default()),
            budget,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // a panic while holding the lock leaves consistent maps (no partial updates matter)
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The encoding of `image` if one is kept: the same allocation, or equal pixels.
    pub fn get(&self, image: &Arc<RgbImage>) -> Option<Arc<EncodedImage>> {
        let ptr = Arc::as_ptr(image) as usize;
        {
            let inner = self.lock();
            if let Some(entry) = inner.by_ptr.get(&ptr).and_then(|&id| inner.get(id)) {
                if entry
                    .image
                    .upgrade()
                    .is_some_and(|a| Arc::ptr_eq(&a, image))
                {
                    return Some(Arc::clone(&entry.encoded));
                }
            }
        }
        let hash = pixel_hash(image);
        let candidates: Vec<(Weak<RgbImage>, Arc<EncodedImage>)> = {
            let inner = self.lock();
            inner
                .by_hash
                .get(&hash)
                .into_iter()
                .flatten()
                .filter_map(|&id| inner.get(id))
                .map(|e| (e.image.clone(), Arc::clone(&e.encoded)))
                .collect()
        };
        // compare pixels outside the lock
        candidates.into_iter().find_map(|(weak, encoded)| {
            let other = weak.upgrade()?;
            (other.dimensions() == image.dimensions() && other.as_raw() == image.as_raw())
                .then_some(encoded)
        })
    }

    /// Keep `encoded` as the encoding of `image`; returns the shared value.
    pub fn insert(&self, image: &Arc<RgbImage>, encoded: EncodedImage) -> Arc<EncodedImage> {
        let encoded = Arc::new(encoded);
        let size = encoded.data_url.len();
        if size > self.budget {
            return encoded;
        }
        let hash = pixel_hash(image);
        let ptr = Arc::as_ptr(image) as usize;
        let mut inner = self.lock();
        // drop entries whose image is gone, then the oldest until the new one fits
        let dead: Vec<u64> = inner
            .order
            .iter()
            .enumerate()
            .filter_map(|(k, e)| {
                e.as_ref()
                    .filter(|e| e.image.strong_count() == 0)
                    .map(|_| inner.base + k as u64)
            })
            .collect();
        for id in dead {
            inner.remove(id);
        }
        inner.trim_front();
        while inner.bytes + size > self.budget {
            let id = inner.base;
            inner.remove(id);
            inner.trim_front();
        }
        if let Some(old) = inner.by_ptr.get(&ptr).copied() {
            inner.remove(old);
        }
        let id = inner.base + inner.order.len() as u64;
        inner.order.push_back(Some(Entry {
            image: Arc::downgrade(image),
            ptr,
            hash,
            encoded: Arc::clone(&encoded),
        }));
        inner.by_ptr.insert(ptr, id);
        inner.by_hash.entry(hash).or_default().push(id);
        inner.bytes += size;
        encoded
    }

    /// Entries kept and their data-URL bytes.
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.order.iter().flatten().count(), inner.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(tag: &str) -> EncodedImage {
        EncodedImage {
            data_url: format!("data:image/png;base64,{tag}"),
            sha256: tag.into(),
        }
    }

    fn img(v: u8) -> Arc<RgbImage> {
        Arc::new(RgbImage::from_pixel(5, 3, image::Rgb([v, 1, 2])))
    }

    #[test]
    fn found_by_allocation_or_equal_pixels_never_other_pixels() {
        let cache = PayloadCache::new(1 << 20);
        let a = img(7);
        assert!(cache.get(&a).is_none());
        cache.insert(&a, enc("a"));
        assert_eq!(cache.get(&a).unwrap().sha256, "a");
        // another allocation with the same pixels
        let same = img(7);
        assert_eq!(cache.get(&same).unwrap().sha256, "a");
        // one pixel differs
        let mut other = (*a).clone();
        other.put_pixel(4, 2, image::Rgb([7, 1, 3]));
        assert!(cache.get(&Arc::new(other)).is_none());
        // same bytes, other shape
        let reshaped = Arc::new(RgbImage::from_raw(3, 5, a.as_raw().clone()).unwrap());
        assert!(cache.get(&reshaped).is_none());
        assert_ne!(pixel_hash(&a), pixel_hash(&reshaped));
    }

    #[test]
    fn dropped_images_leave_and_the_budget_holds() {
        let url_len = enc("x").data_url.len();
        let cache = PayloadCache::new(3 * url_len);
        let a = img(1);
        cache.insert(&a, enc("x"));
        drop(a);
        let keep: Vec<_> = (2..6).map(img).collect();
        for k in &keep {
            cache.insert(k, enc("y"));
        }
        // the dead entry went first, then the oldest live one
        assert_eq!(cache.usage(), (3, 3 * url_len));
        assert!(cache.get(&keep[0]).is_none());
        assert!(cache.get(&keep[3]).is_some());
        // an equal-pixel image of a dropped entry is not served
        assert!(cache.get(&img(1)).is_none());
    }
}
