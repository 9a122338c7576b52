//! `cuelab demo`: the README's main command. Runs on the embedded defaults with no download:
//! renders every cue primitive on the bundled photo (`gallery/`), generates seeded synthetic
//! scenes (`scenes/`), and runs seed 004's grounding experiment on them — plain-crop baseline vs
//! red-circle cues — with the default CLIP model, printing the comparison table with bootstrap
//! CIs and the paired tests (`grounding/`), then asks the scenes' multiple-choice questions with the
//! same CLIP as the answerer, plain vs boxed, with MMVP-style pair accuracy (`questions/`). The
//! sequence is `cuelab_tasks::demo::run_demo`; this file prints it and writes the HTML report.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use cuelab_tasks::demo::{run_demo, DemoSettings, DemoStep, DEFAULT_MODEL};

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

/// Run `cuelab demo`.
pub fn run(args: DemoArgs) -> Result<ExitStatus> {
    let started = Instant::now();
    let settings = DemoSettings {
        output: args.output,
        model: args.model,
        scenes: args.scenes,
        seed: args.seed,
        device: args.device,
        progress: true,
    };
    let mut model_name = String::new();
    let mut random_weights = false;
    let demo = run_demo(&settings, &mut |step| match step {
        DemoStep::ModelChosen(m) => {
            model_name = m.reference.clone();
            random_weights = m.random_weights;
            if let Some(e) = &m.fallback_reason {
                eprintln!(
                    "note: {DEFAULT_MODEL} is not in the local Hugging Face cache ({e}).\n      \
                     Using the bundled random-weight tiny CLIP instead: the numbers below show the pipeline, not what CLIP sees.\n      \
                     For real numbers: `huggingface-cli download {DEFAULT_MODEL}` (then rerun), or --model DIR."
                );
            }
        }
        DemoStep::Grounded { summary, samples } => {
            println!(
                "\nGrounding on {} synthetic scenes ({samples} referring expressions, ground-truth proposals), model {model_name}{}:\n",
                settings.scenes,
                if random_weights { " [random weights]" } else { "" }
            );
            print!("{}", cuelab_tasks::summary::table(summary));
        }
        DemoStep::Answered(summary) => {
            println!(
                "\nMultiple-choice questions on the same scenes, answered by CLIP (the option closest to the image):\n"
            );
            print!("{}", cuelab_tasks::vqa::vqa_table(summary));
        }
    })?;
    println!(
        "\ncue gallery: {}\nrun directories: {}, {} (manifest.json, results.jsonl, summary.json)\n({:.1} s)",
        demo.gallery.display(),
        demo.grounding.display(),
        demo.questions.display(),
        started.elapsed().as_secs_f64()
    );
    let report = settings.output.join("report.html");
    super::report::write(
        &[demo.grounding, demo.questions],
        &report,
        &cuelab_report::Options {
            title: Some("cuelab demo".into()),
            samples: vec![demo.samples_file],
            ..Default::default()
        },
    )?;
    println!("report: {}", report.display());
    Ok(ExitStatus::Success)
}
