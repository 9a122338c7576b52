//! `cuelab vlm`: ask an in-process Qwen3-VL about an image — generate an answer, or score a list
//! of options; optionally the surprisal of the answer and an attention heatmap over the image.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use cuelab_models::qwen3_vl::ops::{bits, image_attention_map, log_softmax};
use cuelab_models::qwen3_vl::{heatmap, prompt, GenerateOptions, Qwen3Vl};
use cuelab_models::{load_image, npy};
use serde_json::json;

use crate::exit::ExitStatus;

/// Flags of `cuelab vlm`.
#[derive(Debug, Args)]
pub struct VlmArgs {
    /// Model: a local Qwen3-VL directory or a Hugging Face id in the local hub cache.
    #[arg(long, short = 'm')]
    pub model: String,
    /// Image (repeatable; all go into one user turn, in order).
    #[arg(long = "image", value_name = "IMAGE", required = true)]
    pub images: Vec<PathBuf>,
    /// The question.
    #[arg(long)]
    pub prompt: String,
    /// Score these answer options (comma-separated) instead of generating.
    #[arg(long, value_delimiter = ',')]
    pub choices: Vec<String>,
    /// Teacher-force this answer instead of generating (for --surprisal / --attention).
    #[arg(long)]
    pub answer: Option<String>,
    /// Print the surprisal (bits per token) of the answer.
    #[arg(long)]
    pub surprisal: bool,
    /// Write an attention heatmap of the answer tokens over the first image (PNG), plus
    /// `OUT.npy` (mean map, rows x cols) and `OUT.tokens.npy` (one map per answer token).
    #[arg(long, value_name = "OUT.png")]
    pub attention: Option<PathBuf>,
    /// Decoder layers for --attention: `all`, `N` or `A..B` (end exclusive).
    #[arg(long, default_value = "all")]
    pub layers: String,
    /// Heads for --attention (comma-separated); default: mean over all heads.
    #[arg(long, value_delimiter = ',')]
    pub heads: Vec<usize>,
    /// Merge this PEFT LoRA adapter directory into the weights.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// Override the processor's max_pixels.
    #[arg(long)]
    pub max_pixels: Option<usize>,
    /// Override the processor's min_pixels.
    #[arg(long)]
    pub min_pixels: Option<usize>,
    /// New tokens at most.
    #[arg(long, default_value_t = 64)]
    pub max_new_tokens: usize,
    /// Sample with this temperature (default: greedy).
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Nucleus mass when sampling.
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f64,
    /// Sampling seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write everything as JSON to this file.
    #[arg(long, value_name = "FILE.json")]
    pub json: Option<PathBuf>,
    /// Device: cpu, or cuda[:N] (build with the `cuda` feature).
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

fn parse_layers(spec: &str, n: usize) -> Result<Vec<usize>> {
    let v: Vec<usize> = if spec == "all" {
        (0..n).collect()
    } else if let Some((a, b)) = spec.split_once("..") {
        let a: usize = a
            .trim()
            .parse()
            .with_context(|| format!("--layers `{spec}`"))?;
        let b: usize = b
            .trim()
            .parse()
            .with_context(|| format!("--layers `{spec}`"))?;
        (a..b).collect()
    } else {
        vec![spec
            .trim()
            .parse()
            .with_context(|| format!("--layers `{spec}`"))?]
    };
    if v.is_empty() || v.iter().any(|&l| l >= n) {
        bail!("--layers `{spec}`: the model has layers 0..{n}");
    }
    Ok(v)
}

/// Run `cuelab vlm`.
pub fn run(args: VlmArgs) -> Result<ExitStatus> {
    let device = cuelab_models::device(&args.device)?;
    let resolved = cuelab_models::resolve::resolve(&args.model)?;
    let model = Qwen3Vl::load_with_adapter(&resolved.dir, args.adapter.as_deref(), &device)
        .with_context(|| format!("loading model `{}`", args.model))?;
    let images = args
        .images
        .iter()
        .map(|p| load_image(p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut processor = model.processor().clone();
    if let Some(m) = args.max_pixels {
        processor.max_pixels = m;
    }
    if let Some(m) = args.min_pixels {
        processor.min_pixels = m;
    }
    if processor.min_pixels > processor.max_pixels {
        bail!(
            "min_pixels {} is larger than max_pixels {}",
            processor.min_pixels,
            processor.max_pixels
        );
    }
    let text = prompt::chat_prompt(None, images.len(), &args.prompt);
    let prepared = model.prepare_with(&processor, &images, &text)?;
    let mut report = json!({
        "model": model.id(),
        "prompt": args.prompt,
        "images": args.images.iter().zip(&prepared.images).map(|(p, im)| json!({
            "path": p.display().to_string(),
            "resized": [im.resized.0, im.resized.1],
            "grid_thw": im.grid_thw,
        })).collect::<Vec<_>>(),
        "prompt_tokens": prepared.ids.len(),
    });
    println!("model   {}", model.id());
    for (p, im) in args.images.iter().zip(&prepared.images) {
        println!(
            "image   {} -> {}x{} ({} tokens)",
            p.display(),
            im.resized.0,
            im.resized.1,
            im.num_tokens(processor.merge_size)
        );
    }

    // answer tokens: scored options do not produce one unless --answer is given
    let mut answer_ids: Option<Vec<u32>> = None;
    if !args.choices.is_empty() {
        let scores = model.score_choices(&prepared, &args.choices)?;
        let sums: Vec<f32> = scores.iter().map(|s| s.sum_logprob as f32).collect();
        let probs: Vec<f64> = log_softmax(&sums).iter().map(|l| l.exp()).collect();
        let best = scores
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.sum_logprob.total_cmp(&b.1.sum_logprob))
            .map(|(i, _)| i)
            .unwrap_or(0);
        println!(
            "{:<24} {:>10} {:>10} {:>8}",
            "option", "sum logp", "mean logp", "p"
        );
        for (s, p) in scores.iter().zip(&probs) {
            println!(
                "{:<24} {:>10.4} {:>10.4} {:>8.4}",
                s.choice, s.sum_logprob, s.mean_logprob, p
            );
        }
        println!("choice  {}", scores[best].choice);
        report["choices"] = json!(scores
            .iter()
            .zip(&probs)
            .map(|(s, p)| json!({
                "choice": s.choice, "tokens": s.tokens.len(), "sum_logprob": s.sum_logprob,
                "mean_logprob": s.mean_logprob, "probability": p,
            }))
            .collect::<Vec<_>>());
        report["choice"] = json!(scores[best].choice);
    } else if args.answer.is_none() {
        let g = model.generate(
            &prepared,
            &GenerateOptions {
                max_new_tokens: args.max_new_tokens,
                temperature: args.temperature,
                top_p: args.top_p,
                seed: args.seed,
                ..Default::default()
            },
        )?;
        println!("answer  {}", g.text);
        report["answer"] = json!(g.text);
        report["answer_tokens"] = json!(g.tokens);
        report["stopped"] = json!(g.stopped);
        answer_ids = Some(g.tokens);
    }
    if let Some(a) = &args.answer {
        answer_ids = Some(model.encode(a)?);
        report["answer"] = json!(a);
    }

    if args.surprisal {
        let Some(ids) = &answer_ids else {
            bail!("--surprisal needs an answer: give --answer, or drop --choices to generate one");
        };
        if ids.is_empty() {
            bail!("--surprisal: the answer has no tokens");
        }
        let lp = model.continuation_logprobs(&prepared, ids)?;
        let b = bits(&lp);
        let total: f64 = b.iter().sum();
        println!(
            "surprisal {:.3} bits over {} tokens = {:.3} bits/token",
            total,
            b.len(),
            total / b.len() as f64
        );
        report["surprisal"] = json!({
            "bits_total": total, "tokens": b.len(), "bits_per_token": total / b.len() as f64,
            "bits": b,
        });
    }

    if let Some(out) = &args.attention {
        let layers = parse_layers(&args.layers, model.num_layers())?;
        let heads = (!args.heads.is_empty()).then_some(args.heads.as_slice());
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
                let (_, _, att) = model.prefill(&prepared, &layers)?;
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
        let png = heatmap::overlay(&images[0], &mean, span.grid, 0.5)?;
        png.save(out)
            .with_context(|| format!("writing {}", out.display()))?;
        let grid_rows: Vec<Vec<f32>> = mean.chunks(span.grid.1).map(<[f32]>::to_vec).collect();
        let npy_mean = out.with_extension("npy");
        npy::write_f32_2d(&npy_mean, &grid_rows, span.grid.1)?;
        let npy_tokens = out.with_extension("tokens.npy");
        npy::write_f32_2d(&npy_tokens, &maps, cells)?;
        println!(
            "attention {} ({}x{} merged grid, layers {:?}) + {} + {}",
            out.display(),
            span.grid.0,
            span.grid.1,
            layers,
            npy_mean.display(),
            npy_tokens.display()
        );
        report["attention"] = json!({
            "png": out.display().to_string(), "npy": npy_mean.display().to_string(),
            "tokens_npy": npy_tokens.display().to_string(), "grid": [span.grid.0, span.grid.1],
            "layers": layers, "heads": args.heads, "queries": maps.len(),
        });
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(ExitStatus::Success)
}
