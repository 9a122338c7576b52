//! `probe preprocess`: the counting (and listing) questions under a grid of input transforms
//! ([`super::transform`]): per transform accuracy, answer flip rate and McNemar against the
//! untransformed image, and for in-process models the number of visual tokens.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::arms::Arm;
use super::count::{run_arms, CountConfig, CountOutcome, Plan};
use super::data::ProbeItem;
use super::transform::Transform;
use crate::error::{Result, TaskError};
use crate::runner::RunOptions;
use crate::vqa::{with_answerer, Backend};

/// The `experiment` value of `probe preprocess` manifests.
pub const EXPERIMENT: &str = "probe-preprocess";

fn d_transforms() -> Vec<String> {
    [
        "identity",
        "resize(0.5)",
        "resize(2)",
        "budget(max=50176,factor=28)",
        "shift(7)",
        "shift(14)",
        "rotate(90)",
        "rotate(180)",
        "rotate(270)",
        "rotate(5)",
        "pad-square",
        "crop-square",
        "jpeg(30)",
    ]
    .map(String::from)
    .to_vec()
}
fn d_questions() -> Vec<String> {
    vec!["count".into()]
}

/// What `probe preprocess` asks, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreprocessConfig {
    /// Transforms (the first `identity` is the reference; added when missing).
    #[serde(default = "d_transforms")]
    pub transforms: Vec<String>,
    /// Questions: count, list.
    #[serde(default = "d_questions")]
    pub questions: Vec<String>,
    /// Ask the count as a choice among `0..=K`.
    #[serde(default)]
    pub count_choices: Option<usize>,
    /// System prompt.
    #[serde(default)]
    pub system: Option<String>,
    /// Seed of the bootstrap.
    #[serde(default)]
    pub seed: u64,
    /// Only the first `limit` images.
    #[serde(default)]
    pub limit: Option<usize>,
    /// Questions per batch.
    #[serde(default = "d_batch")]
    pub batch: usize,
}

fn d_batch() -> usize {
    32
}

impl Default for PreprocessConfig {
    fn default() -> Self {
        PreprocessConfig {
            transforms: d_transforms(),
            questions: d_questions(),
            count_choices: None,
            system: None,
            seed: 0,
            limit: None,
            batch: d_batch(),
        }
    }
}

impl PreprocessConfig {
    /// The parsed transforms, `identity` first (added when missing); duplicates refused.
    pub fn transforms(&self) -> Result<Vec<Transform>> {
        let mut out = vec![Transform::Identity];
        for t in &self.transforms {
            let parsed = Transform::parse(t)?;
            if parsed == Transform::Identity {
                continue;
            }
            if out.contains(&parsed) {
                return Err(TaskError::Config(format!(
                    "transform {t:?} is listed twice"
                )));
            }
            out.push(parsed);
        }
        Ok(out)
    }
}

/// Build `backend` and run the probe; an in-process model's image processor counts the visual
/// tokens of every shown image.
pub fn run_preprocess(
    config: &PreprocessConfig,
    items: &[ProbeItem],
    backend: &Backend,
    data_description: &Value,
    opts: &RunOptions,
) -> Result<CountOutcome> {
    let mut config = config.clone();
    if matches!(backend, Backend::Clip { .. }) {
        let max = items.iter().map(ProbeItem::count).max().unwrap_or(0);
        config.count_choices.get_or_insert(max.max(10));
        config.questions.retain(|q| q == "count");
    }
    let tokens = match backend {
        Backend::Local { model, .. } => {
            let dir = cuelab_models::resolve::resolve(model)?.dir;
            Some(cuelab_models::qwen3_vl::ImageProcessor::load(&dir)?)
        }
        _ => None,
    };
    with_answerer(backend, |answerer, identity| {
        run_preprocess_with(
            &config,
            items,
            answerer,
            identity,
            tokens,
            data_description,
            opts,
        )
    })
}

/// Run the probe with a built answerer (see [`run_preprocess`]).
pub fn run_preprocess_with(
    config: &PreprocessConfig,
    items: &[ProbeItem],
    answerer: &dyn cuelab_vlm::Answerer,
    identity: &Value,
    tokens: Option<cuelab_models::qwen3_vl::ImageProcessor>,
    data_description: &Value,
    opts: &RunOptions,
) -> Result<CountOutcome> {
    let transforms = config.transforms()?;
    let count = CountConfig {
        variants: vec!["plain".into()],
        questions: config.questions.clone(),
        count_choices: config.count_choices,
        system: config.system.clone(),
        seed: config.seed,
        limit: config.limit,
        batch: config.batch,
        ..CountConfig::default()
    };
    let mut canonical = config.clone();
    canonical.transforms = transforms.iter().map(Transform::id).collect();
    canonical.batch = 0;
    canonical.limit = None;
    let hash_config = serde_json::json!({"probe": canonical, "count_template": count.count_template, "list_template": count.list_template});
    let plan = Plan {
        experiment: EXPERIMENT,
        reference: "identity",
        arms: transforms.into_iter().map(Arm::Transform).collect(),
        config: &count,
        manifest_config: serde_json::to_value(config).unwrap_or(Value::Null),
        hash_config,
        tokens,
    };
    run_arms(&plan, items, answerer, identity, data_description, opts)
}
