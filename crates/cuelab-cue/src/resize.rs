//! The pixel loops of model-input preprocessing, bit-exact with the references that CLIP-style
//! models were trained and evaluated with:
//!
//! * [`resize_bicubic`]: antialiased bicubic resizing as Pillow's `ImagingResample` (8-bit fixed
//!   point, 22 fractional bits, an 8-bit intermediate after the horizontal pass) or as PyTorch's
//!   uint8 antialiased kernel (16-bit weights, precision from the largest weight) computes it;
//! * [`shorter_side_size`]: torchvision's `Resize(int)` output size;
//! * [`center_crop`]: centre crop with black padding, the offset rounded as Python's `round()`
//!   (OpenAI's `CenterCrop` on a PIL image) or truncated (transformers);
//! * [`normalize_chw`]: uint8 HWC to normalised CHW f32, in either reference's operation order.
//!
//! `cuelab_models::preprocess` composes them into the two CLIP pipelines. They live in this crate
//! because it is the one built with optimisation in the dev profile (the tests and
//! `cargo run -- demo` spend most of their time here).

use image::RgbImage;

/// How [`center_crop`] turns a half-pixel offset into a whole one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CropOffset {
    /// Python's `round()` (half to even): torchvision's `CenterCrop` on a PIL image.
    RoundHalfEven,
    /// `int()` truncation: transformers' image processors.
    Truncate,
}

/// The order of operations in [`normalize_chw`] (the results differ in the last bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalization {
    /// `ToTensor` then `Normalize`: `(x / 255 - mean) / std`, in f32.
    ScaleThenNormalize,
    /// transformers' fused rescale and normalise: `(x - 255 mean) / (255 std)`, in f32.
    Fused,
}

/// Normalise an RGB8 image to CHW f32 (length `3 * width * height`) with per-channel `mean` and
/// `std` given on the 0..1 scale, in the operation order `mode` names.
pub fn normalize_chw(
    img: &RgbImage,
    mean: [f32; 3],
    std: [f32; 3],
    mode: Normalization,
) -> Vec<f32> {
    let plane = img.width() as usize * img.height() as usize;
    let mut out = vec![0f32; 3 * plane];
    let raw = img.as_raw();
    for c in 0..3 {
        let dst = &mut out[c * plane..(c + 1) * plane];
        let src = raw.iter().skip(c).step_by(3);
        match mode {
            Normalization::ScaleThenNormalize => {
                let (m, s) = (mean[c], std[c]);
                for (d, &v) in dst.iter_mut().zip(src) {
                    *d = (v as f32 / 255.0 - m) / s;
                }
            }
            Normalization::Fused => {
                let (m, s) = (mean[c] * 255.0, std[c] * 255.0);
                for (d, &v) in dst.iter_mut().zip(src) {
                    *d = (v as f32 - m) / s;
                }
            }
        }
    }
    out
}

/// torchvision's `Resize(int)` output size: shorter side to `size`, longer side `int(size * long / short)`.
pub fn shorter_side_size(w: usize, h: usize, size: usize) -> (usize, usize) {
    if w <= h {
        let nh = ((size as f64) * (h as f64) / (w as f64)) as usize;
        (size, nh.max(1))
    } else {
        let nw = ((size as f64) * (w as f64) / (h as f64)) as usize;
        (nw.max(1), size)
    }
}

/// Python's `round()` (half to even) of a non-negative half-integer-or-integer value, for crop offsets.
fn round_half_even(x: f64) -> usize {
    let f = x.floor();
    let r = if (x - f - 0.5).abs() < 1e-12 {
        if (f as i64) % 2 == 0 {
            f
        } else {
            f + 1.0
        }
    } else {
        x.round()
    };
    r.max(0.0) as usize
}

/// Centre crop to `cw x ch`; pads with black when the crop is larger than the image (as both references do).
pub fn center_crop(img: &RgbImage, cw: usize, ch: usize, offset: CropOffset) -> RgbImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    // Both references pad symmetrically (left/top get the floor half) when the image is smaller.
    let (pad_l, pad_t) = (cw.saturating_sub(w) / 2, ch.saturating_sub(h) / 2);
    let (pw, ph) = (w.max(cw), h.max(ch));
    let (top, left) = match offset {
        CropOffset::RoundHalfEven => (
            round_half_even((ph - ch) as f64 / 2.0),
            round_half_even((pw - cw) as f64 / 2.0),
        ),
        CropOffset::Truncate => ((ph - ch) / 2, (pw - cw) / 2),
    };
    let mut out = RgbImage::new(cw as u32, ch as u32);
    for y in 0..ch {
        let py = y + top;
        if py < pad_t || py >= pad_t + h {
            continue;
        }
        for x in 0..cw {
            let px = x + left;
            if px < pad_l || px >= pad_l + w {
                continue;
            }
            let p = *img.get_pixel((px - pad_l) as u32, (py - pad_t) as u32);
            out.put_pixel(x as u32, y as u32, p);
        }
    }
    out
}

/// Which reference's antialiased bicubic kernel to reproduce: both use the same filter (a = -0.5)
/// but turn its weights into integers differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bicubic {
    /// Pillow `ImagingResample` 8bpc: i32 weights with 22 fractional bits.
    Pillow,
    /// PyTorch's uint8 antialiased kernel (torchvision on a uint8 tensor): i16 weights, precision
    /// from the largest weight.
    TorchUint8,
}

const PILLOW_PRECISION_BITS: u32 = 32 - 8 - 2;

fn bicubic_pillow(x: f64) -> f64 {
    let a = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * a
    } else {
        0.0
    }
}

/// PyTorch's bicubic filter (a = -0.5) at distance `x`, in PyTorch's operation order (Pillow's
/// differs in the last bits). Also used for float interpolations that follow PyTorch, such as
/// DINOv2's position-embedding resize.
pub fn bicubic_torch(x: f64) -> f64 {
    let a = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    } else {
        0.0
    }
}

/// Integer filter taps for one axis: per output index `(first input index, taps)`.
struct Taps {
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    weights: Vec<i32>,
    precision: u32,
}

fn precompute(in_size: usize, out_size: usize, kernel: Bicubic) -> Taps {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = 2.0 * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let filter = match kernel {
        Bicubic::Pillow => bicubic_pillow,
        Bicubic::TorchUint8 => bicubic_torch,
    };
    let mut kk = vec![0f64; out_size * ksize];
    let mut bounds = Vec::with_capacity(out_size);
    let mut wmax = 0f64;
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // C casts truncate toward zero; clamp afterwards as both references do.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
        let n = xmax.saturating_sub(xmin).min(ksize);
        let k = &mut kk[xx * ksize..(xx + 1) * ksize];
        let mut ww = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(n) {
            let w = filter((x as f64 + xmin as f64 - center + 0.5) * ss);
            *kx = w;
            ww += w;
        }
        if ww != 0.0 {
            for kx in k.iter_mut().take(n) {
                *kx /= ww;
                wmax = wmax.max(*kx);
            }
        }
        bounds.push((xmin, n));
    }
    let precision = match kernel {
        Bicubic::Pillow => PILLOW_PRECISION_BITS,
        Bicubic::TorchUint8 => {
            let mut p = 0u32;
            while p < 22 {
                let next = (0.5 + wmax * (1u64 << (p + 1)) as f64) as i64;
                if next >= (1 << 15) {
                    break;
                }
                p += 1;
            }
            p
        }
    };
    let one = (1u64 << precision) as f64;
    let weights = kk
        .iter()
        .map(|&w| {
            let v = w * one;
            match kernel {
                Bicubic::Pillow => {
                    if w < 0.0 {
                        (-0.5 + v) as i32
                    } else {
                        (0.5 + v) as i32
                    }
                }
                Bicubic::TorchUint8 => {
                    if v < 0.0 {
                        ((v - 0.5) as i32) as i16 as i32
                    } else {
                        ((v + 0.5) as i32) as i16 as i32
                    }
                }
            }
        })
        .collect();
    Taps {
        ksize,
        bounds,
        weights,
        precision,
    }
}

#[inline]
fn clip8(ss: i32, precision: u32) -> u8 {
    (ss >> precision).clamp(0, 255) as u8
}

/// Resize to exactly `out_w x out_h`: separable antialiased bicubic with an 8-bit intermediate
/// (horizontal pass, then vertical), bit-exact with the reference `kernel` names.
pub fn resize_bicubic(img: &RgbImage, out_w: usize, out_h: usize, kernel: Bicubic) -> RgbImage {
    let (in_w, in_h) = (img.width() as usize, img.height() as usize);
    let src = img.as_raw();
    let need_h = out_w != in_w;
    let need_v = out_h != in_h;
    // Horizontal pass over all input rows (equivalent to Pillow's row window).
    let (tmp, tw) = if need_h {
        let taps = precompute(in_w, out_w, kernel);
        let half = 1i32 << (taps.precision - 1);
        let mut tmp = vec![0u8; out_w * in_h * 3];
        for y in 0..in_h {
            let row = &src[y * in_w * 3..(y + 1) * in_w * 3];
            let orow = &mut tmp[y * out_w * 3..(y + 1) * out_w * 3];
            for (xx, &(xmin, n)) in taps.bounds.iter().enumerate() {
                let k = &taps.weights[xx * taps.ksize..xx * taps.ksize + n];
                let (mut s0, mut s1, mut s2) = (half, half, half);
                for (x, &w) in k.iter().enumerate() {
                    let p = (xmin + x) * 3;
                    s0 += row[p] as i32 * w;
                    s1 += row[p + 1] as i32 * w;
                    s2 += row[p + 2] as i32 * w;
                }
                orow[xx * 3] = clip8(s0, taps.precision);
                orow[xx * 3 + 1] = clip8(s1, taps.precision);
                orow[xx * 3 + 2] = clip8(s2, taps.precision);
            }
        }
        (tmp, out_w)
    } else {
        (src.to_vec(), in_w)
    };
    let out = if need_v {
        let taps = precompute(in_h, out_h, kernel);
        let half = 1i32 << (taps.precision - 1);
        let mut out = vec![0u8; tw * out_h * 3];
        for (yy, &(ymin, n)) in taps.bounds.iter().enumerate() {
            let k = &taps.weights[yy * taps.ksize..yy * taps.ksize + n];
            let orow = &mut out[yy * tw * 3..(yy + 1) * tw * 3];
            for (xc, o) in orow.iter_mut().enumerate() {
                let mut s = half;
                for (y, &w) in k.iter().enumerate() {
                    s += tmp[(ymin + y) * tw * 3 + xc] as i32 * w;
                }
                *o = clip8(s, taps.precision);
            }
        }
        out
    } else {
        tmp
    };
    // Sizes are consistent by construction; fall back to an empty image rather than panic.
    RgbImage::from_raw(out_w as u32, out_h as u32, out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_round_is_half_even() {
        assert_eq!(round_half_even(55.5), 56);
        assert_eq!(round_half_even(54.5), 54);
        assert_eq!(round_half_even(51.0), 51);
        assert_eq!(round_half_even(0.5), 0);
    }

    #[test]
    fn shorter_side_size_matches_torchvision() {
        assert_eq!(shorter_side_size(450, 655, 224), (224, 326));
        assert_eq!(shorter_side_size(400, 267, 224), (335, 224));
        assert_eq!(shorter_side_size(1, 1000, 224), (224, 224_000));
    }

    #[test]
    fn normalization_orders_follow_their_formulas() {
        let img = RgbImage::from_raw(2, 1, vec![0, 128, 255, 10, 20, 30]).expect("2x1");
        let (mean, std) = ([0.5, 0.25, 0.75], [0.5, 0.25, 0.125]);
        let a = normalize_chw(&img, mean, std, Normalization::ScaleThenNormalize);
        let b = normalize_chw(&img, mean, std, Normalization::Fused);
        // CHW: channel 0 holds pixels 0 and 1, then channel 1, then channel 2.
        assert_eq!(a[1], (10.0f32 / 255.0 - 0.5) / 0.5);
        assert_eq!(b[1], (10.0f32 - 0.5 * 255.0) / (0.5 * 255.0));
        assert_eq!(a[4], (255.0f32 / 255.0 - 0.75) / 0.125);
        assert_eq!(b[5], (30.0f32 - 0.75 * 255.0) / (0.125 * 255.0));
        assert_eq!(a.len(), 6);
    }
}
