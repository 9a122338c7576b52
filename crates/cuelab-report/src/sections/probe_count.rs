//! Counting probe runs: `cuelab probe count` (presentations: plain, Set-of-Mark, boxes, crops)
//! and `cuelab probe preprocess` (input transforms against the untransformed image). Both
//! write the same summary: per arm the exact-count accuracy, MAE and bias with 95% CIs, the
//! accuracy-vs-N curve, listing precision/recall/F1 and order, visual tokens (in-process
//! models), and each arm against the reference arm (accuracy difference, answer flip rate,
//! McNemar). Tables show summary.json's values; the plots are the curve (count) and the
//! per-transform accuracy (preprocess).

use serde_json::Value;

use super::{arm_name, figure, Context, Section};
use crate::error::Result;
use crate::html::{esc, estimate_cell, f, num, pval, text};
use crate::plot::{bars, lines, Bar, BarSeries};
use crate::run::Run;

/// The `probe count` section.
#[derive(Debug, Clone, Copy)]
pub struct ProbeCount;

/// The `probe preprocess` section.
#[derive(Debug, Clone, Copy)]
pub struct ProbePreprocess;

const EMPTY: &[Value] = &[];

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(EMPTY, Vec::as_slice)
}

/// `summary.variants` of a run.
fn variants(run: &Run) -> &[Value] {
    list(&run.summary["variants"])
}

/// Each arm's test against the reference, by arm id.
fn paired_of<'a>(run: &'a Run, id: &str) -> Option<&'a Value> {
    list(&run.summary["vs_reference"])
        .iter()
        .find(|p| p["arm"].as_str() == Some(id))
}

fn opt_num(v: &Value) -> String {
    num(f(v))
}

/// The accuracy-vs-N curve: one line per arm (per run and arm when several runs).
fn curve_plot(runs: &[&Run]) -> String {
    let mut series = Vec::new();
    let mut max_n = 1.0f64;
    for r in runs {
        for v in variants(r) {
            let pts: Vec<(f64, f64)> = list(&v["curve"])
                .iter()
                .filter_map(|p| Some((f(&p["n"])?, f(&p["stats"]["exact"]["mean"])?)))
                .collect();
            max_n = pts.iter().map(|p| p.0).fold(max_n, f64::max);
            series.push((arm_name(runs, r, &text(&v["label"])), pts));
        }
    }
    figure(lines(
        "Exact count accuracy by true count N",
        "true count N",
        "accuracy",
        &series,
        (0.0, max_n),
        (0.0, 1.0),
    ))
}

/// The headline table: every arm's counting and listing scores, as summary.json.
fn headline(runs: &[&Run], arm: &str) -> String {
    let mut s = format!("<table class=\"headline\"><thead><tr><th>run</th><th>{arm}</th><th>n</th><th>exact [95% CI]</th><th>MAE [95% CI]</th><th>bias [95% CI]</th><th>over</th><th>under</th><th>unparseable</th><th>list P [95% CI]</th><th>list R [95% CI]</th><th>list F1 [95% CI]</th><th>order [95% CI]</th><th>errors</th><th>visual tokens</th></tr></thead><tbody>");
    for r in runs {
        for v in variants(r) {
            let c = &v["count"];
            let l = &v["listing"];
            let cell = estimate_cell;
            s.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td>{}{}{}<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{}{}{}{}<td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&r.label),
                esc(&text(&v["label"])),
                esc(&text(&c["exact"]["n"])),
                cell(&c["exact"]),
                cell(&c["mae"]),
                cell(&c["bias"]),
                opt_num(&c["over"]),
                opt_num(&c["under"]),
                esc(&text(&c["unparseable"])),
                cell(&l["precision"]),
                cell(&l["recall"]),
                cell(&l["f1"]),
                cell(&l["order"]),
                esc(&text(&v["errors"])),
                opt_num(&v["visual_tokens"]),
            ));
        }
    }
    s.push_str("</tbody></table>");
    s
}

/// Each arm against the reference: accuracy difference, flip rate and McNemar.
fn paired_table(runs: &[&Run], arm: &str) -> String {
    let mut s = format!("<table class=\"paired\"><thead><tr><th>run</th><th>{arm}</th><th>vs</th><th>n</th><th>Δ exact</th><th>answers flipped</th><th>right only here</th><th>right only in reference</th><th>McNemar p</th></tr></thead><tbody>");
    for r in runs {
        for p in list(&r.summary["vs_reference"]) {
            let label = variants(r)
                .iter()
                .find(|v| v["id"] == p["arm"])
                .map_or_else(|| text(&p["arm"]), |v| text(&v["label"]));
            s.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&r.label),
                esc(&label),
                esc(&text(&p["reference"])),
                esc(&text(&p["n"])),
                opt_num(&p["diff"]),
                opt_num(&p["flip_rate"]),
                esc(&text(&p["mcnemar"]["b_only"])),
                esc(&text(&p["mcnemar"]["a_only"])),
                pval(f(&p["mcnemar"]["p_value"])),
            ));
        }
    }
    s.push_str("</tbody></table>");
    s
}

/// The curve as a table: exact accuracy (questions) per arm by true count.
fn curve_table(run: &Run) -> String {
    let mut ns: Vec<u64> = variants(run)
        .iter()
        .flat_map(|v| list(&v["curve"]).iter().filter_map(|p| p["n"].as_u64()))
        .collect();
    ns.sort_unstable();
    ns.dedup();
    let mut s = String::from("<table class=\"curve\"><thead><tr><th>N</th>");
    for v in variants(run) {
        s.push_str(&format!("<th>{}</th>", esc(&text(&v["label"]))));
    }
    s.push_str("</tr></thead><tbody>");
    for n in ns {
        s.push_str(&format!("<tr><td class=\"num\">{n}</td>"));
        for v in variants(run) {
            let p = list(&v["curve"])
                .iter()
                .find(|p| p["n"].as_u64() == Some(n));
            s.push_str(&match p {
                Some(p) => format!(
                    "<td class=\"num\">{} ({})</td>",
                    opt_num(&p["stats"]["exact"]["mean"]),
                    esc(&text(&p["stats"]["exact"]["n"]))
                ),
                None => "<td>–</td>".into(),
            });
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

fn links(runs: &[&Run], ctx: &Context) -> String {
    let mut s = String::new();
    for r in runs {
        let missing = r.summary["missing"].as_u64().unwrap_or(0);
        s.push_str(&format!(
            "<p>{}: backend <code>{}</code>; {}, {}{}</p>",
            esc(&r.label),
            esc(&text(&r.manifest["backend"]["backend"])),
            ctx.link(r, "summary.json"),
            ctx.link(r, "results.jsonl"),
            if missing > 0 {
                format!(" — <b>{missing} question(s) unanswered</b> (rerun to resume)")
            } else {
                String::new()
            }
        ));
    }
    s
}

impl Section for ProbeCount {
    fn name(&self) -> &'static str {
        "probe-count"
    }

    fn title(&self) -> &'static str {
        "Counting and listing probe"
    }

    fn accepts(&self, run: &Run) -> bool {
        run.experiment() == "probe-count"
    }

    fn render(&self, runs: &[&Run], ctx: &mut Context) -> Result<String> {
        let mut s = format!("<div class=\"plots\">{}</div>", curve_plot(runs));
        s.push_str(&headline(runs, "presentation"));
        s.push_str("<p class=\"note\">As in summary.json. Exact: the count read from the answer equals the true count (unparseable answers are wrong); MAE and bias (answer − truth, &gt; 0 over-counts) over parseable answers; listing precision/recall/F1 of the listed items matched on attribute words, order over lists with two matched items or more. CIs: percentile bootstrap.</p>");
        s.push_str(&paired_table(runs, "presentation"));
        for r in runs {
            s.push_str(&format!(
                "<h3>{}: exact accuracy by true count N (questions)</h3>",
                esc(&r.label)
            ));
            s.push_str(&curve_table(r));
        }
        s.push_str(&links(runs, ctx));
        Ok(s)
    }
}

impl Section for ProbePreprocess {
    fn name(&self) -> &'static str {
        "probe-preprocess"
    }

    fn title(&self) -> &'static str {
        "Preprocessing sensitivity probe"
    }

    fn accepts(&self, run: &Run) -> bool {
        run.experiment() == "probe-preprocess"
    }

    fn render(&self, runs: &[&Run], ctx: &mut Context) -> Result<String> {
        // Per-transform accuracy: transforms as groups, runs as series.
        let mut groups: Vec<String> = Vec::new();
        for r in runs {
            for v in variants(r) {
                let l = text(&v["label"]);
                if !groups.contains(&l) {
                    groups.push(l);
                }
            }
        }
        let series: Vec<BarSeries> = runs
            .iter()
            .map(|r| BarSeries {
                name: r.label.clone(),
                bars: groups
                    .iter()
                    .map(|g| {
                        let v = variants(r).iter().find(|v| &text(&v["label"]) == g)?;
                        let e = &v["count"]["exact"];
                        Some(Bar {
                            value: f(&e["mean"])?,
                            ci: Some((f(&e["lo"])?, f(&e["hi"])?)),
                        })
                    })
                    .collect(),
            })
            .collect();
        let mut s = format!(
            "<div class=\"plots\">{}</div>",
            figure(bars(
                "Exact count accuracy per transform (95% CI)",
                "accuracy",
                &groups,
                &series,
                Some((0.0, 1.0)),
            ))
        );
        s.push_str("<table class=\"headline\"><thead><tr><th>run</th><th>transform</th><th>n</th><th>exact [95% CI]</th><th>MAE [95% CI]</th><th>bias [95% CI]</th><th>unparseable</th><th>Δ exact vs identity</th><th>answers flipped</th><th>McNemar (here/identity only)</th><th>p</th><th>visual tokens</th></tr></thead><tbody>");
        for r in runs {
            for v in variants(r) {
                let c = &v["count"];
                let p = v["id"].as_str().and_then(|id| paired_of(r, id));
                let pc = |k: &str| p.map_or("–".to_string(), |p| opt_num(&p[k]));
                s.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td>{}{}{}<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                    esc(&r.label),
                    esc(&text(&v["label"])),
                    esc(&text(&c["exact"]["n"])),
                    estimate_cell(&c["exact"]),
                    estimate_cell(&c["mae"]),
                    estimate_cell(&c["bias"]),
                    esc(&text(&c["unparseable"])),
                    pc("diff"),
                    pc("flip_rate"),
                    p.map_or("reference".to_string(), |p| format!(
                        "{}/{}",
                        esc(&text(&p["mcnemar"]["b_only"])),
                        esc(&text(&p["mcnemar"]["a_only"]))
                    )),
                    p.map_or("–".to_string(), |p| pval(f(&p["mcnemar"]["p_value"]))),
                    opt_num(&v["visual_tokens"]),
                ));
            }
        }
        s.push_str("</tbody></table><p class=\"note\">As in summary.json. Each transform is compared with the untransformed image (identity) on the same questions: accuracy difference, share of answers that changed, McNemar's exact test on the discordant pairs. Visual tokens: mean per shown image under the in-process model's processor (– for served models and CLIP).</p>");
        let has_lists = runs
            .iter()
            .any(|r| variants(r).iter().any(|v| !v["listing"].is_null()));
        if has_lists {
            s.push_str(&headline(runs, "transform"));
        }
        s.push_str(&links(runs, ctx));
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Context {
        Context {
            max_gallery: 10,
            seed: 0,
            samples: Default::default(),
            thumbs: Default::default(),
            out_dir: None,
        }
    }

    fn run(experiment: &str, summary: Value) -> Run {
        Run {
            dir: "r".into(),
            label: "run<1>".into(),
            manifest: json!({"experiment": experiment, "backend": {"backend": "local-qwen3-vl"}}),
            summary,
            rows: Vec::new(),
            clipscore: Vec::new(),
            timing: Value::Null,
        }
    }

    fn est(m: f64) -> Value {
        json!({"mean": m, "lo": m - 0.1, "hi": m + 0.1, "n": 4})
    }

    fn summary() -> Value {
        let stats = |acc: f64| json!({"exact": est(acc), "mae": est(1.5), "bias": est(-0.75), "over": 0.25, "under": 0.5, "unparseable": 1});
        json!({
            "reference": "identity", "missing": 0,
            "variants": [
                {"id": "identity", "label": "identity", "count": stats(0.5), "curve": [{"n": 3, "stats": stats(0.5)}],
                 "listing": null, "errors": 0, "visual_tokens": 25.0},
                {"id": "rotate(90)", "label": "rotate(90)<b>", "count": stats(0.25), "curve": [{"n": 3, "stats": stats(0.25)}],
                 "listing": {"precision": est(0.6), "recall": est(0.4), "f1": est(0.48), "order": est(0.9), "f1_by_n": [[3, 0.48]]},
                 "errors": 1, "visual_tokens": 16.0}
            ],
            "vs_reference": [{"arm": "rotate(90)", "reference": "identity", "n": 4, "diff": -0.25, "flip_rate": 0.75,
                              "mcnemar": {"a_only": 2, "b_only": 1, "p_value": 1.0}}]
        })
    }

    #[test]
    fn preprocess_shows_transforms_tests_and_tokens_escaped() {
        let r = run("probe-preprocess", summary());
        assert!(ProbePreprocess.accepts(&r) && !ProbeCount.accepts(&r));
        let html = ProbePreprocess.render(&[&r], &mut ctx()).unwrap();
        assert!(
            html.contains("rotate(90)&lt;b&gt;") && !html.contains("(90)<b>"),
            "{html}"
        );
        assert!(html.contains("run&lt;1&gt;"));
        assert!(html.contains("<td class=\"num\">0.7500</td>"), "flip rate");
        assert!(
            html.contains("<td class=\"num\">1/2</td>"),
            "McNemar counts"
        );
        assert!(
            html.contains("25.0000") && html.contains("16.0000"),
            "visual tokens"
        );
        assert!(html.contains("<figure class=\"plot\"><svg"));
        // a listing was asked: its table follows
        assert!(html.contains("0.4800"));
    }

    #[test]
    fn count_shows_the_curve_listing_and_paired_tests() {
        let r = run("probe-count", summary());
        assert!(ProbeCount.accepts(&r));
        let html = ProbeCount.render(&[&r], &mut ctx()).unwrap();
        assert!(html.contains("Exact count accuracy by true count N"));
        assert!(
            html.contains("<td class=\"num\">0.2500 (4)</td>"),
            "curve table"
        );
        for v in ["0.6000", "0.4000", "0.4800", "0.9000", "1.5000", "-0.7500"] {
            assert!(html.contains(v), "{v}");
        }
        assert!(
            html.contains("<td>rotate(90)&lt;b&gt;</td><td>identity</td>"),
            "paired row"
        );
    }
}
