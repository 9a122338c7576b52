//! `cuelab detect`: region proposals from an ONNX object detector (built-in CenterNet or any
//! Ultralytics YOLO export), written in the JSON shape `cuelab ground --proposals` reads. The
//! detector flags are shared with `cuelab ground --detector` (whose detections cache is
//! `cuelab_tasks::proposals`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use cuelab_detect::DetectOptions;
use cuelab_tasks::proposals::{load_detector, DetJson};

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
