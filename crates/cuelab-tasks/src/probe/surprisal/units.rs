//! Training examples (one prompt + one target text each) from generic dataset samples.

use std::path::{Path, PathBuf};

use cuelab_cue::{Region, Target};
use cuelab_data::{Sample, Task};
use serde::{Deserialize, Serialize};

/// One teacher-forced example: images and a question in the user turn, the target text as the
/// assistant's reply.
#[derive(Debug, Clone, PartialEq)]
pub struct SurprisalUnit {
    /// Unique id: the sample id, or `ID#cK` for the K-th (0-based) caption of a caption sample.
    pub id: String,
    /// The sample it comes from.
    pub sample_id: String,
    /// `qa` (question + answer) or `caption` (caption prompt + caption).
    pub kind: String,
    /// The user's text.
    pub question: String,
    /// The assistant's reply (the answer span, followed by `<|im_end|>`).
    pub answer: String,
    /// Images in the user turn, in order (empty: a text-only example).
    pub images: Vec<PathBuf>,
    /// What cues point at, per image (empty everywhere: only the plain variant applies).
    pub targets: Vec<Vec<Target>>,
}

impl SurprisalUnit {
    /// True when cue variants can be drawn (some image has a target).
    pub fn has_targets(&self) -> bool {
        self.targets.iter().any(|t| !t.is_empty())
    }
}

/// A sample (or one of its captions) that yields no example, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedSample {
    /// The sample id (with `#cK` for a caption).
    pub id: String,
    /// The reason.
    pub reason: String,
}

/// The answer text of a question sample: `answer`, else the option at `answer_index`.
fn answer_text(s: &Sample) -> Result<String, String> {
    if let Some(a) = s.answer.as_deref() {
        if !a.trim().is_empty() {
            return Ok(a.to_string());
        }
    }
    match s.answer_index {
        Some(i) => s
            .choices
            .get(i)
            .filter(|c| !c.trim().is_empty())
            .cloned()
            .ok_or_else(|| format!("answer_index {i} names no non-empty option")),
        None => Err("no answer text".into()),
    }
}

fn images_of(s: &Sample, base: &Path) -> Result<Vec<PathBuf>, String> {
    if !s.frames.is_empty() {
        return Ok(s
            .frames
            .iter()
            .map(|f| cuelab_data::jsonl::resolve(base, f))
            .collect());
    }
    if let Some(image) = &s.image {
        return Ok(vec![cuelab_data::jsonl::resolve(base, image)]);
    }
    if s.video.is_some() {
        return Err("a video file (extract it to frames first)".into());
    }
    Ok(Vec::new())
}

fn targets_of(s: &Sample, images: usize) -> Vec<Vec<Target>> {
    let mut out = vec![Vec::new(); images];
    if !s.frame_boxes.is_empty() {
        for fb in &s.frame_boxes {
            if let Some(slot) = out.get_mut(fb.frame as usize) {
                for (index, b) in fb.boxes.iter().enumerate() {
                    slot.push(Target {
                        region: Region::Box(b.bbox),
                        index,
                        points: Vec::new(),
                        label: Some(b.label.clone()),
                    });
                }
            }
        }
        return out;
    }
    let region = s
        .target_region
        .clone()
        .or_else(|| s.target.map(Region::Box));
    if let (Some(region), Some(first)) = (region, out.first_mut()) {
        first.push(Target {
            region,
            index: 0,
            points: Vec::new(),
            label: None,
        });
    }
    out
}

/// Examples from samples: every caption of a caption sample (with `caption_prompt` as the
/// question unless the sample has one), and question + answer for every other sample that has
/// both. Relative paths resolve against `base`. Returns the examples sorted by id and what was
/// skipped with the reason (empty captions, missing question or answer, grounding samples).
pub fn units_from_samples(
    samples: &[Sample],
    base: &Path,
    caption_prompt: &str,
) -> (Vec<SurprisalUnit>, Vec<SkippedSample>) {
    let mut units = Vec::new();
    let mut skipped = Vec::new();
    let mut skip = |id: String, reason: String| skipped.push(SkippedSample { id, reason });
    for s in samples {
        let images = match images_of(s, base) {
            Ok(i) => i,
            Err(reason) => {
                skip(s.id.clone(), reason);
                continue;
            }
        };
        let targets = targets_of(s, images.len());
        let question = s.question.clone().filter(|q| !q.trim().is_empty());
        let captions = s.task == Task::Caption || (s.answer.is_none() && !s.captions.is_empty());
        if captions {
            if s.captions.is_empty() {
                skip(s.id.clone(), "caption sample without captions".into());
            }
            for (k, c) in s.captions.iter().enumerate() {
                let id = format!("{}#c{k}", s.id);
                if c.trim().is_empty() {
                    skip(id, format!("caption {k} is empty"));
                    continue;
                }
                units.push(SurprisalUnit {
                    id,
                    sample_id: s.id.clone(),
                    kind: "caption".into(),
                    question: question
                        .clone()
                        .unwrap_or_else(|| caption_prompt.to_string()),
                    answer: c.clone(),
                    images: images.clone(),
                    targets: targets.clone(),
                });
            }
            continue;
        }
        let Some(question) = question else {
            let reason = if s.task == Task::Grounding {
                "grounding sample (no question and answer)".to_string()
            } else {
                "no question text".to_string()
            };
            skip(s.id.clone(), reason);
            continue;
        };
        match answer_text(s) {
            Ok(answer) => units.push(SurprisalUnit {
                id: s.id.clone(),
                sample_id: s.id.clone(),
                kind: "qa".into(),
                question,
                answer,
                images,
                targets,
            }),
            Err(reason) => skip(s.id.clone(), reason),
        }
    }
    units.sort_by(|a, b| a.id.cmp(&b.id));
    (units, skipped)
}

impl crate::shard::ShardKey for SurprisalUnit {
    /// The sample id: every example of one sample (its captions) lands in the same shard.
    fn shard_key(&self) -> &str {
        &self.sample_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cuelab_cue::BoxXyxy;

    #[test]
    fn qa_captions_and_skips() {
        let mut qa = Sample::new("q", "t", Task::MultipleChoice);
        qa.image = Some("a.jpg".into());
        qa.question = Some("Which?".into());
        qa.choices = vec!["red".into(), "blue".into()];
        qa.answer_index = Some(1);
        qa.target = Some(BoxXyxy {
            x0: 1.0,
            y0: 1.0,
            x1: 5.0,
            y1: 5.0,
        });
        let mut cap = Sample::new("c", "t", Task::Caption);
        cap.image = Some("/abs/b.png".into());
        cap.captions = vec!["A dog.".into(), "  ".into(), "A red dog.".into()];
        let mut ground = Sample::new("g", "t", Task::Grounding);
        ground.image = Some("a.jpg".into());
        let mut noanswer = Sample::new("n", "t", Task::Counting);
        noanswer.question = Some("How many?".into());
        noanswer.answer = Some(" ".into());
        let (units, skipped) =
            units_from_samples(&[qa, cap, ground, noanswer], Path::new("/d"), "Describe.");
        let ids: Vec<&str> = units.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(ids, ["c#c0", "c#c2", "q"]);
        assert_eq!(units[2].answer, "blue");
        assert_eq!(units[2].images, [PathBuf::from("/d/a.jpg")]);
        assert!(units[2].has_targets());
        assert_eq!(units[0].question, "Describe.");
        assert_eq!(units[0].images, [PathBuf::from("/abs/b.png")]);
        assert!(!units[0].has_targets());
        let reasons: Vec<(&str, &str)> = skipped
            .iter()
            .map(|s| (s.id.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                ("c#c1", "caption 1 is empty"),
                ("g", "grounding sample (no question and answer)"),
                ("n", "no answer text"),
            ]
        );
    }
}
