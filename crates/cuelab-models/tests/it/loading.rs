//! The one loading entry point: `ModelFamily::detect`, `LoadOptions` and its builders, and each
//! family's `load(dir, &LoadOptions)` agreeing with `load_scorer` / `load_embedder`.

use crate::fixtures::data;
use cuelab_models::clip_vit::ClipVit;
use cuelab_models::dinov2::Dinov2;
use cuelab_models::open_clip::OpenClip;
use cuelab_models::siglip::{Siglip, SiglipVision};
use cuelab_models::{
    load_embedder, load_scorer, Error, ImageEmbedder, LoadOptions, ModelDtype, ModelFamily,
    Pipeline,
};

#[test]
fn detect_names_the_family_of_every_fixture() {
    for (dir, family) in [
        ("clip-vit-tiny", ModelFamily::HfClip),
        ("clip-rn-tiny", ModelFamily::OpenClip),
        ("open-clip-vit-tiny", ModelFamily::OpenClip),
        ("siglip-tiny", ModelFamily::Siglip),
        ("siglip-text-tiny", ModelFamily::Siglip),
        ("dinov2-tiny", ModelFamily::Dinov2),
        ("dinov2-reg-tiny", ModelFamily::Dinov2),
    ] {
        assert_eq!(
            ModelFamily::detect(&data().join(dir)).expect(dir),
            family,
            "{dir}"
        );
    }
    // An unknown model_type names the file and the type; a directory with no config names the
    // file it looked for.
    let tmp = tempfile::tempdir().expect("tempdir");
    let err = ModelFamily::detect(tmp.path()).expect_err("empty directory");
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains("config.json"), "{err}");
    std::fs::write(tmp.path().join("config.json"), r#"{"model_type": "blip"}"#).expect("write");
    let err = ModelFamily::detect(tmp.path()).expect_err("blip");
    assert!(
        matches!(&err, Error::UnsupportedArchitecture { architecture, .. } if architecture == "blip"),
        "{err}"
    );
}

#[test]
fn family_loaders_match_the_dispatching_ones() {
    let opts = LoadOptions::default();
    let path = |d: &str| data().join(d);
    let reference = |d: &str| path(d).to_str().expect("utf8").to_string();
    let embedder_id = |d: &str| {
        load_embedder(&reference(d), &opts)
            .expect(d)
            .id()
            .to_string()
    };
    let scorer_id = |d: &str| load_scorer(&reference(d), &opts).expect(d).id().to_string();

    let clip = ClipVit::load(&path("clip-vit-tiny"), &opts).expect("clip");
    assert_eq!(clip.id(), embedder_id("clip-vit-tiny"));
    assert_eq!(clip.id(), scorer_id("clip-vit-tiny"));
    for d in ["clip-rn-tiny", "open-clip-vit-tiny"] {
        let m = OpenClip::load(&path(d), &opts).expect(d);
        assert_eq!(m.id(), embedder_id(d));
        assert_eq!(m.id(), scorer_id(d));
    }
    let siglip = Siglip::load(&path("siglip-text-tiny"), &opts).expect("siglip");
    assert_eq!(siglip.id(), scorer_id("siglip-text-tiny"));
    let vision = SiglipVision::load(&path("siglip-text-tiny"), &opts).expect("siglip vision");
    assert_eq!(vision.id(), embedder_id("siglip-text-tiny"));
    assert!(vision.id().starts_with("siglip-vision:siglip-text-tiny@"));
    let dino = Dinov2::load(&path("dinov2-tiny"), &opts).expect("dinov2");
    assert_eq!(dino.id(), embedder_id("dinov2-tiny"));

    // DINOv2 embeds images but does not score texts.
    let err = match load_scorer(&reference("dinov2-tiny"), &opts) {
        Ok(_) => panic!("dinov2 loaded as a scorer"),
        Err(e) => e,
    };
    assert!(
        matches!(&err, Error::UnsupportedArchitecture { architecture, .. } if architecture == "dinov2"),
        "{err}"
    );
}

#[test]
fn load_options_builders_take_effect() {
    let dir = data().join("clip-vit-tiny");
    let plain = ClipVit::load(&dir, &LoadOptions::default()).expect("default");
    assert_eq!(plain.preprocess().pipeline, Pipeline::Hf);
    let openai = ClipVit::load(
        &dir,
        &LoadOptions::default().with_pipeline(Pipeline::Openai),
    )
    .expect("openai");
    assert_eq!(openai.preprocess().pipeline, Pipeline::Openai);
    let rn = OpenClip::load(&data().join("clip-rn-tiny"), &LoadOptions::default()).expect("rn");
    assert_eq!(rn.preprocess().pipeline, Pipeline::Openai);

    let opts = LoadOptions::default()
        .with_device(cuelab_models::Device::Cpu)
        .with_dtype(ModelDtype::Bf16);
    let bf16 = ClipVit::load(&dir, &opts).expect("bf16");
    assert_eq!(bf16.id(), format!("{}+bf16", plain.id()));
}
