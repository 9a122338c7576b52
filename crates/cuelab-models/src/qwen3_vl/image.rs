//! Qwen-VL image preprocessing, as transformers' `Qwen2VLImageProcessor` (torchvision backend)
//! does it: `smart_resize` to multiples of `patch * merge` within `[min_pixels, max_pixels]`,
//! torchvision uint8 antialiased bicubic resize, fused rescale+normalise in f32, and the
//! patch layout the vision tower expects (merge blocks contiguous, each patch flattened as
//! channel x temporal x row x column, the image repeated over the temporal patch).

use std::path::Path;

use image::RgbImage;
use serde_json::Value;

use crate::error::{Error, Result};
// transformers' torchvision backend: PyTorch's uint8 antialiased bicubic, bit-exact
use cuelab_cue::resize::{resize_bicubic, Bicubic};

/// The image processor's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageProcessor {
    /// Patch side in pixels.
    pub patch_size: usize,
    /// Frames per temporal patch.
    pub temporal_patch_size: usize,
    /// Merge block side in patches.
    pub merge_size: usize,
    /// Lower bound on the resized pixel count.
    pub min_pixels: usize,
    /// Upper bound on the resized pixel count.
    pub max_pixels: usize,
    /// Per-channel mean (0..1 scale).
    pub mean: [f32; 3],
    /// Per-channel standard deviation (0..1 scale).
    pub std: [f32; 3],
}

/// One preprocessed image: flattened patches and its patch grid.
#[derive(Debug, Clone)]
pub struct ProcessedImage {
    /// `patches x (3 * temporal * patch * patch)` values, row-major.
    pub pixels: Vec<f32>,
    /// `(t, h, w)` in patches.
    pub grid_thw: [usize; 3],
    /// Size after `smart_resize` (width, height) in pixels.
    pub resized: (usize, usize),
}

impl ProcessedImage {
    /// Number of language tokens this image becomes.
    pub fn num_tokens(&self, merge: usize) -> usize {
        self.grid_thw[0] * self.grid_thw[1] * self.grid_thw[2] / (merge * merge)
    }
}

/// Python's `round()`: half to even.
pub(crate) fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - x.signum()
    } else {
        r
    }
}

/// The model's resize rule: both sides multiples of `factor`, pixel count within bounds,
/// aspect ratio kept as closely as possible. Returns `(height, width)`.
pub fn smart_resize(
    height: usize,
    width: usize,
    factor: usize,
    min_pixels: usize,
    max_pixels: usize,
) -> Result<(usize, usize)> {
    if height == 0 || width == 0 {
        return Err(Error::Invalid("empty image (0 pixels)".into()));
    }
    let (h, w, f) = (height as f64, width as f64, factor as f64);
    let ratio = h.max(w) / h.min(w);
    if ratio > 200.0 {
        return Err(Error::Invalid(format!(
            "image {width}x{height}: aspect ratio {ratio:.1} exceeds 200"
        )));
    }
    let mut hb = round_half_even(h / f) * f;
    let mut wb = round_half_even(w / f) * f;
    if hb * wb > max_pixels as f64 {
        let beta = (h * w / max_pixels as f64).sqrt();
        hb = f.max((h / beta / f).floor() * f);
        wb = f.max((w / beta / f).floor() * f);
    } else if hb * wb < min_pixels as f64 {
        let beta = (min_pixels as f64 / (h * w)).sqrt();
        hb = (h * beta / f).ceil() * f;
        wb = (w * beta / f).ceil() * f;
    }
    Ok((hb as usize, wb as usize))
}

impl ImageProcessor {
    /// Qwen3-VL's defaults (patch 16, merge 2, temporal 2, mean = std = 0.5,
    /// `shortest_edge` 65536, `longest_edge` 16777216 pixels).
    pub fn qwen3_vl_default() -> Self {
        ImageProcessor {
            patch_size: 16,
            temporal_patch_size: 2,
            merge_size: 2,
            min_pixels: 65_536,
            max_pixels: 16_777_216,
            mean: [0.5; 3],
            std: [0.5; 3],
        }
    }

    /// Read `preprocessor_config.json`, or the `image_processor` section of
    /// `processor_config.json` (transformers 5 layout); defaults when neither exists.
    pub fn load(dir: &Path) -> Result<Self> {
        let mut p = Self::qwen3_vl_default();
        let pre = dir.join("preprocessor_config.json");
        let proc_ = dir.join("processor_config.json");
        let (path, value) = if pre.is_file() {
            (pre.clone(), read_json(&pre)?)
        } else if proc_.is_file() {
            let v = read_json(&proc_)?;
            match v.get("image_processor") {
                Some(ip) => (proc_.clone(), ip.clone()),
                None => return Ok(p),
            }
        } else {
            return Ok(p);
        };
        read_shared_keys(&path, &value, &mut p)?;
        Ok(p)
    }

    /// Length of one flattened patch.
    pub fn patch_len(&self) -> usize {
        3 * self.temporal_patch_size * self.patch_size * self.patch_size
    }

    /// `(height, width)` after `smart_resize`.
    pub fn target_size(&self, width: usize, height: usize) -> Result<(usize, usize)> {
        smart_resize(
            height,
            width,
            self.patch_size * self.merge_size,
            self.min_pixels,
            self.max_pixels,
        )
    }

    /// Resize an image (no-op when already at the target size) and lay it out as patches.
    pub fn process(&self, img: &RgbImage) -> Result<ProcessedImage> {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let (th, tw) = self.target_size(w, h)?;
        let resized = if (tw, th) == (w, h) {
            img.clone()
        } else {
            resize_bicubic(img, tw, th, Bicubic::TorchUint8)
        };
        Ok(self.patchify(&resized))
    }

    /// Normalise and patchify an image whose sides are already multiples of `patch * merge`.
    pub fn patchify(&self, img: &RgbImage) -> ProcessedImage {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let (p, m, t) = (self.patch_size, self.merge_size, self.temporal_patch_size);
        let (gh, gw) = (h / p, w / p);
        let raw = img.as_raw();
        let scale: [f32; 3] = std::array::from_fn(|c| self.std[c] * 255.0);
        let shift: [f32; 3] = std::array::from_fn(|c| self.mean[c] * 255.0);
        let plen = self.patch_len();
        let mut out = Vec::with_capacity(gh * gw * plen);
        for bh in 0..gh / m {
            for bw in 0..gw / m {
                for mh in 0..m {
                    for mw in 0..m {
                        let (y0, x0) = ((bh * m + mh) * p, (bw * m + mw) * p);
                        for c in 0..3 {
                            for _ in 0..t {
                                for y in 0..p {
                                    let row = ((y0 + y) * w + x0) * 3;
                                    for x in 0..p {
                                        let v = raw[row + x * 3 + c] as f32;
                                        out.push((v - shift[c]) / scale[c]);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        ProcessedImage {
            pixels: out,
            grid_thw: [1, gh, gw],
            resized: (w, h),
        }
    }
}

/// A configuration error on `key` of the processor file at `path`.
pub(crate) fn key_error(path: &Path, key: &str, message: String) -> Error {
    Error::Config {
        path: path.to_path_buf(),
        key: key.into(),
        message,
    }
}

/// The non-negative integer at `key` of a processor's JSON object; `None` when absent or null.
pub(crate) fn usize_key(path: &Path, value: &Value, key: &str) -> Result<Option<usize>> {
    match value.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(|x| Some(x as usize)).ok_or_else(|| {
            key_error(
                path,
                key,
                format!("expected a non-negative integer, got {v}"),
            )
        }),
    }
}

/// Read the keys the image and video processors share (patch, temporal patch and merge sizes,
/// `size.shortest_edge`/`longest_edge` then `min_pixels`/`max_pixels`, `image_mean`/`image_std`)
/// from a processor's JSON object into `p`, and check that the sizes are positive.
pub(crate) fn read_shared_keys(path: &Path, value: &Value, p: &mut ImageProcessor) -> Result<()> {
    let num = |key: &str| usize_key(path, value, key);
    if let Some(v) = num("patch_size")? {
        p.patch_size = v;
    }
    if let Some(v) = num("temporal_patch_size")? {
        p.temporal_patch_size = v;
    }
    if let Some(v) = num("merge_size")? {
        p.merge_size = v;
    }
    if let Some(size) = value.get("size") {
        if let Some(v) = size.get("shortest_edge").and_then(Value::as_u64) {
            p.min_pixels = v as usize;
        }
        if let Some(v) = size.get("longest_edge").and_then(Value::as_u64) {
            p.max_pixels = v as usize;
        }
    }
    if let Some(v) = num("min_pixels")? {
        p.min_pixels = v;
    }
    if let Some(v) = num("max_pixels")? {
        p.max_pixels = v;
    }
    for (key, dst) in [("image_mean", &mut p.mean), ("image_std", &mut p.std)] {
        if let Some(a) = value.get(key).and_then(Value::as_array) {
            if a.len() != 3 {
                return Err(key_error(path, key, "expected 3 values".into()));
            }
            for (d, v) in dst.iter_mut().zip(a) {
                *d = v.as_f64().unwrap_or(0.0) as f32;
            }
        }
    }
    if p.patch_size == 0 || p.merge_size == 0 || p.temporal_patch_size == 0 {
        return Err(key_error(
            path,
            "patch_size",
            "patch, merge and temporal sizes must be positive".into(),
        ));
    }
    Ok(())
}

pub(crate) fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| Error::Config {
        path: path.to_path_buf(),
        key: String::new(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smart_resize_rules() {
        // round to multiples of 32 (half to even: 48/32 = 1.5 -> 2)
        assert_eq!(smart_resize(48, 80, 32, 0, 1 << 30).unwrap(), (64, 64));
        // capped by max_pixels: floor after scaling
        let (h, w) = smart_resize(576, 768, 32, 4096, 192 * 160).unwrap();
        assert!(h * w <= 192 * 160 && h % 32 == 0 && w % 32 == 0, "{h}x{w}");
        // raised to min_pixels
        let (h, w) = smart_resize(10, 10, 32, 64 * 64, 1 << 30).unwrap();
        assert!(h * w >= 64 * 64, "{h}x{w}");
        assert!(smart_resize(1, 300, 32, 0, 1 << 30).is_err());
    }
}
