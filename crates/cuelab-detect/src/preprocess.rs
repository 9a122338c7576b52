//! Input preprocessing, each matching its detector's reference pipeline.
//!
//! * CenterNet (the TF.js model of `@vladmandic/human`): the photo is stretched to the input size
//!   with `tf.image.resizeBilinear(x, [h, w])` and TF.js's defaults (`alignCorners = false`,
//!   `halfPixelCenters = false`): the source coordinate of output pixel `i` is `i * in / out`
//!   (no half-pixel shift), interpolated between its floor and the next pixel (clamped at the
//!   edge), without antialiasing, in floating point (values stay 0–255 floats, NHWC).
//! * Ultralytics YOLO: `LetterBox(auto=False)`: scale `r = min(S / h, S / w)`, resized size
//!   `round(w r) x round(h r)` (Python's round-half-even), OpenCV `INTER_LINEAR` resize (half-pixel
//!   centres, OpenCV's fixed-point arithmetic, bit-identical), gray 114 padding split `round(d/2 - 0.1)` before /
//!   the rest after, then `/255`, NCHW.

use image::RgbImage;

/// TF-style bilinear stretch of `img` to `out_w x out_h`, NHWC float values 0–255.
pub fn tf_bilinear_nhwc(img: &RgbImage, out_w: usize, out_h: usize) -> Vec<f32> {
    let (in_w, in_h) = (img.width() as usize, img.height() as usize);
    let raw = img.as_raw();
    let taps = |out: usize, inp: usize| -> Vec<(usize, usize, f64)> {
        let scale = inp as f64 / out as f64;
        (0..out)
            .map(|i| {
                let src = i as f64 * scale;
                let lo = (src.floor() as usize).min(inp - 1);
                let hi = (lo + 1).min(inp - 1);
                (lo, hi, src - lo as f64)
            })
            .collect()
    };
    let xs = taps(out_w, in_w);
    let ys = taps(out_h, in_h);
    let mut out = vec![0f32; out_w * out_h * 3];
    for (oy, &(y0, y1, fy)) in ys.iter().enumerate() {
        for (ox, &(x0, x1, fx)) in xs.iter().enumerate() {
            for c in 0..3 {
                let p = |y: usize, x: usize| raw[(y * in_w + x) * 3 + c] as f64;
                let top = p(y0, x0) + (p(y0, x1) - p(y0, x0)) * fx;
                let bot = p(y1, x0) + (p(y1, x1) - p(y1, x0)) * fx;
                out[(oy * out_w + ox) * 3 + c] = (top + (bot - top) * fy) as f32;
            }
        }
    }
    out
}

/// Geometry of a letterbox: how the photo was scaled and where it sits in the square input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    /// Side of the square model input.
    pub size: usize,
    /// Width and height of the resized photo inside it.
    pub resized: (usize, usize),
    /// Left and top padding.
    pub pad: (usize, usize),
    /// Original photo width and height.
    pub original: (usize, usize),
}

impl Letterbox {
    /// The letterbox of a `w x h` photo in a `size x size` input (Ultralytics `LetterBox`).
    pub fn new(w: usize, h: usize, size: usize) -> Self {
        let r = (size as f64 / h as f64).min(size as f64 / w as f64);
        let new_w = ((w as f64 * r).round_ties_even() as usize).max(1);
        let new_h = ((h as f64 * r).round_ties_even() as usize).max(1);
        let left = ((size - new_w) as f64 / 2.0 - 0.1).round_ties_even() as usize;
        let top = ((size - new_h) as f64 / 2.0 - 0.1).round_ties_even() as usize;
        Letterbox {
            size,
            resized: (new_w, new_h),
            pad: (left, top),
            original: (w, h),
        }
    }

    /// Map a point of the model input back to photo pixels (Ultralytics `scale_boxes`: per-axis
    /// gain `resized / original`), clipped to the photo.
    pub fn unmap(&self, x: f32, y: f32) -> (f32, f32) {
        let gx = self.resized.0 as f64 / self.original.0 as f64;
        let gy = self.resized.1 as f64 / self.original.1 as f64;
        let ux = (x as f64 - self.pad.0 as f64) / gx;
        let uy = (y as f64 - self.pad.1 as f64) / gy;
        (
            ux.clamp(0.0, self.original.0 as f64) as f32,
            uy.clamp(0.0, self.original.1 as f64) as f32,
        )
    }
}

/// Taps of OpenCV's 8-bit linear resize along one axis: the two source indices (clamped) and
/// 11-bit fixed-point weights. The position is computed in `f32` as OpenCV does; along x a
/// position outside the image is clamped to the edge with weights (2048, 0), along y only the
/// indices are clamped (`clamp_weights = false`), as in OpenCV's `resizeGeneric_`.
fn cv_taps(out: usize, inp: usize, clamp_weights: bool) -> Vec<(usize, usize, i32, i32)> {
    let scale = 1.0 / (out as f64 / inp as f64);
    let last = inp as i64 - 1;
    (0..out)
        .map(|i| {
            let f = ((i as f64 + 0.5) * scale - 0.5) as f32;
            let mut s = f.floor() as i64;
            let mut a = f - s as f32;
            if clamp_weights {
                if s < 0 {
                    (s, a) = (0, 0.0);
                }
                if s >= last {
                    (s, a) = (last, 0.0);
                }
            }
            let w0 = ((1.0 - a) * 2048.0).round_ties_even() as i32;
            let w1 = (a * 2048.0).round_ties_even() as i32;
            (
                s.clamp(0, last) as usize,
                (s + 1).clamp(0, last) as usize,
                w0,
                w1,
            )
        })
        .collect()
}

/// Resize like OpenCV `cv2.resize(INTER_LINEAR)` on 8-bit images (OpenCV 4/5 on x86: 11-bit
/// weights, horizontal pass in integers, vertical pass with its SIMD rounding
/// `((r0 >> 4) * b0 >> 16) + ((r1 >> 4) * b1 >> 16) + 2 >> 2`). Bit-identical to
/// `cv2.resize` on the fixtures.
pub fn cv_resize_linear(img: &RgbImage, out_w: usize, out_h: usize) -> RgbImage {
    let (in_w, in_h) = (img.width() as usize, img.height() as usize);
    if (in_w, in_h) == (out_w, out_h) {
        return img.clone();
    }
    let xs = cv_taps(out_w, in_w, true);
    let ys = cv_taps(out_h, in_h, false);
    let raw = img.as_raw();
    // horizontal pass on every source row: 11 fractional bits
    let mut rows = vec![0i32; in_h * out_w * 3];
    for y in 0..in_h {
        for (ox, &(x0, x1, w0, w1)) in xs.iter().enumerate() {
            for c in 0..3 {
                let a = raw[(y * in_w + x0) * 3 + c] as i32;
                let b = raw[(y * in_w + x1) * 3 + c] as i32;
                rows[(y * out_w + ox) * 3 + c] = a * w0 + b * w1;
            }
        }
    }
    let mut out = RgbImage::new(out_w as u32, out_h as u32);
    let buf: &mut [u8] = &mut out;
    for (oy, &(y0, y1, b0, b1)) in ys.iter().enumerate() {
        for i in 0..out_w * 3 {
            let r0 = rows[y0 * out_w * 3 + i] >> 4;
            let r1 = rows[y1 * out_w * 3 + i] >> 4;
            let v = ((r0 * b0) >> 16) + ((r1 * b1) >> 16);
            buf[oy * out_w * 3 + i] = ((v + 2) >> 2).clamp(0, 255) as u8;
        }
    }
    out
}

/// The letterboxed 8-bit image (Ultralytics `LetterBox(auto=False)`, gray 114 padding).
pub fn letterbox_image(img: &RgbImage, size: usize) -> (RgbImage, Letterbox) {
    let lb = Letterbox::new(img.width() as usize, img.height() as usize, size);
    let resized = cv_resize_linear(img, lb.resized.0, lb.resized.1);
    let mut out = RgbImage::from_pixel(size as u32, size as u32, image::Rgb([114, 114, 114]));
    image::imageops::replace(&mut out, &resized, lb.pad.0 as i64, lb.pad.1 as i64);
    (out, lb)
}

/// An 8-bit RGB image as an NCHW float tensor scaled to 0–1.
pub fn nchw_unit(img: &RgbImage) -> Vec<f32> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raw = img.as_raw();
    let mut out = vec![0f32; 3 * w * h];
    for (i, px) in raw.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * w * h + i] = px[c] as f32 / 255.0;
        }
    }
    out
}
