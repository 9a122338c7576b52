//! Regions a cue is drawn around: boxes, polygons and masks, in image pixel coordinates.
//!
//! Convention: a box is continuous `xyxy` with an **exclusive** end (COCO and torchvision
//! convention): the pixel `(x, y)` covers `[x, x+1) × [y, y+1)`, and a box `(0, 0, 2, 2)` covers
//! exactly four pixels. Pillow's `ImageDraw` rectangles include their end pixel; convert at the
//! edge with [`BoxXyxy::from_pillow_inclusive`] / [`BoxXyxy::to_pillow_inclusive`].

use serde::{Deserialize, Serialize};

use crate::error::{CueError, Result};

/// An axis-aligned box in image pixels, `x0 <= x1`, `y0 <= y1`, exclusive end.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoxXyxy {
    /// Left edge.
    pub x0: f32,
    /// Top edge.
    pub y0: f32,
    /// Right edge (exclusive).
    pub x1: f32,
    /// Bottom edge (exclusive).
    pub y1: f32,
}

impl BoxXyxy {
    /// A validated box: every coordinate finite, `x1 >= x0`, `y1 >= y0`.
    pub fn new(x0: f32, y0: f32, x1: f32, y1: f32) -> Result<Self> {
        let b = BoxXyxy { x0, y0, x1, y1 };
        if ![x0, y0, x1, y1].iter().all(|v| v.is_finite()) {
            return Err(CueError::InvalidBox {
                box_xyxy: [x0, y0, x1, y1],
                reason: "every coordinate must be a finite number",
            });
        }
        if x1 < x0 || y1 < y0 {
            return Err(CueError::InvalidBox {
                box_xyxy: [x0, y0, x1, y1],
                reason: "expected x0 <= x1 and y0 <= y1 (xyxy, not xywh?)",
            });
        }
        Ok(b)
    }

    /// From COCO `[x, y, width, height]`.
    pub fn from_xywh(x: f32, y: f32, w: f32, h: f32) -> Result<Self> {
        Self::new(x, y, x + w, y + h)
    }

    /// From a Pillow inclusive rectangle `[x0, y0, x1, y1]` (end pixel drawn).
    pub fn from_pillow_inclusive(x0: f32, y0: f32, x1: f32, y1: f32) -> Result<Self> {
        Self::new(x0, y0, x1 + 1.0, y1 + 1.0)
    }

    /// To a Pillow inclusive rectangle covering the same pixels.
    pub fn to_pillow_inclusive(&self) -> [f32; 4] {
        [self.x0, self.y0, self.x1 - 1.0, self.y1 - 1.0]
    }

    /// Parse `"x0,y0,x1,y1"` (as typed on the command line).
    pub fn parse(text: &str) -> Result<Self> {
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        let bad = || CueError::BoxSyntax {
            text: text.to_string(),
        };
        if parts.len() != 4 {
            return Err(bad());
        }
        let mut v = [0f32; 4];
        for (slot, p) in v.iter_mut().zip(&parts) {
            *slot = p.parse::<f32>().map_err(|_| bad())?;
        }
        Self::new(v[0], v[1], v[2], v[3])
    }

    /// Width (`x1 - x0`).
    pub fn width(&self) -> f32 {
        self.x1 - self.x0
    }

    /// Height (`y1 - y0`).
    pub fn height(&self) -> f32 {
        self.y1 - self.y0
    }

    /// Area (`width * height`).
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    /// Centre point.
    pub fn center(&self) -> (f32, f32) {
        ((self.x0 + self.x1) * 0.5, (self.y0 + self.y1) * 0.5)
    }

    /// This box intersected with the image `[0, w) × [0, h)`; `None` when nothing remains.
    pub fn clip_to(&self, w: u32, h: u32) -> Option<BoxXyxy> {
        let c = BoxXyxy {
            x0: self.x0.clamp(0.0, w as f32),
            y0: self.y0.clamp(0.0, h as f32),
            x1: self.x1.clamp(0.0, w as f32),
            y1: self.y1.clamp(0.0, h as f32),
        };
        (c.x1 > c.x0 && c.y1 > c.y0).then_some(c)
    }

    /// True when the box lies entirely inside a `w × h` image.
    pub fn inside(&self, w: u32, h: u32) -> bool {
        self.x0 >= 0.0 && self.y0 >= 0.0 && self.x1 <= w as f32 && self.y1 <= h as f32
    }

    /// Grown by `pad` pixels on every side (negative shrinks; never inverts).
    pub fn padded(&self, pad: f32) -> BoxXyxy {
        let (cx, cy) = self.center();
        BoxXyxy {
            x0: (self.x0 - pad).min(cx),
            y0: (self.y0 - pad).min(cy),
            x1: (self.x1 + pad).max(cx),
            y1: (self.y1 + pad).max(cy),
        }
    }

    /// The integer pixel span `[x0, x1) × [y0, y1)` a pixel-exact operation (paste, crop) uses:
    /// a pixel belongs to the box when its centre lies inside it. Clipped to the image.
    pub fn pixel_span(&self, w: u32, h: u32) -> (u32, u32, u32, u32) {
        let snap = |v: f32, max: u32| -> u32 { (v - 0.5).ceil().clamp(0.0, max as f32) as u32 };
        (
            snap(self.x0, w),
            snap(self.y0, h),
            snap(self.x1, w),
            snap(self.y1, h),
        )
    }
}

/// A COCO run-length-encoded mask (column-major counts, alternating 0s and 1s, starting with 0s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rle {
    /// Mask height.
    pub height: u32,
    /// Mask width.
    pub width: u32,
    /// Run lengths.
    pub counts: Vec<u32>,
}

/// Most characters one compressed RLE count may take (7 × 5 bits hold any `u32`).
const MAX_COUNT_CHARS: u32 = 8;

impl Rle {
    /// Decode COCO's compressed string form (as in `pycocotools`' `frString`).
    pub fn from_compressed(height: u32, width: u32, text: &str) -> Result<Self> {
        let bytes = text.as_bytes();
        let mut counts: Vec<u32> = Vec::new();
        let mut p = 0usize;
        while p < bytes.len() {
            let mut x: i64 = 0;
            let mut k = 0u32;
            loop {
                let Some(&byte) = bytes.get(p) else {
                    return Err(CueError::Rle("string ends inside a count".into()));
                };
                if !(48..48 + 64).contains(&byte) {
                    return Err(CueError::Rle(format!(
                        "invalid character {:?}",
                        byte as char
                    )));
                }
                let c = i64::from(byte) - 48;
                // A u32 count needs at most 7 characters of 5 bits; more cannot be a valid
                // count (and would shift past 64 bits).
                if k >= MAX_COUNT_CHARS {
                    return Err(CueError::Rle(format!(
                        "count longer than {MAX_COUNT_CHARS} characters at byte {p}"
                    )));
                }
                x |= (c & 0x1f) << (5 * k);
                let more = c & 0x20 != 0;
                p += 1;
                k += 1;
                if !more {
                    if c & 0x10 != 0 {
                        x |= -1i64 << (5 * k);
                    }
                    break;
                }
            }
            if counts.len() > 2 {
                x = x
                    .checked_add(i64::from(counts[counts.len() - 2]))
                    .ok_or_else(|| CueError::Rle("count overflows".into()))?;
            }
            let v = u32::try_from(x).map_err(|_| CueError::Rle(format!("negative count {x}")))?;
            counts.push(v);
        }
        Ok(Rle {
            height,
            width,
            counts,
        })
    }

    /// Decode to a row-major mask of `height * width` booleans.
    pub fn decode(&self) -> Result<Vec<bool>> {
        let n = self.height as usize * self.width as usize;
        let total: u64 = self.counts.iter().map(|&c| u64::from(c)).sum();
        if total != n as u64 {
            return Err(CueError::Rle(format!(
                "counts sum to {total}, expected height*width = {n}"
            )));
        }
        let mut mask = vec![false; n];
        let mut idx = 0usize; // column-major index
        let h = self.height as usize;
        let w = self.width as usize;
        for (i, &c) in self.counts.iter().enumerate() {
            let on = i % 2 == 1;
            for j in idx..idx + c as usize {
                if on {
                    let (col, row) = (j / h, j % h);
                    mask[row * w + col] = true;
                }
            }
            idx += c as usize;
        }
        Ok(mask)
    }
}

/// What a cue is drawn around.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    /// An axis-aligned box.
    Box(BoxXyxy),
    /// One or more polygons (COCO `segmentation` lists: `[x0, y0, x1, y1, ...]`).
    Polygon(Vec<Vec<f32>>),
    /// A run-length-encoded mask.
    Mask(Rle),
}

impl Region {
    /// The tight bounding box of the region.
    pub fn bbox(&self) -> Result<BoxXyxy> {
        match self {
            Region::Box(b) => Ok(*b),
            Region::Polygon(polys) => {
                let mut xs = Vec::new();
                let mut ys = Vec::new();
                for p in polys {
                    if p.len() < 6 || p.len() % 2 != 0 {
                        return Err(CueError::Polygon(format!(
                            "a polygon needs an even number (>= 6) of coordinates, got {}",
                            p.len()
                        )));
                    }
                    for xy in p.chunks_exact(2) {
                        xs.push(xy[0]);
                        ys.push(xy[1]);
                    }
                }
                let min = |v: &[f32]| v.iter().copied().fold(f32::INFINITY, f32::min);
                let max = |v: &[f32]| v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                if xs.is_empty() {
                    return Err(CueError::Polygon("empty polygon list".into()));
                }
                BoxXyxy::new(min(&xs), min(&ys), max(&xs), max(&ys))
            }
            Region::Mask(rle) => {
                let mask = rle.decode()?;
                let w = rle.width as usize;
                let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
                for (i, _) in mask.iter().enumerate().filter(|(_, &m)| m) {
                    let (x, y) = (i % w, i / w);
                    x0 = x0.min(x);
                    y0 = y0.min(y);
                    x1 = x1.max(x + 1);
                    y1 = y1.max(y + 1);
                }
                if x0 == usize::MAX {
                    return Err(CueError::Rle("mask is empty".into()));
                }
                BoxXyxy::new(x0 as f32, y0 as f32, x1 as f32, y1 as f32)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_inverted_and_nan_boxes() {
        assert!(BoxXyxy::new(10.0, 0.0, 5.0, 5.0).is_err());
        assert!(BoxXyxy::new(f32::NAN, 0.0, 5.0, 5.0).is_err());
        assert!(BoxXyxy::parse("1,2,3").is_err());
        assert!(BoxXyxy::parse("1,2,x,4").is_err());
        assert_eq!(
            BoxXyxy::parse(" 1, 2,3 ,4").ok(),
            Some(BoxXyxy {
                x0: 1.0,
                y0: 2.0,
                x1: 3.0,
                y1: 4.0
            })
        );
    }

    #[test]
    fn pixel_span_uses_pixel_centres() {
        let b = BoxXyxy::new(0.0, 0.0, 2.0, 2.0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.pixel_span(10, 10), (0, 0, 2, 2));
        let b = BoxXyxy::new(0.6, 0.4, 2.4, 2.6).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.pixel_span(10, 10), (1, 0, 2, 3));
        let b = BoxXyxy::new(-5.0, -5.0, 50.0, 50.0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.pixel_span(10, 8), (0, 0, 10, 8));
    }

    #[test]
    fn rle_round_trip_of_a_known_mask() {
        // 3x2 mask (h=3, w=2), column-major counts: 1 off, 2 on, 1 off, 2 on
        let rle = Rle {
            height: 3,
            width: 2,
            counts: vec![1, 2, 1, 2],
        };
        let m = rle.decode().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m, vec![false, false, true, true, true, true]);
        let bad = Rle {
            height: 3,
            width: 2,
            counts: vec![1, 2],
        };
        assert!(bad.decode().is_err());
    }

    #[test]
    fn overlong_compressed_counts_are_errors_not_panics() {
        // 13 continuation characters then a terminator: used to shift past 64 bits.
        let text = format!("{}0", "o".repeat(13));
        assert!(Rle::from_compressed(4, 4, &text).is_err());
        // Every string of up to 3 characters from the alphabet (and a few outside) decodes
        // or errors without panicking.
        let alphabet: Vec<char> = (40u8..120).map(char::from).collect();
        for a in &alphabet {
            for b in &alphabet {
                let s: String = [*a, *b, 'o', *a].iter().collect();
                let _ = Rle::from_compressed(3, 3, &s).and_then(|r| r.decode());
            }
        }
    }

    #[test]
    fn compressed_rle_matches_pycocotools() {
        // pycocotools.mask.encode of a 4x4 mask with a 2x2 block at rows 1..3, cols 1..3:
        // counts [5, 2, 2, 2, 5] -> compressed "52203"
        let rle = Rle::from_compressed(4, 4, "52203").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rle.counts, vec![5, 2, 2, 2, 5]);
        let b = Region::Mask(rle).bbox().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((b.x0, b.y0, b.x1, b.y1), (1.0, 1.0, 3.0, 3.0));
    }
}
