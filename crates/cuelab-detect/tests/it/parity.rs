//! tract vs onnxruntime on identical input tensors, preprocessing vs the Python references, YOLO
//! decode + NMS vs torchvision, and error paths. Fixtures: `tools/reference/detect/make_fixtures.py`.

use std::path::{Path, PathBuf};

use cuelab_detect::preprocess::{letterbox_image, tf_bilinear_nhwc, Letterbox};
use cuelab_detect::{DetectError, DetectOptions, Detector, Layout};
use image::RgbImage;
use serde_json::Value;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn json(name: &str) -> Value {
    let text = std::fs::read_to_string(data(name)).expect("fixture");
    serde_json::from_str(&text).expect("fixture json")
}

fn png(name: &str) -> RgbImage {
    image::open(data(name)).expect("fixture png").to_rgb8()
}

/// Minimal reader for the fixtures' little-endian float32 C-order .npy files.
fn npy_f32(name: &str) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(data(name)).expect("npy");
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + hlen]).expect("header");
    assert!(header.contains("'<f4'") && header.contains("'fortran_order': False"));
    let shape_txt = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .expect("shape");
    let shape: Vec<usize> = shape_txt
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().expect("dim"))
        .collect();
    let values = bytes[10 + hlen..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    (shape, values)
}

fn nhwc_f32(img: &RgbImage) -> Vec<f32> {
    img.as_raw().iter().map(|&v| v as f32).collect()
}

fn centernet() -> &'static Detector {
    static D: std::sync::OnceLock<Detector> = std::sync::OnceLock::new();
    D.get_or_init(|| Detector::builtin("centernet").expect("built-in centernet"))
}

fn tiny_yolo() -> Detector {
    Detector::from_path(&data("yolo_tiny.onnx")).expect("tiny yolo")
}

/// tract vs onnxruntime, CenterNet, same input tensor. Tolerance: 0.01 input px on boxes, 1e-4 on
/// scores, identical classes (the notes measured 0.0002 px / 6e-7).
#[test]
fn centernet_tract_matches_onnxruntime() {
    let det = centernet();
    assert_eq!(det.layout(), Layout::CenterNet);
    assert_eq!(det.input_size(), (512, 512));
    for name in ["dog", "eagle"] {
        let input = nhwc_f32(&png(&format!("centernet_{name}_input.png")));
        let (raw, shape) = det.run_raw(&input).expect("run");
        assert_eq!(shape, vec![1, 100, 6]);
        let reference = json(&format!("centernet_{name}_ort.json"));
        let rows = reference["detections"].as_array().expect("rows");
        let (mut box_diff, mut score_diff) = (0f64, 0f64);
        for (i, row) in rows.iter().enumerate() {
            let r: Vec<f64> = row
                .as_array()
                .expect("row")
                .iter()
                .map(|v| v.as_f64().expect("num"))
                .collect();
            let t = &raw[i * 6..i * 6 + 6];
            for k in 0..4 {
                box_diff = box_diff.max((t[k] as f64 - r[k]).abs());
            }
            score_diff = score_diff.max((t[4] as f64 - r[4]).abs());
            if r[4] > 0.05 {
                assert_eq!(t[5] as f64, r[5], "{name} row {i}: class differs");
            }
        }
        eprintln!("{name}: tract vs onnxruntime max box diff {box_diff:.6} px, max score diff {score_diff:.2e}");
        assert!(box_diff < 0.01, "{name}: box diff {box_diff}");
        assert!(score_diff < 1e-4, "{name}: score diff {score_diff}");
    }
}

/// tract vs onnxruntime on the tiny YOLO export: 1e-3 absolute on raw outputs (box channels are
/// input pixels up to 160), scores within 1e-5.
#[test]
fn yolo_tract_matches_onnxruntime() {
    let det = tiny_yolo();
    assert_eq!(det.layout(), Layout::Yolo);
    assert_eq!(det.input_size(), (160, 160));
    assert_eq!(det.num_classes(), 8);
    assert_eq!(
        det.class_names()[7],
        "truck",
        "names from the ONNX metadata"
    );
    for name in ["dog", "eagle"] {
        let img = png(&format!("yolo_{name}_input.png"));
        let input = cuelab_detect::preprocess::nchw_unit(&img);
        let (raw, shape) = det.run_raw(&input).expect("run");
        let (ref_shape, reference) = npy_f32(&format!("yolo_{name}_ort.npy"));
        assert_eq!(shape, ref_shape);
        let n = shape[2];
        let (mut box_diff, mut score_diff) = (0f32, 0f32);
        assert_eq!(raw.len(), reference.len(), "{name}: output size");
        for (i, (a, b)) in raw.iter().zip(&reference).enumerate() {
            let d = (a - b).abs();
            if i / n < 4 {
                box_diff = box_diff.max(d);
            } else {
                score_diff = score_diff.max(d);
            }
        }
        eprintln!("{name}: tiny YOLO tract vs onnxruntime max box diff {box_diff:.2e} px, max score diff {score_diff:.2e}");
        assert!(box_diff < 1e-3, "{name}: {box_diff}");
        assert!(score_diff < 1e-5, "{name}: {score_diff}");
    }
}

/// Decode + class-aware NMS + un-letterbox on onnxruntime's raw output == torchvision
/// `batched_nms` + Ultralytics `scale_boxes`: same detections in the same order, boxes within
/// 1e-3 px.
#[test]
fn yolo_decode_nms_matches_torchvision() {
    let det = tiny_yolo();
    for name in ["dog", "eagle"] {
        let reference = json(&format!("yolo_{name}_nms.json"));
        let (shape, raw) = npy_f32(&format!("yolo_{name}_ort.npy"));
        let size = &reference["photo_size"];
        let photo = (
            size[0].as_u64().expect("w") as usize,
            size[1].as_u64().expect("h") as usize,
        );
        let lb = Letterbox::new(photo.0, photo.1, 160);
        assert_eq!(lb.pad.0 as u64, reference["pad"][0].as_u64().expect("pad"));
        assert_eq!(lb.pad.1 as u64, reference["pad"][1].as_u64().expect("pad"));
        let opts = DetectOptions {
            conf: reference["conf"].as_f64().expect("conf") as f32,
            iou: reference["iou"].as_f64().expect("iou") as f32,
            max_det: reference["max_det"].as_u64().expect("max") as usize,
            agnostic: false,
        };
        let ours = det
            .postprocess(&raw, &shape, photo, Some(&lb), &opts)
            .expect("postprocess");
        let theirs = reference["detections"].as_array().expect("dets");
        assert_eq!(ours.len(), theirs.len(), "{name}: number kept");
        let mut worst = 0f32;
        for (i, (o, t)) in ours.iter().zip(theirs).enumerate() {
            assert_eq!(
                o.class_id as u64,
                t["class"].as_u64().expect("class"),
                "{name} #{i}"
            );
            assert!((o.score - t["score"].as_f64().expect("score") as f32).abs() < 1e-7);
            let b: Vec<f32> = t["box"]
                .as_array()
                .expect("box")
                .iter()
                .map(|v| v.as_f64().expect("num") as f32)
                .collect();
            assert_eq!(b.len(), 4, "{name}: reference box {i}");
            for (a, r) in [o.bbox.x0, o.bbox.y0, o.bbox.x1, o.bbox.y1].iter().zip(&b) {
                worst = worst.max((a - r).abs());
            }
        }
        eprintln!(
            "{name}: decode+NMS vs torchvision, {} kept, worst box diff {worst:.2e} px",
            ours.len()
        );
        assert!(worst < 1e-3, "{name}: {worst}");
    }
}

/// The preprocessing of each layout vs its Python reference on a synthetic image (no JPEG decoder).
#[test]
fn preprocessing_matches_references() {
    let reference = json("preprocess.json");
    let (w, h) = (37u32, 23u32);
    let img = RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            ((x * 7 + y * 13) % 256) as u8,
            ((x * 31 + y * 3 + 50) % 256) as u8,
            ((x * y * 5 + 100) % 256) as u8,
        ])
    });
    // CenterNet: TF bilinear stretch, floats, within 1e-3
    let cn = tf_bilinear_nhwc(&img, 512, 512);
    for p in reference["centernet_points"].as_array().expect("points") {
        let (y, x) = (
            p["y"].as_u64().expect("y") as usize,
            p["x"].as_u64().expect("x") as usize,
        );
        for c in 0..3 {
            let want = p["rgb"][c].as_f64().expect("v");
            let got = cn[(y * 512 + x) * 3 + c] as f64;
            assert!((got - want).abs() < 1e-3, "({y},{x},{c}): {got} vs {want}");
        }
    }
    // YOLO: letterbox geometry and pixels exact (cv2.resize INTER_LINEAR + copyMakeBorder)
    let (lb_img, lb) = letterbox_image(&img, 64);
    assert_eq!(
        [lb.pad.0, lb.pad.1, lb.resized.0, lb.resized.1],
        [
            reference["letterbox_pad"][0].as_u64().expect("pad") as usize,
            reference["letterbox_pad"][1].as_u64().expect("pad") as usize,
            reference["letterbox_resized"][0].as_u64().expect("w") as usize,
            reference["letterbox_resized"][1].as_u64().expect("h") as usize,
        ]
    );
    let want: Vec<u8> = reference["letterbox"]
        .as_array()
        .expect("pixels")
        .iter()
        .map(|v| v.as_u64().expect("px") as u8)
        .collect();
    let got = lb_img.as_raw();
    assert_eq!(got.len(), want.len());
    let exact = got.iter().zip(&want).filter(|(a, b)| a == b).count();
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (*a as i32 - *b as i32).abs())
        .max()
        .unwrap_or(0);
    eprintln!(
        "letterbox vs cv2: {exact}/{} values identical, worst {worst}",
        got.len()
    );
    assert_eq!(worst, 0, "{exact}/{} identical", got.len());
    // and a downscale (301x199 -> 64)
    let big = RgbImage::from_fn(301, 199, |x, y| {
        image::Rgb([
            ((x * 7 + y * 13) % 256) as u8,
            ((x * 31 + y * 3 + 50) % 256) as u8,
            ((x * y * 5 + 100) % 256) as u8,
        ])
    });
    let want: Vec<u8> = reference["letterbox_down"]
        .as_array()
        .expect("pixels")
        .iter()
        .map(|v| v.as_u64().expect("px") as u8)
        .collect();
    assert_eq!(letterbox_image(&big, 64).0.as_raw(), &want);
}

/// End to end on the bundled photo: a dog, a bicycle and a car/truck, where they are.
#[test]
fn centernet_finds_dog_bicycle_truck() {
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/photos/dog.jpg");
    let dets = centernet()
        .detect_path(&photo, &DetectOptions::default())
        .expect("detect");
    for d in &dets {
        eprintln!("{:>10} {:.3} {:?}", d.class_name, d.score, d.bbox);
    }
    let find = |names: &[&str]| {
        dets.iter()
            .find(|d| names.contains(&d.class_name.as_str()))
            .unwrap_or_else(|| panic!("no {names:?} in {dets:?}"))
    };
    let dog = find(&["dog"]);
    let bike = find(&["bicycle"]);
    let truck = find(&["car", "truck"]);
    // dog.jpg (768x576): the dog sits bottom-left, the bicycle across the middle, the truck top-right
    let centre = |d: &cuelab_detect::Detection| {
        ((d.bbox.x0 + d.bbox.x1) / 2.0, (d.bbox.y0 + d.bbox.y1) / 2.0)
    };
    let (dx, dy) = centre(dog);
    assert!(dx < 300.0 && dy > 300.0, "dog at {:?}", dog.bbox);
    let (bx, by) = centre(bike);
    assert!(
        (200.0..500.0).contains(&bx) && (150.0..400.0).contains(&by),
        "bicycle at {:?}",
        bike.bbox
    );
    let (tx, ty) = centre(truck);
    assert!(tx > 450.0 && ty < 200.0, "truck at {:?}", truck.bbox);
    for d in [dog, bike, truck] {
        assert!(d.score >= 0.3 && d.bbox.width() > 50.0 && d.bbox.height() > 40.0);
    }
}

#[test]
fn bad_inputs_give_clear_errors() {
    // missing file
    let err = Detector::from_path(Path::new("/nonexistent/model.onnx")).expect_err("missing");
    assert!(matches!(err, DetectError::Read { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/model.onnx"));
    // not ONNX
    let err = Detector::from_bytes(b"this is not a protobuf at all \xff\xff\xff", "junk.onnx")
        .expect_err("junk");
    assert!(
        matches!(
            err,
            DetectError::NotOnnx { .. } | DetectError::UnsupportedLayout { .. }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("junk.onnx"), "{err}");
    // an ONNX model that is not a detector
    let err = Detector::from_path(&data("not_a_detector.onnx")).expect_err("layout");
    assert!(
        matches!(err, DetectError::UnsupportedLayout { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("[1,3,8]"), "{err}");
    // wrong input tensor size
    let err = centernet().run_raw(&[0.0; 10]).expect_err("shape");
    assert!(matches!(err, DetectError::InputShape { .. }), "{err}");
    assert!(err.to_string().contains("[1, 512, 512, 3]"), "{err}");
    // unknown built-in / bad thresholds / unreadable image
    assert!(matches!(
        Detector::load("yolo-unknown"),
        Err(DetectError::Read { .. })
    ));
    assert!(matches!(
        Detector::builtin("nope"),
        Err(DetectError::UnknownBuiltin { .. })
    ));
    let bad = DetectOptions {
        iou: 1.5,
        ..DetectOptions::default()
    };
    assert!(matches!(
        centernet().detect(&RgbImage::new(8, 8), &bad),
        Err(DetectError::InvalidOption { name: "iou", .. })
    ));
    let err = centernet()
        .detect_path(
            Path::new("/nonexistent/photo.jpg"),
            &DetectOptions::default(),
        )
        .expect_err("image");
    assert!(matches!(err, DetectError::Image(_)), "{err}");
}
