//! Grounding experiments as configurations: a TOML file (or the same fields from CLI flags, or
//! [`GroundingConfig::default`] with fields set in Rust) whose list-valued fields expand into a
//! grid of [`Variant`]s, run over samples into a resumable run directory.
//!
//! Precedence, as `cuelab ground` applies it: flags, then the file, then the defaults below
//! (seed 004's recipes: baseline and red circle, `"This is {expr}"`, 5,000 debias expressions,
//! mean aggregation, seed 0, `openai/clip-vit-base-patch32`).
//!
//! ```toml
//! models = ["openai/clip-vit-base-patch32"]
//! method = ["baseline", "redcircle"]
//! cues = [["ellipse(color=red,width=3)+blur(radius=20)",
//!          "ellipse(color=red,width=3)+blur(radius=20)+gray"]]
//! template = "This is {expr}"
//! debias = [0, 5000]
//! aggregate = "mean"
//! seed = 0
//! text_field = "sent"          # RefCOCO text scored: sent (seed 004) or raw
//! debias_pool = "train"        # train (seed 004; RefCOCO default), eval, or a file path
//! debias_with_replacement = true
//! [sweep]                      # optional: fills {name} placeholders in cue specs
//! radius = [10, 20]
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::debias::{read_pool_file, DebiasPool, PoolKind};
use crate::error::{Result, TaskError};
use crate::grounding::{short_hash, Aggregate, GroundingSample, Method, Variant};

/// A value given once or as a list (a grid axis).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// A single value.
    One(T),
    /// A grid axis.
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    /// The values of this axis.
    pub fn values(&self) -> Vec<T> {
        match self {
            OneOrMany::One(v) => vec![v.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// The grounding experiment configuration (TOML).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroundingConfig {
    /// Backbones, ensembled (model references: HF id, local directory). Defaults to
    /// [`crate::grounding::DEFAULT_MODEL`] when the file leaves it out (so `--model` can
    /// supply it).
    #[serde(default = "default_models")]
    pub models: Vec<String>,
    /// Methods to run.
    #[serde(default = "default_methods")]
    pub method: OneOrMany<Method>,
    /// Cue recipe sets for `redcircle` (each entry: the list of recipes aggregated together).
    #[serde(default = "default_cues")]
    pub cues: Vec<Vec<String>>,
    /// Text template(s) for `redcircle` (`{expr}` = the expression); baseline uses `{expr}`.
    #[serde(default = "default_template")]
    pub template: OneOrMany<String>,
    /// Debias sizes for `redcircle` (0 = off).
    #[serde(default = "default_debias")]
    pub debias: OneOrMany<usize>,
    /// Aggregation over recipes.
    #[serde(default = "default_aggregate")]
    pub aggregate: OneOrMany<Aggregate>,
    /// Drop proposals covering more than this share of the image.
    #[serde(default)]
    pub max_area: Option<OneOrMany<f32>>,
    /// Placeholders in cue specs, each a grid axis: `{radius}` with `radius = [10, 20]`.
    #[serde(default)]
    pub sweep: BTreeMap<String, Vec<toml::Value>>,
    /// Seed for debias sampling and bootstrap.
    #[serde(default)]
    pub seed: u64,
    /// Only the first N samples.
    #[serde(default)]
    pub limit: Option<usize>,
    /// Weight of the detector-class prior for every method (off when absent); see
    /// [`crate::grounding::class_prior_scores`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_prior: Option<f32>,
    /// Which text of a referring expression is scored: `sent` (seed 004) or `raw`. Unset means
    /// `sent` ([`GroundingConfig::resolve_defaults`] fills it in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_field: Option<cuelab_data::TextField>,
    /// Where debias prompts come from: `train` (seed 004), `eval` (cuelab's earlier pool) or a
    /// file with one prompt per line; see [`crate::debias`]. Unset: `train` for RefCOCO data,
    /// `eval` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debias_pool: Option<String>,
    /// Draw debias prompts with replacement. Unset: true for `train` and files (seed 004),
    /// false for `eval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debias_with_replacement: Option<bool>,
}

impl Default for GroundingConfig {
    /// The defaults a TOML file gets for the fields it leaves out, and
    /// [`crate::grounding::DEFAULT_MODEL`] as the model.
    fn default() -> Self {
        GroundingConfig {
            models: default_models(),
            method: default_methods(),
            cues: default_cues(),
            template: default_template(),
            debias: default_debias(),
            aggregate: default_aggregate(),
            max_area: None,
            sweep: BTreeMap::new(),
            seed: 0,
            limit: None,
            class_prior: None,
            text_field: None,
            debias_pool: None,
            debias_with_replacement: None,
        }
    }
}

fn default_models() -> Vec<String> {
    vec![crate::grounding::DEFAULT_MODEL.to_string()]
}

fn default_methods() -> OneOrMany<Method> {
    OneOrMany::Many(vec![Method::Baseline, Method::Redcircle])
}

/// Seed 004's final recipes: red ellipse width 3 + blur 20 outside the box, and + grayscale.
pub fn default_cues() -> Vec<Vec<String>> {
    vec![vec![
        "ellipse(color=red,width=3)+blur(radius=20)".into(),
        "ellipse(color=red,width=3)+blur(radius=20)+gray".into(),
    ]]
}

fn default_template() -> OneOrMany<String> {
    OneOrMany::One("This is {expr}".into())
}

fn default_debias() -> OneOrMany<usize> {
    OneOrMany::One(5000)
}

fn default_aggregate() -> OneOrMany<Aggregate> {
    OneOrMany::One(Aggregate::Mean)
}

impl GroundingConfig {
    /// Read a TOML file.
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| TaskError::io(path, e))?;
        toml::from_str(&text).map_err(|e| TaskError::Json {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Expand the grid into variants: baseline once per distinct `max_area`; redcircle for every
    /// combination of cue set × sweep values × template × debias × aggregate × max_area.
    pub fn variants(&self) -> Result<Vec<Variant>> {
        let max_areas: Vec<Option<f32>> = match &self.max_area {
            None => vec![None],
            Some(v) => v.values().into_iter().map(Some).collect(),
        };
        let mut cue_sets: Vec<Vec<String>> = Vec::new();
        for set in &self.cues {
            for assignment in sweep_assignments(&self.sweep) {
                let filled: Vec<String> = set
                    .iter()
                    .map(|spec| {
                        assignment
                            .iter()
                            .fold(spec.clone(), |s, (k, v)| s.replace(&format!("{{{k}}}"), v))
                    })
                    .collect();
                for spec in &filled {
                    if spec.contains('{') {
                        return Err(TaskError::Config(format!(
                            "cue spec {spec:?} has a placeholder with no [sweep] values"
                        )));
                    }
                    cuelab_cue::Recipe::parse(spec)?;
                }
                // canonical specs: the recipe identity
                let canon = filled
                    .iter()
                    .map(|s| cuelab_cue::Recipe::parse(s).map(|r| r.to_string()))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                if !cue_sets.contains(&canon) {
                    cue_sets.push(canon);
                }
            }
        }
        let mut out = Vec::new();
        for method in self.method.values() {
            for &max_area in &max_areas {
                match method {
                    Method::Baseline => out.push(Variant {
                        method,
                        cues: Vec::new(),
                        template: "{expr}".into(),
                        debias: 0,
                        aggregate: Aggregate::Mean,
                        max_area,
                        class_prior: self.class_prior,
                    }),
                    Method::Redcircle => {
                        if cue_sets.is_empty() {
                            return Err(TaskError::Config(
                                "redcircle needs at least one cue set".into(),
                            ));
                        }
                        for cues in &cue_sets {
                            for template in self.template.values() {
                                for debias in self.debias.values() {
                                    for aggregate in self.aggregate.values() {
                                        out.push(Variant {
                                            method,
                                            cues: cues.clone(),
                                            template: template.clone(),
                                            debias,
                                            aggregate,
                                            max_area,
                                            class_prior: self.class_prior,
                                        });
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        out.retain(|v| seen.insert(v.id()));
        if out.is_empty() {
            return Err(TaskError::Config(
                "the grid is empty: `method`, `template`, `debias`, `aggregate` and `max_area` \
                 each need at least one value"
                    .into(),
            ));
        }
        Ok(out)
    }

    /// Identity of the run (models, variants, seed, and when set the text field and debias
    /// pool): a resumed run must match it. Configurations without the issue-13 fields hash as
    /// before.
    pub fn hash(&self) -> Result<String> {
        let variants = self.variants()?;
        let mut text = format!(
            "{:?}|{}|{}|{:?}",
            self.models,
            serde_json::to_string(&variants).unwrap_or_default(),
            self.seed,
            self.limit
        );
        if self.text_field.is_some()
            || self.debias_pool.is_some()
            || self.debias_with_replacement.is_some()
        {
            text.push_str(&format!(
                "|text_field={:?}|debias_pool={:?}|with_replacement={:?}",
                self.text_field.map(|f| f.as_str()),
                self.debias_pool,
                self.debias_with_replacement
            ));
        }
        Ok(short_hash(&text))
    }

    /// Fill the unset text and debias fields with their defaults for this data: `sent`; the
    /// `train` pool for RefCOCO (`refcoco`), `eval` otherwise; with replacement except for
    /// `eval`. Call before [`GroundingConfig::hash`] so that the run records what it used.
    pub fn resolve_defaults(&mut self, refcoco: bool) {
        self.text_field.get_or_insert(cuelab_data::TextField::Sent);
        let pool = self
            .debias_pool
            .get_or_insert_with(|| if refcoco { "train" } else { "eval" }.to_string())
            .clone();
        self.debias_with_replacement.get_or_insert(pool != "eval");
    }

    /// The text field to score (`sent` when unset).
    pub fn text_field(&self) -> cuelab_data::TextField {
        self.text_field.unwrap_or_default()
    }

    /// Build the debias pool this configuration names. `eval` takes the evaluated samples'
    /// expressions; `train` needs `train_expressions` (the training split's, e.g.
    /// [`cuelab_data::refcoco::split_expressions`]); anything else is read as a file. Unset
    /// means `eval`. An empty `train` pool is an error when some variant debiases.
    pub fn build_debias_pool(
        &self,
        samples: &[GroundingSample],
        train_expressions: Option<&[String]>,
    ) -> Result<DebiasPool> {
        let kind = PoolKind::parse(self.debias_pool.as_deref().unwrap_or("eval"));
        let expressions = match &kind {
            PoolKind::Eval => samples.iter().map(|s| s.expression.clone()).collect(),
            PoolKind::Train => train_expressions
                .map(<[String]>::to_vec)
                .unwrap_or_default(),
            PoolKind::File(path) => read_pool_file(path)?,
        };
        let debiasing = self.debias.values().iter().any(|&d| d > 0);
        if kind == PoolKind::Train && expressions.is_empty() && debiasing {
            return Err(TaskError::Config(
                "debias pool `train`: the data has no training-split expressions (RefCOCO refs \
                 with split \"train\", or JSONL samples with \"split\": \"train\"); use \
                 --debias-pool eval or --debias-pool FILE"
                    .into(),
            ));
        }
        let with_replacement = self
            .debias_with_replacement
            .unwrap_or(kind != PoolKind::Eval);
        Ok(DebiasPool {
            kind,
            expressions,
            with_replacement,
        })
    }
}

/// Every assignment of the sweep axes (one empty assignment when there are none).
fn sweep_assignments(sweep: &BTreeMap<String, Vec<toml::Value>>) -> Vec<Vec<(String, String)>> {
    let mut acc: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for (name, values) in sweep {
        let mut next = Vec::new();
        for partial in &acc {
            for v in values {
                let text = match v {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let mut p = partial.clone();
                p.push((name.clone(), text));
                next.push(p);
            }
        }
        acc = next;
    }
    acc
}
