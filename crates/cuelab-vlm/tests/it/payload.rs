#![allow(clippy::unwrap_used)]
//! Images on the wire, checked at the mock server: registered original files are sent byte for
//! byte with their MIME type, files that cannot stand for their pixels are re-encoded, and a
//! cued image is encoded once and the same bytes sent for every question that shows it.

use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use cuelab_vlm::mock::{MockRequest, MockServer};
use cuelab_vlm::remote::encode;
use cuelab_vlm::{AnswerMode, Answerer, ImageFormat, Question, RemoteAnswerer, RemoteConfig};
use image::RgbImage;

type Seen = Arc<Mutex<Vec<(usize, Vec<String>)>>>;

/// A mock recording each request's question number and image URLs.
fn recording_server() -> (MockServer, Seen) {
    let s = MockServer::start().unwrap();
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    s.set_pick(Arc::new(move |r: &MockRequest| {
        let start = r.user_text.find('[').unwrap() + 1;
        let end = r.user_text.find(']').unwrap();
        let i: usize = r.user_text[start..end].parse().unwrap();
        log.lock().unwrap().push((i, r.image_urls.clone()));
        0
    }));
    (s, seen)
}

fn answerer(server: &MockServer, max_pixels: Option<u64>) -> RemoteAnswerer {
    RemoteAnswerer::new(RemoteConfig {
        endpoints: vec![server.url()],
        model: "mock".into(),
        mode: AnswerMode::Structured,
        api_key_env: "CUELAB_TEST_NO_SUCH_KEY".into(),
        concurrency: 4,
        threads: 1,
        max_pixels,
        ..RemoteConfig::default()
    })
    .unwrap()
}

fn question(i: usize, image: &Arc<RgbImage>) -> Question {
    Question {
        id: format!("q{i}"),
        system: None,
        text: format!("[{i}] Which?"),
        images: vec![Arc::clone(image)],
        choices: vec!["a".into(), "b".into()],
    }
}

/// Ask `qs`; the image URLs each question `i` sent, by `i`.
fn ask(answerer: &RemoteAnswerer, seen: &Seen, qs: &[Question]) -> Vec<Vec<String>> {
    seen.lock().unwrap().clear();
    let mut ok = 0;
    answerer
        .answer_all(qs, &mut |_, r| ok += usize::from(r.is_ok()))
        .unwrap();
    assert_eq!(ok, qs.len());
    let mut got = seen.lock().unwrap().clone();
    got.sort_by_key(|(i, _)| *i);
    assert_eq!(got.len(), qs.len(), "one request per question");
    got.into_iter().map(|(_, urls)| urls).collect()
}

/// (MIME type, decoded bytes) of a data URL.
fn payload(url: &str) -> (String, Vec<u8>) {
    let rest = url.strip_prefix("data:").unwrap();
    let (mime, b64) = rest.split_once(";base64,").unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    (mime.to_string(), bytes)
}

fn data(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/images")
            .join(name),
    )
    .unwrap()
}

fn decoded(bytes: &[u8]) -> Arc<RgbImage> {
    Arc::new(image::load_from_memory(bytes).unwrap().to_rgb8())
}

fn photo() -> RgbImage {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/photos/dog.jpg");
    let img = image::open(path).unwrap().to_rgb8();
    image::imageops::crop_imm(&img, 100, 60, 320, 240).to_image()
}

fn png(img: &image::DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

#[test]
fn original_files_are_sent_byte_for_byte() {
    let (server, seen) = recording_server();
    let client = answerer(&server, None);
    let jpeg = data("baseline_444_q95.jpg");
    let gray = data("gray_progressive.jpg");
    let rgb_png = png(&image::DynamicImage::ImageRgb8(photo()));
    let files = [
        (&jpeg, "image/jpeg"),
        (&gray, "image/jpeg"),
        (&rgb_png, "image/png"),
    ];
    let images: Vec<Arc<RgbImage>> = files.iter().map(|(b, _)| decoded(b)).collect();
    for (img, (bytes, _)) in images.iter().zip(&files) {
        assert!(client.register_original(img, bytes));
    }
    // each file asked twice through its registered image, once through a copy of its pixels
    let mut qs = Vec::new();
    for (k, img) in images.iter().enumerate() {
        let copy = Arc::new(RgbImage::clone(img));
        for (j, shown) in [img, img, &copy].into_iter().enumerate() {
            qs.push(question(3 * k + j, shown));
        }
    }
    let sent = ask(&client, &seen, &qs);
    for (i, urls) in sent.iter().enumerate() {
        let (bytes, mime) = files[i / 3];
        assert_eq!(urls.len(), 1);
        let (got_mime, got) = payload(&urls[0]);
        assert_eq!(got_mime, mime, "question {i}");
        assert!(got == *bytes, "question {i}: the file's bytes exactly");
    }
    assert_eq!(client.payload_usage().0, 3, "one kept payload per file");
}

#[test]
fn files_that_cannot_stand_for_their_pixels_are_encoded() {
    let (server, seen) = recording_server();
    let client = answerer(&server, None);
    // alpha: servers composite or drop it, cuelab drops it
    let rgba = image::DynamicImage::ImageRgba8(image::RgbaImage::from_fn(40, 30, |x, y| {
        image::Rgba([x as u8 * 6, y as u8 * 8, 90, (x * y) as u8])
    }));
    let rgba_png = png(&rgba);
    let rotated = data("exif_orientation_6.jpg"); // cuelab applies the rotation, servers do not
    let cmyk = data("cmyk_adobe.jpg");
    let cases: Vec<(&str, Arc<RgbImage>, &[u8])> = vec![
        ("RGBA PNG", Arc::new(rgba.to_rgb8()), &rgba_png),
        // the stored pixels (same size as the header says): refused for the orientation alone
        ("EXIF orientation 6", decoded(&rotated), &rotated),
        ("CMYK JPEG", decoded(&cmyk), &cmyk),
        ("another image's file", Arc::new(photo()), &rotated),
        ("not an image", Arc::new(photo()), b"GIF89a not really"),
    ];
    for (what, img, bytes) in &cases {
        assert!(!client.register_original(img, bytes), "{what}");
        assert_eq!(
            encode::original_mime(bytes, img.width(), img.height()),
            None,
            "{what}"
        );
    }
    // a file that must be downscaled is not sent as is either
    let small = answerer(&server, Some(100));
    let jpeg = data("baseline_444_q95.jpg");
    let img = decoded(&jpeg);
    assert!(!small.register_original(&img, &jpeg));
    assert!(client.register_original(&img, &jpeg));
    // asked anyway: a re-encoding of the pixels shown, never the file
    let qs: Vec<Question> = cases
        .iter()
        .enumerate()
        .map(|(i, (_, img, _))| question(i, img))
        .collect();
    for (i, urls) in ask(&client, &seen, &qs).iter().enumerate() {
        let (mime, got) = payload(&urls[0]);
        assert_eq!(mime, "image/jpeg");
        assert!(got != cases[i].2, "{}", cases[i].0);
        let back = image::load_from_memory(&got).unwrap().to_rgb8();
        assert_eq!(back.dimensions(), cases[i].1.dimensions(), "{}", cases[i].0);
    }
    let urls = ask(&small, &seen, &[question(0, &img)]);
    let (_, got) = payload(&urls[0][0]);
    let back = image::load_from_memory(&got).unwrap();
    assert_eq!(
        (back.width(), back.height()),
        encode::fitted_size(128, 96, Some(100))
    );
}

#[test]
fn a_cued_image_is_encoded_once_and_shared() {
    let (server, seen) = recording_server();
    let client = answerer(&server, None);
    let base = photo();
    let cued: Vec<Arc<RgbImage>> = (0..3u32)
        .map(|k| {
            let mut img = base.clone();
            for y in 20..60 {
                for x in 30 * k + 10..30 * k + 40 {
                    if !(24..56).contains(&y) || !(30 * k + 14..30 * k + 36).contains(&x) {
                        img.put_pixel(x, y, image::Rgb([255, 0, 0]));
                    }
                }
            }
            Arc::new(img)
        })
        .collect();
    // four questions per image: three share its allocation, one shows a copy
    let qs: Vec<Question> = (0..12)
        .map(|i| {
            let img = &cued[i % 3];
            if i >= 9 {
                question(i, &Arc::new(RgbImage::clone(img)))
            } else {
                question(i, img)
            }
        })
        .collect();
    let sent = ask(&client, &seen, &qs);
    assert_eq!(client.payload_usage().0, 3, "each image encoded once");
    for (i, urls) in sent.iter().enumerate() {
        // the bytes are those of encoding the image on its own (the encoder is deterministic)
        let alone = encode::encode(&cued[i % 3], ImageFormat::Jpeg, 90, None).unwrap();
        assert!(urls[0] == alone.data_url, "question {i}");
        assert!(urls[0] == sent[i % 3][0]);
        let (mime, bytes) = payload(&urls[0]);
        assert_eq!(mime, "image/jpeg");
        let back = image::load_from_memory(&bytes).unwrap().to_rgb8();
        assert_eq!(back.dimensions(), cued[i % 3].dimensions());
        let sq: f64 = back
            .as_raw()
            .iter()
            .zip(cued[i % 3].as_raw())
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
            .sum();
        let psnr = 10.0 * (255.0f64.powi(2) * back.as_raw().len() as f64 / sq).log10();
        assert!(
            psnr > 35.0,
            "quality 90 4:4:4 keeps the pixels: {psnr:.1} dB (37.6 measured)"
        );
    }
    // distinct images, distinct payloads
    assert!(sent[0][0] != sent[1][0] && sent[1][0] != sent[2][0]);
}
