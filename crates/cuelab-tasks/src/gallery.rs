//! The cue gallery of `cuelab demo`: every cue primitive rendered on the bundled photo (a dog,
//! darknet's `dog.jpg`; see `assets/photos/PROVENANCE.md`), one PNG per cue plus a
//! `manifest.json` with each cue's spec and render time.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use cuelab_cue::{decode_rgb, save_atomic, BoxXyxy, Recipe, Region, Renderer, Target};
use rayon::prelude::*;

use crate::error::{Result, TaskError};

/// The bundled photo (darknet's dog.jpg; see assets/photos/PROVENANCE.md).
static DEMO_PHOTO: &[u8] = include_bytes!("../../../assets/photos/dog.jpg");

/// The cues of the gallery: (file name, spec).
pub const GALLERY: &[(&str, &str)] = &[
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

/// Render the cue gallery on the bundled photo into `dir` (created if needed): `NAME.png` per
/// cue of [`GALLERY`] and `manifest.json`. Returns the number of images.
pub fn write_gallery(dir: &Path) -> Result<usize> {
    let image = decode_rgb(DEMO_PHOTO, Path::new("<embedded dog.jpg>"))?;
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
    std::fs::create_dir_all(dir)
        .map_err(|e| TaskError::context(format!("cannot create {}", dir.display()), e))?;
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
    let path = dir.join("manifest.json");
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| TaskError::Json {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let mut f = cuelab_cue::atomic_file_in(dir).map_err(|e| TaskError::io(dir, e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| TaskError::io(&path, e))?;
    f.persist(&path)
        .map_err(|e| TaskError::io(&path, e.error))?;
    Ok(rows.len())
}
