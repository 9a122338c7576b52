//! Attention maps over the merged patch grid drawn on the image: the map is min-max scaled,
//! bilinearly upsampled to the image (cell centres at the centres of the grid cells, the grid
//! covering the whole image as the resize does), coloured with a blue-green-yellow-red ramp and
//! alpha-blended.

use image::{Rgb, RgbImage};

use crate::error::{Error, Result};

fn ramp(t: f32) -> [f32; 3] {
    // 0 blue -> 0.33 cyan/green -> 0.66 yellow -> 1 red
    let stops = [
        [0.0, 0.0, 1.0],
        [0.0, 0.8, 0.6],
        [1.0, 0.9, 0.0],
        [1.0, 0.0, 0.0],
    ];
    let x = t.clamp(0.0, 1.0) * 3.0;
    let i = (x.floor() as usize).min(2);
    let f = x - i as f32;
    std::array::from_fn(|c| stops[i][c] * (1.0 - f) + stops[i + 1][c] * f)
}

/// Overlay `map` (`rows x cols`, row-major) on `img` with opacity `alpha` (0..1).
pub fn overlay(img: &RgbImage, map: &[f32], grid: (usize, usize), alpha: f32) -> Result<RgbImage> {
    let (rows, cols) = grid;
    if rows == 0 || cols == 0 || map.len() != rows * cols {
        return Err(Error::Invalid(format!(
            "attention map of {} values does not fit a {rows}x{cols} grid",
            map.len()
        )));
    }
    let lo = map.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = map.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let (w, h) = (img.width() as usize, img.height() as usize);
    let at = |r: usize, c: usize| (map[r * cols + c] - lo) / span;
    let mut out = img.clone();
    for y in 0..h {
        let gy = ((y as f32 + 0.5) * rows as f32 / h as f32 - 0.5).clamp(0.0, (rows - 1) as f32);
        let (r0, fy) = (gy.floor() as usize, gy - gy.floor());
        let r1 = (r0 + 1).min(rows - 1);
        for x in 0..w {
            let gx =
                ((x as f32 + 0.5) * cols as f32 / w as f32 - 0.5).clamp(0.0, (cols - 1) as f32);
            let (c0, fx) = (gx.floor() as usize, gx - gx.floor());
            let c1 = (c0 + 1).min(cols - 1);
            let v = (at(r0, c0) * (1.0 - fx) + at(r0, c1) * fx) * (1.0 - fy)
                + (at(r1, c0) * (1.0 - fx) + at(r1, c1) * fx) * fy;
            let col = ramp(v);
            let p = img.get_pixel(x as u32, y as u32).0;
            let blended: [u8; 3] = std::array::from_fn(|c| {
                (p[c] as f32 * (1.0 - alpha) + col[c] * 255.0 * alpha)
                    .round()
                    .clamp(0.0, 255.0) as u8
            });
            out.put_pixel(x as u32, y as u32, Rgb(blended));
        }
    }
    Ok(out)
}
