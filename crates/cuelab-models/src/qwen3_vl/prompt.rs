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
