//! One way to load every in-process model family: [`LoadOptions`] (device, dtype, preprocessing)
//! taken by each family's `load(dir, &LoadOptions)` and by [`load_scorer`] / [`load_embedder`],
//! which resolve a model reference and pick the family from the checkpoint's files
//! ([`ModelFamily::detect`]).

use std::path::Path;

use crate::clip_vit::ClipVit;
use crate::config;
use crate::dinov2::Dinov2;
use crate::dtype::ModelDtype;
use crate::error::{Error, Result};
use crate::open_clip::OpenClip;
use crate::preprocess::Pipeline;
use crate::siglip::{Siglip, SiglipVision};
use crate::weights::Weights;
use crate::{resolve, Device, ImageEmbedder, ImageTextScorer};

/// How to load a model: where it runs, the dtype it computes in, and an optional preprocessing
/// override. `LoadOptions::default()` is f32 on the CPU with each layout's documented
/// preprocessing.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Preprocessing override (`None`: the documented default of the checkpoint's layout). Used
    /// by the CLIP families ([`ClipVit`], [`OpenClip`]); SigLIP and DINOv2 always use their
    /// checkpoint's own processor and ignore it.
    pub pipeline: Option<Pipeline>,
    /// Where to run.
    pub device: Device,
    /// The dtype weights are stored and matrix products run in (see [`crate::dtype`]); embeddings
    /// are returned as f32 whatever it is, and a non-f32 dtype is part of the model's id.
    pub dtype: ModelDtype,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            pipeline: None,
            device: Device::Cpu,
            dtype: ModelDtype::F32,
        }
    }
}

impl LoadOptions {
    /// These options with the preprocessing `pipeline`.
    pub fn with_pipeline(mut self, pipeline: Pipeline) -> Self {
        self.pipeline = Some(pipeline);
        self
    }

    /// These options on `device`.
    pub fn with_device(mut self, device: Device) -> Self {
        self.device = device;
        self
    }

    /// These options in `dtype`.
    pub fn with_dtype(mut self, dtype: ModelDtype) -> Self {
        self.dtype = dtype;
        self
    }
}

/// The model families this crate loads, told apart by a checkpoint directory's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFamily {
    /// Hugging Face CLIP with a ViT image tower (`model_type: clip`): [`ClipVit`].
    HfClip,
    /// An OpenAI / open_clip state dict with `open_clip_config.json` and no `config.json`
    /// (ResNet or ViT image tower): [`OpenClip`].
    OpenClip,
    /// Hugging Face SigLIP with both towers (`model_type: siglip`): [`Siglip`].
    Siglip,
    /// A SigLIP image tower alone (`model_type: siglip_vision_model`): [`SiglipVision`].
    SiglipVision,
    /// DINOv2, with or without registers (`model_type: dinov2`, `dinov2_with_registers`):
    /// [`Dinov2`].
    Dinov2,
}

impl ModelFamily {
    /// The family of the checkpoint in `dir`: from `config.json`'s `model_type`, or
    /// [`OpenClip`](Self::OpenClip) for a directory with only `open_clip_config.json`. An unknown
    /// `model_type` is [`Error::UnsupportedArchitecture`].
    pub fn detect(dir: &Path) -> Result<Self> {
        let config_path = dir.join("config.json");
        if !config_path.is_file() && dir.join("open_clip_config.json").is_file() {
            return Ok(ModelFamily::OpenClip);
        }
        let root = config::read_json(&config_path)?;
        match config::model_type(&root) {
            Some("clip") => Ok(ModelFamily::HfClip),
            Some("siglip") => Ok(ModelFamily::Siglip),
            Some("siglip_vision_model") => Ok(ModelFamily::SiglipVision),
            Some("dinov2" | "dinov2_with_registers") => Ok(ModelFamily::Dinov2),
            other => Err(Error::UnsupportedArchitecture {
                path: config_path,
                architecture: other.unwrap_or("<no model_type>").to_string(),
                supported: "clip, dinov2, dinov2_with_registers, siglip, siglip_vision_model, \
                            open_clip ResNet / ViT CLIP"
                    .into(),
            }),
        }
    }
}

/// Resolve a model reference (see [`resolve`]) and load it as an image-text scorer: CLIP (Hugging
/// Face or open_clip layout) or SigLIP with both towers.
pub fn load_scorer(
    reference: &str,
    opts: &LoadOptions,
) -> Result<Box<dyn ImageTextScorer + Send + Sync>> {
    let dir = resolve::resolve(reference)?.dir;
    match ModelFamily::detect(&dir)? {
        ModelFamily::HfClip => Ok(Box::new(ClipVit::load(&dir, opts)?)),
        ModelFamily::OpenClip => Ok(Box::new(OpenClip::load(&dir, opts)?)),
        ModelFamily::Siglip => Ok(Box::new(Siglip::load(&dir, opts)?)),
        family => Err(not_a(
            &dir,
            family,
            "clip, siglip (image-text scoring), open_clip ResNet / ViT CLIP",
        )),
    }
}

/// Resolve a model reference and load it as an image embedder: CLIP (image tower, either
/// layout), SigLIP (image tower) or DINOv2.
pub fn load_embedder(
    reference: &str,
    opts: &LoadOptions,
) -> Result<Box<dyn ImageEmbedder + Send + Sync>> {
    let dir = resolve::resolve(reference)?.dir;
    Ok(match ModelFamily::detect(&dir)? {
        ModelFamily::HfClip => Box::new(ClipVit::load(&dir, opts)?),
        ModelFamily::OpenClip => Box::new(OpenClip::load(&dir, opts)?),
        ModelFamily::Siglip | ModelFamily::SiglipVision => {
            Box::new(SiglipVision::load(&dir, opts)?)
        }
        ModelFamily::Dinov2 => Box::new(Dinov2::load(&dir, opts)?),
    })
}

/// The error for a checkpoint of `family` where another kind of model was asked for.
fn not_a(dir: &Path, family: ModelFamily, supported: &str) -> Error {
    let config_path = dir.join("config.json");
    let architecture = config::read_json(&config_path)
        .ok()
        .and_then(|v| config::model_type(&v).map(str::to_string))
        .unwrap_or_else(|| format!("{family:?}"));
    Error::UnsupportedArchitecture {
        path: config_path,
        architecture,
        supported: supported.into(),
    }
}

/// A model's [`id`](ImageEmbedder::id): `{kind}:{directory name}@{first 16 hex digits of the
/// weights' SHA-256}{dtype suffix}`, e.g. `clip-vit:clip-vit-base-patch32@0123456789abcdef`.
/// Embedding caches key on it, so its form must not change.
pub(crate) fn model_id(kind: &str, dir: &Path, weights: &Weights, dtype: ModelDtype) -> String {
    format!(
        "{kind}:{}@{}{}",
        dir.file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        &weights.sha256()[..16],
        dtype.id_suffix()
    )
}
