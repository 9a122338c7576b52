//! Running a captioning sweep into a resumable run directory.
//!
//! Each (cell, image) pair is one row of `results.jsonl`, keyed `cell/sample`, appended the
//! moment the caption is written, so a killed run resumes where it stopped. Transport failures
//! are not rows (they go to `failures.jsonl` and are asked again by the next run); a caption that
//! cannot be written for this input (unreadable image, cue failure, image the model refuses) is
//! a row with an error. Rows carry the references and, with a CLIP model, CLIPScore and
//! RefCLIPScore against the uncued image, so the summary (and a merge of shards) needs only the
//! rows.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::Arc;

use cuelab_cue::{load_rgb, Recipe, Renderer, Target};
use cuelab_metrics::clipscore::ClipScoreOptions;
use cuelab_models::{load_scorer, ImageTextScorer, LoadOptions, Pipeline};
use cuelab_vlm::{Question, VlmError};
use image::RgbImage;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::backend::{Captioner, Written};
use super::config::{CaptionConfig, Cell};
use super::data::CaptionItem;
use super::summary::{caption_table, summarize_captions, CaptionSummary};
use crate::error::{Result, TaskError};
use crate::run_dir::now_rfc3339;
use crate::runner::{self, RunOptions};

/// The `experiment` value of captioning runs' manifests.
pub const CAPTION: &str = "caption";

/// One caption (or the reason there is none) of one image in one cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptionRow {
    /// `cell/sample`.
    pub key: String,
    /// Cell id.
    pub cell: String,
    /// Sample id.
    pub sample_id: String,
    /// The id written to COCO results files.
    pub image_id: Value,
    /// The caption.
    #[serde(default)]
    pub caption: String,
    /// Reference captions.
    #[serde(default)]
    pub refs: Vec<String>,
    /// Generated tokens (in-process backends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<usize>,
    /// A stop token ended the caption (in-process backends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<bool>,
    /// Served from the response cache.
    #[serde(default)]
    pub from_cache: bool,
    /// CLIPScore against the uncued image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_score: Option<f64>,
    /// RefCLIPScore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_clip_score: Option<f64>,
    /// Why no caption could be written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a finished (or partly finished) sweep reports.
#[derive(Debug, Clone)]
pub struct CaptionOutcome {
    /// The summary (also `summary.json` / `summary.txt`).
    pub summary: CaptionSummary,
    /// Captions still missing (transport failures).
    pub missing: usize,
}

/// CLIPScore with cached image and reference embeddings.
pub struct ClipScorer {
    scorer: Box<dyn ImageTextScorer + Send + Sync>,
    opts: ClipScoreOptions,
    images: HashMap<String, Vec<f32>>,
    refs: HashMap<String, Vec<Vec<f32>>>,
}

impl ClipScorer {
    /// Load a CLIP model (OpenAI preprocessing, as the CLIPScore paper's code).
    pub fn load(model: &str) -> Result<Self> {
        let scorer = load_scorer(
            model,
            &LoadOptions {
                pipeline: Some(Pipeline::Openai),
                ..LoadOptions::default()
            },
        )
        .map_err(|source| TaskError::LoadModel {
            model: model.to_string(),
            source: Box::new(source),
        })?;
        Ok(ClipScorer {
            scorer,
            opts: ClipScoreOptions::default(),
            images: HashMap::new(),
            refs: HashMap::new(),
        })
    }

    /// The model's id (weights hash).
    pub fn id(&self) -> String {
        self.scorer.id().to_string()
    }

    /// `(CLIPScore, RefCLIPScore)` of `caption` for `item` (RefCLIPScore only with references).
    pub fn score(
        &mut self,
        item: &CaptionItem,
        image: &RgbImage,
        caption: &str,
    ) -> Result<(f64, Option<f64>)> {
        if !self.images.contains_key(&item.id) {
            let e = self.scorer.encode_images(std::slice::from_ref(image))?;
            self.images
                .insert(item.id.clone(), e.into_iter().next().unwrap_or_default());
        }
        if !self.refs.contains_key(&item.id) {
            let texts: Vec<String> = item
                .refs
                .iter()
                .map(|r| self.opts.reference_text(r))
                .collect();
            let e = self.scorer.encode_texts(&texts)?;
            self.refs.insert(item.id.clone(), e);
        }
        let cand = self
            .scorer
            .encode_texts(&[self.opts.candidate_text(caption)])?
            .into_iter()
            .next()
            .unwrap_or_default();
        let img = &self.images[&item.id];
        let refs = &self.refs[&item.id];
        let metrics = |e| TaskError::Metrics(Box::new(e));
        let cs = cuelab_metrics::clipscore::clip_score(img, &cand, self.opts.w).map_err(metrics)?;
        let rcs = if refs.is_empty() {
            None
        } else {
            Some(
                cuelab_metrics::clipscore::ref_clip_score(img, &cand, refs, self.opts.w)
                    .map_err(metrics)?,
            )
        };
        Ok((cs, rcs))
    }
}

struct Job {
    key: String,
    cell: usize,
    item: usize,
}

fn render(source: &RgbImage, recipe: &Recipe, item: &CaptionItem) -> Result<RgbImage> {
    if recipe.is_plain() {
        return Ok(source.clone());
    }
    let Some(target) = item.target else {
        return Ok(source.clone());
    };
    Ok(Renderer::new(source).render(recipe, &Target::from_box(target))?)
}

/// Caption every selected item in every cell of `config` with `captioner`, resuming into
/// `opts.out`, and score the sweep.
pub fn run_captions(
    config: &CaptionConfig,
    items: &[CaptionItem],
    captioner: &dyn Captioner,
    data_description: &Value,
    opts: &RunOptions,
) -> Result<CaptionOutcome> {
    if items.is_empty() {
        return Err(TaskError::NoSamples(
            "no images to caption in the data".into(),
        ));
    }
    let cells = config.cells()?;
    let gens = config.gen_specs()?;
    let recipes: BTreeMap<String, Recipe> = config
        .recipes()?
        .into_iter()
        .map(|r| (r.to_string(), r))
        .collect();
    let mut clip = config.clip.as_deref().map(ClipScorer::load).transpose()?;
    let identity = json!({
        "captioner": captioner.identity(),
        "clip": clip.as_ref().map(ClipScorer::id),
    });
    let hash = crate::run_identity::with_data(&config.hash(&identity)?, data_description);
    let selected = runner::select(items, opts.shard, config.limit);
    let mut run = runner::start(
        opts,
        CAPTION,
        &hash,
        config.seed,
        json!({
            "config": config,
            "cells": cells,
            "variants": cells.iter().map(|c| json!({"id": c.id, "label": c.label()})).collect::<Vec<_>>(),
            "backend": identity,
            "data": data_description,
            "images": selected.len(),
        }),
    )?;
    let mut todo: Vec<Job> = Vec::new();
    let mut expected = 0usize;
    for (ci, cell) in cells.iter().enumerate() {
        for (ordinal, (_, item)) in selected.iter().enumerate() {
            if cell.cue != "plain" && item.target.is_none() {
                continue;
            }
            expected += 1;
            let key = format!("{}/{}", cell.id, item.id);
            if !run.is_done(&key) {
                todo.push(Job {
                    key,
                    cell: ci,
                    item: ordinal,
                });
            }
        }
    }
    // Batches of one generation config each (a server client per config).
    todo.sort_by_key(|j| (cells[j.cell].gen_index, j.item, j.cell));
    let bar = runner::progress_bar(opts.progress, expected as u64, "captions");
    bar.set_position((expected - todo.len()) as u64);
    let failures_path = opts.out.join(super::FAILURES);
    let mut fatal: Option<VlmError> = None;
    let mut start = 0;
    while start < todo.len() && fatal.is_none() {
        let gen_index = cells[todo[start].cell].gen_index;
        let mut end = start;
        while end < todo.len()
            && end - start < config.batch
            && cells[todo[end].cell].gen_index == gen_index
        {
            end += 1;
        }
        let chunk = &todo[start..end];
        start = end;
        let mut sources: BTreeMap<usize, std::result::Result<RgbImage, String>> = BTreeMap::new();
        let mut questions = Vec::new();
        let mut pending: Vec<&Job> = Vec::new();
        for job in chunk {
            let item = selected[job.item].1;
            let cell = &cells[job.cell];
            let source = sources
                .entry(job.item)
                .or_insert_with(|| load_rgb(&item.image).map_err(|e| e.to_string()));
            let built = match source {
                Ok(img) => match recipes.get(&cell.cue) {
                    Some(r) => render(img, r, item).map_err(|e| e.to_string()),
                    None => Err(format!("unknown cue {}", cell.cue)),
                },
                Err(e) => Err(e.clone()),
            };
            match built {
                Ok(image) => {
                    questions.push(Question {
                        id: job.key.clone(),
                        system: config.system.clone(),
                        text: cell.prompt.clone(),
                        images: vec![Arc::new(image)],
                        choices: Vec::new(),
                    });
                    pending.push(job);
                }
                Err(message) => {
                    tracing::warn!("{}: {message}", job.key);
                    let row = error_row(job, cell, item, message);
                    run.append(&job.key, &row)?;
                    bar.inc(1);
                }
            }
        }
        let mut append_error: Option<TaskError> = None;
        let mut failures: Vec<String> = Vec::new();
        let outcome = {
            let run = &mut run;
            let bar = &bar;
            let clip = &mut clip;
            let sources = &sources;
            let mut sink = |i: usize, written: std::result::Result<Written, VlmError>| {
                let Some(job) = pending.get(i) else { return };
                let item = selected[job.item].1;
                let cell = &cells[job.cell];
                let row = match written {
                    Ok(w) => {
                        let mut row = caption_row(job, cell, item, w);
                        if let (Some(c), Some(Ok(img))) = (clip.as_mut(), sources.get(&job.item)) {
                            match c.score(item, img, &row.caption) {
                                Ok((cs, rcs)) => {
                                    row.clip_score = Some(cs);
                                    row.ref_clip_score = rcs;
                                }
                                Err(e) => {
                                    append_error.get_or_insert(e);
                                    return;
                                }
                            }
                        }
                        row
                    }
                    Err(VlmError::InvalidRequest { reason, .. }) => {
                        error_row(job, cell, item, reason)
                    }
                    Err(e) => {
                        tracing::warn!("{}: {e}", job.key);
                        failures.push(
                            json!({"key": job.key, "error": e.to_string(), "time": now_rfc3339()})
                                .to_string(),
                        );
                        return;
                    }
                };
                if let Err(e) = run.append(&job.key, &row) {
                    append_error.get_or_insert(e);
                }
                bar.inc(1);
            };
            captioner.caption_all(&gens[gen_index], &questions, &mut sink)
        };
        if !failures.is_empty() {
            append_lines(&failures_path, &failures)?;
        }
        if let Some(e) = append_error {
            return Err(e);
        }
        if let Err(e) = outcome {
            fatal = Some(e);
        }
    }
    bar.finish_and_clear();
    let rows: Vec<CaptionRow> = run.rows()?;
    let selected_ids: std::collections::HashSet<&str> =
        selected.iter().map(|(_, it)| it.id.as_str()).collect();
    let done = rows
        .iter()
        .filter(|r| selected_ids.contains(r.sample_id.as_str()))
        .count();
    let missing = expected.saturating_sub(done);
    let order: Vec<(String, String)> = cells.iter().map(|c| (c.id.clone(), c.label())).collect();
    let summary = summarize_captions(
        &rows,
        &order,
        config.seed,
        config.resamples,
        missing,
        Some(run.path()),
    )?;
    runner::finish(&run, &summary, &caption_table(&summary))?;
    if let Some(e) = fatal {
        return Err(TaskError::Backend(format!(
            "{e} ({} captions kept in {}; rerun to resume)",
            rows.len(),
            opts.out.display()
        )));
    }
    Ok(CaptionOutcome { summary, missing })
}

fn base_row(job: &Job, cell: &Cell, item: &CaptionItem) -> CaptionRow {
    CaptionRow {
        key: job.key.clone(),
        cell: cell.id.clone(),
        sample_id: item.id.clone(),
        image_id: item.image_id.clone(),
        caption: String::new(),
        refs: item.refs.clone(),
        tokens: None,
        stopped: None,
        from_cache: false,
        clip_score: None,
        ref_clip_score: None,
        error: None,
    }
}

fn caption_row(job: &Job, cell: &Cell, item: &CaptionItem, w: Written) -> CaptionRow {
    let mut row = base_row(job, cell, item);
    row.caption = w.text;
    row.tokens = w.tokens;
    row.stopped = w.stopped;
    row.from_cache = w.from_cache;
    row
}

fn error_row(job: &Job, cell: &Cell, item: &CaptionItem, message: String) -> CaptionRow {
    let mut row = base_row(job, cell, item);
    row.error = Some(message);
    row
}

fn append_lines(path: &std::path::Path, lines: &[String]) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| TaskError::io(path, e))?;
    let mut text = lines.join("\n");
    text.push('\n');
    f.write_all(text.as_bytes())
        .map_err(|e| TaskError::io(path, e))
}
