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

use cuelab_cue::resize::{
    center_crop, normalize_chw, resize_bicubic, shorter_side_size, Bicubic, CropOffset,
    Normalization,
};
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
        let (kernel, offset) = match self.pipeline {
            Pipeline::Openai => (Bicubic::Pillow, CropOffset::RoundHalfEven),
            Pipeline::Hf => (Bicubic::TorchUint8, CropOffset::Truncate),
        };
        if self.squash {
            return Ok(resize_bicubic(
                img,
                self.crop_width as usize,
                self.crop_height as usize,
                kernel,
            ));
        }
        let (nw, nh) = shorter_side_size(w, h, self.shortest_edge as usize);
        let resized = resize_bicubic(img, nw, nh, kernel);
        Ok(center_crop(
            &resized,
            self.crop_width as usize,
            self.crop_height as usize,
            offset,
        ))
    }

    /// Normalise a uint8 crop to CHW f32 exactly as the reference does.
    pub fn normalize(&self, crop: &RgbImage) -> Vec<f32> {
        let mode = match self.pipeline {
            // ToTensor: x / 255 (f32), then (x - mean) / std.
            Pipeline::Openai => Normalization::ScaleThenNormalize,
            // Fused: (x - mean * 255) / (std * 255), all f32.
            Pipeline::Hf => Normalization::Fused,
        };
        normalize_chw(crop, self.mean, self.std, mode)
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
