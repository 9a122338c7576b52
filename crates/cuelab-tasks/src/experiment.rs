//! Grounding experiments as configurations: a TOML file (or the same fields from CLI flags)
//! whose list-valued fields expand into a grid of [`Variant`]s, run over samples into a
//! resumable run directory.
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

use cuelab_cue::load_rgb;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::debias::{read_pool_file, DebiasPool, PoolKind};
use crate::error::{Result, TaskError};
use crate::grounding::{
    short_hash, Aggregate, Grounder, GroundingRow, GroundingSample, Method, Variant,
};
use crate::run_dir::{now_rfc3339, RunDir};
use crate::summary::{summarize, table, Summary};

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
    /// Backbones, ensembled (model references: HF id, local directory).
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

/// Options of one run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Run directory.
    pub out: std::path::PathBuf,
    /// `(index, count)`: only samples with `i % count == index`.
    pub shard: Option<(usize, usize)>,
    /// Show a progress bar.
    pub progress: bool,
}

/// Run a grounding experiment over `samples` with loaded `models`, resuming into `opts.out`.
/// Returns the summary (also written to `summary.json`).
pub fn run_grounding(
    config: &GroundingConfig,
    samples: &[GroundingSample],
    debias_pool: &[String],
    grounder: &Grounder<'_>,
    model_ids: &[String],
    data_description: &Value,
    opts: &RunOptions,
) -> Result<Summary> {
    // Where the proposals came from is part of the run's identity: resuming with another
    // proposals file, detector or detector thresholds would mix rows scored on different boxes.
    let mut source = json!([
        data_description.get("proposals"),
        data_description.get("detector")
    ]);
    // The debias pool's contents (a pool file may change between invocations).
    if let (Some(d), Some(list)) = (data_description.get("debias"), source.as_array_mut()) {
        list.push(d["expressions_hash"].clone());
    }
    let config_hash = if source == json!([null, null]) {
        config.hash()?
    } else {
        short_hash(&format!("{}|{source}", config.hash()?))
    };
    let manifest = json!({
        "cuelab_version": env!("CARGO_PKG_VERSION"),
        "experiment": "grounding",
        "config_hash": config_hash,
        "config": config,
        "variants": grounder.variants().iter().map(|v| json!({"id": v.id(), "label": v.label(), "variant": v})).collect::<Vec<_>>(),
        "models": model_ids,
        "data": data_description,
        "samples": samples.len(),
        "debias_pool": debias_pool.len(),
        "shard": opts.shard.map(|(i, n)| format!("{i}/{n}")),
        "seed": config.seed,
        "machine": machine(),
        "start": now_rfc3339(),
    });
    let mut run = RunDir::open(&opts.out, &config_hash, &manifest)?;
    let selected: Vec<&GroundingSample> = samples
        .iter()
        .enumerate()
        .filter(|(i, _)| opts.shard.is_none_or(|(k, n)| i % n == k))
        .map(|(_, s)| s)
        .take(config.limit.unwrap_or(usize::MAX))
        .collect();
    let variants = grounder.variants().to_vec();
    let total = (selected.len() * variants.len()) as u64;
    let bar = if opts.progress {
        ProgressBar::new(total)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows  {per_sec}  eta {eta}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(run.done_count().min(total as usize) as u64);
    for sample in selected {
        let todo: Vec<usize> = (0..variants.len())
            .filter(|&vi| !run.is_done(&format!("{}/{}", variants[vi].id(), sample.id)))
            .collect();
        if todo.is_empty() {
            continue;
        }
        let image = load_rgb(&sample.image);
        for vi in todo {
            let row: GroundingRow = match &image {
                Ok(img) => grounder
                    .ground(vi, sample, img)
                    .unwrap_or_else(|e| grounder.error_row(vi, sample, e.to_string())),
                Err(e) => grounder.error_row(vi, sample, e.to_string()),
            };
            if let Some(err) = &row.error {
                tracing::warn!("sample {}: {err}", sample.id);
            }
            run.append(&row.key.clone(), &row)?;
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let rows: Vec<GroundingRow> = run.rows()?;
    let order: Vec<(String, String)> = variants.iter().map(|v| (v.id(), v.label())).collect();
    let summary = summarize(&rows, &order, config.seed);
    let summary_json = serde_json::to_value(&summary).map_err(|e| TaskError::Json {
        path: opts.out.join("summary.json"),
        message: e.to_string(),
    })?;
    run.finish(&summary_json)?;
    std::fs::write(opts.out.join("summary.txt"), table(&summary))
        .map_err(|e| TaskError::io(&opts.out, e))?;
    Ok(summary)
}

/// Merge the `results.jsonl` of several shard directories into `out` and summarise.
pub fn merge_runs(dirs: &[std::path::PathBuf], out: &Path) -> Result<Summary> {
    let first = dirs
        .first()
        .ok_or_else(|| TaskError::Config("merge needs at least one run directory".into()))?;
    let manifest: Value = crate::run_dir::read_json(&first.join(crate::run_dir::MANIFEST))?;
    let hash = manifest["config_hash"].as_str().unwrap_or("").to_string();
    let mut merged = manifest.clone();
    if let Some(o) = merged.as_object_mut() {
        o.insert("merged_from".into(), json!(dirs));
        o.insert("shard".into(), Value::Null);
    }
    let mut run = RunDir::open(out, &hash, &merged)?;
    for d in dirs {
        let m: Value = crate::run_dir::read_json(&d.join(crate::run_dir::MANIFEST))?;
        if m["config_hash"] != manifest["config_hash"] {
            return Err(TaskError::RunMismatch {
                dir: d.clone(),
                found: m["config_hash"].as_str().unwrap_or("").into(),
                expected: hash.clone(),
            });
        }
        let rows: Vec<GroundingRow> = crate::run_dir::read_rows(&d.join(crate::run_dir::RESULTS))?;
        for r in rows {
            run.append(&r.key.clone(), &r)?;
        }
    }
    let rows: Vec<GroundingRow> = run.rows()?;
    let order: Vec<(String, String)> = manifest["variants"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|x| {
                    (
                        x["id"].as_str().unwrap_or("").to_string(),
                        x["label"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let seed = manifest["seed"].as_u64().unwrap_or(0);
    let summary = summarize(&rows, &order, seed);
    run.finish(&serde_json::to_value(&summary).unwrap_or(Value::Null))?;
    std::fs::write(out.join("summary.txt"), table(&summary)).map_err(|e| TaskError::io(out, e))?;
    Ok(summary)
}

fn machine() -> Value {
    json!({
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "threads": rayon::current_num_threads(),
        "host": std::env::var("HOSTNAME").unwrap_or_default(),
    })
}
