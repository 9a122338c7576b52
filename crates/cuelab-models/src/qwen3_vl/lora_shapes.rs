//! The matrices a LoRA adapter would train on a Qwen3-VL checkpoint, read from the
//! safetensors headers alone (no weights are loaded), and their trainable-parameter count.
//!
//! A LoRA of rank `r` on a linear layer with weight `(out, in)` adds `A: (r, in)` and
//! `B: (out, r)`, so `r · (in + out)` trainable parameters (no bias; PEFT's default
//! `bias="none"`).
//!
//! Targets are named as in the language model: `q`, `k`, `v`, `o`, `gate`, `up`, `down`
//! (`q_proj` ... `down_proj` of every decoder layer). With `vision`, the vision tower's blocks
//! are adapted too, with the same names mapped onto its layers: `q`/`k`/`v` → the fused
//! `attn.qkv` (once, whichever of the three are named), `o` → `attn.proj`, `up` →
//! `mlp.linear_fc1`, `down` → `mlp.linear_fc2` (its MLP has no gate). The patch merger and
//! the deepstack mergers are never adapted, nor the embeddings and the LM head.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A projection a LoRA can target, by its language-model name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Projection {
    /// `self_attn.q_proj`.
    Q,
    /// `self_attn.k_proj`.
    K,
    /// `self_attn.v_proj`.
    V,
    /// `self_attn.o_proj`.
    O,
    /// `mlp.gate_proj`.
    Gate,
    /// `mlp.up_proj`.
    Up,
    /// `mlp.down_proj`.
    Down,
}

impl Projection {
    /// Every projection, in the usual order.
    pub const ALL: [Projection; 7] = [
        Projection::Q,
        Projection::K,
        Projection::V,
        Projection::O,
        Projection::Gate,
        Projection::Up,
        Projection::Down,
    ];

    /// Parse `q` / `q_proj` (and so on for each projection), case-insensitive.
    pub fn parse(text: &str) -> Result<Self> {
        let t = text.trim().to_ascii_lowercase();
        let t = t.strip_suffix("_proj").unwrap_or(&t);
        Ok(match t {
            "q" => Projection::Q,
            "k" => Projection::K,
            "v" => Projection::V,
            "o" => Projection::O,
            "gate" => Projection::Gate,
            "up" => Projection::Up,
            "down" => Projection::Down,
            _ => {
                return Err(Error::Invalid(format!(
                    "unknown LoRA target `{text}`: expected q, k, v, o, gate, up or down"
                )))
            }
        })
    }

    /// The short name (`q`, ..., `down`).
    pub fn name(self) -> &'static str {
        match self {
            Projection::Q => "q",
            Projection::K => "k",
            Projection::V => "v",
            Projection::O => "o",
            Projection::Gate => "gate",
            Projection::Up => "up",
            Projection::Down => "down",
        }
    }

    /// The module name inside a decoder layer (`self_attn.q_proj`, ...).
    fn text_module(self) -> &'static str {
        match self {
            Projection::Q => "self_attn.q_proj",
            Projection::K => "self_attn.k_proj",
            Projection::V => "self_attn.v_proj",
            Projection::O => "self_attn.o_proj",
            Projection::Gate => "mlp.gate_proj",
            Projection::Up => "mlp.up_proj",
            Projection::Down => "mlp.down_proj",
        }
    }

    /// The module it maps to inside a vision block, if any.
    fn vision_module(self) -> Option<&'static str> {
        match self {
            Projection::Q | Projection::K | Projection::V => Some("attn.qkv"),
            Projection::O => Some("attn.proj"),
            Projection::Gate => None,
            Projection::Up => Some("mlp.linear_fc1"),
            Projection::Down => Some("mlp.linear_fc2"),
        }
    }
}

/// Which tower a matrix belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tower {
    /// The language model (decoder layers).
    Text,
    /// The vision tower's blocks.
    Vision,
}

/// One weight matrix a LoRA would adapt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TargetMatrix {
    /// Module name (the weight's name without `.weight`).
    pub module: String,
    /// The tower.
    pub tower: Tower,
    /// Output features (rows of the weight).
    pub out_features: usize,
    /// Input features (columns of the weight).
    pub in_features: usize,
}

impl TargetMatrix {
    /// Trainable parameters of a rank-`r` LoRA on this matrix: `r · (in + out)` (saturating at
    /// `u64::MAX` instead of overflowing for an absurd rank).
    pub fn lora_params(&self, rank: usize) -> u64 {
        (rank as u64)
            .saturating_mul((self.in_features as u64).saturating_add(self.out_features as u64))
    }
}

/// Trainable parameters of rank-`rank` LoRAs on all `targets` (saturating, see
/// [`TargetMatrix::lora_params`]).
pub fn trainable_params(targets: &[TargetMatrix], rank: usize) -> u64 {
    targets
        .iter()
        .fold(0u64, |sum, t| sum.saturating_add(t.lora_params(rank)))
}

/// Tensor shapes of one safetensors file, from its header (8-byte little-endian length, then
/// JSON); the data is not read. A shape with more elements than the file has bits (so more than
/// any dtype's data could fill, the product checked for overflow) is an error.
pub fn safetensors_shapes(path: &Path) -> Result<BTreeMap<String, Vec<usize>>> {
    let bad = |message: String| Error::Weights {
        path: path.to_path_buf(),
        tensor: String::new(),
        message,
    };
    let mut f = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let file_len = f.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
    let mut len = [0u8; 8];
    f.read_exact(&mut len)
        .map_err(|e| bad(format!("not a safetensors file (no header length): {e}")))?;
    let n = u64::from_le_bytes(len);
    if n > 100 << 20 || n + 8 > file_len {
        return Err(bad(format!(
            "not a safetensors file (header length {n} of a {file_len}-byte file)"
        )));
    }
    let mut header = vec![0u8; n as usize];
    f.read_exact(&mut header)
        .map_err(|e| bad(format!("truncated header: {e}")))?;
    let v: serde_json::Value =
        serde_json::from_slice(&header).map_err(|e| bad(format!("header is not JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad("header is not a JSON object".into()))?;
    let mut out = BTreeMap::new();
    for (name, info) in obj {
        if name == "__metadata__" {
            continue;
        }
        let shape = info
            .get("shape")
            .and_then(|s| s.as_array())
            .and_then(|s| {
                s.iter()
                    .map(|d| d.as_u64().map(|d| d as usize))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| Error::Weights {
                path: path.to_path_buf(),
                tensor: name.clone(),
                message: "no integer `shape` in the header".into(),
            })?;
        let elements = shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d as u64));
        if elements.is_none_or(|n| n > file_len.saturating_mul(8)) {
            return Err(Error::Weights {
                path: path.to_path_buf(),
                tensor: name.clone(),
                message: format!("shape {shape:?} holds more values than a {file_len}-byte file"),
            });
        }
        out.insert(name.clone(), shape);
    }
    Ok(out)
}

/// The shapes of every tensor of a checkpoint directory (all shards).
pub fn checkpoint_shapes(dir: &Path) -> Result<BTreeMap<String, (Vec<usize>, PathBuf)>> {
    let mut out = BTreeMap::new();
    for file in super::weight_files(dir)? {
        for (name, shape) in safetensors_shapes(&file)? {
            out.insert(name, (shape, file.clone()));
        }
    }
    Ok(out)
}

/// Which tower a tensor name belongs to, and the module inside its layer/block
/// (`self_attn.q_proj` of `model.language_model.layers.3.self_attn.q_proj.weight`).
fn classify(name: &str) -> Option<(Tower, &str)> {
    let stem = name.strip_suffix(".weight")?;
    for prefix in ["model.visual.blocks.", "visual.blocks."] {
        if let Some(rest) = stem.strip_prefix(prefix) {
            let (_, module) = rest.split_once('.')?;
            return Some((Tower::Vision, module));
        }
    }
    for prefix in ["model.language_model.layers.", "model.layers."] {
        if let Some(rest) = stem.strip_prefix(prefix) {
            let (_, module) = rest.split_once('.')?;
            return Some((Tower::Text, module));
        }
    }
    None
}

/// The matrices a LoRA on `targets` (language model, plus the vision blocks with `vision`)
/// adapts in the checkpoint at `dir`, sorted by module name. Fails when a named target does not
/// exist in the checkpoint or is not a matrix.
pub fn lora_targets(dir: &Path, targets: &[Projection], vision: bool) -> Result<Vec<TargetMatrix>> {
    if targets.is_empty() {
        return Err(Error::Invalid("no LoRA targets given".into()));
    }
    let shapes = checkpoint_shapes(dir)?;
    let text_modules: Vec<&str> = targets.iter().map(|t| t.text_module()).collect();
    let vision_modules: Vec<&str> = if vision {
        targets.iter().filter_map(|t| t.vision_module()).collect()
    } else {
        Vec::new()
    };
    let mut out = Vec::new();
    let mut seen_text = std::collections::BTreeSet::new();
    let mut seen_vision = std::collections::BTreeSet::new();
    for (name, (shape, file)) in &shapes {
        let Some((tower, module)) = classify(name) else {
            continue;
        };
        let wanted = match tower {
            Tower::Text => text_modules.contains(&module),
            Tower::Vision => vision_modules.contains(&module),
        };
        if !wanted {
            continue;
        }
        let [rows, cols] = shape.as_slice() else {
            return Err(Error::Weights {
                path: file.clone(),
                tensor: name.clone(),
                message: format!("a LoRA target must be a matrix, found shape {shape:?}"),
            });
        };
        match tower {
            Tower::Text => seen_text.insert(module.to_string()),
            Tower::Vision => seen_vision.insert(module.to_string()),
        };
        out.push(TargetMatrix {
            module: name.trim_end_matches(".weight").to_string(),
            tower,
            out_features: *rows,
            in_features: *cols,
        });
    }
    for m in &text_modules {
        if !seen_text.contains(*m) {
            return Err(Error::Invalid(format!(
                "{}: no decoder layer has `{m}`; is this a Qwen3-VL checkpoint?",
                dir.display()
            )));
        }
    }
    for m in &vision_modules {
        if !seen_vision.contains(*m) {
            return Err(Error::Invalid(format!(
                "{}: no vision block has `{m}`; is this a Qwen3-VL checkpoint?",
                dir.display()
            )));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_map() {
        assert_eq!(Projection::parse("Q_proj").ok(), Some(Projection::Q));
        assert_eq!(Projection::parse(" down ").ok(), Some(Projection::Down));
        assert!(Projection::parse("qkv").is_err());
        assert_eq!(
            classify("model.language_model.layers.12.mlp.up_proj.weight"),
            Some((Tower::Text, "mlp.up_proj"))
        );
        assert_eq!(
            classify("model.visual.blocks.0.attn.qkv.weight"),
            Some((Tower::Vision, "attn.qkv"))
        );
        assert_eq!(classify("model.visual.merger.linear_fc1.weight"), None);
        assert_eq!(classify("model.visual.blocks.0.attn.qkv.bias"), None);
        let m = TargetMatrix {
            module: "x".into(),
            tower: Tower::Text,
            out_features: 128,
            in_features: 64,
        };
        assert_eq!(m.lora_params(8), 8 * 192);
        assert_eq!(
            m.lora_params(usize::MAX),
            u64::MAX,
            "saturates, never overflows"
        );
        let huge = TargetMatrix {
            in_features: usize::MAX,
            ..m.clone()
        };
        assert_eq!(trainable_params(&[huge, m], 1), u64::MAX);
    }

    /// A header naming more values than the file could hold is an error, not an overflow.
    #[test]
    fn shapes_past_the_file_size_are_errors() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let write = |shape: &str| {
            let header = format!(
                r#"{{"w.weight":{{"dtype":"F32","shape":{shape},"data_offsets":[0,16]}}}}"#
            );
            let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
            bytes.extend_from_slice(header.as_bytes());
            bytes.extend_from_slice(&[0u8; 16]);
            let path = tmp.path().join("model.safetensors");
            std::fs::write(&path, bytes).expect("write");
            safetensors_shapes(&path)
        };
        assert_eq!(write("[2, 2]").expect("fits")["w.weight"], vec![2, 2]);
        for bad in [
            "[4294967296, 4294967296]",
            "[1, 18446744073709551615]",
            "[100000, 100000]",
        ] {
            let e = write(bad).expect_err(bad).to_string();
            assert!(e.contains("holds more values"), "{bad}: {e}");
        }
        assert_eq!(
            write("[0, 5]").expect("empty tensor")["w.weight"],
            vec![0, 5]
        );
    }
}
