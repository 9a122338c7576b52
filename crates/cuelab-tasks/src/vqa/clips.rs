//! Clip questions made ready to ask: videos decoded into cached frames, the run's frame sampling
//! applied, Something-Else boxes interpolated over frames without one (see
//! [`cuelab_data::clip::prepare`]).

use std::path::Path;

use cuelab_data::video::FrameSampling;
use cuelab_data::{Sample, Task};

use super::item::SkippedSample;

/// Prepare every video sample with a video file or frames (others pass unchanged): with
/// `sampling` `None`, frame folders keep all their frames and videos are decoded whole. Clips
/// that cannot be read (no ffmpeg, corrupt file) are returned as skipped with the reason.
pub fn prepare_clips(
    samples: Vec<Sample>,
    base: &Path,
    sampling: Option<FrameSampling>,
    cache: &Path,
) -> (Vec<Sample>, Vec<SkippedSample>) {
    let mut out = Vec::with_capacity(samples.len());
    let mut skipped = Vec::new();
    for s in samples {
        let is_clip = s.task == Task::Video && (s.video.is_some() || !s.frames.is_empty());
        if !is_clip || (sampling.is_none() && s.video.is_none() && s.frame_boxes.is_empty()) {
            out.push(s);
            continue;
        }
        match cuelab_data::clip::prepare(&s, base, sampling.unwrap_or_default(), cache) {
            Ok(p) => out.push(p),
            Err(e) => skipped.push(SkippedSample {
                id: s.id.clone(),
                reason: e.to_string(),
            }),
        }
    }
    (out, skipped)
}
