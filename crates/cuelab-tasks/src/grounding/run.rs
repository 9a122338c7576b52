//! Running a grounding configuration over samples into a resumable run directory, with the
//! shared run machinery ([`crate::runner`]).

use cuelab_cue::load_rgb;
use serde_json::{json, Value};

use super::config::GroundingConfig;
use super::summary::{summarize, table, Summary};
use super::{short_hash, Grounder, GroundingRow, GroundingSample, InputCounts};
use crate::error::Result;
use crate::runner::{self, RunOptions};

/// Fields of the data description that identify a run: anything that can change a row.
/// `samples_file` only counts when the data has no checksum (a folder that is not RefCOCO), so
/// moving a data file does not change the identity but editing it does.
const IDENTITY_FIELDS: &[&str] = &[
    "sha256",
    "refs_sha256",
    "instances_sha256",
    "split",
    "images",
    "text_field",
    "proposals",
    "proposals_sha256",
    "detector",
];

/// The identity of a grounding run, hashed: the configuration (models, variants, seed, limit,
/// text field, debias pool), the models as loaded (architecture, weights' SHA-256 prefix and
/// preprocessing, `model_ids`), the data (file checksums, split, image root), where the
/// proposals came from (a proposals file's path and checksum, or the detector and its
/// thresholds) and the debias pool's contents. Resuming with any of them changed would mix rows
/// computed differently, so [`crate::runner::start`] refuses it.
pub fn run_hash(
    config: &GroundingConfig,
    data_description: &Value,
    model_ids: &[String],
) -> Result<String> {
    let mut identity = serde_json::Map::new();
    identity.insert("config".into(), config.hash()?.into());
    identity.insert("models".into(), json!(model_ids));
    for field in IDENTITY_FIELDS {
        if let Some(v) = data_description.get(*field).filter(|v| !v.is_null()) {
            identity.insert((*field).into(), v.clone());
        }
    }
    if data_description.get("sha256").is_none() && data_description.get("refs_sha256").is_none() {
        if let Some(v) = data_description.get("samples_file") {
            identity.insert("samples_file".into(), v.clone());
        }
    }
    // The debias pool's contents (a pool file may change between invocations).
    if let Some(d) = data_description.get("debias") {
        identity.insert("debias".into(), d["expressions_hash"].clone());
    }
    Ok(short_hash(&Value::Object(identity).to_string()))
}

/// The input counts a data description records (`inputs`), empty when absent.
pub fn inputs_of(data_description: &Value) -> InputCounts {
    data_description
        .get("inputs")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
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
    let config_hash = run_hash(config, data_description, model_ids)?;
    let mut run = runner::start(
        opts,
        runner::GROUNDING,
        &config_hash,
        config.seed,
        json!({
            "config": config,
            "variants": grounder.variants().iter().map(|v| json!({"id": v.id(), "label": v.label(), "variant": v})).collect::<Vec<_>>(),
            "models": model_ids,
            "data": data_description,
            "samples": samples.len(),
            "debias_pool": debias_pool.len(),
        }),
    )?;
    let selected = runner::select(samples, opts.shard, config.limit);
    let variants = grounder.variants().to_vec();
    let total = (selected.len() * variants.len()) as u64;
    let bar = runner::progress_bar(opts.progress, total, "rows");
    bar.set_position(run.done_count().min(total as usize) as u64);
    for (_, sample) in selected {
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
    let mut summary = summarize(&rows, &order, config.seed);
    summary.inputs = inputs_of(data_description);
    runner::finish(&run, &summary, &table(&summary))?;
    Ok(summary)
}
