//! Synthetic run directories in the runners' file formats (a grounding run with two variants
//! and a questions run with two variants, over `n` samples with their own JPEG images), for the
//! browser test and for measuring the page's size and generation time at scale
//! (`cargo run -p cuelab-report --example synth_run`). Sample texts can be set to hostile
//! strings to test escaping. The numbers are random, not a model's.

use std::io::Write;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::error::{ReportError, Result};
use crate::stats::{mcnemar_p, paired_bootstrap};

/// Text placed in some expressions and answers to test escaping.
pub const HOSTILE: &str = "<script>alert(1)</script> \"&'";

fn est(values: &[f64], seed: u64) -> Value {
    let (m, lo, hi) = paired_bootstrap(&vec![0.0; values.len()], values, seed);
    json!({"mean": m, "lo": lo, "hi": hi, "n": values.len()})
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| ReportError::io(d, e))?;
    }
    std::fs::write(path, text).map_err(|e| ReportError::io(path, e))
}

fn jsonl(rows: &[Value]) -> String {
    let mut s = String::new();
    for r in rows {
        s.push_str(&r.to_string());
        s.push('\n');
    }
    s
}

/// Write `root/images/*.jpg`, `root/samples.jsonl`, `root/grounding/` and `root/questions/`
/// for `n` samples (images `w`×`h`). Every 7th sample's expression and question carry
/// [`HOSTILE`].
pub fn write_runs(root: &Path, n: usize, w: u32, h: u32, seed: u64) -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let images = root.join("images");
    std::fs::create_dir_all(&images).map_err(|e| ReportError::io(&images, e))?;
    let colors = ["red", "green", "blue", "yellow"];
    let mut samples = Vec::new();
    let mut boxes = Vec::new();
    for i in 0..n {
        let (bw, bh) = (rng.gen_range(w / 8..w / 2), rng.gen_range(h / 8..h / 2));
        let (x0, y0) = (rng.gen_range(0..w - bw), rng.gen_range(0..h - bh));
        let bx = [x0 as f64, y0 as f64, (x0 + bw) as f64, (y0 + bh) as f64];
        let c = colors[i % colors.len()];
        let rgb = match c {
            "red" => [220u8, 40, 40],
            "green" => [40, 180, 60],
            "blue" => [40, 70, 220],
            _ => [230, 210, 40],
        };
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            if x >= x0 && x < x0 + bw && y >= y0 && y < y0 + bh {
                image::Rgb(rgb)
            } else {
                let g = (90 + (x * 60 / w) + (y * 60 / h) + ((i as u32 * 37) % 50)) as u8;
                image::Rgb([g, g, g.saturating_add(10)])
            }
        });
        let name = format!("img{i:05}.jpg");
        img.save(images.join(&name))
            .map_err(|e| ReportError::io(images.join(&name), std::io::Error::other(e)))?;
        let hostile = i % 7 == 3;
        let expr = if hostile {
            format!("the {c} box {HOSTILE}")
        } else {
            format!(
                "the {c} box on the {}",
                if x0 < w / 2 { "left" } else { "right" }
            )
        };
        let question = if hostile {
            format!("What colour is the box? {HOSTILE}")
        } else {
            "What colour is the box?".to_string()
        };
        let tgt = json!({"x0": bx[0], "y0": bx[1], "x1": bx[2], "y1": bx[3]});
        samples.push(json!({"id": format!("g{i:05}"), "dataset": "synth", "task": "grounding", "image": format!("images/{name}"), "target": tgt, "expressions": [{"raw": expr}]}));
        samples.push(json!({"id": format!("q{i:05}"), "dataset": "synth", "task": "multiple_choice", "image": format!("images/{name}"), "target": tgt, "question": question, "choices": colors, "answer_index": i % colors.len(), "qtype": if i % 2 == 0 { "color" } else { "color <b>odd</b>" }, "pair_id": format!("p{}", i / 2)}));
        boxes.push((bx, expr, c));
    }
    write_file(&root.join("samples.jsonl"), &jsonl(&samples))?;
    grounding(root, &boxes, w, h, &mut rng, seed)?;
    questions(root, n, &mut rng, seed)
}

fn grounding(
    root: &Path,
    boxes: &[([f64; 4], String, &str)],
    w: u32,
    h: u32,
    rng: &mut ChaCha8Rng,
    seed: u64,
) -> Result<()> {
    let dir = root.join("grounding");
    let variants = [
        ("baseline", "crop baseline"),
        ("redcircle", "red circle <cue>"),
    ];
    let mut rows = Vec::new();
    let mut ious: Vec<Vec<f64>> = vec![Vec::new(); 2];
    for (i, (bx, expr, _)) in boxes.iter().enumerate() {
        for (vi, (vid, _)) in variants.iter().enumerate() {
            let good = rng.gen_bool(if vi == 0 { 0.45 } else { 0.6 });
            let pred = if good {
                let mut j = |v: f64| v + rng.gen_range(-8.0..8.0);
                [j(bx[0]), j(bx[1]), j(bx[2]), j(bx[3])]
            } else {
                let (x, y) = (
                    rng.gen_range(0.0..w as f64 * 0.6),
                    rng.gen_range(0.0..h as f64 * 0.6),
                );
                [x, y, x + w as f64 * 0.3, y + h as f64 * 0.3]
            };
            let iou = iou(bx, &pred);
            ious[vi].push(iou);
            rows.push(json!({
                "key": format!("{vid}/g{i:05}/0"), "variant": vid, "sample": format!("g{i:05}/0"),
                "expression": expr, "spatial": expr.contains("left") || expr.contains("right"),
                "error": null, "proposals": 4, "fallback": false, "scores": [0.1, 0.2, 0.3, 0.4], "chosen": 0,
                "predicted": {"x0": pred[0], "y0": pred[1], "x1": pred[2], "y1": pred[3]},
                "target": {"x0": bx[0], "y0": bx[1], "x1": bx[2], "y1": bx[3]},
                "iou": iou, "crop_cosine": 0.5 + iou / 2.0,
            }));
        }
    }
    let spatial: Vec<bool> = boxes
        .iter()
        .map(|b| b.1.contains("left") || b.1.contains("right"))
        .collect();
    let metrics = |v: &[f64]| {
        let hit = |t: f64| {
            v.iter()
                .map(|&x| f64::from(u8::from(x >= t)))
                .collect::<Vec<_>>()
        };
        let cos: Vec<f64> = v.iter().map(|x| 0.5 + x / 2.0).collect();
        json!({"n": v.len(), "miou": est(v, seed), "acc_03": est(&hit(0.3), seed), "acc_05": est(&hit(0.5), seed), "acc_07": est(&hit(0.7), seed), "crop_cosine": est(&cos, seed)})
    };
    let part = |v: &[f64], want: bool| -> Vec<f64> {
        v.iter()
            .zip(&spatial)
            .filter(|(_, s)| **s == want)
            .map(|(x, _)| *x)
            .collect()
    };
    let summary_variants: Vec<Value> = variants
        .iter()
        .zip(&ious)
        .map(|((id, label), v)| json!({"id": id, "label": label, "errors": 0, "fallbacks": 0, "all": metrics(v), "spatial": metrics(&part(v, true)), "non_spatial": metrics(&part(v, false))}))
        .collect();
    let (a_only, b_only) = ious[0].iter().zip(&ious[1]).fold((0, 0), |(a, b), (x, y)| {
        (
            a + usize::from(*x >= 0.5 && *y < 0.5),
            b + usize::from(*x < 0.5 && *y >= 0.5),
        )
    });
    let (d, lo, hi) = paired_bootstrap(&ious[0], &ious[1], seed);
    let summary = json!({
        "variants": summary_variants,
        "paired": [{"a": "baseline", "b": "redcircle", "n": boxes.len(), "acc_05": {"a_only": a_only, "b_only": b_only, "p_value": mcnemar_p(a_only, b_only)}, "iou": {"diff": {"mean": d, "lo": lo, "hi": hi, "n": boxes.len()}, "p_value": 0.01}}],
    });
    let manifest = json!({
        "cuelab_version": "0.1.0", "experiment": "grounding", "config_hash": "synthetic",
        "config": {"models": ["tiny <clip>"], "method": ["baseline", "redcircle"], "seed": seed},
        "variants": variants.iter().map(|(id, l)| json!({"id": id, "label": l})).collect::<Vec<_>>(),
        "models": ["tiny-clip (sha256 0123abcd…)"],
        "data": {"samples_file": root.join("samples.jsonl").display().to_string(), "proposals": "ground truth"},
        "samples": boxes.len(), "seed": seed,
        "machine": {"os": "linux", "arch": "x86_64", "threads": 2, "host": "synth"},
        "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:01:00Z",
    });
    write_file(
        &dir.join("manifest.json"),
        &serde_json::to_string_pretty(&manifest).unwrap_or_default(),
    )?;
    write_file(
        &dir.join("summary.json"),
        &serde_json::to_string_pretty(&summary).unwrap_or_default(),
    )?;
    write_file(&dir.join("results.jsonl"), &jsonl(&rows))
}

fn questions(root: &Path, n: usize, rng: &mut ChaCha8Rng, seed: u64) -> Result<()> {
    let dir = root.join("questions");
    let colors = ["red", "green", "blue", "yellow"];
    let variants = [("plain", "plain"), ("rect", "red box")];
    let mut rows = Vec::new();
    let mut correct: Vec<Vec<f64>> = vec![Vec::new(); 2];
    for i in 0..n {
        let right = i % colors.len();
        for (vi, (vid, _)) in variants.iter().enumerate() {
            let ok = rng.gen_bool(if vi == 0 { 0.5 } else { 0.65 });
            let chosen = if ok {
                right
            } else {
                (right + 1 + rng.gen_range(0..3)) % 4
            };
            correct[vi].push(f64::from(u8::from(ok)));
            let said = if i % 7 == 3 {
                format!("{} {HOSTILE}", colors[chosen])
            } else {
                colors[chosen].to_string()
            };
            rows.push(json!({
                "key": format!("{vid}/q{i:05}"), "variant": vid, "sample_id": format!("q{i:05}"), "kind": "choice",
                "qtype": if i % 2 == 0 { "color" } else { "color <b>odd</b>" }, "pair_id": format!("p{}", i / 2),
                "shown": colors, "correct_position": right, "chosen_position": chosen, "text": said,
                "correct": ok, "unparseable": false, "from_cache": false,
            }));
        }
    }
    let by_type = |vi: usize| -> Vec<Value> {
        ["color", "color <b>odd</b>"]
            .iter()
            .enumerate()
            .map(|(t, name)| {
                let v: Vec<f64> = correct[vi]
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % 2 == t)
                    .map(|(_, x)| *x)
                    .collect();
                json!({"qtype": name, "accuracy": est(&v, seed), "unparseable": 0, "errors": 0})
            })
            .collect()
    };
    let vs: Vec<Value> = variants
        .iter()
        .enumerate()
        .map(|(vi, (id, label))| {
            let pairs: Vec<f64> = correct[vi].chunks(2).map(|c| f64::from(u8::from(c.iter().all(|x| *x > 0.5)))).collect();
            json!({"id": id, "label": label, "all": {"qtype": "all", "accuracy": est(&correct[vi], seed), "unparseable": 0, "errors": 0}, "by_type": by_type(vi), "pairs": est(&pairs, seed), "counting": null, "from_cache": 0})
        })
        .collect();
    let (a_only, b_only) = correct[0]
        .iter()
        .zip(&correct[1])
        .fold((0, 0), |(a, b), (x, y)| {
            (
                a + usize::from(*x > 0.5 && *y < 0.5),
                b + usize::from(*x < 0.5 && *y > 0.5),
            )
        });
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let summary = json!({
        "variants": vs,
        "vs_plain": [{"variant": "rect", "n": n, "diff": mean(&correct[1]) - mean(&correct[0]), "mcnemar": {"a_only": a_only, "b_only": b_only, "p_value": mcnemar_p(a_only, b_only)}}],
        "missing": 0,
    });
    let manifest = json!({
        "cuelab_version": "0.1.0", "experiment": "vqa", "config_hash": "synthetic-q",
        "config": {"cues": ["plain", "rect(color=red,width=3)"], "seed": seed},
        "variants": variants.iter().map(|(id, l)| json!({"id": id, "label": l})).collect::<Vec<_>>(),
        "backend": {"kind": "synthetic"}, "data": {"samples_file": root.join("samples.jsonl").display().to_string()},
        "questions": n, "seed": seed, "start": "2026-01-01T00:00:00Z",
    });
    write_file(
        &dir.join("manifest.json"),
        &serde_json::to_string_pretty(&manifest).unwrap_or_default(),
    )?;
    write_file(
        &dir.join("summary.json"),
        &serde_json::to_string_pretty(&summary).unwrap_or_default(),
    )?;
    let mut f =
        std::fs::File::create(dir.join("results.jsonl")).map_err(|e| ReportError::io(&dir, e))?;
    f.write_all(jsonl(&rows).as_bytes())
        .map_err(|e| ReportError::io(&dir, e))
}

/// IoU of two xyxy boxes.
fn iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let area = |x: &[f64; 4]| (x[2] - x[0]).max(0.0) * (x[3] - x[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}
