//! The captioning study (seed 002): prompts × generation configs × cue variants over a caption
//! dataset, each cell's captions written by an in-process Qwen3-VL (greedy, sampling, beam
//! search) or an OpenAI-compatible server, scored with CIDEr-D, BLEU-1..4 and ROUGE-L exactly as
//! pycocoevalcap and, with a CLIP model, CLIPScore / RefCLIPScore as the original implementation;
//! a summary of all cells with bootstrap CIs over images and paired tests between cells.
//!
//! * [`config`] — the grid and the generation-config syntax;
//! * [`data`] — caption datasets (scenes, JSONL, COCO captions, Karpathy);
//! * [`backend`] — in-process or remote captioners;
//! * [`run`] — the resumable run;
//! * [`study`] — the whole run as one call ([`run_caption`]: data, backend, sweep);
//! * [`summary`] — scores, CIs, paired tests, per-cell COCO results files.

pub mod backend;
pub mod config;
pub mod data;
pub mod run;
pub mod settings;
pub mod study;
pub mod summary;

pub use backend::{CaptionBackend, Captioner, LocalCaptioner, RemoteCaptioner};
pub use config::{AttentionSettings, CaptionConfig, Cell, GenSpec};
pub use data::{load, CaptionData, CaptionItem, LoadedCaptions};
pub use run::{run_captions, CaptionOutcome, CaptionRow, CAPTION};
pub use settings::{data_or_scenes, CaptionBackendSettings, CaptionOverrides};
pub use study::{run_caption, CaptionSettings, CaptionStudy};
pub use summary::{caption_table, summarize_captions, CaptionSummary};

use serde_json::Value;

use crate::error::{Result, TaskError};
use crate::runner::RunOptions;

/// File of transport failures (captions to ask again).
pub const FAILURES: &str = "failures.jsonl";

/// Build `backend` and run the sweep (see [`run_captions`]).
pub fn run_caption_study(
    config: &CaptionConfig,
    items: &[CaptionItem],
    backend: &CaptionBackend,
    data_description: &Value,
    opts: &RunOptions,
) -> Result<CaptionOutcome> {
    match backend {
        CaptionBackend::Local {
            model,
            adapter,
            device,
        } => {
            let resolved = cuelab_models::resolve::resolve(model)?;
            let device = cuelab_models::device(device)?;
            let loaded = cuelab_models::qwen3_vl::Qwen3Vl::load_with_adapter(
                &resolved.dir,
                adapter.as_deref(),
                &cuelab_models::LoadOptions::default().with_device(device),
            )
            .map_err(|source| TaskError::LoadModel {
                model: model.clone(),
                source: Box::new(source),
            })?;
            let mut captioner = LocalCaptioner::new(&loaded);
            if let Some(a) = &config.attention {
                let first: Vec<&CaptionItem> =
                    crate::runner::select(items, opts.shard, config.limit)
                        .into_iter()
                        .take(a.images)
                        .map(|(_, it)| it)
                        .collect();
                let keys = config
                    .cells()?
                    .iter()
                    .flat_map(|c| first.iter().map(move |it| format!("{}/{}", c.id, it.id)))
                    .collect();
                captioner = captioner.with_attention(backend::AttentionOutput {
                    options: cuelab_models::qwen3_vl::words::WordAttentionOptions {
                        layers: a.layers.clone(),
                        heads: a.heads.clone(),
                        rollout: a.rollout,
                        aggregate: a.aggregate,
                    },
                    dir: opts.out.join("attention"),
                    keys,
                });
            }
            run_captions(config, items, &captioner, data_description, opts)
        }
        CaptionBackend::Remote(cfg) => {
            if config.attention.is_some() {
                return Err(TaskError::Config(
                    "per-word attention needs the in-process backend (--local)".into(),
                ));
            }
            let captioner = RemoteCaptioner::new(cfg, &config.gen_specs()?)?;
            run_captions(config, items, &captioner, data_description, opts)
        }
    }
}
