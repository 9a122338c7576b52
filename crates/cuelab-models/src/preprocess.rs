//! Image preprocessing, bit-exact with the two CLIP references.
//!
//! * [`Pipeline::Openai`] — OpenAI's `clip.load()` preprocess: torchvision `Resize(n, BICUBIC)` on a
//!   PIL image (Pillow's antialiased bicubic `ImagingResample`, 8-bit fixed point with 22 fractional
//!   bits and an 8-bit intermediate after the horizontal pass), `CenterCrop(n)` with Python's
//!   `round()` for the offset, `ToTensor` (`x / 255` in f32) and `Normalize` (f32).
//! * [`Pipeline::Hf`] — transformers' `CLIPImageProcessor` (torchvision backend): torchvision
//!   `resize` on a uint8 tensor (PyTorch's uint8 antialiased bicubic kernel: 16-bit weights with a
//!   precision chosen from the largest weight), centre crop with `int()` truncation for the offset,
//!   and a fused rescale+normalise `(x - 255·mean) / (255·std)` in f32.
//!
//! The two differ by up to one grey level per pixel and, on sizes where the crop offset is a half
//! pixel, by a one-pixel shift (see docs/models.md). Both are reproduced exactly here.

use std::path::Path;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// OpenAI CLIP normalisation mean (RGB).
pub const OPENAI_CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// OpenAI CLIP normalisation standard deviation (RGB), digits as published.
#[allow(clippy::excessive_precision)]
pub const OPENAI_CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

/// Which reference preprocessing to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pipeline {
    /// OpenAI `clip.load()` preprocess (Pillow resize, rounded crop offset).
    Openai,
    /// transformers `CLIPImageProcessor` (torchvision uint8 resize, truncated crop offset).
    Hf,
}

impl Pipeline {
    /// The name used on the command line and in manifests: `openai` or `hf`.
    pub fn name(self) -> &'static str {
        match self {
            Pipeline::Openai => "openai",
            Pipeline::Hf => "hf",
        }
    }

    /// Parse `openai` / `hf`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "openai" => Ok(Pipeline::Openai),
            "hf" => Ok(Pipeline::Hf),
            other => Err(Error::Invalid(format!(
                "unknown preprocessing `{other}` (expected `openai` or `hf`)"
            ))),
        }
    }
}

/// A full preprocessing specification: resize of the shorter side, centre crop, normalisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocess {
    /// Which reference to reproduce.
    pub pipeline: Pipeline,
    /// Target length of the shorter side after resizing.
    pub shortest_edge: u32,
    /// Crop height.
    pub crop_height: u32,
    /// Crop width.
    pub crop_width: u32,
    /// Per-channel mean (RGB, on the 0..1 scale).
    pub mean: [f32; 3],
    /// Per-channel standard deviation (RGB, on the 0..1 scale).
    pub std: [f32; 3],
    /// Resize straight to `crop_width x crop_height` ignoring the aspect ratio, no crop
    /// (SigLIP's processor); `shortest_edge` is then unused.
    #[serde(default)]
    pub squash: bool,
}

impl Preprocess {
    /// CLIP preprocessing at `size` (resize shorter side to `size`, crop `size`x`size`).
    pub fn clip(pipeline: Pipeline, size: u32) -> Self {
        Preprocess {
            pipeline,
            shortest_edge: size,
            crop_height: size,
            crop_width: size,
            mean: OPENAI_CLIP_MEAN,
            std: OPENAI_CLIP_STD,
            squash: false,
        }
    }

    /// A short stable description for cache keys and manifests, e.g. `openai:224:224x224:...`.
    pub fn key(&self) -> String {
        format!(
            "{}{}:{}:{}x{}:{:?}:{:?}",
            self.pipeline.name(),
            if self.squash { "-squash" } else { "" },
            self.shortest_edge,
            self.crop_height,
            self.crop_width,
            self.mean,
            self.std
        )
    }

    /// Resize and centre-crop to a uint8 RGB image (before normalisation).
    pub fn resize_crop(&self, img: &RgbImage) -> Result<RgbImage> {
        if img.width() == 0 || img.height() == 0 {
            return Err(Error::Invalid("empty image (0 pixels)".into()));
        }
        let (w, h) = (img.width() as usize, img.height() as usize);
        let mode = match self.pipeline {
            Pipeline::Openai => Coeffs::Pillow,
            Pipeline::Hf => Coeffs::Torch,
        };
        if self.squash {
            return Ok(resample(
                img,
                self.crop_width as usize,
                self.crop_height as usize,
                mode,
            ));
        }
        let (nw, nh) = resized_size(w, h, self.shortest_edge as usize);
        let resized = resample(img, nw, nh, mode);
        Ok(center_crop(
            &resized,
            self.crop_width as usize,
            self.crop_height as usize,
            self.pipeline,
        ))
    }

    /// Normalise a uint8 crop to CHW f32 exactly as the reference does.
    pub fn normalize(&self, crop: &RgbImage) -> Vec<f32> {
        let (w, h) = (crop.width() as usize, crop.height() as usize);
        let plane = w * h;
        let mut out = vec![0f32; 3 * plane];
        let raw = crop.as_raw();
        for c in 0..3 {
            let (m, s) = match self.pipeline {
                // ToTensor: x / 255 (f32), then (x - mean) / std.
                Pipeline::Openai => (self.mean[c], self.std[c]),
                // Fused: (x - mean * 255) / (std * 255), all f32.
                Pipeline::Hf => (self.mean[c] * 255.0, self.std[c] * 255.0),
            };
            let dst = &mut out[c * plane..(c + 1) * plane];
            for (i, d) in dst.iter_mut().enumerate() {
                let v = raw[i * 3 + c] as f32;
                *d = match self.pipeline {
                    Pipeline::Openai => (v / 255.0 - m) / s,
                    Pipeline::Hf => (v - m) / s,
                };
            }
        }
        out
    }

    /// Preprocess `images` in chunks of `batch` (in parallel within a chunk) and run `encode` on
    /// each chunk's flattened pixels (`encode(pixels, n)`), concatenating the embeddings in order.
    pub(crate) fn encode_batched(
        &self,
        images: &[RgbImage],
        batch: usize,
        encode: impl Fn(&[f32], usize) -> Result<Vec<Vec<f32>>>,
    ) -> Result<Vec<Vec<f32>>> {
        use rayon::prelude::*;
        let mut out = Vec::with_capacity(images.len());
        for chunk in images.chunks(batch.max(1)) {
            let pixels: Vec<Vec<f32>> = chunk
                .par_iter()
                .map(|im| self.apply(im))
                .collect::<Result<_>>()?;
            out.extend(encode(&pixels.concat(), chunk.len())?);
        }
        Ok(out)
    }

    /// Resize, crop and normalise: CHW f32 of length `3 * crop_height * crop_width`.
    pub fn apply(&self, img: &RgbImage) -> Result<Vec<f32>> {
        Ok(self.normalize(&self.resize_crop(img)?))
    }
}

/// torchvision's `Resize(int)` output size: shorter side to `size`, longer side `int(size * long / short)`.
fn resized_size(w: usize, h: usize, size: usize) -> (usize, usize) {
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

/// Centre crop; pads with black when the crop is larger than the image (as both references do).
fn center_crop(img: &RgbImage, cw: usize, ch: usize, pipeline: Pipeline) -> RgbImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    // Both references pad symmetrically (left/top get the floor half) when the image is smaller.
    let (pad_l, pad_t) = (cw.saturating_sub(w) / 2, ch.saturating_sub(h) / 2);
    let (pw, ph) = (w.max(cw), h.max(ch));
    let (top, left) = match pipeline {
        Pipeline::Openai => (
            round_half_even((ph - ch) as f64 / 2.0),
            round_half_even((pw - cw) as f64 / 2.0),
        ),
        Pipeline::Hf => ((ph - ch) / 2, (pw - cw) / 2),
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

/// How filter weights are turned into integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coeffs {
    /// Pillow `ImagingResample` 8bpc: i32 weights with 22 fractional bits.
    Pillow,
    /// PyTorch uint8 antialiased kernel: i16 weights, precision from the largest weight.
    Torch,
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

fn bicubic_torch(x: f64) -> f64 {
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

fn precompute(in_size: usize, out_size: usize, mode: Coeffs) -> Taps {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = 2.0 * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let filter = match mode {
        Coeffs::Pillow => bicubic_pillow,
        Coeffs::Torch => bicubic_torch,
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
    let precision = match mode {
        Coeffs::Pillow => PILLOW_PRECISION_BITS,
        Coeffs::Torch => {
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
            match mode {
                Coeffs::Pillow => {
                    if w < 0.0 {
                        (-0.5 + v) as i32
                    } else {
                        (0.5 + v) as i32
                    }
                }
                Coeffs::Torch => {
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

/// Separable antialiased bicubic resample with an 8-bit intermediate (horizontal, then vertical).
fn resample(img: &RgbImage, out_w: usize, out_h: usize, mode: Coeffs) -> RgbImage {
    let (in_w, in_h) = (img.width() as usize, img.height() as usize);
    let src = img.as_raw();
    let need_h = out_w != in_w;
    let need_v = out_h != in_h;
    // Horizontal pass over all input rows (equivalent to Pillow's row window).
    let (tmp, tw) = if need_h {
        let taps = precompute(in_w, out_w, mode);
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
        let taps = precompute(in_h, out_h, mode);
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

/// Resize to exactly `out_w x out_h` with torchvision's uint8 antialiased bicubic (what the
/// transformers torchvision image-processor backend does), bit-exact.
pub(crate) fn resize_torch_bicubic(img: &RgbImage, out_w: usize, out_h: usize) -> RgbImage {
    resample(img, out_w, out_h, Coeffs::Torch)
}

/// Load an image file as RGB8, applying its EXIF orientation; any mode (grey, alpha, 16-bit) is
/// converted to 8-bit RGB (alpha dropped). This is `cuelab_cue::load_rgb`: JPEG files give
/// exactly the pixels Pillow gives (libjpeg-turbo's decoder), so preprocessing starts from the
/// same input as a Python pipeline.
pub fn load_image(path: &Path) -> Result<RgbImage> {
    cuelab_cue::load_rgb(path).map_err(|e| match e {
        cuelab_cue::CueError::ImageRead {
            reason: image::ImageError::IoError(source),
            ..
        } => Error::Io {
            path: path.to_path_buf(),
            source,
        },
        cuelab_cue::CueError::ImageRead { reason, .. } => Error::Image {
            path: path.to_path_buf(),
            message: reason.to_string(),
        },
        other => Error::Image {
            path: path.to_path_buf(),
            message: other.to_string(),
        },
    })
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
    fn resized_size_matches_torchvision() {
        assert_eq!(resized_size(450, 655, 224), (224, 326));
        assert_eq!(resized_size(400, 267, 224), (335, 224));
        assert_eq!(resized_size(1, 1000, 224), (224, 224_000));
    }

    #[test]
    fn tiny_and_extreme_images_do_not_panic() {
        for (w, h) in [(1, 1), (1, 300), (300, 1), (7, 5)] {
            let img = RgbImage::from_pixel(w, h, image::Rgb([10, 200, 30]));
            for p in [Pipeline::Openai, Pipeline::Hf] {
                let out = Preprocess::clip(p, 16).apply(&img).expect("preprocess");
                assert_eq!(out.len(), 3 * 16 * 16);
            }
        }
        let empty = RgbImage::new(0, 0);
        assert!(Preprocess::clip(Pipeline::Openai, 16)
            .apply(&empty)
            .is_err());
    }

    #[test]
    fn constant_image_stays_constant() {
        let img = RgbImage::from_pixel(37, 91, image::Rgb([12, 128, 250]));
        for p in [Pipeline::Openai, Pipeline::Hf] {
            let crop = Preprocess::clip(p, 24).resize_crop(&img).expect("crop");
            assert!(crop.pixels().all(|px| px.0 == [12, 128, 250]));
        }
    }
}
