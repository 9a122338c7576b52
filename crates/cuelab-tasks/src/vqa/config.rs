//! The configuration of a question-answering run (TOML or flags) and its cue variants.

use cuelab_cue::Recipe;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Result, TaskError};
use crate::grounding::short_hash;

/// How the options of a question are ordered when shown (see [`super::order`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChoiceOrder {
    /// As in the dataset.
    Keep,
    /// A seeded permutation per question.
    Shuffle,
    /// A seeded permutation that puts the correct option at every position equally often.
    #[default]
    Balanced,
}

impl std::str::FromStr for ChoiceOrder {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "keep" => Ok(ChoiceOrder::Keep),
            "shuffle" => Ok(ChoiceOrder::Shuffle),
            "balanced" => Ok(ChoiceOrder::Balanced),
            _ => Err(format!(
                "unknown option order {s:?}: expected keep, shuffle or balanced"
            )),
        }
    }
}

fn default_cues() -> Vec<String> {
    vec!["plain".into()]
}
fn default_seed() -> u64 {
    0
}
fn default_batch() -> usize {
    64
}
fn default_count_suffix() -> String {
    " Answer with a number.".into()
}

/// What a question-answering run asks, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VqaConfig {
    /// Cue recipes, one variant each; `plain` is the uncued image. Order is kept in the tables.
    #[serde(default = "default_cues")]
    pub cues: Vec<String>,
    /// How options are ordered when shown.
    #[serde(default)]
    pub order: ChoiceOrder,
    /// Seed of the option order and of the bootstrap.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// System prompt sent with every question.
    #[serde(default)]
    pub system: Option<String>,
    /// Appended to counting questions (asked open, answered with a number).
    #[serde(default = "default_count_suffix")]
    pub count_suffix: String,
    /// Only the first `limit` questions (after sharding).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Questions handed to the backend at once (bounds the memory of rendered images; the backend
    /// keeps its own number of requests in flight).
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Frames of each clip shown (`all`, `frames=N`, `fps=F`; see
    /// [`cuelab_data::video::FrameSampling`]); `None` shows a frame folder as it is and decodes
    /// every frame of a video file. Part of the run identity when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames: Option<String>,
}

impl Default for VqaConfig {
    fn default() -> Self {
        VqaConfig {
            cues: default_cues(),
            order: ChoiceOrder::default(),
            seed: default_seed(),
            system: None,
            count_suffix: default_count_suffix(),
            limit: None,
            batch: default_batch(),
            frames: None,
        }
    }
}

/// One cue variant of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct VqaVariant {
    /// Stable id: `plain` or `cue-<hash of the canonical recipe>`.
    pub id: String,
    /// The canonical recipe text (what tables show).
    pub label: String,
    /// The parsed recipe.
    pub recipe: Recipe,
}

impl VqaConfig {
    /// Read a TOML file.
    pub fn from_toml_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| TaskError::io(path, e))?;
        toml::from_str(&text).map_err(|e| TaskError::Json {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Parse the cue list into variants (duplicates after canonicalisation are an error).
    pub fn variants(&self) -> Result<Vec<VqaVariant>> {
        if self.cues.is_empty() {
            return Err(TaskError::Config(
                "at least one cue variant is needed (e.g. plain)".into(),
            ));
        }
        if self.batch == 0 {
            return Err(TaskError::Config("batch must be at least 1".into()));
        }
        self.frame_sampling()?;
        let mut out: Vec<VqaVariant> = Vec::new();
        for spec in &self.cues {
            let recipe =
                Recipe::parse(spec).map_err(|e| TaskError::Config(format!("cue {spec:?}: {e}")))?;
            let label = recipe.to_string();
            let id = if recipe.is_plain() {
                "plain".to_string()
            } else {
                format!("cue-{}", short_hash(&label))
            };
            if out.iter().any(|v| v.id == id) {
                return Err(TaskError::Config(format!("cue {label:?} is listed twice")));
            }
            out.push(VqaVariant { id, label, recipe });
        }
        Ok(out)
    }

    /// The frame sampling of clips, parsed (`None` when not set).
    pub fn frame_sampling(&self) -> Result<Option<cuelab_data::video::FrameSampling>> {
        self.frames
            .as_deref()
            .map(|f| {
                cuelab_data::video::FrameSampling::parse(f)
                    .map_err(|e| TaskError::Config(e.to_string()))
            })
            .transpose()
    }

    /// Hash of everything that decides the answers, combined with the backend's identity:
    /// resuming is refused when it differs.
    pub fn hash(&self, backend_identity: &serde_json::Value) -> Result<String> {
        let mut canonical = self.clone();
        canonical.cues = self.variants()?.into_iter().map(|v| v.label).collect();
        canonical.frames = self.frame_sampling()?.map(|f| f.to_string());
        // Batch size and limit change what is asked when, not what the answers are.
        canonical.batch = 0;
        canonical.limit = None;
        let text = serde_json::to_string(&(canonical, backend_identity))
            .map_err(|e| TaskError::Config(e.to_string()))?;
        let digest = Sha256::digest(text.as_bytes());
        Ok(digest.iter().take(8).map(|b| format!("{b:02x}")).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_are_canonical_and_unique() {
        let cfg = VqaConfig {
            cues: vec!["plain".into(), "rect(color=red, width=2)".into()],
            ..VqaConfig::default()
        };
        let v = cfg.variants().unwrap();
        assert_eq!(v[0].id, "plain");
        assert!(v[1].id.starts_with("cue-"));
        let dup = VqaConfig {
            cues: vec![
                "rect(color=red,width=2)".into(),
                "rect(width=2, color=red)".into(),
            ],
            ..VqaConfig::default()
        };
        assert!(dup.variants().is_err());
        let bad = VqaConfig {
            cues: vec!["sparkle()".into()],
            ..VqaConfig::default()
        };
        assert!(bad.variants().is_err());
    }

    #[test]
    fn hash_ignores_batch_but_not_backend_or_order() {
        let a = VqaConfig::default();
        let b = VqaConfig {
            batch: 7,
            ..VqaConfig::default()
        };
        let id = serde_json::json!({"model": "m"});
        assert_eq!(a.hash(&id).unwrap(), b.hash(&id).unwrap());
        assert_ne!(
            a.hash(&id).unwrap(),
            a.hash(&serde_json::json!({"model": "n"})).unwrap()
        );
        let c = VqaConfig {
            order: ChoiceOrder::Keep,
            ..VqaConfig::default()
        };
        assert_ne!(a.hash(&id).unwrap(), c.hash(&id).unwrap());
    }
}
