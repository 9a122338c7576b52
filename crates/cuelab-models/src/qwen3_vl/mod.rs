//! Qwen3-VL in-process on candle: loading the Hugging Face layout, the model's own image
//! preprocessing, the vision tower with deepstack, the Qwen3 decoder with interleaved MRoPE,
//! generation with a key/value cache, teacher-forced log-probabilities, option scoring and
//! attention capture onto the image's merged patch grid.
//!
//! * [`config`] — `config.json`.
//! * [`image`] — `smart_resize`, resize, normalisation and patch layout.
//! * [`video`] — the video processor: frame sampling, the clip's `smart_resize`, temporal patches,
//!   frame timestamps.
//! * [`prompt`] — the chat format and the template check.
//! * [`vision`] / [`text`] / `rope` — the networks.
//! * [`ops`] — generation, scoring, surprisal, attention maps.
//! * [`lora`] — PEFT LoRA adapters merged into the weights.
//! * [`lora_shapes`] — the matrices a LoRA would train, from the safetensors headers.
//! * [`heatmap`] — attention maps drawn over the image.
//! * [`words`] — per-word attention over the image and the strip of per-word heatmaps.
//! * [`sampling`] / [`beam`] — transformers-style decoding: logits processors, sampling, beam search.

pub mod beam;
pub mod config;
pub mod heatmap;
pub mod image;
pub mod lora;
pub mod lora_shapes;
pub mod ops;
pub mod prompt;
mod rope;
pub mod sampling;
pub mod text;
pub mod video;
pub mod vision;
pub mod words;

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use tokenizers::Tokenizer;

pub use config::Qwen3VlConfig;
pub use image::{ImageProcessor, ProcessedImage};
pub use ops::{ChoiceScore, GenerateOptions, Generation};
pub use sampling::{DecodeOptions, EarlyStopping};
pub use text::KvCache;
pub use video::{ProcessedVideo, VideoProcessor};

use crate::dtype::ModelDtype;
use crate::error::{Error, Result, TensorContext};
use crate::load::LoadOptions;
use crate::transformer::Loader;
use crate::weights::Weights;
use text::{Deepstack, TextDecoder};
use vision::VisionTower;

/// Attention probabilities captured per layer: `(layer, (heads, queries, keys))`.
pub type Captured = Vec<(usize, Tensor)>;

/// Visual token positions and the deepstack features of every level.
type VisualFeatures = (Tensor, Vec<Tensor>);

/// Where the tokens of one image (or of one temporal patch of a video) sit in a prepared sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageSpan {
    /// Index of the first image token.
    pub start: usize,
    /// Number of image tokens (`grid_h * grid_w` after merging).
    pub len: usize,
    /// Merged grid `(rows, cols)`: token `start + r * cols + c` covers merged cell `(r, c)`.
    pub grid: (usize, usize),
}

/// A tokenized prompt with its images, ready to run.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Token ids with every image placeholder expanded to its image tokens.
    pub ids: Vec<u32>,
    /// Preprocessed images, in prompt order.
    pub images: Vec<ProcessedImage>,
    /// Token spans of the images.
    pub spans: Vec<ImageSpan>,
    /// Preprocessed videos, in prompt order.
    pub videos: Vec<ProcessedVideo>,
    /// Token spans of the videos' temporal patches (one per patch of 2 frames), in order.
    pub video_spans: Vec<ImageSpan>,
    /// MRoPE position ids (temporal, height, width) of every token.
    pub positions: [Vec<i64>; 3],
    /// `max position + 1 - len`: the offset of positions after the prompt.
    pub rope_delta: i64,
}

impl Prepared {
    /// The same prompt followed by text tokens `ids` (positions continue after the prompt), e.g.
    /// to run a prompt and its answer teacher-forced in one pass.
    pub fn with_suffix(&self, ids: &[u32]) -> Prepared {
        let mut p = self.clone();
        let start = self.ids.len() as i64 + self.rope_delta;
        for (i, &t) in ids.iter().enumerate() {
            p.ids.push(t);
            for axis in p.positions.iter_mut() {
                axis.push(start + i as i64);
            }
        }
        p
    }
}

/// A loaded Qwen3-VL checkpoint.
pub struct Qwen3Vl {
    cfg: Qwen3VlConfig,
    vision: VisionTower,
    text: TextDecoder,
    tokenizer: Tokenizer,
    processor: ImageProcessor,
    video_processor: VideoProcessor,
    stop: Vec<u32>,
    id: String,
    dir: PathBuf,
    device: Device,
}

impl std::fmt::Debug for Qwen3Vl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Qwen3Vl").field("id", &self.id).finish()
    }
}

/// The safetensors files of a checkpoint directory: `model.safetensors`, or the shards named in
/// `model.safetensors.index.json`.
pub fn weight_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let single = dir.join("model.safetensors");
    if single.is_file() {
        return Ok(vec![single]);
    }
    let index = dir.join("model.safetensors.index.json");
    let text = std::fs::read_to_string(&index).map_err(|source| Error::Io {
        path: index.clone(),
        source,
    })?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Config {
        path: index.clone(),
        key: String::new(),
        message: e.to_string(),
    })?;
    let map = v
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| Error::Config {
            path: index.clone(),
            key: "weight_map".into(),
            message: "missing".into(),
        })?;
    let mut files: Vec<String> = map
        .values()
        .filter_map(|f| f.as_str().map(str::to_string))
        .collect();
    files.sort();
    files.dedup();
    Ok(files.into_iter().map(|f| dir.join(f)).collect())
}

impl Qwen3Vl {
    /// Load a checkpoint directory (config.json, safetensors, tokenizer.json, chat template,
    /// processor config) onto `opts.device`, the same entry point as every other model family
    /// ([`LoadOptions`]). Qwen3-VL computes in f32 only: another `opts.dtype` is
    /// [`Error::Invalid`]. The preprocessing is always the checkpoint's own processor;
    /// `opts.pipeline` is not used.
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Self> {
        Self::load_with_adapter(dir, None, opts)
    }

    /// [`load`](Self::load), merging a PEFT LoRA adapter directory into the weights first when
    /// `adapter` is given (`None` is the same as [`load`](Self::load)).
    pub fn load_with_adapter(
        dir: &Path,
        adapter: Option<&Path>,
        opts: &LoadOptions,
    ) -> Result<Self> {
        if opts.dtype != ModelDtype::F32 {
            return Err(Error::Invalid(format!(
                "{}: Qwen3-VL loads in f32 only, not {}",
                dir.display(),
                opts.dtype
            )));
        }
        let device = &opts.device;
        let cfg = Qwen3VlConfig::load(&dir.join("config.json"))?;
        prompt::check_chat_template(dir)?;
        let tok_path = dir.join("tokenizer.json");
        let tokenizer = Tokenizer::from_file(&tok_path)
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", tok_path.display())))?;
        let processor = ImageProcessor::load(dir)?;
        if processor.patch_size != cfg.vision_config.patch_size
            || processor.merge_size != cfg.vision_config.spatial_merge_size
            || processor.temporal_patch_size != cfg.vision_config.temporal_patch_size
        {
            return Err(Error::Invalid(format!(
                "{}: processor patch/merge/temporal sizes ({}, {}, {}) differ from the vision config's ({}, {}, {})",
                dir.display(),
                processor.patch_size,
                processor.merge_size,
                processor.temporal_patch_size,
                cfg.vision_config.patch_size,
                cfg.vision_config.spatial_merge_size,
                cfg.vision_config.temporal_patch_size
            )));
        }
        let mut weights = Weights::load_many(&weight_files(dir)?, &Device::Cpu)?;
        if let Some(a) = adapter {
            lora::LoraAdapter::load(a)?.merge_into(&mut weights)?;
        }
        Self::from_parts(dir, cfg, &weights, tokenizer, processor, device)
    }

    /// Build from already-loaded weights (used after merging a LoRA adapter).
    pub fn from_parts(
        dir: &Path,
        cfg: Qwen3VlConfig,
        weights: &Weights,
        tokenizer: Tokenizer,
        processor: ImageProcessor,
        device: &Device,
    ) -> Result<Self> {
        let l = Loader::new(weights, device, candle_core::DType::F32);
        let (vp, tp) = if l.has("model.visual.patch_embed.proj.weight") {
            ("model.visual", "model.language_model")
        } else {
            ("visual", "model")
        };
        let vision = VisionTower::load(&l, vp, &cfg.vision_config)?;
        let head = if l.has("lm_head.weight") && !cfg.tied() {
            Some("lm_head.weight")
        } else if cfg.tied() {
            None
        } else {
            return Err(Error::Weights {
                path: weights.path().to_path_buf(),
                tensor: "lm_head.weight".into(),
                message: "missing and tie_word_embeddings is false".into(),
            });
        };
        let text = TextDecoder::load(&l, tp, head, &cfg.text_config)?;
        let video_processor = VideoProcessor::load(dir)?;
        let vc = &cfg.vision_config;
        if video_processor.patch_size != vc.patch_size
            || video_processor.merge_size != vc.spatial_merge_size
            || video_processor.temporal_patch_size != vc.temporal_patch_size
        {
            return Err(Error::Invalid(format!(
                "{}: video processor patch/merge/temporal sizes ({}, {}, {}) differ from the vision config's ({}, {}, {})",
                dir.display(),
                video_processor.patch_size,
                video_processor.merge_size,
                video_processor.temporal_patch_size,
                vc.patch_size,
                vc.spatial_merge_size,
                vc.temporal_patch_size
            )));
        }
        let mut stop = cfg.text_config.eos_ids();
        if let Ok(g) = std::fs::read_to_string(dir.join("generation_config.json")) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&g) {
                match v.get("eos_token_id") {
                    Some(serde_json::Value::Number(n)) => stop.extend(n.as_u64().map(|x| x as u32)),
                    Some(serde_json::Value::Array(a)) => {
                        stop.extend(a.iter().filter_map(|x| x.as_u64().map(|x| x as u32)))
                    }
                    _ => {}
                }
            }
        }
        if let Some(id) = tokenizer.token_to_id("<|im_end|>") {
            stop.push(id);
        }
        stop.sort_unstable();
        stop.dedup();
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let id = format!("qwen3_vl:{name}:{}", &weights.sha256()[..16]);
        Ok(Qwen3Vl {
            cfg,
            vision,
            text,
            tokenizer,
            processor,
            video_processor,
            stop,
            id,
            dir: dir.to_path_buf(),
            device: device.clone(),
        })
    }

    /// Stable identifier (architecture, directory name, weights hash prefix).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The checkpoint directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The parsed configuration.
    pub fn config(&self) -> &Qwen3VlConfig {
        &self.cfg
    }

    /// The image processor (resize bounds can be changed on a clone and passed to [`Self::prepare_with`]).
    pub fn processor(&self) -> &ImageProcessor {
        &self.processor
    }

    /// The video processor (sampling and resize bounds can be changed on a clone and passed to
    /// [`Self::prepare_video_with`]).
    pub fn video_processor(&self) -> &VideoProcessor {
        &self.video_processor
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Tokens that end generation by default (`<|im_end|>` and the configured end ids).
    pub fn stop_tokens(&self) -> &[u32] {
        &self.stop
    }

    /// Decoder layers.
    pub fn num_layers(&self) -> usize {
        self.text.num_layers()
    }

    /// Query heads of the decoder.
    pub fn num_heads(&self) -> usize {
        self.text.num_heads()
    }

    /// Tokenize text (special tokens in the text are recognised; nothing is added).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self
            .tokenizer
            .encode(text, false)
            .map_err(|e| Error::Tokenizer(e.to_string()))?
            .get_ids()
            .to_vec())
    }

    /// Decode ids to text, skipping special tokens.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer
            .decode(ids, true)
            .map_err(|e| Error::Tokenizer(e.to_string()))
    }

    /// Build the chat prompt for `images` + `question` and prepare it (see [`Self::prepare_with`]).
    pub fn prepare_chat(&self, images: &[::image::RgbImage], question: &str) -> Result<Prepared> {
        let text = prompt::chat_prompt(None, images.len(), question);
        self.prepare_with(&self.processor, images, &text)
    }

    /// Preprocess `images` with `processor` and tokenize `text`, whose `<|image_pad|>` tokens (one
    /// per image, in order) are expanded to each image's token count.
    pub fn prepare_with(
        &self,
        processor: &ImageProcessor,
        images: &[::image::RgbImage],
        text: &str,
    ) -> Result<Prepared> {
        let mut processed = Vec::with_capacity(images.len());
        for (i, img) in images.iter().enumerate() {
            let (w, h) = (img.width() as usize, img.height() as usize);
            let (th, tw) = processor.target_size(w, h).map_err(|e| match e {
                Error::Invalid(m) => Error::Invalid(format!("image {}: {m}", i + 1)),
                other => other,
            })?;
            if th * tw > processor.max_pixels {
                return Err(Error::Invalid(format!(
                    "image {}: {w}x{h} cannot be resized within max_pixels {}",
                    i + 1,
                    processor.max_pixels
                )));
            }
            processed.push(processor.process(img)?);
        }
        self.prepare_processed(processed, text)
    }

    /// Tokenize `text` around already-preprocessed images.
    pub fn prepare_processed(&self, images: Vec<ProcessedImage>, text: &str) -> Result<Prepared> {
        self.prepare_visual(images, Vec::new(), text)
    }

    /// Build the chat prompt for a clip (`frames` playing at `clip_fps` frames per second) +
    /// `question` and prepare it with the model's video processor (see
    /// [`Self::prepare_video_with`]).
    pub fn prepare_video_chat(
        &self,
        system: Option<&str>,
        frames: &[::image::RgbImage],
        clip_fps: f64,
        question: &str,
    ) -> Result<Prepared> {
        let text = prompt::video_chat_prompt(system, question);
        self.prepare_video_with(&self.video_processor, frames, clip_fps, &text)
    }

    /// Preprocess one clip with `processor` (frame sampling, resize, temporal patches) and
    /// tokenize `text`, whose `<|video_pad|>` is replaced by the frames' timestamps and tokens
    /// as Qwen3-VL's processor does.
    pub fn prepare_video_with(
        &self,
        processor: &VideoProcessor,
        frames: &[::image::RgbImage],
        clip_fps: f64,
        text: &str,
    ) -> Result<Prepared> {
        let video = processor.process(frames, clip_fps)?;
        self.prepare_visual(Vec::new(), vec![video], text)
    }

    /// Tokenize `text` around already-preprocessed images and videos. Each `<|image_pad|>`
    /// becomes its image's tokens; each video's `<|video_pad|>` becomes, per temporal patch,
    /// `<t seconds><|vision_start|>` + the patch's tokens + `<|vision_end|>`. Positions follow
    /// transformers' `get_rope_index` for Qwen3-VL: every image and every temporal patch of a
    /// video is a `1 x h x w` grid starting at the current position (a video's time is in the
    /// timestamp text, not in the temporal position), and the text after it continues at
    /// `start + max(h, w)`.
    pub fn prepare_visual(
        &self,
        images: Vec<ProcessedImage>,
        videos: Vec<ProcessedVideo>,
        text: &str,
    ) -> Result<Prepared> {
        let stamps: Vec<Vec<f64>> = videos.iter().map(|v| v.timestamps.clone()).collect();
        for (i, v) in videos.iter().enumerate() {
            if v.timestamps.len() != v.grid_thw[0] {
                return Err(Error::Invalid(format!(
                    "video {}: {} timestamps for {} temporal patches",
                    i + 1,
                    v.timestamps.len(),
                    v.grid_thw[0]
                )));
            }
        }
        let text = prompt::expand_video_pads(text, &stamps)?;
        let raw = self.encode(&text)?;
        let pad = self.cfg.image_token_id;
        let vpad = self.cfg.video_token_id;
        let n_pads = raw.iter().filter(|&&t| t == pad).count();
        if n_pads != images.len() {
            return Err(Error::Invalid(format!(
                "the prompt has {n_pads} image placeholders but {} images were given",
                images.len()
            )));
        }
        let m = self.cfg.vision_config.spatial_merge_size;
        // one (t=1) grid per temporal patch of every video, in order
        let frame_grids: Vec<(usize, usize)> = videos
            .iter()
            .flat_map(|v| {
                std::iter::repeat_n((v.grid_thw[1] / m, v.grid_thw[2] / m), v.grid_thw[0])
            })
            .collect();
        let n_vpads = raw.iter().filter(|&&t| t == vpad).count();
        if n_vpads != frame_grids.len() {
            return Err(Error::Invalid(format!(
                "the prompt has {n_vpads} video frame placeholders but the videos have {} temporal patches",
                frame_grids.len()
            )));
        }
        let mut ids = Vec::with_capacity(raw.len());
        let mut spans = Vec::new();
        let mut video_spans = Vec::new();
        let mut positions: [Vec<i64>; 3] = Default::default();
        let mut cur: i64 = 0;
        let mut img_iter = images.iter();
        let mut frame_iter = frame_grids.iter();
        for &t in &raw {
            let (gt, lh, lw) = if t == pad {
                let Some(im) = img_iter.next() else { break };
                (im.grid_thw[0], im.grid_thw[1] / m, im.grid_thw[2] / m)
            } else if t == vpad {
                let Some(&(lh, lw)) = frame_iter.next() else {
                    break;
                };
                (1, lh, lw)
            } else {
                ids.push(t);
                for p in positions.iter_mut() {
                    p.push(cur);
                }
                cur += 1;
                continue;
            };
            let start = ids.len();
            for tt in 0..gt {
                for r in 0..lh {
                    for c in 0..lw {
                        ids.push(t);
                        positions[0].push(cur + tt as i64);
                        positions[1].push(cur + r as i64);
                        positions[2].push(cur + c as i64);
                    }
                }
            }
            let span = ImageSpan {
                start,
                len: ids.len() - start,
                grid: (lh, lw),
            };
            if t == pad {
                spans.push(span);
            } else {
                video_spans.push(span);
            }
            cur += lh.max(lw) as i64;
        }
        let max_pos = positions.iter().flatten().copied().max().unwrap_or(-1);
        let rope_delta = max_pos + 1 - ids.len() as i64;
        let ctx = self.cfg.text_config.max_position_embeddings;
        if (max_pos + 1) as usize > ctx {
            return Err(Error::Invalid(format!(
                "prompt needs {} positions ({} tokens) but the model's context is {ctx}",
                max_pos + 1,
                ids.len()
            )));
        }
        Ok(Prepared {
            ids,
            images,
            spans,
            videos,
            video_spans,
            positions,
            rope_delta,
        })
    }

    /// Input embeddings with image and video features in place and the deepstack features.
    fn embed_prepared(&self, p: &Prepared) -> Result<(Tensor, Option<VisualFeatures>)> {
        let plen = self.processor.patch_len();
        // (span, merged features, deepstack features) of every image and video temporal patch
        let mut runs: Vec<(ImageSpan, Tensor, Vec<Tensor>)> = Vec::new();
        for (im, span) in p.images.iter().zip(&p.spans) {
            let n = im.pixels.len() / plen;
            let px = Tensor::from_slice(&im.pixels, (n, plen), &self.device).op("pixels")?;
            let out = self.vision.forward(&px, im.grid_thw)?;
            runs.push((*span, out.embeds, out.deepstack));
        }
        let mut vspans = p.video_spans.iter();
        for v in &p.videos {
            let n = v.pixels.len() / plen;
            let px = Tensor::from_slice(&v.pixels, (n, plen), &self.device).op("video pixels")?;
            let out = self.vision.forward(&px, v.grid_thw)?;
            let mut at = 0usize;
            for _ in 0..v.grid_thw[0] {
                let Some(span) = vspans.next() else { break };
                let take = |t: &Tensor| t.narrow(0, at, span.len).op("video frame features");
                let deep = out.deepstack.iter().map(take).collect::<Result<Vec<_>>>()?;
                runs.push((*span, take(&out.embeds)?, deep));
                at += span.len;
            }
        }
        runs.sort_by_key(|(s, _, _)| s.start);
        let mut pieces = Vec::new();
        let mut at = 0usize;
        for (span, f, _) in &runs {
            if span.start > at {
                pieces.push(self.text.embed(&p.ids[at..span.start])?);
            }
            pieces.push(f.clone());
            at = span.start + span.len;
        }
        if at < p.ids.len() {
            pieces.push(self.text.embed(&p.ids[at..])?);
        }
        let x = Tensor::cat(&pieces, 0).op("input embeds")?;
        if runs.is_empty() {
            return Ok((x, None));
        }
        let positions: Vec<u32> = runs
            .iter()
            .flat_map(|(s, _, _)| (s.start..s.start + s.len).map(|i| i as u32))
            .collect();
        let positions = Tensor::new(positions.as_slice(), &self.device).op("visual positions")?;
        let levels = runs[0].2.len();
        let deep = (0..levels)
            .map(|l| {
                let parts: Vec<Tensor> = runs.iter().map(|(_, _, d)| d[l].clone()).collect();
                Tensor::cat(&parts, 0).op("deepstack")
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((x, Some((positions, deep))))
    }

    /// Run the whole prepared prompt: logits `(len, vocab)`, the filled cache, and the attention
    /// probabilities `(heads, len, len)` of the layers in `capture`.
    pub fn prefill(&self, p: &Prepared, capture: &[usize]) -> Result<(Tensor, KvCache, Captured)> {
        let (x, deep) = self.embed_prepared(p)?;
        let mut cache = KvCache::default();
        let ds = deep.as_ref().map(|(pos, f)| Deepstack {
            positions: pos,
            features: f,
        });
        let (h, att) = self
            .text
            .forward(&x, &p.positions, &mut cache, ds, capture)?;
        Ok((self.text.logits(&h)?, cache, att))
    }

    /// Run text tokens after what `cache` holds (positions continue after the prompt):
    /// logits `(ids.len(), vocab)` and captured attention.
    pub fn extend(
        &self,
        cache: &mut KvCache,
        ids: &[u32],
        rope_delta: i64,
        capture: &[usize],
    ) -> Result<(Tensor, Vec<(usize, Tensor)>)> {
        if ids.is_empty() {
            return Err(Error::Invalid("no tokens to run".into()));
        }
        let start = cache.len() as i64 + rope_delta;
        let ctx = self.cfg.text_config.max_position_embeddings as i64;
        if start + ids.len() as i64 > ctx {
            return Err(Error::Invalid(format!(
                "sequence would reach position {} beyond the model's context {ctx}",
                start + ids.len() as i64
            )));
        }
        let pos: Vec<i64> = (0..ids.len() as i64).map(|i| start + i).collect();
        let positions = [pos.clone(), pos.clone(), pos];
        let x = self.text.embed(ids)?;
        let (h, att) = self.text.forward(&x, &positions, cache, None, capture)?;
        Ok((self.text.logits(&h)?, att))
    }
}
