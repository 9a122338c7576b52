//! Surprisal probe runs (`cuelab probe surprisal`): bits/token per variant over the answer span
//! and the whole sequence, exactly as `summary.json`, the paired comparisons of cued variants
//! against plain images, and the dataset's total information in bits.

use serde_json::Value;

use super::{Context, Section};
use crate::error::Result;
use crate::html::{esc, estimate_cell, f, num, pval, text};
use crate::run::Run;

/// The surprisal section.
#[derive(Debug, Clone, Copy)]
pub struct Surprisal;

fn diff_cell(d: &Value) -> String {
    format!(
        "{}<td class=\"num\">{}</td>",
        estimate_cell(&d["diff"]),
        pval(f(&d["p_value"]))
    )
}

impl Section for Surprisal {
    fn name(&self) -> &'static str {
        "surprisal"
    }

    fn title(&self) -> &'static str {
        "Surprisal"
    }

    fn accepts(&self, run: &Run) -> bool {
        run.experiment() == "surprisal"
    }

    fn render(&self, runs: &[&Run], ctx: &mut Context) -> Result<String> {
        let mut s = String::from("<table class=\"headline\"><thead><tr><th>run</th><th>variant</th><th>examples</th><th>errors</th><th>answer tokens</th><th>answer bits</th><th>answer bits/token</th><th>mean answer bits/token [95% CI]</th><th>sequence tokens</th><th>sequence bits/token</th><th>mean sequence bits/token [95% CI]</th></tr></thead><tbody>");
        for r in runs {
            let empty = Vec::new();
            for v in r.summary["variants"].as_array().unwrap_or(&empty) {
                s.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{}<td class=\"num\">{}</td><td class=\"num\">{}</td>{}</tr>",
                    esc(&r.label),
                    esc(&text(&v["label"])),
                    esc(&text(&v["examples"])),
                    esc(&text(&v["errors"])),
                    esc(&text(&v["answer_tokens"])),
                    num(f(&v["answer_bits"])),
                    num(f(&v["answer_bits_per_token"])),
                    estimate_cell(&v["answer_bits_per_token_mean"]),
                    esc(&text(&v["sequence_tokens"])),
                    num(f(&v["sequence_bits_per_token"])),
                    estimate_cell(&v["sequence_bits_per_token_mean"]),
                ));
            }
        }
        s.push_str("</tbody></table><p class=\"note\">Teacher-forced surprisal under the run's model, as in summary.json. Answer span: the reply and <code>&lt;|im_end|&gt;</code>; sequence: every token after the first except image placeholders. CIs: percentile bootstrap of per-example means.</p>");
        s.push_str("<table><thead><tr><th>run</th><th>cued variant vs plain</th><th>n</th><th>Δ answer bits/token [95% CI]</th><th>p</th><th>Δ answer bits [95% CI]</th><th>p</th><th>Δ sequence bits/token [95% CI]</th><th>p</th></tr></thead><tbody>");
        for r in runs {
            let empty = Vec::new();
            for p in r.summary["paired"].as_array().unwrap_or(&empty) {
                s.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td>{}{}{}</tr>",
                    esc(&r.label),
                    esc(&text(&p["label"])),
                    esc(&text(&p["n"])),
                    diff_cell(&p["answer_bits_per_token"]),
                    diff_cell(&p["answer_bits"]),
                    diff_cell(&p["sequence_bits_per_token"]),
                ));
            }
        }
        s.push_str("</tbody></table><p class=\"note\">Paired bootstrap of the per-example difference (cued − plain) on the examples measured under both; negative: the cue makes the answer more predictable.</p>");
        for r in runs {
            s.push_str(&format!(
                "<p>{}: dataset information <b>{}</b> bits over {} answer tokens in {} examples ({} images); {} sample(s) skipped. {}, {}</p>",
                esc(&r.label),
                num(f(&r.summary["dataset_bits"])),
                esc(&text(&r.summary["dataset_tokens"])),
                esc(&text(&r.summary["dataset_examples"])),
                esc(&text(&r.summary["dataset_bits_variant"])),
                esc(&text(&r.summary["skipped_samples"])),
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
    fn renders_the_summary_and_escapes_labels() {
        let run = Run {
            dir: "r".into(),
            label: "run<1>".into(),
            manifest: json!({"experiment": "surprisal"}),
            summary: json!({
                "model": "m", "skipped_samples": 2, "dataset_bits": 283.25, "dataset_tokens": 29,
                "dataset_examples": 4, "dataset_bits_variant": "plain",
                "variants": [{"id": "plain", "label": "plain", "examples": 4, "errors": 0,
                    "answer_tokens": 29, "answer_bits": 283.25, "answer_bits_per_token": 9.7672,
                    "answer_bits_per_token_mean": {"mean": 9.6, "lo": 9.4, "hi": 10.0, "n": 4},
                    "sequence_tokens": 132, "sequence_bits": 1270.0, "sequence_bits_per_token": 9.6212,
                    "sequence_bits_per_token_mean": {"mean": 9.6, "lo": 9.5, "hi": 9.7, "n": 4}}],
                "paired": [{"variant": "cue-1", "label": "rect(color=red)<b>", "against": "plain", "n": 1,
                    "answer_bits_per_token": {"diff": {"mean": -0.1583, "lo": -0.1583, "hi": -0.1583, "n": 1}, "p_value": 0.0},
                    "answer_bits": {"diff": {"mean": -1.42, "lo": -1.42, "hi": -1.42, "n": 1}, "p_value": 0.0},
                    "sequence_bits_per_token": {"diff": {"mean": 0.01, "lo": 0.01, "hi": 0.01, "n": 1}, "p_value": 1.0}}]
            }),
            rows: Vec::new(),
            clipscore: Vec::new(),
            timing: Value::Null,
        };
        assert!(Surprisal.accepts(&run));
        let mut ctx = Context {
            max_gallery: 10,
            seed: 0,
            samples: Default::default(),
            thumbs: Default::default(),
            out_dir: None,
        };
        let html = Surprisal.render(&[&run], &mut ctx).unwrap();
        assert!(html.contains("9.7672"), "{html}");
        assert!(
            html.contains("<b>283.2500</b> bits over 29 answer tokens"),
            "{html}"
        );
        assert!(html.contains("-0.1583"));
        assert!(html.contains("rect(color=red)&lt;b&gt;"));
        assert!(html.contains("run&lt;1&gt;"));
    }
}
