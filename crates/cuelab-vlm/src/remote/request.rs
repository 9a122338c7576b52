//! The `/chat/completions` request body of one question, and its cache key.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::question::{AnswerMode, Question};
use crate::remote::config::RemoteConfig;
use crate::remote::encode::{hex, EncodedImage};
use crate::remote::prompt;

/// Version of the cache-key recipe; bump when the key's meaning changes.
const KEY_VERSION: u32 = 1;

/// The body of one request (with real data URLs) and the key of its cached answer.
#[derive(Debug)]
pub struct BuiltRequest {
    /// JSON body, serialised.
    pub body: Vec<u8>,
    /// Hex SHA-256 of the request with image hashes in place of the data URLs.
    pub cache_key: String,
}

/// Builds the request for `question`, whose user text is `user_text` and whose images are
/// `images` (already encoded).
pub fn build(
    config: &RemoteConfig,
    question: &Question,
    user_text: &str,
    images: &[std::sync::Arc<EncodedImage>],
) -> Result<BuiltRequest, String> {
    let key_body = body(config, question, user_text, images, true);
    let mut hasher = Sha256::new();
    hasher.update(format!("cuelab-vlm request v{KEY_VERSION}\n").as_bytes());
    hasher.update(config.mode.as_str().as_bytes());
    hasher.update(b"\n");
    let key_json = serde_json::to_vec(&key_body).map_err(|e| e.to_string())?;
    hasher.update(&key_json);
    let cache_key = hex(&hasher.finalize());
    let body = serde_json::to_vec(&body(config, question, user_text, images, false))
        .map_err(|e| e.to_string())?;
    Ok(BuiltRequest { body, cache_key })
}

fn body(
    config: &RemoteConfig,
    question: &Question,
    user_text: &str,
    images: &[std::sync::Arc<EncodedImage>],
    for_key: bool,
) -> Value {
    let mut messages = Vec::with_capacity(2);
    if let Some(system) = &question.system {
        messages.push(json!({ "role": "system", "content": system }));
    }
    let mut content: Vec<Value> = images
        .iter()
        .map(|img| {
            let url = if for_key {
                format!("sha256:{}", img.sha256)
            } else {
                img.data_url.clone()
            };
            if crate::remote::video::is_video(img) {
                json!({ "type": "video_url", "video_url": { "url": url } })
            } else {
                json!({ "type": "image_url", "image_url": { "url": url } })
            }
        })
        .collect();
    content.push(json!({ "type": "text", "text": user_text }));
    messages.push(json!({ "role": "user", "content": content }));

    let mut map = Map::new();
    map.insert("model".into(), Value::String(config.model.clone()));
    map.insert("messages".into(), Value::Array(messages));
    let g = &config.generation;
    if let Some(v) = g.temperature {
        map.insert("temperature".into(), json!(v));
    }
    if let Some(v) = g.top_p {
        map.insert("top_p".into(), json!(v));
    }
    if let Some(v) = g.top_k {
        map.insert("top_k".into(), json!(v));
    }
    if let Some(v) = g.max_tokens {
        map.insert("max_tokens".into(), json!(v));
    }
    if let Some(v) = g.seed {
        map.insert("seed".into(), json!(v));
    }
    if let Some(v) = g.presence_penalty {
        map.insert("presence_penalty".into(), json!(v));
    }
    if question.choices.is_empty() {
        if let Some(format) = &config.response_format {
            map.insert("response_format".into(), format.clone());
        }
    } else {
        match config.mode {
            AnswerMode::Structured => {
                map.insert(
                    "structured_outputs".into(),
                    json!({ "choice": question.choices }),
                );
            }
            AnswerMode::Guided => {
                map.insert("guided_choice".into(), json!(question.choices));
            }
            AnswerMode::Logprobs => {
                map.insert("max_tokens".into(), json!(1));
                map.insert("logprobs".into(), json!(true));
                map.insert("top_logprobs".into(), json!(config.top_logprobs));
            }
            AnswerMode::Free => {}
        }
    }
    if for_key {
        // settings that change the answer without appearing in the request
        let mut settings = json!({
            "image_format": config.image_format,
            "jpeg_quality": config.jpeg_quality,
            "max_pixels": config.max_pixels,
            "template": config.template,
            "lettered": prompt::lettered(config.mode),
        });
        // Only a video request carries its encoding (keys of frame requests stay as they were).
        if images.iter().any(|i| crate::remote::video::is_video(i)) {
            settings["video_fps"] = json!(config.video_fps);
        }
        map.insert("cuelab".into(), settings);
    }
    Value::Object(map)
}
