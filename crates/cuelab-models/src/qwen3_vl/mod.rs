//! Qwen3-VL in-process on candle: loading the Hugging Face layout, the model's own image
//! preprocessing, the vision tower with deepstack, the Qwen3 decoder with interleaved MRoPE,
//! generation with a key/value cache, teacher-forced log-probabilities, option scoring and
//! attention capture onto the image's merged patch grid.
//!
//! * [`config`] — `config.json`.
//! * [`image`] — `smart_resize`, resize, normalisation and patch layout.
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

use crate::error::{Error, Result, TensorContext};
use crate::transformer::Loader;
use crate::weights::Weights;
use text::{Deepstack, TextDecoder};
use vision::VisionTower;

/// Attention probabilities captured per layer: `(layer, (heads, queries, keys))`.
pub type Captured = Vec<(usize, Tensor)>;

/// Visual token positions and the deepstack features of every level.
type VisualFeatures = (Tensor, Vec<Tensor>);

/// Where the image tokens of one image sit in a prepared sequence.
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
    /// processor config) onto `device`, in f32.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        Self::load_with_adapter(dir, None, device)
    }

    /// Load a checkpoint and merge a PEFT LoRA adapter directory into it first.
    pub fn load_with_adapter(dir: &Path, adapter: Option<&Path>, device: &Device) -> Result<Self> {
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
        let raw = self.encode(text)?;
        let pad = self.cfg.image_token_id;
        let n_pads = raw.iter().filter(|&&t| t == pad).count();
        if n_pads != images.len() {
            return Err(Error::Invalid(format!(
                "the prompt has {n_pads} image placeholders but {} images were given",
                images.len()
            )));
        }
        let m = self.cfg.vision_config.spatial_merge_size;
        let mut ids = Vec::with_capacity(raw.len());
        let mut spans = Vec::new();
        let mut positions: [Vec<i64>; 3] = Default::default();
        let mut cur: i64 = 0;
        let mut img_iter = images.iter();
        for &t in &raw {
            if t != pad {
                ids.push(t);
                for p in positions.iter_mut() {
                    p.push(cur);
                }
                cur += 1;
                continue;
            }
            let Some(im) = img_iter.next() else { break };
            let [gt, gh, gw] = im.grid_thw;
            let (lh, lw) = (gh / m, gw / m);
            let start = ids.len();
            for tt in 0..gt {
                for r in 0..lh {
                    for c in 0..lw {
                        ids.push(pad);
                        positions[0].push(cur + tt as i64);
                        positions[1].push(cur + r as i64);
                        positions[2].push(cur + c as i64);
                    }
                }
            }
            spans.push(ImageSpan {
                start,
                len: ids.len() - start,
                grid: (lh, lw),
            });
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
            positions,
            rope_delta,
        })
    }

    /// Input embeddings with image features in place and the deepstack features.
    fn embed_prepared(&self, p: &Prepared) -> Result<(Tensor, Option<VisualFeatures>)> {
        let plen = self.processor.patch_len();
        let mut feats = Vec::new();
        let mut deep: Vec<Vec<Tensor>> = Vec::new();
        for im in &p.images {
            let n = im.pixels.len() / plen;
            let px = Tensor::from_slice(&im.pixels, (n, plen), &self.device).op("pixels")?;
            let out = self.vision.forward(&px, im.grid_thw)?;
            feats.push(out.embeds);
            for (l, d) in out.deepstack.into_iter().enumerate() {
                if deep.len() <= l {
                    deep.push(Vec::new());
                }
                deep[l].push(d);
            }
        }
        let mut pieces = Vec::new();
        let mut at = 0usize;
        for (span, f) in p.spans.iter().zip(&feats) {
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
        if p.spans.is_empty() {
            return Ok((x, None));
        }
        let positions: Vec<u32> = p
            .spans
            .iter()
            .flat_map(|s| (s.start..s.start + s.len).map(|i| i as u32))
            .collect();
        let positions = Tensor::new(positions.as_slice(), &self.device).op("visual positions")?;
        let deep = deep
            .into_iter()
            .map(|v| Tensor::cat(&v, 0).op("deepstack"))
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
