//! `cuelab caption-eval`: CIDEr-D, BLEU-1..4 and ROUGE-L identical to pycocoevalcap, no Java.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use cuelab_metrics::caption_io::Skipped;
use cuelab_metrics::CaptionScores;
use cuelab_tasks::caption_eval::{evaluate_files, CaptionEvalSettings, EvalStep};

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
    let settings = CaptionEvalSettings {
        refs: args.refs,
        cands: args.cands,
        out: args.out,
        images: args.images,
        model: args.model,
        clip_prefix: args.clip_prefix,
        clip_w: args.clip_w,
        preprocess: args.preprocess,
        no_cache: args.no_cache,
    };
    let outcome = evaluate_files(&settings, &mut |step| match step {
        EvalStep::Scores { scores, skipped } => print_table(scores, skipped),
        EvalStep::Clip {
            rows,
            clip_score,
            ref_clip_score,
            missing,
        } => {
            println!("{:<10} {:>10.6}", "CLIPScore", clip_score);
            println!("{:<10} {:>10.6}", "RefCLIPS", ref_clip_score);
            println!(
                "(CLIPScore over {} images, model {}, prefix {:?}, w {})",
                rows.len(),
                settings.model,
                settings.clip_prefix,
                settings.clip_w
            );
            for m in missing {
                eprintln!("  CLIPScore skipped image {}: {}", m.image_id, m.reason);
            }
        }
        EvalStep::Wrote(dir) => println!("wrote {}", dir.display()),
    })?;
    Ok(if outcome.skipped.is_empty() {
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
