//! The common unit of evaluation every loader and the generator produce. Its JSON form, one
//! object per line, is the generic JSONL format (see `docs/data.md`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use cuelab_cue::{BoxXyxy, Region};
use serde::{Deserialize, Serialize};

/// What a sample is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Find the region a referring expression names.
    Grounding,
    /// Answer a multiple-choice question.
    #[default]
    MultipleChoice,
    /// Answer with a count.
    Counting,
    /// Describe the image (captions are references).
    Caption,
    /// Detection or instance annotations only.
    Detection,
    /// A question about a video clip.
    Video,
}

/// A referring sentence: the raw text and its tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expression {
    /// The sentence as written.
    pub raw: String,
    /// Tokens (lower-case words) if the dataset provides them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<String>,
    /// The dataset's sentence id, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_id: Option<u64>,
    /// The dataset's normalised sentence (RefCOCO's `sent`: lower-case, tokenised, no
    /// punctuation), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<String>,
}

/// Which text of a referring expression is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextField {
    /// The sentence as typed (RefCOCO's `raw`: "Man in a dark uniform.").
    Raw,
    /// The normalised sentence (RefCOCO's `sent`: "man in a dark uniform"), as seed 004 scores
    /// it; falls back to `raw` for expressions without one.
    #[default]
    Sent,
}

impl TextField {
    /// Parse `raw` or `sent`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "raw" => Some(TextField::Raw),
            "sent" => Some(TextField::Sent),
            _ => None,
        }
    }

    /// The name (`raw` or `sent`).
    pub fn as_str(self) -> &'static str {
        match self {
            TextField::Raw => "raw",
            TextField::Sent => "sent",
        }
    }
}

impl Expression {
    /// The text to score: `sent` when asked for and present (non-empty), else `raw`.
    pub fn text(&self, field: TextField) -> &str {
        match (field, self.sent.as_deref()) {
            (TextField::Sent, Some(s)) if !s.trim().is_empty() => s,
            _ => &self.raw,
        }
    }
}

/// Boxes of one video frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameBoxes {
    /// Frame index (0-based) within the clip.
    pub frame: u32,
    /// Labelled boxes in that frame.
    pub boxes: Vec<LabeledBox>,
}

/// A box with a label (category or placeholder name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabeledBox {
    /// The label.
    pub label: String,
    /// The box, xyxy exclusive end.
    #[serde(rename = "box")]
    pub bbox: BoxXyxy,
}

/// One unit of evaluation. Optional fields are left out of the JSON when empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Sample {
    /// Unique id within the dataset.
    pub id: String,
    /// Dataset name (`refcocog`, `coco`, `mmvp`, `ssv2`, `scenes`, ...).
    pub dataset: String,
    /// What the sample is for.
    pub task: Task,
    /// Split (`train`, `val`, `test`, `testA`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
    /// Image path (relative paths are relative to the JSONL file's folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<PathBuf>,
    /// Video file path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<PathBuf>,
    /// Frame image paths of a clip, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<PathBuf>,
    /// Numeric image id in the source dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<u64>,
    /// Image width in pixels, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Image height in pixels, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Target region (grounding), xyxy exclusive end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<BoxXyxy>,
    /// Target mask or polygon, if the dataset provides one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_region: Option<Region>,
    /// Ground-truth proposals: every instance box of the image, target included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proposals: Vec<BoxXyxy>,
    /// Index of the target in `proposals`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_index: Option<usize>,
    /// Category name of the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Referring expressions for the target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expressions: Vec<Expression>,
    /// Question text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// Answer choices (multiple choice).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// The correct answer as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// Index of the correct answer in `choices`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_index: Option<usize>,
    /// Question type tag (`count`, `list`, `fill_blank`, a visual pattern, a verb, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qtype: Option<String>,
    /// Id shared by the two samples of an MMVP-style pair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair_id: Option<String>,
    /// Reference captions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub captions: Vec<String>,
    /// Per-frame boxes of a clip.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frame_boxes: Vec<FrameBoxes>,
    /// Anything else the source provides (template, placeholders, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Sample {
    /// A sample with only its id, dataset and task set.
    pub fn new(id: impl Into<String>, dataset: impl Into<String>, task: Task) -> Self {
        Sample {
            id: id.into(),
            dataset: dataset.into(),
            task,
            ..Sample::default()
        }
    }

    /// Every media path the sample names (image, video, frames).
    pub fn media(&self) -> Vec<&PathBuf> {
        let mut out: Vec<&PathBuf> = Vec::new();
        out.extend(self.image.iter());
        out.extend(self.video.iter());
        out.extend(self.frames.iter());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_fields_are_left_out() {
        let s = Sample::new("a", "x", Task::Counting);
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(text, r#"{"id":"a","dataset":"x","task":"counting"}"#);
        let back: Sample = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
    }
}
