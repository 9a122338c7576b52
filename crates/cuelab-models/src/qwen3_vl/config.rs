//! `config.json` of a Qwen3-VL checkpoint (Hugging Face layout, `model_type: qwen3_vl`).

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

/// The vision tower's sizes (`vision_config`).
#[derive(Debug, Clone, Deserialize)]
pub struct VisionConfig {
    /// Number of transformer blocks.
    pub depth: usize,
    /// Width of the tower.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Attention heads.
    pub num_heads: usize,
    /// Input channels (3).
    #[serde(default = "three")]
    pub in_channels: usize,
    /// Spatial patch side in pixels.
    pub patch_size: usize,
    /// Side of the square of patches merged into one language token.
    pub spatial_merge_size: usize,
    /// Frames per temporal patch (images are repeated to fill it).
    pub temporal_patch_size: usize,
    /// Width of the merged tokens (= the text hidden size).
    pub out_hidden_size: usize,
    /// Size of the learned position table (a square grid).
    pub num_position_embeddings: usize,
    /// Blocks whose outputs feed the deepstack mergers.
    #[serde(default)]
    pub deepstack_visual_indexes: Vec<usize>,
    /// MLP activation.
    #[serde(default = "gelu_tanh")]
    pub hidden_act: String,
    /// Rotary parameters (`rope_theta`).
    #[serde(default)]
    pub rope_parameters: Option<RopeParameters>,
}

/// Rotary embedding parameters.
#[derive(Debug, Clone, Deserialize)]
pub struct RopeParameters {
    /// Base of the inverse frequencies.
    pub rope_theta: Option<f64>,
    /// `default` (text) or `axial` (vision).
    pub rope_type: Option<String>,
    /// Frequencies given to the temporal, height and width position axes.
    pub mrope_section: Option<Vec<usize>>,
    /// Interleaved (Qwen3-VL) rather than chunked (Qwen2-VL) sections.
    pub mrope_interleaved: Option<bool>,
}

/// The language model's sizes (`text_config`).
#[derive(Debug, Clone, Deserialize)]
pub struct TextConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (grouped-query attention).
    pub num_key_value_heads: Option<usize>,
    /// Per-head width.
    pub head_dim: Option<usize>,
    /// Context length the model was trained for.
    #[serde(default = "default_ctx")]
    pub max_position_embeddings: usize,
    /// RMSNorm epsilon.
    #[serde(default = "default_eps")]
    pub rms_norm_eps: f64,
    /// Rotary parameters (transformers 5 layout).
    #[serde(default)]
    pub rope_parameters: Option<RopeParameters>,
    /// Rotary parameters (transformers 4 layout).
    #[serde(default)]
    pub rope_scaling: Option<RopeParameters>,
    /// Rotary base (transformers 4 layout).
    #[serde(default)]
    pub rope_theta: Option<f64>,
    /// Bias on q/k/v/o projections.
    #[serde(default)]
    pub attention_bias: bool,
    /// Whether the output head shares the embedding matrix.
    #[serde(default)]
    pub tie_word_embeddings: Option<bool>,
    /// End-of-sequence id(s).
    #[serde(default)]
    pub eos_token_id: Option<serde_json::Value>,
}

/// The whole `config.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Qwen3VlConfig {
    /// Must be `qwen3_vl`.
    pub model_type: String,
    /// Language model.
    pub text_config: TextConfig,
    /// Vision tower.
    pub vision_config: VisionConfig,
    /// `<|image_pad|>` id.
    pub image_token_id: u32,
    /// `<|video_pad|>` id.
    pub video_token_id: u32,
    /// `<|vision_start|>` id.
    pub vision_start_token_id: u32,
    /// `<|vision_end|>` id.
    pub vision_end_token_id: u32,
    /// Top-level tie flag (overrides the text config's when present).
    #[serde(default)]
    pub tie_word_embeddings: Option<bool>,
}

fn three() -> usize {
    3
}
fn gelu_tanh() -> String {
    "gelu_pytorch_tanh".into()
}
fn default_ctx() -> usize {
    128_000
}
fn default_eps() -> f64 {
    1e-6
}

impl Qwen3VlConfig {
    /// Parse `config.json`, checking the architecture and the sizes that must agree.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let cfg: Qwen3VlConfig = serde_json::from_str(&text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            key: String::new(),
            message: e.to_string(),
        })?;
        let bad = |key: &str, message: String| Error::Config {
            path: path.to_path_buf(),
            key: key.to_string(),
            message,
        };
        if cfg.model_type != "qwen3_vl" {
            return Err(Error::UnsupportedArchitecture {
                path: path.to_path_buf(),
                architecture: cfg.model_type.clone(),
                supported: "qwen3_vl".into(),
            });
        }
        let t = &cfg.text_config;
        if t.num_attention_heads == 0 || !t.num_attention_heads.is_multiple_of(t.kv_heads()) {
            return Err(bad(
                "text_config.num_key_value_heads",
                format!(
                    "{} query heads are not a multiple of {} key/value heads",
                    t.num_attention_heads,
                    t.kv_heads()
                ),
            ));
        }
        let half = t.head_dim() / 2;
        let sec = t.mrope_section();
        if sec.len() != 3 || sec.iter().sum::<usize>() != half {
            return Err(bad(
                "text_config.rope_parameters.mrope_section",
                format!("{sec:?} must have 3 entries summing to head_dim/2 = {half}"),
            ));
        }
        let v = &cfg.vision_config;
        if v.num_heads == 0 || !v.hidden_size.is_multiple_of(v.num_heads) {
            return Err(bad(
                "vision_config.num_heads",
                format!(
                    "{} does not divide hidden_size {}",
                    v.num_heads, v.hidden_size
                ),
            ));
        }
        let side = (v.num_position_embeddings as f64).sqrt() as usize;
        if side * side != v.num_position_embeddings {
            return Err(bad(
                "vision_config.num_position_embeddings",
                format!("{} is not a square", v.num_position_embeddings),
            ));
        }
        if v.out_hidden_size != t.hidden_size {
            return Err(bad(
                "vision_config.out_hidden_size",
                format!(
                    "{} differs from text hidden_size {}",
                    v.out_hidden_size, t.hidden_size
                ),
            ));
        }
        if v.deepstack_visual_indexes.len() > t.num_hidden_layers {
            return Err(bad(
                "vision_config.deepstack_visual_indexes",
                "more deepstack levels than decoder layers".into(),
            ));
        }
        if v.deepstack_visual_indexes.iter().any(|&i| i >= v.depth) {
            return Err(bad(
                "vision_config.deepstack_visual_indexes",
                format!("an index is beyond depth {}", v.depth),
            ));
        }
        Ok(cfg)
    }

    /// Whether `lm_head` is the embedding matrix.
    pub fn tied(&self) -> bool {
        self.tie_word_embeddings
            .or(self.text_config.tie_word_embeddings)
            .unwrap_or(false)
    }
}

impl TextConfig {
    /// Key/value heads.
    pub fn kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    /// Per-head width.
    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }

    fn rope(&self) -> Option<&RopeParameters> {
        self.rope_parameters.as_ref().or(self.rope_scaling.as_ref())
    }

    /// Rotary base.
    pub fn rope_theta(&self) -> f64 {
        self.rope()
            .and_then(|r| r.rope_theta)
            .or(self.rope_theta)
            .unwrap_or(5_000_000.0)
    }

    /// MRoPE sections (temporal, height, width).
    pub fn mrope_section(&self) -> Vec<usize> {
        self.rope()
            .and_then(|r| r.mrope_section.clone())
            .unwrap_or_else(|| vec![24, 20, 20])
    }

    /// End-of-sequence ids named by the config.
    pub fn eos_ids(&self) -> Vec<u32> {
        match &self.eos_token_id {
            Some(serde_json::Value::Number(n)) => {
                n.as_u64().map(|v| vec![v as u32]).unwrap_or_default()
            }
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_u64().map(|v| v as u32))
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl VisionConfig {
    /// Per-head width of the vision tower.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_heads
    }

    /// Rotary base of the vision tower.
    pub fn rope_theta(&self) -> f64 {
        self.rope_parameters
            .as_ref()
            .and_then(|r| r.rope_theta)
            .unwrap_or(10_000.0)
    }
}
