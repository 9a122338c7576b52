//! Fine-tuning export (seed 000's LoRA set): every question (clip or image) and caption under
//! every cue variant, with the cued media written out, in the formats common trainers read:
//!
//! - `llamafactory`: LLaMA-Factory's ShareGPT layout, `data.json` (a JSON array of `{messages,
//!   images, videos}`, `<image>`/`<video>` tags in the user text) and its `dataset_info.json`;
//! - `swift`: ms-swift's JSONL, `data.jsonl` with the same rows;
//! - `messages`: Hugging Face chat `messages` JSONL, media as typed content parts
//!   (`{"type": "video", "path": ...}`).
//!
//! Media paths are relative to the output folder (`media/<variant>/<id>.mp4|.png`). The user
//! text is what `cuelab ask` sends in its structured/guided modes (`{question}\nOptions: a, b`),
//! so a model trained on the export is asked the way it was trained. `index.jsonl` maps each row
//! to its sample, variant and cue. Cued variants only apply to samples with targets (as in
//! `ask`), so plain and cued rows cover the same questions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cuelab_cue::{load_rgb, Renderer};
use cuelab_data::video::FrameSampling;
use cuelab_data::{Sample, Task};
use cuelab_vlm::remote::{prompt, PromptTemplate};
use cuelab_vlm::{AnswerMode, Question};
use image::RgbImage;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{Result, TaskError};
use crate::vqa::item::{items_from_samples, ItemKind, SkippedSample, VqaItem};
use crate::vqa::{prepare_clips, VqaConfig};

/// A trainer's data format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SftFormat {
    /// LLaMA-Factory ShareGPT (`data.json` + `dataset_info.json`).
    Llamafactory,
    /// ms-swift JSONL (`data.jsonl`).
    Swift,
    /// Hugging Face chat `messages` JSONL (`data.jsonl`).
    Messages,
}

impl std::str::FromStr for SftFormat {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "llamafactory" => Ok(SftFormat::Llamafactory),
            "swift" => Ok(SftFormat::Swift),
            "messages" => Ok(SftFormat::Messages),
            _ => Err(format!(
                "unknown format {s:?}: expected llamafactory, swift or messages"
            )),
        }
    }
}

/// What [`export_sft`] writes.
#[derive(Debug, Clone, PartialEq)]
pub struct SftSettings {
    /// Cue variants (`plain` and recipes), as `cuelab ask --cue`.
    pub cues: Vec<String>,
    /// Output format.
    pub format: SftFormat,
    /// Output folder.
    pub out: PathBuf,
    /// Frames of each clip (`None`: all of a frame folder, a video decoded whole).
    pub frames: Option<FrameSampling>,
    /// Cache of decoded videos.
    pub cache: PathBuf,
    /// Frame rate of the written clips.
    pub video_fps: f64,
    /// The user text of caption samples.
    pub caption_prompt: String,
    /// Only samples of this split.
    pub split: Option<String>,
}

/// What [`export_sft`] wrote and skipped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SftReport {
    /// Rows written.
    pub rows: usize,
    /// Rows per variant label.
    pub by_variant: BTreeMap<String, usize>,
    /// Media files written (existing ones are kept).
    pub media_written: usize,
    /// The data file.
    pub data_file: PathBuf,
    /// Samples not exported, with the reason.
    pub skipped: Vec<SkippedSample>,
}

/// One training row before formatting.
struct Row {
    id: String,
    variant: String,
    label: String,
    split: Option<String>,
    user: String,
    assistant: String,
    media: Option<(bool, String)>, // (is video, relative path)
}

/// A file-system-safe form of a sample id.
fn safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn render(
    item_images: &[RgbImage],
    targets: &[Vec<cuelab_cue::Target>],
    v: &crate::vqa::VqaVariant,
) -> Result<Vec<RgbImage>> {
    let mut out = Vec::with_capacity(item_images.len());
    for (k, img) in item_images.iter().enumerate() {
        let ts = targets.get(k).map(Vec::as_slice).unwrap_or(&[]);
        let mut current = img.clone();
        if !v.recipe.is_plain() {
            for t in ts {
                current = Renderer::new(&current).render(&v.recipe, t)?;
            }
        }
        out.push(current);
    }
    Ok(out)
}

/// Write media unless it exists (written under a temporary name, then renamed).
fn write_media(frames: &[RgbImage], is_video: bool, fps: f64, path: &Path) -> Result<bool> {
    if path.is_file() {
        return Ok(false);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| TaskError::io(parent, e))?;
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("png");
    let tmp = path.with_extension(format!("tmp.{ext}"));
    if is_video {
        cuelab_data::video::write_mp4(frames, fps, &tmp)
            .map_err(|e| TaskError::Data(Box::new(e)))?;
    } else if let Some(f) = frames.first() {
        f.save(&tmp)
            .map_err(|e| TaskError::Config(format!("{}: {e}", tmp.display())))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| TaskError::io(path, e))?;
    Ok(true)
}

fn question_text(item: &VqaItem, count_suffix: &str) -> String {
    match item.kind {
        ItemKind::Count => format!("{}{count_suffix}", item.question),
        ItemKind::Choice => {
            let q = Question {
                id: item.id.clone(),
                system: None,
                text: item.question.clone(),
                images: Vec::<Arc<RgbImage>>::new(),
                choices: item.choices.clone(),
            };
            prompt::user_text(&PromptTemplate::default(), AnswerMode::Structured, &q)
                .unwrap_or_else(|| item.question.clone())
        }
    }
}

/// Export `samples` (relative media paths against `base`) for fine-tuning (see the module docs).
pub fn export_sft(samples: Vec<Sample>, base: &Path, settings: &SftSettings) -> Result<SftReport> {
    let cfg = VqaConfig {
        cues: settings.cues.clone(),
        ..VqaConfig::default()
    };
    let variants = cfg.variants()?;
    let samples: Vec<Sample> = samples
        .into_iter()
        .filter(|s| settings.split.is_none() || s.split == settings.split)
        .collect();
    let captions: Vec<&Sample> = samples.iter().filter(|s| s.task == Task::Caption).collect();
    let mut report = SftReport::default();
    let caption_samples: Vec<Sample> = captions.into_iter().cloned().collect();
    let (prepared, mut unreadable) = prepare_clips(samples, base, settings.frames, &settings.cache);
    report.skipped.append(&mut unreadable);
    let (items, mut not_asked) = items_from_samples(&prepared, base);
    report.skipped.append(&mut not_asked);
    let clip_ids: std::collections::BTreeSet<&str> = prepared
        .iter()
        .filter(|s| s.task == Task::Video)
        .map(|s| s.id.as_str())
        .collect();
    let mut rows: Vec<Row> = Vec::new();
    for item in &items {
        let images: std::result::Result<Vec<RgbImage>, _> =
            item.images.iter().map(|p| load_rgb(p)).collect();
        let images = match images {
            Ok(i) => i,
            Err(e) => {
                report.skipped.push(SkippedSample {
                    id: item.id.clone(),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let is_video = clip_ids.contains(item.id.as_str()) && images.len() > 1;
        let user = question_text(item, &cfg.count_suffix);
        let assistant = match item.kind {
            ItemKind::Choice => item
                .answer_index
                .and_then(|i| item.choices.get(i).cloned())
                .unwrap_or_default(),
            ItemKind::Count => item.count.map(|c| c.to_string()).unwrap_or_default(),
        };
        let split = prepared
            .iter()
            .find(|s| s.id == item.id)
            .and_then(|s| s.split.clone());
        for v in &variants {
            if !v.recipe.is_plain() && !item.has_targets() {
                continue;
            }
            let frames = render(&images, &item.targets, v)?;
            let rel = format!(
                "media/{}/{}.{}",
                v.id,
                safe(&item.id),
                if is_video { "mp4" } else { "png" }
            );
            if is_video {
                if write_media(&frames, true, settings.video_fps, &settings.out.join(&rel))? {
                    report.media_written += 1;
                }
            } else if write_media(&frames[..1], false, 0.0, &settings.out.join(&rel))? {
                report.media_written += 1;
            }
            rows.push(Row {
                id: item.id.clone(),
                variant: v.id.clone(),
                label: v.label.clone(),
                split: split.clone(),
                user: user.clone(),
                assistant: assistant.clone(),
                media: Some((is_video, rel)),
            });
        }
    }
    for s in &caption_samples {
        let Some(caption) = s.captions.iter().find(|c| !c.trim().is_empty()) else {
            report.skipped.push(SkippedSample {
                id: s.id.clone(),
                reason: "caption sample without a caption".into(),
            });
            continue;
        };
        let Some(image) = &s.image else {
            report.skipped.push(SkippedSample {
                id: s.id.clone(),
                reason: "caption sample without an image".into(),
            });
            continue;
        };
        let img = match load_rgb(&cuelab_data::jsonl::resolve(base, image)) {
            Ok(i) => i,
            Err(e) => {
                report.skipped.push(SkippedSample {
                    id: s.id.clone(),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        // Captions have no target: the plain variant only.
        let rel = format!("media/plain/{}.png", safe(&s.id));
        if write_media(&[img], false, 0.0, &settings.out.join(&rel))? {
            report.media_written += 1;
        }
        rows.push(Row {
            id: s.id.clone(),
            variant: "plain".into(),
            label: "plain".into(),
            split: s.split.clone(),
            user: settings.caption_prompt.clone(),
            assistant: caption.clone(),
            media: Some((false, rel)),
        });
    }
    write_rows(&rows, settings, &mut report)?;
    Ok(report)
}

fn row_json(row: &Row, format: SftFormat) -> Value {
    let (videos, images): (Vec<&str>, Vec<&str>) = match &row.media {
        Some((true, p)) => (vec![p.as_str()], vec![]),
        Some((false, p)) => (vec![], vec![p.as_str()]),
        None => (vec![], vec![]),
    };
    match format {
        SftFormat::Llamafactory | SftFormat::Swift => {
            let tag = match &row.media {
                Some((true, _)) => "<video>",
                Some((false, _)) => "<image>",
                None => "",
            };
            json!({
                "messages": [
                    {"role": "user", "content": format!("{tag}{}", row.user)},
                    {"role": "assistant", "content": row.assistant},
                ],
                "images": images,
                "videos": videos,
            })
        }
        SftFormat::Messages => {
            let mut content = Vec::new();
            if let Some((is_video, p)) = &row.media {
                let kind = if *is_video { "video" } else { "image" };
                content.push(json!({"type": kind, "path": p}));
            }
            content.push(json!({"type": "text", "text": row.user}));
            json!({
                "messages": [
                    {"role": "user", "content": content},
                    {"role": "assistant", "content": [{"type": "text", "text": row.assistant}]},
                ]
            })
        }
    }
}

fn write_rows(rows: &[Row], settings: &SftSettings, report: &mut SftReport) -> Result<()> {
    let out = &settings.out;
    std::fs::create_dir_all(out).map_err(|e| TaskError::io(out, e))?;
    let write = |name: &str, text: String| -> Result<PathBuf> {
        let p = out.join(name);
        std::fs::write(&p, text).map_err(|e| TaskError::io(&p, e))?;
        Ok(p)
    };
    let values: Vec<Value> = rows.iter().map(|r| row_json(r, settings.format)).collect();
    let lines =
        |vals: &[Value]| -> String { vals.iter().map(|v| format!("{v}\n")).collect::<String>() };
    report.data_file = match settings.format {
        SftFormat::Llamafactory => {
            let text = serde_json::to_string_pretty(&values)
                .map_err(|e| TaskError::Config(e.to_string()))?;
            let p = write("data.json", text + "\n")?;
            let info = json!({
                "cuelab_sft": {
                    "file_name": "data.json",
                    "formatting": "sharegpt",
                    "columns": {"messages": "messages", "images": "images", "videos": "videos"},
                    "tags": {
                        "role_tag": "role",
                        "content_tag": "content",
                        "user_tag": "user",
                        "assistant_tag": "assistant",
                    },
                }
            });
            let text = serde_json::to_string_pretty(&info)
                .map_err(|e| TaskError::Config(e.to_string()))?;
            write("dataset_info.json", text + "\n")?;
            p
        }
        SftFormat::Swift | SftFormat::Messages => write("data.jsonl", lines(&values))?,
    };
    let index: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            json!({"row": i, "id": r.id, "variant": r.variant, "cue": r.label, "split": r.split})
        })
        .collect();
    write("index.jsonl", lines(&index))?;
    report.rows = rows.len();
    for r in rows {
        *report.by_variant.entry(r.label.clone()).or_default() += 1;
    }
    Ok(())
}
