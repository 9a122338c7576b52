//! `cuelab demo`: the README's main command. Runs on the embedded defaults with no download:
//! renders every cue primitive on the bundled photo and writes a run directory with the images,
//! a manifest and a summary table.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use cuelab_cue::{decode_rgb, save_atomic, BoxXyxy, Recipe, Region, Renderer, Target};
use rayon::prelude::*;

use crate::exit::ExitStatus;

/// The bundled photo (darknet's dog.jpg; see assets/photos/PROVENANCE.md).
static DEMO_PHOTO: &[u8] = include_bytes!("../../../../assets/photos/dog.jpg");

/// Flags of `cuelab demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to write the run directory.
    #[arg(short, long, default_value = "runs/demo")]
    pub output: PathBuf,
}

/// The cue gallery the demo renders: (name, spec).
const GALLERY: &[(&str, &str)] = &[
    ("plain", "plain"),
    (
        "seed004_ellipse_blur",
        "ellipse(color=red,width=3)+blur(radius=20)",
    ),
    (
        "seed004_ellipse_blur_gray",
        "ellipse(color=red,width=3)+blur(radius=20)+gray",
    ),
    ("rect", "rect(color=red,width=3)"),
    ("rounded_aa", "rounded(color=yellow,width=4,corner=16)"),
    ("dim_label", "dim(amount=0.6)+label(text=auto,size=24)"),
    ("fill", "fill(color=black)"),
    ("colorcode", "colorcode"),
    ("tint", "tint(alpha=0.5)"),
    ("crop", "crop(context=0.1)"),
    ("arrow_dot", "arrow(from=top-right)+dot(radius=8)"),
    ("trajectory", "trajectory(color=cyan,width=4,fade=true)"),
    ("mask", "mask(color=magenta,alpha=0.35)"),
];

/// Run `cuelab demo`.
pub fn run(args: DemoArgs) -> Result<ExitStatus> {
    let started = Instant::now();
    let image = decode_rgb(DEMO_PHOTO, std::path::Path::new("<embedded dog.jpg>"))?;
    let dog = BoxXyxy::new(124.0, 218.0, 316.0, 540.0)?;
    let target = Target {
        region: Region::Box(dog),
        index: 0,
        points: vec![
            (140.0, 520.0),
            (200.0, 420.0),
            (260.0, 330.0),
            (300.0, 240.0),
        ],
        label: Some("dog".into()),
    };
    let dir = &args.output;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let renderer = Renderer::new(&image);
    let rows: Vec<(String, String, f64)> = GALLERY
        .par_iter()
        .map(|(name, spec)| -> Result<(String, String, f64)> {
            let recipe = Recipe::parse(spec)?;
            let t0 = Instant::now();
            let out = renderer.render(&recipe, &target)?;
            let ms = t0.elapsed().as_secs_f64() * 1e3;
            save_atomic(&out, &dir.join(format!("{name}.png")))?;
            Ok((name.to_string(), recipe.to_string(), ms))
        })
        .collect::<Result<_>>()?;

    let manifest = serde_json::json!({
        "cuelab_version": env!("CARGO_PKG_VERSION"),
        "command": "demo",
        "image": "embedded assets/photos/dog.jpg",
        "region_xyxy": [dog.x0, dog.y0, dog.x1, dog.y1],
        "cues": rows.iter().map(|(n, s, ms)| serde_json::json!({"name": n, "spec": s, "render_ms": ms})).collect::<Vec<_>>(),
    });
    let mut f = tempfile::NamedTempFile::new_in(dir)?;
    f.write_all(serde_json::to_string_pretty(&manifest)?.as_bytes())?;
    f.persist(dir.join("manifest.json"))?;

    println!("{:<28} {:>10}  canonical spec", "cue", "render ms");
    for (name, spec, ms) in &rows {
        println!("{name:<28} {ms:>10.2}  {spec}");
    }
    println!(
        "\n{} cued images and manifest.json in {} ({:.2} s)",
        rows.len(),
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitStatus::Success)
}
