//! `cuelab demo`: the README's main command. Runs on the embedded defaults with no download:
//! renders every cue primitive on the bundled photo (`gallery/`), generates seeded synthetic
//! scenes (`scenes/`), and runs seed 004's grounding experiment on them — plain-crop baseline vs
//! red-circle cues — with the default CLIP model, printing the comparison table with bootstrap
//! CIs and the paired tests (`grounding/`), then asks the scenes' multiple-choice questions with the
//! same CLIP as the answerer, plain vs boxed, with MMVP-style pair accuracy (`questions/`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use cuelab_models::Pipeline;
use cuelab_tasks::gallery::write_gallery;
use cuelab_tasks::grounding::{self, GroundingConfig, Method, OneOrMany};
use cuelab_tasks::runner::RunOptions;

use crate::exit::ExitStatus;

/// Flags of `cuelab demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to write the run directory.
    #[arg(short, long, default_value = "runs/demo")]
    pub output: PathBuf,
    /// CLIP backbone: HF id (looked up in the local hub cache) or a local directory. Default:
    /// openai/clip-vit-base-patch32 when cached, else the bundled random-weight tiny CLIP.
    #[arg(long, short = 'm')]
    pub model: Option<String>,
    /// Number of synthetic scenes.
    #[arg(long, default_value_t = 24)]
    pub scenes: usize,
    /// Seed for scenes, debiasing and bootstrap.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Device: cpu or cuda[:N].
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// The real default model.
const DEFAULT_MODEL: &str = "openai/clip-vit-base-patch32";

/// Pick the model: the user's, else the real default when cached, else the bundled tiny one
/// (compiled into the binary and written under `output/models/`).
fn choose_model(explicit: &Option<String>, output: &Path) -> Result<(String, bool)> {
    if let Some(m) = explicit {
        return Ok((m.clone(), false));
    }
    match cuelab_models::resolve::resolve(DEFAULT_MODEL) {
        Ok(_) => Ok((DEFAULT_MODEL.to_string(), false)),
        Err(e) => {
            let tiny = crate::bundled::write_tiny_clip(&output.join("models"))?;
            eprintln!(
                "note: {DEFAULT_MODEL} is not in the local Hugging Face cache ({e}).\n      \
                 Using the bundled random-weight tiny CLIP instead: the numbers below show the pipeline, not what CLIP sees.\n      \
                 For real numbers: `huggingface-cli download {DEFAULT_MODEL}` (then rerun), or --model DIR."
            );
            Ok((tiny.display().to_string(), true))
        }
    }
}

/// Run `cuelab demo`.
pub fn run(args: DemoArgs) -> Result<ExitStatus> {
    let started = Instant::now();
    let gallery = args.output.join("gallery");
    let cued = write_gallery(&gallery)?;
    tracing::info!("{} cued images in {}", cued, gallery.display());

    let (model, random_weights) = choose_model(&args.model, &args.output)?;
    let scenes_dir = args.output.join("scenes");
    cuelab_data::scenes::export::write(
        &cuelab_data::scenes::Config::new(args.seed, args.scenes),
        &scenes_dir,
    )?;
    let samples = grounding::read_samples(&scenes_dir.join("samples.jsonl"))?;
    let cfg = GroundingConfig {
        models: vec![model.clone()],
        method: OneOrMany::Many(vec![Method::Baseline, Method::Redcircle]),
        debias: OneOrMany::One(samples.len().min(5000)),
        seed: args.seed,
        ..GroundingConfig::default()
    };
    let models = grounding::load_models(&cfg.models, Pipeline::Openai, &args.device)?;
    let out = args.output.join("grounding");
    let (summary, _timing) = grounding::run_with_models(
        &cfg,
        &samples,
        None,
        &models,
        &RunOptions {
            out: out.clone(),
            shard: None,
            progress: true,
        },
        true,
        &serde_json::json!({"synthetic_scenes": args.scenes, "seed": args.seed, "random_weights": random_weights}),
    )?;
    println!(
        "\nGrounding on {} synthetic scenes ({} referring expressions, ground-truth proposals), model {model}{}:\n",
        args.scenes,
        samples.len(),
        if random_weights { " [random weights]" } else { "" }
    );
    print!("{}", cuelab_tasks::summary::table(&summary));

    // Cued multiple-choice questions answered by the same CLIP (option most similar to the
    // image): plain vs a red box on the object asked about, and the MMVP-style pairs.
    let loaded = cuelab_data::jsonl::read(&scenes_dir.join("samples.jsonl"), false)?;
    let mcq: Vec<cuelab_data::Sample> = loaded
        .samples
        .into_iter()
        .filter(|s| s.task == cuelab_data::Task::MultipleChoice)
        .collect();
    let (items, _) = cuelab_tasks::vqa::items_from_samples(&mcq, &scenes_dir);
    let answerer = cuelab_tasks::vqa::ClipChoiceAnswerer::new(models[0].as_ref(), "");
    let vqa_cfg = cuelab_tasks::vqa::VqaConfig {
        cues: vec!["plain".into(), "rect(color=red,width=3)".into()],
        seed: args.seed,
        ..Default::default()
    };
    let questions_out = args.output.join("questions");
    let outcome = cuelab_tasks::vqa::run_vqa(
        &vqa_cfg,
        &items,
        &answerer,
        &answerer.identity(),
        &serde_json::json!({"synthetic_scenes": args.scenes, "seed": args.seed, "random_weights": random_weights}),
        &RunOptions {
            out: questions_out.clone(),
            shard: None,
            progress: true,
        },
    )?;
    println!(
        "\nMultiple-choice questions on the same scenes, answered by CLIP (the option closest to the image):\n"
    );
    print!("{}", cuelab_tasks::vqa::vqa_table(&outcome.summary));
    println!(
        "\ncue gallery: {}\nrun directories: {}, {} (manifest.json, results.jsonl, summary.json)\n({:.1} s)",
        args.output.join("gallery").display(),
        out.display(),
        questions_out.display(),
        started.elapsed().as_secs_f64()
    );
    let report = args.output.join("report.html");
    super::report::write(
        &[out, questions_out],
        &report,
        &cuelab_report::Options {
            title: Some("cuelab demo".into()),
            samples: vec![scenes_dir.join("samples.jsonl")],
            ..Default::default()
        },
    )?;
    println!("report: {}", report.display());
    Ok(ExitStatus::Success)
}
