//! Bad input gives errors that name the file, key or tensor — never a panic.

use cuelab_models::LoadOptions;
use std::path::Path;

use crate::fixtures::data;
use cuelab_models::clip_vit::ClipVit;
use cuelab_models::dinov2::Dinov2;
use cuelab_models::{load_image, ImageTextScorer};

fn copy_fixture(name: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    for e in std::fs::read_dir(data().join(name)).expect("fixture") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), tmp.path().join(e.file_name())).expect("copy");
    }
    tmp
}

fn load_err(dir: &Path) -> String {
    ClipVit::load(dir, &LoadOptions::default())
        .expect_err("should fail")
        .to_string()
}

#[test]
fn missing_and_corrupt_weights() {
    let tmp = copy_fixture("clip-vit-tiny");
    std::fs::remove_file(tmp.path().join("model.safetensors")).expect("rm");
    let msg = load_err(tmp.path());
    assert!(msg.contains("model.safetensors"), "{msg}");

    std::fs::write(tmp.path().join("model.safetensors"), b"garbage").expect("write");
    let msg = load_err(tmp.path());
    assert!(
        msg.contains("model.safetensors") && msg.contains("safetensors"),
        "{msg}"
    );
}

#[test]
fn shape_mismatch_and_unknown_architecture_name_the_key() {
    let tmp = copy_fixture("clip-vit-tiny");
    let cfg_path = tmp.path().join("config.json");
    let cfg = std::fs::read_to_string(&cfg_path).expect("read");
    // wrong projection size: the projection tensors no longer fit
    std::fs::write(
        &cfg_path,
        cfg.replace("\"projection_dim\": 16", "\"projection_dim\": 24"),
    )
    .expect("write");
    let msg = load_err(tmp.path());
    assert!(msg.contains("projection"), "{msg}");

    std::fs::write(
        &cfg_path,
        cfg.replace("\"model_type\": \"clip\"", "\"model_type\": \"blip\""),
    )
    .expect("write");
    let msg = load_err(tmp.path());
    assert!(msg.contains("blip") && msg.contains("config.json"), "{msg}");

    std::fs::write(
        &cfg_path,
        cfg.replace("\"hidden_size\": 32", "\"hidden_size\": \"big\""),
    )
    .expect("write");
    let msg = load_err(tmp.path());
    assert!(msg.contains("hidden_size"), "{msg}");

    let tmp = copy_fixture("dinov2-tiny");
    let cfg_path = tmp.path().join("config.json");
    let cfg = std::fs::read_to_string(&cfg_path).expect("read");
    std::fs::write(
        &cfg_path,
        cfg.replace("\"hidden_size\": 32", "\"hidden_size\": 64"),
    )
    .expect("write");
    let msg = Dinov2::load(tmp.path(), &LoadOptions::default())
        .expect_err("should fail")
        .to_string();
    assert!(
        msg.contains("embeddings.") && msg.contains("shape"),
        "{msg}"
    );
}

#[test]
fn odd_images_and_texts_are_fine() {
    let model =
        ClipVit::load(&data().join("clip-vit-tiny"), &LoadOptions::default()).expect("load");
    let tmp = tempfile::tempdir().expect("tempdir");
    // grey, alpha and 16-bit images; a 1-pixel-wide one
    let grey = image::GrayImage::from_pixel(5, 300, image::Luma([90]));
    let rgba = image::RgbaImage::from_pixel(31, 17, image::Rgba([1, 2, 3, 0]));
    let deep = image::ImageBuffer::<image::Rgb<u16>, Vec<u16>>::from_pixel(
        40,
        40,
        image::Rgb([65535, 0, 300]),
    );
    grey.save(tmp.path().join("g.png")).expect("save");
    rgba.save(tmp.path().join("a.png")).expect("save");
    deep.save(tmp.path().join("d.png")).expect("save");
    let imgs: Vec<_> = ["g.png", "a.png", "d.png"]
        .iter()
        .map(|n| load_image(&tmp.path().join(n)).expect("load"))
        .collect();
    let sims = model
        .similarity(&imgs, &["".to_string(), "x".repeat(1000)])
        .expect("similarity");
    assert_eq!(sims.len(), 3);
    assert!(sims.iter().flatten().all(|s| s.is_finite()));
    std::fs::write(tmp.path().join("bad.jpg"), b"not a jpeg").expect("write");
    let msg = load_image(&tmp.path().join("bad.jpg"))
        .expect_err("bad")
        .to_string();
    assert!(msg.contains("bad.jpg"), "{msg}");
}
