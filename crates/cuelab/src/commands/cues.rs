//! `cuelab cues`: list the cue primitives, their parameters and defaults.

use anyhow::Result;
use clap::Args;
use cuelab_cue::schema::{primitives_json, PRIMITIVES};

use crate::exit::ExitStatus;

/// Flags of `cuelab cues`.
#[derive(Debug, Args)]
pub struct CuesArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Run `cuelab cues`.
pub fn run(args: CuesArgs) -> Result<ExitStatus> {
    if args.json {
        let list = primitives_json();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitStatus::Success);
    }
    println!(
        "Cue spec: primitives joined by '+', e.g. ellipse(color=red,width=3)+blur(radius=20)+gray"
    );
    println!("Order: outside effects (written order) -> overlays (written order) -> crop. 'plain' = no cue.\n");
    for p in PRIMITIVES {
        println!("{:<11} [{}] {}", p.name, p.phase.name(), p.doc);
        for q in p.params {
            println!(
                "    {:<8} {:<28} default {:<10} {}",
                q.name,
                q.kind.describe(),
                q.default,
                q.doc
            );
        }
    }
    Ok(ExitStatus::Success)
}
