//! `probe count`: "How many X are there?" and "List the X from left to right" over crowded
//! images, under several presentations (plain, Set-of-Mark numbers, boxes, tiled crops), scored
//! by true count (the accuracy-vs-N curve), with listing precision/recall/F1 and order.

use std::collections::BTreeMap;
use std::sync::Arc;

use cuelab_cue::load_rgb;
use cuelab_vlm::{Answer, Answerer, Question};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::arms::Arm;
use super::ask::ask_batch;
use super::data::ProbeItem;
use super::listing::{score_listing, ListingScore};
use super::present::Presentation;
use super::scores::{
    count_stats, curve, num, paired, pct, CountAnswer, CountStats, CurvePoint, Paired, RESAMPLES,
};
use crate::error::{Result, TaskError};
use crate::runner::{self, RunOptions};
use crate::stats::{bootstrap_mean, Estimate};
use crate::vqa::count::parse_count;
use crate::vqa::{with_answerer, Backend};

/// The `experiment` value of `probe count` manifests.
pub const EXPERIMENT: &str = "probe-count";

fn default_variants() -> Vec<String> {
    ["plain", "som", "boxes", "crops"]
        .map(String::from)
        .to_vec()
}
fn default_questions() -> Vec<String> {
    vec!["count".into(), "list".into()]
}
fn default_count_template() -> String {
    "How many {plural} are there? Answer with a number.".into()
}
fn default_list_template() -> String {
    "List the {plural} in the image from left to right, one per line.".into()
}
fn default_batch() -> usize {
    32
}

/// What `probe count` asks, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountConfig {
    /// Presentations: `plain`, `som`, `boxes`, `crops`, or cue recipes drawn on every object.
    #[serde(default = "default_variants")]
    pub variants: Vec<String>,
    /// Questions asked of every image: `count`, `list`.
    #[serde(default = "default_questions")]
    pub questions: Vec<String>,
    /// The counting question; `{plural}` is what is counted.
    #[serde(default = "default_count_template")]
    pub count_template: String,
    /// The listing question.
    #[serde(default = "default_list_template")]
    pub list_template: String,
    /// Ask the count as a choice among `0..=K` ("3 red circles") instead of open (needed by CLIP;
    /// set automatically for it).
    #[serde(default)]
    pub count_choices: Option<usize>,
    /// System prompt.
    #[serde(default)]
    pub system: Option<String>,
    /// Seed of the bootstrap.
    #[serde(default)]
    pub seed: u64,
    /// Only the first `limit` images (after sharding).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Questions handed to the backend at once.
    #[serde(default = "default_batch")]
    pub batch: usize,
}

impl Default for CountConfig {
    fn default() -> Self {
        CountConfig {
            variants: default_variants(),
            questions: default_questions(),
            count_template: default_count_template(),
            list_template: default_list_template(),
            count_choices: None,
            system: None,
            seed: 0,
            limit: None,
            batch: default_batch(),
        }
    }
}

impl CountConfig {
    /// Parsed presentations (duplicates refused).
    pub fn presentations(&self) -> Result<Vec<Presentation>> {
        let mut out: Vec<Presentation> = Vec::new();
        for v in &self.variants {
            let p = Presentation::parse(v)?;
            if out.iter().any(|q| q.id() == p.id()) {
                return Err(TaskError::Config(format!("variant {v:?} is listed twice")));
            }
            out.push(p);
        }
        if out.is_empty() {
            return Err(TaskError::Config("at least one variant is needed".into()));
        }
        for q in &self.questions {
            if q != "count" && q != "list" {
                return Err(TaskError::Config(format!(
                    "question {q:?}: expected count or list"
                )));
            }
        }
        if self.questions.is_empty() || self.batch == 0 {
            return Err(TaskError::Config(
                "at least one question (count, list) and a batch of at least 1 are needed".into(),
            ));
        }
        Ok(out)
    }
}

/// One answered question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountRow {
    /// `variant/question/item`.
    pub key: String,
    /// Presentation id.
    pub variant: String,
    /// `count` or `list`.
    pub question: String,
    /// Item id.
    pub item: String,
    /// Question type of the item.
    pub qtype: String,
    /// True count.
    pub truth: usize,
    /// The prompt sent.
    pub prompt: String,
    /// The model's text.
    #[serde(default)]
    pub text: String,
    /// Count read from the answer (count questions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    /// Right count (count questions); perfect listing (list questions).
    pub correct: bool,
    /// Listing scores (list questions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing: Option<ListingScore>,
    /// Visual tokens of the shown image (in-process models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visual_tokens: Option<usize>,
    /// Served from the response cache.
    #[serde(default)]
    pub from_cache: bool,
    /// Why the question could not be asked or answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Listing scores of one presentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListingStats {
    /// Mean precision.
    pub precision: Estimate,
    /// Mean recall.
    pub recall: Estimate,
    /// Mean F1.
    pub f1: Estimate,
    /// Mean order score over the lists with at least two matched items (`n` = 0, printed `-`,
    /// when there are none).
    pub order: Estimate,
    /// Mean F1 by true count.
    pub f1_by_n: Vec<(usize, f64)>,
}

/// Everything about one presentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountVariant {
    /// Presentation id.
    pub id: String,
    /// What tables show.
    pub label: String,
    /// Counting scores over all images.
    pub count: Option<CountStats>,
    /// The accuracy-vs-N curve.
    pub curve: Vec<CurvePoint>,
    /// Listing scores.
    pub listing: Option<ListingStats>,
    /// Questions that could not be asked.
    pub errors: usize,
    /// Mean visual tokens per shown image (in-process models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visual_tokens: Option<f64>,
}

/// The summary of a `probe count` run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountSummary {
    /// Per presentation, in configuration order.
    pub variants: Vec<CountVariant>,
    /// The arm the others are compared with (`plain`, `identity`).
    pub reference: String,
    /// Counting accuracy, flip rate and McNemar of each arm against the reference.
    pub vs_reference: Vec<Paired>,
    /// Questions not answered yet (backend failures; a rerun asks them again).
    pub missing: usize,
}

/// What a run returns.
#[derive(Debug, Clone)]
pub struct CountOutcome {
    /// The summary (also in `summary.json`).
    pub summary: CountSummary,
    /// Questions still unanswered.
    pub missing: usize,
}

/// Fill `{plural}` / `{singular}` in a question template.
pub fn fill(template: &str, item: &ProbeItem) -> String {
    template
        .replace("{plural}", &item.plural)
        .replace("{singular}", &item.singular)
}

/// The count an answer gives: the chosen option's index for choice questions, else the first
/// number of the text.
pub fn answered_count(answer: &Answer, choices: bool) -> Option<i64> {
    match (choices, answer.choice) {
        (true, Some(i)) => Some(i as i64),
        _ => parse_count(&answer.text),
    }
}

/// Build `backend` and run the probe (see [`run_count_with`]).
pub fn run_count(
    config: &CountConfig,
    items: &[ProbeItem],
    backend: &Backend,
    data_description: &Value,
    opts: &RunOptions,
) -> Result<CountOutcome> {
    let mut config = config.clone();
    if matches!(backend, Backend::Clip { .. }) {
        // CLIP can only choose: counts become options, listing is not asked.
        let max = items.iter().map(ProbeItem::count).max().unwrap_or(0);
        config.count_choices.get_or_insert(max.max(10));
        config.questions.retain(|q| q == "count");
    }
    with_answerer(backend, |answerer, identity| {
        run_count_with(&config, items, answerer, identity, data_description, opts)
    })
}

struct Pending {
    key: String,
    variant: String,
    question: String,
    /// The item as shown (boxes mapped by the arm).
    item: ProbeItem,
    prompt: String,
    tokens: Option<usize>,
}

/// A run over arms: what `probe count` and `probe preprocess` share.
pub struct Plan<'a> {
    /// The manifest's `experiment`.
    pub experiment: &'static str,
    /// The arm the others are compared with (`plain`, `identity`).
    pub reference: &'static str,
    /// The arms, in table order.
    pub arms: Vec<Arm>,
    /// Questions, templates, seed, batch and limit.
    pub config: &'a CountConfig,
    /// The probe's own configuration, as the manifest records it.
    pub manifest_config: Value,
    /// Its canonical form (the run identity with the backend's).
    pub hash_config: Value,
    /// In-process image processor: visual tokens per shown image are recorded.
    pub tokens: Option<cuelab_models::qwen3_vl::ImageProcessor>,
}

/// Ask every selected item under every presentation, resuming into `opts.out`.
pub fn run_count_with(
    config: &CountConfig,
    items: &[ProbeItem],
    answerer: &dyn Answerer,
    identity: &Value,
    data_description: &Value,
    opts: &RunOptions,
) -> Result<CountOutcome> {
    let presentations = config.presentations()?;
    let mut canonical = config.clone();
    canonical.batch = 0;
    canonical.limit = None;
    canonical.variants = presentations.iter().map(Presentation::label).collect();
    let plan = Plan {
        experiment: EXPERIMENT,
        reference: "plain",
        arms: presentations.into_iter().map(Arm::Present).collect(),
        config,
        manifest_config: serde_json::to_value(config).unwrap_or(Value::Null),
        hash_config: serde_json::to_value(&canonical).unwrap_or(Value::Null),
        tokens: None,
    };
    run_arms(&plan, items, answerer, identity, data_description, opts)
}

/// Visual tokens a Qwen-VL processor makes of a `w x h` image.
pub fn visual_tokens(p: &cuelab_models::qwen3_vl::ImageProcessor, w: u32, h: u32) -> Option<usize> {
    let unit = p.patch_size * p.merge_size;
    let (rh, rw) = cuelab_models::qwen3_vl::image::smart_resize(
        h as usize,
        w as usize,
        unit,
        p.min_pixels,
        p.max_pixels,
    )
    .ok()?;
    Some((rh / unit) * (rw / unit))
}

/// Ask every selected item under every arm of `plan`, resuming into `opts.out`.
pub fn run_arms(
    plan: &Plan<'_>,
    items: &[ProbeItem],
    answerer: &dyn Answerer,
    identity: &Value,
    data_description: &Value,
    opts: &RunOptions,
) -> Result<CountOutcome> {
    let config = plan.config;
    let presentations = &plan.arms;
    config.presentations()?;
    if presentations.is_empty() {
        return Err(TaskError::Config("at least one arm is needed".into()));
    }
    if items.is_empty() {
        return Err(TaskError::NoSamples("no images to ask about".into()));
    }
    let selected = runner::select(items, opts.shard, config.limit);
    let hash = crate::run_identity::with_data(
        &super::config_hash(&plan.hash_config, identity)?,
        data_description,
    );
    let mut run = runner::start(
        opts,
        plan.experiment,
        &hash,
        config.seed,
        json!({
            "config": plan.manifest_config,
            "variants": presentations.iter().map(|p| json!({"id": p.id(), "label": p.label()})).collect::<Vec<_>>(),
            "reference": plan.reference,
            "backend": answerer.describe(),
            "backend_identity": identity,
            "data": data_description,
            "images": selected.len(),
        }),
    )?;
    let mut todo: Vec<(usize, usize, String)> = Vec::new();
    let mut expected = 0usize;
    for (ordinal, (_, item)) in selected.iter().enumerate() {
        for (vi, p) in presentations.iter().enumerate() {
            for q in &config.questions {
                expected += 1;
                if !run.is_done(&format!("{}/{q}/{}", p.id(), item.id)) {
                    todo.push((ordinal, vi, q.clone()));
                }
            }
        }
    }
    let bar = runner::progress_bar(opts.progress, expected as u64, "answers");
    bar.set_position((expected - todo.len()) as u64);
    let mut fatal = None;
    for chunk in todo.chunks(config.batch) {
        let mut questions = Vec::new();
        let mut pending = Vec::new();
        let mut images: BTreeMap<usize, std::result::Result<image::RgbImage, String>> =
            BTreeMap::new();
        for (ordinal, vi, q) in chunk {
            let item = selected[*ordinal].1;
            let p = &presentations[*vi];
            let template = if q == "count" {
                &config.count_template
            } else {
                &config.list_template
            };
            let prompt = format!("{}{}", p.preamble(), fill(template, item));
            let key = format!("{}/{q}/{}", p.id(), item.id);
            let source = images
                .entry(*ordinal)
                .or_insert_with(|| load_rgb(&item.image).map_err(|e| e.to_string()));
            let shown = match source {
                Ok(img) => p.prepare(img, item).map_err(|e| e.to_string()),
                Err(e) => Err(e.clone()),
            };
            let choices: Vec<String> = match (q.as_str(), config.count_choices) {
                ("count", Some(k)) => (0..=k)
                    .map(|n| format!("{n} {}", if n == 1 { &item.singular } else { &item.plural }))
                    .collect(),
                _ => Vec::new(),
            };
            let row_base = CountRow {
                key: key.clone(),
                variant: p.id(),
                question: q.clone(),
                item: item.id.clone(),
                qtype: item.qtype.clone(),
                truth: item.count(),
                prompt: prompt.clone(),
                text: String::new(),
                count: None,
                correct: false,
                listing: None,
                visual_tokens: None,
                from_cache: false,
                error: None,
            };
            match shown {
                Ok((image, shown_item)) => {
                    let tokens = plan
                        .tokens
                        .as_ref()
                        .and_then(|t| visual_tokens(t, image.width(), image.height()));
                    questions.push(Question {
                        id: key.clone(),
                        system: config.system.clone(),
                        text: prompt.clone(),
                        images: vec![Arc::new(image)],
                        choices,
                    });
                    pending.push(Pending {
                        key,
                        variant: p.id(),
                        question: q.clone(),
                        item: shown_item,
                        prompt,
                        tokens,
                    });
                }
                Err(message) => {
                    tracing::warn!("{key}: {message}");
                    run.append(
                        &key,
                        &CountRow {
                            error: Some(message),
                            ..row_base
                        },
                    )?;
                    bar.inc(1);
                }
            }
        }
        drop(images);
        let (answers, stop) = ask_batch(answerer, &questions);
        for ((p, q), a) in pending.iter().zip(&questions).zip(answers) {
            let item = &p.item;
            let Some(Ok(answer)) = a else {
                if let Some(Err(e)) = a {
                    tracing::warn!("{}: {e}", p.key);
                }
                continue;
            };
            let mut row = CountRow {
                key: p.key.clone(),
                variant: p.variant.clone(),
                question: p.question.clone(),
                item: item.id.clone(),
                qtype: item.qtype.clone(),
                truth: item.count(),
                prompt: p.prompt.clone(),
                text: answer.text.clone(),
                count: None,
                correct: false,
                listing: None,
                visual_tokens: p.tokens,
                from_cache: answer.from_cache,
                error: None,
            };
            if p.question == "count" {
                row.count = answered_count(&answer, !q.choices.is_empty());
                row.correct = row.count == Some(item.count() as i64);
            } else {
                let s = score_listing(item, &answer.text);
                row.correct = s.f1 == 1.0 && s.order == 1.0;
                row.listing = Some(s);
            }
            run.append(&p.key, &row)?;
            bar.inc(1);
        }
        if let Some(e) = stop {
            fatal = Some(e);
            break;
        }
    }
    bar.finish_and_clear();
    let rows: Vec<CountRow> = run.rows()?;
    let keep: std::collections::BTreeSet<&str> =
        selected.iter().map(|(_, i)| i.id.as_str()).collect();
    let rows: Vec<CountRow> = rows
        .into_iter()
        .filter(|r| keep.contains(r.item.as_str()))
        .collect();
    let missing = expected.saturating_sub(rows.len());
    let order: Vec<(String, String)> = presentations.iter().map(|p| (p.id(), p.label())).collect();
    let summary = summarize_count(&rows, &order, plan.reference, config.seed, missing);
    runner::finish(&run, &summary, &count_table(&summary))?;
    if let Some(e) = fatal {
        return Err(TaskError::Backend(format!(
            "{e} ({} answers kept in {}; rerun to resume)",
            rows.len(),
            opts.out.display()
        )));
    }
    Ok(CountOutcome { summary, missing })
}

/// Append the rows of finished shard directories `dirs` of a `probe count` or `probe
/// preprocess` run to `run` and summarise them as the unsharded run does (used by
/// [`runner::merge_runs`], which checks the shard set first): rows are read sorted by key, so the
/// bootstrap sees them in the same order.
pub(crate) fn merge_into(
    run: &mut crate::run_dir::RunDir,
    dirs: &[std::path::PathBuf],
    manifest: &Value,
    order: &[(String, String)],
    seed: u64,
) -> Result<CountSummary> {
    for d in dirs {
        let rows: Vec<CountRow> = crate::run_dir::read_rows(&d.join(crate::run_dir::RESULTS))?;
        for r in rows {
            run.append(&r.key.clone(), &r)?;
        }
    }
    let rows: Vec<CountRow> = run.rows()?;
    let reference = manifest["reference"].as_str().unwrap_or("plain");
    let summary = summarize_count(&rows, order, reference, seed, 0);
    runner::finish(run, &summary, &count_table(&summary))?;
    Ok(summary)
}

/// Summarise rows; `order` lists `(variant id, label)`.
pub fn summarize_count(
    rows: &[CountRow],
    order: &[(String, String)],
    reference: &str,
    seed: u64,
    missing: usize,
) -> CountSummary {
    let mut variants = Vec::new();
    for (id, label) in order {
        let mine: Vec<&CountRow> = rows.iter().filter(|r| &r.variant == id).collect();
        let counts: Vec<CountAnswer> = mine
            .iter()
            .filter(|r| r.question == "count" && r.error.is_none())
            .map(|r| CountAnswer {
                truth: r.truth,
                answer: r.count,
            })
            .collect();
        let lists: Vec<(usize, ListingScore)> = mine
            .iter()
            .filter(|r| r.error.is_none())
            .filter_map(|r| Some((r.truth, r.listing?)))
            .collect();
        let listing = (!lists.is_empty()).then(|| {
            let col = |f: fn(&ListingScore) -> f64| -> Vec<f64> {
                lists.iter().map(|(_, s)| f(s)).collect()
            };
            let mut by_n: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
            for (n, s) in &lists {
                by_n.entry(*n).or_default().push(s.f1);
            }
            ListingStats {
                precision: bootstrap_mean(&col(|s| s.precision), RESAMPLES, seed),
                recall: bootstrap_mean(&col(|s| s.recall), RESAMPLES, seed),
                f1: bootstrap_mean(&col(|s| s.f1), RESAMPLES, seed),
                // Order is only defined for lists with two matched items or more; averaging
                // the vacuous 1 of the others would report perfect order for empty answers.
                order: bootstrap_mean(
                    &lists
                        .iter()
                        .filter(|(_, s)| s.matched >= 2)
                        .map(|(_, s)| s.order)
                        .collect::<Vec<f64>>(),
                    RESAMPLES,
                    seed,
                ),
                f1_by_n: by_n
                    .into_iter()
                    .map(|(n, v)| (n, v.iter().sum::<f64>() / v.len() as f64))
                    .collect(),
            }
        });
        variants.push(CountVariant {
            id: id.clone(),
            label: label.clone(),
            count: (!counts.is_empty()).then(|| count_stats(&counts, seed)),
            curve: curve(&counts, seed),
            listing,
            errors: mine.iter().filter(|r| r.error.is_some()).count(),
            visual_tokens: {
                let t: Vec<f64> = mine
                    .iter()
                    .filter_map(|r| r.visual_tokens)
                    .map(|t| t as f64)
                    .collect();
                (!t.is_empty()).then(|| t.iter().sum::<f64>() / t.len() as f64)
            },
        });
    }
    let arm_rows = |id: &str| -> Vec<(String, bool, String)> {
        rows.iter()
            .filter(|r| r.variant == id && r.question == "count" && r.error.is_none())
            .map(|r| {
                (
                    r.item.clone(),
                    r.correct,
                    r.count.map_or(r.text.clone(), |c| c.to_string()),
                )
            })
            .collect()
    };
    let vs_reference = if order.iter().any(|(id, _)| id == reference) {
        let base = arm_rows(reference);
        order
            .iter()
            .filter(|(id, _)| id != reference)
            .map(|(id, _)| paired(id, reference, &arm_rows(id), &base))
            .collect()
    } else {
        Vec::new()
    };
    CountSummary {
        variants,
        reference: reference.to_string(),
        vs_reference,
        missing,
    }
}

/// The terminal table: the accuracy-vs-N curve (exact % per presentation), then each
/// presentation's totals, listing scores and test against plain.
pub fn count_table(summary: &CountSummary) -> String {
    let mut ns: Vec<usize> = summary
        .variants
        .iter()
        .flat_map(|v| v.curve.iter().map(|p| p.n))
        .collect();
    ns.sort_unstable();
    ns.dedup();
    let mut out = String::from("exact count accuracy % by true count N (questions)\n");
    out.push_str(&format!("{:>4} ", "N"));
    for v in &summary.variants {
        out.push_str(&format!(
            "{:>16}",
            v.label.chars().take(15).collect::<String>()
        ));
    }
    out.push('\n');
    for n in &ns {
        out.push_str(&format!("{n:>4} "));
        for v in &summary.variants {
            let cell = v
                .curve
                .iter()
                .find(|p| p.n == *n)
                .map_or("-".to_string(), |p| {
                    format!("{} ({})", pct(&p.stats.exact), p.stats.exact.n)
                });
            out.push_str(&format!("{cell:>16}"));
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "\n{:<16} {:>5} {:>20} {:>6} {:>6} {:>6} {:>6} {:>6}   {:>6} {:>6} {:>6} {:>6}\n",
        "variant",
        "n",
        "exact % [95% CI]",
        "MAE",
        "bias",
        "over",
        "under",
        "unpars",
        "P",
        "R",
        "F1",
        "order"
    ));
    for v in &summary.variants {
        let (n, exact, mae, bias, over, under, unp) = match &v.count {
            Some(c) => (
                c.exact.n.to_string(),
                format!(
                    "{} [{:.1}, {:.1}]",
                    pct(&c.exact),
                    100.0 * c.exact.lo,
                    100.0 * c.exact.hi
                ),
                num(&c.mae),
                num(&c.bias),
                format!("{:.2}", c.over),
                format!("{:.2}", c.under),
                c.unparseable.to_string(),
            ),
            None => Default::default(),
        };
        let (p, r, f, o) = match &v.listing {
            Some(l) => (num(&l.precision), num(&l.recall), num(&l.f1), num(&l.order)),
            None => Default::default(),
        };
        out.push_str(&format!(
            "{:<16} {n:>5} {exact:>20} {mae:>6} {bias:>6} {over:>6} {under:>6} {unp:>6}   {p:>6} {r:>6} {f:>6} {o:>6}\n",
            v.label.chars().take(16).collect::<String>()
        ));
    }
    for v in summary
        .variants
        .iter()
        .filter(|v| v.visual_tokens.is_some())
    {
        out.push_str(&format!(
            "\n{}: {:.0} visual tokens per image",
            v.label,
            v.visual_tokens.unwrap_or(0.0)
        ));
    }
    for t in &summary.vs_reference {
        out.push_str(&format!(
            "\n{} vs {} on {} images: {:+.1} pts, answers flipped {:.1}%, McNemar {}/{} discordant, p = {:.4}",
            t.arm,
            t.reference,
            t.n,
            100.0 * t.diff,
            100.0 * t.flip_rate,
            t.mcnemar.b_only,
            t.mcnemar.a_only,
            t.mcnemar.p_value
        ));
    }
    if summary.missing > 0 {
        out.push_str(&format!(
            "\n{} question(s) still unanswered (backend failures): rerun to ask them again",
            summary.missing
        ));
    }
    out.push('\n');
    out
}
