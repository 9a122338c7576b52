//! Thumbnails: images downscaled (longest side at most `max_side` pixels) and inlined as
//! base64 JPEG data URIs. Boxes are drawn over them as SVG in the original image's pixel
//! coordinates, so they stay sharp and exact whatever the thumbnail size.

use std::collections::HashMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use base64::Engine;
use rayon::prelude::*;

/// One inlined thumbnail.
#[derive(Debug, Clone)]
pub struct Thumb {
    /// `data:image/jpeg;base64,...`.
    pub data_uri: String,
    /// Original width in pixels.
    pub width: u32,
    /// Original height in pixels.
    pub height: u32,
}

/// Thumbnails by image path, made once per image.
#[derive(Debug, Default)]
pub struct Thumbs {
    made: HashMap<PathBuf, Option<Thumb>>,
    /// Longest side of a thumbnail.
    pub max_side: u32,
    /// JPEG quality (1-100).
    pub quality: u8,
}

impl Thumbs {
    /// An empty cache.
    pub fn new(max_side: u32, quality: u8) -> Self {
        Thumbs {
            made: HashMap::new(),
            max_side,
            quality,
        }
    }

    /// Make the thumbnails of `paths` not made yet, in parallel. Unreadable images are
    /// remembered as missing (the card says so) rather than failing the page.
    pub fn prepare<'a>(&mut self, paths: impl IntoIterator<Item = &'a Path>) {
        let mut todo: Vec<&Path> = paths
            .into_iter()
            .filter(|p| !self.made.contains_key(*p))
            .collect();
        todo.sort();
        todo.dedup();
        let (side, q) = (self.max_side, self.quality);
        let made: Vec<(PathBuf, Option<Thumb>)> = todo
            .par_iter()
            .map(|p| (p.to_path_buf(), make(p, side, q)))
            .collect();
        self.made.extend(made);
    }

    /// The thumbnail of `path`, if it was prepared and could be read.
    pub fn get(&self, path: &Path) -> Option<&Thumb> {
        self.made.get(path).and_then(Option::as_ref)
    }
}

fn make(path: &Path, max_side: u32, quality: u8) -> Option<Thumb> {
    let img = match image::open(path) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("report: cannot read image {}: {e}", path.display());
            return None;
        }
    };
    let (width, height) = (img.width(), img.height());
    let scale = (max_side as f64 / width.max(height).max(1) as f64).min(1.0);
    let (tw, th) = (
        ((width as f64 * scale).round() as u32).max(1),
        ((height as f64 * scale).round() as u32).max(1),
    );
    let small = image::imageops::thumbnail(&img.to_rgb8(), tw, th);
    let mut bytes = Vec::new();
    let mut cursor = Cursor::new(&mut bytes);
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut cursor, quality);
    if let Err(e) = small.write_with_encoder(enc) {
        eprintln!(
            "report: cannot encode a thumbnail of {}: {e}",
            path.display()
        );
        return None;
    }
    Some(Thumb {
        data_uri: format!(
            "data:image/jpeg;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&bytes)
        ),
        width,
        height,
    })
}

/// A box drawn over a thumbnail.
#[derive(Debug, Clone)]
pub struct Overlay {
    /// (x0, y0, x1, y1) in original image pixels.
    pub bbox: [f64; 4],
    /// CSS class (`gt`, `pred`, `pred2`, ...), which sets the colour.
    pub class: &'static str,
    /// Tooltip text (escaped here).
    pub title: String,
}

/// The thumbnail as an `<img>` with an SVG overlay of `boxes`; a placeholder when missing.
pub fn figure(thumb: Option<&Thumb>, alt: &str, boxes: &[Overlay]) -> String {
    let Some(t) = thumb else {
        return "<div class=\"thumb missing\">no image</div>".into();
    };
    let mut s = format!(
        "<div class=\"thumb\"><img src=\"{}\" alt=\"{}\" width=\"{}\" height=\"{}\" loading=\"lazy\">",
        t.data_uri,
        crate::html::esc(alt),
        t.width,
        t.height
    );
    if !boxes.is_empty() {
        s.push_str(&format!(
            "<svg viewBox=\"0 0 {} {}\" preserveAspectRatio=\"none\" aria-hidden=\"true\">",
            t.width, t.height
        ));
        for b in boxes {
            let [x0, y0, x1, y1] = b.bbox;
            s.push_str(&format!(
                "<rect class=\"{}\" x=\"{x0:.1}\" y=\"{y0:.1}\" width=\"{:.1}\" height=\"{:.1}\" vector-effect=\"non-scaling-stroke\"><title>{}</title></rect>",
                b.class,
                (x1 - x0).max(0.0),
                (y1 - y0).max(0.0),
                crate::html::esc(&b.title)
            ));
        }
        s.push_str("</svg>");
    }
    s.push_str("</div>");
    s
}
