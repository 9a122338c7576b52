//! Text tags drawn with the embedded DejaVu Sans Mono Bold font (Bitstream Vera licence, see
//! `assets/`).

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use image::RgbImage;

use crate::color::Color;
use crate::effects::blend;

static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSansMono-Bold.ttf");

fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| {
        FontRef::try_from_slice(FONT_BYTES).expect("invariant: the embedded font file is valid")
    })
}

/// The ab_glyph scale for a font size of `size` pixels per em, the way FreeType and Pillow's
/// `ImageFont.truetype(font, size)` read a size (ab_glyph's `PxScale` is the ascent-to-descent
/// height instead, about 14% smaller for DejaVu).
fn em_scale(size: f32) -> PxScale {
    let f = font();
    match f.units_per_em() {
        Some(upem) if upem > 0.0 => PxScale::from(size * f.height_unscaled() / upem),
        _ => PxScale::from(size),
    }
}

/// Width and height in pixels of `text` set at `size` px per em (one line; the height is
/// ascent + descent, as Pillow's `getmetrics`).
pub fn measure(text: &str, size: f32) -> (f32, f32) {
    let f = font().as_scaled(em_scale(size));
    let mut w = 0.0;
    let mut prev = None;
    for ch in text.chars() {
        let id = f.glyph_id(ch);
        if let Some(p) = prev {
            w += f.kern(p, id);
        }
        w += f.h_advance(id);
        prev = Some(id);
    }
    (w, f.ascent() - f.descent())
}

/// Draw `text` with its top-left corner at `(x, y)`, blending `color` by glyph coverage times
/// `opacity`. Pixels outside the image are skipped.
pub fn draw_text(
    image: &mut RgbImage,
    text: &str,
    x: f32,
    y: f32,
    size: f32,
    color: Color,
    opacity: f32,
) {
    let scale = em_scale(size);
    let scaled = font().as_scaled(scale);
    let baseline = y + scaled.ascent();
    let mut caret = x;
    let mut prev = None;
    let (iw, ih) = (image.width() as i64, image.height() as i64);
    for ch in text.chars() {
        let id = scaled.glyph_id(ch);
        if let Some(p) = prev {
            caret += scaled.kern(p, id);
        }
        let glyph = id.with_scale_and_position(scale, ab_glyph::point(caret, baseline));
        caret += scaled.h_advance(id);
        prev = Some(id);
        let Some(outlined) = font().outline_glyph(glyph) else {
            continue;
        };
        let bounds = outlined.px_bounds();
        outlined.draw(|gx, gy, coverage| {
            let px = bounds.min.x as i64 + i64::from(gx);
            let py = bounds.min.y as i64 + i64::from(gy);
            if px < 0 || py < 0 || px >= iw || py >= ih {
                return;
            }
            let a = (coverage.clamp(0.0, 1.0) * opacity * f32::from(color.rgba[3])).round() as u8;
            if a == 0 {
                return;
            }
            let p = image.get_pixel_mut(px as u32, py as u32);
            for c in 0..3 {
                p.0[c] = blend(p.0[c], color.rgba[c], a);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_changes_pixels_and_measures_sensibly() {
        let mut img = RgbImage::new(60, 30);
        draw_text(
            &mut img,
            "12",
            2.0,
            2.0,
            20.0,
            Color::rgb(255, 255, 255),
            1.0,
        );
        let lit = img.pixels().filter(|p| p.0[0] > 128).count();
        assert!(lit > 20, "{lit}");
        let (w, h) = measure("12", 20.0);
        assert!(w > 15.0 && w < 30.0 && h > 15.0 && h < 30.0, "{w} {h}");
    }
}
