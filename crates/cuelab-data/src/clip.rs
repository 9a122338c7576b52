//! Clips as frame lists with per-frame boxes: Something-Else boxes interpolated over frames that
//! have none, the frames a sampling keeps, and the cue targets of every frame (boxes, labels and
//! trajectories of box centres with a bounded, fading history).

use std::collections::BTreeMap;
use std::path::Path;

use cuelab_cue::{BoxXyxy, Region, Target};

use crate::error::{DataError, Result};
use crate::sample::{FrameBoxes, LabeledBox, Sample};
use crate::video::{self, FrameSampling};

/// The key of a box across frames: its label and its rank among same-labelled boxes of a frame
/// (two `hand` boxes are followed separately).
type Track = (String, usize);

fn tracks(frame_boxes: &[FrameBoxes]) -> BTreeMap<Track, BTreeMap<u32, BoxXyxy>> {
    let mut out: BTreeMap<Track, BTreeMap<u32, BoxXyxy>> = BTreeMap::new();
    for fb in frame_boxes {
        let mut rank: BTreeMap<&str, usize> = BTreeMap::new();
        for b in &fb.boxes {
            let r = rank.entry(b.label.as_str()).or_default();
            out.entry((b.label.clone(), *r))
                .or_default()
                .insert(fb.frame, b.bbox);
            *r += 1;
        }
    }
    out
}

fn lerp(a: BoxXyxy, b: BoxXyxy, t: f32) -> BoxXyxy {
    let m = |x: f32, y: f32| x + (y - x) * t;
    BoxXyxy {
        x0: m(a.x0, b.x0),
        y0: m(a.y0, b.y0),
        x1: m(a.x1, b.x1),
        y1: m(a.y1, b.y1),
    }
}

/// Boxes for every frame `0..n_frames`: each object's box where annotated, linearly
/// interpolated between two annotated frames, absent before its first and after its last one.
/// Labels keep their order of first appearance within each frame's list.
pub fn interpolate(frame_boxes: &[FrameBoxes], n_frames: usize) -> Vec<FrameBoxes> {
    let tracks = tracks(frame_boxes);
    let order = label_order(frame_boxes);
    let mut out: Vec<FrameBoxes> = (0..n_frames)
        .map(|f| FrameBoxes {
            frame: f as u32,
            boxes: Vec::new(),
        })
        .collect();
    let mut keys: Vec<&Track> = tracks.keys().collect();
    keys.sort_by_key(|(label, rank)| (order.iter().position(|l| l == label), *rank));
    for key in keys {
        let known = &tracks[key];
        for (f, slot) in out.iter_mut().enumerate() {
            let f = f as u32;
            let before = known.range(..=f).next_back();
            let after = known.range(f..).next();
            let bbox = match (before, after) {
                (Some((&a, &ba)), Some((&b, &bb))) if a == b => Some(ba).filter(|_| bb == ba),
                (Some((&a, &ba)), Some((&b, &bb))) => {
                    Some(lerp(ba, bb, (f - a) as f32 / (b - a) as f32))
                }
                _ => None,
            };
            if let Some(bbox) = bbox {
                slot.boxes.push(LabeledBox {
                    label: key.0.clone(),
                    bbox,
                });
            }
        }
    }
    out
}

/// Labels in order of first appearance.
pub fn label_order(frame_boxes: &[FrameBoxes]) -> Vec<String> {
    let mut labels: Vec<String> = Vec::new();
    let mut sorted: Vec<&FrameBoxes> = frame_boxes.iter().collect();
    sorted.sort_by_key(|fb| fb.frame);
    for fb in sorted {
        for b in &fb.boxes {
            if !labels.contains(&b.label) {
                labels.push(b.label.clone());
            }
        }
    }
    labels
}

/// The boxes of the native frames `indices`, renumbered `0..indices.len()` (`dense` holds one
/// entry per native frame, as [`interpolate`] returns).
pub fn select(dense: &[FrameBoxes], indices: &[usize]) -> Vec<FrameBoxes> {
    indices
        .iter()
        .enumerate()
        .filter_map(|(k, &i)| {
            dense.get(i).map(|fb| FrameBoxes {
                frame: k as u32,
                boxes: fb.boxes.clone(),
            })
        })
        .collect()
}

/// The cue targets of each of `n_frames` frames: every box of the frame (numbered by label in
/// order of first appearance, labelled with its label), with the trajectory of that object's
/// box centres over the last `history` frames up to this one (all earlier frames when `None`;
/// consecutive equal centres collapse, so a still object has a one-point path and no line).
/// `trajectory(fade=true)` draws older segments fainter.
pub fn targets(
    frame_boxes: &[FrameBoxes],
    n_frames: usize,
    history: Option<usize>,
) -> Vec<Vec<Target>> {
    let order = label_order(frame_boxes);
    let tracks = tracks(frame_boxes);
    let mut out = vec![Vec::new(); n_frames];
    for fb in frame_boxes {
        let f = fb.frame as usize;
        let Some(slot) = out.get_mut(f) else { continue };
        let mut rank: BTreeMap<&str, usize> = BTreeMap::new();
        for b in &fb.boxes {
            let r = rank.entry(b.label.as_str()).or_default();
            let key = (b.label.clone(), *r);
            *r += 1;
            let first = history.map_or(0, |h| f.saturating_sub(h));
            let mut points: Vec<(f32, f32)> = tracks
                .get(&key)
                .map(|t| {
                    t.range(first as u32..=f as u32)
                        .map(|(_, x)| ((x.x0 + x.x1) / 2.0, (x.y0 + x.y1) / 2.0))
                        .collect()
                })
                .unwrap_or_default();
            // A still object has no path: repeated centres collapse (no zero-length segments).
            points.dedup();
            slot.push(Target {
                region: Region::Box(b.bbox),
                index: order.iter().position(|l| *l == b.label).unwrap_or(0),
                points,
                label: Some(b.label.clone()),
            });
        }
    }
    out
}

/// A clip sample made ready to show: its video decoded (cached in `cache`) or its frame folder
/// listed, the frames `sampling` keeps as `frames` (absolute paths), its boxes interpolated over
/// every native frame and kept for those frames, and `extra.frame_indices` (the native frame of
/// each kept frame) and `extra.frame_sampling` recorded. Relative paths resolve against `base`.
/// Samples without a video or frames are returned unchanged.
pub fn prepare(
    sample: &Sample,
    base: &Path,
    sampling: FrameSampling,
    cache: &Path,
) -> Result<Sample> {
    let resolve = |p: &Path| crate::jsonl::resolve(base, p);
    let (all, fps) = if !sample.frames.is_empty() {
        let frames: Vec<_> = sample.frames.iter().map(|p| resolve(p)).collect();
        (frames, video::FOLDER_FPS)
    } else if let Some(v) = &sample.video {
        let path = resolve(v);
        if path.is_dir() {
            (video::list_frames(&path)?, video::FOLDER_FPS)
        } else {
            let d = video::decode(&path, cache)?;
            (d.frames, d.fps)
        }
    } else {
        return Ok(sample.clone());
    };
    if all.is_empty() {
        return Err(DataError::record(
            base,
            &sample.id,
            "the clip has no frames",
        ));
    }
    let indices = video::sample_indices(all.len(), fps, sampling);
    let mut out = sample.clone();
    out.frames = indices.iter().map(|&i| all[i].clone()).collect();
    out.video = None;
    if !sample.frame_boxes.is_empty() {
        out.frame_boxes = select(&interpolate(&sample.frame_boxes, all.len()), &indices);
    }
    out.extra
        .insert("frame_indices".into(), serde_json::json!(indices));
    out.extra
        .insert("frame_sampling".into(), sampling.to_string().into());
    if let Some(v) = &sample.video {
        out.extra
            .insert("source_video".into(), v.display().to_string().into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fb(frame: u32, boxes: &[(&str, f32)]) -> FrameBoxes {
        FrameBoxes {
            frame,
            boxes: boxes
                .iter()
                .map(|(l, x)| LabeledBox {
                    label: l.to_string(),
                    bbox: BoxXyxy {
                        x0: *x,
                        y0: 0.0,
                        x1: x + 10.0,
                        y1: 10.0,
                    },
                })
                .collect(),
        }
    }

    #[test]
    fn gaps_are_interpolated_and_ends_left_empty() {
        let sparse = vec![
            fb(1, &[("cup", 0.0)]),
            fb(4, &[("cup", 30.0), ("hand", 5.0)]),
        ];
        let dense = interpolate(&sparse, 6);
        assert_eq!(dense.len(), 6);
        assert!(dense[0].boxes.is_empty());
        assert_eq!(dense[2].boxes[0].bbox.x0, 10.0);
        assert_eq!(dense[3].boxes[0].bbox.x0, 20.0);
        assert_eq!(dense[4].boxes.len(), 2);
        assert!(dense[5].boxes.is_empty());
        let kept = select(&dense, &[0, 2, 4]);
        assert_eq!(kept[1].frame, 1);
        assert_eq!(kept[1].boxes[0].bbox.x0, 10.0);
        let t = targets(&kept, 3, None);
        assert_eq!(t[2][0].points, vec![(15.0, 5.0), (35.0, 5.0)]);
        assert_eq!(t[2][1].label.as_deref(), Some("hand"));
        assert_eq!(t[2][1].index, 1);
        let short = targets(&dense, 6, Some(1));
        assert_eq!(short[4][0].points.len(), 2);
    }
}
