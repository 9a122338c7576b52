//! The `cuelab` command-line tool: parses arguments, calls one library function per subcommand,
//! prints the error chain once and maps the outcome to an exit code.

mod args;
mod commands;
mod exit;

use clap::Parser;

use crate::args::{Cli, Command, ProbeCommand};
use crate::exit::ExitStatus;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let outcome = match cli.command {
        Command::Demo(a) => commands::demo::run(a),
        Command::Ground(a) => commands::ground::run(*a),
        Command::Ask(a) => commands::ask::run(*a),
        Command::Caption(a) => commands::caption::run(*a),
        Command::Mmvp(a) => commands::mmvp::run(*a),
        Command::Detect(a) => commands::detect::run(a),
        Command::Merge(a) => commands::merge::run(a),
        Command::Slurm(a) => commands::slurm::run(a),
        Command::Mine(a) => commands::mine::run(*a),
        Command::Render(a) => commands::render::run(a),
        Command::Cues(a) => commands::cues::run(a),
        Command::Embed(a) => commands::embed::run(a),
        Command::Score(a) => commands::score::run(a),
        Command::Vlm(a) => commands::vlm::run(*a),
        Command::CaptionEval(a) => commands::caption_eval::run(a),
        Command::Scenes(a) => commands::scenes::run(a),
        Command::Report(a) => commands::report::run(a),
        Command::Data(a) => commands::data::run(a),
        Command::Probe(a) => match a.command {
            ProbeCommand::Surprisal(a) => commands::probe_surprisal::run(*a),
            args::ProbeCommand::Count(c) => commands::probe_count::run(*c),
            args::ProbeCommand::Boxtool(c) => commands::probe_boxtool::run(*c),
            args::ProbeCommand::Preprocess(c) => commands::probe_preprocess::run(*c),
        },
        Command::LoraPlan(a) => commands::lora_plan::run(*a),
        Command::BuildMcq(a) => commands::build_mcq::run(a),
        Command::RenderClip(a) => commands::render_clip::run(a),
        Command::ExportSft(a) => commands::export_sft::run(a),
        Command::ClipSurprisal(a) => commands::clip_surprisal::run(*a),
    };
    match outcome {
        Ok(status) => status.into(),
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitStatus::Error.into()
        }
    }
}

/// Logs go to stderr; `-v` raises the level, `RUST_LOG` overrides everything.
fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // colour codes only on a terminal, never in redirected logs
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}
