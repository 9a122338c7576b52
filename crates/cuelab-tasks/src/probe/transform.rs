//! Input transforms of the preprocessing probe, each mapping the image and its object boxes:
//! `identity`, `resize(F)` (bicubic, factor F), `budget(max=P[,min=P][,factor=28])` (Qwen's
//! smart resize to a pixel budget), `shift(K)` (pad K pixels on the left and top, so objects
//! straddle other patches of a 14/16/28-pixel grid), `rotate(D)` (90/180/270 exact, other
//! angles bilinear on an expanded canvas), `pad-square` / `crop-square` (centre), `jpeg(Q)`.
//! Padding uses the colour of the image's top-left pixel (the scenes' background).

use image::{imageops, Rgb, RgbImage};

use super::data::{ProbeItem, ProbeObject};
use crate::error::{Result, TaskError};
use cuelab_cue::BoxXyxy;

/// One input transform.
#[derive(Debug, Clone, PartialEq)]
pub enum Transform {
    /// The image as it is (the reference).
    Identity,
    /// Scale both sides by a factor (Catmull-Rom bicubic).
    Resize(f32),
    /// Qwen smart resize to `[min, max]` pixels, sides multiples of `factor`.
    Budget {
        /// Lower pixel bound.
        min: usize,
        /// Upper pixel bound.
        max: usize,
        /// Side multiple (28 for Qwen2/2.5-VL, 32 for Qwen3-VL).
        factor: usize,
    },
    /// Pad this many pixels on the left and top.
    Shift(u32),
    /// Rotate counter-clockwise by degrees.
    Rotate(f32),
    /// Pad the shorter side to a square (centred).
    PadSquare,
    /// Crop the longer side to a square (centred); objects whose centre falls outside are gone.
    CropSquare,
    /// JPEG round trip at this quality.
    Jpeg(u8),
}

fn arg(text: &str, name: &str) -> Option<String> {
    text.strip_prefix(name)?
        .strip_prefix('(')?
        .strip_suffix(')')
        .map(|s| s.trim().to_string())
}

impl Transform {
    /// Parse a transform spec (see the module documentation).
    pub fn parse(text: &str) -> Result<Self> {
        let t = text.trim().replace(' ', "");
        let bad = |why: &str| {
            TaskError::Config(format!(
                "transform {text:?}: {why} (expected identity, resize(F), budget(max=P[,min=P][,factor=N]), shift(K), rotate(D), pad-square, crop-square or jpeg(Q))"
            ))
        };
        let num = |s: &str| s.parse::<f32>().map_err(|_| bad("not a number"));
        Ok(match t.as_str() {
            "identity" | "plain" => Transform::Identity,
            "pad-square" => Transform::PadSquare,
            "crop-square" => Transform::CropSquare,
            _ => {
                if let Some(a) = arg(&t, "resize") {
                    let f = num(&a)?;
                    if !(0.05..=8.0).contains(&f) {
                        return Err(bad("factor must be in 0.05..=8"));
                    }
                    Transform::Resize(f)
                } else if let Some(a) = arg(&t, "shift") {
                    Transform::Shift(a.parse().map_err(|_| bad("shift is whole pixels"))?)
                } else if let Some(a) = arg(&t, "rotate") {
                    Transform::Rotate(num(&a)?)
                } else if let Some(a) = arg(&t, "jpeg") {
                    let q: u8 = a.parse().map_err(|_| bad("quality is 1..=100"))?;
                    if !(1..=100).contains(&q) {
                        return Err(bad("quality is 1..=100"));
                    }
                    Transform::Jpeg(q)
                } else if let Some(a) = arg(&t, "budget") {
                    let (mut min, mut max, mut factor) = (0usize, 0usize, 28usize);
                    for kv in a.split(',') {
                        let (k, v) = kv
                            .split_once('=')
                            .ok_or_else(|| bad("budget(max=P, ...)"))?;
                        let v: usize = v.parse().map_err(|_| bad("pixel counts are whole"))?;
                        match k {
                            "min" => min = v,
                            "max" => max = v,
                            "factor" => factor = v,
                            _ => return Err(bad("budget takes min, max, factor")),
                        }
                    }
                    if max == 0 || factor == 0 || min > max {
                        return Err(bad("budget needs max > 0, factor > 0 and min <= max"));
                    }
                    Transform::Budget { min, max, factor }
                } else {
                    return Err(bad("unknown transform"));
                }
            }
        })
    }

    /// Canonical spec (the arm's id and label).
    pub fn id(&self) -> String {
        match self {
            Transform::Identity => "identity".into(),
            Transform::Resize(f) => format!("resize({f})"),
            Transform::Budget { min, max, factor } => {
                format!("budget(min={min},max={max},factor={factor})")
            }
            Transform::Shift(k) => format!("shift({k})"),
            Transform::Rotate(d) => format!("rotate({d})"),
            Transform::PadSquare => "pad-square".into(),
            Transform::CropSquare => "crop-square".into(),
            Transform::Jpeg(q) => format!("jpeg({q})"),
        }
    }

    /// The transformed image and item (boxes mapped, objects re-sorted left to right, objects
    /// cropped away removed).
    pub fn apply(&self, image: &RgbImage, item: &ProbeItem) -> Result<(RgbImage, ProbeItem)> {
        let (w, h) = image.dimensions();
        let fill = *image.get_pixel(0, 0);
        let scale_to = |nw: u32, nh: u32| -> Result<(RgbImage, ProbeItem)> {
            let out = imageops::resize(image, nw, nh, imageops::FilterType::CatmullRom);
            let (sx, sy) = (nw as f32 / w as f32, nh as f32 / h as f32);
            Ok((out, map_item(item, nw, nh, |x, y| (x * sx, y * sy))))
        };
        match self {
            Transform::Identity => Ok((image.clone(), item.clone())),
            Transform::Resize(f) => scale_to(
                ((w as f32 * f).round() as u32).max(1),
                ((h as f32 * f).round() as u32).max(1),
            ),
            Transform::Budget { min, max, factor } => {
                let (nh, nw) = cuelab_models::qwen3_vl::image::smart_resize(
                    h as usize, w as usize, *factor, *min, *max,
                )?;
                scale_to(nw as u32, nh as u32)
            }
            Transform::Shift(k) => {
                let mut out = RgbImage::from_pixel(w + k, h + k, fill);
                imageops::replace(&mut out, image, i64::from(*k), i64::from(*k));
                let k = *k as f32;
                Ok((
                    out.clone(),
                    map_item(item, out.width(), out.height(), |x, y| (x + k, y + k)),
                ))
            }
            Transform::PadSquare => {
                let s = w.max(h);
                let (ox, oy) = ((s - w) / 2, (s - h) / 2);
                let mut out = RgbImage::from_pixel(s, s, fill);
                imageops::replace(&mut out, image, i64::from(ox), i64::from(oy));
                Ok((
                    out,
                    map_item(item, s, s, |x, y| (x + ox as f32, y + oy as f32)),
                ))
            }
            Transform::CropSquare => {
                let s = w.min(h);
                let (ox, oy) = ((w - s) / 2, (h - s) / 2);
                let out = imageops::crop_imm(image, ox, oy, s, s).to_image();
                Ok((
                    out,
                    map_item(item, s, s, |x, y| (x - ox as f32, y - oy as f32)),
                ))
            }
            Transform::Jpeg(q) => {
                let mut bytes = Vec::new();
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, *q)
                    .encode_image(image)
                    .map_err(|e| TaskError::Config(format!("JPEG encoding: {e}")))?;
                let out = cuelab_cue::decode_rgb(&bytes, std::path::Path::new("jpeg-roundtrip"))?;
                Ok((out, item.clone()))
            }
            Transform::Rotate(d) => Ok(rotate(image, item, *d, fill)),
        }
    }
}

/// `item` with every box's corners mapped by `f` (bounds of the mapped corners, clipped to the
/// new `w x h`); objects whose centre leaves the image are dropped.
fn map_item(item: &ProbeItem, w: u32, h: u32, f: impl Fn(f32, f32) -> (f32, f32)) -> ProbeItem {
    let mut objects: Vec<ProbeObject> = Vec::new();
    for o in &item.objects {
        let b = o.bbox;
        let corners = [f(b.x0, b.y0), f(b.x1, b.y0), f(b.x0, b.y1), f(b.x1, b.y1)];
        let xs = corners.iter().map(|c| c.0);
        let ys = corners.iter().map(|c| c.1);
        let mapped = BoxXyxy {
            x0: xs.clone().fold(f32::INFINITY, f32::min),
            y0: ys.clone().fold(f32::INFINITY, f32::min),
            x1: xs.fold(f32::NEG_INFINITY, f32::max),
            y1: ys.fold(f32::NEG_INFINITY, f32::max),
        };
        let (cx, cy) = mapped.center();
        if cx < 0.0 || cy < 0.0 || cx >= w as f32 || cy >= h as f32 {
            continue;
        }
        if let Some(clipped) = mapped.clip_to(w, h) {
            objects.push(ProbeObject {
                bbox: clipped,
                ..o.clone()
            });
        }
    }
    objects.sort_by(|a, b| a.bbox.center().0.total_cmp(&b.bbox.center().0));
    ProbeItem {
        width: w,
        height: h,
        objects,
        ..item.clone()
    }
}

/// Counter-clockwise rotation by `degrees` (exact for multiples of 90, bilinear otherwise) on a
/// canvas that holds the whole rotated image.
fn rotate(
    image: &RgbImage,
    item: &ProbeItem,
    degrees: f32,
    fill: Rgb<u8>,
) -> (RgbImage, ProbeItem) {
    let (w, h) = image.dimensions();
    let (wf, hf) = (w as f32, h as f32);
    let quarter = degrees.rem_euclid(360.0);
    if quarter == 0.0 {
        return (image.clone(), item.clone());
    }
    if quarter == 90.0 {
        let out = imageops::rotate270(image);
        return (out, map_item(item, h, w, |x, y| (y, wf - x)));
    }
    if quarter == 180.0 {
        let out = imageops::rotate180(image);
        return (out, map_item(item, w, h, |x, y| (wf - x, hf - y)));
    }
    if quarter == 270.0 {
        let out = imageops::rotate90(image);
        return (out, map_item(item, h, w, |x, y| (hf - y, x)));
    }
    let t = degrees.to_radians();
    let (s, c) = t.sin_cos();
    let nw = (wf * c.abs() + hf * s.abs()).ceil() as u32;
    let nh = (wf * s.abs() + hf * c.abs()).ceil() as u32;
    let (cx, cy) = (wf / 2.0, hf / 2.0);
    let (ncx, ncy) = (nw as f32 / 2.0, nh as f32 / 2.0);
    // Image y points down: a counter-clockwise turn on screen.
    let forward = |x: f32, y: f32| {
        let (dx, dy) = (x - cx, y - cy);
        (ncx + dx * c + dy * s, ncy - dx * s + dy * c)
    };
    let mut out = RgbImage::from_pixel(nw, nh, fill);
    for (ox, oy, px) in out.enumerate_pixels_mut() {
        let (dx, dy) = (ox as f32 + 0.5 - ncx, oy as f32 + 0.5 - ncy);
        let sx = cx + dx * c - dy * s - 0.5;
        let sy = cy + dx * s + dy * c - 0.5;
        if sx < -0.5 || sy < -0.5 || sx > wf - 0.5 || sy > hf - 0.5 {
            continue;
        }
        let (x0, y0) = (sx.floor().max(0.0), sy.floor().max(0.0));
        let (fx, fy) = ((sx - x0).clamp(0.0, 1.0), (sy - y0).clamp(0.0, 1.0));
        let (x0, y0) = (x0 as u32, y0 as u32);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let p = |x, y| image.get_pixel(x, y).0;
        let (a, b, cc, d) = (p(x0, y0), p(x1, y0), p(x0, y1), p(x1, y1));
        for k in 0..3 {
            let top = f32::from(a[k]) * (1.0 - fx) + f32::from(b[k]) * fx;
            let bottom = f32::from(cc[k]) * (1.0 - fx) + f32::from(d[k]) * fx;
            px.0[k] = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
        }
    }
    (out, map_item(item, nw, nh, forward))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> ProbeItem {
        ProbeItem {
            id: "i".into(),
            image: "x.png".into(),
            width: 40,
            height: 20,
            singular: "dot".into(),
            plural: "dots".into(),
            qtype: "count".into(),
            objects: vec![ProbeObject {
                bbox: BoxXyxy::new(2.0, 4.0, 6.0, 8.0).unwrap(),
                name: "red dot".into(),
                target: true,
            }],
            vocabulary: vec![],
        }
    }

    fn image() -> RgbImage {
        let mut im = RgbImage::from_pixel(40, 20, Rgb([250, 250, 250]));
        for y in 4..8 {
            for x in 2..6 {
                im.put_pixel(x, y, Rgb([200, 0, 0]));
            }
        }
        im
    }

    fn red_box(im: &RgbImage) -> BoxXyxy {
        let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
        for (x, y, p) in im.enumerate_pixels() {
            if p[0] > 100 && p[1] < 100 {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x + 1);
                y1 = y1.max(y + 1);
            }
        }
        BoxXyxy::new(x0 as f32, y0 as f32, x1 as f32, y1 as f32).unwrap()
    }

    #[test]
    fn boxes_follow_the_pixels() {
        for spec in [
            "identity",
            "rotate(90)",
            "rotate(180)",
            "rotate(270)",
            "shift(7)",
            "pad-square",
            "resize(2)",
            "crop-square",
        ] {
            let t = Transform::parse(spec).unwrap();
            let (im, it) = t.apply(&image(), &item()).unwrap();
            assert_eq!((it.width, it.height), im.dimensions(), "{spec}");
            if spec == "crop-square" {
                assert!(
                    it.objects.is_empty(),
                    "the dot lies left of the centre square"
                );
                continue;
            }
            assert_eq!(it.objects[0].bbox, red_box(&im), "{spec}");
        }
        let (im, it) = Transform::parse("rotate(10)")
            .unwrap()
            .apply(&image(), &item())
            .unwrap();
        let (got, want) = (red_box(&im), it.objects[0].bbox);
        assert!(
            (got.center().0 - want.center().0).abs() < 1.0,
            "{got:?} {want:?}"
        );
        assert!(
            (got.center().1 - want.center().1).abs() < 1.0,
            "{got:?} {want:?}"
        );
        let (im, _) = Transform::parse("budget(max=200,factor=8)")
            .unwrap()
            .apply(&image(), &item())
            .unwrap();
        assert_eq!(im.dimensions(), (16, 8));
        let (im, _) = Transform::parse("jpeg(20)")
            .unwrap()
            .apply(&image(), &item())
            .unwrap();
        assert_eq!(im.dimensions(), (40, 20));
        for bad in [
            "resize(0)",
            "jpeg(0)",
            "budget(min=5)",
            "spin(3)",
            "shift(-1)",
        ] {
            assert!(Transform::parse(bad).is_err(), "{bad}");
        }
    }
}
