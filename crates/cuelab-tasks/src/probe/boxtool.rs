//! `probe boxtool`: the box-drawing tool loop. Turn 1 asks the model for boxes around the
//! objects the question is about (in its native grounding format, or JSON constrained by a
//! schema where the server supports `response_format`); cuelab parses them ([`super::boxfmt`]),
//! draws them as numbered boxes (optionally adds their crops) and asks the counting question
//! again with the marked image (turn 2). Compared with answering directly on the same images:
//! accuracy, MAE, and box quality (IoU with the true boxes, duplicates, misses). Every turn is
//! recorded; malformed box output is recorded as such.
//!
//! With `max_turns` above 2 the loop goes on: while turns remain, the follow-up invites the
//! model to give boxes for objects still unmarked instead of a number; boxes it gives are added
//! to the drawing and it is asked again, until it answers with a count or the last turn is
//! reached. A reply that holds boxes is never read as a count (its coordinates are not one).

use std::sync::Arc;

use cuelab_cue::{load_rgb, BoxXyxy, Recipe};
use cuelab_vlm::remote::RemoteAnswerer;
use cuelab_vlm::{Answer, Answerer, Question};
use image::RgbImage;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::ask::ask_batch;
use super::boxfmt::{parse_boxes, BoxFormat, Frame, Parsed, ParsedBox};
use super::count::fill;
use super::data::{ProbeItem, ProbeObject};
use super::present::{crops_grid, draw_on_all};
use super::scores::{
    count_stats, curve, num, paired, pct, CountAnswer, CountStats, CurvePoint, Paired, RESAMPLES,
};
use crate::boxes::iou;
use crate::error::{Result, TaskError};
use crate::runner::{self, RunOptions};
use crate::stats::{bootstrap_mean, Estimate};
use crate::vqa::count::parse_count;
use crate::vqa::{remote_identity, with_answerer, Backend};

/// The `experiment` value of `probe boxtool` manifests.
pub const EXPERIMENT: &str = "probe-boxtool";

fn d_format() -> BoxFormat {
    BoxFormat::Json
}
fn d_true() -> bool {
    true
}
fn d_count() -> String {
    "How many {plural} are there? Answer with a number.".into()
}
fn d_followup() -> String {
    "The {found} {plural} you found are marked with numbered red boxes. Look again: how many {plural} are there? Answer with a number.".into()
}
fn d_factor() -> usize {
    28
}
fn d_min_pixels() -> usize {
    3136
}
fn d_max_pixels() -> usize {
    12_845_056
}
fn d_iou() -> f32 {
    0.5
}
fn d_batch() -> usize {
    16
}
fn d_turns() -> usize {
    2
}
fn is_two(n: &usize) -> bool {
    *n == 2
}
fn d_more() -> String {
    "If some {plural} have no box yet, answer instead with the boxes of those, in the same format as before, and you will be shown them.".into()
}

/// What `probe boxtool` asks, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoxtoolConfig {
    /// How the model writes boxes: json, qwen2, qwen25, qwen3.
    #[serde(default = "d_format")]
    pub format: BoxFormat,
    /// Constrain turn 1 to a JSON schema (`response_format`) on OpenAI-compatible servers, for
    /// the JSON formats.
    #[serde(default = "d_true")]
    pub schema: bool,
    /// Turn-1 prompt (`{singular}`, `{plural}`, `{width}`, `{height}`); default per format.
    #[serde(default)]
    pub box_prompt: Option<String>,
    /// The direct question (and the counting question of every arm).
    #[serde(default = "d_count")]
    pub count_template: String,
    /// Turn-2 prompt (`{found}` = boxes drawn).
    #[serde(default = "d_followup")]
    pub followup: String,
    /// Turn 2 also shows the crops of the found boxes, tiled, as a second image.
    #[serde(default)]
    pub crops: bool,
    /// Qwen2.5-VL frame: resize factor, min and max pixels of its smart resize.
    #[serde(default = "d_factor")]
    pub resize_factor: usize,
    /// Lower pixel bound of the Qwen2.5-VL smart resize.
    #[serde(default = "d_min_pixels")]
    pub min_pixels: usize,
    /// Upper pixel bound of the Qwen2.5-VL smart resize.
    #[serde(default = "d_max_pixels")]
    pub max_pixels: usize,
    /// IoU at which a found box matches a true box.
    #[serde(default = "d_iou")]
    pub iou: f32,
    /// System prompt.
    #[serde(default)]
    pub system: Option<String>,
    /// Seed of the bootstrap.
    #[serde(default)]
    pub seed: u64,
    /// Only the first `limit` images.
    #[serde(default)]
    pub limit: Option<usize>,
    /// Images per batch.
    #[serde(default = "d_batch")]
    pub batch: usize,
    /// Model turns of the tool loop at most (2 = boxes, then the question on the marked image;
    /// more lets the model add boxes before answering). Left out of the run identity at 2, so
    /// runs of earlier versions resume.
    #[serde(default = "d_turns", skip_serializing_if = "is_two")]
    pub max_turns: usize,
    /// Appended to the follow-up while more turns remain (`{plural}`, `{singular}`); default:
    /// an invitation to give the boxes of unmarked objects instead of a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub more_boxes: Option<String>,
}

impl Default for BoxtoolConfig {
    fn default() -> Self {
        BoxtoolConfig {
            format: d_format(),
            schema: true,
            box_prompt: None,
            count_template: d_count(),
            followup: d_followup(),
            crops: false,
            resize_factor: d_factor(),
            min_pixels: d_min_pixels(),
            max_pixels: d_max_pixels(),
            iou: d_iou(),
            system: None,
            seed: 0,
            limit: None,
            batch: d_batch(),
            max_turns: d_turns(),
            more_boxes: None,
        }
    }
}

impl BoxtoolConfig {
    /// The follow-up of a turn after the first, with `found` boxes drawn; `more` when further
    /// turns remain (the invitation to add boxes is appended).
    pub fn followup(&self, item: &ProbeItem, found: usize, more: bool) -> String {
        let mut text = fill(&self.followup, item).replace("{found}", &found.to_string());
        if more {
            text.push(' ');
            text.push_str(&fill(self.more_boxes.as_deref().unwrap_or(&d_more()), item));
        }
        text
    }

    /// The turn-1 prompt of `item`.
    pub fn box_prompt(&self, item: &ProbeItem, width: u32, height: u32) -> String {
        let template = self.box_prompt.clone().unwrap_or_else(|| match self.format {
            BoxFormat::Json => "Find every {singular} in the image ({width}x{height} pixels). Answer with a JSON list, one entry per object: [{\"label\": \"{singular}\", \"bbox_2d\": [x1, y1, x2, y2]}] in pixel coordinates; [] if there is none.".into(),
            BoxFormat::Qwen2 => "Find every {singular} in the image and give each one as <|object_ref_start|>{singular}<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>.".into(),
            BoxFormat::Qwen25 | BoxFormat::Qwen3 => "Locate every {singular} in the image, and output their bbox coordinates in JSON format: [{\"bbox_2d\": [x1, y1, x2, y2], \"label\": \"{singular}\"}].".into(),
        });
        fill(&template, item)
            .replace("{width}", &width.to_string())
            .replace("{height}", &height.to_string())
    }

    /// The JSON schema turn 1 is constrained to (`response_format`).
    pub fn response_format() -> Value {
        json!({"type": "json_schema", "json_schema": {"name": "boxes", "schema": {
            "type": "array",
            "items": {"type": "object", "properties": {
                "label": {"type": "string"},
                "bbox_2d": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}
            }, "required": ["bbox_2d"]}
        }}})
    }

    fn uses_schema(&self) -> bool {
        self.schema && self.format != BoxFormat::Qwen2
    }
}

/// One model turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// 1 = box request, 2 and later = question on the marked image; 0 = direct answer.
    pub turn: u32,
    /// The prompt.
    pub prompt: String,
    /// Images shown (their sizes).
    pub images: Vec<(u32, u32)>,
    /// The model's text.
    pub text: String,
    /// Served from the response cache.
    #[serde(default)]
    pub from_cache: bool,
    /// Boxes a turn after the first gave instead of a count (added to the drawing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boxes: Option<usize>,
}

/// How well the found boxes cover the true ones.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoxQuality {
    /// Found boxes matched one-to-one to true boxes at the IoU threshold.
    pub matched: usize,
    /// Found boxes overlapping an already matched true box at the threshold (double boxes).
    pub duplicates: usize,
    /// Found boxes matching nothing.
    pub false_positives: usize,
    /// True boxes no found box matched.
    pub misses: usize,
    /// Mean IoU of the matched pairs (`None` without matches).
    pub mean_iou: Option<f64>,
}

/// Greedy one-to-one matching (highest IoU first) of `found` to `truth` at `threshold`.
pub fn box_quality(found: &[BoxXyxy], truth: &[BoxXyxy], threshold: f32) -> BoxQuality {
    let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
    for (i, f) in found.iter().enumerate() {
        for (j, t) in truth.iter().enumerate() {
            let v = iou(f, t);
            if v >= threshold {
                pairs.push((v, i, j));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut f_used, mut t_used) = (vec![false; found.len()], vec![false; truth.len()]);
    let mut ious = Vec::new();
    for (v, i, j) in &pairs {
        if !f_used[*i] && !t_used[*j] {
            f_used[*i] = true;
            t_used[*j] = true;
            ious.push(f64::from(*v));
        }
    }
    let duplicates = (0..found.len())
        .filter(|i| !f_used[*i] && pairs.iter().any(|(_, f, _)| f == i))
        .count();
    BoxQuality {
        matched: ious.len(),
        duplicates,
        false_positives: found.len() - ious.len() - duplicates,
        misses: truth.len() - ious.len(),
        mean_iou: (!ious.is_empty()).then(|| ious.iter().sum::<f64>() / ious.len() as f64),
    }
}

/// One image through both arms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoxtoolRow {
    /// The item id (also the key).
    pub key: String,
    /// Question type of the item.
    pub qtype: String,
    /// True count.
    pub truth: usize,
    /// The direct answer (turn 0).
    pub direct: Option<Turn>,
    /// Count read from the direct answer.
    #[serde(default)]
    pub direct_count: Option<i64>,
    /// The tool loop's turns, in order.
    #[serde(default)]
    pub turns: Vec<Turn>,
    /// What turn 1 held.
    #[serde(default)]
    pub parsed: Parsed,
    /// Boxes the model added in later turns (turn 2 on), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<ParsedBox>,
    /// Count read from the last turn (`None` when it held boxes instead of a count).
    #[serde(default)]
    pub tool_count: Option<i64>,
    /// Quality of the found boxes against the true ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<BoxQuality>,
    /// Why the image could not be asked about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Box quality over a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualitySummary {
    /// Mean precision of the found boxes (matched / found; images with boxes found).
    pub precision: Estimate,
    /// Mean recall (matched / true; images with at least one true object).
    pub recall: Estimate,
    /// Mean IoU of matched pairs, per image.
    pub mean_iou: Estimate,
    /// Duplicate boxes in all.
    pub duplicates: usize,
    /// Unmatched found boxes in all.
    pub false_positives: usize,
    /// Missed true objects in all.
    pub misses: usize,
    /// Answers with at least one malformed box fragment.
    pub malformed_answers: usize,
    /// Malformed fragments in all.
    pub malformed_fragments: usize,
    /// Answers with no box syntax at all.
    pub no_box_answers: usize,
}

/// How many turns the tool loop took.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TurnStats {
    /// `(turns, images)`: images whose loop took that many model turns, by turns.
    pub histogram: Vec<(usize, usize)>,
    /// Mean turns per image.
    pub mean: f64,
    /// Images whose last allowed turn still gave boxes instead of a count.
    pub at_limit: usize,
}

/// One arm's counting scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmScores {
    /// `direct`, `tool` (turn 2's answer) or `boxes` (the number of boxes found in turn 1).
    pub arm: String,
    /// Scores over all images.
    pub stats: CountStats,
    /// By true count.
    pub curve: Vec<CurvePoint>,
}

/// The summary of a `probe boxtool` run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoxtoolSummary {
    /// direct, tool, boxes.
    pub arms: Vec<ArmScores>,
    /// tool and boxes against direct.
    pub vs_direct: Vec<Paired>,
    /// Box quality.
    pub quality: QualitySummary,
    /// Turns of the tool loop.
    #[serde(default)]
    pub turns: TurnStats,
    /// Images that could not be asked about.
    pub errors: usize,
    /// Images not finished yet (backend failures; a rerun asks them again).
    pub missing: usize,
}

/// Build the backend(s) and run the probe: on an OpenAI-compatible server with `schema`, turn 1
/// goes through a client that sends the JSON schema.
pub fn run_boxtool(
    config: &BoxtoolConfig,
    items: &[ProbeItem],
    backend: &Backend,
    data_description: &Value,
    opts: &RunOptions,
) -> Result<BoxtoolSummary> {
    if let (Backend::Remote(cfg), true) = (backend, config.uses_schema()) {
        let mut constrained = cfg.as_ref().clone();
        constrained.response_format = Some(BoxtoolConfig::response_format());
        let start = |c| {
            RemoteAnswerer::new(c).map_err(|e| {
                TaskError::Backend(format!("starting the OpenAI-compatible client: {e}"))
            })
        };
        let turn1 = start(constrained.clone())?;
        let plain = start(cfg.as_ref().clone())?;
        let identity =
            json!({"turn1": remote_identity(&constrained), "other": remote_identity(cfg)});
        return run_boxtool_with(
            config,
            items,
            &turn1,
            &plain,
            &identity,
            data_description,
            opts,
        );
    }
    if matches!(backend, Backend::Clip { .. }) {
        return Err(TaskError::Config(
            "the box tool needs a generative VLM (a server or --local), not CLIP".into(),
        ));
    }
    with_answerer(backend, |answerer, identity| {
        run_boxtool_with(
            config,
            items,
            answerer,
            answerer,
            identity,
            data_description,
            opts,
        )
    })
}

fn turn_of(turn: u32, q: &Question, a: &Answer) -> Turn {
    Turn {
        turn,
        prompt: q.text.clone(),
        images: q.images.iter().map(|i| i.dimensions()).collect(),
        text: a.text.clone(),
        from_cache: a.from_cache,
        boxes: None,
    }
}

/// The marked image of turn 2 (numbered red boxes on the found boxes, in answer order) and,
/// with `crops`, their tiled crops.
fn marked(image: &RgbImage, boxes: &[&ParsedBox], crops: bool) -> Result<Vec<RgbImage>> {
    let objects: Vec<ProbeObject> = boxes
        .iter()
        .map(|b| ProbeObject {
            bbox: b.bbox,
            name: b.label.clone().unwrap_or_default(),
            target: true,
        })
        .collect();
    let size = (image.width().min(image.height()) as f32 / 20.0).clamp(10.0, 40.0);
    let recipe = Recipe::parse(&format!("rect(color=red,width=2)+label(size={size:.0})"))?;
    let mut out = vec![draw_on_all(image, &objects, &recipe)?];
    if crops && !objects.is_empty() {
        out.push(crops_grid(image, &objects));
    }
    Ok(out)
}

/// Ask every selected item directly and through the tool loop, resuming into `opts.out`.
/// `turn1` answers the box requests, `other` the direct and turn-2 questions (the same
/// answerer unless turn 1 is schema-constrained).
#[allow(clippy::too_many_arguments)]
pub fn run_boxtool_with(
    config: &BoxtoolConfig,
    items: &[ProbeItem],
    turn1: &dyn Answerer,
    other: &dyn Answerer,
    identity: &Value,
    data_description: &Value,
    opts: &RunOptions,
) -> Result<BoxtoolSummary> {
    if config.batch == 0 {
        return Err(TaskError::Config("batch must be at least 1".into()));
    }
    if config.max_turns < 2 {
        return Err(TaskError::Config(format!(
            "max_turns {}: the tool loop takes at least 2 turns (boxes, then the question)",
            config.max_turns
        )));
    }
    if items.is_empty() {
        return Err(TaskError::NoSamples("no images to ask about".into()));
    }
    let selected = runner::select(items, opts.shard, config.limit);
    let mut canonical = config.clone();
    canonical.batch = 0;
    canonical.limit = None;
    let hash = crate::run_identity::with_data(
        &super::config_hash(&canonical, identity)?,
        data_description,
    );
    let mut run = runner::start(
        opts,
        EXPERIMENT,
        &hash,
        config.seed,
        json!({
            "config": config,
            "variants": [{"id": "direct", "label": "direct"}, {"id": "tool", "label": "tool"}, {"id": "boxes", "label": "boxes"}],
            "backend": other.describe(),
            "backend_identity": identity,
            "data": data_description,
            "images": selected.len(),
        }),
    )?;
    let todo: Vec<&ProbeItem> = selected
        .iter()
        .map(|(_, i)| *i)
        .filter(|i| !run.is_done(&i.id))
        .collect();
    let bar = runner::progress_bar(opts.progress, selected.len() as u64, "images");
    bar.set_position((selected.len() - todo.len()) as u64);
    let mut fatal = None;
    for chunk in todo.chunks(config.batch) {
        let mut images: Vec<RgbImage> = Vec::new();
        let mut live: Vec<&ProbeItem> = Vec::new();
        for item in chunk {
            match load_rgb(&item.image) {
                Ok(img) => {
                    images.push(img);
                    live.push(item);
                }
                Err(e) => {
                    let row = BoxtoolRow {
                        key: item.id.clone(),
                        qtype: item.qtype.clone(),
                        truth: item.count(),
                        direct: None,
                        direct_count: None,
                        turns: Vec::new(),
                        parsed: Parsed::default(),
                        added: Vec::new(),
                        tool_count: None,
                        quality: None,
                        error: Some(e.to_string()),
                    };
                    run.append(&item.id, &row)?;
                    bar.inc(1);
                }
            }
        }
        let question = |id: String, text: String, shown: Vec<RgbImage>| Question {
            id,
            system: config.system.clone(),
            text,
            images: shown.into_iter().map(Arc::new).collect(),
            choices: Vec::new(),
        };
        let direct_q: Vec<Question> = live
            .iter()
            .zip(&images)
            .map(|(it, img)| {
                question(
                    format!("direct/{}", it.id),
                    fill(&config.count_template, it),
                    vec![img.clone()],
                )
            })
            .collect();
        let boxes_q: Vec<Question> = live
            .iter()
            .zip(&images)
            .map(|(it, img)| {
                question(
                    format!("turn1/{}", it.id),
                    config.box_prompt(it, img.width(), img.height()),
                    vec![img.clone()],
                )
            })
            .collect();
        let (direct_a, stop_a) = ask_batch(other, &direct_q);
        let (boxes_a, stop_b) = ask_batch(turn1, &boxes_q);
        // Turns 2.. for the images whose turn 1 came back.
        let mut rows: Vec<Option<BoxtoolRow>> = Vec::new();
        let mut frames: Vec<Option<Frame>> = Vec::new();
        for (k, item) in live.iter().enumerate() {
            let (Some(Ok(d)), Some(Ok(b))) = (&direct_a[k], &boxes_a[k]) else {
                rows.push(None);
                frames.push(None);
                continue;
            };
            let img = &images[k];
            let (mh, mw) = cuelab_models::qwen3_vl::image::smart_resize(
                img.height() as usize,
                img.width() as usize,
                config.resize_factor,
                config.min_pixels,
                config.max_pixels,
            )
            .unwrap_or((img.height() as usize, img.width() as usize));
            let frame = Frame {
                width: img.width() as f32,
                height: img.height() as f32,
                model_width: mw as f32,
                model_height: mh as f32,
            };
            let parsed = parse_boxes(&b.text, config.format, &frame);
            rows.push(Some(BoxtoolRow {
                key: item.id.clone(),
                qtype: item.qtype.clone(),
                truth: item.count(),
                direct: Some(turn_of(0, &direct_q[k], d)),
                direct_count: parse_count(&d.text),
                turns: vec![turn_of(1, &boxes_q[k], b)],
                quality: None,
                parsed,
                added: Vec::new(),
                tool_count: None,
                error: None,
            }));
            frames.push(Some(frame));
        }
        let mut open: Vec<usize> = (0..live.len()).filter(|&k| rows[k].is_some()).collect();
        let mut stop_c = None;
        for turn in 2..=config.max_turns {
            if open.is_empty() || stop_c.is_some() {
                break;
            }
            let more = turn < config.max_turns;
            let mut follow_q: Vec<Question> = Vec::new();
            let mut follow_of: Vec<usize> = Vec::new();
            for &k in &open {
                let Some(row) = rows[k].as_mut() else {
                    continue;
                };
                let drawn: Vec<&ParsedBox> = row.parsed.boxes.iter().chain(&row.added).collect();
                match marked(&images[k], &drawn, config.crops) {
                    Ok(shown) => {
                        let text = config.followup(live[k], drawn.len(), more);
                        follow_q.push(question(format!("turn{turn}/{}", live[k].id), text, shown));
                        follow_of.push(k);
                    }
                    Err(e) => row.error = Some(format!("drawing the found boxes: {e}")),
                }
            }
            let (follow_a, stop) = ask_batch(other, &follow_q);
            stop_c = stop;
            let mut still = Vec::new();
            for (j, a) in follow_a.into_iter().enumerate() {
                let k = follow_of[j];
                match a {
                    Some(Ok(a)) => {
                        let (Some(row), Some(frame)) = (rows[k].as_mut(), frames[k].as_ref())
                        else {
                            continue;
                        };
                        let mut t = turn_of(turn as u32, &follow_q[j], &a);
                        let added = parse_boxes(&a.text, config.format, frame).boxes;
                        if added.is_empty() {
                            row.tool_count = parse_count(&a.text);
                        } else {
                            t.boxes = Some(added.len());
                            row.added.extend(added);
                            if more {
                                still.push(k);
                            }
                        }
                        row.turns.push(t);
                    }
                    Some(Err(e)) => {
                        tracing::warn!("turn {turn} of {}: {e}", live[k].id);
                        rows[k] = None;
                    }
                    None => rows[k] = None,
                }
            }
            open = still;
        }
        if stop_c.is_some() {
            // the loop did not finish for the images still open: ask them again on a rerun
            for k in open {
                rows[k] = None;
            }
        }
        for (k, row) in rows.iter_mut().enumerate() {
            if let Some(row) = row.as_mut() {
                let found: Vec<BoxXyxy> = row
                    .parsed
                    .boxes
                    .iter()
                    .chain(&row.added)
                    .map(|p| p.bbox)
                    .collect();
                let truth: Vec<BoxXyxy> = live[k].targets().iter().map(|o| o.bbox).collect();
                row.quality = Some(box_quality(&found, &truth, config.iou));
            }
        }
        for row in rows.into_iter().flatten() {
            run.append(&row.key.clone(), &row)?;
            bar.inc(1);
        }
        if let Some(e) = stop_a.or(stop_b).or(stop_c) {
            fatal = Some(e);
            break;
        }
    }
    bar.finish_and_clear();
    let keep: std::collections::BTreeSet<&str> =
        selected.iter().map(|(_, i)| i.id.as_str()).collect();
    let rows: Vec<BoxtoolRow> = run
        .rows::<BoxtoolRow>()?
        .into_iter()
        .filter(|r| keep.contains(r.key.as_str()))
        .collect();
    let missing = selected.len().saturating_sub(rows.len());
    let summary = summarize_boxtool(&rows, config.seed, missing);
    runner::finish(&run, &summary, &boxtool_table(&summary))?;
    if let Some(e) = fatal {
        return Err(TaskError::Backend(format!(
            "{e} ({} images kept in {}; rerun to resume)",
            rows.len(),
            opts.out.display()
        )));
    }
    Ok(summary)
}

/// Append the rows of finished shard directories `dirs` of a `probe boxtool` run to `run` and
/// summarise them as the unsharded run does (used by [`runner::merge_runs`], which checks the
/// shard set first).
pub(crate) fn merge_into(
    run: &mut crate::run_dir::RunDir,
    dirs: &[std::path::PathBuf],
    seed: u64,
) -> Result<BoxtoolSummary> {
    for d in dirs {
        let rows: Vec<BoxtoolRow> = crate::run_dir::read_rows(&d.join(crate::run_dir::RESULTS))?;
        for r in rows {
            run.append(&r.key.clone(), &r)?;
        }
    }
    let rows: Vec<BoxtoolRow> = run.rows()?;
    let summary = summarize_boxtool(&rows, seed, 0);
    runner::finish(run, &summary, &boxtool_table(&summary))?;
    Ok(summary)
}

/// Boxes found in every turn of a row.
fn found_boxes(r: &BoxtoolRow) -> usize {
    r.parsed.boxes.len() + r.added.len()
}

/// Summarise rows.
pub fn summarize_boxtool(rows: &[BoxtoolRow], seed: u64, missing: usize) -> BoxtoolSummary {
    let ok: Vec<&BoxtoolRow> = rows.iter().filter(|r| r.error.is_none()).collect();
    let arm = |name: &str, get: &dyn Fn(&BoxtoolRow) -> Option<i64>| {
        let answers: Vec<CountAnswer> = ok
            .iter()
            .map(|r| CountAnswer {
                truth: r.truth,
                answer: get(r),
            })
            .collect();
        let keyed: Vec<(String, bool, String)> = ok
            .iter()
            .map(|r| {
                let a = get(r);
                (
                    r.key.clone(),
                    a == Some(r.truth as i64),
                    a.map_or("-".into(), |v| v.to_string()),
                )
            })
            .collect();
        (
            ArmScores {
                arm: name.to_string(),
                stats: count_stats(&answers, seed),
                curve: curve(&answers, seed),
            },
            keyed,
        )
    };
    let (direct, d_rows) = arm("direct", &|r| r.direct_count);
    let (tool, t_rows) = arm("tool", &|r| r.tool_count);
    let (boxes, b_rows) = arm("boxes", &|r| Some(found_boxes(r) as i64));
    let qualities: Vec<(&BoxtoolRow, BoxQuality)> =
        ok.iter().filter_map(|r| Some((*r, r.quality?))).collect();
    let precision: Vec<f64> = qualities
        .iter()
        .filter(|(r, _)| found_boxes(r) > 0)
        .map(|(r, q)| q.matched as f64 / found_boxes(r) as f64)
        .collect();
    let recall: Vec<f64> = qualities
        .iter()
        .filter(|(r, _)| r.truth > 0)
        .map(|(r, q)| q.matched as f64 / r.truth as f64)
        .collect();
    let ious: Vec<f64> = qualities.iter().filter_map(|(_, q)| q.mean_iou).collect();
    let quality = QualitySummary {
        precision: bootstrap_mean(&precision, RESAMPLES, seed),
        recall: bootstrap_mean(&recall, RESAMPLES, seed),
        mean_iou: bootstrap_mean(&ious, RESAMPLES, seed),
        duplicates: qualities.iter().map(|(_, q)| q.duplicates).sum(),
        false_positives: qualities.iter().map(|(_, q)| q.false_positives).sum(),
        misses: qualities.iter().map(|(_, q)| q.misses).sum(),
        malformed_answers: ok.iter().filter(|r| !r.parsed.malformed.is_empty()).count(),
        malformed_fragments: ok.iter().map(|r| r.parsed.malformed.len()).sum(),
        no_box_answers: ok.iter().filter(|r| r.parsed.no_boxes).count(),
    };
    let mut histogram: std::collections::BTreeMap<usize, usize> = Default::default();
    for r in &ok {
        *histogram.entry(r.turns.len()).or_default() += 1;
    }
    let turns = TurnStats {
        mean: if ok.is_empty() {
            f64::NAN
        } else {
            ok.iter().map(|r| r.turns.len() as f64).sum::<f64>() / ok.len() as f64
        },
        histogram: histogram.into_iter().collect(),
        at_limit: ok
            .iter()
            .filter(|r| r.turns.last().is_some_and(|t| t.boxes.is_some()))
            .count(),
    };
    BoxtoolSummary {
        turns,
        vs_direct: vec![
            paired("tool", "direct", &t_rows, &d_rows),
            paired("boxes", "direct", &b_rows, &d_rows),
        ],
        arms: vec![direct, tool, boxes],
        quality,
        errors: rows.len() - ok.len(),
        missing,
    }
}

/// The terminal table.
pub fn boxtool_table(s: &BoxtoolSummary) -> String {
    let mut out = format!(
        "{:<8} {:>5} {:>20} {:>6} {:>6} {:>6} {:>6} {:>6}\n",
        "arm", "n", "exact % [95% CI]", "MAE", "bias", "over", "under", "unpars"
    );
    for a in &s.arms {
        let c = &a.stats;
        out.push_str(&format!(
            "{:<8} {:>5} {:>20} {:>6} {:>6} {:>6.2} {:>6.2} {:>6}\n",
            a.arm,
            c.exact.n,
            format!(
                "{} [{:.1}, {:.1}]",
                pct(&c.exact),
                100.0 * c.exact.lo,
                100.0 * c.exact.hi
            ),
            num(&c.mae),
            num(&c.bias),
            c.over,
            c.under,
            c.unparseable
        ));
    }
    out.push_str("\nexact % by true count N: direct / tool / boxes\n");
    let mut ns: Vec<usize> = s
        .arms
        .iter()
        .flat_map(|a| a.curve.iter().map(|p| p.n))
        .collect();
    ns.sort_unstable();
    ns.dedup();
    for n in ns {
        let cells: Vec<String> = s
            .arms
            .iter()
            .map(|a| {
                a.curve
                    .iter()
                    .find(|p| p.n == n)
                    .map_or("-".into(), |p| pct(&p.stats.exact))
            })
            .collect();
        let count = s.arms[0]
            .curve
            .iter()
            .find(|p| p.n == n)
            .map_or(0, |p| p.stats.exact.n);
        out.push_str(&format!("{n:>4} ({count:>3}): {}\n", cells.join(" / ")));
    }
    let q = &s.quality;
    out.push_str(&format!(
        "\nboxes: precision {} recall {} mean IoU {} (matched pairs); {} duplicates, {} false positives, {} misses; {} answers with malformed boxes ({} fragments), {} with no boxes\n",
        num(&q.precision), num(&q.recall), num(&q.mean_iou), q.duplicates, q.false_positives,
        q.misses, q.malformed_answers, q.malformed_fragments, q.no_box_answers
    ));
    if s.turns.histogram.iter().any(|&(t, _)| t > 2) || s.turns.at_limit > 0 {
        let parts: Vec<String> = s
            .turns
            .histogram
            .iter()
            .map(|(t, n)| format!("{n} image(s) in {t}"))
            .collect();
        out.push_str(&format!(
            "tool loop turns: {} (mean {:.2}); {} ended at the turn limit with boxes instead of a count\n",
            parts.join(", "),
            s.turns.mean,
            s.turns.at_limit
        ));
    }
    for t in &s.vs_direct {
        out.push_str(&format!(
            "{} vs direct on {} images: {:+.1} pts, McNemar {}/{} discordant, p = {:.4}\n",
            t.arm,
            t.n,
            100.0 * t.diff,
            t.mcnemar.b_only,
            t.mcnemar.a_only,
            t.mcnemar.p_value
        ));
    }
    if s.errors > 0 {
        out.push_str(&format!("{} image(s) could not be asked about\n", s.errors));
    }
    if s.missing > 0 {
        out.push_str(&format!(
            "{} image(s) still unfinished (backend failures): rerun to ask them again\n",
            s.missing
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_counts_matches_duplicates_and_misses() {
        let b = |x: f32| BoxXyxy::new(x, 0.0, x + 10.0, 10.0).unwrap();
        let truth = [b(0.0), b(20.0), b(40.0)];
        let found = [b(0.0), b(1.0), b(21.0), b(100.0)];
        let q = box_quality(&found, &truth, 0.5);
        assert_eq!(
            (q.matched, q.duplicates, q.false_positives, q.misses),
            (2, 1, 1, 1)
        );
        let m = q.mean_iou.unwrap();
        assert!((m - (1.0 + 9.0 / 11.0) / 2.0).abs() < 1e-6, "{m}");
        let none = box_quality(&[], &truth, 0.5);
        assert_eq!((none.misses, none.mean_iou), (3, None));
    }
}
