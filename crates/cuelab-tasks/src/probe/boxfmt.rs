//! Reading boxes out of a model's answer, in the three native grounding formats of the Qwen-VL
//! family and plain JSON, mapped back to the pixels of the image that was shown:
//!
//! - [`BoxFormat::Qwen2`] — `<|object_ref_start|>label<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>`
//!   on a 0-1000 grid over the image;
//! - [`BoxFormat::Qwen25`] — JSON `[{"bbox_2d": [x1, y1, x2, y2], "label": ...}]` (often in a
//!   ```` ```json ```` fence) in absolute pixels of the image *as the model saw it*, i.e. after its
//!   smart resize (multiples of 28);
//! - [`BoxFormat::Qwen3`] — the same JSON on a 0-1000 grid over the image;
//! - [`BoxFormat::Json`] — the same JSON in pixels of the shown image (what cuelab's own prompt,
//!   optionally schema-constrained, asks for).
//!
//! Nothing is dropped silently: every fragment that looks like a box but cannot be read
//! (truncated JSON, three coordinates, words for numbers, inverted or empty boxes, a box far
//! outside the image, a `<|box_start|>` without its end) is returned as [`Malformed`] with the
//! reason.

use cuelab_cue::BoxXyxy;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a model writes boxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BoxFormat {
    /// JSON in pixels of the shown image.
    Json,
    /// Qwen2-VL's special tokens, 0-1000 grid.
    Qwen2,
    /// Qwen2.5-VL's JSON, absolute pixels of the model's resized input.
    Qwen25,
    /// Qwen3-VL's JSON, 0-1000 grid.
    Qwen3,
}

impl std::str::FromStr for BoxFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(BoxFormat::Json),
            "qwen2" | "qwen2-vl" => Ok(BoxFormat::Qwen2),
            "qwen2.5" | "qwen25" | "qwen2.5-vl" => Ok(BoxFormat::Qwen25),
            "qwen3" | "qwen3-vl" => Ok(BoxFormat::Qwen3),
            _ => Err(format!(
                "unknown box format {s:?}: expected json, qwen2, qwen2.5 or qwen3"
            )),
        }
    }
}

/// The coordinate frames of one answer: the shown image and, for Qwen2.5-VL, the size the
/// model resized it to.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// Shown image width in pixels.
    pub width: f32,
    /// Shown image height in pixels.
    pub height: f32,
    /// Width the model saw (Qwen2.5-VL's absolute coordinates are in this frame).
    pub model_width: f32,
    /// Height the model saw.
    pub model_height: f32,
}

impl Frame {
    /// A frame where the model saw the image as it is.
    pub fn same(width: u32, height: u32) -> Self {
        Frame {
            width: width as f32,
            height: height as f32,
            model_width: width as f32,
            model_height: height as f32,
        }
    }

    /// Scale from the format's coordinates to shown-image pixels, per axis.
    fn scale(&self, format: BoxFormat) -> (f32, f32) {
        match format {
            BoxFormat::Json => (1.0, 1.0),
            BoxFormat::Qwen2 | BoxFormat::Qwen3 => (self.width / 1000.0, self.height / 1000.0),
            BoxFormat::Qwen25 => (
                self.width / self.model_width.max(1.0),
                self.height / self.model_height.max(1.0),
            ),
        }
    }
}

/// One box read from an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParsedBox {
    /// Its label, when the answer gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The coordinates as written.
    pub raw: [f64; 4],
    /// In shown-image pixels, clipped to the image.
    pub bbox: BoxXyxy,
}

/// A fragment that looked like a box but could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Malformed {
    /// The fragment (at most 200 characters).
    pub fragment: String,
    /// Why it was not read.
    pub reason: String,
}

/// What an answer held.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Parsed {
    /// Boxes read, in answer order.
    pub boxes: Vec<ParsedBox>,
    /// Fragments that could not be read.
    pub malformed: Vec<Malformed>,
    /// The answer holds no box syntax at all (e.g. "There are none.").
    pub no_boxes: bool,
}

fn fragment(s: &str) -> String {
    s.chars().take(200).collect()
}

fn bad(s: &str, reason: &str) -> Malformed {
    Malformed {
        fragment: fragment(s),
        reason: reason.to_string(),
    }
}

/// Read the boxes of `text` written in `format`, mapped to the shown image of `frame`.
pub fn parse_boxes(text: &str, format: BoxFormat, frame: &Frame) -> Parsed {
    let mut out = match format {
        BoxFormat::Qwen2 => parse_qwen2(text, frame),
        _ => parse_json(text, format, frame),
    };
    out.no_boxes = out.boxes.is_empty() && out.malformed.is_empty();
    out
}

/// Turn raw coordinates into a box in image pixels, or say why not.
fn to_box(raw: [f64; 4], format: BoxFormat, frame: &Frame) -> Result<BoxXyxy, &'static str> {
    if raw.iter().any(|v| !v.is_finite()) {
        return Err("coordinates are not finite numbers");
    }
    let (sx, sy) = frame.scale(format);
    let [x0, y0, x1, y1] = [
        raw[0] as f32 * sx,
        raw[1] as f32 * sy,
        raw[2] as f32 * sx,
        raw[3] as f32 * sy,
    ];
    if x1 <= x0 || y1 <= y0 {
        return Err("empty or inverted box (x2 <= x1 or y2 <= y1)");
    }
    // More than 5% of the image outside: not a reading of this image.
    let (mx, my) = (0.05 * frame.width, 0.05 * frame.height);
    if x0 < -mx || y0 < -my || x1 > frame.width + mx || y1 > frame.height + my {
        return Err("box lies outside the image (wrong coordinate frame?)");
    }
    let clipped = BoxXyxy {
        x0: x0.max(0.0),
        y0: y0.max(0.0),
        x1: x1.min(frame.width),
        y1: y1.min(frame.height),
    };
    if clipped.x1 <= clipped.x0 || clipped.y1 <= clipped.y0 {
        return Err("box lies outside the image (wrong coordinate frame?)");
    }
    Ok(clipped)
}

fn parse_qwen2(text: &str, frame: &Frame) -> Parsed {
    const START: &str = "<|box_start|>";
    const END: &str = "<|box_end|>";
    const REF_START: &str = "<|object_ref_start|>";
    const REF_END: &str = "<|object_ref_end|>";
    let mut out = Parsed::default();
    let mut rest = text;
    let mut label: Option<String> = None;
    loop {
        let next_box = rest.find(START);
        let next_ref = rest.find(REF_START);
        if let Some(r) = next_ref {
            if next_box.is_none_or(|b| r < b) {
                let after = &rest[r + REF_START.len()..];
                match after.find(REF_END) {
                    Some(e) => {
                        label = Some(after[..e].trim().to_string());
                        rest = &after[e + REF_END.len()..];
                    }
                    None => {
                        out.malformed
                            .push(bad(&rest[r..], "<|object_ref_start|> without its end"));
                        rest = after;
                    }
                }
                continue;
            }
        }
        let Some(b) = next_box else { break };
        let after = &rest[b + START.len()..];
        let (body, next) = match after.find(END) {
            Some(e) => (&after[..e], &after[e + END.len()..]),
            None => {
                let stop = after.find("<|").unwrap_or(after.len());
                out.malformed.push(bad(
                    &rest[b..b + START.len() + stop],
                    "<|box_start|> without <|box_end|> (truncated?)",
                ));
                rest = &after[stop..];
                label = None;
                continue;
            }
        };
        let numbers: Vec<&str> = body
            .split(['(', ')', ','])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let parsed: Option<Vec<f64>> = numbers.iter().map(|n| n.parse::<f64>().ok()).collect();
        let whole = format!("{START}{body}{END}");
        match parsed {
            Some(v) if v.len() == 4 => {
                let raw = [v[0], v[1], v[2], v[3]];
                match to_box(raw, BoxFormat::Qwen2, frame) {
                    Ok(bbox) => out.boxes.push(ParsedBox {
                        label: label.take(),
                        raw,
                        bbox,
                    }),
                    Err(reason) => out.malformed.push(bad(&whole, reason)),
                }
            }
            Some(v) => out.malformed.push(bad(
                &whole,
                &format!("{} coordinates, expected (x1,y1),(x2,y2)", v.len()),
            )),
            None => out
                .malformed
                .push(bad(&whole, "coordinates are not numbers")),
        }
        label = None;
        rest = next;
    }
    out
}

/// The JSON part of an answer: inside a ```` ``` ```` fence when there is one, from the first
/// `[` or `{`.
fn json_part(text: &str) -> &str {
    let mut t = text;
    if let Some(f) = t.find("```") {
        let after = &t[f + 3..];
        let after = after.strip_prefix("json").unwrap_or(after);
        t = match after.find("```") {
            Some(e) => &after[..e],
            None => after,
        };
    }
    match t.find(['[', '{']) {
        Some(i) => t[i..].trim(),
        None => "",
    }
}

/// Top-level `{...}` objects of possibly broken JSON (string-aware brace matching); the last one
/// may be unterminated.
fn objects(text: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let (mut depth, mut start, mut in_str, mut escape) = (0usize, None, false, false);
    for (i, c) in text.char_indices() {
        if in_str {
            match (escape, c) {
                (true, _) => escape = false,
                (false, '\\') => escape = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' => {
                if depth == 0 {
                    start = Some(i);
                }
                depth += 1;
            }
            '}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    if let Some(s) = start.take() {
                        out.push((&text[s..=i], true));
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((&text[s..], false));
    }
    out
}

fn read_object(v: &Value, source: &str, format: BoxFormat, frame: &Frame, out: &mut Parsed) {
    let Some(obj) = v.as_object() else {
        out.malformed.push(bad(source, "not a JSON object"));
        return;
    };
    let Some(coords) = ["bbox_2d", "bbox", "box_2d", "box"]
        .iter()
        .find_map(|k| obj.get(*k))
    else {
        // A wrapper such as {"boxes": [...]}: read the list inside.
        if let Some(list) = obj.values().find_map(Value::as_array) {
            for item in list {
                read_object(item, &item.to_string(), format, frame, out);
            }
            return;
        }
        out.malformed.push(bad(source, "no bbox_2d / bbox field"));
        return;
    };
    let label = obj
        .get("label")
        .and_then(Value::as_str)
        .map(|s| s.trim().to_string());
    let Some(list) = coords.as_array() else {
        out.malformed.push(bad(source, "bbox is not a list"));
        return;
    };
    let numbers: Option<Vec<f64>> = list.iter().map(Value::as_f64).collect();
    match numbers {
        Some(v) if v.len() == 4 => {
            let raw = [v[0], v[1], v[2], v[3]];
            match to_box(raw, format, frame) {
                Ok(bbox) => out.boxes.push(ParsedBox { label, raw, bbox }),
                Err(reason) => out.malformed.push(bad(source, reason)),
            }
        }
        Some(v) => out.malformed.push(bad(
            source,
            &format!("{} coordinates, expected [x1, y1, x2, y2]", v.len()),
        )),
        None => out
            .malformed
            .push(bad(source, "coordinates are not numbers")),
    }
}

fn parse_json(text: &str, format: BoxFormat, frame: &Frame) -> Parsed {
    let mut out = Parsed::default();
    let part = json_part(text);
    if part.is_empty() {
        return out;
    }
    if let Ok(v) = serde_json::from_str::<Value>(part) {
        match &v {
            Value::Array(items) => {
                for item in items {
                    read_object(item, &item.to_string(), format, frame, &mut out);
                }
            }
            _ => read_object(&v, part, format, frame, &mut out),
        }
        return out;
    }
    // Broken JSON (truncated generation, trailing prose, comments): read object by object.
    let found = objects(part);
    if found.is_empty() {
        out.malformed
            .push(bad(part, "JSON that holds no object could not be read"));
    }
    for (source, closed) in found {
        if !closed {
            out.malformed
                .push(bad(source, "unterminated JSON object (truncated answer?)"));
            continue;
        }
        match serde_json::from_str::<Value>(source) {
            Ok(v) => read_object(&v, source, format, frame, &mut out),
            Err(e) => out
                .malformed
                .push(bad(source, &format!("invalid JSON: {e}"))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> Frame {
        Frame::same(200, 100)
    }

    #[test]
    fn qwen2_tokens_on_the_1000_grid() {
        let t = "<|object_ref_start|>the red circle<|object_ref_end|><|box_start|>(100,200),(500,900)<|box_end|> and <|box_start|>(0,0),(1000,1000)<|box_end|>";
        let p = parse_boxes(t, BoxFormat::Qwen2, &frame());
        assert_eq!(p.boxes.len(), 2, "{p:?}");
        assert_eq!(p.boxes[0].label.as_deref(), Some("the red circle"));
        assert_eq!(
            p.boxes[0].bbox,
            BoxXyxy::new(20.0, 20.0, 100.0, 90.0).unwrap()
        );
        assert_eq!(p.boxes[1].label, None);
        assert!(p.malformed.is_empty());
    }

    #[test]
    fn qwen2_malformed_is_recorded() {
        let t = "<|box_start|>(100,200),(500)<|box_end|><|box_start|>(a,b),(c,d)<|box_end|><|box_start|>(500,500),(100,100)<|box_end|><|box_start|>(1,2),(3,";
        let p = parse_boxes(t, BoxFormat::Qwen2, &frame());
        assert!(p.boxes.is_empty());
        let reasons: Vec<&str> = p.malformed.iter().map(|m| m.reason.as_str()).collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(reasons[0].contains("3 coordinates"));
        assert!(reasons[1].contains("not numbers"));
        assert!(reasons[2].contains("inverted"));
        assert!(reasons[3].contains("truncated"));
        assert!(!p.no_boxes);
    }

    #[test]
    fn qwen25_absolute_pixels_of_the_resized_input() {
        // Shown 200x100; the model saw 196x112 (smart resize to multiples of 28).
        let f = Frame {
            width: 200.0,
            height: 100.0,
            model_width: 196.0,
            model_height: 112.0,
        };
        let t = "```json\n[\n\t{\"bbox_2d\": [49, 28, 98, 56], \"label\": \"red circle\"},\n\t{\"bbox_2d\": [0, 0, 196, 112], \"label\": \"all\"}\n]\n```";
        let p = parse_boxes(t, BoxFormat::Qwen25, &f);
        assert_eq!(p.boxes.len(), 2);
        let b = p.boxes[0].bbox;
        assert!((b.x0 - 50.0).abs() < 1e-4 && (b.x1 - 100.0).abs() < 1e-4);
        assert!((b.y0 - 25.0).abs() < 1e-4 && (b.y1 - 50.0).abs() < 1e-4);
        assert_eq!(
            p.boxes[1].bbox,
            BoxXyxy::new(0.0, 0.0, 200.0, 100.0).unwrap()
        );
        assert_eq!(p.boxes[0].raw, [49.0, 28.0, 98.0, 56.0]);
    }

    #[test]
    fn qwen3_json_on_the_1000_grid_and_broken_json() {
        let t = r#"[{"bbox_2d": [217, 112, 920, 956], "label": "cat"}]"#;
        let p = parse_boxes(t, BoxFormat::Qwen3, &frame());
        assert_eq!(p.boxes.len(), 1);
        let b = p.boxes[0].bbox;
        assert!(
            (b.x0 - 43.4).abs() < 1e-3 && (b.y1 - 95.6).abs() < 1e-3,
            "{b:?}"
        );
        // truncated generation: the complete objects are read, the rest recorded
        let t = "```json\n[\n  {\"bbox_2d\": [10, 10, 100, 100], \"label\": \"a\"},\n  {\"bbox_2d\": [1, 2, 3], \"label\": \"b\"},\n  {\"bbox_2d\": [\"x\", 2, 3, 4]},\n  {\"label\": \"c\"},\n  {\"bbox_2d\": [500, 500, 9000, 600]},\n  {\"bbox_2d\": [5, 6";
        let p = parse_boxes(t, BoxFormat::Qwen3, &frame());
        assert_eq!(p.boxes.len(), 1);
        let reasons: Vec<&str> = p.malformed.iter().map(|m| m.reason.as_str()).collect();
        assert_eq!(reasons.len(), 5, "{reasons:?}");
        assert!(reasons[0].contains("3 coordinates"));
        assert!(reasons[1].contains("not numbers"));
        assert!(reasons[2].contains("no bbox_2d"));
        assert!(reasons[3].contains("outside"));
        assert!(reasons[4].contains("unterminated"));
        // a wrapper object, and prose with no boxes
        let t = r#"{"boxes": [{"bbox": [0, 0, 10, 10], "label": "x"}]}"#;
        assert_eq!(parse_boxes(t, BoxFormat::Json, &frame()).boxes.len(), 1);
        let p = parse_boxes("There are no red circles.", BoxFormat::Json, &frame());
        assert!(p.no_boxes && p.boxes.is_empty() && p.malformed.is_empty());
        let p = parse_boxes("[not json at all", BoxFormat::Json, &frame());
        assert_eq!(p.malformed.len(), 1);
    }
}
