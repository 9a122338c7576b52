//! Caption evaluation of a candidate file against references (`cuelab caption-eval`):
//! CIDEr-D, BLEU-1..4 and ROUGE-L as pycocoevalcap computes them, optionally CLIPScore /
//! RefCLIPScore over an image folder, and the output files (`per_image.jsonl`,
//! `per_image.csv`, `summary.json`, `clipscore.jsonl`).
//!
//! One call, [`evaluate_files`]; what it finds is reported to a callback step by step
//! ([`EvalStep`]), so a front end prints the text metrics before CLIPScore's models load.

use std::io::Write;
use std::path::{Path, PathBuf};

use cuelab_metrics::caption_io::{pair, parse_cands, parse_refs, Skipped};
use cuelab_metrics::clipscore::{ClipScoreOptions, DEFAULT_PREFIX, DEFAULT_W};
use cuelab_metrics::{evaluate, CaptionScores};

use crate::clipscore::{compute_cached, write_rows, ClipScoreRow};
use crate::error::{Result, TaskError};

/// What to evaluate and where results go; the defaults are those of `cuelab caption-eval`.
#[derive(Debug, Clone)]
pub struct CaptionEvalSettings {
    /// Reference captions: COCO `captions_*.json` or `{image_id: [captions]}`.
    pub refs: PathBuf,
    /// Candidate captions: COCO results list or `{image_id: caption}`.
    pub cands: PathBuf,
    /// Directory for the output files (`None`: nothing is written).
    pub out: Option<PathBuf>,
    /// Image folder: also compute CLIPScore / RefCLIPScore.
    pub images: Option<PathBuf>,
    /// CLIP model for CLIPScore (HF id or local directory).
    pub model: String,
    /// Text prepended to candidates for CLIPScore.
    pub clip_prefix: String,
    /// CLIPScore weight w.
    pub clip_w: f64,
    /// Image preprocessing for CLIPScore: `openai` or `hf`.
    pub preprocess: String,
    /// Do not keep CLIPScore's embeddings in `out/embeddings.sqlite`.
    pub no_cache: bool,
}

impl Default for CaptionEvalSettings {
    fn default() -> Self {
        CaptionEvalSettings {
            refs: PathBuf::new(),
            cands: PathBuf::new(),
            out: None,
            images: None,
            model: "openai/clip-vit-base-patch32".into(),
            clip_prefix: DEFAULT_PREFIX.into(),
            clip_w: DEFAULT_W,
            preprocess: "openai".into(),
            no_cache: false,
        }
    }
}

/// A finished step of [`evaluate_files`].
#[derive(Debug)]
pub enum EvalStep<'a> {
    /// The text metrics, and the input entries skipped so far.
    Scores {
        /// The scores.
        scores: &'a CaptionScores,
        /// Entries left out (no candidate, no references, malformed).
        skipped: &'a [Skipped],
    },
    /// CLIPScore over the images found.
    Clip {
        /// One row per image scored.
        rows: &'a [ClipScoreRow],
        /// Mean CLIPScore.
        clip_score: f64,
        /// Mean RefCLIPScore.
        ref_clip_score: f64,
        /// Images that could not be scored, with the reason.
        missing: &'a [Skipped],
    },
    /// The output files were written to this directory.
    Wrote(&'a Path),
}

/// What [`evaluate_files`] found.
#[derive(Debug)]
pub struct CaptionEvalOutcome {
    /// The text metrics.
    pub scores: CaptionScores,
    /// Every entry or image left out (CLIPScore's included).
    pub skipped: Vec<Skipped>,
    /// CLIPScore rows, when images were given.
    pub clip: Option<Vec<ClipScoreRow>>,
}

/// Read, pair and score the captions, CLIPScore them when `images` is set, and write the output
/// files when `out` is set; each finished step goes to `step`.
pub fn evaluate_files(
    settings: &CaptionEvalSettings,
    step: &mut dyn FnMut(EvalStep<'_>),
) -> Result<CaptionEvalOutcome> {
    let s = settings;
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| TaskError::context(format!("reading {}", p.display()), e))
    };
    let (refs, mut skipped) = parse_refs(&read(&s.refs)?)
        .map_err(|e| TaskError::context(s.refs.display().to_string(), e))?;
    let (cands, s2) = parse_cands(&read(&s.cands)?)
        .map_err(|e| TaskError::context(s.cands.display().to_string(), e))?;
    skipped.extend(s2);
    let (set, s3) = pair(refs, cands);
    skipped.extend(s3);
    let scores = evaluate(&set)
        .map_err(|e| TaskError::context("no image has both a candidate and references", e))?;
    step(EvalStep::Scores {
        scores: &scores,
        skipped: &skipped,
    });
    let clip = match &s.images {
        Some(dir) => {
            let opts = ClipScoreOptions {
                w: s.clip_w,
                prefix: s.clip_prefix.clone(),
            };
            let pipeline = cuelab_models::Pipeline::parse(&s.preprocess)?;
            let cache = match (&s.out, s.no_cache) {
                (Some(out), false) => {
                    create_dir(out)?;
                    Some(out.join("embeddings.sqlite"))
                }
                _ => None,
            };
            let (rows, missing) =
                compute_cached(&set, dir, &s.model, pipeline, &opts, cache.as_deref())?;
            let n = rows.len().max(1) as f64;
            step(EvalStep::Clip {
                rows: &rows,
                clip_score: rows.iter().map(|r| r.clip_score).sum::<f64>() / n,
                ref_clip_score: rows.iter().map(|r| r.ref_clip_score).sum::<f64>() / n,
                missing: &missing,
            });
            skipped.extend(missing);
            Some(rows)
        }
        None => None,
    };
    if let Some(dir) = &s.out {
        write_outputs(dir, &scores, &skipped)?;
        if let Some(rows) = &clip {
            write_rows(dir, rows)?;
        }
        step(EvalStep::Wrote(dir));
    }
    Ok(CaptionEvalOutcome {
        scores,
        skipped,
        clip,
    })
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| TaskError::context(format!("creating {}", dir.display()), e))
}

/// `name` in `dir`, written through a temporary file and a rename.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let path = dir.join(name);
    let mut tmp = cuelab_cue::atomic_file_in(dir)
        .map_err(|e| TaskError::context(format!("creating a file in {}", dir.display()), e))?;
    tmp.write_all(bytes).map_err(|e| TaskError::io(&path, e))?;
    tmp.persist(&path)
        .map_err(|e| TaskError::context(format!("writing {}", path.display()), e))?;
    Ok(())
}

/// A CSV field, quoted when it holds a comma, quote or line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn to_json<T: serde::Serialize>(dir: &Path, value: &T, pretty: bool) -> Result<String> {
    let text = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    text.map_err(|e| TaskError::Json {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })
}

/// Write `per_image.jsonl`, `per_image.csv` and `summary.json` into `dir` (created if needed),
/// each atomically.
pub fn write_outputs(dir: &Path, s: &CaptionScores, skipped: &[Skipped]) -> Result<()> {
    create_dir(dir)?;
    let mut jsonl = String::new();
    let mut csv = String::from("image_id,cider_d,bleu_1,bleu_2,bleu_3,bleu_4,rouge_l\n");
    for p in &s.per_image {
        jsonl.push_str(&to_json(dir, p, false)?);
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
        to_json(dir, &summary, true)?.as_bytes(),
    )?;
    Ok(())
}
