//! `cuelab render`: draw a cue recipe on an image for one region or a file of regions (read by
//! `cuelab_tasks::regions`).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use cuelab_cue::region_json::BoxLayout;
use cuelab_cue::{load_rgb, save_atomic, BoxXyxy, Recipe, Region, Renderer, Target};
use cuelab_tasks::regions::{parse_points, read_targets};
use rayon::prelude::*;

use crate::exit::ExitStatus;

/// Flags of `cuelab render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The input image (any format and mode; EXIF orientation is applied).
    pub image: PathBuf,
    /// One region as four comma-separated numbers (see --box-format).
    #[arg(
        long = "box",
        value_name = "X0,Y0,X1,Y1",
        conflicts_with = "boxes",
        allow_hyphen_values = true
    )]
    pub region: Option<String>,
    /// A JSON file of regions: a list of boxes `[x0,y0,x1,y1]` or objects
    /// `{"box": [...], "label": "...", "points": [[x,y],...], "polygon": [[x,y,...]], "rle": {"size": [h,w], "counts": ...}}`.
    /// Writes one image per region into the -o directory.
    #[arg(long, value_name = "FILE.json")]
    pub boxes: Option<PathBuf>,
    /// How box numbers are read: xyxy (exclusive end, default), xywh (COCO), pillow (inclusive end).
    #[arg(long, value_enum, default_value_t = BoxFormat::Xyxy)]
    pub box_format: BoxFormat,
    /// The cue spec, e.g. "ellipse(color=red,width=3)+blur(radius=20)+gray" (see `cuelab cues`).
    #[arg(long, default_value = "plain")]
    pub cue: String,
    /// Trajectory points for --box, as "x,y;x,y;...".
    #[arg(long, value_name = "X,Y;X,Y;...")]
    pub points: Option<String>,
    /// Label text for --box (used by `label(text=auto)`).
    #[arg(long)]
    pub label: Option<String>,
    /// Output image (with --box) or directory (with --boxes).
    #[arg(short, long)]
    pub output: PathBuf,
}

/// How box coordinates are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BoxFormat {
    /// x0,y0,x1,y1 with an exclusive end (COCO/torchvision convention).
    Xyxy,
    /// x,y,width,height (COCO annotations).
    Xywh,
    /// x0,y0,x1,y1 with the end pixel included (Pillow ImageDraw).
    Pillow,
}

impl BoxFormat {
    fn layout(self) -> BoxLayout {
        match self {
            BoxFormat::Xyxy => BoxLayout::Xyxy,
            BoxFormat::Xywh => BoxLayout::Xywh,
            BoxFormat::Pillow => BoxLayout::Pillow,
        }
    }

    fn to_box(self, v: [f32; 4]) -> cuelab_cue::Result<BoxXyxy> {
        self.layout().to_box(v)
    }
}

/// Run `cuelab render`.
pub fn run(args: RenderArgs) -> Result<ExitStatus> {
    let recipe = Recipe::parse(&args.cue)?;
    let image = load_rgb(&args.image)?;
    let targets = match (&args.region, &args.boxes) {
        (Some(text), None) => {
            let b = BoxXyxy::parse(text)?;
            let b = args.box_format.to_box([b.x0, b.y0, b.x1, b.y1])?;
            let points = match &args.points {
                Some(p) => parse_points(p)?,
                None => Vec::new(),
            };
            vec![Target {
                region: Region::Box(b),
                index: 0,
                points,
                label: args.label.clone(),
            }]
        }
        (None, Some(file)) => read_targets(file, args.box_format.layout())?,
        _ => bail!(
            "give one region with --box X0,Y0,X1,Y1 or a file of regions with --boxes FILE.json"
        ),
    };
    let renderer = Renderer::new(&image);
    let rendered: Vec<_> = targets
        .par_iter()
        .map(|t| renderer.render(&recipe, t))
        .collect::<Result<_, _>>()?;
    if args.region.is_some() {
        save_atomic(&rendered[0], &args.output)?;
        println!("{}", args.output.display());
    } else {
        std::fs::create_dir_all(&args.output)
            .with_context(|| format!("cannot create output directory {}", args.output.display()))?;
        let stem = args
            .image
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into());
        rendered.par_iter().enumerate().try_for_each(|(i, img)| {
            save_atomic(img, &args.output.join(format!("{stem}_{i:03}.png")))
        })?;
        println!("{} images in {}", rendered.len(), args.output.display());
    }
    Ok(ExitStatus::Success)
}
