//! Where a grounding run's region proposals come from ([`ProposalSource`]): the samples' own
//! (ground-truth) boxes, a JSON file of boxes per image (a detector's output), or an object
//! detector run on each image with its detections cached in the run directory
//! (`detections.json`, reused when made with the same detector and thresholds, written after
//! each image so a killed run resumes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cuelab_cue::BoxXyxy;
use cuelab_detect::{DetectOptions, Detection, Detector};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{Result, TaskError};
use crate::grounding::{GroundingSample, InputCounts};

/// Box layout of a proposals file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BoxFormat {
    /// `[x0, y0, x1, y1]`, exclusive end.
    #[default]
    Xyxy,
    /// `[x, y, width, height]` (COCO).
    Xywh,
}

impl std::str::FromStr for BoxFormat {
    type Err = TaskError;

    /// `xyxy` or `xywh`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "xyxy" => Ok(BoxFormat::Xyxy),
            "xywh" => Ok(BoxFormat::Xywh),
            other => Err(TaskError::Config(format!(
                "unknown box format {other:?} (expected xyxy or xywh)"
            ))),
        }
    }
}

/// Where proposals come from.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ProposalSource {
    /// The samples' own boxes (ground truth for RefCOCO and the synthetic scenes).
    #[default]
    GroundTruth,
    /// A JSON file `{"IMAGE": [[x0,y0,x1,y1], ...] or [{"box": [...], "score": s, "class": c},
    /// ...]}` keyed by image path, file name or stem.
    File {
        /// The file.
        path: PathBuf,
        /// Box layout.
        format: BoxFormat,
        /// Drop proposals scored below this.
        min_score: f32,
    },
    /// An object detector run on each image the run scores.
    Detector {
        /// `centernet` (built in) or an ONNX file.
        spec: String,
        /// Post-processing thresholds.
        options: DetectOptions,
    },
}

impl ProposalSource {
    /// How the manifest names the source (`proposals` field of the data description).
    pub fn describe(&self) -> String {
        match self {
            ProposalSource::GroundTruth => "ground truth".into(),
            ProposalSource::File { path, .. } => path.display().to_string(),
            ProposalSource::Detector { spec, .. } => format!("detector {spec}"),
        }
    }

    /// Replace the proposals of `samples` from this source. With a detector only the samples
    /// this run will score (`shard`, `limit`) are detected, cached in `run_dir`; their
    /// detections are returned (`None` for the other sources).
    ///
    /// What the source could not provide is added to `counts` (images without an entry in a
    /// proposals file, detector boxes that failed validation), never dropped silently.
    pub fn apply(
        &self,
        samples: &mut [GroundingSample],
        shard: Option<(usize, usize)>,
        limit: Option<usize>,
        run_dir: &Path,
        counts: &mut InputCounts,
    ) -> Result<Option<CachedDetections>> {
        match self {
            ProposalSource::GroundTruth => Ok(None),
            ProposalSource::File {
                path,
                format,
                min_score,
            } => {
                let selected: Vec<usize> = crate::runner::select(samples, shard, limit)
                    .into_iter()
                    .map(|(i, _)| i)
                    .collect();
                let missing = apply_proposals_file(samples, path, *format, *min_score)?;
                counts.images_without_proposals += selected
                    .iter()
                    .filter(|&&i| missing.contains(&samples[i].image))
                    .count();
                Ok(None)
            }
            ProposalSource::Detector { spec, options } => {
                let (cached, invalid) =
                    apply_detector_counted(samples, spec, options, shard, limit, run_dir)?;
                counts.invalid_detections += invalid;
                Ok(Some(cached))
            }
        }
    }

    /// The proposal file's SHA-256 (its contents are part of the run identity), `None` for
    /// the other sources.
    pub fn file_sha256(&self) -> Result<Option<String>> {
        match self {
            ProposalSource::File { path, .. } => crate::runner::sha256_file(path).map(Some),
            _ => Ok(None),
        }
    }
}

/// One proposal entry: a bare box or a box with a score.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ProposalEntry {
    Bare([f32; 4]),
    Scored {
        #[serde(rename = "box", alias = "bbox")]
        bbox: [f32; 4],
        #[serde(default)]
        score: Option<f32>,
        /// Class name from a detector (`cuelab detect` writes it); used by the class prior.
        #[serde(default)]
        class: Option<String>,
    },
}

/// Replace each sample's proposals by those of `path` for its image (by path, file name or stem).
/// Images missing from the file get no proposals (the run falls back to the whole image and
/// records it); they are returned so that the caller counts and reports them.
pub fn apply_proposals_file(
    samples: &mut [GroundingSample],
    path: &Path,
    format: BoxFormat,
    min_score: f32,
) -> Result<std::collections::BTreeSet<PathBuf>> {
    let text = std::fs::read_to_string(path).map_err(|e| TaskError::io(path, e))?;
    let map: BTreeMap<String, Vec<ProposalEntry>> =
        serde_json::from_str(&text).map_err(|e| TaskError::Json {
            path: path.to_path_buf(),
            message: format!("expected {{\"image\": [[x0,y0,x1,y1], ...]}}: {e}"),
        })?;
    type Boxes = (Vec<BoxXyxy>, Vec<String>);
    let mut boxes: BTreeMap<String, Boxes> = BTreeMap::new();
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
            let parsed = match format {
                BoxFormat::Xywh => BoxXyxy::from_xywh(b[0], b[1], b[2], b[3]),
                BoxFormat::Xyxy => BoxXyxy::new(b[0], b[1], b[2], b[3]),
            };
            list.push(parsed.map_err(|e| TaskError::Json {
                path: path.to_path_buf(),
                message: format!("{key} proposal #{i}: {e}"),
            })?);
            classes.extend(class);
        }
        // classes only when every kept proposal has one
        if classes.len() != list.len() {
            classes.clear();
        }
        boxes.insert(key, (list, classes));
    }
    let mut missing = std::collections::BTreeSet::new();
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
        match [full, name, stem].iter().find_map(|k| boxes.get(k)) {
            Some(found) => (s.proposals, s.proposal_classes) = found.clone(),
            None => {
                (s.proposals, s.proposal_classes) = Default::default();
                missing.insert(s.image.clone());
            }
        }
    }
    if !missing.is_empty() {
        tracing::warn!(
            "{}: no entry for {} image(s) (e.g. {}); their samples fall back to the whole image",
            path.display(),
            missing.len(),
            missing
                .iter()
                .next()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
    }
    Ok(missing)
}

/// Load a detector by built-in name or path.
pub fn load_detector(spec: &str) -> Result<Detector> {
    Detector::load(spec).map_err(|source| TaskError::Detect {
        context: format!("loading detector `{spec}`"),
        source: Box::new(source),
    })
}

/// Replace the proposals of the samples this run will score (shard, limit) by the detections of
/// `spec` on their images (cached in `run_dir/detections.json`).
pub fn apply_detector(
    samples: &mut [GroundingSample],
    spec: &str,
    options: &DetectOptions,
    shard: Option<(usize, usize)>,
    limit: Option<usize>,
    run_dir: &Path,
) -> Result<CachedDetections> {
    apply_detector_counted(samples, spec, options, shard, limit, run_dir).map(|(c, _)| c)
}

/// [`apply_detector`], also returning how many detector boxes failed validation (empty or
/// non-finite boxes; dropped from the proposals, counted and reported).
pub fn apply_detector_counted(
    samples: &mut [GroundingSample],
    spec: &str,
    options: &DetectOptions,
    shard: Option<(usize, usize)>,
    limit: Option<usize>,
    run_dir: &Path,
) -> Result<(CachedDetections, usize)> {
    options.validate().map_err(|source| TaskError::Detect {
        context: "detector thresholds".into(),
        source: Box::new(source),
    })?;
    let detector = load_detector(spec)?;
    let selected: Vec<usize> = crate::runner::select(samples, shard, limit)
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    let images: Vec<PathBuf> = selected.iter().map(|&i| samples[i].image.clone()).collect();
    let cached = detect_cached(&detector, spec, options, &images, run_dir)?;
    let mut invalid = 0;
    for &i in &selected {
        let s = &mut samples[i];
        let (mut boxes, mut classes) = (Vec::new(), Vec::new());
        for d in cached.by_image.get(&s.image).into_iter().flatten() {
            match BoxXyxy::new(d.bbox[0], d.bbox[1], d.bbox[2], d.bbox[3]) {
                Ok(b) => {
                    boxes.push(b);
                    classes.push(d.class.clone());
                }
                Err(e) => {
                    invalid += 1;
                    tracing::warn!(
                        "{}: detector box {:?} dropped: {e}",
                        s.image.display(),
                        d.bbox
                    );
                }
            }
        }
        (s.proposals, s.proposal_classes) = (boxes, classes);
    }
    Ok((cached, invalid))
}

/// One detection as written to JSON (the shape a proposals file has).
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

/// The detector cache of a run directory: detections per image for one detector setting.
#[derive(Debug, Default, Serialize, Deserialize)]
struct DetCache {
    detector: Value,
    images: BTreeMap<String, Vec<DetJson>>,
}

/// File name of the detection cache in a run directory.
pub const CACHE_FILE: &str = "detections.json";

/// Detections of a run's images, from the detector or the run directory's cache.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedDetections {
    /// Detections by image path.
    pub by_image: BTreeMap<PathBuf, Vec<DetJson>>,
    /// The detector and thresholds, as recorded in the manifest.
    pub description: Value,
    /// Images the detector ran on now.
    pub detected: usize,
    /// Images whose detections came from the cache.
    pub reused: usize,
}

/// Run `detector` on every distinct image, reusing `run_dir/detections.json` when it was made with
/// the same detector and thresholds (written after each image, so a killed run resumes).
pub fn detect_cached(
    detector: &Detector,
    spec: &str,
    opts: &DetectOptions,
    images: &[PathBuf],
    run_dir: &Path,
) -> Result<CachedDetections> {
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
    std::fs::create_dir_all(run_dir).map_err(|e| TaskError::io(run_dir, e))?;
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
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => DetCache::default(),
        // Anything else (permission denied, a folder in the way, an I/O error) is an error:
        // detecting again would overwrite a cache the user may need.
        Err(e) => return Err(TaskError::io(&cache_path, e)),
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
            .map_err(|source| TaskError::Detect {
                context: format!("detecting objects in {}", path.display()),
                source: Box::new(source),
            })?
            .iter()
            .map(DetJson::from)
            .collect();
        ran += 1;
        cache.images.insert(key, dets.clone());
        out.insert(path.clone(), dets);
        let tmp = cache_path.with_extension("json.tmp");
        let text = serde_json::to_string(&cache).map_err(|e| TaskError::Json {
            path: cache_path.clone(),
            message: e.to_string(),
        })?;
        std::fs::write(&tmp, text).map_err(|e| TaskError::io(&tmp, e))?;
        std::fs::rename(&tmp, &cache_path).map_err(|e| TaskError::io(&cache_path, e))?;
    }
    tracing::info!(
        "detector {spec}: {ran} image(s) detected, {reused} from the run directory's cache"
    );
    Ok(CachedDetections {
        by_image: out,
        description,
        detected: ran,
        reused,
    })
}
