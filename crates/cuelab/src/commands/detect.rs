//! `cuelab detect`: region proposals from an ONNX object detector (built-in CenterNet or any
//! Ultralytics YOLO export), written in the JSON shape `cuelab ground --proposals` reads; and the
//! detector step of `cuelab ground --detector`, cached in the run directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use cuelab_detect::{DetectOptions, Detection, Detector};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::exit::ExitStatus;

/// Flags of `cuelab detect`.
#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Detector: a built-in name (`centernet`, MobileNetV3 CenterNet trained on COCO, embedded) or a
    /// path to an ONNX file (CenterNet layout, or an Ultralytics YOLOv8/11 export).
    #[arg(long, short = 'm', default_value = "centernet")]
    pub model: String,
    #[command(flatten)]
    pub thresholds: Thresholds,
    /// Images to run on.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Write the detections as JSON (`{"IMAGE": [{"box": [x0,y0,x1,y1], "score": s, "class": "dog",
    /// "class_id": 16}, ...]}`, keyed by file name, or by path when names repeat), the shape
    /// `cuelab ground --proposals` reads.
    #[arg(short, long, value_name = "DETS.json")]
    pub out: Option<PathBuf>,
}

/// Post-processing thresholds shared by `detect` and `ground --detector`.
#[derive(Debug, Clone, Args)]
pub struct Thresholds {
    /// Keep detections scored at least this.
    #[arg(long, default_value_t = 0.3)]
    pub conf: f32,
    /// Non-maximum suppression IoU threshold (per class).
    #[arg(long, default_value_t = 0.5)]
    pub iou: f32,
    /// At most this many detections per image.
    #[arg(long = "max", default_value_t = 100)]
    pub max_det: usize,
    /// Suppress overlapping boxes across classes too.
    #[arg(long)]
    pub agnostic: bool,
}

impl Thresholds {
    /// As the detector's options (validated).
    pub fn options(&self) -> Result<DetectOptions> {
        let o = DetectOptions {
            conf: self.conf,
            iou: self.iou,
            max_det: self.max_det,
            agnostic: self.agnostic,
        };
        o.validate()?;
        Ok(o)
    }
}

/// One detection as written to JSON (readable by `ground --proposals`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetJson {
    /// `[x0, y0, x1, y1]` in photo pixels.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// Confidence.
    pub score: f32,
    /// Class name.
    pub class: String,
    /// Class index.
    pub class_id: usize,
}

impl From<&Detection> for DetJson {
    fn from(d: &Detection) -> Self {
        DetJson {
            bbox: [d.bbox.x0, d.bbox.y0, d.bbox.x1, d.bbox.y1],
            score: d.score,
            class: d.class_name.clone(),
            class_id: d.class_id,
        }
    }
}

/// Load a detector by built-in name or path, with context.
pub fn load_detector(spec: &str) -> Result<Detector> {
    Detector::load(spec).with_context(|| format!("loading detector `{spec}`"))
}

/// JSON keys for images: the file name when all names are distinct, else the path as given.
fn keys(images: &[PathBuf]) -> Vec<String> {
    let names: Vec<String> = images
        .iter()
        .map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.display().to_string())
        })
        .collect();
    let distinct: std::collections::BTreeSet<&String> = names.iter().collect();
    if distinct.len() == names.len() {
        names
    } else {
        images.iter().map(|p| p.display().to_string()).collect()
    }
}

fn print_table(key: &str, dets: &[DetJson]) {
    println!("{key}: {} detection(s)", dets.len());
    if dets.is_empty() {
        return;
    }
    println!(
        "  {:<16} {:>6}  {:>8} {:>8} {:>8} {:>8}",
        "class", "score", "x0", "y0", "x1", "y1"
    );
    for d in dets {
        println!(
            "  {:<16} {:>6.3}  {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
            d.class, d.score, d.bbox[0], d.bbox[1], d.bbox[2], d.bbox[3]
        );
    }
}

/// Run `cuelab detect`.
pub fn run(args: DetectArgs) -> Result<ExitStatus> {
    let opts = args.thresholds.options()?;
    let detector = load_detector(&args.model)?;
    let mut out: BTreeMap<String, Vec<DetJson>> = BTreeMap::new();
    let mut failed = 0usize;
    for (path, key) in args.images.iter().zip(keys(&args.images)) {
        match detector.detect_path(path, &opts) {
            Ok(dets) => {
                let dets: Vec<DetJson> = dets.iter().map(DetJson::from).collect();
                print_table(&key, &dets);
                out.insert(key, dets);
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {}: {e}", path.display());
            }
        }
    }
    if let Some(p) = &args.out {
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(&out)?;
        std::fs::write(p, text + "\n").with_context(|| format!("cannot write {}", p.display()))?;
        println!("wrote {}", p.display());
    }
    if failed == args.images.len() {
        bail!("no image could be processed");
    }
    Ok(if failed > 0 {
        ExitStatus::Partial
    } else {
        ExitStatus::Success
    })
}

/// The detector cache of a run directory: detections per image for one detector setting.
#[derive(Debug, Default, Serialize, Deserialize)]
struct DetCache {
    detector: serde_json::Value,
    images: BTreeMap<String, Vec<DetJson>>,
}

/// File name of the detection cache in a run directory.
pub const CACHE_FILE: &str = "detections.json";

/// Run `detector` on every distinct image, reusing `run_dir/detections.json` when it was made with
/// the same detector and thresholds (written after each image, so a killed run resumes).
/// Returns detections by image path and the detector description for the manifest.
pub fn detect_cached(
    detector: &Detector,
    spec: &str,
    opts: &DetectOptions,
    images: &[PathBuf],
    run_dir: &Path,
) -> Result<(BTreeMap<PathBuf, Vec<DetJson>>, serde_json::Value)> {
    let description = json!({
        "detector": spec,
        "layout": detector.layout(),
        "input_size": detector.input_size(),
        "conf": opts.conf,
        "iou": opts.iou,
        "max_det": opts.max_det,
        "agnostic": opts.agnostic,
        "engine": "tract-onnx 0.23.9",
    });
    std::fs::create_dir_all(run_dir)
        .with_context(|| format!("cannot create {}", run_dir.display()))?;
    let cache_path = run_dir.join(CACHE_FILE);
    let mut cache: DetCache = match std::fs::read_to_string(&cache_path) {
        Ok(text) => match serde_json::from_str::<DetCache>(&text) {
            Ok(c) if c.detector == description => c,
            Ok(_) => {
                tracing::warn!(
                    "{}: made with another detector or thresholds; detecting again",
                    cache_path.display()
                );
                DetCache::default()
            }
            Err(e) => {
                tracing::warn!(
                    "{}: unreadable ({e}); detecting again",
                    cache_path.display()
                );
                DetCache::default()
            }
        },
        Err(_) => DetCache::default(),
    };
    cache.detector = description.clone();
    let mut out = BTreeMap::new();
    let mut distinct: Vec<&PathBuf> = images.iter().collect();
    distinct.sort();
    distinct.dedup();
    let (mut reused, mut ran) = (0usize, 0usize);
    for path in distinct {
        let key = path.display().to_string();
        if let Some(d) = cache.images.get(&key) {
            reused += 1;
            out.insert(path.clone(), d.clone());
            continue;
        }
        let dets: Vec<DetJson> = detector
            .detect_path(path, opts)
            .with_context(|| format!("detecting objects in {}", path.display()))?
            .iter()
            .map(DetJson::from)
            .collect();
        ran += 1;
        cache.images.insert(key, dets.clone());
        out.insert(path.clone(), dets);
        let tmp = cache_path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_string(&cache)?)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &cache_path)
            .with_context(|| format!("cannot write {}", cache_path.display()))?;
    }
    eprintln!("detector {spec}: {ran} image(s) detected, {reused} from the run directory's cache");
    Ok((out, description))
}
