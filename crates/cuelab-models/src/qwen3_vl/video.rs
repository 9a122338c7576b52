//! Qwen3-VL's video preprocessing, as transformers' `Qwen3VLVideoProcessor` does it: frame
//! sampling from the clip's frame rate (the processor's `fps` or `num_frames`, clamped to
//! `min_frames..=max_frames` and the clip's length), one `smart_resize` for the whole clip with
//! the pixel budget over frames x height x width, the last frame repeated until the frame count
//! is a multiple of the temporal patch (2), and the patch layout of the image path with two
//! frames per patch. Also the frame timestamps the processor writes into the prompt (the mean
//! time of the frames of each temporal patch).

use std::path::Path;

use image::RgbImage;
use serde_json::Value;

use super::image::{
    key_error, read_json, read_shared_keys, round_half_even, usize_key, ImageProcessor,
};
use crate::error::{Error, Result};
// transformers' torchvision backend: PyTorch's uint8 antialiased bicubic, bit-exact
use cuelab_cue::resize::{resize_bicubic, Bicubic};

/// The video processor's parameters (`video_processor` in `processor_config.json`, or
/// `video_preprocessor_config.json`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VideoProcessor {
    /// Patch side in pixels.
    pub patch_size: usize,
    /// Frames per temporal patch.
    pub temporal_patch_size: usize,
    /// Merge block side in patches.
    pub merge_size: usize,
    /// Lower bound on frames x height x width after resizing (`size.shortest_edge`).
    pub min_pixels: usize,
    /// Upper bound on frames x height x width after resizing (`size.longest_edge`).
    pub max_pixels: usize,
    /// Per-channel mean (0..1 scale).
    pub mean: [f32; 3],
    /// Per-channel standard deviation (0..1 scale).
    pub std: [f32; 3],
    /// Frames kept per second of clip (`fps`); used when `num_frames` is unset.
    pub fps: Option<f64>,
    /// Fixed number of frames to keep (`num_frames`, takes precedence over `fps`).
    pub num_frames: Option<usize>,
    /// Fewest frames kept by `fps` sampling.
    pub min_frames: usize,
    /// Most frames kept.
    pub max_frames: usize,
    /// Whether frames are sampled at all (`do_sample_frames`); when false every frame is kept.
    pub do_sample_frames: bool,
    /// qwen-vl-utils' per-frame pixel cap (`cap_pixels_per_frame`).
    pub cap_pixels_per_frame: bool,
    /// Per-frame token ceiling of the cap (`max_video_tokens`).
    pub max_video_tokens: usize,
}

/// One preprocessed clip: flattened patches, its grid and the frames it was made of.
#[derive(Debug, Clone)]
pub struct ProcessedVideo {
    /// `patches x (3 * temporal * patch * patch)` values, row-major, temporal patch major.
    pub pixels: Vec<f32>,
    /// `(t, h, w)`: temporal patches, patch rows, patch columns.
    pub grid_thw: [usize; 3],
    /// Frame size after `smart_resize` (width, height) in pixels.
    pub resized: (usize, usize),
    /// Indices of the clip's frames that were kept (before the temporal padding).
    pub frame_indices: Vec<usize>,
    /// Time in seconds of each temporal patch (mean of its first and last frame).
    pub timestamps: Vec<f64>,
}

impl ProcessedVideo {
    /// Language tokens of one temporal patch (`h * w / merge^2`).
    pub fn tokens_per_frame(&self, merge: usize) -> usize {
        self.grid_thw[1] * self.grid_thw[2] / (merge * merge)
    }
}

/// The video resize rule: both sides multiples of `factor`, `frames x h x w` within the
/// bounds (the frame count rounded to the temporal patch for the check, as transformers does),
/// aspect ratio kept. Returns `(height, width)`.
pub fn smart_resize_video(
    num_frames: usize,
    height: usize,
    width: usize,
    temporal_factor: usize,
    factor: usize,
    min_pixels: usize,
    max_pixels: usize,
) -> Result<(usize, usize)> {
    if num_frames < temporal_factor {
        return Err(Error::Invalid(format!(
            "a video needs at least {temporal_factor} frames (got {num_frames})"
        )));
    }
    if height == 0 || width == 0 {
        return Err(Error::Invalid("empty video frame (0 pixels)".into()));
    }
    let (mut height, mut width) = (height as f64, width as f64);
    let f = factor as f64;
    if height < f || width < f {
        let scale = (f / height).max(f / width);
        height = (height * scale).trunc();
        width = (width * scale).trunc();
    }
    let ratio = height.max(width) / height.min(width);
    if ratio > 200.0 {
        return Err(Error::Invalid(format!(
            "video frame {width}x{height}: aspect ratio {ratio:.1} exceeds 200"
        )));
    }
    let t = num_frames as f64;
    let mut hb = round_half_even(height / f) * f;
    let mut wb = round_half_even(width / f) * f;
    let tb = round_half_even(t / temporal_factor as f64) * temporal_factor as f64;
    if tb * hb * wb > max_pixels as f64 {
        let beta = (t * height * width / max_pixels as f64).sqrt();
        hb = f.max((height / beta / f).floor() * f);
        wb = f.max((width / beta / f).floor() * f);
    } else if tb * hb * wb < min_pixels as f64 {
        let beta = (min_pixels as f64 / (t * height * width)).sqrt();
        hb = (height * beta / f).ceil() * f;
        wb = (width * beta / f).ceil() * f;
    }
    Ok((hb as usize, wb as usize))
}

/// `numpy.linspace(0, total - 1, n).round()`: `n` indices spread evenly over `total` frames
/// (half to even, as NumPy rounds).
pub fn linspace_indices(total: usize, n: usize) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    if n == 1 {
        return vec![0];
    }
    let stop = total.saturating_sub(1) as f64;
    let step = stop / (n - 1) as f64;
    (0..n)
        .map(|i| {
            let y = if i == n - 1 { stop } else { i as f64 * step };
            round_half_even(y) as usize
        })
        .collect()
}

/// Time in seconds of each temporal patch: `index / clip_fps` for every kept frame (the last
/// repeated to fill the last patch), averaged over each patch's first and last frame.
pub fn temporal_timestamps(indices: &[usize], clip_fps: f64, temporal: usize) -> Vec<f64> {
    let mut idx = indices.to_vec();
    if let Some(&last) = idx.last() {
        while !idx.len().is_multiple_of(temporal.max(1)) {
            idx.push(last);
        }
    }
    let ts: Vec<f64> = idx.iter().map(|&i| i as f64 / clip_fps).collect();
    ts.chunks(temporal)
        .map(|c| (c[0] + c[c.len() - 1]) / 2.0)
        .collect()
}

impl VideoProcessor {
    /// Qwen3-VL's defaults (patch 16, merge 2, temporal 2, mean = std = 0.5, `size`
    /// 131072..=786432 pixels over the clip, 2 fps, 4..=768 frames).
    pub fn qwen3_vl_default() -> Self {
        VideoProcessor {
            patch_size: 16,
            temporal_patch_size: 2,
            merge_size: 2,
            min_pixels: 128 * 32 * 32,
            max_pixels: 32 * 32 * 768,
            mean: [0.5; 3],
            std: [0.5; 3],
            fps: Some(2.0),
            num_frames: None,
            min_frames: 4,
            max_frames: 768,
            do_sample_frames: true,
            cap_pixels_per_frame: false,
            max_video_tokens: 768,
        }
    }

    /// Read `video_preprocessor_config.json`, or the `video_processor` section of
    /// `processor_config.json` (transformers 5 layout); defaults when neither exists.
    pub fn load(dir: &Path) -> Result<Self> {
        let own = dir.join("video_preprocessor_config.json");
        let proc_ = dir.join("processor_config.json");
        let (path, value) = if own.is_file() {
            (own.clone(), read_json(&own)?)
        } else if proc_.is_file() {
            match read_json(&proc_)?.get("video_processor") {
                Some(v) => (proc_.clone(), v.clone()),
                None => return Ok(Self::qwen3_vl_default()),
            }
        } else {
            return Ok(Self::qwen3_vl_default());
        };
        Self::from_json(&path, &value)
    }

    /// Parse the processor's JSON object (`path` names it in errors).
    pub fn from_json(path: &Path, value: &Value) -> Result<Self> {
        let mut p = Self::qwen3_vl_default();
        let mut shared = ImageProcessor {
            patch_size: p.patch_size,
            temporal_patch_size: p.temporal_patch_size,
            merge_size: p.merge_size,
            min_pixels: p.min_pixels,
            max_pixels: p.max_pixels,
            mean: p.mean,
            std: p.std,
        };
        read_shared_keys(path, value, &mut shared)?;
        p.patch_size = shared.patch_size;
        p.temporal_patch_size = shared.temporal_patch_size;
        p.merge_size = shared.merge_size;
        p.min_pixels = shared.min_pixels;
        p.max_pixels = shared.max_pixels;
        p.mean = shared.mean;
        p.std = shared.std;
        let bad = |key: &str, message: String| key_error(path, key, message);
        let num = |key: &str| usize_key(path, value, key);
        if let Some(v) = num("min_frames")? {
            p.min_frames = v;
        }
        if let Some(v) = num("max_frames")? {
            p.max_frames = v;
        }
        if let Some(v) = num("max_video_tokens")? {
            p.max_video_tokens = v;
        }
        p.num_frames = num("num_frames")?;
        match value.get("fps") {
            None => {}
            Some(Value::Null) => p.fps = None,
            Some(v) => match v.as_f64() {
                Some(f) if f > 0.0 => p.fps = Some(f),
                _ => return Err(bad("fps", format!("expected a positive number, got {v}"))),
            },
        }
        for (key, dst) in [
            ("do_sample_frames", &mut p.do_sample_frames),
            ("cap_pixels_per_frame", &mut p.cap_pixels_per_frame),
        ] {
            match value.get(key) {
                None | Some(Value::Null) => {}
                Some(Value::Bool(b)) => *dst = *b,
                Some(v) => return Err(bad(key, format!("expected true or false, got {v}"))),
            }
        }
        Ok(p)
    }

    /// Length of one flattened patch.
    pub fn patch_len(&self) -> usize {
        3 * self.temporal_patch_size * self.patch_size * self.patch_size
    }

    /// Indices of the frames kept from a clip of `total` frames at `clip_fps` frames per
    /// second (`sample_frames` of the processor).
    pub fn sample_indices(&self, total: usize, clip_fps: f64) -> Result<Vec<usize>> {
        if total == 0 {
            return Err(Error::Invalid("the video has no frames".into()));
        }
        if !self.do_sample_frames {
            return Ok((0..total).collect());
        }
        if !(clip_fps.is_finite() && clip_fps > 0.0) {
            return Err(Error::Invalid(format!(
                "the clip's frame rate must be positive (got {clip_fps})"
            )));
        }
        let n = match (self.num_frames, self.fps) {
            (Some(n), _) => n,
            (None, Some(fps)) => {
                let n = (total as f64 / clip_fps * fps).trunc() as usize;
                n.max(self.min_frames).min(self.max_frames).min(total)
            }
            (None, None) => total.max(self.min_frames).min(self.max_frames),
        };
        if n == 0 {
            return Err(Error::Invalid("frame sampling keeps no frame".into()));
        }
        Ok(linspace_indices(total, n))
    }

    /// `(height, width)` of every frame after resizing a clip of `num_frames` kept frames.
    pub fn target_size(
        &self,
        num_frames: usize,
        width: usize,
        height: usize,
    ) -> Result<(usize, usize)> {
        let factor = self.patch_size * self.merge_size;
        let mut max_pixels = self.max_pixels;
        if self.cap_pixels_per_frame && num_frames > 0 {
            let frame_cap = self.max_video_tokens * factor * factor;
            let share = self.max_pixels / num_frames;
            let floor = (self.min_pixels as f64 * 1.05) as usize;
            max_pixels = frame_cap.min(share).max(floor) * num_frames;
        }
        smart_resize_video(
            num_frames,
            height,
            width,
            self.temporal_patch_size,
            factor,
            self.min_pixels,
            max_pixels,
        )
    }

    /// Sample, resize, normalise and patchify the frames of a clip playing at `clip_fps`
    /// frames per second. Every frame must have the same size.
    pub fn process(&self, frames: &[RgbImage], clip_fps: f64) -> Result<ProcessedVideo> {
        let Some(first) = frames.first() else {
            return Err(Error::Invalid("the video has no frames".into()));
        };
        let (w, h) = (first.width() as usize, first.height() as usize);
        if let Some((i, f)) = frames
            .iter()
            .enumerate()
            .find(|(_, f)| (f.width() as usize, f.height() as usize) != (w, h))
        {
            return Err(Error::Invalid(format!(
                "video frame {} is {}x{} but frame 1 is {w}x{h}; a clip's frames must share one size",
                i + 1,
                f.width(),
                f.height()
            )));
        }
        let indices = self.sample_indices(frames.len(), clip_fps)?;
        let (th, tw) = self.target_size(indices.len(), w, h)?;
        let kept: Vec<RgbImage> = indices
            .iter()
            .map(|&i| {
                let f = &frames[i.min(frames.len() - 1)];
                if (tw, th) == (w, h) {
                    f.clone()
                } else {
                    resize_bicubic(f, tw, th, Bicubic::TorchUint8)
                }
            })
            .collect();
        let timestamps = temporal_timestamps(&indices, clip_fps, self.temporal_patch_size);
        let (pixels, grid_thw) = self.patchify(&kept);
        Ok(ProcessedVideo {
            pixels,
            grid_thw,
            resized: (tw, th),
            frame_indices: indices,
            timestamps,
        })
    }

    /// Normalise and patchify frames whose sides are multiples of `patch * merge` (the last
    /// frame repeated to fill the last temporal patch). Returns the patches and `(t, h, w)`.
    pub fn patchify(&self, frames: &[RgbImage]) -> (Vec<f32>, [usize; 3]) {
        let Some(first) = frames.first() else {
            return (Vec::new(), [0, 0, 0]);
        };
        let (w, h) = (first.width() as usize, first.height() as usize);
        let (p, m, tp) = (self.patch_size, self.merge_size, self.temporal_patch_size);
        let gt = frames.len().div_ceil(tp);
        let (gh, gw) = (h / p, w / p);
        let scale: [f32; 3] = std::array::from_fn(|c| self.std[c] * 255.0);
        let shift: [f32; 3] = std::array::from_fn(|c| self.mean[c] * 255.0);
        let frame = |i: usize| frames[i.min(frames.len() - 1)].as_raw();
        let mut out = Vec::with_capacity(gt * gh * gw * self.patch_len());
        for t in 0..gt {
            for bh in 0..gh / m {
                for bw in 0..gw / m {
                    for mh in 0..m {
                        for mw in 0..m {
                            let (y0, x0) = ((bh * m + mh) * p, (bw * m + mw) * p);
                            for c in 0..3 {
                                for k in 0..tp {
                                    let raw = frame(t * tp + k);
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
        }
        (out, [gt, gh, gw])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_follows_the_processor() {
        let p = VideoProcessor::qwen3_vl_default();
        // 8 frames at 4 fps, sampled at 2 fps: 4 frames spread over the clip
        assert_eq!(p.sample_indices(8, 4.0).unwrap(), vec![0, 2, 5, 7]);
        // never more frames than the clip has, at least min_frames otherwise
        assert_eq!(p.sample_indices(3, 30.0).unwrap(), vec![0, 1, 2]);
        assert_eq!(p.sample_indices(60, 30.0).unwrap().len(), 4);
        let fixed = VideoProcessor {
            num_frames: Some(4),
            ..p.clone()
        };
        assert_eq!(fixed.sample_indices(6, 12.0).unwrap(), vec![0, 2, 3, 5]);
        assert!(p.sample_indices(0, 2.0).is_err());
        assert!(p.sample_indices(5, 0.0).is_err());
    }

    #[test]
    fn timestamps_average_each_temporal_patch() {
        // the last frame repeated: (0 + 0.5) / 2, (1 + 1.5) / 2, (2 + 2) / 2
        assert_eq!(
            temporal_timestamps(&[0, 1, 2, 3, 4], 2.0, 2),
            vec![0.25, 1.25, 2.0]
        );
    }

    #[test]
    fn video_resize_rules() {
        // raised to the clip budget: 4 frames x 160 x 224 >= 131072
        let (h, w) = smart_resize_video(4, 48, 64, 2, 32, 131_072, 786_432).unwrap();
        assert_eq!((h, w), (160, 224));
        // lowered to it
        let (h, w) = smart_resize_video(4, 120, 160, 2, 32, 4096, 40_000).unwrap();
        assert_eq!((h, w), (64, 96));
        assert!(smart_resize_video(1, 64, 64, 2, 32, 0, 1 << 30).is_err());
        // the per-frame cap divides the budget between frames
        let p = VideoProcessor {
            cap_pixels_per_frame: true,
            max_pixels: 40_000,
            min_pixels: 4096,
            ..VideoProcessor::qwen3_vl_default()
        };
        let (h, w) = p.target_size(8, 160, 120).unwrap();
        assert!(h * w <= 40_000 / 8 + 32 * 32, "{h}x{w}");
    }
}
