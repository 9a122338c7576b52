//! Cued clips (seed 000): a clip sample's frames, sampled, with a cue recipe drawn on every
//! frame's boxes (Something-Else boxes interpolated over frames without one; trajectories of box
//! centres with a bounded, fading history), for inspection (`cuelab render-clip`, GIF or MP4)
//! and for export.

use std::path::{Path, PathBuf};

use cuelab_cue::{load_rgb, Recipe, Renderer};
use cuelab_data::video::FrameSampling;
use cuelab_data::{clip, Sample};
use image::RgbImage;

use crate::error::{Result, TaskError};

/// How a clip is turned into cued frames.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipSettings {
    /// Which frames are kept.
    pub sampling: FrameSampling,
    /// Trajectory history in kept frames (`None`: from the first frame).
    pub history: Option<usize>,
    /// Cache folder of decoded videos.
    pub cache: PathBuf,
}

/// The frames of `sample` (relative paths against `base`) under `settings`, with `recipe`
/// drawn on every box of every frame (in label order; `plain` draws nothing).
pub fn cued_frames(
    sample: &Sample,
    base: &Path,
    recipe: &Recipe,
    settings: &ClipSettings,
) -> Result<Vec<RgbImage>> {
    let prepared = clip::prepare(sample, base, settings.sampling, &settings.cache)
        .map_err(|e| TaskError::Data(Box::new(e)))?;
    if prepared.frames.is_empty() {
        return Err(TaskError::Config(format!(
            "sample {} has no video or frames",
            sample.id
        )));
    }
    let targets = clip::targets(
        &prepared.frame_boxes,
        prepared.frames.len(),
        settings.history,
    );
    let mut out = Vec::with_capacity(prepared.frames.len());
    for (frame, targets) in prepared.frames.iter().zip(&targets) {
        let mut img = load_rgb(frame)?;
        if !recipe.is_plain() {
            for t in targets {
                img = Renderer::new(&img).render(recipe, t)?;
            }
        }
        out.push(img);
    }
    Ok(out)
}

/// Frames of two clips side by side (`left | right`, a 4-pixel white gap), for before/after
/// views; the shorter clip holds its last frame.
pub fn side_by_side(left: &[RgbImage], right: &[RgbImage]) -> Vec<RgbImage> {
    let n = left.len().max(right.len());
    (0..n)
        .filter_map(|i| {
            let a = left.get(i).or(left.last())?;
            let b = right.get(i).or(right.last())?;
            let gap = 4;
            let mut out = RgbImage::from_pixel(
                a.width() + gap + b.width(),
                a.height().max(b.height()),
                image::Rgb([255, 255, 255]),
            );
            image::imageops::replace(&mut out, a, 0, 0);
            image::imageops::replace(&mut out, b, i64::from(a.width() + gap), 0);
            Some(out)
        })
        .collect()
}

/// Scale frames by an integer factor (nearest neighbour: tiny clips stay crisp in a README).
pub fn upscale(frames: Vec<RgbImage>, factor: u32) -> Vec<RgbImage> {
    if factor <= 1 {
        return frames;
    }
    frames
        .into_iter()
        .map(|f| {
            image::imageops::resize(
                &f,
                f.width() * factor,
                f.height() * factor,
                image::imageops::FilterType::Nearest,
            )
        })
        .collect()
}

/// Write frames as `.gif` or `.mp4` (by the extension of `out`) at `fps`.
pub fn write_clip(frames: &[RgbImage], fps: f64, out: &Path) -> Result<()> {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let r = match ext.as_str() {
        "gif" => cuelab_data::video::write_gif(frames, fps, out),
        "mp4" => cuelab_data::video::write_mp4(frames, fps, out),
        _ => {
            return Err(TaskError::Config(format!(
                "{}: write a .gif or an .mp4",
                out.display()
            )))
        }
    };
    r.map_err(|e| TaskError::Data(Box::new(e)))
}
