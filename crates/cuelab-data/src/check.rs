//! `cuelab data check`: load a dataset in a given format, validate every record, and report
//! counts and problems.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{DataError, Result};
use crate::jsonl::{self, Loaded};
use crate::sample::Sample;
use crate::{coco, mmvp, refcoco, ssv2};

/// Dataset formats `check` understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Generic JSONL samples (a `.jsonl` file).
    Jsonl,
    /// A RefCOCO/+/g folder: `refs(*).p` + `instances.json`.
    Refcoco,
    /// A COCO instances JSON file.
    CocoInstances,
    /// A COCO captions JSON file.
    CocoCaptions,
    /// Karpathy's `dataset_coco.json`.
    Karpathy,
    /// A COCO-style caption results file.
    CaptionResults,
    /// MMVP `Questions.csv` (or its folder).
    Mmvp,
    /// MMVP-VLM `Questions.csv` (or its folder).
    MmvpVlm,
    /// An SSv2 folder: `labels.json`, `train.json`, `validation.json`, optional `boxes*.json`.
    Ssv2,
    /// A `cuelab scenes` output folder: every export is checked.
    Scenes,
}

impl Format {
    /// Every format and its command-line name.
    pub const ALL: [(Format, &'static str); 10] = [
        (Format::Jsonl, "jsonl"),
        (Format::Refcoco, "refcoco"),
        (Format::CocoInstances, "coco-instances"),
        (Format::CocoCaptions, "coco-captions"),
        (Format::Karpathy, "karpathy"),
        (Format::CaptionResults, "caption-results"),
        (Format::Mmvp, "mmvp"),
        (Format::MmvpVlm, "mmvp-vlm"),
        (Format::Ssv2, "ssv2"),
        (Format::Scenes, "scenes"),
    ];

    /// Parse a command-line name.
    pub fn parse(name: &str) -> Option<Format> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(f, _)| *f)
    }

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(f, _)| *f == self)
            .map(|(_, n)| *n)
            .unwrap_or("?")
    }
}

/// Options of a check.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Image (or video) folder; when given, every referenced file must exist there.
    pub media: Option<PathBuf>,
    /// Continue past bad records and count them.
    pub skip_bad: bool,
    /// Only this split (RefCOCO, Karpathy).
    pub split: Option<String>,
    /// Apply the MMVP errata fix.
    pub fix_errata: bool,
}

/// The outcome of a check.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    /// Per part (file or export) and per count name.
    pub counts: BTreeMap<String, BTreeMap<String, usize>>,
    /// Records skipped (only with `skip_bad`).
    pub skipped: usize,
    /// The problems found, one line each.
    pub problems: Vec<String>,
}

impl CheckReport {
    fn add(&mut self, part: &str, loaded: Loaded) -> Vec<Sample> {
        let c = self.counts.entry(part.to_string()).or_default();
        c.insert("samples".into(), loaded.samples.len());
        for s in &loaded.samples {
            if let Some(sp) = &s.split {
                *c.entry(format!("split:{sp}")).or_default() += 1;
            }
            if let Some(q) = &s.qtype {
                *c.entry(format!("type:{q}")).or_default() += 1;
            }
        }
        self.skipped += loaded.skipped.len();
        self.problems
            .extend(loaded.skipped.iter().map(|e| e.to_string()));
        loaded.samples
    }
}

fn file_in(path: &Path, name: &str) -> PathBuf {
    if path.is_dir() {
        path.join(name)
    } else {
        path.to_path_buf()
    }
}

/// Validate one sample's internal consistency (indices, boxes inside the image).
pub fn validate(s: &Sample) -> std::result::Result<(), String> {
    if let Some(i) = s.answer_index {
        if i >= s.choices.len() {
            return Err(format!("answer_index {i} but {} choices", s.choices.len()));
        }
    }
    if let Some(i) = s.target_index {
        if i >= s.proposals.len() {
            return Err(format!(
                "target_index {i} but {} proposals",
                s.proposals.len()
            ));
        }
    }
    if let (Some(w), Some(h)) = (s.width, s.height) {
        let boxes = s.target.iter().chain(s.proposals.iter());
        for b in boxes {
            if b.x0 < 0.0
                || b.y0 < 0.0
                || b.x1 > w as f32
                || b.y1 > h as f32
                || b.x1 < b.x0
                || b.y1 < b.y0
            {
                return Err(format!(
                    "box [{}, {}, {}, {}] outside the {w}x{h} image",
                    b.x0, b.y0, b.x1, b.y1
                ));
            }
        }
    }
    Ok(())
}

/// Check a JSONL file: schema, consistency, and that every media path exists (relative paths are
/// resolved against `media` or the file's folder).
pub fn check_jsonl(path: &Path, opts: &CheckOptions) -> Result<Loaded> {
    let mut loaded = jsonl::read(path, opts.skip_bad)?;
    let base = opts
        .media
        .clone()
        .unwrap_or_else(|| path.parent().unwrap_or(Path::new(".")).to_path_buf());
    let mut kept = Vec::new();
    for (i, s) in std::mem::take(&mut loaded.samples).into_iter().enumerate() {
        let record = format!("sample {} (line {})", s.id, i + 1);
        let err = validate(&s)
            .err()
            .map(|m| DataError::record(path, &record, m))
            .or_else(|| {
                s.media()
                    .into_iter()
                    .map(|m| jsonl::resolve(&base, m))
                    .find(|m| !m.exists())
                    .map(|media| DataError::MissingMedia {
                        path: path.to_path_buf(),
                        record: record.clone(),
                        media,
                    })
            });
        match err {
            None => kept.push(s),
            Some(e) if opts.skip_bad => loaded.skipped.push(e),
            Some(e) => return Err(e),
        }
    }
    loaded.samples = kept;
    Ok(loaded)
}

/// Check a dataset at `path` in `format`.
pub fn check(path: &Path, format: Format, opts: &CheckOptions) -> Result<CheckReport> {
    let mut report = CheckReport::default();
    let media = opts.media.as_deref();
    let split = opts.split.as_deref();
    match format {
        Format::Jsonl => {
            let l = check_jsonl(path, opts)?;
            report.add("jsonl", l);
        }
        Format::Refcoco => {
            let (refs, inst) = refcoco::find_files(path)?;
            let l = refcoco::load(&refs, &inst, media, split, opts.skip_bad)?;
            let samples = report.add("refcoco", l);
            let sentences: usize = samples.iter().map(|s| s.expressions.len()).sum();
            if let Some(c) = report.counts.get_mut("refcoco") {
                c.insert("sentences".into(), sentences);
            }
        }
        Format::CocoInstances => {
            let l = coco::load_instances(path, media, opts.skip_bad)?;
            let samples = report.add("coco-instances", l);
            let boxes: usize = samples.iter().map(|s| s.proposals.len()).sum();
            if let Some(c) = report.counts.get_mut("coco-instances") {
                c.insert("instances".into(), boxes);
            }
        }
        Format::CocoCaptions => {
            let l = coco::load_captions(path, media, opts.skip_bad)?;
            report.add("coco-captions", l);
        }
        Format::Karpathy => {
            let l = coco::load_karpathy(path, media, split, opts.skip_bad)?;
            report.add("karpathy", l);
        }
        Format::CaptionResults => {
            let r = coco::read_results(path)?;
            report
                .counts
                .entry("caption-results".into())
                .or_default()
                .insert("results".into(), r.len());
        }
        Format::Mmvp => {
            let l = mmvp::load(
                &file_in(path, "Questions.csv"),
                media,
                opts.fix_errata,
                opts.skip_bad,
            )?;
            report.add("mmvp", l);
        }
        Format::MmvpVlm => {
            let l = mmvp::load_vlm(&file_in(path, "Questions.csv"), media, opts.skip_bad)?;
            report.add("mmvp-vlm", l);
        }
        Format::Ssv2 => {
            let mut boxes: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|source| DataError::Io {
                    path: path.to_path_buf(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("bounding_box") || n.starts_with("boxes"))
                })
                .collect();
            boxes.sort();
            for (name, file) in [("train", "train.json"), ("validation", "validation.json")] {
                let f = path.join(file);
                if !f.exists() {
                    continue;
                }
                let o = ssv2::Ssv2Options {
                    labels: Some(path.join("labels.json")),
                    video_dir: opts.media.clone(),
                    boxes: boxes.clone(),
                    split: Some(name.to_string()),
                    skip_bad: opts.skip_bad,
                };
                let l = ssv2::load(&f, &o)?;
                report.add(&format!("ssv2-{name}"), l);
            }
            if report.counts.is_empty() {
                return Err(DataError::Io {
                    path: path.join("train.json"),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "neither train.json nor validation.json found",
                    ),
                });
            }
        }
        Format::Scenes => {
            let sub = |media: &str| CheckOptions {
                media: Some(path.join(media)),
                ..opts.clone()
            };
            let parts: [(&str, Format, PathBuf, CheckOptions); 7] = [
                (
                    "jsonl",
                    Format::Jsonl,
                    path.join("samples.jsonl"),
                    CheckOptions {
                        media: None,
                        ..opts.clone()
                    },
                ),
                (
                    "refcoco",
                    Format::Refcoco,
                    path.join("refcoco"),
                    sub("images"),
                ),
                (
                    "coco-instances",
                    Format::CocoInstances,
                    path.join("coco/instances.json"),
                    sub("images"),
                ),
                (
                    "coco-captions",
                    Format::CocoCaptions,
                    path.join("coco/captions.json"),
                    sub("images"),
                ),
                (
                    "karpathy",
                    Format::Karpathy,
                    path.join("coco/dataset_coco.json"),
                    CheckOptions {
                        media: Some(path.to_path_buf()),
                        ..opts.clone()
                    },
                ),
                (
                    "mmvp",
                    Format::Mmvp,
                    path.join("mmvp"),
                    CheckOptions {
                        media: None,
                        ..opts.clone()
                    },
                ),
                ("ssv2", Format::Ssv2, path.join("ssv2"), sub("clips")),
            ];
            for (_, f, p, o) in parts {
                let r = check(&p, f, &o)?;
                report.counts.extend(r.counts);
                report.skipped += r.skipped;
                report.problems.extend(r.problems);
            }
        }
    }
    Ok(report)
}
