//! Flags shared by the `cuelab probe` subcommands: which images and objects (the synthetic
//! scenes or a COCO instances file) and where the run goes.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use cuelab_tasks::probe::{load_coco, load_scenes, ProbeItem};
use cuelab_tasks::runner::{describe_data_file, RunOptions};
use serde_json::{json, Value};

use crate::exit::ExitStatus;

/// The images a probe asks about.
#[derive(Debug, Args)]
pub struct ProbeDataArgs {
    /// A `cuelab scenes` folder: each scene's counting question with every object's box and
    /// colour (crowd scenes only unless --all-scenes).
    #[arg(long, value_name = "DIR", conflicts_with = "coco")]
    pub scenes: Option<PathBuf>,
    /// With --scenes: also the ordinary scenes (1-8 objects), not only the crowds.
    #[arg(long)]
    pub all_scenes: bool,
    /// A COCO instances file: one question per image x category.
    #[arg(long, value_name = "instances.json", requires = "images")]
    pub coco: Option<PathBuf>,
    /// With --coco: the image folder.
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
    /// With --coco: only these categories (repeatable; default every category present).
    #[arg(long = "category")]
    pub categories: Vec<String>,
    /// With --coco: objects smaller than this many square pixels are not counted.
    #[arg(long, default_value_t = 0.0)]
    pub min_area: f64,
}

impl ProbeDataArgs {
    /// The items and the run's data description.
    pub fn load(&self) -> Result<(Vec<ProbeItem>, Value)> {
        if let Some(dir) = &self.scenes {
            let items = load_scenes(dir, !self.all_scenes)
                .with_context(|| format!("reading scenes {}", dir.display()))?;
            let manifest = dir.join("manifest.json");
            let description = describe_data_file(
                &manifest,
                json!({"scenes": dir.display().to_string(), "crowds_only": !self.all_scenes}),
            )?;
            return Ok((items, description));
        }
        let (Some(coco), Some(images)) = (&self.coco, &self.images) else {
            bail!("give --scenes DIR (from `cuelab scenes --crowd 1`) or --coco instances.json --images DIR");
        };
        let (items, skipped) = load_coco(coco, images, &self.categories, self.min_area)
            .with_context(|| format!("reading {}", coco.display()))?;
        if let Some(first) = skipped.first() {
            eprintln!(
                "{} image x category pair(s) not asked (first: {} — {})",
                skipped.len(),
                first.id,
                first.reason
            );
        }
        let description = describe_data_file(
            coco,
            json!({"coco": coco.display().to_string(), "images": images.display().to_string(),
                   "categories": self.categories, "min_area": self.min_area,
                   "not_asked": skipped.len()}),
        )?;
        Ok((items, description))
    }
}

/// Where a probe run goes and which part of the data it covers.
#[derive(Debug, Args)]
pub struct ProbeRunArgs {
    /// Only the first N images.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Seed of the bootstrap.
    #[arg(long)]
    pub seed: Option<u64>,
    /// System prompt.
    #[arg(long)]
    pub system: Option<String>,
    /// Run only shard I of N (`I/N`, 0-based).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Run directory (resumed when it exists).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
}

impl ProbeRunArgs {
    /// Put --limit, --seed and --system over a probe configuration's values (flags win).
    pub fn override_config(
        &self,
        limit: &mut Option<usize>,
        seed: &mut u64,
        system: &mut Option<String>,
    ) {
        *limit = self.limit.or(*limit);
        *seed = self.seed.unwrap_or(*seed);
        if self.system.is_some() {
            system.clone_from(&self.system);
        }
    }

    /// The run options, with `default_out` when no --out is given.
    pub fn options(&self, default_out: &Path) -> Result<RunOptions> {
        Ok(RunOptions {
            out: self
                .out
                .clone()
                .unwrap_or_else(|| default_out.to_path_buf()),
            shard: self
                .shard
                .as_deref()
                .map(crate::commands::ground::parse_shard)
                .transpose()?,
            progress: true,
        })
    }
}

/// Read a probe's TOML configuration file, or the library defaults.
pub fn read_config<T: serde::de::DeserializeOwned + Default>(path: Option<&Path>) -> Result<T> {
    match path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            toml::from_str(&text)
                .with_context(|| format!("{}: not a probe configuration", p.display()))
        }
        None => Ok(T::default()),
    }
}

/// Print a finished probe run's table and directory; the exit status is partial when images
/// were left unanswered or questions failed (`unfinished`).
pub fn finish(table: &str, out: &Path, unfinished: usize) -> ExitStatus {
    print!("{table}");
    println!("run directory: {}", out.display());
    if unfinished > 0 {
        ExitStatus::Partial
    } else {
        ExitStatus::Success
    }
}
