//! `cuelab cues`: list the cue primitives, their parameters and defaults.

use anyhow::Result;
use clap::Args;
use cuelab_cue::schema::{ParamKind, Phase, PRIMITIVES};

use crate::exit::ExitStatus;

/// Flags of `cuelab cues`.
#[derive(Debug, Args)]
pub struct CuesArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn kind_text(kind: ParamKind) -> String {
    match kind {
        ParamKind::Number { min, max } => format!("number {min}..{max}"),
        ParamKind::Int { min, max } => format!("integer {min}..{max}"),
        ParamKind::Bool => "bool".into(),
        ParamKind::Color => "colour".into(),
        ParamKind::Choice(c) => c.join("|"),
        ParamKind::Text => "text".into(),
    }
}

fn phase_text(phase: Phase) -> &'static str {
    match phase {
        Phase::Outside => "outside",
        Phase::Overlay => "overlay",
        Phase::Crop => "crop",
    }
}

/// Run `cuelab cues`.
pub fn run(args: CuesArgs) -> Result<ExitStatus> {
    if args.json {
        let list: Vec<serde_json::Value> = PRIMITIVES
            .iter()
            .map(|p| {
                serde_json::json!({
                    "name": p.name,
                    "phase": phase_text(p.phase),
                    "doc": p.doc,
                    "params": p.params.iter().map(|q| serde_json::json!({
                        "name": q.name, "kind": kind_text(q.kind), "default": q.default, "doc": q.doc,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitStatus::Success);
    }
    println!(
        "Cue spec: primitives joined by '+', e.g. ellipse(color=red,width=3)+blur(radius=20)+gray"
    );
    println!("Order: outside effects (written order) -> overlays (written order) -> crop. 'plain' = no cue.\n");
    for p in PRIMITIVES {
        println!("{:<11} [{}] {}", p.name, phase_text(p.phase), p.doc);
        for q in p.params {
            println!(
                "    {:<8} {:<28} default {:<10} {}",
                q.name,
                kind_text(q.kind),
                q.default,
                q.doc
            );
        }
    }
    Ok(ExitStatus::Success)
}
