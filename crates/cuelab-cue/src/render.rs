//! Applying a [`Recipe`] to an image and a [`Target`].
//!
//! Order of work, whatever order the spec lists primitives in:
//! 1. `Outside` steps (blur, gray, dim, fill, colorcode), in written order, on a copy of the whole
//!    image; then the region's own pixels are restored from the original (the region stays
//!    sharp) — seed 004's `filter → paste(original, mask=rectangle)`;
//! 2. `Overlay` steps (shapes, marks, labels, tint), in written order;
//! 3. `crop`, last.
//!
//! A [`Renderer`] holds one source image and caches the processed background per distinct
//! chain of outside steps, so rendering many regions of the same image blurs it once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use image::RgbImage;
use tracing::warn;

use crate::blur::gaussian_blur_in_place;
use crate::color::Color;
use crate::draw::{self, Brush};
use crate::effects::{dim_in_place, fill_in_place, grayscale_in_place, position_color};
use crate::error::{CueError, Result};
use crate::pillow_ellipse;
use crate::region::{BoxXyxy, Region};
use crate::schema::Phase;
use crate::spec::{Recipe, Step};
use crate::text;

/// What a cue is drawn for: a region, its 0-based index among the image's targets (for
/// automatic labels), optional trajectory points and an optional label text.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The region.
    pub region: Region,
    /// 0-based position among the targets of the image (`label(text=auto)` prints `index + 1`).
    pub index: usize,
    /// Trajectory points in image pixels (used by `trajectory`).
    pub points: Vec<(f32, f32)>,
    /// Text for `label(text=auto)` instead of the number.
    pub label: Option<String>,
}

impl Target {
    /// A target for a box, index 0.
    pub fn from_box(b: BoxXyxy) -> Self {
        Target {
            region: Region::Box(b),
            index: 0,
            points: Vec::new(),
            label: None,
        }
    }
}

/// Renders recipes on one source image, caching backgrounds.
pub struct Renderer<'a> {
    image: &'a RgbImage,
    backgrounds: Mutex<HashMap<String, Arc<RgbImage>>>,
}

impl<'a> Renderer<'a> {
    /// A renderer for `image`.
    pub fn new(image: &'a RgbImage) -> Self {
        Renderer {
            image,
            backgrounds: Mutex::new(HashMap::new()),
        }
    }

    /// The source image.
    pub fn source(&self) -> &RgbImage {
        self.image
    }

    /// Render `recipe` for `target`. A region partly outside the image is clipped (with a
    /// warning); one entirely outside is an error.
    pub fn render(&self, recipe: &Recipe, target: &Target) -> Result<RgbImage> {
        let (w, h) = self.image.dimensions();
        let bbox = target.region.bbox()?;
        let Some(clipped) = bbox.clip_to(w, h) else {
            return Err(CueError::RegionOutside {
                box_xyxy: [bbox.x0, bbox.y0, bbox.x1, bbox.y1],
                width: w,
                height: h,
            });
        };
        if !bbox.inside(w, h) {
            warn!(
                "region {:?} extends beyond the {w}x{h} image; clipped to {:?}",
                [bbox.x0, bbox.y0, bbox.x1, bbox.y1],
                [clipped.x0, clipped.y0, clipped.x1, clipped.y1]
            );
        }

        let outside: Vec<&Step> = recipe.phase(Phase::Outside).collect();
        let mut out = if outside.is_empty() {
            self.image.clone()
        } else {
            let (cx, cy) = clipped.center();
            let lut = position_color(cx / w as f32, cy / h as f32);
            let bg = self.background(&outside, lut);
            let mut out = (*bg).clone();
            restore_region(&mut out, self.image, &target.region, &clipped)?;
            out
        };

        for step in recipe.phase(Phase::Overlay) {
            overlay(&mut out, step, target, &bbox, &clipped)?;
        }

        if let Some(step) = recipe.phase(Phase::Crop).next() {
            out = crop(&out, step, &bbox)?;
        }
        Ok(out)
    }

    /// The whole image with the outside steps applied, cached by their canonical text (and the
    /// position colour when `colorcode` is among them).
    fn background(&self, steps: &[&Step], lut: Color) -> Arc<RgbImage> {
        let uses_lut = steps.iter().any(|s| s.name() == "colorcode");
        let mut key = steps
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join("+");
        if uses_lut {
            key.push_str(&format!("@{lut}"));
        }
        if let Some(bg) = self.lock().get(&key) {
            return Arc::clone(bg);
        }
        let mut bg = self.image.clone();
        for s in steps {
            match s.name() {
                "blur" => gaussian_blur_in_place(&mut bg, s.num("radius")),
                "gray" => grayscale_in_place(&mut bg),
                "dim" => dim_in_place(&mut bg, s.num("amount")),
                "fill" => fill_in_place(&mut bg, s.color("color").with_opacity(s.num("alpha"))),
                "colorcode" => fill_in_place(&mut bg, lut),
                other => unreachable!("bug: {other} is not an outside step"),
            }
        }
        let bg = Arc::new(bg);
        self.lock().insert(key, Arc::clone(&bg));
        bg
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<RgbImage>>> {
        // A poisoned cache only means another render panicked; its entries are still whole.
        self.backgrounds.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Copy the region's pixels from `original` back into `out`.
fn restore_region(
    out: &mut RgbImage,
    original: &RgbImage,
    region: &Region,
    clipped: &BoxXyxy,
) -> Result<()> {
    let (w, h) = original.dimensions();
    match region {
        Region::Box(_) => {
            let (x0, y0, x1, y1) = clipped.pixel_span(w, h);
            let stride = w as usize * 3;
            let (a, b) = (x0 as usize * 3, x1 as usize * 3);
            let src: &[u8] = original;
            let dst: &mut [u8] = out;
            for y in y0 as usize..y1 as usize {
                let row = y * stride;
                dst[row + a..row + b].copy_from_slice(&src[row + a..row + b]);
            }
        }
        Region::Polygon(polys) => {
            let mut mask = tiny_skia::Mask::new(w, h).ok_or(CueError::Polygon(
                "image too large for a polygon mask".into(),
            ))?;
            for poly in polys {
                if let Some(path) = draw::polygon_path(poly) {
                    mask.fill_path(
                        &path,
                        tiny_skia::FillRule::Winding,
                        false,
                        tiny_skia::Transform::identity(),
                    );
                }
            }
            copy_where(out, original, mask.data());
        }
        Region::Mask(rle) => {
            if rle.width != w || rle.height != h {
                return Err(CueError::Rle(format!(
                    "mask is {}x{} but the image is {w}x{h}",
                    rle.width, rle.height
                )));
            }
            let bits = rle.decode()?;
            let mask: Vec<u8> = bits.iter().map(|&b| if b { 255 } else { 0 }).collect();
            copy_where(out, original, &mask);
        }
    }
    Ok(())
}

fn copy_where(out: &mut RgbImage, original: &RgbImage, mask: &[u8]) {
    let src: &[u8] = original;
    let dst: &mut [u8] = out;
    for (i, &m) in mask.iter().enumerate() {
        if m >= 128 {
            dst[i * 3..i * 3 + 3].copy_from_slice(&src[i * 3..i * 3 + 3]);
        }
    }
}

fn stroke_color(step: &Step) -> Color {
    step.color("color").with_opacity(step.num("alpha"))
}

/// Draw one overlay step.
fn overlay(
    out: &mut RgbImage,
    step: &Step,
    target: &Target,
    bbox: &BoxXyxy,
    clipped: &BoxXyxy,
) -> Result<()> {
    let (iw, ih) = out.dimensions();
    let b = bbox;
    match step.name() {
        "ellipse" if !step.flag("aa") => {
            // Pillow's `ImageDraw.ellipse(outline, width)`, pixel for pixel (the default).
            let style = pillow_ellipse::EllipseStyle::Outline(step.num("width") as u32);
            pillow_ellipse::draw(
                out,
                pillow_ellipse::pillow_box(b),
                style,
                stroke_color(step),
            );
        }
        "rect" | "ellipse" | "rounded" => {
            let width = step.num("width");
            let half = width * 0.5;
            let aa = step.flag("aa");
            let color = stroke_color(step);
            // The stroke lies inside the box; a box thinner than two strokes is filled.
            let (x0, y0, x1, y1) = (b.x0 + half, b.y0 + half, b.x1 - half, b.y1 - half);
            let (path, brush) = if x1 > x0 && y1 > y0 {
                let path = match step.name() {
                    "rect" => draw::rect_path(x0, y0, x1, y1),
                    "ellipse" => draw::ellipse_path(x0, y0, x1, y1),
                    _ => draw::rounded_rect_path(x0, y0, x1, y1, step.num("corner")),
                };
                (path, Brush::Stroke(width))
            } else {
                let path = match step.name() {
                    "ellipse" => {
                        draw::ellipse_path(b.x0, b.y0, b.x1.max(b.x0 + 1.0), b.y1.max(b.y0 + 1.0))
                    }
                    _ => draw::rect_path(b.x0, b.y0, b.x1.max(b.x0 + 1.0), b.y1.max(b.y0 + 1.0)),
                };
                (path, Brush::Fill)
            };
            if let Some(path) = path {
                draw::paint_path(out, &path, brush, color, aa);
            }
        }
        "tint" => {
            let (cx, cy) = clipped.center();
            let c = position_color(cx / iw as f32, cy / ih as f32).with_opacity(step.num("alpha"));
            fill_in_place(out, c);
        }
        "label" => {
            let txt = match step.text("text") {
                "auto" => target
                    .label
                    .clone()
                    .unwrap_or_else(|| (target.index + 1).to_string()),
                "letter" => letter(target.index),
                other => other.to_string(),
            };
            let size = step.num("size");
            let alpha = step.num("alpha");
            let (tw, th) = text::measure(&txt, size);
            let pad = (size * 0.2).round();
            let (bw, bh) = (tw + 2.0 * pad, th + pad);
            let (x, y) = match step.text("pos") {
                "top-right" => (clipped.x1 - bw, clipped.y0),
                "bottom-left" => (clipped.x0, clipped.y1 - bh),
                "bottom-right" => (clipped.x1 - bw, clipped.y1 - bh),
                "center" => {
                    let (cx, cy) = clipped.center();
                    (cx - bw * 0.5, cy - bh * 0.5)
                }
                "above" => (clipped.x0, clipped.y0 - bh),
                _ => (clipped.x0, clipped.y0),
            };
            // keep the tag on the image
            let x = x.clamp(0.0, (iw as f32 - bw).max(0.0)).round();
            let y = y.clamp(0.0, (ih as f32 - bh).max(0.0)).round();
            if let Some(path) = draw::rect_path(x, y, x + bw, y + bh) {
                draw::paint_path(
                    out,
                    &path,
                    Brush::Fill,
                    step.color("bg").with_opacity(alpha),
                    false,
                );
            }
            text::draw_text(
                out,
                &txt,
                x + pad,
                y + pad * 0.5,
                size,
                step.color("color"),
                alpha,
            );
        }
        "arrow" => {
            let (cx, cy) = b.center();
            let (dx, dy): (f32, f32) = match step.text("from") {
                "top" => (0.0, -1.0),
                "top-right" => (1.0, -1.0),
                "left" => (-1.0, 0.0),
                "right" => (1.0, 0.0),
                "bottom-left" => (-1.0, 1.0),
                "bottom" => (0.0, 1.0),
                "bottom-right" => (1.0, 1.0),
                _ => (-1.0, -1.0),
            };
            let norm = (dx * dx + dy * dy).sqrt();
            let (ux, uy) = (dx / norm, dy / norm);
            // tip on the box border along the direction from the centre
            let tx = if ux.abs() > 1e-6 {
                (b.width() * 0.5) / ux.abs()
            } else {
                f32::INFINITY
            };
            let ty = if uy.abs() > 1e-6 {
                (b.height() * 0.5) / uy.abs()
            } else {
                f32::INFINITY
            };
            let t = tx.min(ty);
            let tip = (cx + ux * t, cy + uy * t);
            let len = step.num("length");
            let tail = (tip.0 + ux * len, tip.1 + uy * len);
            let width = step.num("width");
            let head = (width * 4.0).max(8.0).min(len);
            let color = stroke_color(step);
            let aa = step.flag("aa");
            let neck = (tip.0 + ux * head * 0.9, tip.1 + uy * head * 0.9);
            if let Some(shaft) = draw::polyline_path(&[tail, neck]) {
                draw::paint_path(out, &shaft, Brush::Stroke(width), color, aa);
            }
            if let Some(h) = draw::arrowhead_path(tip, (-ux, -uy), head) {
                draw::paint_path(out, &h, Brush::Fill, color, aa);
            }
        }
        "dot" => {
            let (cx, cy) = b.center();
            if let Some(path) = draw::circle_path(cx, cy, step.num("radius")) {
                draw::paint_path(out, &path, Brush::Fill, stroke_color(step), step.flag("aa"));
            }
        }
        "trajectory" => {
            let pts = &target.points;
            if pts.len() < 2 {
                // Normal on a clip's first frame and for still objects: nothing to draw.
                tracing::debug!(
                    "trajectory needs at least two points; target {} has {}",
                    target.index,
                    pts.len()
                );
                return Ok(());
            }
            let width = step.num("width");
            let color = stroke_color(step);
            let aa = step.flag("aa");
            if step.flag("fade") {
                let n = (pts.len() - 1) as f32;
                for (i, seg) in pts.windows(2).enumerate() {
                    let opacity = 0.25 + 0.75 * (i as f32 + 1.0) / n;
                    if let Some(path) = draw::polyline_path(seg) {
                        draw::paint_path(
                            out,
                            &path,
                            Brush::Stroke(width),
                            color.with_opacity(opacity),
                            aa,
                        );
                    }
                }
            } else if let Some(path) = draw::polyline_path(pts) {
                draw::paint_path(out, &path, Brush::Stroke(width), color, aa);
            }
            if step.flag("arrow") {
                let (a, z) = (pts[pts.len() - 2], pts[pts.len() - 1]);
                let head = (width * 4.0).max(8.0);
                if let Some(h) = draw::arrowhead_path(z, (z.0 - a.0, z.1 - a.1), head) {
                    draw::paint_path(out, &h, Brush::Fill, color, aa);
                }
            }
        }
        "mask" => {
            let color = step.color("color");
            let fill = color.with_opacity(step.num("alpha"));
            let outline = step.flag("outline");
            let width = step.num("width");
            match &target.region {
                Region::Box(_) | Region::Polygon(_) => {
                    let paths: Vec<tiny_skia::Path> = match &target.region {
                        Region::Polygon(polys) => {
                            polys.iter().filter_map(|p| draw::polygon_path(p)).collect()
                        }
                        _ => draw::rect_path(b.x0, b.y0, b.x1, b.y1)
                            .into_iter()
                            .collect(),
                    };
                    for path in &paths {
                        draw::paint_path(out, path, Brush::Fill, fill, true);
                        if outline {
                            draw::paint_path(out, path, Brush::Stroke(width), color, true);
                        }
                    }
                }
                Region::Mask(rle) => {
                    if rle.width != iw || rle.height != ih {
                        return Err(CueError::Rle(format!(
                            "mask is {}x{} but the image is {iw}x{ih}",
                            rle.width, rle.height
                        )));
                    }
                    let bits = rle.decode()?;
                    let border = if outline {
                        mask_border(&bits, iw as usize, ih as usize, width as usize)
                    } else {
                        vec![false; bits.len()]
                    };
                    let fa = fill.rgba[3];
                    for (i, (&on, &edge)) in bits.iter().zip(&border).enumerate() {
                        if !on {
                            continue;
                        }
                        let (x, y) = ((i % iw as usize) as u32, (i / iw as usize) as u32);
                        let p = out.get_pixel_mut(x, y);
                        for c in 0..3 {
                            p.0[c] = if edge {
                                color.rgba[c]
                            } else {
                                crate::effects::blend(p.0[c], color.rgba[c], fa)
                            };
                        }
                    }
                }
            }
        }
        other => unreachable!("bug: {other} is not an overlay step"),
    }
    Ok(())
}

/// Mask pixels within `width` pixels (4-connected erosion steps) of the mask's outside.
fn mask_border(bits: &[bool], w: usize, h: usize, width: usize) -> Vec<bool> {
    let mut inner = bits.to_vec();
    for _ in 0..width.max(1) {
        let prev = inner.clone();
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                if !prev[i] {
                    continue;
                }
                let edge = x == 0
                    || y == 0
                    || x + 1 == w
                    || y + 1 == h
                    || !prev[i - 1]
                    || !prev[i + 1]
                    || !prev[i - w]
                    || !prev[i + w];
                if edge {
                    inner[i] = false;
                }
            }
        }
    }
    bits.iter().zip(&inner).map(|(&b, &i)| b && !i).collect()
}

/// `A`, `B`, ..., `Z`, `AA`, `AB`, ... for 0, 1, ...
fn letter(index: usize) -> String {
    let mut n = index + 1;
    let mut s = Vec::new();
    while n > 0 {
        n -= 1;
        s.push(b'A' + (n % 26) as u8);
        n /= 26;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// Cut `out` to the crop box of `step` around `bbox`, clipped to the image.
fn crop(out: &RgbImage, step: &Step, bbox: &BoxXyxy) -> Result<RgbImage> {
    let (w, h) = out.dimensions();
    let ctx = step.num("context");
    let pad = step.num("pad");
    let mut b = BoxXyxy {
        x0: bbox.x0 - pad - ctx * bbox.width(),
        y0: bbox.y0 - pad - ctx * bbox.height(),
        x1: bbox.x1 + pad + ctx * bbox.width(),
        y1: bbox.y1 + pad + ctx * bbox.height(),
    };
    if step.flag("square") {
        let side = b.width().max(b.height());
        let (cx, cy) = b.center();
        b = BoxXyxy {
            x0: cx - side * 0.5,
            y0: cy - side * 0.5,
            x1: cx + side * 0.5,
            y1: cy + side * 0.5,
        };
    }
    let Some(c) = b.clip_to(w, h) else {
        return Err(CueError::RegionOutside {
            box_xyxy: [b.x0, b.y0, b.x1, b.y1],
            width: w,
            height: h,
        });
    };
    let (x0, y0, mut x1, mut y1) = c.pixel_span(w, h);
    // a sub-pixel box still yields one pixel
    if x1 <= x0 {
        x1 = (x0 + 1).min(w);
    }
    if y1 <= y0 {
        y1 = (y0 + 1).min(h);
    }
    let x0 = x0.min(x1.saturating_sub(1));
    let y0 = y0.min(y1.saturating_sub(1));
    Ok(image::imageops::crop_imm(out, x0, y0, x1 - x0, y1 - y0).to_image())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo() -> RgbImage {
        RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, ((x + y) * 2) as u8])
        })
    }

    fn target(x0: f32, y0: f32, x1: f32, y1: f32) -> Target {
        Target::from_box(BoxXyxy::new(x0, y0, x1, y1).unwrap())
    }

    #[test]
    fn plain_is_identity_and_region_stays_sharp() {
        let img = photo();
        let r = Renderer::new(&img);
        let t = target(10.0, 10.0, 30.0, 30.0);
        assert_eq!(r.render(&Recipe::plain(), &t).unwrap(), img);
        let out = r
            .render(&Recipe::parse("blur(radius=3)+gray").unwrap(), &t)
            .unwrap();
        for y in 10..30 {
            for x in 10..30 {
                assert_eq!(out.get_pixel(x, y), img.get_pixel(x, y));
            }
        }
        let p = out.get_pixel(50, 5);
        assert!(p[0] == p[1] && p[1] == p[2]);
    }

    #[test]
    fn crop_and_edge_cases() {
        let img = photo();
        let r = Renderer::new(&img);
        let out = r
            .render(
                &Recipe::parse("crop").unwrap(),
                &target(10.0, 5.0, 30.0, 25.0),
            )
            .unwrap();
        assert_eq!(out.dimensions(), (20, 20));
        let out = r
            .render(
                &Recipe::parse("crop(pad=5)").unwrap(),
                &target(-10.0, -10.0, 5.0, 5.0),
            )
            .unwrap();
        assert_eq!(out.dimensions(), (10, 10));
        // one-pixel box, box larger than the image, box crossing the border
        for t in [
            target(3.0, 3.0, 4.0, 4.0),
            target(-100.0, -100.0, 500.0, 500.0),
            target(60.0, 40.0, 80.0, 60.0),
        ] {
            for spec in [
                "ellipse+blur+gray",
                "rect(width=10)",
                "rounded",
                "label+arrow+dot",
                "mask+crop",
                "colorcode+tint",
            ] {
                r.render(&Recipe::parse(spec).unwrap(), &t).unwrap();
            }
        }
        assert!(r
            .render(&Recipe::plain(), &target(100.0, 100.0, 120.0, 120.0))
            .is_err());
    }

    #[test]
    fn letters() {
        assert_eq!(letter(0), "A");
        assert_eq!(letter(25), "Z");
        assert_eq!(letter(26), "AA");
    }
}
