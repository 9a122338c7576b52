//! `cuelab.ground`, `cuelab.ask` and `cuelab.load_run`: the experiments as one library call each
//! (`cuelab_tasks::grounding::run_study`, `cuelab_tasks::vqa::run_questions`) into a resumable run
//! directory, settings resolved as `cuelab ground` / `cuelab ask` resolve their flags (keyword
//! arguments over the configuration over the library's defaults), and any run directory read back.

use std::path::{Path, PathBuf};

use cuelab_models::Pipeline;
use cuelab_tasks::grounding::{run_study, GroundingConfig, GroundingOverrides, GroundingSettings};
use cuelab_tasks::proposals::{BoxFormat, ProposalSource};
use cuelab_tasks::run_dir::{read_json, MANIFEST, RESULTS, SUMMARY};
use cuelab_tasks::runner::{parse_shard, RunOptions};
use cuelab_tasks::vqa::{
    read_questions, run_questions, Backend, ChoiceOrder, QuestionSource, VqaConfig, VqaOverrides,
};
use cuelab_vlm::remote::RemoteConfig;
use pyo3::prelude::*;
use serde_json::{json, Value};

use crate::error;

/// A configuration given as a JSON object (from a Python dict), TOML text or a TOML file.
fn parse_config<T: serde::de::DeserializeOwned>(
    json_text: Option<&str>,
    toml_text: Option<&str>,
    fill_models: bool,
) -> PyResult<Option<T>> {
    let mut value: Value = match (json_text, toml_text) {
        (Some(j), _) => serde_json::from_str(j)
            .map_err(|e| error::plain(format!("config: invalid JSON: {e}")))?,
        (None, Some(t)) => {
            let table: toml::Table = toml::from_str(t)
                .map_err(|e| error::plain(format!("config: invalid TOML: {e}")))?;
            serde_json::to_value(table).map_err(error::to_py)?
        }
        (None, None) => return Ok(None),
    };
    if fill_models {
        if let Some(o) = value.as_object_mut() {
            o.entry("models").or_insert_with(|| json!([]));
        }
    }
    serde_json::from_value(value)
        .map(Some)
        .map_err(|e| error::plain(format!("config: {e}")))
}

/// Run the grounding experiment (see `cuelab ground`) into `out`; resumes when `out` exists.
#[pyfunction]
#[pyo3(signature = (*, data, out, config_json = None, config_toml = None, config_file = None,
    models = None, split = None, images = None, preprocess = "openai", device = "cpu",
    shard = None, cache = true, progress = false, proposals = None, proposals_format = "xyxy",
    min_score = 0.0, detector = None, detector_options = None, limit = None, seed = None))]
#[allow(clippy::too_many_arguments)]
pub fn ground(
    py: Python<'_>,
    data: PathBuf,
    out: PathBuf,
    config_json: Option<&str>,
    config_toml: Option<&str>,
    config_file: Option<PathBuf>,
    models: Option<Vec<String>>,
    split: Option<String>,
    images: Option<PathBuf>,
    preprocess: &str,
    device: &str,
    shard: Option<&str>,
    cache: bool,
    progress: bool,
    proposals: Option<PathBuf>,
    proposals_format: &str,
    min_score: f32,
    detector: Option<String>,
    detector_options: Option<&str>,
    limit: Option<usize>,
    seed: Option<u64>,
) -> PyResult<()> {
    let cfg = match &config_file {
        Some(p) => GroundingConfig::from_toml_file(p).map_err(error::to_py)?,
        None => parse_config(config_json, config_toml, true)?.unwrap_or_default(),
    };
    let cfg = GroundingOverrides {
        models: models.unwrap_or_default(),
        limit,
        seed,
        ..GroundingOverrides::default()
    }
    .apply(cfg)
    .map_err(error::to_py)?;
    let proposals = match (proposals, detector) {
        (Some(_), Some(_)) => {
            return Err(error::plain(
                "give proposals (a file) or detector, not both",
            ))
        }
        (Some(path), None) => ProposalSource::File {
            path,
            format: proposals_format
                .parse::<BoxFormat>()
                .map_err(error::to_py)?,
            min_score,
        },
        (None, Some(spec)) => {
            let options: cuelab_detect::DetectOptions = match detector_options {
                Some(j) => serde_json::from_str(j)
                    .map_err(|e| error::plain(format!("detector_options: {e}")))?,
                None => cuelab_detect::DetectOptions::default(),
            };
            options.validate().map_err(error::to_py)?;
            ProposalSource::Detector { spec, options }
        }
        (None, None) => ProposalSource::GroundTruth,
    };
    let settings = GroundingSettings {
        config: cfg,
        data,
        split,
        images,
        proposals,
        preprocess: Pipeline::parse(preprocess).map_err(error::to_py)?,
        device: device.to_string(),
        out,
        shard: shard.map(parse_shard).transpose().map_err(error::to_py)?,
        use_cache: cache,
        progress,
    };
    py.detach(|| run_study(&settings))
        .map(|_| ())
        .map_err(error::to_py)
}

/// The answering backend from its JSON description (built by the Python layer).
fn backend(description: &str, out: &Path) -> PyResult<Backend> {
    let v: Value = serde_json::from_str(description)
        .map_err(|e| error::plain(format!("backend: invalid JSON: {e}")))?;
    let text = |key: &str, default: &str| -> String {
        v.get(key)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string()
    };
    match v.get("kind").and_then(Value::as_str) {
        Some("clip") => Ok(Backend::Clip {
            model: text("model", ""),
            prefix: text("prefix", ""),
            pipeline: Pipeline::parse(&text("preprocess", "openai")).map_err(error::to_py)?,
            device: text("device", "cpu"),
        }),
        Some("local") => Ok(Backend::Local {
            model: text("model", ""),
            adapter: v.get("adapter").and_then(Value::as_str).map(PathBuf::from),
            max_new_tokens: v
                .get("max_new_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(16) as usize,
            device: text("device", "cpu"),
            video_fps: v.get("video_fps").and_then(Value::as_f64),
        }),
        Some("remote") => {
            let cfg: RemoteConfig =
                serde_json::from_value(v.get("config").cloned().unwrap_or(json!({})))
                    .map_err(|e| error::plain(format!("backend: {e}")))?;
            if cfg.endpoints.is_empty() {
                return Err(error::plain(
                    "give endpoint=URL (an OpenAI-compatible server), clip=MODEL or local=MODEL",
                ));
            }
            if cfg.model.trim().is_empty() {
                return Err(error::plain(
                    "model is required with endpoint (the model name the server serves)",
                ));
            }
            let use_cache = v.get("cache").and_then(Value::as_bool).unwrap_or(true);
            let cfg = if use_cache {
                cuelab_tasks::vqa::with_run_cache(cfg, out).map_err(error::to_py)?
            } else {
                RemoteConfig {
                    cache_path: None,
                    ..cfg
                }
            };
            Ok(Backend::Remote(Box::new(cfg)))
        }
        _ => Err(error::plain("backend: kind must be clip, local or remote")),
    }
}

/// Ask the questions of `data` (cuelab's generic JSONL) under every cue variant (see
/// `cuelab ask`) into `out`; resumes when `out` exists. Returns JSON:
/// `{"missing", "not_asked", "malformed_lines"}`.
#[pyfunction]
#[pyo3(signature = (*, data, out, backend_json, config_json = None, config_toml = None,
    config_file = None, cues = None, order = None, system = None, limit = None, seed = None,
    tasks = None, qtypes = None, skip_bad = false, shard = None, progress = false))]
#[allow(clippy::too_many_arguments)]
pub fn ask(
    py: Python<'_>,
    data: PathBuf,
    out: PathBuf,
    backend_json: &str,
    config_json: Option<&str>,
    config_toml: Option<&str>,
    config_file: Option<PathBuf>,
    cues: Option<Vec<String>>,
    order: Option<&str>,
    system: Option<String>,
    limit: Option<usize>,
    seed: Option<u64>,
    tasks: Option<Vec<String>>,
    qtypes: Option<Vec<String>>,
    skip_bad: bool,
    shard: Option<&str>,
    progress: bool,
) -> PyResult<String> {
    let cfg = match &config_file {
        Some(p) => VqaConfig::from_toml_file(p).map_err(error::to_py)?,
        None => parse_config(config_json, config_toml, false)?.unwrap_or_default(),
    };
    let overrides = VqaOverrides {
        cues: cues.unwrap_or_default(),
        order: order
            .map(|o| o.parse::<ChoiceOrder>().map_err(error::plain))
            .transpose()?,
        system,
        limit,
        seed,
        ..VqaOverrides::default()
    };
    let cfg = overrides.apply(cfg).map_err(error::to_py)?;
    let shard = shard.map(parse_shard).transpose().map_err(error::to_py)?;
    let backend = backend(backend_json, &out)?;
    py.detach(move || -> PyResult<String> {
        // read as `cuelab ask` reads it (the file's checksum is part of the run identity; clips
        // are given as they are, with the default frame sampling, `frames: null`)
        let questions = read_questions(&QuestionSource {
            data: data.clone(),
            tasks: tasks.unwrap_or_default(),
            qtypes: qtypes.unwrap_or_default(),
            skip_bad,
            frames: None,
            clips: None,
        })
        .map_err(error::to_py)?;
        if questions.items.is_empty() {
            return Err(error::plain(format!(
                "{}: no askable questions",
                data.display()
            )));
        }
        let (items, not_asked, description) =
            (questions.items, questions.not_asked, questions.description);
        let opts = RunOptions {
            out: out.clone(),
            shard,
            progress,
        };
        let outcome =
            run_questions(&cfg, &items, &backend, &description, &opts).map_err(error::to_py)?;
        Ok(json!({
            "missing": outcome.missing,
            "not_asked": not_asked,
            "malformed_lines": questions.malformed,
        })
        .to_string())
    })
}

/// The texts of a run directory, as written (parsed on the Python side, so numbers keep every
/// bit: no re-serialisation): `(manifest.json, summary.json or None until the run finished,
/// summary.txt or None, the lines of results.jsonl sorted by key)`; a torn last line left by a
/// killed process is ignored.
#[pyfunction]
pub fn read_run(py: Python<'_>, dir: PathBuf) -> PyResult<RunTexts> {
    py.detach(|| -> PyResult<RunTexts> {
        if !dir.is_dir() {
            return Err(error::plain(format!(
                "{}: not a run directory (no such folder)",
                dir.display()
            )));
        }
        let manifest_path = dir.join(MANIFEST);
        if !manifest_path.is_file() {
            return Err(error::plain(format!(
                "{}: not a run directory (no {MANIFEST})",
                dir.display()
            )));
        }
        let manifest = json_text(&manifest_path)?;
        let summary_path = dir.join(SUMMARY);
        let summary = if summary_path.is_file() {
            Some(json_text(&summary_path)?)
        } else {
            None
        };
        let summary_text = std::fs::read_to_string(dir.join("summary.txt")).ok();
        let results = dir.join(RESULTS);
        let rows = if results.is_file() {
            result_rows(&results)?
        } else {
            Vec::new()
        };
        Ok((manifest, summary, summary_text, rows))
    })
}

/// What [`read_run`] returns.
pub type RunTexts = (String, Option<String>, Option<String>, Vec<String>);

/// The text of a JSON file, checked to be JSON (errors as `read_json` reports them).
fn json_text(path: &Path) -> PyResult<String> {
    let _: Value = read_json(path).map_err(error::to_py)?;
    std::fs::read_to_string(path)
        .map_err(|e| error::with_context(format!("reading {}", path.display()), e))
}

/// The rows of a results file as `RunDir` keeps them, each its JSON line as written (fields in
/// the row type's order): a torn last line (no newline, left by a killed process) ignored,
/// sorted by `key`, the first row of each key kept.
fn result_rows(path: &Path) -> PyResult<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| error::with_context(format!("reading {}", path.display()), e))?;
    let complete = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    let mut keyed: Vec<(String, String)> = Vec::new();
    for (i, line) in complete.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line)
            .map_err(|e| error::plain(format!("{}: line {}: {e}", path.display(), i + 1)))?;
        let key = v
            .get("key")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        keyed.push((key, line.to_string()));
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|a, b| a.0 == b.0);
    Ok(keyed.into_iter().map(|(_, line)| line).collect())
}
/// Write the deterministic synthetic dataset of `cuelab scenes` (grounding, counting, MCQ,
/// MMVP-style pairs, clips, captions) into `out`; returns `samples.jsonl`'s path.
#[pyfunction]
#[pyo3(signature = (out, *, seed = 1, n = 200, pairs = None, clips = None, frames = 8, size = 256))]
#[allow(clippy::too_many_arguments)]
pub fn scenes(
    py: Python<'_>,
    out: PathBuf,
    seed: u64,
    n: usize,
    pairs: Option<usize>,
    clips: Option<usize>,
    frames: usize,
    size: u32,
) -> PyResult<PathBuf> {
    let mut cfg = cuelab_data::scenes::Config::new(seed, n);
    cfg.pairs = pairs.unwrap_or(cfg.pairs);
    cfg.clips = clips.unwrap_or(cfg.clips);
    cfg.frames = frames.max(2);
    cfg.width = size;
    cfg.height = size;
    py.detach(|| cuelab_data::scenes::export::write(&cfg, &out))
        .map_err(|e| error::with_context(format!("generating scenes into {}", out.display()), e))?;
    Ok(out.join("samples.jsonl"))
}
