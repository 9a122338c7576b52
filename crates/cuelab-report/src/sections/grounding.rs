//! Grounding runs (`cuelab ground`, the demo's `grounding/`): the headline table of
//! `summary.json`, the spatial breakdown and the summary's paired tests, plots (metrics per
//! variant with CIs, spatial vs other, Acc@IoU over thresholds, IoU histogram), paired
//! comparisons with flips, and galleries of samples, worst failures and flips with the
//! predicted and ground-truth boxes drawn.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use super::{arm_name, clip, figure, Context, Section};
use crate::arms::{against_first, table as paired_table, Arm, Outcome};
use crate::error::Result;
use crate::gallery::{flip_galleries, gallery, Card};
use crate::html::{esc, estimate_cell, f, num, pval, slug};
use crate::plot::{bars, histogram, lines, Bar, BarSeries};
use crate::run::Run;
use crate::samples::parse_box;
use crate::thumbs::{figure as thumb_figure, Overlay};

/// The grounding section.
#[derive(Debug, Clone, Copy)]
pub struct Grounding;

/// IoU thresholds of the Acc@IoU curve.
const THRESHOLDS: [f64; 9] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/// Box classes for up to four arms' predictions.
const PRED: [&str; 4] = ["pred0", "pred1", "pred2", "pred3"];

fn est_bar(e: &Value) -> Option<Bar> {
    Some(Bar {
        value: f(&e["mean"])?,
        ci: Some((f(&e["lo"])?, f(&e["hi"])?)),
    })
}

/// One arm with its rows by sample id.
struct GArm<'a> {
    name: String,
    rows: BTreeMap<String, &'a Value>,
}

impl Section for Grounding {
    fn name(&self) -> &'static str {
        "grounding"
    }

    fn title(&self) -> &'static str {
        "Grounding"
    }

    fn accepts(&self, run: &Run) -> bool {
        run.experiment() == "grounding"
    }

    fn render(&self, runs: &[&Run], ctx: &mut Context) -> Result<String> {
        let mut s = String::new();
        for run in runs {
            s.push_str(&headline(run, ctx));
        }
        // Arms: every variant of every run.
        let mut arms: Vec<GArm> = Vec::new();
        for run in runs {
            for (id, label) in run.variants() {
                let rows: BTreeMap<String, &Value> = run
                    .rows
                    .iter()
                    .filter(|r| r["variant"].as_str() == Some(id.as_str()))
                    .map(|r| (r["sample"].as_str().unwrap_or("").to_string(), r))
                    .collect();
                arms.push(GArm {
                    name: arm_name(runs, run, &label),
                    rows,
                });
            }
        }
        s.push_str(&curves(&arms));
        let scored: Vec<Arm> = arms
            .iter()
            .map(|a| Arm {
                name: a.name.clone(),
                outcomes: a
                    .rows
                    .iter()
                    .filter(|(_, r)| r["error"].is_null())
                    .map(|(id, r)| {
                        let iou = f(&r["iou"]).unwrap_or(0.0);
                        (
                            id.clone(),
                            Outcome {
                                ok: iou >= 0.5,
                                score: iou,
                            },
                        )
                    })
                    .collect(),
            })
            .collect();
        let comps = against_first(&scored, ctx.seed);
        if !comps.is_empty() {
            s.push_str(&format!(
                "<h3>Paired comparisons{}</h3>",
                if runs.len() > 1 { " across runs" } else { "" }
            ));
            s.push_str(&paired_table(&comps, "Acc@0.5", Some("IoU")));
        }
        // Galleries.
        let ids: BTreeSet<&String> = arms.iter().flat_map(|a| a.rows.keys()).collect();
        let prefix = format!(
            "g-{}",
            slug(
                &runs
                    .iter()
                    .map(|r| r.label.as_str())
                    .collect::<Vec<_>>()
                    .join("-")
            )
        );
        let take = ctx.max_gallery;
        let all: Vec<&String> = ids.iter().copied().collect();
        let shown: Vec<&String> = all.iter().copied().take(take).collect();
        // Worst: lowest best-IoU over arms.
        let mut worst: Vec<(&String, f64)> = all
            .iter()
            .map(|id| {
                let best = arms
                    .iter()
                    .filter_map(|a| a.rows.get(*id).and_then(|r| f(&r["iou"])))
                    .fold(f64::NEG_INFINITY, f64::max);
                (*id, best)
            })
            .collect();
        worst.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(b.0)));
        let worst: Vec<&String> = worst.iter().map(|w| w.0).take(take.min(96)).collect();
        let mut flips: Vec<(String, Vec<String>, usize)> = Vec::new();
        for c in &comps {
            for (dir, list) in [("✓→✗", &c.lost), ("✗→✓", &c.gained)] {
                let title = format!("{} {dir} vs {}", c.b, c.a);
                flips.push((
                    title,
                    list.iter().take(take.min(96)).cloned().collect(),
                    list.len(),
                ));
            }
        }
        // Thumbnails of every card in one parallel pass.
        let mut needed: Vec<std::path::PathBuf> = Vec::new();
        let mut want = |id: &str| {
            if let Some(p) = ctx.samples.get(id).and_then(|i| i.image.clone()) {
                needed.push(p);
            }
        };
        shown.iter().chain(worst.iter()).for_each(|id| want(id));
        flips
            .iter()
            .flat_map(|f| f.1.iter())
            .for_each(|id| want(id));
        ctx.thumbs.prepare(needed.iter().map(|p| p.as_path()));

        let card = |id: &str| card(id, &arms, ctx);
        s.push_str("<h3>Galleries</h3>");
        let legend = "<span class=\"key gt\">ground truth</span> <span class=\"key pred0\">arm 1</span> <span class=\"key pred1\">arm 2</span> <span class=\"key pred2\">arm 3</span> <span class=\"key pred3\">arm 4</span>";
        s.push_str(&gallery(
            &format!("{prefix}-samples"),
            "Samples",
            &format!("In sample-id order. {legend}."),
            &shown.iter().map(|id| card(id)).collect::<Vec<_>>(),
            all.len(),
        ));
        s.push_str(&gallery(
            &format!("{prefix}-worst"),
            "Worst failures",
            "Samples whose best IoU over all arms is lowest.",
            &worst.iter().map(|id| card(id)).collect::<Vec<_>>(),
            all.len(),
        ));
        s.push_str(&flip_galleries(
            &prefix,
            &flips,
            "Hit at IoU ≥ 0.5 under one arm and missed under the other.",
            card,
        ));
        Ok(s)
    }
}

/// Headline table, spatial breakdown, the summary's paired tests and the per-variant plots of
/// one run.
fn headline(run: &Run, ctx: &Context) -> String {
    let sm = &run.summary;
    let empty = Vec::new();
    let variants = sm["variants"].as_array().unwrap_or(&empty);
    let mut s = format!(
        "<h3>Run {} <span class=\"dim\">{}</span></h3><p class=\"note\">Numbers as in {}; full rows in {}.</p>",
        esc(&run.label),
        esc(&run.dir.display().to_string()),
        ctx.link(run, "summary.json"),
        ctx.link(run, "results.jsonl")
    );
    s.push_str("<table class=\"headline\"><thead><tr><th>variant</th><th>n</th><th>errors</th><th>fallbacks</th><th>mIoU [95% CI]</th><th>Acc@0.3</th><th>Acc@0.5</th><th>Acc@0.7</th><th>crop cosine</th></tr></thead><tbody>");
    for v in variants {
        let a = &v["all"];
        s.push_str(&format!(
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{}{}{}{}{}</tr>",
            esc(&crate::html::text(&v["label"])),
            esc(&crate::html::text(&a["n"])),
            esc(&crate::html::text(&v["errors"])),
            esc(&crate::html::text(&v["fallbacks"])),
            estimate_cell(&a["miou"]),
            estimate_cell(&a["acc_03"]),
            estimate_cell(&a["acc_05"]),
            estimate_cell(&a["acc_07"]),
            estimate_cell(&a["crop_cosine"]),
        ));
    }
    s.push_str("</tbody></table>");
    s.push_str("<table class=\"spatial\"><thead><tr><th>variant</th><th>spatial n</th><th>spatial Acc@0.5</th><th>other n</th><th>other Acc@0.5</th></tr></thead><tbody>");
    for v in variants {
        s.push_str(&format!(
            "<tr><td>{}</td><td class=\"num\">{}</td>{}<td class=\"num\">{}</td>{}</tr>",
            esc(&crate::html::text(&v["label"])),
            esc(&crate::html::text(&v["spatial"]["n"])),
            estimate_cell(&v["spatial"]["acc_05"]),
            esc(&crate::html::text(&v["non_spatial"]["n"])),
            estimate_cell(&v["non_spatial"]["acc_05"]),
        ));
    }
    s.push_str("</tbody></table>");
    if let Some(paired) = sm["paired"].as_array().filter(|p| !p.is_empty()) {
        s.push_str("<table class=\"summary-paired\"><caption>Paired tests from summary.json (each variant against the first)</caption><thead><tr><th>variant</th><th>vs</th><th>n</th><th>Acc@0.5: a only</th><th>b only</th><th>McNemar p</th><th>Δ IoU [95% CI]</th><th>bootstrap p</th></tr></thead><tbody>");
        let names = run.variants();
        let label = |id: &Value| -> String {
            let id = crate::html::text(id);
            names.iter().find(|v| v.0 == id).map_or(id, |v| v.1.clone())
        };
        for p in paired {
            s.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{}<td class=\"num\">{}</td></tr>",
                esc(&label(&p["b"])),
                esc(&label(&p["a"])),
                esc(&crate::html::text(&p["n"])),
                esc(&crate::html::text(&p["acc_05"]["a_only"])),
                esc(&crate::html::text(&p["acc_05"]["b_only"])),
                pval(f(&p["acc_05"]["p_value"])),
                estimate_cell(&p["iou"]["diff"]),
                pval(f(&p["iou"]["p_value"])),
            ));
        }
        s.push_str("</tbody></table>");
    }
    let labels: Vec<String> = variants
        .iter()
        .map(|v| crate::html::text(&v["label"]))
        .collect();
    let metric = |k: &str, name: &str| BarSeries {
        name: name.into(),
        bars: variants.iter().map(|v| est_bar(&v["all"][k])).collect(),
    };
    s.push_str("<div class=\"plots\">");
    s.push_str(&figure(bars(
        "Metrics per variant (95% CI)",
        "score",
        &labels,
        &[
            metric("miou", "mIoU"),
            metric("acc_03", "Acc@0.3"),
            metric("acc_05", "Acc@0.5"),
            metric("acc_07", "Acc@0.7"),
        ],
        Some((0.0, 1.0)),
    )));
    let part = |k: &str, name: &str| BarSeries {
        name: name.into(),
        bars: variants.iter().map(|v| est_bar(&v[k]["acc_05"])).collect(),
    };
    s.push_str(&figure(bars(
        "Acc@0.5: spatial vs other expressions (95% CI)",
        "Acc@0.5",
        &labels,
        &[part("spatial", "spatial"), part("non_spatial", "other")],
        Some((0.0, 1.0)),
    )));
    s.push_str("</div>");
    if run.timing.is_object() {
        s.push_str(&format!(
            "<p class=\"note\">Time per stage (timing.json): <code>{}</code></p>",
            esc(&run.timing.to_string())
        ));
    }
    s
}

/// Acc@IoU over thresholds and the IoU histogram, per arm, from the rows.
fn curves(arms: &[GArm]) -> String {
    let ious = |a: &GArm| -> Vec<f64> {
        a.rows
            .values()
            .filter(|r| r["error"].is_null())
            .filter_map(|r| f(&r["iou"]))
            .collect()
    };
    let series: Vec<(String, Vec<(f64, f64)>)> = arms
        .iter()
        .map(|a| {
            let v = ious(a);
            let pts = THRESHOLDS
                .iter()
                .map(|&t| {
                    let hit = v.iter().filter(|&&x| x >= t).count();
                    (
                        t,
                        if v.is_empty() {
                            f64::NAN
                        } else {
                            hit as f64 / v.len() as f64
                        },
                    )
                })
                .collect();
            (a.name.clone(), pts)
        })
        .collect();
    let bins: Vec<String> = (0..10)
        .map(|i| format!("{:.1}–{:.1}", i as f64 / 10.0, (i + 1) as f64 / 10.0))
        .collect();
    let hist: Vec<BarSeries> = arms
        .iter()
        .map(|a| BarSeries {
            name: a.name.clone(),
            bars: histogram(&ious(a), 0.0, 1.0, 10)
                .into_iter()
                .map(|c| {
                    Some(Bar {
                        value: c as f64,
                        ci: None,
                    })
                })
                .collect(),
        })
        .collect();
    format!(
        "<div class=\"plots\">{}{}</div>",
        figure(lines(
            "Acc@IoU over thresholds",
            "IoU threshold",
            "accuracy",
            &series,
            (0.05, 0.95),
            (0.0, 1.0)
        )),
        figure(bars("IoU histogram", "samples", &bins, &hist, None))
    )
}

/// One sample's card: image with the ground-truth box and each arm's prediction, the
/// expression, and each arm's IoU.
fn card(id: &str, arms: &[GArm], ctx: &Context) -> Card {
    let first = arms.iter().find_map(|a| a.rows.get(id));
    let expression = first
        .and_then(|r| r["expression"].as_str())
        .map(str::to_string)
        .or_else(|| ctx.samples.get(id).and_then(|i| i.expression.clone()))
        .unwrap_or_default();
    let mut boxes = Vec::new();
    if let Some(t) = first.and_then(|r| parse_box(&r["target"])) {
        boxes.push(Overlay {
            bbox: t,
            class: "gt",
            title: "ground truth".into(),
        });
    }
    let mut lines = String::new();
    for (i, a) in arms.iter().enumerate() {
        let Some(r) = a.rows.get(id) else { continue };
        if i < PRED.len() {
            if let Some(p) = parse_box(&r["predicted"]) {
                boxes.push(Overlay {
                    bbox: p,
                    class: PRED[i],
                    title: a.name.clone(),
                });
            }
        }
        let iou = f(&r["iou"]);
        let status = match r["error"].as_str() {
            Some(e) => format!("<span class=\"bad\">error: {}</span>", esc(&clip(e, 120))),
            None if iou.unwrap_or(0.0) >= 0.5 => "<span class=\"ok\">✓</span>".into(),
            None => "<span class=\"bad\">✗</span>".into(),
        };
        lines.push_str(&format!(
            "<li><span class=\"key {}\"></span>{}: IoU {} {}</li>",
            PRED.get(i).copied().unwrap_or(""),
            esc(&a.name),
            num(iou),
            status
        ));
    }
    let image = ctx.samples.get(id).and_then(|i| i.image.as_deref());
    let thumb = image.and_then(|p: &Path| ctx.thumbs.get(p));
    let html = format!(
        "{}<div class=\"meta\"><div class=\"id\">{}</div><div class=\"expr\">“{}”</div><ul>{}</ul></div>",
        thumb_figure(thumb, &expression, &boxes),
        esc(id),
        esc(&expression),
        lines
    );
    Card {
        text: format!("{id} {expression}"),
        html,
    }
}
