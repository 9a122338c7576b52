//! Reduced-precision (bf16, f16) embeddings of every model family against the committed f32
//! references (the same fixtures as the parity, resnet and
//! siglip_text modules).
//!
//! Tolerance: cosine >= 0.999 to the reference for every embedding. bf16 keeps 8 significant
//! bits (relative rounding error up to 2^-9 ≈ 0.2% per weight and per stored activation), f16
//! keeps 11 (2^-12 ≈ 0.024%). LayerNorm statistics and the attention softmax are f32 and bf16
//! products are accumulated in f32 (candle widens them on the CPU), so the roundings stay mostly
//! independent and an embedding's cosine to the f32 one stays near 1 - (a few x 1e-5). Measured
//! worst cosines on these fixtures (CPU, printed by each test with `--nocapture`): bf16 0.99977
//! (ResNet CLIP texts; every other bf16 case >= 0.99991), f16 0.999994. 0.999 leaves a ~4x margin
//! in `1 - cos` over the bf16 worst case, for other kernels (GPU) that round differently.

use std::path::Path;

use crate::fixtures::{cosine, data, json, rows, vecf};
use cuelab_models::clip_vit::ClipVit;
use cuelab_models::dinov2::Dinov2;
use cuelab_models::open_clip::OpenClip;
use cuelab_models::preprocess::{load_image, Pipeline, Preprocess};
use cuelab_models::siglip::{Siglip, SiglipVision};
use cuelab_models::{
    load_embedder, load_scorer, Device, ImageEmbedder, ImageTextScorer, LoadOptions, ModelDtype,
};
use serde_json::Value;

/// See the module comment.
const MIN_COSINE: f64 = 0.999;

const REDUCED: [ModelDtype; 2] = [ModelDtype::Bf16, ModelDtype::F16];

/// Assert every row's cosine to the reference and return the worst.
fn check(got: &[Vec<f32>], want: &[Vec<f32>], what: &str) -> f64 {
    assert_eq!(got.len(), want.len(), "{what}: row count");
    let worst = got
        .iter()
        .zip(want)
        .map(|(g, w)| cosine(g, w))
        .fold(1.0f64, f64::min);
    eprintln!("{what}: worst cosine {worst:.7} over {} rows", got.len());
    assert!(worst >= MIN_COSINE, "{what}: worst cosine {worst}");
    worst
}

fn texts(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("texts")
        .iter()
        .map(|t| t.as_str().expect("str").to_string())
        .collect()
}

/// The reference embeddings of kafka.jpg were computed from Pillow's decode of it.
fn kafka_images() -> Vec<(String, image::RgbImage)> {
    [
        ("kafka.jpg", "kafka.pillow.png"),
        ("kafka_400x267.png", "kafka_400x267.png"),
    ]
    .iter()
    .map(|(name, file)| {
        let img = load_image(&data().join("images").join(file)).expect("load image");
        (name.to_string(), img)
    })
    .collect()
}

/// Pixels of open_clip fixture crops (`dog`, `eagle`) at `size`.
fn crop_pixels(dir: &Path, size: u32) -> Vec<f32> {
    let pre = Preprocess::clip(Pipeline::Openai, size);
    let mut pixels = Vec::new();
    for n in ["dog", "eagle"] {
        let crop = image::open(dir.join(format!("{n}.crop.png")))
            .expect("open crop")
            .to_rgb8();
        pixels.extend(pre.normalize(&crop));
    }
    pixels
}

#[test]
fn clip_vit_reduced_precision_matches_f32_reference() {
    let dir = data().join("clip-vit-tiny");
    let refs = json(&data().join("reference/clip_vit_tiny.json"));
    let tx = texts(&refs["texts"]);
    for dt in REDUCED {
        let mut model =
            ClipVit::load(&dir, &LoadOptions::default().with_dtype(dt)).expect("load clip vit");
        for (name, img) in kafka_images() {
            for p in [Pipeline::Openai, Pipeline::Hf] {
                model.set_pipeline(p);
                let got = model
                    .encode_images(std::slice::from_ref(&img))
                    .expect("encode image");
                let want = vecf(&refs["images"][name.as_str()][p.name()]);
                check(
                    &got,
                    &[want],
                    &format!("clip-vit {dt} image {name} {}", p.name()),
                );
            }
        }
        let got = model.encode_texts(&tx).expect("encode texts");
        check(
            &got,
            &rows(&refs["text_embeddings"]),
            &format!("clip-vit {dt} texts"),
        );
    }
}

#[test]
fn resnet_clip_reduced_precision_matches_f32_reference() {
    let dir = data().join("clip-rn-tiny");
    let refs = json(&dir.join("reference.json"));
    let pixels = crop_pixels(&dir, 64);
    let tx = texts(&refs["texts"]);
    for dt in REDUCED {
        let model =
            OpenClip::load(&dir, &LoadOptions::default().with_dtype(dt)).expect("load resnet clip");
        let got = model.encode_pixels(&pixels, 2).expect("encode pixels");
        check(
            &got,
            &rows(&refs["image_embeds"]),
            &format!("clip-rn {dt} images"),
        );
        let got = model.encode_texts(&tx).expect("encode texts");
        check(
            &got,
            &rows(&refs["text_embeds"]),
            &format!("clip-rn {dt} texts"),
        );
    }
}

#[test]
fn open_clip_vit_reduced_precision_matches_f32_reference() {
    let dir = data().join("open-clip-vit-tiny");
    let refs = json(&dir.join("reference.json"));
    let pixels = crop_pixels(&dir, 32);
    let tx = texts(&refs["texts"]);
    for dt in REDUCED {
        let model = OpenClip::load(&dir, &LoadOptions::default().with_dtype(dt))
            .expect("load open_clip vit");
        let got = model.encode_pixels(&pixels, 2).expect("encode pixels");
        check(
            &got,
            &rows(&refs["image_embeds"]),
            &format!("open-clip-vit {dt} images"),
        );
        let got = model.encode_texts(&tx).expect("encode texts");
        check(
            &got,
            &rows(&refs["text_embeds"]),
            &format!("open-clip-vit {dt} texts"),
        );
    }
}

#[test]
fn siglip_reduced_precision_matches_f32_reference() {
    // The vision-only tower.
    let refs = json(&data().join("reference/siglip_tiny.json"));
    for dt in REDUCED {
        let model = SiglipVision::load(
            &data().join("siglip-tiny"),
            &LoadOptions::default().with_dtype(dt),
        )
        .expect("load siglip vision");
        for (name, img) in kafka_images() {
            let got = model.encode_images(&[img]).expect("encode image");
            check(
                &got,
                &[vecf(&refs[name.as_str()])],
                &format!("siglip-vision {dt} {name}"),
            );
        }
    }
    // Both towers.
    let refs = json(&data().join("reference/siglip_text_tiny.json"));
    let all = texts(&refs["texts"]);
    let sub: Vec<String> = refs["embed_texts"]
        .as_array()
        .expect("idx")
        .iter()
        .map(|x| all[x.as_u64().expect("index") as usize].clone())
        .collect();
    let images: Vec<_> = ["kafka.pillow.png", "kafka_400x267.png"]
        .iter()
        .map(|n| load_image(&data().join("images").join(n)).expect("image"))
        .collect();
    for dt in REDUCED {
        let model = Siglip::load(
            &data().join("siglip-text-tiny"),
            &LoadOptions::default().with_dtype(dt),
        )
        .expect("load siglip");
        let got = model.encode_texts(&sub).expect("encode texts");
        check(
            &got,
            &rows(&refs["text_embeddings"]),
            &format!("siglip {dt} texts"),
        );
        let got = model.encode_images(&images).expect("encode images");
        check(
            &got,
            &rows(&refs["image_embeddings"]),
            &format!("siglip {dt} images"),
        );
    }
}

#[test]
fn dinov2_reduced_precision_matches_f32_reference() {
    let refs = json(&data().join("reference/dinov2_tiny.json"));
    for name in ["dinov2-tiny", "dinov2-reg-tiny"] {
        for dt in REDUCED {
            let model = Dinov2::load(&data().join(name), &LoadOptions::default().with_dtype(dt))
                .expect("load dinov2");
            for (image, img) in kafka_images() {
                let got = model.encode_images(&[img]).expect("encode image");
                check(
                    &got,
                    &[vecf(&refs[name][image.as_str()])],
                    &format!("{name} {dt} {image}"),
                );
            }
        }
    }
}

/// The dtype is part of the id (and so of every embedding-cache key); f32 ids are unchanged.
#[test]
fn dtype_is_part_of_the_model_id() {
    let dir = data().join("clip-vit-tiny");
    let reference = dir.to_str().expect("utf-8 path");
    let mut ids = Vec::new();
    for dt in ModelDtype::ALL {
        let opts = LoadOptions {
            dtype: dt,
            ..LoadOptions::default()
        };
        let s = load_scorer(reference, &opts).expect("load scorer");
        let e = load_embedder(reference, &opts).expect("load embedder");
        assert_eq!(s.id(), e.id());
        assert!(s.id().ends_with(dt.id_suffix()), "{}", s.id());
        ids.push(s.id().to_string());
    }
    let plain = ClipVit::load(&dir, &LoadOptions::default()).expect("load");
    assert_eq!(ids[0], plain.id(), "f32 ids keep their old form");
    assert!(!ids[0].contains('+'), "{}", ids[0]);
    assert_ne!(ids[0], ids[1]);
    assert_ne!(ids[0], ids[2]);
    assert_ne!(ids[1], ids[2]);
}

/// Largest difference between two sets of embeddings, relative to the largest magnitude of
/// `reference` (0 when identical).
fn relative_change(got: &[Vec<f32>], reference: &[Vec<f32>], what: &str) -> f64 {
    assert_eq!(got.len(), reference.len(), "{what}: row count");
    let scale = reference
        .iter()
        .flatten()
        .fold(0.0f32, |m, x| m.max(x.abs()));
    let mut worst = 0.0f32;
    for (g, r) in got.iter().zip(reference) {
        assert_eq!(g.len(), r.len(), "{what}: embedding width");
        worst = worst.max(crate::fixtures::max_abs(g, r));
    }
    f64::from(worst / scale)
}

/// Smallest relative change a reduced dtype must make to an embedding: f32 recomputed is
/// bit-identical on the CPU (0), while bf16 (8 significant bits) and f16 (11) round weights and
/// activations at 2^-9 and 2^-12. Measured (largest element change / largest element, printed
/// with `--nocapture`): bf16 7.4e-3 to 1.5e-2, f16 7.9e-4 to 3.2e-3 over the seven models;
/// 1e-5 is 80x below the smallest.
const MIN_CHANGE: f64 = 1e-5;

/// The dtype took effect: `encode` run in bf16 and in f16 gives embeddings that differ from
/// f32 (by more than [`MIN_CHANGE`], relative), stay within [`MIN_COSINE`] of it, and bf16
/// (fewer bits) moves further than f16. A dtype silently ignored (weights kept in f32) gives a
/// change of 0; bf16 silently run as f16 or the reverse breaks the order.
fn reduced_dtype_took_effect(what: &str, encode: impl Fn(ModelDtype) -> Vec<Vec<f32>>) {
    let f32_out = encode(ModelDtype::F32);
    assert_eq!(
        relative_change(&encode(ModelDtype::F32), &f32_out, what),
        0.0,
        "{what}: f32 recomputed should be identical"
    );
    let mut change = Vec::new();
    for dt in REDUCED {
        let got = encode(dt);
        let c = relative_change(&got, &f32_out, &format!("{what} {dt}"));
        check(&got, &f32_out, &format!("{what} {dt} vs f32"));
        eprintln!("{what} {dt}: largest change vs f32 {c:.2e} (relative)");
        assert!(
            c > MIN_CHANGE,
            "{what} {dt}: embeddings changed by only {c:e}: the dtype did not take effect"
        );
        change.push(c);
    }
    assert!(
        change[0] > change[1],
        "{what}: bf16 should move further from f32 than f16 ({:e} vs {:e})",
        change[0],
        change[1]
    );
}

#[test]
fn reduced_dtypes_take_effect_in_every_model_family() {
    let dev = Device::Cpu;
    let clip_dir = data().join("clip-vit-tiny");
    let refs = json(&data().join("reference/clip_vit_tiny.json"));
    let tx = texts(&refs["texts"]);
    let images: Vec<image::RgbImage> = kafka_images().into_iter().map(|(_, i)| i).collect();
    reduced_dtype_took_effect("clip-vit", |dt| {
        let m = ClipVit::load(
            &clip_dir,
            &LoadOptions::default()
                .with_device(dev.clone())
                .with_dtype(dt),
        )
        .expect("load");
        let mut out = m.encode_images(&images).expect("images");
        out.extend(m.encode_texts(&tx).expect("texts"));
        out
    });
    for (name, size) in [("clip-rn-tiny", 64), ("open-clip-vit-tiny", 32)] {
        let dir = data().join(name);
        let r = json(&dir.join("reference.json"));
        let tx = texts(&r["texts"]);
        let pixels = crop_pixels(&dir, size);
        reduced_dtype_took_effect(name, |dt| {
            let m = OpenClip::load(
                &dir,
                &LoadOptions::default()
                    .with_device(dev.clone())
                    .with_dtype(dt),
            )
            .expect("load");
            let mut out = m.encode_pixels(&pixels, 2).expect("pixels");
            out.extend(m.encode_texts(&tx).expect("texts"));
            out
        });
    }
    reduced_dtype_took_effect("siglip-vision", |dt| {
        SiglipVision::load(
            &data().join("siglip-tiny"),
            &LoadOptions::default()
                .with_device(dev.clone())
                .with_dtype(dt),
        )
        .expect("load")
        .encode_images(&images)
        .expect("images")
    });
    let r = json(&data().join("reference/siglip_text_tiny.json"));
    let tx = texts(&r["texts"]);
    reduced_dtype_took_effect("siglip", |dt| {
        let m = Siglip::load(
            &data().join("siglip-text-tiny"),
            &LoadOptions::default()
                .with_device(dev.clone())
                .with_dtype(dt),
        )
        .expect("load");
        let mut out = m.encode_images(&images).expect("images");
        out.extend(m.encode_texts(&tx[..16]).expect("texts"));
        out
    });
    for name in ["dinov2-tiny", "dinov2-reg-tiny"] {
        reduced_dtype_took_effect(name, |dt| {
            Dinov2::load(
                &data().join(name),
                &LoadOptions::default()
                    .with_device(dev.clone())
                    .with_dtype(dt),
            )
            .expect("load")
            .encode_images(&images)
            .expect("images")
        });
    }
}
