//! Box-drawing tool loop runs (`cuelab probe boxtool`): the counting scores of answering
//! directly, through the tool loop, and by the number of boxes found, with the accuracy-vs-N
//! curve; each against direct answering (McNemar); how often the box answers parsed in the
//! run's box format (from results.jsonl); box quality (precision, recall, IoU, duplicates,
//! misses); and the turns the loop took. Tables show summary.json's values.

use serde_json::Value;

use super::{arm_name, figure, Context, Section};
use crate::error::Result;
use crate::html::{esc, estimate_cell, f, num, pval, text};
use crate::plot::lines;
use crate::run::Run;

/// The `probe boxtool` section.
#[derive(Debug, Clone, Copy)]
pub struct ProbeBoxtool;

const EMPTY: &[Value] = &[];

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(EMPTY, Vec::as_slice)
}

/// How the box requests (turn 1) of a run's rows parsed.
#[derive(Debug, Default, PartialEq)]
struct ParseCounts {
    /// Answers recorded (rows without an error).
    answers: usize,
    /// With at least one box read and no malformed fragment.
    clean: usize,
    /// With at least one box read.
    with_boxes: usize,
}

fn parse_counts(run: &Run) -> ParseCounts {
    let mut c = ParseCounts::default();
    for r in run.rows.iter().filter(|r| r["error"].is_null()) {
        let p = &r["parsed"];
        let boxes = !list(&p["boxes"]).is_empty();
        let bad = !list(&p["malformed"]).is_empty();
        c.answers += 1;
        c.with_boxes += usize::from(boxes);
        c.clean += usize::from(boxes && !bad);
    }
    c
}

fn share(k: usize, n: usize) -> String {
    if n == 0 {
        "–".into()
    } else {
        num(Some(k as f64 / n as f64))
    }
}

impl Section for ProbeBoxtool {
    fn name(&self) -> &'static str {
        "probe-boxtool"
    }

    fn title(&self) -> &'static str {
        "Box-drawing tool probe"
    }

    fn accepts(&self, run: &Run) -> bool {
        run.experiment() == "probe-boxtool"
    }

    fn render(&self, runs: &[&Run], ctx: &mut Context) -> Result<String> {
        let mut series = Vec::new();
        let mut max_n = 1.0f64;
        for r in runs {
            for a in list(&r.summary["arms"]) {
                let pts: Vec<(f64, f64)> = list(&a["curve"])
                    .iter()
                    .filter_map(|p| Some((f(&p["n"])?, f(&p["stats"]["exact"]["mean"])?)))
                    .collect();
                max_n = pts.iter().map(|p| p.0).fold(max_n, f64::max);
                series.push((arm_name(runs, r, &text(&a["arm"])), pts));
            }
        }
        let mut s = format!(
            "<div class=\"plots\">{}</div>",
            figure(lines(
                "Exact count accuracy by true count N: direct, tool loop, boxes found",
                "true count N",
                "accuracy",
                &series,
                (0.0, max_n),
                (0.0, 1.0),
            ))
        );
        s.push_str("<table class=\"headline\"><thead><tr><th>run</th><th>arm</th><th>n</th><th>exact [95% CI]</th><th>MAE [95% CI]</th><th>bias [95% CI]</th><th>over</th><th>under</th><th>unparseable</th><th>Δ exact vs direct</th><th>McNemar (here/direct only)</th><th>p</th></tr></thead><tbody>");
        for r in runs {
            for a in list(&r.summary["arms"]) {
                let c = &a["stats"];
                let p = list(&r.summary["vs_direct"])
                    .iter()
                    .find(|p| p["arm"] == a["arm"]);
                s.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td>{}{}{}<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                    esc(&r.label),
                    esc(&text(&a["arm"])),
                    esc(&text(&c["exact"]["n"])),
                    estimate_cell(&c["exact"]),
                    estimate_cell(&c["mae"]),
                    estimate_cell(&c["bias"]),
                    num(f(&c["over"])),
                    num(f(&c["under"])),
                    esc(&text(&c["unparseable"])),
                    p.map_or("reference".to_string(), |p| num(f(&p["diff"]))),
                    p.map_or("–".to_string(), |p| format!(
                        "{}/{}",
                        esc(&text(&p["mcnemar"]["b_only"])),
                        esc(&text(&p["mcnemar"]["a_only"]))
                    )),
                    p.map_or("–".to_string(), |p| pval(f(&p["mcnemar"]["p_value"]))),
                ));
            }
        }
        s.push_str("</tbody></table><p class=\"note\">As in summary.json. direct: the question answered on the plain image; tool: the loop's last answer (boxes asked, drawn as numbered marks, question asked again); boxes: the number of boxes found in all turns, read as the count.</p>");
        s.push_str("<table class=\"boxes\"><thead><tr><th>run</th><th>box format</th><th>box answers</th><th>parse rate</th><th>with boxes</th><th>with malformed boxes (fragments)</th><th>no box syntax</th><th>precision [95% CI]</th><th>recall [95% CI]</th><th>mean IoU [95% CI]</th><th>duplicates</th><th>false positives</th><th>misses</th></tr></thead><tbody>");
        for r in runs {
            let c = parse_counts(r);
            let q = &r.summary["quality"];
            s.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{} ({})</td><td class=\"num\">{}</td>{}{}{}<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&r.label),
                esc(&text(&r.manifest["config"]["format"])),
                c.answers,
                share(c.clean, c.answers),
                c.with_boxes,
                esc(&text(&q["malformed_answers"])),
                esc(&text(&q["malformed_fragments"])),
                esc(&text(&q["no_box_answers"])),
                estimate_cell(&q["precision"]),
                estimate_cell(&q["recall"]),
                estimate_cell(&q["mean_iou"]),
                esc(&text(&q["duplicates"])),
                esc(&text(&q["false_positives"])),
                esc(&text(&q["misses"])),
            ));
        }
        s.push_str("</tbody></table><p class=\"note\">Parse rate: share of box requests whose answer gave at least one box and no malformed fragment (results.jsonl). Found boxes are matched one-to-one to the true boxes at the run's IoU threshold; malformed output is counted, never dropped.</p>");
        s.push_str("<table class=\"turns\"><thead><tr><th>run</th><th>max turns</th><th>images by turns taken</th><th>mean turns</th><th>ended at the limit with boxes</th></tr></thead><tbody>");
        for r in runs {
            let t = &r.summary["turns"];
            let hist: Vec<String> = list(&t["histogram"])
                .iter()
                .map(|h| format!("{} turns: {}", text(&h[0]), text(&h[1])))
                .collect();
            let max_turns = r.manifest["config"]
                .get("max_turns")
                .map_or("2".to_string(), text);
            s.push_str(&format!(
                "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&r.label),
                esc(&max_turns),
                esc(&hist.join(", ")),
                num(f(&t["mean"])),
                esc(&text(&t["at_limit"])),
            ));
        }
        s.push_str("</tbody></table>");
        for r in runs {
            s.push_str(&format!(
                "<p>{}: backend <code>{}</code>; {} image(s) could not be asked about, {} unfinished. {}, {}</p>",
                esc(&r.label),
                esc(&text(&r.manifest["backend"]["backend"])),
                esc(&text(&r.summary["errors"])),
                esc(&text(&r.summary["missing"])),
                ctx.link(r, "summary.json"),
                ctx.link(r, "results.jsonl"),
            ));
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_counts_read_the_rows() {
        let run = Run {
            dir: "r".into(),
            label: "r".into(),
            manifest: json!({"experiment": "probe-boxtool"}),
            summary: Value::Null,
            rows: vec![
                json!({"parsed": {"boxes": [{}], "malformed": [], "no_boxes": false}}),
                json!({"parsed": {"boxes": [{}], "malformed": [{}], "no_boxes": false}}),
                json!({"parsed": {"boxes": [], "malformed": [], "no_boxes": true}}),
                json!({"error": "unreadable", "parsed": {"boxes": []}}),
            ],
            clipscore: Vec::new(),
            timing: Value::Null,
        };
        assert_eq!(
            parse_counts(&run),
            ParseCounts {
                answers: 3,
                clean: 1,
                with_boxes: 2,
            }
        );
        assert_eq!(share(1, 3), "0.3333");
        assert_eq!(share(0, 0), "–");
    }
}
