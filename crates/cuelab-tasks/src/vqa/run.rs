//! Running questions through an answerer into a resumable run directory.
//!
//! Each (variant, question) pair is one row of `results.jsonl`, keyed `variant/question`. Rows
//! are appended the moment the backend answers, so a killed run resumes where it stopped and
//! counts nothing twice. Transport failures (the backend gave up after its retries) are *not*
//! rows: they go to `failures.jsonl` and the question is asked again by the next run; the summary
//! reports how many questions are still missing. An unreadable image is a row with an error (it
//! would fail again).

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Arc;

use cuelab_cue::{decode_rgb, Renderer};
use cuelab_vlm::{Answer, Answerer, ParseOutcome, Question, VlmError};
use image::RgbImage;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::config::{VqaConfig, VqaVariant};
use super::count::parse_count;
use super::item::{ItemKind, VqaItem};
use super::order::shown_order;
use super::summary::{summarize_vqa, vqa_table, VqaSummary};
use crate::error::{Result, TaskError};
use crate::run_dir::now_rfc3339;
use crate::runner::{self, RunOptions};

/// File of transport failures (questions to ask again).
pub const FAILURES: &str = "failures.jsonl";

/// One answered (or unanswerable) question under one variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VqaRow {
    /// `variant/question`.
    pub key: String,
    /// Variant id.
    pub variant: String,
    /// Question (sample) id.
    pub sample_id: String,
    /// Choice or count.
    pub kind: ItemKind,
    /// Question type tag.
    pub qtype: String,
    /// MMVP-style pair id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair_id: Option<String>,
    /// The options in the order shown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shown: Vec<String>,
    /// Position of the right option among `shown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct_position: Option<usize>,
    /// Position the model chose among `shown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen_position: Option<usize>,
    /// The model's text.
    #[serde(default)]
    pub text: String,
    /// How the text was resolved (absent for rows with an error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse: Option<ParseOutcome>,
    /// Per-shown-option log-probabilities, when the backend ranks options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub option_logprobs: Option<Vec<f64>>,
    /// True count (counting questions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count_true: Option<i64>,
    /// Count read from the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count_answer: Option<i64>,
    /// The answer is right (false for unparseable answers and errors).
    pub correct: bool,
    /// No option/count could be read from the answer.
    #[serde(default)]
    pub unparseable: bool,
    /// Served from the response cache.
    #[serde(default)]
    pub from_cache: bool,
    /// Why this question could not be asked (unreadable image, cue failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One question of the current batch, with what is needed to score its answer.
struct Pending {
    key: String,
    variant: String,
    item: usize,
    shown: Vec<usize>,
}

/// The question text, images and shown option order of `item` under `variant`.
fn build_question(
    config: &VqaConfig,
    item: &VqaItem,
    ordinal: usize,
    variant: &VqaVariant,
    sources: &[Arc<RgbImage>],
) -> Result<(Question, Vec<usize>)> {
    let shown = shown_order(
        config.order,
        config.seed,
        &item.id,
        ordinal,
        item.choices.len(),
        item.answer_index,
    );
    let mut images = Vec::with_capacity(sources.len());
    for (k, source) in sources.iter().enumerate() {
        let targets = item.targets.get(k).map(Vec::as_slice).unwrap_or(&[]);
        if variant.recipe.is_plain() || targets.is_empty() {
            // the decoded file itself: a remote backend may send the file's bytes
            images.push(Arc::clone(source));
            continue;
        }
        // Several targets (the objects of a video frame): each one's cue is drawn in turn.
        let mut current = RgbImage::clone(source);
        for target in targets {
            current = Renderer::new(&current).render(&variant.recipe, target)?;
        }
        images.push(Arc::new(current));
    }
    let text = match item.kind {
        ItemKind::Choice => item.question.clone(),
        ItemKind::Count => format!("{}{}", item.question, config.count_suffix),
    };
    let question = Question {
        id: format!("{}/{}", variant.id, item.id),
        system: config.system.clone(),
        text,
        images,
        choices: shown.iter().map(|&i| item.choices[i].clone()).collect(),
    };
    Ok((question, shown))
}

/// Read and decode the image file `path`, offering its bytes to `answerer` as the original of
/// the decoded pixels (a remote backend then sends the file as is when it is shown uncued).
fn load_source(
    path: &std::path::Path,
    answerer: &dyn Answerer,
) -> std::result::Result<Arc<RgbImage>, String> {
    let bytes = std::fs::read(path).map_err(|e| {
        cuelab_cue::CueError::ImageRead {
            path: path.to_path_buf(),
            reason: image::ImageError::IoError(e),
        }
        .to_string()
    })?;
    let image = Arc::new(decode_rgb(&bytes, path).map_err(|e| e.to_string())?);
    answerer.register_original(&image, &bytes);
    Ok(image)
}

/// Score `answer` to `item` shown in order `shown`.
fn score(key: &str, variant: &str, item: &VqaItem, shown: &[usize], answer: Answer) -> VqaRow {
    let mut row = base_row(key, variant, item, shown);
    row.text = answer.text.clone();
    row.from_cache = answer.from_cache;
    row.option_logprobs = answer.option_logprobs.clone();
    match item.kind {
        ItemKind::Choice => {
            row.chosen_position = answer.choice.filter(|&c| c < shown.len());
            row.unparseable = row.chosen_position.is_none();
            row.correct =
                row.chosen_position.is_some() && row.chosen_position == row.correct_position;
            row.parse = Some(if row.unparseable {
                ParseOutcome::Unparseable
            } else {
                answer.parse
            });
        }
        ItemKind::Count => {
            row.count_answer = parse_count(&answer.text);
            row.unparseable = row.count_answer.is_none();
            row.correct = row.count_answer.is_some() && row.count_answer == item.count;
            row.parse = Some(if row.unparseable {
                ParseOutcome::Unparseable
            } else {
                ParseOutcome::Open
            });
        }
    }
    row
}

fn base_row(key: &str, variant: &str, item: &VqaItem, shown: &[usize]) -> VqaRow {
    VqaRow {
        key: key.to_string(),
        variant: variant.to_string(),
        sample_id: item.id.clone(),
        kind: item.kind,
        qtype: item.qtype.clone(),
        pair_id: item.pair_id.clone(),
        shown: shown.iter().map(|&i| item.choices[i].clone()).collect(),
        correct_position: item
            .answer_index
            .and_then(|a| shown.iter().position(|&i| i == a)),
        chosen_position: None,
        text: String::new(),
        parse: None,
        option_logprobs: None,
        count_true: item.count,
        count_answer: None,
        correct: false,
        unparseable: false,
        from_cache: false,
        error: None,
    }
}

/// What a finished (or partly finished) run reports.
#[derive(Debug, Clone)]
pub struct VqaOutcome {
    /// The summary (also in `summary.json` / `summary.txt`).
    pub summary: VqaSummary,
    /// Questions still unanswered after this run (transport failures); a rerun asks them again.
    pub missing: usize,
}

/// Ask every item under every variant through `answerer`, resuming into `opts.out`.
///
/// `backend_identity` (model, answering mode, generation parameters, prompt template, image
/// encoding — not endpoints or concurrency) is part of the run's identity: a directory made with
/// another identity is refused. A fatal backend error stops the run (rows so far are kept).
pub fn run_vqa(
    config: &VqaConfig,
    items: &[VqaItem],
    answerer: &dyn Answerer,
    backend_identity: &Value,
    data_description: &Value,
    opts: &RunOptions,
) -> Result<VqaOutcome> {
    let variants = config.variants()?;
    let config_hash =
        crate::run_identity::with_data(&config.hash(backend_identity)?, data_description);
    let selected = runner::select(items, opts.shard, config.limit);
    let mut run = runner::start(
        opts,
        runner::VQA,
        &config_hash,
        config.seed,
        json!({
            "config": config,
            "variants": variants.iter().map(|v| json!({"id": v.id, "label": v.label})).collect::<Vec<_>>(),
            "backend": answerer.describe(),
            "backend_identity": backend_identity,
            "data": data_description,
            "questions": selected.len(),
        }),
    )?;
    // Every (variant, item) pair that applies: cue variants need a target to point at.
    let mut todo: Vec<(usize, usize)> = Vec::new(); // (ordinal in `selected`, variant index)
    let mut expected = 0usize;
    for (ordinal, (_, item)) in selected.iter().enumerate() {
        for (vi, v) in variants.iter().enumerate() {
            if !v.recipe.is_plain() && !item.has_targets() {
                continue;
            }
            expected += 1;
            if !run.is_done(&format!("{}/{}", v.id, item.id)) {
                todo.push((ordinal, vi));
            }
        }
    }
    let bar = runner::progress_bar(opts.progress, expected as u64, "answers");
    bar.set_position((expected - todo.len()) as u64);
    let failures_path = opts.out.join(FAILURES);
    let mut failed = 0usize;
    let mut fatal: Option<VlmError> = None;
    // Batches of whole items so each item's images are loaded once.
    let mut start = 0;
    while start < todo.len() && fatal.is_none() {
        let mut end = start;
        while end < todo.len() && (end - start < config.batch || todo[end].0 == todo[end - 1].0) {
            end += 1;
        }
        let chunk = &todo[start..end];
        start = end;
        let mut questions: Vec<Question> = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        let mut loaded: BTreeMap<usize, std::result::Result<Vec<Arc<RgbImage>>, String>> =
            BTreeMap::new();
        for &(ordinal, vi) in chunk {
            let item = selected[ordinal].1;
            let variant = &variants[vi];
            let key = format!("{}/{}", variant.id, item.id);
            let sources = loaded.entry(ordinal).or_insert_with(|| {
                item.images
                    .iter()
                    .map(|p| load_source(p, answerer))
                    .collect()
            });
            let built = match sources {
                // the balanced option order cycles by the position in the whole item list, so
                // a shard shows every question exactly as the unsharded run does
                Ok(images) => build_question(config, item, selected[ordinal].0, variant, images)
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.clone()),
            };
            match built {
                Ok((question, shown)) => {
                    questions.push(question);
                    pending.push(Pending {
                        key,
                        variant: variant.id.clone(),
                        item: ordinal,
                        shown,
                    });
                }
                Err(message) => {
                    tracing::warn!("{key}: {message}");
                    let shown: Vec<usize> = (0..item.choices.len()).collect();
                    let mut row = base_row(&key, &variant.id, item, &shown);
                    row.error = Some(message);
                    run.append(&key, &row)?;
                    bar.inc(1);
                }
            }
        }
        drop(loaded);
        let mut append_error: Option<TaskError> = None;
        let mut failure_lines: Vec<String> = Vec::new();
        let outcome = {
            let run = &mut run;
            let bar = &bar;
            let mut sink = |index: usize, answer: cuelab_vlm::Result<Answer>| {
                let Some(p) = pending.get(index) else {
                    return;
                };
                let item = selected[p.item].1;
                match answer {
                    Ok(answer) => {
                        let row = score(&p.key, &p.variant, item, &p.shown, answer);
                        if let Err(e) = run.append(&p.key, &row) {
                            append_error.get_or_insert(e);
                        }
                        bar.inc(1);
                    }
                    Err(e) => {
                        failed += 1;
                        tracing::warn!("{}: {e}", p.key);
                        failure_lines.push(
                            json!({"key": p.key, "error": e.to_string(), "time": now_rfc3339()})
                                .to_string(),
                        );
                    }
                }
            };
            answerer.answer_all(&questions, &mut sink)
        };
        if !failure_lines.is_empty() {
            append_failures(&failures_path, &failure_lines)?;
        }
        if let Some(e) = append_error {
            return Err(e);
        }
        if let Err(e) = outcome {
            fatal = Some(e);
        }
    }
    bar.finish_and_clear();
    let rows: Vec<VqaRow> = run.rows()?;
    let missing = expected.saturating_sub(
        rows.iter()
            .filter(|r| selected.iter().any(|(_, it)| it.id == r.sample_id))
            .count(),
    );
    let order: Vec<(String, String)> = variants
        .iter()
        .map(|v| (v.id.clone(), v.label.clone()))
        .collect();
    let mut summary = summarize_vqa(&rows, &order, config.seed, missing);
    summary.endpoints = answerer.endpoint_stats();
    runner::finish(&run, &summary, &vqa_table(&summary))?;
    if let Some(e) = fatal {
        return Err(TaskError::Backend(format!(
            "{e} ({} answers kept in {}; rerun to resume)",
            rows.len(),
            opts.out.display()
        )));
    }
    if failed > 0 {
        tracing::warn!("{failed} question(s) failed; rerun to ask them again");
    }
    Ok(VqaOutcome { summary, missing })
}

fn append_failures(path: &std::path::Path, lines: &[String]) -> Result<()> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| TaskError::io(path, e))?;
    let mut text = lines.join("\n");
    text.push('\n');
    f.write_all(text.as_bytes())
        .map_err(|e| TaskError::io(path, e))
}
