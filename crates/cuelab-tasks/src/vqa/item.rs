//! Questions to ask, built from generic dataset samples.

use std::path::{Path, PathBuf};

use cuelab_cue::{Region, Target};
use cuelab_data::{Sample, Task};
use serde::{Deserialize, Serialize};

/// How a question is answered and scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    /// Pick one of the choices; scored right/wrong.
    Choice,
    /// Answer with a number (asked open); scored exactly and by absolute error.
    Count,
}

/// One question, ready to be rendered and asked.
#[derive(Debug, Clone, PartialEq)]
pub struct VqaItem {
    /// The sample id.
    pub id: String,
    /// Choice or count.
    pub kind: ItemKind,
    /// Question type tag (`fill_blank`, `count`, an MMVP pattern, a verb, ...; `-` if none).
    pub qtype: String,
    /// MMVP-style pair id.
    pub pair_id: Option<String>,
    /// The question text.
    pub question: String,
    /// The options as in the dataset (empty for counts).
    pub choices: Vec<String>,
    /// Index of the right option in `choices`.
    pub answer_index: Option<usize>,
    /// The true count.
    pub count: Option<i64>,
    /// Image files shown, in order (one for a still image, the frames of a clip).
    pub images: Vec<PathBuf>,
    /// What cues point at, per image (empty: only the plain variant applies).
    pub targets: Vec<Vec<Target>>,
}

/// Questions of a pair (MMVP) share a shard, so every shard scores whole pairs.
impl crate::shard::ShardKey for VqaItem {
    fn shard_key(&self) -> &str {
        self.pair_id.as_deref().unwrap_or(&self.id)
    }
}

impl VqaItem {
    /// True when cue variants can be drawn (some image has a target).
    pub fn has_targets(&self) -> bool {
        self.targets.iter().any(|t| !t.is_empty())
    }
}

/// Why a sample was not turned into a question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedSample {
    /// The sample id.
    pub id: String,
    /// The reason.
    pub reason: String,
}

/// Questions from samples: multiple-choice and video samples with choices and a known answer,
/// and counting samples with a numeric answer. Other tasks are ignored silently; samples of these
/// tasks that cannot be asked are returned with the reason. Relative paths resolve against `base`.
pub fn items_from_samples(samples: &[Sample], base: &Path) -> (Vec<VqaItem>, Vec<SkippedSample>) {
    let mut items = Vec::new();
    let mut skipped = Vec::new();
    for s in samples {
        if !matches!(s.task, Task::MultipleChoice | Task::Counting | Task::Video) {
            continue;
        }
        match item_from_sample(s, base) {
            Ok(item) => items.push(item),
            Err(reason) => skipped.push(SkippedSample {
                id: s.id.clone(),
                reason,
            }),
        }
    }
    items.sort_by(|a, b| a.id.cmp(&b.id));
    (items, skipped)
}

fn item_from_sample(s: &Sample, base: &Path) -> Result<VqaItem, String> {
    let question = s
        .question
        .clone()
        .filter(|q| !q.trim().is_empty())
        .ok_or("no question text")?;
    let images: Vec<PathBuf> = if !s.frames.is_empty() {
        s.frames
            .iter()
            .map(|f| cuelab_data::jsonl::resolve(base, f))
            .collect()
    } else if let Some(image) = &s.image {
        vec![cuelab_data::jsonl::resolve(base, image)]
    } else {
        return Err(
            "no image or frames (video files are decoded by `cuelab ask`: vqa::prepare_clips)"
                .into(),
        );
    };
    let qtype = s.qtype.clone().unwrap_or_else(|| "-".into());
    let targets = if !s.frame_boxes.is_empty() {
        frame_targets(s, images.len())
    } else {
        let region = s
            .target_region
            .clone()
            .or_else(|| s.target.map(Region::Box));
        let mut per_image = vec![Vec::new(); images.len()];
        if let (Some(region), Some(first)) = (region, per_image.first_mut()) {
            first.push(Target {
                region,
                index: 0,
                points: Vec::new(),
                label: None,
            });
        }
        per_image
    };
    if s.task == Task::Counting {
        let answer = s
            .answer
            .as_deref()
            .ok_or("counting sample without an answer")?;
        let count = answer
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("counting answer {answer:?} is not a whole number"))?;
        return Ok(VqaItem {
            id: s.id.clone(),
            kind: ItemKind::Count,
            qtype,
            pair_id: s.pair_id.clone(),
            question,
            choices: Vec::new(),
            answer_index: None,
            count: Some(count),
            images,
            targets,
        });
    }
    if s.choices.len() < 2 {
        return Err("open question without choices (not scored by this task)".into());
    }
    let answer_index = match (s.answer_index, s.answer.as_deref()) {
        (Some(i), _) if i < s.choices.len() => i,
        (Some(i), _) => {
            return Err(format!(
                "answer_index {i} is out of range for {} choices",
                s.choices.len()
            ))
        }
        (None, Some(a)) => s
            .choices
            .iter()
            .position(|c| c == a)
            .ok_or_else(|| format!("answer {a:?} is not one of the choices"))?,
        (None, None) => return Err("no answer".into()),
    };
    let mut seen = std::collections::BTreeSet::new();
    if !s
        .choices
        .iter()
        .all(|c| seen.insert(c.trim().to_lowercase()))
    {
        return Err("two choices are the same text".into());
    }
    Ok(VqaItem {
        id: s.id.clone(),
        kind: ItemKind::Choice,
        qtype,
        pair_id: s.pair_id.clone(),
        question,
        choices: s.choices.clone(),
        answer_index: Some(answer_index),
        count: None,
        images,
        targets,
    })
}

/// Per-frame targets of a clip: every labelled box of the frame (labels numbered in order of
/// first appearance), with the trajectory of that object's box centres up to this frame
/// ([`cuelab_data::clip::targets`]).
fn frame_targets(s: &Sample, frames: usize) -> Vec<Vec<Target>> {
    cuelab_data::clip::targets(&s.frame_boxes, frames, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cuelab_cue::BoxXyxy;
    use cuelab_data::sample::LabeledBox;
    use cuelab_data::FrameBoxes;

    fn mcq(id: &str) -> Sample {
        let mut s = Sample::new(id, "t", Task::MultipleChoice);
        s.image = Some("a.png".into());
        s.question = Some("What colour?".into());
        s.choices = vec!["red".into(), "blue".into()];
        s.answer = Some("blue".into());
        s
    }

    #[test]
    fn builds_choice_count_and_video_items_and_explains_skips() {
        let mut count = Sample::new("c", "t", Task::Counting);
        count.image = Some("b.png".into());
        count.question = Some("How many?".into());
        count.answer = Some("3".into());
        let mut bad = mcq("bad");
        bad.answer = Some("green".into());
        let mut open = mcq("open");
        open.choices.clear();
        let mut clip = mcq("v");
        clip.task = Task::Video;
        clip.image = None;
        clip.frames = vec!["f0.png".into(), "f1.png".into()];
        let b = |x: f32| BoxXyxy {
            x0: x,
            y0: 0.0,
            x1: x + 10.0,
            y1: 10.0,
        };
        clip.frame_boxes = vec![
            FrameBoxes {
                frame: 0,
                boxes: vec![LabeledBox {
                    label: "ball".into(),
                    bbox: b(0.0),
                }],
            },
            FrameBoxes {
                frame: 1,
                boxes: vec![LabeledBox {
                    label: "ball".into(),
                    bbox: b(20.0),
                }],
            },
        ];
        let (items, skipped) =
            items_from_samples(&[mcq("m"), count, bad, open, clip], Path::new("/data"));
        assert_eq!(items.len(), 3);
        assert_eq!(skipped.len(), 2);
        assert!(skipped
            .iter()
            .any(|s| s.id == "bad" && s.reason.contains("not one of")));
        let m = items.iter().find(|i| i.id == "m").unwrap();
        assert_eq!(m.answer_index, Some(1));
        assert_eq!(m.images, vec![PathBuf::from("/data/a.png")]);
        assert!(!m.has_targets());
        let c = items.iter().find(|i| i.id == "c").unwrap();
        assert_eq!((c.kind, c.count), (ItemKind::Count, Some(3)));
        let v = items.iter().find(|i| i.id == "v").unwrap();
        assert_eq!(v.images.len(), 2);
        assert_eq!(v.targets[1][0].points, vec![(5.0, 5.0), (25.0, 5.0)]);
    }
}
