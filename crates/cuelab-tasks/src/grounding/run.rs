//! Running a grounding configuration over samples into a resumable run directory, with the
//! shared run machinery ([`crate::runner`]).

use cuelab_cue::load_rgb;
use serde_json::{json, Value};

use super::config::GroundingConfig;
use super::summary::{summarize, table, Summary};
use super::{short_hash, Grounder, GroundingRow, GroundingSample};
use crate::error::Result;
use crate::runner::{self, RunOptions};

/// The identity of a grounding run: the configuration's hash, where the proposals came from
/// (resuming with another proposals file, detector or detector thresholds would mix rows
/// scored on different boxes) and the debias pool's contents.
pub fn run_hash(config: &GroundingConfig, data_description: &Value) -> Result<String> {
    let mut source = json!([
        data_description.get("proposals"),
        data_description.get("detector")
    ]);
    // The debias pool's contents (a pool file may change between invocations).
    if let (Some(d), Some(list)) = (data_description.get("debias"), source.as_array_mut()) {
        list.push(d["expressions_hash"].clone());
    }
    Ok(if source == json!([null, null]) {
        config.hash()?
    } else {
        short_hash(&format!("{}|{source}", config.hash()?))
    })
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
    let config_hash = run_hash(config, data_description)?;
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
    let summary = summarize(&rows, &order, config.seed);
    runner::finish(&run, &summary, &table(&summary))?;
    Ok(summary)
}
