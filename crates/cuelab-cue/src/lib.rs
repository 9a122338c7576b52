//! # cuelab-cue — visual cues, drawn exactly
//!
//! Visual prompts for vision-language models: red ellipses, boxes, blurred or grayscaled
//! backgrounds, crops, position colour codes, Set-of-Mark labels, arrows, dots, trajectories and
//! masks. A cue is a [`Recipe`] parsed from a small spec language
//! (`ellipse(color=red,width=3)+blur(radius=20)+gray`) and applied by a [`Renderer`] to an RGB
//! image and a [`Target`] region. Blur, grayscale and the aliased ellipse (outline and fill) reproduce
//! Pillow bit for bit.
//!
//! ```
//! use cuelab_cue::{BoxXyxy, Recipe, Renderer, Target};
//! let image = image::RgbImage::from_pixel(64, 48, image::Rgb([90, 120, 200]));
//! let recipe = Recipe::parse("ellipse(width=3) + blur(radius=20)")?;
//! let target = Target::from_box(BoxXyxy::new(8.0, 8.0, 40.0, 30.0)?);
//! let cued = Renderer::new(&image).render(&recipe, &target)?;
//! assert_eq!(cued.dimensions(), (64, 48));
//! # Ok::<(), cuelab_cue::CueError>(())
//! ```
//!
//! This crate has no ML dependencies; every other cuelab crate may depend on it.

#![warn(missing_docs)]

pub mod blur;
mod color;
pub mod draw;
pub mod effects;
mod error;
mod io;
mod jpeg;
pub mod pillow_ellipse;
pub mod primitive;
mod region;
pub mod region_json;
mod render;
pub mod resize;
pub mod schema;
mod spec;
pub mod text;
mod value;

pub use color::Color;
pub use error::{CueError, Result};
pub use io::{atomic_file_in, decode_rgb, load_rgb, save_atomic};
pub use primitive::{Kind, Primitive};
pub use region::{BoxXyxy, Region, Rle};
pub use render::{Renderer, Target};
pub use spec::{Recipe, Step};
pub use value::Value;
