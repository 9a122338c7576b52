//! `cuelab ground`: the grounding experiment of seed 004 (baseline crops vs red-circle cues),
//! resumable, sharded, from a TOML config or flags.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use cuelab_models::cache::EmbeddingCache;
use cuelab_models::{load_scorer, ImageTextScorer, LoadOptions, Pipeline};
use cuelab_tasks::experiment::{run_grounding, GroundingConfig, OneOrMany, RunOptions};
use cuelab_tasks::grounding::{from_data_samples_as, Aggregate, Grounder, GroundingSample, Method};
use cuelab_tasks::summary::table;

use crate::exit::ExitStatus;

/// Flags of `cuelab ground`.
#[derive(Debug, Args)]
pub struct GroundArgs {
    /// Experiment file (TOML); flags below override its fields.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Samples: a RefCOCO/+/g folder (or its `refs(...).p` file; `instances.json` beside it),
    /// or a JSONL file of grounding samples (`{"id","image","expression","target":[x0,y0,x1,y1],"proposals":[[...]]}`;
    /// image paths relative to the file).
    #[arg(long)]
    pub data: PathBuf,
    /// RefCOCO split to evaluate (train, val, test, testA, testB); all when omitted.
    #[arg(long)]
    pub split: Option<String>,
    /// RefCOCO image folder (COCO train2014); every image must exist there.
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// Backbone (repeatable: scores are averaged). HF id, or a local directory.
    #[arg(long = "model", short = 'm')]
    pub models: Vec<String>,
    /// Methods (repeatable): baseline, redcircle.
    #[arg(long = "method", value_parser = ["baseline", "redcircle"])]
    pub methods: Vec<String>,
    /// One cue recipe of the red-circle set (repeatable; the set is aggregated per proposal).
    #[arg(long = "cue")]
    pub cues: Vec<String>,
    /// Random expressions to debias with (0 = off).
    #[arg(long)]
    pub debias: Option<usize>,
    /// Where debias prompts are drawn from: `train` (seed 004: the training split's expressions;
    /// default for RefCOCO), `eval` (the evaluated expressions, cuelab's earlier behaviour;
    /// default for JSONL) or a FILE with one prompt per line.
    #[arg(long, value_name = "train|eval|FILE")]
    pub debias_pool: Option<String>,
    /// Draw debias prompts with replacement (default: true for train and FILE, as seed 004;
    /// false for eval).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub debias_with_replacement: Option<bool>,
    /// Which text of RefCOCO expressions is scored: `sent` (lower-case, tokenised, no
    /// punctuation; seed 004, default) or `raw` (as typed).
    #[arg(long, value_parser = ["raw", "sent"])]
    pub text_field: Option<String>,
    /// Aggregation over cue recipes: mean or max.
    #[arg(long, value_parser = ["mean", "max"])]
    pub aggregate: Option<String>,
    /// Only the first N samples.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Seed for debias sampling and bootstrap.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run only shard I of N (`I/N`, 0-based) — merge shards with `cuelab merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Image preprocessing for every backbone: openai (seed 004, default) or hf.
    #[arg(long, default_value = "openai")]
    pub preprocess: String,
    /// Run directory (resumed when it exists).
    #[arg(short, long, default_value = "runs/ground")]
    pub out: PathBuf,
    /// Device: cpu or cuda[:N].
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Do not use the SQLite embedding cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Region proposals from a JSON file instead of the samples' own (ground-truth) boxes:
    /// `{"IMAGE": [[x0,y0,x1,y1], ...] or [{"box": [...], "score": s}, ...]}` keyed by image file
    /// name, stem or path (e.g. a detector's output).
    #[arg(long, value_name = "FILE.json")]
    pub proposals: Option<PathBuf>,
    /// Box layout in the proposals file: xyxy (exclusive end) or xywh (COCO).
    #[arg(long, default_value = "xyxy", value_parser = ["xyxy", "xywh"])]
    pub proposals_format: String,
    /// Drop proposals scored below this.
    #[arg(long, default_value_t = 0.0)]
    pub min_score: f32,
    /// Region proposals from an object detector run on each distinct image: `centernet` (built in)
    /// or an ONNX file (CenterNet layout or Ultralytics YOLO export). Detections are cached in
    /// the run directory (`detections.json`); the detector and thresholds go into the manifest.
    #[arg(long, value_name = "centernet|PATH.onnx", conflicts_with = "proposals")]
    pub detector: Option<String>,
    /// Weigh each proposal by how well its detector class matches the expression (needs classes:
    /// `--detector`, or a proposals file with `class`): final score = log softmax(100 · method
    /// score) + LAMBDA · log softmax(100 · cos(expression, "a picture of a {class}")). LAMBDA
    /// defaults to 1.
    #[arg(long, value_name = "LAMBDA", num_args = 0..=1, default_missing_value = "1")]
    pub class_prior: Option<f32>,
    /// Detector thresholds (with `--detector`).
    #[command(flatten)]
    pub thresholds: crate::commands::detect::Thresholds,
}

/// One proposal entry: a bare box or a box with a score.
#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
enum ProposalEntry {
    Bare([f32; 4]),
    Scored {
        #[serde(rename = "box", alias = "bbox")]
        bbox: [f32; 4],
        #[serde(default)]
        score: Option<f32>,
        /// Class name from a detector (`cuelab detect` writes it); used by `--class-prior`.
        #[serde(default)]
        class: Option<String>,
    },
}

/// Replace each sample's proposals by those of `path` for its image (by path, file name or stem).
/// Images missing from the file get no proposals (the run falls back to the whole image and
/// records it).
fn apply_proposals(
    samples: &mut [GroundingSample],
    path: &Path,
    xywh: bool,
    min_score: f32,
) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let map: std::collections::BTreeMap<String, Vec<ProposalEntry>> = serde_json::from_str(&text)
        .with_context(|| {
        format!(
            "{}: expected {{\"image\": [[x0,y0,x1,y1], ...]}}",
            path.display()
        )
    })?;
    type Boxes = (Vec<cuelab_cue::BoxXyxy>, Vec<String>);
    let mut boxes: std::collections::BTreeMap<String, Boxes> = Default::default();
    for (key, entries) in map {
        let mut list = Vec::new();
        let mut classes = Vec::new();
        for (i, e) in entries.into_iter().enumerate() {
            let (b, score, class) = match e {
                ProposalEntry::Bare(b) => (b, None, None),
                ProposalEntry::Scored { bbox, score, class } => (bbox, score, class),
            };
            if score.is_some_and(|s| s < min_score) {
                continue;
            }
            let parsed = if xywh {
                cuelab_cue::BoxXyxy::from_xywh(b[0], b[1], b[2], b[3])
            } else {
                cuelab_cue::BoxXyxy::new(b[0], b[1], b[2], b[3])
            };
            list.push(parsed.with_context(|| format!("{}: {key} proposal #{i}", path.display()))?);
            classes.extend(class);
        }
        // classes only when every kept proposal has one
        if classes.len() != list.len() {
            classes.clear();
        }
        boxes.insert(key, (list, classes));
    }
    for s in samples.iter_mut() {
        let full = s.image.display().to_string();
        let name = s
            .image
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let stem = s
            .image
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        (s.proposals, s.proposal_classes) = [full, name, stem]
            .iter()
            .find_map(|k| boxes.get(k))
            .cloned()
            .unwrap_or_default();
    }
    Ok(())
}

/// Replace the proposals of the samples this run will score (shard, limit) by the detections of
/// `spec` on their images (cached in `out/detections.json`). Returns the detector description
/// recorded in the manifest.
fn apply_detector(
    samples: &mut [GroundingSample],
    spec: &str,
    thresholds: &crate::commands::detect::Thresholds,
    shard: Option<(usize, usize)>,
    limit: Option<usize>,
    out: &Path,
) -> Result<serde_json::Value> {
    let opts = thresholds.options()?;
    let detector = crate::commands::detect::load_detector(spec)?;
    let selected: Vec<usize> = (0..samples.len())
        .filter(|i| shard.is_none_or(|(k, n)| i % n == k))
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    let images: Vec<PathBuf> = selected.iter().map(|&i| samples[i].image.clone()).collect();
    let (dets, description) =
        crate::commands::detect::detect_cached(&detector, spec, &opts, &images, out)?;
    for &i in &selected {
        let s = &mut samples[i];
        (s.proposals, s.proposal_classes) = dets
            .get(&s.image)
            .map(|d| {
                d.iter()
                    .filter_map(|d| {
                        cuelab_cue::BoxXyxy::new(d.bbox[0], d.bbox[1], d.bbox[2], d.bbox[3])
                            .ok()
                            .map(|b| (b, d.class.clone()))
                    })
                    .unzip()
            })
            .unwrap_or_default();
    }
    Ok(description)
}

/// Read grounding samples from JSONL: either cuelab's generic dataset format (`cuelab scenes`'
/// `samples.jsonl`, any converted dataset: grounding samples expand to one row per expression) or
/// flat grounding rows (`{"id","image","expression","target","proposals"}`). Image paths are
/// relative to the file.
pub fn read_samples(path: &Path) -> Result<Vec<GroundingSample>> {
    read_samples_as(path, cuelab_data::TextField::Sent)
}

/// [`read_samples`] with generic samples' expression text taken from `field`.
pub fn read_samples_as(path: &Path, field: cuelab_data::TextField) -> Result<Vec<GroundingSample>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let ctx = || format!("{}: line {}", path.display(), i + 1);
        let value: serde_json::Value = serde_json::from_str(line).with_context(ctx)?;
        if value.get("task").is_some() {
            let sample: cuelab_data::Sample = serde_json::from_value(value).with_context(ctx)?;
            out.extend(from_data_samples_as(&[sample], base, field));
        } else {
            let mut s: GroundingSample = serde_json::from_value(value)
                .with_context(|| format!("{}: not a grounding sample", ctx()))?;
            if s.image.is_relative() {
                s.image = base.join(&s.image);
            }
            out.push(s);
        }
    }
    if out.is_empty() {
        bail!("{}: no grounding samples", path.display());
    }
    Ok(out)
}

/// Grounding samples of a RefCOCO-style dataset: one per sentence (its `field` text), all
/// instance boxes of the image as proposals; and the training split's expressions (the `train`
/// debias pool).
fn read_refcoco(
    data: &Path,
    images: Option<&Path>,
    split: Option<&str>,
    field: cuelab_data::TextField,
) -> Result<(Vec<GroundingSample>, Vec<String>)> {
    let (refs_path, instances) = cuelab_data::refcoco::find_files(data)?;
    let refs = cuelab_data::refcoco::read_refs(&refs_path)?;
    let loaded =
        cuelab_data::refcoco::load_refs(&refs, &refs_path, &instances, images, split, false)?;
    let train = cuelab_data::refcoco::split_expressions(&refs, "train", field);
    let base = match images {
        Some(dir) => dir.to_path_buf(),
        None => refs_path.parent().unwrap_or(Path::new(".")).to_path_buf(),
    };
    let samples = from_data_samples_as(&loaded.samples, &base, field);
    if samples.is_empty() {
        bail!(
            "{}: no grounding samples{}",
            data.display(),
            split.map(|s| format!(" in split {s}")).unwrap_or_default()
        );
    }
    Ok((samples, train))
}

/// Parse `I/N`.
pub fn parse_shard(text: &str) -> Result<(usize, usize)> {
    let (i, n) = text
        .split_once('/')
        .context("--shard expects I/N, e.g. 0/4")?;
    let (i, n): (usize, usize) = (i.trim().parse()?, n.trim().parse()?);
    if n == 0 || i >= n {
        bail!("--shard {text}: need 0 <= I < N");
    }
    Ok((i, n))
}

/// Build the configuration from the file and flags.
fn config(args: &GroundArgs) -> Result<GroundingConfig> {
    let mut cfg = match &args.config {
        Some(p) => GroundingConfig::from_toml_file(p)?,
        None => toml::from_str::<GroundingConfig>("models = []")?,
    };
    if !args.models.is_empty() {
        cfg.models = args.models.clone();
    }
    if cfg.models.is_empty() {
        cfg.models = vec!["openai/clip-vit-base-patch32".into()];
    }
    if !args.methods.is_empty() {
        let m: Vec<Method> = args
            .methods
            .iter()
            .map(|m| {
                if m == "baseline" {
                    Method::Baseline
                } else {
                    Method::Redcircle
                }
            })
            .collect();
        cfg.method = OneOrMany::Many(m);
    }
    if !args.cues.is_empty() {
        cfg.cues = vec![args.cues.clone()];
    }
    if let Some(d) = args.debias {
        cfg.debias = OneOrMany::One(d);
    }
    if let Some(p) = &args.debias_pool {
        cfg.debias_pool = Some(p.clone());
    }
    if let Some(r) = args.debias_with_replacement {
        cfg.debias_with_replacement = Some(r);
    }
    if let Some(f) = &args.text_field {
        cfg.text_field = cuelab_data::TextField::parse(f);
    }
    if let Some(a) = &args.aggregate {
        cfg.aggregate = OneOrMany::One(if a == "max" {
            Aggregate::Max
        } else {
            Aggregate::Mean
        });
    }
    if args.limit.is_some() {
        cfg.limit = args.limit;
    }
    if let Some(s) = args.seed {
        cfg.seed = s;
    }
    if let Some(l) = args.class_prior {
        if !l.is_finite() || l < 0.0 {
            bail!("--class-prior {l}: expected a weight >= 0");
        }
        cfg.class_prior = Some(l);
    }
    Ok(cfg)
}

/// Load every backbone of the configuration.
pub fn load_models(
    names: &[String],
    preprocess: &str,
    device: &str,
) -> Result<Vec<Box<dyn ImageTextScorer + Send + Sync>>> {
    let opts = LoadOptions {
        pipeline: Some(Pipeline::parse(preprocess)?),
        device: cuelab_models::device(device)?,
        ..LoadOptions::default()
    };
    names
        .iter()
        .map(|m| load_scorer(m, &opts).with_context(|| format!("loading model `{m}`")))
        .collect()
}

/// Run a grounding experiment and print its table; shared by `ground` and `demo`.
/// `train_expressions` feed the `train` debias pool.
#[allow(clippy::too_many_arguments)]
pub fn execute(
    cfg: &GroundingConfig,
    samples: &[GroundingSample],
    train_expressions: Option<&[String]>,
    models: &[Box<dyn ImageTextScorer + Send + Sync>],
    out: &Path,
    shard: Option<(usize, usize)>,
    use_cache: bool,
    mut data_description: serde_json::Value,
) -> Result<cuelab_tasks::summary::Summary> {
    let cache = if use_cache {
        std::fs::create_dir_all(out)?;
        Some(EmbeddingCache::open(&out.join("embeddings.sqlite"))?)
    } else {
        None
    };
    let debias = cfg.build_debias_pool(samples, train_expressions)?;
    if let Some(d) = data_description.as_object_mut() {
        d.insert("debias".into(), debias.describe());
        d.insert("text_field".into(), cfg.text_field().as_str().into());
    }
    let pool = debias.expressions.clone();
    let grounder = Grounder::with_pool(models, cache, cfg.variants()?, samples, &debias, cfg.seed)?;
    let ids: Vec<String> = models
        .iter()
        .map(|m| format!("{} ({})", m.id(), m.preprocess().key()))
        .collect();
    let summary = run_grounding(
        cfg,
        samples,
        &pool,
        &grounder,
        &ids,
        &data_description,
        &RunOptions {
            out: out.to_path_buf(),
            shard,
            progress: true,
        },
    )?;
    // Where this invocation's time went (a resumed run counts only what it did itself).
    let stages = grounder.stage_seconds();
    tracing::info!(
        texts_s = stages.texts,
        render_s = stages.render,
        encode_images_s = stages.encode_images,
        "time per stage (summed over samples)"
    );
    let timing = serde_json::to_string_pretty(&stages)?;
    std::fs::write(out.join("timing.json"), timing)
        .with_context(|| format!("cannot write {}", out.join("timing.json").display()))?;
    Ok(summary)
}

/// Run `cuelab ground`.
pub fn run(args: GroundArgs) -> Result<ExitStatus> {
    let mut cfg = config(&args)?;
    let refcoco = args.data.is_dir() || args.data.extension().is_some_and(|e| e == "p");
    cfg.resolve_defaults(refcoco);
    let (mut samples, train) = if refcoco {
        read_refcoco(
            &args.data,
            args.images.as_deref(),
            args.split.as_deref(),
            cfg.text_field(),
        )?
    } else {
        let samples = read_samples_as(&args.data, cfg.text_field())?;
        let train = samples
            .iter()
            .filter(|s| s.split == "train")
            .map(|s| s.expression.clone())
            .collect();
        (samples, train)
    };
    if let Some(p) = &args.proposals {
        apply_proposals(
            &mut samples,
            p,
            args.proposals_format == "xywh",
            args.min_score,
        )?;
    }
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    let detector_description = match &args.detector {
        Some(spec) => Some(apply_detector(
            &mut samples,
            spec,
            &args.thresholds,
            shard,
            cfg.limit,
            &args.out,
        )?),
        None => None,
    };
    let models = load_models(&cfg.models, &args.preprocess, &args.device)?;
    let summary = execute(
        &cfg,
        &samples,
        Some(train.as_slice()),
        &models,
        &args.out,
        shard,
        !args.no_cache,
        serde_json::json!({
            "samples_file": args.data.display().to_string(),
            "proposals": match (&args.proposals, &args.detector) {
                (Some(p), _) => p.display().to_string(),
                (None, Some(d)) => format!("detector {d}"),
                (None, None) => "ground truth".into(),
            },
            "detector": detector_description,
        }),
    )?;
    print!("{}", table(&summary));
    println!("run directory: {}", args.out.display());
    let errors: usize = summary.variants.iter().map(|v| v.errors).sum();
    Ok(if errors > 0 {
        ExitStatus::Partial
    } else {
        ExitStatus::Success
    })
}
