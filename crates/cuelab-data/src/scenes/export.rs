//! Render and write a generated dataset in every format: images, `samples.jsonl`, RefCOCO-style
//! `refcoco/refs(synthetic).p` + `instances.json`, COCO `coco/instances.json`,
//! `coco/captions.json`, Karpathy `coco/dataset_coco.json`, MMVP `mmvp/Questions.csv`, and SSv2
//! style `ssv2/{labels,train,validation,boxes}.json` over frame folders in `clips/`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use super::draw::{render_rgb, Background, Object, Shape};
use super::{clip, pair, scene, split_of, Clip, Config, Pair, Scene, VERBS};
use crate::coco::{CocoAnnotation, CocoCaption, CocoCategory, CocoImage};
use crate::error::{DataError, Result};
use crate::refcoco::{Ref, RefSentence};
use crate::sample::Sample;
use crate::ssv2::{Box2d, FrameEntry, FrameLabel, VideoEntry};
use crate::{jsonl, util};

/// What was written.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Still scenes.
    pub scenes: usize,
    /// MMVP-style pairs.
    pub pairs: usize,
    /// Clips.
    pub clips: usize,
    /// Image files written (scenes + pair images + clip frames).
    pub images: usize,
    /// Samples in `samples.jsonl`.
    pub samples: usize,
    /// Seconds spent.
    pub seconds: f64,
}

/// Encode RGB bytes as PNG (fast deterministic compression).
pub fn encode_png(rgb: &[u8], w: u32, h: u32) -> std::result::Result<Vec<u8>, String> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    use image::ImageEncoder;
    let mut buf = Vec::new();
    PngEncoder::new_with_quality(&mut buf, CompressionType::Fast, FilterType::Sub)
        .write_image(rgb, w, h, image::ExtendedColorType::Rgb8)
        .map_err(|e| e.to_string())?;
    Ok(buf)
}

fn write_image(
    out: &Path,
    rel: &str,
    bg: &Background,
    objs: &[Object],
    w: u32,
    h: u32,
) -> Result<()> {
    let path = out.join(rel);
    let rgb = render_rgb(bg, objs, w, h);
    let png = encode_png(&rgb, w, h).map_err(|message| DataError::Image {
        path: path.clone(),
        message,
    })?;
    util::write_bytes(&path, &png)
}

fn category_id(s: Shape) -> u64 {
    Shape::ALL.iter().position(|x| *x == s).unwrap_or(0) as u64 + 1
}

/// Generate and write everything under `out`.
pub fn write(cfg: &Config, out: &Path) -> Result<Summary> {
    if cfg.width < 64 || cfg.height < 64 {
        return Err(DataError::Invalid("images must be at least 64x64".into()));
    }
    let start = Instant::now();
    let (w, h) = (cfg.width, cfg.height);
    let scenes: Vec<Scene> = (0..cfg.n)
        .into_par_iter()
        .map(|i| {
            let s = scene(cfg, i);
            write_image(out, &s.file, &s.background, &s.objects, w, h)?;
            Ok(s)
        })
        .collect::<Result<_>>()?;
    let pairs: Vec<Pair> = (0..cfg.pairs)
        .into_par_iter()
        .map(|p| {
            let pr = pair(cfg, p);
            for k in 0..2 {
                write_image(out, &pr.files[k], &pr.background, &pr.objects[k], w, h)?;
            }
            Ok(pr)
        })
        .collect::<Result<_>>()?;
    let clips: Vec<Clip> = (0..cfg.clips)
        .into_par_iter()
        .map(|c| {
            let cl = clip(cfg, c);
            for (f, objs) in cl.frames.iter().enumerate() {
                write_image(out, &cl.files[f], &cl.background, objs, w, h)?;
            }
            Ok(cl)
        })
        .collect::<Result<_>>()?;

    let mut samples: Vec<Sample> = Vec::new();
    for s in &scenes {
        samples.extend(s.samples.iter().cloned());
    }
    for p in &pairs {
        samples.extend(p.samples(w, h));
    }
    for c in &clips {
        samples.push(c.sample(w, h));
    }
    jsonl::write(&out.join("samples.jsonl"), &samples)?;
    write_coco(out, cfg, &scenes)?;
    write_mmvp(out, &pairs)?;
    write_ssv2(out, cfg, &clips)?;
    let images =
        scenes.len() + 2 * pairs.len() + clips.iter().map(|c| c.files.len()).sum::<usize>();
    let summary = Summary {
        scenes: scenes.len(),
        pairs: pairs.len(),
        clips: clips.len(),
        images,
        samples: samples.len(),
        seconds: start.elapsed().as_secs_f64(),
    };
    // The manifest holds no timing so that output stays byte-identical.
    util::write_json(
        &out.join("manifest.json"),
        &serde_json::json!({
            "generator": "cuelab scenes",
            "config": cfg,
            "scenes": summary.scenes, "pairs": summary.pairs, "clips": summary.clips,
            "images": summary.images, "samples": summary.samples,
        }),
    )?;
    Ok(summary)
}

fn write_coco(out: &Path, cfg: &Config, scenes: &[Scene]) -> Result<()> {
    let (w, h) = (cfg.width, cfg.height);
    let mut images = Vec::new();
    let mut anns = Vec::new();
    let mut caps = Vec::new();
    let mut refs = Vec::new();
    let mut karpathy = Vec::new();
    for s in scenes {
        let image_id = s.index as u64 + 1;
        let file_name = format!("{image_id:06}.png");
        images.push(CocoImage {
            id: image_id,
            file_name: file_name.clone(),
            width: w,
            height: h,
        });
        for (k, (o, b)) in s.objects.iter().zip(&s.boxes).enumerate() {
            anns.push(CocoAnnotation {
                id: image_id * 100 + k as u64,
                image_id,
                category_id: category_id(o.shape),
                bbox: vec![
                    b.x0 as f64,
                    b.y0 as f64,
                    b.width() as f64,
                    b.height() as f64,
                ],
                segmentation: None,
                area: b.area() as f64,
                iscrowd: 0,
            });
        }
        let mut sentences = Vec::new();
        for smp in &s.samples {
            for (j, c) in smp.captions.iter().enumerate() {
                caps.push(CocoCaption {
                    id: image_id * 10 + j as u64,
                    image_id,
                    caption: c.clone(),
                });
                sentences.push(serde_json::json!({
                    "raw": c,
                    "tokens": tokens(c),
                }));
            }
            if let (Some(t), false) = (s.target, smp.expressions.is_empty()) {
                let ann_id = image_id * 100 + t as u64;
                let sents: Vec<RefSentence> = smp
                    .expressions
                    .iter()
                    .enumerate()
                    .map(|(j, e)| RefSentence {
                        tokens: e.tokens.clone(),
                        raw: e.raw.clone(),
                        sent_id: image_id * 10 + j as u64,
                        sent: e.raw.to_lowercase(),
                    })
                    .collect();
                refs.push(Ref {
                    image_id,
                    split: split_of(s.index).to_string(),
                    sent_ids: sents.iter().map(|x| x.sent_id).collect(),
                    sentences: sents,
                    file_name: format!("{image_id:06}_{ann_id}.png"),
                    category_id: category_id(s.objects[t].shape),
                    ann_id,
                    ref_id: image_id,
                });
            }
        }
        karpathy.push(serde_json::json!({
            "filepath": "images",
            "filename": file_name,
            "cocoid": image_id,
            "imgid": s.index,
            "split": split_of(s.index),
            "sentences": sentences,
        }));
    }
    let categories: Vec<CocoCategory> = Shape::ALL
        .iter()
        .map(|s| CocoCategory {
            id: category_id(*s),
            name: s.name().to_string(),
            supercategory: "shape".to_string(),
        })
        .collect();
    let instances = serde_json::json!({
        "images": images, "annotations": anns, "categories": categories,
    });
    util::write_json(&out.join("coco/instances.json"), &instances)?;
    util::write_json(&out.join("refcoco/instances.json"), &instances)?;
    crate::refcoco::write_refs(&out.join("refcoco/refs(synthetic).p"), &refs)?;
    util::write_json(
        &out.join("coco/captions.json"),
        &serde_json::json!({"images": images, "annotations": caps}),
    )?;
    util::write_json(
        &out.join("coco/dataset_coco.json"),
        &serde_json::json!({"images": karpathy, "dataset": "coco"}),
    )
}

fn tokens(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn write_mmvp(out: &Path, pairs: &[Pair]) -> Result<()> {
    let path = out.join("mmvp/Questions.csv");
    let mut wtr = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| DataError::Csv {
        path: path.clone(),
        source: e,
    };
    wtr.write_record(["Index", "Question", "Options", "Correct Answer"])
        .map_err(err)?;
    for p in pairs {
        for k in 0..2 {
            let index = 2 * p.index + k + 1;
            wtr.write_record([
                index.to_string(),
                p.question.clone(),
                format!("(a) {} (b) {}", p.options[0], p.options[1]),
                ["(a)", "(b)"][k].to_string(),
            ])
            .map_err(err)?;
        }
    }
    let bytes = wtr.into_inner().map_err(|e| DataError::Io {
        path: path.clone(),
        source: e.into_error(),
    })?;
    util::write_bytes(&path, &bytes)?;
    let patterns: Vec<serde_json::Value> = pairs
        .iter()
        .map(|p| serde_json::json!({"pair": p.index + 1, "pattern": p.pattern, "changed": p.changed}))
        .collect();
    util::write_json(&out.join("mmvp/patterns.json"), &patterns)
}

fn write_ssv2(out: &Path, cfg: &Config, clips: &[Clip]) -> Result<()> {
    let (w, h) = (cfg.width, cfg.height);
    let labels: BTreeMap<String, String> = VERBS
        .iter()
        .enumerate()
        .map(|(i, (_, t))| (crate::ssv2::normalise_template(t), i.to_string()))
        .collect();
    util::write_json(&out.join("ssv2/labels.json"), &labels)?;
    let mut train = Vec::new();
    let mut val = Vec::new();
    let mut boxes: BTreeMap<String, Vec<FrameEntry>> = BTreeMap::new();
    for c in clips {
        let subject = c.subject();
        let template = VERBS[c.verb].1;
        let entry = VideoEntry {
            id: c.id(),
            label: template
                .replace("[something]", &subject)
                .replace("[Something]", &subject),
            template: template.to_string(),
            placeholders: vec![subject.clone()],
        };
        if c.index % 5 == 4 {
            val.push(entry);
        } else {
            train.push(entry);
        }
        let frames = c
            .frame_boxes(w, h)
            .into_iter()
            .map(|fb| FrameEntry {
                name: format!("{:04}.png", fb.frame + 1),
                labels: fb
                    .boxes
                    .iter()
                    .map(|lb| FrameLabel {
                        box2d: Box2d {
                            x1: lb.bbox.x0,
                            y1: lb.bbox.y0,
                            x2: lb.bbox.x1,
                            y2: lb.bbox.y1,
                        },
                        category: lb.label.clone(),
                    })
                    .collect(),
            })
            .collect();
        boxes.insert(c.id(), frames);
    }
    util::write_json(&out.join("ssv2/train.json"), &train)?;
    util::write_json(&out.join("ssv2/validation.json"), &val)?;
    util::write_json(&out.join("ssv2/boxes.json"), &boxes)
}
