//! Caption evaluation (`cuelab caption-eval --out DIR`): corpus scores exactly as
//! `summary.json`, per-image means with bootstrap CIs from `per_image.jsonl` and
//! `clipscore.jsonl`, plots per run (a run is a prompt or a config), paired differences between
//! runs on the images both scored, and galleries of images with their scores (lowest CIDEr-D
//! first among the worst).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

use super::{figure, Context, Section};
use crate::error::Result;
use crate::gallery::{gallery, Card};
use crate::html::{esc, f, num, slug, text};
use crate::plot::{bars, histogram, Bar, BarSeries};
use crate::run::Run;
use crate::stats::paired_bootstrap;
use crate::thumbs::figure as thumb_figure;

/// The caption-evaluation section.
#[derive(Debug, Clone, Copy)]
pub struct Captions;

/// Per-image scores of one run.
struct CRun<'a> {
    run: &'a Run,
    per_image: BTreeMap<String, &'a Value>,
    clip: BTreeMap<String, &'a Value>,
}

fn mean_ci(values: &[f64], seed: u64) -> (f64, f64, f64) {
    paired_bootstrap(&vec![0.0; values.len()], values, seed)
}

fn ci_cell(v: (f64, f64, f64)) -> String {
    format!(
        "<td class=\"num\">{} <span class=\"ci\">[{}, {}]</span></td>",
        num(Some(v.0)),
        num(Some(v.1)),
        num(Some(v.2))
    )
}

impl CRun<'_> {
    fn col(&self, k: &str) -> Vec<f64> {
        self.per_image.values().filter_map(|r| f(&r[k])).collect()
    }
    fn clip_col(&self, k: &str) -> Vec<f64> {
        self.clip.values().filter_map(|r| f(&r[k])).collect()
    }
}

impl Section for Captions {
    fn name(&self) -> &'static str {
        "captions"
    }

    fn title(&self) -> &'static str {
        "Caption evaluation"
    }

    fn accepts(&self, run: &Run) -> bool {
        run.experiment() == "caption"
    }

    fn render(&self, runs: &[&Run], ctx: &mut Context) -> Result<String> {
        let cruns: Vec<CRun> = runs
            .iter()
            .map(|r| CRun {
                run: r,
                per_image: r.rows.iter().map(|x| (text(&x["image_id"]), x)).collect(),
                clip: r
                    .clipscore
                    .iter()
                    .map(|x| (text(&x["image_id"]), x))
                    .collect(),
            })
            .collect();
        let mut s = String::from("<table class=\"headline\"><thead><tr><th>run</th><th>images</th><th>CIDEr-D</th><th>BLEU-1</th><th>BLEU-2</th><th>BLEU-3</th><th>BLEU-4</th><th>ROUGE-L</th><th>skipped</th><th>CIDEr-D per image [95% CI]</th><th>ROUGE-L per image [95% CI]</th><th>CLIPScore [95% CI]</th><th>RefCLIPScore [95% CI]</th></tr></thead><tbody>");
        for c in &cruns {
            let sm = &c.run.summary;
            let bleu = |k: usize| num(f(&sm["bleu"][k]));
            let clip = if c.clip.is_empty() {
                "<td>–</td><td>–</td>".to_string()
            } else {
                format!(
                    "{}{}",
                    ci_cell(mean_ci(&c.clip_col("clip_score"), ctx.seed)),
                    ci_cell(mean_ci(&c.clip_col("ref_clip_score"), ctx.seed))
                )
            };
            s.push_str(&format!(
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\" title=\"{}\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{}{}{}</tr>",
                esc(&c.run.label),
                esc(&text(&sm["images"])),
                esc(&text(&sm["cider_d"])),
                num(f(&sm["cider_d"])),
                bleu(0),
                bleu(1),
                bleu(2),
                bleu(3),
                num(f(&sm["rouge_l"])),
                sm["skipped"].as_array().map_or(0, Vec::len),
                ci_cell(mean_ci(&c.col("cider_d"), ctx.seed)),
                ci_cell(mean_ci(&c.col("rouge_l"), ctx.seed)),
                clip,
            ));
        }
        s.push_str("</tbody></table><p class=\"note\">Corpus scores as in summary.json (BLEU is corpus-level: no per-image CI). CIs: percentile bootstrap of per-image means from per_image.jsonl and clipscore.jsonl (1000 resamples), computed by the report.</p>");
        for c in &cruns {
            s.push_str(&format!(
                "<p class=\"note\">{}: {}, {}{}</p>",
                esc(&c.run.label),
                ctx.link(c.run, "summary.json"),
                ctx.link(c.run, "per_image.jsonl"),
                if c.clip.is_empty() {
                    String::new()
                } else {
                    format!(", {}", ctx.link(c.run, "clipscore.jsonl"))
                }
            ));
        }
        // Plots: metrics per run, histogram of per-image CIDEr-D.
        let labels: Vec<String> = cruns.iter().map(|c| c.run.label.clone()).collect();
        let metric = |name: &str, get: &dyn Fn(&CRun) -> Vec<f64>| BarSeries {
            name: name.into(),
            bars: cruns
                .iter()
                .map(|c| {
                    let v = get(c);
                    if v.is_empty() {
                        return None;
                    }
                    let (m, lo, hi) = mean_ci(&v, ctx.seed);
                    Some(Bar {
                        value: m,
                        ci: Some((lo, hi)),
                    })
                })
                .collect(),
        };
        let mut series = vec![
            metric("CIDEr-D", &|c| c.col("cider_d")),
            metric("ROUGE-L", &|c| c.col("rouge_l")),
        ];
        if cruns.iter().any(|c| !c.clip.is_empty()) {
            series.push(metric("CLIPScore", &|c| c.clip_col("clip_score")));
        }
        let top = cruns
            .iter()
            .flat_map(|c| c.col("cider_d"))
            .fold(1.0f64, f64::max)
            .min(10.0);
        let hist: Vec<BarSeries> = cruns
            .iter()
            .map(|c| BarSeries {
                name: c.run.label.clone(),
                bars: histogram(&c.col("cider_d"), 0.0, top, 10)
                    .into_iter()
                    .map(|n| {
                        Some(Bar {
                            value: n as f64,
                            ci: None,
                        })
                    })
                    .collect(),
            })
            .collect();
        let bins: Vec<String> = (0..10)
            .map(|i| format!("{:.2}", top * i as f64 / 10.0))
            .collect();
        s.push_str(&format!(
            "<div class=\"plots\">{}{}</div>",
            figure(bars(
                "Per-image means per run (95% CI)",
                "score",
                &labels,
                &series,
                None
            )),
            figure(bars(
                "Per-image CIDEr-D histogram",
                "images",
                &bins,
                &hist,
                None
            ))
        ));
        // Paired differences against the first run.
        if cruns.len() > 1 {
            s.push_str("<h3>Paired comparisons across runs</h3><table class=\"paired\"><thead><tr><th>run</th><th>vs</th><th>n matched</th><th>Δ CIDEr-D [95% CI]</th><th>Δ ROUGE-L [95% CI]</th><th>Δ CLIPScore [95% CI]</th></tr></thead><tbody>");
            let a = &cruns[0];
            for b in &cruns[1..] {
                let diff = |m: &BTreeMap<String, &Value>, n: &BTreeMap<String, &Value>, k: &str| {
                    let (x, y): (Vec<f64>, Vec<f64>) = m
                        .iter()
                        .filter_map(|(id, r)| Some((f(&r[k])?, f(&n.get(id)?[k])?)))
                        .unzip();
                    (x.len(), paired_bootstrap(&x, &y, ctx.seed))
                };
                let (n, cd) = diff(&a.per_image, &b.per_image, "cider_d");
                let (_, rl) = diff(&a.per_image, &b.per_image, "rouge_l");
                let (nc, cs) = diff(&a.clip, &b.clip, "clip_score");
                s.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td class=\"num\">{n}</td>{}{}{}</tr>",
                    esc(&b.run.label),
                    esc(&a.run.label),
                    ci_cell(cd),
                    ci_cell(rl),
                    if nc > 0 {
                        ci_cell(cs)
                    } else {
                        "<td>–</td>".into()
                    }
                ));
            }
            s.push_str("</tbody></table>");
        }
        // Galleries.
        let ids: Vec<String> = cruns
            .iter()
            .flat_map(|c| c.per_image.keys().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let take = ctx.max_gallery;
        let mut worst: Vec<(&String, f64)> = ids
            .iter()
            .map(|id| {
                (
                    id,
                    cruns[0]
                        .per_image
                        .get(id)
                        .and_then(|r| f(&r["cider_d"]))
                        .unwrap_or(f64::INFINITY),
                )
            })
            .collect();
        worst.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(b.0)));
        let worst: Vec<&String> = worst.into_iter().map(|w| w.0).take(take.min(96)).collect();
        let shown: Vec<&String> = ids.iter().take(take).collect();
        let image_of = |id: &str| -> Option<PathBuf> {
            cruns
                .iter()
                .find_map(|c| {
                    let p = PathBuf::from(c.clip.get(id)?["image"].as_str()?);
                    // Relative paths: as given, else against the run directory.
                    Some(if p.is_relative() && !p.exists() {
                        c.run.dir.join(p)
                    } else {
                        p
                    })
                })
                .or_else(|| ctx.samples.get(id).and_then(|i| i.image.clone()))
        };
        let needed: Vec<PathBuf> = shown
            .iter()
            .chain(worst.iter())
            .filter_map(|id| image_of(id))
            .collect();
        ctx.thumbs.prepare(needed.iter().map(|p| p.as_path()));
        let card = |id: &str| -> Card {
            let thumb = image_of(id).and_then(|p| ctx.thumbs.get(&p).cloned());
            let mut html = thumb_figure(thumb.as_ref(), id, &[]);
            html.push_str(&format!(
                "<div class=\"meta\"><div class=\"id\">image {}</div><ul>",
                esc(id)
            ));
            for c in &cruns {
                let r = c.per_image.get(id);
                let g = |k: &str| num(r.and_then(|r| f(&r[k])));
                let cs = c.clip.get(id).and_then(|r| f(&r["clip_score"]));
                html.push_str(&format!(
                    "<li>{}: CIDEr-D {} · BLEU-4 {} · ROUGE-L {}{}</li>",
                    esc(&c.run.label),
                    g("cider_d"),
                    num(r.and_then(|r| f(&r["bleu"][3]))),
                    g("rouge_l"),
                    cs.map(|x| format!(" · CLIPScore {}", num(Some(x))))
                        .unwrap_or_default()
                ));
            }
            html.push_str("</ul></div>");
            Card {
                text: id.to_string(),
                html,
            }
        };
        let prefix = format!("c-{}", slug(&labels.join("-")));
        s.push_str("<h3>Galleries</h3>");
        s.push_str(&gallery(
            &format!("{prefix}-images"),
            "Images",
            "In image-id order (captions themselves are not stored in the run directory).",
            &shown.iter().map(|id| card(id)).collect::<Vec<_>>(),
            ids.len(),
        ));
        s.push_str(&gallery(
            &format!("{prefix}-worst"),
            "Worst failures",
            "Lowest CIDEr-D under the first run.",
            &worst.iter().map(|id| card(id)).collect::<Vec<_>>(),
            ids.len(),
        ));
        Ok(s)
    }
}
