//! Overlays that Pillow also draws, against Pillow on fixtures made by
//! `tools/reference/cue/make_overlay_fixtures.py`, and seed 004's position colour table.
//!
//! Tolerances, and why:
//! - `rect` (aliased, the default) and `fill` (outside the region): pixel for pixel, on boxes
//!   at least two strokes wide and tall (53 of the 80 cases). On thinner boxes cuelab fills the
//!   box and stays inside it; Pillow's strokes reach outside the box there (measured: up to 832
//!   pixels outside a 68x2 box at width 8), so those cases assert cuelab's rule instead.
//! - `rounded` with `aa=false`: the straight sides pixel for pixel; the corners are cubic
//!   Béziers in cuelab and Pillow's quarter-ellipse arcs, so corner pixels next to the shared
//!   outline may differ: no differing pixel farther than 1 px (Chebyshev) from a pixel both
//!   draw, and at most 20% of the union of drawn pixels (measured worst 19.1%, a width-5
//!   stroke with its corner capped on a 30x20 box; 1.6-5.8% on larger boxes).
//! - `dot` with `aa=false` against Pillow's filled ellipse of the same square: cuelab samples
//!   pixel centres of a true circle, Pillow rasterises its own polygon; no differing pixel
//!   farther than 1 px from a pixel both draw, IoU >= 0.95 from radius 5 (measured 0.95-1.0)
//!   and >= 0.75 below (radius 3: 0.75, i.e. 4 rim pixels).
//! - `label` (font size in pixels per em, as Pillow's `truetype(font, size)`): the tag
//!   rectangle exactly on its near edges and within 1 px on its far edges (the text width is
//!   fractional; a tag pushed back onto the image moves with its size, within 1 px); the text (ab_glyph, unhinted, vs FreeType) has its ink
//!   box within 1 px of Pillow's on every side and ink IoU >= 0.6 at the 50% coverage level.
//! - `colorcode`: the exact seed table colour for 1,125 boxes whose centroids sit on and next
//!   to every edge of the table, over five image sizes.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use cuelab_cue::{BoxXyxy, Recipe, Renderer, Target};
use image::{Rgb, RgbImage};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn cases() -> Value {
    let text = std::fs::read_to_string(fixtures().join("overlay_cases.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn canvas(c: &Value) -> (u32, u32) {
    (
        c["canvas"][0].as_u64().unwrap() as u32,
        c["canvas"][1].as_u64().unwrap() as u32,
    )
}

fn bx(v: &Value) -> BoxXyxy {
    let f = |i: usize| v[i].as_f64().unwrap() as f32;
    BoxXyxy::new(f(0), f(1), f(2), f(3)).unwrap()
}

/// A mask (row-major) from `[y, x_start, x_end]` runs.
fn from_spans(spans: &Value, w: u32, h: u32) -> Vec<bool> {
    let mut m = vec![false; (w * h) as usize];
    for s in spans.as_array().unwrap() {
        let y = s[0].as_u64().unwrap() as u32;
        for x in s[1].as_u64().unwrap()..=s[2].as_u64().unwrap() {
            m[(y * w + x as u32) as usize] = true;
        }
    }
    m
}

fn mask_of(img: &RgbImage, pick: impl Fn(&Rgb<u8>) -> bool) -> Vec<bool> {
    img.pixels().map(pick).collect()
}

fn render(spec: &str, bg: [u8; 3], w: u32, h: u32, b: BoxXyxy) -> RgbImage {
    let src = RgbImage::from_pixel(w, h, Rgb(bg));
    let recipe = Recipe::parse(spec).unwrap();
    Renderer::new(&src)
        .render(&recipe, &Target::from_box(b))
        .unwrap()
}

/// Pixels set in exactly one mask; their count, and the largest Chebyshev distance from such a
/// pixel to the nearest pixel set in both.
fn disagreement(a: &[bool], b: &[bool], w: u32, h: u32) -> (usize, usize, u32) {
    let both: Vec<(i64, i64)> = (0..a.len())
        .filter(|&i| a[i] && b[i])
        .map(|i| ((i as u32 % w) as i64, (i as u32 / w) as i64))
        .collect();
    let mut count = 0;
    let mut far = 0u32;
    for i in 0..a.len() {
        if a[i] != b[i] {
            count += 1;
            let (x, y) = ((i as u32 % w) as i64, (i as u32 / w) as i64);
            let d = both
                .iter()
                .map(|&(bx, by)| (bx - x).abs().max((by - y).abs()))
                .min()
                .unwrap_or(i64::MAX);
            far = far.max(d.min(u32::MAX as i64) as u32);
        }
    }
    let union = (0..a.len()).filter(|&i| a[i] || b[i]).count();
    let _ = h;
    (count, union, far)
}

#[test]
fn rect_outline_is_pixel_identical_to_pillow() {
    let c = cases();
    let (w, h) = canvas(&c);
    let (mut checked, mut exact) = (0, 0);
    for case in c["rect"].as_array().unwrap() {
        let spec = format!("rect(color=white,width={})", case["width"]);
        let ours = render(&spec, [0, 0, 0], w, h, bx(&case["box"]));
        let got = mask_of(&ours, |p| p[0] > 0);
        let want = from_spans(&case["spans"], w, h);
        let b = bx(&case["box"]);
        let width = case["width"].as_f64().unwrap() as f32;
        if b.x1 - b.x0 >= 2.0 * width && b.y1 - b.y0 >= 2.0 * width {
            let (diff, _, _) = disagreement(&got, &want, w, h);
            assert_eq!(diff, 0, "{spec} on {}: {diff} pixels differ", case["box"]);
            exact += 1;
        } else {
            // Thinner than two strokes: cuelab fills the box (clipped to the image); Pillow
            // draws strokes that reach outside the box there.
            for (i, &on) in got.iter().enumerate() {
                let (x, y) = ((i as u32 % w) as f32 + 0.5, (i as u32 / w) as f32 + 0.5);
                let inside = x > b.x0 && x < b.x1 && y > b.y0 && y < b.y1;
                assert_eq!(on, inside, "{spec} on {}: thin box not filled", case["box"]);
            }
        }
        // Aliased: every drawn pixel is pure white.
        assert!(ours.pixels().all(|p| p[0] == 0 || p[0] == 255), "{spec}");
        checked += 1;
    }
    assert_eq!((checked, exact), (80, 53));
}

#[test]
fn fill_outside_is_pixel_identical_to_pillow() {
    let c = cases();
    let (w, h) = canvas(&c);
    for case in c["fill_outside"].as_array().unwrap() {
        let ours = render("fill(color=black)", [255, 255, 255], w, h, bx(&case["box"]));
        // Pillow's mask is the painted (outside) part: black in ours.
        let got = mask_of(&ours, |p| p[0] == 0);
        assert_eq!(
            got,
            from_spans(&case["spans"], w, h),
            "fill outside {}",
            case["box"]
        );
    }
}

#[test]
fn rounded_outline_matches_pillow_within_the_stated_tolerance() {
    let c = cases();
    let (w, h) = canvas(&c);
    let mut worst = 0.0f64;
    for case in c["rounded"].as_array().unwrap() {
        let width = case["width"].as_f64().unwrap();
        let corner = case["radius"].as_f64().unwrap() - width / 2.0;
        let spec = format!("rounded(color=white,width={width},corner={corner},aa=false)");
        let b = bx(&case["box"]);
        let ours = render(&spec, [0, 0, 0], w, h, b);
        let got = mask_of(&ours, |p| p[0] > 0);
        let want = from_spans(&case["spans"], w, h);
        let (diff, union, far) = disagreement(&got, &want, w, h);
        let share = diff as f64 / union.max(1) as f64;
        worst = worst.max(share);
        assert!(
            share <= 0.20 && far <= 1,
            "{spec} on {}: {diff} of {union} pixels differ ({:.1}%), farthest {far} px",
            case["box"],
            100.0 * share
        );
        // The straight parts (away from the corners) are exact.
        let r = case["radius"].as_f64().unwrap() as f32 + 1.0;
        for i in 0..got.len() {
            let (x, y) = ((i as u32 % w) as f32 + 0.5, (i as u32 / w) as f32 + 0.5);
            let near_corner = (x < b.x0 + r || x > b.x1 - r) && (y < b.y0 + r || y > b.y1 - r);
            if !near_corner {
                assert_eq!(
                    got[i], want[i],
                    "{spec} on {}: side pixel ({x}, {y})",
                    case["box"]
                );
            }
        }
    }
    assert!(worst > 0.0, "corners are expected to differ somewhere");
}

#[test]
fn dot_matches_pillows_filled_ellipse_within_the_stated_tolerance() {
    let c = cases();
    let (w, h) = canvas(&c);
    for case in c["disc"].as_array().unwrap() {
        let spec = format!("dot(color=white,radius={},aa=false)", case["radius"]);
        let ours = render(&spec, [0, 0, 0], w, h, bx(&case["box"]));
        let got = mask_of(&ours, |p| p[0] > 0);
        let want = from_spans(&case["spans"], w, h);
        let (diff, union, far) = disagreement(&got, &want, w, h);
        let iou = 1.0 - diff as f64 / union.max(1) as f64;
        let r = case["radius"].as_f64().unwrap();
        let floor = if r >= 5.0 { 0.95 } else { 0.75 };
        assert!(
            iou >= floor && far <= 1,
            "{spec} on {}: IoU {iou:.3}, farthest differing pixel {far} px",
            case["box"]
        );
    }
}

#[test]
fn label_tag_and_text_placement_match_pillow_within_the_stated_tolerance() {
    let c = cases();
    let (w, h) = canvas(&c);
    for case in c["label"].as_array().unwrap() {
        let spec = format!(
            "label(text={},size={},color=white,bg=blue)",
            case["text"].as_str().unwrap(),
            case["size"]
        );
        let ours = render(&spec, [0, 0, 0], w, h, bx(&case["box"]));
        // The tag: every non-black pixel (blue background, white-ish text on it).
        let tag = mask_of(&ours, |p| p[2] > 0);
        let bbox = |m: &[bool]| {
            let mut b = [u32::MAX, u32::MAX, 0, 0];
            for (i, &on) in m.iter().enumerate() {
                if on {
                    let (x, y) = (i as u32 % w, i as u32 / w);
                    b = [b[0].min(x), b[1].min(y), b[2].max(x + 1), b[3].max(y + 1)];
                }
            }
            b
        };
        let t = bbox(&tag);
        let want_tag: Vec<f64> = case["tag"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        // Near edges exact, unless the tag was pushed back onto the image: then its position
        // depends on its size (fractional here, whole-pixel metrics in Pillow), within 1 px.
        let bx0 = case["box"][0].as_f64().unwrap();
        let by0 = case["box"][1].as_f64().unwrap();
        let slack = |placed: f64, corner: f64| if placed == corner.max(0.0) { 0.0 } else { 1.0 };
        assert!(
            (f64::from(t[0]) - want_tag[0]).abs() <= slack(want_tag[0], bx0)
                && (f64::from(t[1]) - want_tag[1]).abs() <= slack(want_tag[1], by0),
            "{spec}: tag {t:?} vs Pillow-metric tag {want_tag:?}"
        );
        assert!(
            (f64::from(t[2]) - want_tag[2]).abs() <= 1.0
                && (f64::from(t[3]) - want_tag[3]).abs() <= 1.0,
            "{spec}: tag {t:?} vs Pillow-metric tag {want_tag:?}"
        );
        // The text: red channel is the glyph coverage (white over blue).
        let ink = mask_of(&ours, |p| p[0] >= 128);
        let k = bbox(&ink);
        let want_box: Vec<i64> = case["ink_box"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        for side in 0..4 {
            assert!(
                (i64::from(k[side]) - want_box[side]).abs() <= 1,
                "{spec}: ink box {k:?} vs Pillow {want_box:?}"
            );
        }
        let want = from_spans(&case["ink_spans"], w, h);
        let (diff, union, _) = disagreement(&ink, &want, w, h);
        let iou = 1.0 - diff as f64 / union.max(1) as f64;
        assert!(iou >= 0.6, "{spec}: ink IoU {iou:.3} with Pillow's text");
    }
}

#[test]
fn colorcode_uses_seed_004s_table_at_and_next_to_every_edge() {
    let c = cases();
    let mut checked = 0;
    for case in c["colorcode"].as_array().unwrap() {
        let (iw, ih) = (
            case["size"][0].as_u64().unwrap() as u32,
            case["size"][1].as_u64().unwrap() as u32,
        );
        let b = bx(&case["box"]);
        let ours = render("colorcode", [7, 7, 7], iw, ih, b);
        // A pixel outside the region: a corner the box does not cover.
        let (x, y) = if b.x0 > 0.0 && b.y0 > 0.0 {
            (0, 0)
        } else {
            (iw - 1, ih - 1)
        };
        let want: Vec<u8> = case["color"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u8)
            .collect();
        assert_eq!(
            ours.get_pixel(x, y).0.to_vec(),
            want,
            "colorcode of box {} in {iw}x{ih}",
            case["box"]
        );
        // Inside the region the image stays as it was.
        let (cx, cy) = b.center();
        assert_eq!(ours.get_pixel(cx as u32, cy as u32).0, [7, 7, 7]);
        checked += 1;
    }
    assert_eq!(checked, 1125);
}
