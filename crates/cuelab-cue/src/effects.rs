//! Whole-image pixel effects used outside a region: grayscale, dim, solid fill, and the
//! position colour table of seed 004.

use image::RgbImage;

use crate::color::Color;

/// Pillow's `convert('L')` luma for one RGB pixel: ITU-R 601-2 weights in 16-bit fixed point,
/// rounded (`(r*19595 + g*38470 + b*7471 + 0x8000) >> 16`).
#[inline]
pub fn luma_601(r: u8, g: u8, b: u8) -> u8 {
    ((u32::from(r) * 19595 + u32::from(g) * 38470 + u32::from(b) * 7471 + 0x8000) >> 16) as u8
}

/// Replace every pixel by its luma, as `image.convert('L').convert('RGB')` does in Pillow.
pub fn grayscale_in_place(image: &mut RgbImage) {
    for px in image.pixels_mut() {
        let l = luma_601(px[0], px[1], px[2]);
        px.0 = [l, l, l];
    }
}

/// Multiply every channel by `1 - amount`, rounding to nearest.
pub fn dim_in_place(image: &mut RgbImage, amount: f32) {
    let keep = ((1.0 - amount.clamp(0.0, 1.0)) * 256.0).round() as u32;
    for v in image.iter_mut() {
        *v = ((u32::from(*v) * keep + 128) >> 8) as u8;
    }
}

/// Blend a colour over every pixel with the colour's alpha (straight alpha, rounded).
pub fn fill_in_place(image: &mut RgbImage, color: Color) {
    let [r, g, b, a] = color.rgba;
    if a == 255 {
        for px in image.pixels_mut() {
            px.0 = [r, g, b];
        }
        return;
    }
    for px in image.pixels_mut() {
        px.0 = [blend(px[0], r, a), blend(px[1], g, a), blend(px[2], b, a)];
    }
}

/// `dst * (1 - a) + src * a` for 8-bit values, rounded like Pillow's `alpha_composite` over an
/// opaque destination.
#[inline]
pub fn blend(dst: u8, src: u8, alpha: u8) -> u8 {
    let a = u32::from(alpha);
    let v = u32::from(src) * a + u32::from(dst) * (255 - a) + 127;
    ((v + (v >> 8)) >> 8) as u8
}

/// Seed 004's 3x3 look-up table (§6.1.1): the colour for a region whose centroid, normalised to
/// `[0, 1]²`, is `(nx, ny)`. Columns split at 0.35 / 0.65, rows at 0.33 / 0.67, bounds
/// inclusive on the low side, exactly as the seed's table.
pub fn position_color(nx: f32, ny: f32) -> Color {
    let row = if ny <= 0.33 {
        0
    } else if ny <= 0.67 {
        1
    } else {
        2
    };
    let col = if nx <= 0.35 {
        0
    } else if nx <= 0.65 {
        1
    } else {
        2
    };
    const LUT: [[[u8; 3]; 3]; 3] = [
        // rows: top, centre, bottom; columns: left, centre, right
        [[0, 0, 255], [255, 255, 0], [255, 0, 0]],
        [[0, 255, 0], [255, 0, 255], [0, 0, 0]],
        [[139, 69, 19], [0, 255, 255], [255, 255, 255]],
    ];
    let c = LUT[row][col];
    Color::rgb(c[0], c[1], c[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luma_matches_pillow_formula() {
        assert_eq!(luma_601(255, 255, 255), 255);
        assert_eq!(luma_601(0, 0, 0), 0);
        assert_eq!(luma_601(255, 0, 0), 76);
        assert_eq!(luma_601(0, 255, 0), 150);
        assert_eq!(luma_601(0, 0, 255), 29);
    }

    #[test]
    fn lut_corners_and_centre() {
        assert_eq!(position_color(0.1, 0.1), Color::rgb(0, 0, 255));
        assert_eq!(position_color(0.5, 0.5), Color::rgb(255, 0, 255));
        assert_eq!(position_color(0.9, 0.9), Color::rgb(255, 255, 255));
        assert_eq!(position_color(0.35, 0.33), Color::rgb(0, 0, 255));
        assert_eq!(position_color(0.36, 0.34), Color::rgb(255, 0, 255));
    }

    #[test]
    fn blend_extremes() {
        assert_eq!(blend(10, 200, 255), 200);
        assert_eq!(blend(10, 200, 0), 10);
        assert_eq!(blend(0, 255, 128), 128);
    }
}
