//! Parity with Pillow on fixtures made by `tools/reference/cue/make_fixtures.py`.
//!
//! Tolerances (issue 2): grayscale exact; blur mean abs error <= 0.5 grey levels and max <= 2
//! (cuelab repeats Pillow's fixed-point arithmetic, so the blur is in fact required to be
//! exact below); the default (aliased) ellipse exactly, pixel for pixel (issue 13); the
//! anti-aliased ellipse (`aa=true`) stays available and differs.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use cuelab_cue::{blur, effects, load_rgb, BoxXyxy, Recipe, Renderer, Target};
use image::RgbImage;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("cases.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn load(name: &str) -> RgbImage {
    load_rgb(&fixtures().join(name)).unwrap()
}

fn diff_stats(a: &RgbImage, b: &RgbImage, skip: impl Fn(u32, u32) -> bool) -> (f64, u8, usize) {
    assert_eq!(a.dimensions(), b.dimensions());
    let (mut sum, mut max, mut n) = (0f64, 0u8, 0usize);
    for (x, y, pa) in a.enumerate_pixels() {
        if skip(x, y) {
            continue;
        }
        let pb = b.get_pixel(x, y);
        for c in 0..3 {
            let d = pa[c].abs_diff(pb[c]);
            sum += f64::from(d);
            max = max.max(d);
        }
        n += 3;
    }
    (sum / n.max(1) as f64, max, n)
}

fn target(case: &Value) -> Target {
    let b: Vec<f32> = case["box"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    Target::from_box(BoxXyxy::new(b[0], b[1], b[2], b[3]).unwrap())
}

#[test]
fn blur_is_bit_identical_to_pillow() {
    let mut checked = 0;
    for case in cases().iter().filter(|c| c["op"] == "blur") {
        let src = load(case["source"].as_str().unwrap());
        let expected = load(case["expected"].as_str().unwrap());
        let r = case["params"]["radius"].as_f64().unwrap() as f32;
        let ours = blur::gaussian_blur(&src, r);
        let (mae, max, _) = diff_stats(&ours, &expected, |_, _| false);
        assert!(mae <= 0.5 && max <= 2, "{case}: mae {mae} max {max}");
        assert_eq!(max, 0, "{case}: not bit-identical (mae {mae})");
        checked += 1;
    }
    assert_eq!(checked, 25);
}

#[test]
fn grayscale_is_exact() {
    let mut checked = 0;
    for case in cases().iter().filter(|c| c["op"] == "gray") {
        let mut ours = load(case["source"].as_str().unwrap());
        effects::grayscale_in_place(&mut ours);
        assert_eq!(ours, load(case["expected"].as_str().unwrap()), "{case}");
        checked += 1;
    }
    assert_eq!(checked, 5);
}

#[test]
fn ellipse_outline_is_pixel_identical_to_pillow() {
    let mut checked = 0;
    for case in cases().iter().filter(|c| c["op"] == "ellipse") {
        let src = load(case["source"].as_str().unwrap());
        let expected = load(case["expected"].as_str().unwrap());
        let recipe = Recipe::parse("ellipse(color=red,width=3)").unwrap();
        let ours = Renderer::new(&src).render(&recipe, &target(case)).unwrap();
        assert!(ours == expected, "{case}: differs from Pillow");
        // The anti-aliased option stays available and close.
        let aa = Recipe::parse("ellipse(color=red,width=3,aa=true)").unwrap();
        let smooth = Renderer::new(&src).render(&aa, &target(case)).unwrap();
        assert!(smooth != expected, "{case}: aa=true should differ");
        checked += 1;
    }
    assert_eq!(checked, 3);
}

/// `tools/reference/cue/make_fixtures.py` draws 896 ellipses with Pillow on a 64x48 canvas:
/// fill and outline widths 1-10 (and wider than the box) on odd, even, one-pixel, thin and
/// partly or wholly outside boxes. Every drawn pixel must match.
#[test]
fn ellipse_geometry_is_pixel_identical_to_pillow() {
    use cuelab_cue::pillow_ellipse::{draw, EllipseStyle};
    use cuelab_cue::Color;
    let text = std::fs::read_to_string(fixtures().join("ellipse_cases.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let (w, h) = (
        v["canvas"][0].as_u64().unwrap() as u32,
        v["canvas"][1].as_u64().unwrap() as u32,
    );
    let white = Color::parse("white").unwrap();
    let mut bad = Vec::new();
    let cases = v["cases"].as_array().unwrap();
    for case in cases {
        let b: Vec<i64> = case["box"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap())
            .collect();
        let style = match case["style"].as_str().unwrap() {
            "fill" => EllipseStyle::Fill,
            _ => EllipseStyle::Outline(case["width"].as_u64().unwrap() as u32),
        };
        let mut ours = RgbImage::new(w, h);
        draw(&mut ours, (b[0], b[1], b[2], b[3]), style, white);
        let mut want = RgbImage::new(w, h);
        for s in case["spans"].as_array().unwrap() {
            let (y, x0, x1) = (
                s[0].as_u64().unwrap(),
                s[1].as_u64().unwrap(),
                s[2].as_u64().unwrap(),
            );
            for x in x0..=x1 {
                want.put_pixel(x as u32, y as u32, image::Rgb([255, 255, 255]));
            }
        }
        if ours != want {
            bad.push(format!("{b:?} {style:?}"));
        }
    }
    assert!(cases.len() >= 800);
    assert!(
        bad.is_empty(),
        "{} of {} differ: {:?}",
        bad.len(),
        cases.len(),
        &bad[..bad.len().min(10)]
    );
}

#[test]
fn seed_004_recipes_match_pillow() {
    let mut checked = 0;
    for case in cases()
        .iter()
        .filter(|c| c["op"] == "seed_blur" || c["op"] == "seed_blur_gray")
    {
        let src = load(case["source"].as_str().unwrap());
        let expected = load(case["expected"].as_str().unwrap());
        let spec = if case["op"] == "seed_blur" {
            "ellipse(color=red,width=3)+blur(radius=20)"
        } else {
            "ellipse(color=red,width=3)+blur(radius=20)+gray"
        };
        let ours = Renderer::new(&src)
            .render(&Recipe::parse(spec).unwrap(), &target(case))
            .unwrap();
        let (mae, max, _) = diff_stats(&ours, &expected, |_, _| false);
        assert_eq!(max, 0, "{case}: not pixel-identical (mae {mae})");
        checked += 1;
    }
    assert_eq!(checked, 6);
}

#[test]
fn input_modes_load_like_pillow_convert_rgb() {
    let mut checked = 0;
    for case in cases().iter().filter(|c| c["op"] == "load") {
        let ours = load(case["source"].as_str().unwrap());
        assert_eq!(ours, load(case["expected"].as_str().unwrap()), "{case}");
        checked += 1;
    }
    assert_eq!(checked, 4, "RGBA, L, P and 16-bit gray inputs");
}

#[test]
fn exif_orientation_is_applied() {
    let case = cases()
        .into_iter()
        .find(|c| c["op"] == "load_exif")
        .unwrap();
    let ours = load(case["source"].as_str().unwrap());
    let expected = load(case["expected"].as_str().unwrap());
    assert_eq!(ours.dimensions(), (24, 40), "rotated to portrait");
    // cuelab decodes JPEG with libjpeg-turbo's decoder, as Pillow does: exact.
    assert_eq!(ours, expected);
}
