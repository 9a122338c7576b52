//! Ask an in-process Qwen3-VL about images (`cuelab vlm`): generate an answer or score a list
//! of options, optionally the surprisal of the answer and an attention heatmap over the first
//! image (PNG plus `.npy` maps).
//!
//! One call, [`ask_vlm`], does it all; the human-readable lines go to a callback as soon as
//! each step finishes (so a later failure leaves the earlier lines printed), and the whole
//! result comes back as the JSON report `cuelab vlm --json` writes.

use std::path::{Path, PathBuf};

use cuelab_models::qwen3_vl::ops::{bits, image_attention_map, log_softmax};
use cuelab_models::qwen3_vl::{heatmap, prompt, GenerateOptions, Qwen3Vl};
use cuelab_models::{load_image, npy};
use serde_json::{json, Value};

use crate::{Result, TaskError};

/// What to ask and what to compute; the defaults are those of `cuelab vlm`.
#[derive(Debug, Clone)]
pub struct VlmAskSettings {
    /// A local Qwen3-VL directory or a Hugging Face id in the local hub cache.
    pub model: String,
    /// Images, all in one user turn, in order.
    pub images: Vec<PathBuf>,
    /// The question.
    pub prompt: String,
    /// Score these options instead of generating (empty: generate).
    pub choices: Vec<String>,
    /// Teacher-force this answer instead of generating.
    pub answer: Option<String>,
    /// Compute the surprisal (bits per token) of the answer.
    pub surprisal: bool,
    /// Write an attention heatmap over the first image here (PNG, plus `.npy` and
    /// `.tokens.npy` next to it).
    pub attention: Option<PathBuf>,
    /// Decoder layers of the heatmap: `all`, `N` or `A..B` (end exclusive).
    pub layers: String,
    /// Heads of the heatmap (empty: mean over all heads).
    pub heads: Vec<usize>,
    /// PEFT LoRA adapter directory merged into the weights.
    pub adapter: Option<PathBuf>,
    /// Override of the processor's max_pixels.
    pub max_pixels: Option<usize>,
    /// Override of the processor's min_pixels.
    pub min_pixels: Option<usize>,
    /// Generation settings (only `max_new_tokens`, `temperature`, `top_p`, `seed` are used).
    pub generate: GenerateOptions,
    /// Device: `cpu` or `cuda[:N]`.
    pub device: String,
    /// Also write the JSON report to this file.
    pub json: Option<PathBuf>,
}

impl Default for VlmAskSettings {
    fn default() -> Self {
        VlmAskSettings {
            model: String::new(),
            images: Vec::new(),
            prompt: String::new(),
            choices: Vec::new(),
            answer: None,
            surprisal: false,
            attention: None,
            layers: "all".into(),
            heads: Vec::new(),
            adapter: None,
            max_pixels: None,
            min_pixels: None,
            generate: GenerateOptions::default(),
            device: "cpu".into(),
            json: None,
        }
    }
}

/// The decoder layers named by `spec` (`all`, `N` or `A..B`, end exclusive) of a model with `n`
/// layers; an error names `--layers`.
pub fn parse_layers(spec: &str, n: usize) -> Result<Vec<usize>> {
    let number = |s: &str| {
        s.trim().parse::<usize>().map_err(|e| TaskError::BadNumber {
            option: "--layers".into(),
            value: spec.to_string(),
            source: e,
        })
    };
    let v: Vec<usize> = if spec == "all" {
        (0..n).collect()
    } else if let Some((a, b)) = spec.split_once("..") {
        let a = number(a)?;
        let b = number(b)?;
        (a..b).collect()
    } else {
        vec![number(spec)?]
    };
    if v.is_empty() || v.iter().any(|&l| l >= n) {
        return Err(TaskError::Usage(format!(
            "--layers `{spec}`: the model has layers 0..{n}"
        )));
    }
    Ok(v)
}

/// Load the model, ask, and compute what `settings` ask for; every finished step's lines go to
/// `line` (the model, each image, the option table, the answer, the surprisal, the attention
/// files). Writes the attention files and the JSON report when asked; returns the report.
pub fn ask_vlm(settings: &VlmAskSettings, line: &mut dyn FnMut(&str)) -> Result<Value> {
    let s = settings;
    let device = cuelab_models::device(&s.device)?;
    let resolved = cuelab_models::resolve::resolve(&s.model)?;
    let model = Qwen3Vl::load_with_adapter(
        &resolved.dir,
        s.adapter.as_deref(),
        &cuelab_models::LoadOptions::default().with_device(device),
    )
    .map_err(|e| TaskError::LoadModel {
        model: s.model.clone(),
        source: Box::new(e),
    })?;
    let images = s
        .images
        .iter()
        .map(|p| load_image(p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut processor = model.processor().clone();
    if let Some(m) = s.max_pixels {
        processor.max_pixels = m;
    }
    if let Some(m) = s.min_pixels {
        processor.min_pixels = m;
    }
    if processor.min_pixels > processor.max_pixels {
        return Err(TaskError::Usage(format!(
            "min_pixels {} is larger than max_pixels {}",
            processor.min_pixels, processor.max_pixels
        )));
    }
    let text = prompt::chat_prompt(None, images.len(), &s.prompt);
    let prepared = model.prepare_with(&processor, &images, &text)?;
    let mut report = json!({
        "model": model.id(),
        "prompt": s.prompt,
        "images": s.images.iter().zip(&prepared.images).map(|(p, im)| json!({
            "path": p.display().to_string(),
            "resized": [im.resized.0, im.resized.1],
            "grid_thw": im.grid_thw,
        })).collect::<Vec<_>>(),
        "prompt_tokens": prepared.ids.len(),
    });
    line(&format!("model   {}", model.id()));
    for (p, im) in s.images.iter().zip(&prepared.images) {
        line(&format!(
            "image   {} -> {}x{} ({} tokens)",
            p.display(),
            im.resized.0,
            im.resized.1,
            im.num_tokens(processor.merge_size)
        ));
    }

    // answer tokens: scored options do not produce one unless an answer is given
    let mut answer_ids: Option<Vec<u32>> = None;
    if !s.choices.is_empty() {
        let scores = model.score_choices(&prepared, &s.choices)?;
        let sums: Vec<f32> = scores.iter().map(|c| c.sum_logprob as f32).collect();
        let probs: Vec<f64> = log_softmax(&sums).iter().map(|l| l.exp()).collect();
        let best = scores
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.sum_logprob.total_cmp(&b.1.sum_logprob))
            .map(|(i, _)| i)
            .unwrap_or(0);
        line(&format!(
            "{:<24} {:>10} {:>10} {:>8}",
            "option", "sum logp", "mean logp", "p"
        ));
        for (c, p) in scores.iter().zip(&probs) {
            line(&format!(
                "{:<24} {:>10.4} {:>10.4} {:>8.4}",
                c.choice, c.sum_logprob, c.mean_logprob, p
            ));
        }
        line(&format!("choice  {}", scores[best].choice));
        report["choices"] = json!(scores
            .iter()
            .zip(&probs)
            .map(|(c, p)| json!({
                "choice": c.choice, "tokens": c.tokens.len(), "sum_logprob": c.sum_logprob,
                "mean_logprob": c.mean_logprob, "probability": p,
            }))
            .collect::<Vec<_>>());
        report["choice"] = json!(scores[best].choice);
    } else if s.answer.is_none() {
        let g = model.generate(
            &prepared,
            &GenerateOptions {
                max_new_tokens: s.generate.max_new_tokens,
                temperature: s.generate.temperature,
                top_p: s.generate.top_p,
                seed: s.generate.seed,
                ..Default::default()
            },
        )?;
        line(&format!("answer  {}", g.text));
        report["answer"] = json!(g.text);
        report["answer_tokens"] = json!(g.tokens);
        report["stopped"] = json!(g.stopped);
        answer_ids = Some(g.tokens);
    }
    if let Some(a) = &s.answer {
        answer_ids = Some(model.encode(a)?);
        report["answer"] = json!(a);
    }

    if s.surprisal {
        let Some(ids) = &answer_ids else {
            return Err(TaskError::Usage(
                "--surprisal needs an answer: give --answer, or drop --choices to generate one"
                    .into(),
            ));
        };
        if ids.is_empty() {
            return Err(TaskError::Usage(
                "--surprisal: the answer has no tokens".into(),
            ));
        }
        let lp = model.continuation_logprobs(&prepared, ids)?;
        let b = bits(&lp);
        let total: f64 = b.iter().sum();
        line(&format!(
            "surprisal {:.3} bits over {} tokens = {:.3} bits/token",
            total,
            b.len(),
            total / b.len() as f64
        ));
        report["surprisal"] = json!({
            "bits_total": total, "tokens": b.len(), "bits_per_token": total / b.len() as f64,
            "bits": b,
        });
    }

    if let Some(out) = &s.attention {
        report["attention"] = attention(s, &model, &prepared, &images[0], answer_ids, out, line)?;
    }
    if let Some(path) = &s.json {
        write_report(path, &report)?;
    }
    Ok(report)
}

/// The attention heatmap of the answer tokens (or of the prompt's last token) over the first
/// image: writes `out` (PNG), `out.npy` (mean map) and `out.tokens.npy` (one map per query).
fn attention(
    s: &VlmAskSettings,
    model: &Qwen3Vl,
    prepared: &cuelab_models::qwen3_vl::Prepared,
    image: &image::RgbImage,
    answer_ids: Option<Vec<u32>>,
    out: &Path,
    line: &mut dyn FnMut(&str),
) -> Result<Value> {
    let layers = parse_layers(&s.layers, model.num_layers())?;
    let heads = (!s.heads.is_empty()).then_some(s.heads.as_slice());
    // teacher-forced run over prompt + answer (or the prompt's last token alone)
    let (maps, span) = match answer_ids.as_deref().filter(|a| !a.is_empty()) {
        Some(ans) => {
            let p2 = prepared.with_suffix(ans);
            let (_, _, att) = model.prefill(&p2, &layers)?;
            let span = p2.spans[0];
            let n0 = prepared.ids.len();
            // the query that predicts answer token i is position n0 - 1 + i
            let maps = (0..ans.len())
                .map(|i| image_attention_map(&att, &layers, heads, n0 - 1 + i..n0 + i, &span))
                .collect::<Result<Vec<_>, _>>()?;
            (maps, span)
        }
        None => {
            let (_, _, att) = model.prefill(prepared, &layers)?;
            let span = prepared.spans[0];
            let n = prepared.ids.len();
            (
                vec![image_attention_map(&att, &layers, heads, n - 1..n, &span)?],
                span,
            )
        }
    };
    let cells = span.grid.0 * span.grid.1;
    let mean: Vec<f32> = (0..cells)
        .map(|k| maps.iter().map(|m| m[k]).sum::<f32>() / maps.len() as f32)
        .collect();
    let png = heatmap::overlay(image, &mean, span.grid, 0.5)?;
    png.save(out).map_err(|e| TaskError::Write {
        path: out.to_path_buf(),
        source: Box::new(e),
    })?;
    let grid_rows: Vec<Vec<f32>> = mean.chunks(span.grid.1).map(<[f32]>::to_vec).collect();
    let npy_mean = out.with_extension("npy");
    npy::write_f32_2d(&npy_mean, &grid_rows, span.grid.1)?;
    let npy_tokens = out.with_extension("tokens.npy");
    npy::write_f32_2d(&npy_tokens, &maps, cells)?;
    line(&format!(
        "attention {} ({}x{} merged grid, layers {:?}) + {} + {}",
        out.display(),
        span.grid.0,
        span.grid.1,
        layers,
        npy_mean.display(),
        npy_tokens.display()
    ));
    Ok(json!({
        "png": out.display().to_string(), "npy": npy_mean.display().to_string(),
        "tokens_npy": npy_tokens.display().to_string(), "grid": [span.grid.0, span.grid.1],
        "layers": layers, "heads": s.heads, "queries": maps.len(),
    }))
}

/// Write the report as pretty JSON to `path` (`cuelab vlm --json`).
fn write_report(path: &Path, report: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(report).map_err(|e| TaskError::Write {
        path: path.to_path_buf(),
        source: Box::new(e),
    })?;
    std::fs::write(path, text).map_err(|e| TaskError::Write {
        path: path.to_path_buf(),
        source: Box::new(e),
    })
}
