//! `cuelab caption-eval`: CIDEr-D, BLEU-1..4 and ROUGE-L identical to pycocoevalcap, no Java.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use cuelab_metrics::caption_io::{pair, parse_cands, parse_refs, Skipped};
use cuelab_metrics::{evaluate, CaptionScores};

use crate::exit::ExitStatus;

/// Flags of `cuelab caption-eval`.
#[derive(Debug, Args)]
pub struct CaptionEvalArgs {
    /// Reference captions: COCO `captions_*.json` or `{image_id: [captions]}`.
    #[arg(long, value_name = "REFS")]
    pub refs: PathBuf,
    /// Candidate captions: COCO results list or `{image_id: caption}`.
    #[arg(long, value_name = "CANDS")]
    pub cands: PathBuf,
    /// Directory for per_image.jsonl, per_image.csv and summary.json.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Image folder: also compute CLIPScore / RefCLIPScore (files found by id: `ID.jpg`,
    /// `ID.png`, COCO `..._000000ID.jpg`).
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
    /// CLIP model for CLIPScore (HF id in the local hub cache, or a local directory).
    #[arg(long, default_value = "openai/clip-vit-base-patch32")]
    pub model: String,
    /// Text prepended to candidates for CLIPScore ("" reproduces seed 002's variant).
    #[arg(long, default_value = cuelab_metrics::clipscore::DEFAULT_PREFIX)]
    pub clip_prefix: String,
    /// CLIPScore weight w.
    #[arg(long, default_value_t = cuelab_metrics::clipscore::DEFAULT_W)]
    pub clip_w: f64,
    /// Image preprocessing for CLIPScore: openai (as the clipscore reference) or hf.
    #[arg(long, default_value = "openai")]
    pub preprocess: String,
    /// Do not keep CLIPScore's embeddings in `OUT/embeddings.sqlite` (kept by default with
    /// --out, so a rerun after an interruption computes only what is missing).
    #[arg(long)]
    pub no_cache: bool,
}

/// Run `cuelab caption-eval`.
pub fn run(args: CaptionEvalArgs) -> Result<ExitStatus> {
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let (refs, mut skipped) =
        parse_refs(&read(&args.refs)?).with_context(|| args.refs.display().to_string())?;
    let (cands, s2) =
        parse_cands(&read(&args.cands)?).with_context(|| args.cands.display().to_string())?;
    skipped.extend(s2);
    let (set, s3) = pair(refs, cands);
    skipped.extend(s3);
    let scores = evaluate(&set).context("no image has both a candidate and references")?;
    print_table(&scores, &skipped);
    let clip = match &args.images {
        Some(dir) => {
            let opts = cuelab_metrics::clipscore::ClipScoreOptions {
                w: args.clip_w,
                prefix: args.clip_prefix.clone(),
            };
            let pipeline = cuelab_models::Pipeline::parse(&args.preprocess)?;
            let cache = match (&args.out, args.no_cache) {
                (Some(out), false) => {
                    std::fs::create_dir_all(out)
                        .with_context(|| format!("creating {}", out.display()))?;
                    Some(out.join("embeddings.sqlite"))
                }
                _ => None,
            };
            let (rows, missing) = cuelab_tasks::clipscore::compute_cached(
                &set,
                dir,
                &args.model,
                pipeline,
                &opts,
                cache.as_deref(),
            )?;
            let n = rows.len().max(1) as f64;
            let cs = rows.iter().map(|r| r.clip_score).sum::<f64>() / n;
            let rcs = rows.iter().map(|r| r.ref_clip_score).sum::<f64>() / n;
            println!("{:<10} {:>10.6}", "CLIPScore", cs);
            println!("{:<10} {:>10.6}", "RefCLIPS", rcs);
            println!(
                "(CLIPScore over {} images, model {}, prefix {:?}, w {})",
                rows.len(),
                args.model,
                args.clip_prefix,
                args.clip_w
            );
            for m in &missing {
                eprintln!("  CLIPScore skipped image {}: {}", m.image_id, m.reason);
            }
            skipped.extend(missing);
            Some(rows)
        }
        None => None,
    };
    if let Some(dir) = &args.out {
        write_outputs(dir, &scores, &skipped)?;
        if let Some(rows) = &clip {
            cuelab_tasks::clipscore::write_rows(dir, rows)?;
        }
        println!("wrote {}", dir.display());
    }
    Ok(if skipped.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Partial
    })
}

fn print_table(s: &CaptionScores, skipped: &[Skipped]) {
    println!("images scored  {}", s.per_image.len());
    println!("{:<10} {:>10}", "metric", "score");
    println!("{:<10} {:>10.6}", "CIDEr-D", s.cider_d);
    for (k, b) in s.bleu.iter().enumerate() {
        println!("{:<10} {:>10.6}", format!("BLEU-{}", k + 1), b);
    }
    println!("{:<10} {:>10.6}", "ROUGE-L", s.rouge_l);
    warn_empty(
        &s.empty_candidates,
        "empty candidate caption",
        "scored 0, kept in every mean",
    );
    warn_empty(
        &s.empty_references,
        "empty reference caption",
        "kept, as pycocoevalcap does",
    );
    if !skipped.is_empty() {
        eprintln!(
            "skipped {} input entr{}:",
            skipped.len(),
            if skipped.len() == 1 { "y" } else { "ies" }
        );
        for x in skipped.iter().take(20) {
            eprintln!("  image {}: {}", x.image_id, x.reason);
        }
        if skipped.len() > 20 {
            eprintln!(
                "  ... and {} more (see summary.json with --out)",
                skipped.len() - 20
            );
        }
    }
}

/// Warn about images with empty (after tokenisation) captions, listing the first few.
fn warn_empty(ids: &[String], what: &str, how: &str) {
    if ids.is_empty() {
        return;
    }
    let shown: Vec<&str> = ids.iter().take(20).map(String::as_str).collect();
    let more = if ids.len() > 20 { ", ..." } else { "" };
    eprintln!(
        "warning: {} image(s) with an {what} ({how}): {}{more}",
        ids.len(),
        shown.join(", ")
    );
}

fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let mut tmp = cuelab_cue::atomic_file_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.persist(dir.join(name))
        .with_context(|| format!("writing {}", dir.join(name).display()))?;
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn write_outputs(dir: &Path, s: &CaptionScores, skipped: &[Skipped]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut jsonl = String::new();
    let mut csv = String::from("image_id,cider_d,bleu_1,bleu_2,bleu_3,bleu_4,rouge_l\n");
    for p in &s.per_image {
        jsonl.push_str(&serde_json::to_string(p)?);
        jsonl.push('\n');
        csv.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            csv_field(&p.image_id),
            p.cider_d,
            p.bleu[0],
            p.bleu[1],
            p.bleu[2],
            p.bleu[3],
            p.rouge_l
        ));
    }
    let summary = serde_json::json!({
        "images": s.per_image.len(),
        "cider_d": s.cider_d,
        "bleu": s.bleu,
        "rouge_l": s.rouge_l,
        "skipped": skipped,
        "empty_candidates": s.empty_candidates,
        "empty_references": s.empty_references,
        "reference": "pycocoevalcap 1.2 (PTB tokenizer, Cider = CIDEr-D, Bleu closest, Rouge-L beta 1.2)",
    });
    write_atomic(dir, "per_image.jsonl", jsonl.as_bytes())?;
    write_atomic(dir, "per_image.csv", csv.as_bytes())?;
    write_atomic(
        dir,
        "summary.json",
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    Ok(())
}
