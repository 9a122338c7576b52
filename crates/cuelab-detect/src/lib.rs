//! Region proposals from ONNX object detectors, run in pure Rust with [tract](https://github.com/sonos/tract).
//!
//! Two output layouts are recognised from the model's input/output shapes:
//!
//! * **CenterNet** (the built-in `centernet`, MobileNetV3 COCO, embedded in the binary): input
//!   `[1, H, W, 3]` float NHWC RGB 0–255 (the photo stretched to `W x H` with TF's bilinear
//!   resize), output `[1, N, 6]` = `x1, y1, x2, y2` (input pixels), score, class index.
//! * **Ultralytics YOLO** (v8/v11 ONNX exports): input `[1, 3, H, W]` float NCHW RGB 0–1
//!   (letterboxed), output `[1, 4 + C, N]` = `cx, cy, w, h` (input pixels) and `C` class scores.
//!
//! Post-processing for both: keep scores at or above [`DetectOptions::conf`], class-aware
//! non-maximum suppression at [`DetectOptions::iou`] (class-agnostic with
//! [`DetectOptions::agnostic`]), at most [`DetectOptions::max_det`] detections by decreasing
//! score, boxes mapped back to the photo's pixels and clipped to it.
//!
//! ```no_run
//! use cuelab_detect::{Detector, DetectOptions};
//! let det = Detector::builtin("centernet")?;
//! let img = cuelab_cue::load_rgb(std::path::Path::new("photo.jpg"))?;
//! for d in det.detect(&img, &DetectOptions::default())? {
//!     println!("{} {:.2} {:?}", d.class_name, d.score, d.bbox);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod coco;
mod error;
pub mod nms;
pub mod preprocess;

use std::path::Path;
use std::sync::Arc;

use cuelab_cue::BoxXyxy;
use image::RgbImage;
use serde::{Deserialize, Serialize};
use tract_onnx::pb;
use tract_onnx::prelude::*;

pub use error::{DetectError, Result};

/// The embedded CenterNet (MobileNetV3, COCO-80) ONNX model; see `models/PROVENANCE.md`.
pub const CENTERNET_ONNX: &[u8] = include_bytes!("../models/centernet-mbv3-coco.onnx");

/// Names of the built-in detectors.
pub const BUILTINS: [&str; 1] = ["centernet"];

/// One detected object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Box in the photo's pixels (xyxy, exclusive end).
    pub bbox: BoxXyxy,
    /// Confidence in 0–1.
    pub score: f32,
    /// 0-based class index.
    pub class_id: usize,
    /// Class name (COCO-80 for CenterNet and 80-class YOLO models; from the model's metadata
    /// otherwise; `class{N}` when unknown).
    pub class_name: String,
}

/// Post-processing thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DetectOptions {
    /// Minimum score kept (inclusive for CenterNet; YOLO keeps scores strictly above, as
    /// Ultralytics does).
    pub conf: f32,
    /// NMS IoU threshold: a box overlapping a higher-scored kept box of the same class by more
    /// than this is dropped.
    pub iou: f32,
    /// At most this many detections per image.
    pub max_det: usize,
    /// Suppress across classes too.
    pub agnostic: bool,
}

impl Default for DetectOptions {
    fn default() -> Self {
        DetectOptions {
            conf: 0.3,
            iou: 0.5,
            max_det: 100,
            agnostic: false,
        }
    }
}

impl DetectOptions {
    /// Check the thresholds are in range.
    pub fn validate(&self) -> Result<()> {
        let check = |name, v: f32| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(DetectError::InvalidOption {
                    name,
                    value: v,
                    reason: "must be within 0..=1",
                })
            }
        };
        check("conf", self.conf)?;
        check("iou", self.iou)
    }
}

/// The output layout of a detector, recognised from its input and output shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// CenterNet: NHWC 0–255 stretched input, `[1, N, 6]` boxes + score + class.
    CenterNet,
    /// Ultralytics YOLOv8/11: NCHW 0–1 letterboxed input, `[1, 4 + C, N]`.
    Yolo,
}

type Plan = Arc<TypedRunnableModel>;

/// An ONNX object detector ready to run.
#[derive(Debug)]
pub struct Detector {
    name: String,
    layout: Layout,
    /// Input height and width.
    input_hw: (usize, usize),
    num_classes: usize,
    class_names: Vec<String>,
    plan: Plan,
}

/// A dimension of an ONNX value: fixed or symbolic/unknown.
fn proto_dims(v: &pb::ValueInfoProto) -> Vec<Option<usize>> {
    use pb::tensor_shape_proto::dimension::Value;
    use pb::type_proto::Value as TV;
    let Some(TV::TensorType(t)) = v.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
        return Vec::new();
    };
    t.shape
        .as_ref()
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match d.value {
                    Some(Value::DimValue(n)) if n > 0 => Some(n as usize),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn fmt_dims(d: &[Option<usize>]) -> String {
    let parts: Vec<String> = d
        .iter()
        .map(|x| x.map_or("?".to_string(), |n| n.to_string()))
        .collect();
    format!("[{}]", parts.join(","))
}

/// Class names from Ultralytics' ONNX metadata (`names`: a Python dict literal
/// `{0: 'person', 1: 'bicycle'}`).
fn metadata_names(proto: &pb::ModelProto) -> Option<Vec<String>> {
    let text = &proto
        .metadata_props
        .iter()
        .find(|p| p.key == "names")?
        .value;
    let inner = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut names = Vec::new();
    // split on `, N:` boundaries: names may contain commas inside quotes
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let (idx, after) = rest.split_once(':')?;
        if idx.trim().parse::<usize>().ok()? != names.len() {
            return None;
        }
        let after = after.trim_start();
        let quote = after.chars().next()?;
        if quote != '\'' && quote != '"' {
            return None;
        }
        let end = after[1..].find(quote)? + 1;
        names.push(after[1..end].to_string());
        rest = after[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Some(names)
}

fn tract_err<'a>(model: &'a str, stage: &'static str) -> impl Fn(TractError) -> DetectError + 'a {
    move |e| DetectError::Tract {
        model: model.to_string(),
        stage,
        reason: format!("{e:#}"),
    }
}

impl Detector {
    /// A built-in detector by name (`centernet`).
    pub fn builtin(name: &str) -> Result<Self> {
        match name {
            "centernet" => Self::from_bytes(CENTERNET_ONNX, "centernet"),
            _ => Err(DetectError::UnknownBuiltin {
                name: name.to_string(),
                builtins: BUILTINS.to_vec(),
            }),
        }
    }

    /// A built-in name, or else a path to an `.onnx` file.
    pub fn load(spec: &str) -> Result<Self> {
        if BUILTINS.contains(&spec) {
            Self::builtin(spec)
        } else {
            Self::from_path(Path::new(spec))
        }
    }

    /// Load an ONNX detector file.
    pub fn from_path(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| DetectError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }

    /// Load an ONNX detector from memory; `name` identifies it in errors and manifests.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Self> {
        let onnx = tract_onnx::onnx();
        let proto = onnx
            .proto_model_for_read(&mut &*bytes)
            .map_err(|e| DetectError::NotOnnx {
                model: name.to_string(),
                reason: format!("{e:#}"),
            })?;
        let graph = proto.graph.as_ref().ok_or_else(|| DetectError::NotOnnx {
            model: name.to_string(),
            reason: "no graph".into(),
        })?;
        let initializers: std::collections::HashSet<&str> =
            graph.initializer.iter().map(|t| t.name.as_str()).collect();
        let inputs: Vec<&pb::ValueInfoProto> = graph
            .input
            .iter()
            .filter(|i| !initializers.contains(i.name.as_str()))
            .collect();
        let unsupported = |reason: String| DetectError::UnsupportedLayout {
            model: name.to_string(),
            reason,
        };
        if inputs.len() != 1 || graph.output.is_empty() {
            return Err(unsupported(format!(
                "expected one input and at least one output, found {} inputs and {} outputs",
                inputs.len(),
                graph.output.len()
            )));
        }
        let din = proto_dims(inputs[0]);
        let dout = proto_dims(&graph.output[0]);
        let found = format!(
            "input `{}` {}, output `{}` {}",
            inputs[0].name,
            fmt_dims(&din),
            graph.output[0].name,
            fmt_dims(&dout)
        );
        let (layout, h, w) = match (din.as_slice(), dout.as_slice()) {
            ([_, h, w, Some(3)], [_, _, Some(6)]) => {
                (Layout::CenterNet, h.unwrap_or(512), w.unwrap_or(512))
            }
            ([_, Some(3), h, w], [_, Some(c), _]) if *c > 4 => {
                (Layout::Yolo, h.unwrap_or(640), w.unwrap_or(640))
            }
            _ => return Err(unsupported(found)),
        };
        let input_shape = match layout {
            Layout::CenterNet => [1, h, w, 3],
            Layout::Yolo => [1, 3, h, w],
        };
        let model = onnx
            .model_for_proto_model(&proto)
            .map_err(tract_err(name, "loading the graph"))?
            .with_input_fact(0, f32::fact(input_shape).into())
            .map_err(tract_err(name, "setting the input shape"))?;
        let model = model
            .into_optimized()
            .map_err(tract_err(name, "optimising"))?;
        let out_fact = model
            .output_fact(0)
            .map_err(tract_err(name, "reading the output shape"))?;
        let out_shape: Vec<usize> = out_fact
            .shape
            .as_concrete()
            .map(|s| s.to_vec())
            .ok_or_else(|| {
                unsupported(format!("{found}; output shape is not fixed: {out_fact:?}"))
            })?;
        let num_classes = match (layout, out_shape.as_slice()) {
            (Layout::CenterNet, [1, _, 6]) => COCO_CLASSES,
            (Layout::Yolo, [1, c, _]) if *c > 4 => c - 4,
            _ => {
                return Err(unsupported(format!(
                    "{found}; tract infers output {out_shape:?}"
                )))
            }
        };
        let class_names = match metadata_names(&proto) {
            Some(n) if n.len() == num_classes => n,
            _ if num_classes == COCO_CLASSES => {
                coco::COCO80.iter().map(|s| s.to_string()).collect()
            }
            _ => (0..num_classes).map(|i| format!("class{i}")).collect(),
        };
        let plan = model.into_runnable().map_err(tract_err(name, "planning"))?;
        tracing::debug!(model = name, ?layout, h, w, num_classes, "detector loaded");
        Ok(Detector {
            name: name.to_string(),
            layout,
            input_hw: (h, w),
            num_classes,
            class_names,
            plan,
        })
    }

    /// The name given at load time (built-in name or path).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The recognised layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Model input height and width.
    pub fn input_size(&self) -> (usize, usize) {
        self.input_hw
    }

    /// Class names, index = class id.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// The shape of the model's input tensor.
    pub fn input_shape(&self) -> Vec<usize> {
        let (h, w) = self.input_hw;
        match self.layout {
            Layout::CenterNet => vec![1, h, w, 3],
            Layout::Yolo => vec![1, 3, h, w],
        }
    }

    /// The exact input tensor this detector feeds the model for `img` (see [`preprocess`]), and
    /// for YOLO the letterbox geometry.
    pub fn preprocess(&self, img: &RgbImage) -> (Vec<f32>, Option<preprocess::Letterbox>) {
        let (h, w) = self.input_hw;
        match self.layout {
            Layout::CenterNet => (preprocess::tf_bilinear_nhwc(img, w, h), None),
            Layout::Yolo => {
                let (lb_img, lb) = preprocess::letterbox_image(img, w.max(h));
                (preprocess::nchw_unit(&lb_img), Some(lb))
            }
        }
    }

    /// Run the model on an input tensor of [`Detector::input_shape`] (row-major); returns the
    /// raw first output and its shape.
    pub fn run_raw(&self, input: &[f32]) -> Result<(Vec<f32>, Vec<usize>)> {
        let shape = self.input_shape();
        if input.len() != shape.iter().product::<usize>() {
            return Err(DetectError::InputShape {
                model: self.name.clone(),
                expected: shape,
                got: input.len(),
            });
        }
        let tensor = Tensor::from_shape(&shape, input)
            .map_err(tract_err(&self.name, "building the input"))?;
        let run = || self.plan.run(tvec!(tensor.into_tvalue()));
        let outputs = tract_linalg::multithread::multithread_tract_scope(
            tract_linalg::multithread::Executor::RayonGlobal,
            run,
        )
        .map_err(tract_err(&self.name, "running"))?;
        let out = outputs.first().ok_or_else(|| DetectError::OutputShape {
            model: self.name.clone(),
            expected: "one output".into(),
            got: vec![],
        })?;
        let view = out
            .to_plain_array_view::<f32>()
            .map_err(tract_err(&self.name, "reading the output"))?;
        Ok((view.iter().copied().collect(), view.shape().to_vec()))
    }

    /// Detect objects in a photo.
    pub fn detect(&self, img: &RgbImage, opts: &DetectOptions) -> Result<Vec<Detection>> {
        opts.validate()?;
        let (input, lb) = self.preprocess(img);
        let (raw, shape) = self.run_raw(&input)?;
        self.postprocess(
            &raw,
            &shape,
            (img.width() as usize, img.height() as usize),
            lb.as_ref(),
            opts,
        )
    }

    /// Post-process a raw output of this model for a `photo_wh` photo: decode (see
    /// [`decode_centernet`], [`decode_yolo`]), NMS on input-pixel boxes, cap, map back to the photo
    /// (for YOLO through `letterbox`, computed from the photo size when `None`).
    pub fn postprocess(
        &self,
        raw: &[f32],
        shape: &[usize],
        photo_wh: (usize, usize),
        letterbox: Option<&preprocess::Letterbox>,
        opts: &DetectOptions,
    ) -> Result<Vec<Detection>> {
        let (h, w) = self.input_hw;
        let candidates = match self.layout {
            Layout::Yolo => decode_yolo(raw, shape, opts.conf)
                .map_err(|got| self.bad_output("[1, 4+C, N]", got))?,
            Layout::CenterNet => decode_centernet(raw, shape, opts.conf)
                .map_err(|got| self.bad_output("[1, N, 6]", got))?,
        };
        let lb = letterbox
            .copied()
            .unwrap_or_else(|| preprocess::Letterbox::new(photo_wh.0, photo_wh.1, w.max(h)));
        let (pw, ph) = (photo_wh.0 as f32, photo_wh.1 as f32);
        let (sx, sy) = (pw / w as f32, ph / h as f32);
        let map = |b: [f32; 4]| -> Option<BoxXyxy> {
            let (x0, y0, x1, y1) = match self.layout {
                Layout::CenterNet => (b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy),
                Layout::Yolo => {
                    let (x0, y0) = lb.unmap(b[0], b[1]);
                    let (x1, y1) = lb.unmap(b[2], b[3]);
                    (x0, y0, x1, y1)
                }
            };
            clipped_box(x0, y0, x1, y1, pw, ph)
        };
        let boxes: Vec<[f32; 4]> = candidates.iter().map(|c| c.xyxy).collect();
        let scores: Vec<f32> = candidates.iter().map(|c| c.score).collect();
        let classes: Vec<usize> = candidates
            .iter()
            .map(|c| if opts.agnostic { 0 } else { c.class_id })
            .collect();
        Ok(nms::batched_nms(&boxes, &scores, &classes, opts.iou)
            .into_iter()
            .filter_map(|i| {
                let c = &candidates[i];
                Some(Detection {
                    bbox: map(c.xyxy)?,
                    score: c.score,
                    class_id: c.class_id,
                    class_name: self
                        .class_names
                        .get(c.class_id)
                        .cloned()
                        .unwrap_or_else(|| format!("class{}", c.class_id)),
                })
            })
            .take(opts.max_det)
            .collect())
    }

    /// Detect objects in an image file (EXIF orientation applied).
    pub fn detect_path(&self, path: &Path, opts: &DetectOptions) -> Result<Vec<Detection>> {
        let img = cuelab_cue::load_rgb(path)?;
        self.detect(&img, opts)
    }

    fn bad_output(&self, expected: &str, got: Vec<usize>) -> DetectError {
        DetectError::OutputShape {
            model: self.name.clone(),
            expected: expected.to_string(),
            got,
        }
    }

    /// Number of classes the model predicts.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }
}

const COCO_CLASSES: usize = 80;

/// A detection before NMS, in model-input pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// `[x0, y0, x1, y1]` in input pixels.
    pub xyxy: [f32; 4],
    /// Score.
    pub score: f32,
    /// Class index.
    pub class_id: usize,
}

/// An ordered box clipped to `w x h` (untrained models may emit x1 < x0); `None` if not finite.
fn clipped_box(x0: f32, y0: f32, x1: f32, y1: f32, w: f32, h: f32) -> Option<BoxXyxy> {
    if ![x0, y0, x1, y1].iter().all(|v| v.is_finite()) {
        return None;
    }
    let (a, b) = (x0.clamp(0.0, w), x1.clamp(0.0, w));
    let (p, q) = (y0.clamp(0.0, h), y1.clamp(0.0, h));
    BoxXyxy::new(a.min(b), p.min(q), a.max(b), p.max(q)).ok()
}

/// Decode CenterNet's `[1, N, 6]` output, keeping scores `>= conf` (boxes stay in input
/// pixels). `Err(shape)` when the shape is wrong.
pub fn decode_centernet(
    raw: &[f32],
    shape: &[usize],
    conf: f32,
) -> std::result::Result<Vec<Candidate>, Vec<usize>> {
    let [1, n, 6] = *shape else {
        return Err(shape.to_vec());
    };
    if raw.len() != n * 6 {
        return Err(shape.to_vec());
    }
    Ok(raw
        .chunks_exact(6)
        .filter(|r| r[4].is_finite() && r[4] >= conf && r[5].is_finite() && r[5] >= 0.0)
        .map(|r| Candidate {
            xyxy: [r[0], r[1], r[2], r[3]],
            score: r[4],
            class_id: r[5].round() as usize,
        })
        .collect())
}

/// Decode Ultralytics' `[1, 4 + C, N]` output: best class per anchor (first on ties), score
/// strictly above `conf`, `cx, cy, w, h` to corners (input pixels). `Err(shape)` when the shape
/// is wrong.
pub fn decode_yolo(
    raw: &[f32],
    shape: &[usize],
    conf: f32,
) -> std::result::Result<Vec<Candidate>, Vec<usize>> {
    let [1, ch, n] = *shape else {
        return Err(shape.to_vec());
    };
    if ch <= 4 || raw.len() != ch * n {
        return Err(shape.to_vec());
    }
    let at = |c: usize, j: usize| raw[c * n + j];
    let mut out = Vec::new();
    for j in 0..n {
        let (mut best, mut cls) = (f32::NEG_INFINITY, 0);
        for c in 0..ch - 4 {
            let s = at(4 + c, j);
            if s > best {
                best = s;
                cls = c;
            }
        }
        if best.is_nan() || best <= conf {
            continue;
        }
        let (cx, cy, bw, bh) = (at(0, j), at(1, j), at(2, j), at(3, j));
        out.push(Candidate {
            xyxy: [cx - bw / 2.0, cy - bh / 2.0, cx + bw / 2.0, cy + bh / 2.0],
            score: best,
            class_id: cls,
        });
    }
    Ok(out)
}
