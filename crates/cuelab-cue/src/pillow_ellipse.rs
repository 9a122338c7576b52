//! Aliased ellipses rasterised exactly as Pillow 11 draws them (`ImageDraw.ellipse(bbox,
//! outline=..., width=w)` and `ImageDraw.ellipse(bbox, fill=...)`), pixel for pixel.
//!
//! Pillow's method, re-derived here: the ellipse inscribed in the inclusive integer box
//! `[x0, x1] × [y0, y1]` is walked on a half-pixel grid (coordinates doubled, so that the centre
//! and both semi-axes `a = x1 − x0`, `b = y1 − y0` are integers). One quarter is traced from
//! `(a, b mod 2)` to `(a mod 2, b)` in steps of two grid units, each step taking whichever of
//! "down", "down-left" and "left" keeps `|a²y² + b²x² − a²b²|` smallest (ties in that order).
//! An outline of width `w` is the band between that quarter and the one of the ellipse with
//! semi-axes `a − 2(w − 1)`, `b − 2(w − 1)`; each grid row gives a span from the inner curve's
//! leftmost point to the outer curve's rightmost one, mirrored into all four quadrants, and grid
//! `x` maps to pixel `x0 + (x + a) / 2`. A filled ellipse is the outline of width `a + b`.

use image::RgbImage;

use crate::color::Color;
use crate::region::BoxXyxy;

/// What to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EllipseStyle {
    /// The outline, `width` pixels thick (Pillow's `outline=..., width=width`).
    Outline(u32),
    /// The whole ellipse (Pillow's `fill=...`).
    Fill,
}

/// One quarter of the ellipse on the doubled grid, from `(a, b mod 2)` to `(a mod 2, b)`.
struct QuarterArc {
    a2: i64,
    b2: i64,
    a2b2: i64,
    x: i64,
    y: i64,
    end: (i64, i64),
    done: bool,
}

impl QuarterArc {
    fn new(a: i64, b: i64) -> Self {
        QuarterArc {
            a2: a * a,
            b2: b * b,
            a2b2: a * a * b * b,
            x: a,
            y: b.rem_euclid(2),
            end: (a.rem_euclid(2), b),
            done: a < 0 || b < 0,
        }
    }

    /// How far the grid point lies off the ellipse.
    fn error(&self, x: i64, y: i64) -> i64 {
        (self.a2 * y * y + self.b2 * x * x - self.a2b2).abs()
    }
}

impl Iterator for QuarterArc {
    type Item = (i64, i64);

    fn next(&mut self) -> Option<(i64, i64)> {
        if self.done {
            return None;
        }
        let here = (self.x, self.y);
        if here == self.end {
            self.done = true;
            return Some(here);
        }
        let (x, y) = here;
        let mut best = (x, y + 2);
        if x > 1 {
            // The first smallest of down, down-left, left.
            let mut best_err = self.error(best.0, best.1);
            for cand in [(x - 2, y + 2), (x - 2, y)] {
                let e = self.error(cand.0, cand.1);
                if e < best_err {
                    best = cand;
                    best_err = e;
                }
            }
        }
        (self.x, self.y) = best;
        Some(here)
    }
}

/// Per grid row `y` (same parity as `b`, from `b mod 2` up), the extreme `x` of a quarter arc:
/// the largest when `largest`, else the smallest.
fn row_extremes(arc: QuarterArc, largest: bool) -> Vec<(i64, i64)> {
    let mut rows: Vec<(i64, i64)> = Vec::new();
    for (x, y) in arc {
        match rows.last_mut() {
            Some((ry, rx)) if *ry == y => *rx = if largest { (*rx).max(x) } else { (*rx).min(x) },
            _ => rows.push((y, x)),
        }
    }
    rows
}

/// Horizontal pixel spans `(y, x_start, x_end)` (inclusive, unclipped) of the ellipse Pillow
/// draws in the inclusive box `[x0, x1] × [y0, y1]`. Empty when `x1 < x0` or `y1 < y0`. No pixel
/// is in two spans.
pub fn spans(x0: i64, y0: i64, x1: i64, y1: i64, style: EllipseStyle) -> Vec<(i64, i64, i64)> {
    let (a, b) = (x1 - x0, y1 - y0);
    if a < 0 || b < 0 {
        return Vec::new();
    }
    let width = match style {
        EllipseStyle::Outline(w) => i64::from(w),
        EllipseStyle::Fill => a + b,
    };
    if width < 1 {
        return Vec::new();
    }
    let outer = row_extremes(QuarterArc::new(a, b), true);
    let shrink = 2 * (width - 1);
    let inner = row_extremes(QuarterArc::new(a - shrink, b - shrink), false);
    let leftmost = a.rem_euclid(2);
    let mut out = Vec::with_capacity(outer.len() * 4);
    for (i, &(y, r)) in outer.iter().enumerate() {
        // Inner rows run in step with the outer ones while the inner ellipse lasts.
        let l = inner.get(i).map_or(leftmost, |&(_, x)| x);
        let right = (l > 0 || l < r).then_some((if l == 0 { 2 } else { l }, r));
        let left = (-r, -l);
        let rows: &[i64] = if y > 0 { &[y, -y] } else { &[-y] };
        for &gy in rows {
            for (gx0, gx1) in right.into_iter().chain([left]) {
                let (px0, px1) = ((gx0 + a).div_euclid(2), (gx1 + a).div_euclid(2));
                if px0 <= px1 {
                    out.push((y0 + (gy + b).div_euclid(2), x0 + px0, x0 + px1));
                }
            }
        }
    }
    out
}

/// The inclusive integer box Pillow is given for a cuelab box (continuous, exclusive end): the
/// pixels whose centres lie inside it, as [`BoxXyxy::pixel_span`] takes them but not clipped to
/// the image. An integer box `[x0, y0, x1, y1]` becomes Pillow's `[x0, y0, x1 − 1, y1 − 1]`.
pub fn pillow_box(b: &BoxXyxy) -> (i64, i64, i64, i64) {
    let snap = |v: f32| (f64::from(v) - 0.5).ceil() as i64;
    (snap(b.x0), snap(b.y0), snap(b.x1) - 1, snap(b.y1) - 1)
}

/// Draw the ellipse Pillow draws in the inclusive box `[x0, x1] × [y0, y1]` onto `image`
/// (pixels outside the image are skipped). An opaque colour replaces pixels as Pillow does on an
/// RGB image; a translucent one is blended over each pixel once.
pub fn draw(
    image: &mut RgbImage,
    (x0, y0, x1, y1): (i64, i64, i64, i64),
    style: EllipseStyle,
    color: Color,
) {
    let (w, h) = (i64::from(image.width()), i64::from(image.height()));
    let [r, g, bl, a] = color.rgba;
    for (y, sx0, sx1) in spans(x0, y0, x1, y1, style) {
        if y < 0 || y >= h {
            continue;
        }
        let (sx0, sx1) = (sx0.max(0), sx1.min(w - 1));
        for x in sx0..=sx1 {
            // In range: 0 <= x < w, 0 <= y < h, both from u32 dimensions.
            let p = image.get_pixel_mut(x as u32, y as u32);
            p.0 = if a == 255 {
                [r, g, bl]
            } else {
                [
                    crate::effects::blend(p.0[0], r, a),
                    crate::effects::blend(p.0[1], g, a),
                    crate::effects::blend(p.0[2], bl, a),
                ]
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixels(x0: i64, y0: i64, x1: i64, y1: i64, style: EllipseStyle) -> Vec<(i64, i64)> {
        let mut v: Vec<(i64, i64)> = spans(x0, y0, x1, y1, style)
            .into_iter()
            .flat_map(|(y, a, b)| (a..=b).map(move |x| (x, y)))
            .collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn one_pixel_box_outline_is_one_pixel_and_fill_is_nothing() {
        assert_eq!(pixels(3, 4, 3, 4, EllipseStyle::Outline(1)), vec![(3, 4)]);
        // Pillow's quirk: fill uses width a + b = 0, which draws nothing.
        assert!(pixels(3, 4, 3, 4, EllipseStyle::Fill).is_empty());
        assert!(pixels(3, 4, 2, 4, EllipseStyle::Outline(3)).is_empty());
    }

    #[test]
    fn no_pixel_twice_and_symmetric() {
        for (a, b, w) in [(10, 7, 1), (11, 11, 3), (30, 5, 10), (4, 40, 2), (9, 9, 50)] {
            for style in [EllipseStyle::Outline(w), EllipseStyle::Fill] {
                let p = pixels(0, 0, a, b, style);
                let mut d = p.clone();
                d.dedup();
                assert_eq!(d.len(), p.len(), "{a}x{b} {style:?}");
                for &(x, y) in &p {
                    assert!(
                        p.binary_search(&(a - x, y)).is_ok(),
                        "{a}x{b} {style:?} mirror x"
                    );
                    assert!(
                        p.binary_search(&(x, b - y)).is_ok(),
                        "{a}x{b} {style:?} mirror y"
                    );
                }
            }
        }
    }

    #[test]
    fn fill_contains_the_outline_and_the_centre() {
        let fill = pixels(0, 0, 20, 14, EllipseStyle::Fill);
        for p in pixels(0, 0, 20, 14, EllipseStyle::Outline(3)) {
            assert!(fill.binary_search(&p).is_ok());
        }
        assert!(fill.binary_search(&(10, 7)).is_ok());
        assert!(pixels(0, 0, 20, 14, EllipseStyle::Outline(3))
            .binary_search(&(10, 7))
            .is_err());
    }

    #[test]
    fn pillow_box_of_an_integer_box_drops_one_from_the_end() {
        let b = BoxXyxy::new(2.0, 3.0, 10.0, 12.0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pillow_box(&b), (2, 3, 9, 11));
        let b = BoxXyxy::new(-4.6, 0.4, 2.5, 2.6).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pillow_box(&b), (-5, 0, 1, 2));
    }
}
