//! Question runs (`cuelab mmvp`, `cuelab ask`, the demo's `questions/`): the headline table of
//! `summary.json` (accuracy, MMVP pair accuracy, counting), accuracy per question type, the
//! summary's tests against plain, plots (accuracy per variant with CIs, per type, counting MAE
//! by true count), paired comparisons with flips, and galleries of questions with the image,
//! the options in the order shown, the chosen and the right answer.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{arm_name, clip, figure, Context, Section};
use crate::arms::{against_first, table as paired_table, Arm, Outcome};
use crate::error::Result;
use crate::gallery::{flip_galleries, gallery, Card};
use crate::html::{esc, estimate_cell, f, num, pval, slug, text};
use crate::plot::{bars, Bar, BarSeries};
use crate::run::Run;
use crate::stats::paired_bootstrap;
use crate::thumbs::{figure as thumb_figure, Overlay};

/// The questions section.
#[derive(Debug, Clone, Copy)]
pub struct Questions;

fn est_bar(e: &Value) -> Option<Bar> {
    Some(Bar {
        value: f(&e["mean"])?,
        ci: Some((f(&e["lo"])?, f(&e["hi"])?)),
    })
}

struct QArm<'a> {
    name: String,
    rows: BTreeMap<String, &'a Value>,
}

impl Section for Questions {
    fn name(&self) -> &'static str {
        "questions"
    }

    fn title(&self) -> &'static str {
        "Questions"
    }

    fn accepts(&self, run: &Run) -> bool {
        run.experiment() == "vqa"
    }

    fn render(&self, runs: &[&Run], ctx: &mut Context) -> Result<String> {
        let mut s = String::new();
        let mut arms: Vec<QArm> = Vec::new();
        for run in runs {
            s.push_str(&headline(run, ctx));
            for (id, label) in run.variants() {
                arms.push(QArm {
                    name: arm_name(runs, run, &label),
                    rows: run
                        .rows
                        .iter()
                        .filter(|r| r["variant"].as_str() == Some(id.as_str()))
                        .map(|r| (text(&r["sample_id"]), r))
                        .collect(),
                });
            }
        }
        s.push_str(&counting(&arms));
        let scored: Vec<Arm> = arms
            .iter()
            .map(|a| Arm {
                name: a.name.clone(),
                outcomes: a
                    .rows
                    .iter()
                    .filter(|(_, r)| r["error"].is_null())
                    .map(|(id, r)| {
                        let ok = r["correct"].as_bool().unwrap_or(false);
                        (
                            id.clone(),
                            Outcome {
                                ok,
                                score: f64::from(u8::from(ok)),
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
            s.push_str(&paired_table(&comps, "accuracy", None));
        }
        let all: Vec<String> = arms
            .iter()
            .flat_map(|a| a.rows.keys().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let take = ctx.max_gallery;
        let shown: Vec<&String> = all.iter().take(take).collect();
        let wrong_everywhere: Vec<&String> = all
            .iter()
            .filter(|id| {
                arms.iter()
                    .filter_map(|a| a.rows.get(*id))
                    .all(|r| !r["correct"].as_bool().unwrap_or(false))
            })
            .collect();
        let worst: Vec<&String> = wrong_everywhere
            .iter()
            .copied()
            .take(take.min(96))
            .collect();
        let mut flips: Vec<(String, Vec<String>, usize)> = Vec::new();
        for c in &comps {
            for (dir, list) in [("✓→✗", &c.lost), ("✗→✓", &c.gained)] {
                flips.push((
                    format!("{} {dir} vs {}", c.b, c.a),
                    list.iter().take(take.min(96)).cloned().collect(),
                    list.len(),
                ));
            }
        }
        let mut needed = Vec::new();
        for id in shown
            .iter()
            .chain(worst.iter())
            .copied()
            .chain(flips.iter().flat_map(|f| f.1.iter()))
        {
            if let Some(p) = ctx.samples.get(id).and_then(|i| i.image.clone()) {
                needed.push(p);
            }
        }
        ctx.thumbs.prepare(needed.iter().map(|p| p.as_path()));
        let prefix = format!(
            "q-{}",
            slug(
                &runs
                    .iter()
                    .map(|r| r.label.as_str())
                    .collect::<Vec<_>>()
                    .join("-")
            )
        );
        let card = |id: &str| card(id, &arms, ctx);
        s.push_str("<h3>Galleries</h3>");
        s.push_str(&gallery(
            &format!("{prefix}-questions"),
            "Questions",
            "In question-id order. ✓ marks the right option; each arm's choice is listed under it.",
            &shown.iter().map(|id| card(id)).collect::<Vec<_>>(),
            all.len(),
        ));
        s.push_str(&gallery(
            &format!("{prefix}-worst"),
            "Worst failures",
            "Questions every arm got wrong.",
            &worst.iter().map(|id| card(id)).collect::<Vec<_>>(),
            wrong_everywhere.len(),
        ));
        s.push_str(&flip_galleries(
            &prefix,
            &flips,
            "Right under one arm and wrong under the other.",
            card,
        ));
        Ok(s)
    }
}

fn headline(run: &Run, ctx: &Context) -> String {
    let sm = &run.summary;
    let empty = Vec::new();
    let variants = sm["variants"].as_array().unwrap_or(&empty);
    let mut s = format!(
        "<h3>Run {} <span class=\"dim\">{}</span></h3><p class=\"note\">Numbers as in {}; full rows in {}. Questions missing from the run: {}.</p>",
        esc(&run.label),
        esc(&run.dir.display().to_string()),
        ctx.link(run, "summary.json"),
        ctx.link(run, "results.jsonl"),
        esc(&text(&sm["missing"]))
    );
    s.push_str("<table class=\"headline\"><thead><tr><th>variant</th><th>n</th><th>accuracy [95% CI]</th><th>pair accuracy</th><th>count exact</th><th>count MAE</th><th>unparseable</th><th>errors</th><th>from cache</th></tr></thead><tbody>");
    for v in variants {
        let a = &v["all"];
        s.push_str(&format!(
            "<tr><td>{}</td><td class=\"num\">{}</td>{}{}{}{}<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&text(&v["label"])),
            esc(&text(&a["accuracy"]["n"])),
            estimate_cell(&a["accuracy"]),
            estimate_cell(&v["pairs"]),
            estimate_cell(&v["counting"]["exact"]),
            estimate_cell(&v["counting"]["mae"]),
            esc(&text(&a["unparseable"])),
            esc(&text(&a["errors"])),
            esc(&text(&v["from_cache"])),
        ));
    }
    s.push_str("</tbody></table>");
    // Per question type.
    let mut types: Vec<String> = Vec::new();
    for v in variants {
        for c in v["by_type"].as_array().unwrap_or(&empty) {
            let t = text(&c["qtype"]);
            if !types.contains(&t) {
                types.push(t);
            }
        }
    }
    let cell = |v: &Value, t: &str| -> Value {
        v["by_type"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| text(&c["qtype"]) == t))
            .map(|c| c["accuracy"].clone())
            .unwrap_or(Value::Null)
    };
    if !types.is_empty() {
        s.push_str("<table class=\"by-type\"><caption>Accuracy per question type</caption><thead><tr><th>type</th>");
        for v in variants {
            s.push_str(&format!("<th>{}</th>", esc(&text(&v["label"]))));
        }
        s.push_str("</tr></thead><tbody>");
        for t in &types {
            s.push_str(&format!("<tr><td>{}</td>", esc(t)));
            for v in variants {
                s.push_str(&estimate_cell(&cell(v, t)));
            }
            s.push_str("</tr>");
        }
        s.push_str("</tbody></table>");
    }
    // The summary's tests against plain, with a paired bootstrap CI from the rows.
    if let Some(vs) = sm["vs_plain"].as_array().filter(|v| !v.is_empty()) {
        let correct = |variant: &str| -> BTreeMap<String, f64> {
            run.rows
                .iter()
                .filter(|r| r["variant"].as_str() == Some(variant) && r["error"].is_null())
                .map(|r| {
                    (
                        text(&r["sample_id"]),
                        f64::from(u8::from(r["correct"].as_bool().unwrap_or(false))),
                    )
                })
                .collect()
        };
        let plain_id = run
            .variants()
            .first()
            .map(|v| v.0.clone())
            .unwrap_or_default();
        let plain = correct(&plain_id);
        s.push_str("<table class=\"summary-paired\"><caption>Each cue against plain, from summary.json (McNemar) and the rows (paired bootstrap)</caption><thead><tr><th>variant</th><th>n</th><th>Δ accuracy</th><th>plain only</th><th>cue only</th><th>McNemar p</th><th>paired bootstrap 95% CI</th></tr></thead><tbody>");
        for x in vs {
            let id = text(&x["variant"]);
            let cued = correct(&id);
            let (a, b): (Vec<f64>, Vec<f64>) = plain
                .iter()
                .filter_map(|(k, p)| cued.get(k).map(|c| (*p, *c)))
                .unzip();
            let (_, lo, hi) = paired_bootstrap(&a, &b, ctx.seed);
            s.push_str(&format!(
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">[{}, {}]</td></tr>",
                esc(&id),
                esc(&text(&x["n"])),
                num(f(&x["diff"])),
                esc(&text(&x["mcnemar"]["a_only"])),
                esc(&text(&x["mcnemar"]["b_only"])),
                pval(f(&x["mcnemar"]["p_value"])),
                num(Some(lo)),
                num(Some(hi)),
            ));
        }
        s.push_str("</tbody></table>");
    }
    let labels: Vec<String> = variants.iter().map(|v| text(&v["label"])).collect();
    s.push_str("<div class=\"plots\">");
    let mut acc = vec![BarSeries {
        name: "accuracy".into(),
        bars: variants
            .iter()
            .map(|v| est_bar(&v["all"]["accuracy"]))
            .collect(),
    }];
    if variants.iter().any(|v| !v["pairs"].is_null()) {
        acc.push(BarSeries {
            name: "pair accuracy".into(),
            bars: variants.iter().map(|v| est_bar(&v["pairs"])).collect(),
        });
    }
    s.push_str(&figure(bars(
        "Accuracy per variant (95% CI)",
        "accuracy",
        &labels,
        &acc,
        Some((0.0, 1.0)),
    )));
    if !types.is_empty() {
        let series: Vec<BarSeries> = variants
            .iter()
            .map(|v| BarSeries {
                name: text(&v["label"]),
                bars: types.iter().map(|t| est_bar(&cell(v, t))).collect(),
            })
            .collect();
        s.push_str(&figure(bars(
            "Accuracy per question type (95% CI)",
            "accuracy",
            &types,
            &series,
            Some((0.0, 1.0)),
        )));
    }
    s.push_str("</div>");
    s
}

/// Counting MAE by true count, per arm, with bootstrap CIs (only when there are counting rows).
fn counting(arms: &[QArm]) -> String {
    let mut counts: BTreeSet<i64> = BTreeSet::new();
    for a in arms {
        for r in a.rows.values() {
            if let Some(c) = r["count_true"].as_i64() {
                counts.insert(c);
            }
        }
    }
    if counts.is_empty() {
        return String::new();
    }
    let groups: Vec<String> = counts.iter().map(|c| c.to_string()).collect();
    let series: Vec<BarSeries> = arms
        .iter()
        .map(|a| BarSeries {
            name: a.name.clone(),
            bars: counts
                .iter()
                .map(|&c| {
                    let errs: Vec<f64> = a
                        .rows
                        .values()
                        .filter(|r| r["count_true"].as_i64() == Some(c))
                        .filter_map(|r| Some((r["count_answer"].as_i64()? - c).abs() as f64))
                        .collect();
                    if errs.is_empty() {
                        return None;
                    }
                    let zeros = vec![0.0; errs.len()];
                    let (m, lo, hi) = paired_bootstrap(&zeros, &errs, 0);
                    Some(Bar {
                        value: m,
                        ci: Some((lo, hi)),
                    })
                })
                .collect(),
        })
        .collect();
    format!(
        "<div class=\"plots\">{}</div>",
        figure(bars(
            "Counting: MAE by true count (95% CI, answered rows)",
            "MAE",
            &groups,
            &series,
            None
        ))
    )
}

fn card(id: &str, arms: &[QArm], ctx: &Context) -> Card {
    let info = ctx.samples.get(id);
    let first = arms.iter().find_map(|a| a.rows.get(id));
    let question = info.and_then(|i| i.question.clone()).unwrap_or_default();
    let mut html = String::new();
    let mut boxes = Vec::new();
    if let Some(t) = info.and_then(|i| i.target) {
        boxes.push(Overlay {
            bbox: t,
            class: "gt",
            title: "object asked about".into(),
        });
    }
    let thumb = info
        .and_then(|i| i.image.as_deref())
        .and_then(|p| ctx.thumbs.get(p));
    html.push_str(&thumb_figure(thumb, &question, &boxes));
    html.push_str(&format!(
        "<div class=\"meta\"><div class=\"id\">{}",
        esc(id)
    ));
    if let Some(r) = first {
        html.push_str(&format!(" · {}", esc(&text(&r["qtype"]))));
        if let Some(p) = r["pair_id"].as_str() {
            html.push_str(&format!(" · pair {}", esc(p)));
        }
    }
    html.push_str("</div>");
    if question.is_empty() {
        html.push_str("<div class=\"expr dim\">(question text not in the run directory; pass --samples)</div>");
    } else {
        html.push_str(&format!("<div class=\"expr\">{}</div>", esc(&question)));
    }
    let mut search = format!("{id} {question}");
    // Options in the order the first arm showed them.
    if let Some(r) = first {
        let shown: Vec<String> = r["shown"]
            .as_array()
            .map(|a| a.iter().map(text).collect())
            .unwrap_or_default();
        let right = r["correct_position"].as_u64().map(|x| x as usize);
        if !shown.is_empty() {
            html.push_str("<ol class=\"opts\" type=\"A\">");
            for (i, o) in shown.iter().enumerate() {
                let mark = if Some(i) == right {
                    " <span class=\"ok\">✓ right</span>"
                } else {
                    ""
                };
                html.push_str(&format!("<li>{}{mark}</li>", esc(o)));
                search.push(' ');
                search.push_str(o);
            }
            html.push_str("</ol>");
        }
        if let Some(c) = r["count_true"].as_i64() {
            html.push_str(&format!("<div>true count: {c}</div>"));
        }
    }
    html.push_str("<ul>");
    for a in arms {
        let Some(r) = a.rows.get(id) else { continue };
        let shown: Vec<String> = r["shown"]
            .as_array()
            .map(|x| x.iter().map(text).collect())
            .unwrap_or_default();
        let chosen = r["chosen_position"]
            .as_u64()
            .and_then(|p| shown.get(p as usize).cloned())
            .or_else(|| r["count_answer"].as_i64().map(|c| c.to_string()))
            .unwrap_or_else(|| "(none)".into());
        let status = match r["error"].as_str() {
            Some(e) => format!("<span class=\"bad\">error: {}</span>", esc(&clip(e, 120))),
            None if r["correct"].as_bool() == Some(true) => "<span class=\"ok\">✓</span>".into(),
            None if r["unparseable"].as_bool() == Some(true) => {
                "<span class=\"bad\">✗ unparseable</span>".into()
            }
            None => "<span class=\"bad\">✗</span>".into(),
        };
        let said = text(&r["text"]);
        html.push_str(&format!(
            "<li>{}: chose “{}” {}{}</li>",
            esc(&a.name),
            esc(&clip(&chosen, 80)),
            status,
            if said.is_empty() || said == chosen {
                String::new()
            } else {
                format!("<div class=\"said\">said: {}</div>", esc(&clip(&said, 200)))
            }
        ));
    }
    html.push_str("</ul></div>");
    Card { text: search, html }
}
