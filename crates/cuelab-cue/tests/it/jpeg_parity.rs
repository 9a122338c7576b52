//! JPEG decoding equals Pillow's, pixel for pixel, on the fixtures of
//! `tools/reference/cue/make_jpeg_fixtures.py` (Pillow 11.0, libjpeg-turbo 3.0.4):
//! baseline and progressive, 4:4:4 / 4:2:2 / 4:2:0 / 4:4:0 / 4:1:1, grayscale, CMYK and YCCK,
//! restart markers, odd and tiny sizes, the 8 EXIF orientations, corrupt entropy data that
//! Pillow still decodes, two full photos; truncated and corrupt files are refused by name.

use std::path::{Path, PathBuf};

use cuelab_cue::{decode_rgb, load_rgb};
use image::RgbImage;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jpeg")
}

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(dir().join("cases.json")).expect("cases.json");
    let meta: Value = serde_json::from_str(&text).expect("json");
    meta["cases"].as_array().expect("cases").clone()
}

fn png(name: &str) -> RgbImage {
    image::open(dir().join(name))
        .expect("expected png")
        .to_rgb8()
}

/// Where two images differ: count, largest difference, first position.
fn differences(a: &RgbImage, b: &RgbImage) -> (usize, u8, Option<(u32, u32)>) {
    let mut count = 0;
    let mut max = 0u8;
    let mut first = None;
    for (x, y, p) in a.enumerate_pixels() {
        let q = b.get_pixel(x, y);
        let d = (0..3).map(|c| p[c].abs_diff(q[c])).max().unwrap_or(0);
        if d > 0 {
            count += 1;
            max = max.max(d);
            first.get_or_insert((x, y));
        }
    }
    (count, max, first)
}

#[test]
fn every_decodable_fixture_equals_pillow_exactly() {
    let mut checked = Vec::new();
    let mut failures = Vec::new();
    for case in cases().iter().filter(|c| c.get("expected").is_some()) {
        let name = case["name"].as_str().unwrap();
        let ours = load_rgb(&dir().join(case["file"].as_str().unwrap()))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = png(case["expected"].as_str().unwrap());
        if ours.dimensions() != expected.dimensions() {
            failures.push(format!(
                "{name}: size {:?} vs Pillow {:?}",
                ours.dimensions(),
                expected.dimensions()
            ));
            continue;
        }
        let (count, max, first) = differences(&ours, &expected);
        if count > 0 {
            failures.push(format!(
                "{name}: {count} pixels differ, max {max} levels, first at {first:?}"
            ));
        }
        checked.push(name.to_string());
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // Every kind of file is present (guards against a fixture set that silently shrank).
    for must in [
        "baseline_444_q95",
        "baseline_422_q85",
        "baseline_420_q75",
        "baseline_440",
        "baseline_411",
        "progressive_420",
        "progressive_444",
        "progressive_422",
        "gray_baseline",
        "gray_progressive",
        "cmyk_adobe",
        "ycck_adobe",
        "restart_blocks_420",
        "restart_rows_444_progressive",
        "one_pixel",
        "corrupt_scan_bytes",
        "premature_eoi",
        "progressive_first_scans_eoi",
    ] {
        assert!(checked.iter().any(|c| c == must), "missing case {must}");
    }
    assert_eq!(
        checked
            .iter()
            .filter(|c| c.starts_with("exif_orientation_"))
            .count(),
        8
    );
}

#[test]
fn full_photos_equal_pillow_exactly() {
    let mut photos = 0;
    for case in cases().iter().filter(|c| c.get("sha256").is_some()) {
        let name = case["name"].as_str().unwrap();
        let img = load_rgb(&dir().join(case["file"].as_str().unwrap()))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let size = case["size"].as_array().unwrap();
        assert_eq!(
            [img.width() as u64, img.height() as u64],
            [size[0].as_u64().unwrap(), size[1].as_u64().unwrap()],
            "{name}"
        );
        let rows: Vec<&str> = case["row_sha256_16"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        let stride = img.width() as usize * 3;
        let differing: Vec<usize> = img
            .as_raw()
            .chunks_exact(stride)
            .enumerate()
            .filter(|(y, row)| hex(&Sha256::digest(row))[..16] != *rows[*y])
            .map(|(y, _)| y)
            .collect();
        assert!(
            differing.is_empty(),
            "{name}: {} rows differ from Pillow's, first {:?}",
            differing.len(),
            differing.first()
        );
        assert_eq!(
            hex(&Sha256::digest(img.as_raw())),
            case["sha256"].as_str().unwrap(),
            "{name}"
        );
        photos += 1;
    }
    assert_eq!(photos, 2);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn files_pillow_refuses_are_refused_with_the_file_named() {
    let mut checked = 0;
    for case in cases().iter().filter(|c| c.get("error").is_some()) {
        let name = case["name"].as_str().unwrap();
        let path = dir().join(case["file"].as_str().unwrap());
        let err = match load_rgb(&path) {
            Ok(img) => panic!(
                "{name}: decoded a {:?} image; Pillow says {}",
                img.dimensions(),
                case["pillow_error"]
            ),
            Err(e) => e.to_string(),
        };
        eprintln!("{err}");
        assert!(err.contains(&format!("{name}.jpg")), "{name}: {err}");
        if case["error"] == "truncated" {
            assert!(err.contains("truncated"), "{name}: {err}");
        }
        // The in-memory entry point says the same with the name it is given.
        let bytes = std::fs::read(&path).unwrap();
        let err = decode_rgb(&bytes, Path::new("<upload>")).unwrap_err();
        assert!(err.to_string().contains("<upload>"), "{err}");
        checked += 1;
    }
    assert_eq!(checked, 7);
}

#[test]
fn orientation_changes_only_the_layout() {
    // Orientation 1 read through every other orientation's inverse gives the same pixels.
    let upright = load_rgb(&dir().join("exif_orientation_1.jpg")).unwrap();
    assert_eq!(upright.dimensions(), (40, 24));
    let six = load_rgb(&dir().join("exif_orientation_6.jpg")).unwrap();
    assert_eq!(six.dimensions(), (24, 40));
    assert_eq!(image::imageops::rotate270(&six), upright);
}
