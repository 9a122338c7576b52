//! Prompt building in Qwen3-VL's chat format and the check that a checkpoint ships that format.
//!
//! cuelab does not run Jinja: it writes the text Qwen3-VL's chat template produces for a system
//! message (optional), one user turn of images followed by text, and the assistant generation
//! prompt. The checkpoint's template (`chat_template.jinja`, `chat_template.json` or the
//! `chat_template` key of `tokenizer_config.json`) must exist and use the `<|im_start|>` /
//! `<|vision_start|><|image_pad|><|vision_end|>` format, otherwise loading fails.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Placeholder for one image in the prompt text (expanded to the image's tokens later).
pub const IMAGE_PLACEHOLDER: &str = "<|vision_start|><|image_pad|><|vision_end|>";

/// Find the checkpoint's chat template and check it is Qwen's `im_start` format with vision tokens.
pub fn check_chat_template(dir: &Path) -> Result<PathBuf> {
    let candidates = [
        dir.join("chat_template.jinja"),
        dir.join("chat_template.json"),
        dir.join("tokenizer_config.json"),
    ];
    for path in &candidates {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        if path.ends_with("tokenizer_config.json") && !text.contains("\"chat_template\"") {
            continue;
        }
        if text.contains("<|im_start|>") && text.contains("<|vision_start|>") {
            return Ok(path.clone());
        }
        return Err(Error::Invalid(format!(
            "{}: the chat template is not Qwen-VL's `<|im_start|>` format with \
             `<|vision_start|>` image markers; cuelab only builds Qwen3-VL prompts",
            path.display()
        )));
    }
    Err(Error::Invalid(format!(
        "{}: missing chat template (looked for chat_template.jinja, chat_template.json and \
         `chat_template` in tokenizer_config.json); is this an Instruct checkpoint?",
        dir.display()
    )))
}

/// The chat text for `[system] + user(images..., text)` with the assistant generation prompt,
/// exactly as Qwen3-VL's template writes it.
pub fn chat_prompt(system: Option<&str>, n_images: usize, text: &str) -> String {
    let mut s = String::new();
    if let Some(sys) = system {
        s.push_str("<|im_start|>system\n");
        s.push_str(sys);
        s.push_str("<|im_end|>\n");
    }
    s.push_str("<|im_start|>user\n");
    for _ in 0..n_images {
        s.push_str(IMAGE_PLACEHOLDER);
    }
    s.push_str(text);
    s.push_str("<|im_end|>\n<|im_start|>assistant\n");
    s
}

/// Placeholder for one video in the prompt text, as the chat template writes a video part.
pub const VIDEO_PLACEHOLDER: &str = "<|vision_start|><|video_pad|><|vision_end|>";

/// The video pad token whose first occurrence the processor replaces with the frames.
pub const VIDEO_PAD: &str = "<|video_pad|>";

/// The chat text for `[system] + user(video, text)` with the assistant generation prompt, as
/// Qwen3-VL's template writes a video part followed by text.
pub fn video_chat_prompt(system: Option<&str>, text: &str) -> String {
    let mut s = String::new();
    if let Some(sys) = system {
        s.push_str("<|im_start|>system\n");
        s.push_str(sys);
        s.push_str("<|im_end|>\n");
    }
    s.push_str("<|im_start|>user\n");
    s.push_str(VIDEO_PLACEHOLDER);
    s.push_str(text);
    s.push_str("<|im_end|>\n<|im_start|>assistant\n");
    s
}

/// What Qwen3-VL's processor puts in place of a video's `<|video_pad|>`: for each temporal
/// patch its time (`<1.2 seconds>`, one decimal, rounded half to even on the exact value as
/// Python's `format` does) and the frame's own `<|vision_start|><|video_pad|><|vision_end|>`
/// (the pad is expanded to the frame's tokens when the prompt is tokenized).
pub fn video_frames_text(timestamps: &[f64]) -> String {
    let mut s = String::new();
    for t in timestamps {
        s.push_str(&format!("<{t:.1} seconds>"));
        s.push_str(VIDEO_PLACEHOLDER);
    }
    s
}

/// `text` with the `<|video_pad|>` of each video (in order) replaced by its frames' text
/// ([`video_frames_text`]); errors when the counts differ.
pub fn expand_video_pads(text: &str, videos: &[Vec<f64>]) -> Result<String> {
    let n = text.matches(VIDEO_PAD).count();
    if n != videos.len() {
        return Err(Error::Invalid(format!(
            "the prompt has {n} video placeholders but {} videos were given",
            videos.len()
        )));
    }
    let mut out = String::with_capacity(text.len() + 64 * videos.len());
    let mut rest = text;
    for ts in videos {
        let Some(at) = rest.find(VIDEO_PAD) else {
            break;
        };
        out.push_str(&rest[..at]);
        out.push_str(&video_frames_text(ts));
        rest = &rest[at + VIDEO_PAD.len()..];
    }
    out.push_str(rest);
    Ok(out)
}
