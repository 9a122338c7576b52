//! Vector overlays (outlines, arrows, dots, polylines, polygons) drawn with tiny-skia into a
//! small transparent layer covering just the shape, then composited onto the RGB image.

use image::RgbImage;
use tiny_skia::{
    FillRule, LineCap, LineJoin, Paint, Path, PathBuilder, Pixmap, Rect, Stroke, Transform,
};

use crate::color::Color;

/// How a path is painted.
#[derive(Debug, Clone, Copy)]
pub enum Brush {
    /// Fill the inside (non-zero winding).
    Fill,
    /// Stroke the outline with this width.
    Stroke(f32),
}

/// Paint `path` onto `image` with `color` (straight alpha) and optional anti-aliasing.
pub fn paint_path(image: &mut RgbImage, path: &Path, brush: Brush, color: Color, aa: bool) {
    let margin = match brush {
        Brush::Fill => 2.0,
        Brush::Stroke(w) => w + 2.0,
    };
    let b = path.bounds();
    let (iw, ih) = (image.width() as f32, image.height() as f32);
    let x0 = (b.left() - margin).floor().max(0.0);
    let y0 = (b.top() - margin).floor().max(0.0);
    let x1 = (b.right() + margin).ceil().min(iw);
    let y1 = (b.bottom() + margin).ceil().min(ih);
    if x1 <= x0 || y1 <= y0 {
        return;
    }
    let (lw, lh) = ((x1 - x0) as u32, (y1 - y0) as u32);
    let Some(mut layer) = Pixmap::new(lw, lh) else {
        return;
    };
    let mut paint = Paint::default();
    let [r, g, bl, a] = color.rgba;
    paint.set_color_rgba8(r, g, bl, a);
    paint.anti_alias = aa;
    let shift = Transform::from_translate(-x0, -y0);
    match brush {
        Brush::Fill => layer.fill_path(path, &paint, FillRule::Winding, shift, None),
        Brush::Stroke(width) => {
            let stroke = Stroke {
                width,
                line_cap: LineCap::Butt,
                line_join: LineJoin::Miter,
                ..Stroke::default()
            };
            layer.stroke_path(path, &paint, &stroke, shift, None);
        }
    }
    composite(image, &layer, x0 as u32, y0 as u32);
}

/// Source-over a premultiplied RGBA layer at `(ox, oy)` onto an opaque RGB image.
pub fn composite(image: &mut RgbImage, layer: &Pixmap, ox: u32, oy: u32) {
    let lw = layer.width();
    let data = layer.data();
    for ly in 0..layer.height() {
        let y = oy + ly;
        if y >= image.height() {
            break;
        }
        for lx in 0..lw {
            let x = ox + lx;
            if x >= image.width() {
                break;
            }
            let i = ((ly * lw + lx) * 4) as usize;
            let a = u32::from(data[i + 3]);
            if a == 0 {
                continue;
            }
            let px = image.get_pixel_mut(x, y);
            if a == 255 {
                px.0 = [data[i], data[i + 1], data[i + 2]];
                continue;
            }
            for c in 0..3 {
                let v = u32::from(px.0[c]) * (255 - a) + 127;
                px.0[c] = (u32::from(data[i + c]) + ((v + (v >> 8)) >> 8)).min(255) as u8;
            }
        }
    }
}

/// A rectangle path (no-op `None` when degenerate).
pub fn rect_path(x0: f32, y0: f32, x1: f32, y1: f32) -> Option<Path> {
    let r = Rect::from_ltrb(x0, y0, x1, y1)?;
    Some(PathBuilder::from_rect(r))
}

/// An axis-aligned ellipse inscribed in a box.
pub fn ellipse_path(x0: f32, y0: f32, x1: f32, y1: f32) -> Option<Path> {
    let r = Rect::from_ltrb(x0, y0, x1, y1)?;
    PathBuilder::from_oval(r)
}

/// A rectangle with circular corners of radius `corner` (capped at half the shorter side).
pub fn rounded_rect_path(x0: f32, y0: f32, x1: f32, y1: f32, corner: f32) -> Option<Path> {
    let c = corner.min((x1 - x0) * 0.5).min((y1 - y0) * 0.5).max(0.0);
    if c <= 0.0 {
        return rect_path(x0, y0, x1, y1);
    }
    // Cubic Bézier approximation of a quarter circle.
    let k = c * 0.552_284_8;
    let mut pb = PathBuilder::new();
    pb.move_to(x0 + c, y0);
    pb.line_to(x1 - c, y0);
    pb.cubic_to(x1 - c + k, y0, x1, y0 + c - k, x1, y0 + c);
    pb.line_to(x1, y1 - c);
    pb.cubic_to(x1, y1 - c + k, x1 - c + k, y1, x1 - c, y1);
    pb.line_to(x0 + c, y1);
    pb.cubic_to(x0 + c - k, y1, x0, y1 - c + k, x0, y1 - c);
    pb.line_to(x0, y0 + c);
    pb.cubic_to(x0, y0 + c - k, x0 + c - k, y0, x0 + c, y0);
    pb.close();
    pb.finish()
}

/// A polyline through `points` (open).
pub fn polyline_path(points: &[(f32, f32)]) -> Option<Path> {
    let (first, rest) = points.split_first()?;
    let mut pb = PathBuilder::new();
    pb.move_to(first.0, first.1);
    for p in rest {
        pb.line_to(p.0, p.1);
    }
    pb.finish()
}

/// A closed polygon from a flat `[x0, y0, x1, y1, ...]` list.
pub fn polygon_path(flat: &[f32]) -> Option<Path> {
    let mut pb = PathBuilder::new();
    for (i, xy) in flat.chunks_exact(2).enumerate() {
        if i == 0 {
            pb.move_to(xy[0], xy[1]);
        } else {
            pb.line_to(xy[0], xy[1]);
        }
    }
    pb.close();
    pb.finish()
}

/// A filled triangular arrowhead with its tip at `tip`, pointing along `(dx, dy)`.
pub fn arrowhead_path(tip: (f32, f32), dir: (f32, f32), size: f32) -> Option<Path> {
    let len = (dir.0 * dir.0 + dir.1 * dir.1).sqrt();
    if len <= f32::EPSILON {
        return None;
    }
    let (ux, uy) = (dir.0 / len, dir.1 / len);
    let (px, py) = (-uy, ux);
    let back = (tip.0 - ux * size, tip.1 - uy * size);
    let half = size * 0.5;
    let mut pb = PathBuilder::new();
    pb.move_to(tip.0, tip.1);
    pb.line_to(back.0 + px * half, back.1 + py * half);
    pb.line_to(back.0 - px * half, back.1 - py * half);
    pb.close();
    pb.finish()
}

/// A circle.
pub fn circle_path(cx: f32, cy: f32, r: f32) -> Option<Path> {
    PathBuilder::from_circle(cx, cy, r)
}
