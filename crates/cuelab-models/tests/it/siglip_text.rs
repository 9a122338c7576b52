//! SigLIP image-text parity against transformers 5.23 (fixture from
//! tools/reference/models/make_siglip_text_fixture.py): tokenizer ids from `spiece.model` and from
//! `tokenizer.json`, text and image embeddings, `logits_per_image`, sigmoid probabilities, errors.

use std::path::PathBuf;

use crate::fixtures::{cosine, data, max_abs, rows as matrix};
use cuelab_models::preprocess::load_image;
use cuelab_models::siglip::{sigmoid_rows, Siglip};
use cuelab_models::siglip_tokenizer::SiglipTokenizer;
use cuelab_models::spiece::SentencePiece;
use cuelab_models::{load_scorer, Error, ImageEmbedder, ImageTextScorer, LoadOptions};
use serde_json::Value;

fn model_dir() -> PathBuf {
    data().join("siglip-text-tiny")
}

fn refs() -> Value {
    let p = data().join("reference/siglip_text_tiny.json");
    serde_json::from_str(&std::fs::read_to_string(p).expect("read reference")).expect("parse")
}

fn texts(r: &Value) -> Vec<String> {
    r["texts"]
        .as_array()
        .expect("texts")
        .iter()
        .map(|t| t.as_str().expect("text").to_string())
        .collect()
}

fn ids(v: &Value) -> Vec<Vec<u32>> {
    v.as_array()
        .expect("ids")
        .iter()
        .map(|row| {
            row.as_array()
                .expect("row")
                .iter()
                .map(|x| x.as_u64().expect("id") as u32)
                .collect()
        })
        .collect()
}

fn check_ids(tok: &SiglipTokenizer, texts: &[String], want: &[Vec<u32>], what: &str) {
    let batch = tok.encode_batch(texts).expect("encode");
    assert_eq!(batch.len, 64);
    let mut bad = Vec::new();
    assert_eq!(texts.len(), want.len(), "{what}: texts and references");
    for (i, (t, w)) in texts.iter().zip(want).enumerate() {
        let got = &batch.ids[i * batch.len..(i + 1) * batch.len];
        if got != w.as_slice() {
            bad.push(format!("{t:?}\n  got  {got:?}\n  want {w:?}"));
        }
    }
    eprintln!(
        "{what}: {} of {} strings identical",
        texts.len() - bad.len(),
        texts.len()
    );
    assert!(bad.is_empty(), "{what}: ids differ:\n{}", bad.join("\n"));
}

#[test]
fn spiece_ids_match_siglip_tokenizer() {
    let r = refs();
    let texts = texts(&r);
    assert!(texts.len() >= 200);
    let tok = SiglipTokenizer::load(&model_dir(), 64).expect("load tokenizer");
    assert!(tok.is_sentencepiece());
    assert_eq!(tok.pad_id() as u64, r["pad_id"].as_u64().expect("pad"));
    assert_eq!(tok.eos_id() as u64, r["eos_id"].as_u64().expect("eos"));
    check_ids(&tok, &texts, &ids(&r["ids"]), "spiece.model");
}

#[test]
fn tokenizer_json_ids_match_tokenizers() {
    let r = refs();
    let texts = texts(&r);
    let tok = SiglipTokenizer::load(&data().join("siglip-text-tiny-json"), 64)
        .expect("load tokenizer.json");
    assert!(!tok.is_sentencepiece());
    check_ids(
        &tok,
        &texts,
        &ids(&r["tokenizer_json_ids"]),
        "tokenizer.json",
    );
}

#[test]
fn sentencepiece_reader_sees_the_vocabulary() {
    let sp = SentencePiece::from_file(&model_dir().join("spiece.model")).expect("spiece");
    assert!(sp.len() > 100);
    assert_eq!(sp.piece_to_id("</s>"), 1);
    assert_eq!(sp.unk_id(), 2);
    assert!(sp.normalizer().add_dummy_prefix);
    assert_eq!(sp.normalizer().name, "nmt_nfkc");
    // NFKC through the precompiled map: full-width letters fold to ASCII.
    assert_eq!(sp.normalize("\u{ff21}b  c "), "\u{2581}Ab\u{2581}c");
}

#[test]
fn text_image_embeddings_and_logits_match_transformers() {
    let r = refs();
    let all = texts(&r);
    let idx: Vec<usize> = r["embed_texts"]
        .as_array()
        .expect("idx")
        .iter()
        .map(|x| x.as_u64().expect("i") as usize)
        .collect();
    let sub: Vec<String> = idx.iter().map(|&i| all[i].clone()).collect();
    let model = Siglip::load(&model_dir(), &LoadOptions::default()).expect("load siglip");

    let got = model.encode_texts(&sub).expect("texts");
    let want = matrix(&r["text_embeddings"]);
    let (mut worst_cos, mut worst_abs) = (1.0f64, 0.0f32);
    assert_eq!(got.len(), want.len(), "text embeddings");
    for (g, w) in got.iter().zip(&want) {
        worst_cos = worst_cos.min(cosine(g, w));
        worst_abs = worst_abs.max(max_abs(g, w));
    }
    eprintln!(
        "siglip text embeddings ({}): worst cos {worst_cos:.9}, max abs diff {worst_abs:e}",
        got.len()
    );
    assert_eq!(got.len(), want.len());
    assert!(worst_cos >= 0.99999, "cos {worst_cos}");
    assert!(worst_abs <= 1e-4, "max abs {worst_abs}");

    let images: Vec<_> = ["kafka.pillow.png", "kafka_400x267.png"]
        .iter()
        .map(|n| load_image(&data().join("images").join(n)).expect("image"))
        .collect();
    let got = model.encode_images(&images).expect("images");
    let want = matrix(&r["image_embeddings"]);
    assert_eq!(got.len(), want.len(), "image embeddings");
    for (g, w) in got.iter().zip(&want) {
        let (c, d) = (cosine(g, w), max_abs(g, w));
        eprintln!("siglip image embedding: cos {c:.9}, max abs diff {d:e}");
        assert!(c >= 0.99999 && d <= 1e-4, "cos {c}, max abs {d}");
    }

    let scale = r["logit_scale"].as_f64().expect("scale") as f32;
    assert!((model.logit_scale() - scale.exp()).abs() < 1e-5);
    assert_eq!(
        model.logit_bias(),
        r["logit_bias"].as_f64().expect("bias") as f32
    );
    let logits = model.logits(&images, &sub).expect("logits");
    let want = matrix(&r["logits_per_image"]);
    let mut worst = 0.0f32;
    assert_eq!(logits.len(), want.len(), "logit rows");
    for (g, w) in logits.iter().zip(&want) {
        worst = worst.max(max_abs(g, w));
    }
    eprintln!("siglip logits_per_image: max abs diff {worst:e}");
    assert!(worst <= 1e-4, "logits max abs {worst}");

    // Probabilities are per-pair sigmoids, through the trait too.
    let probs = model.probabilities(&images, &sub).expect("probs");
    let want_p = sigmoid_rows(&want);
    let sims = model.similarity(&images, &sub).expect("sims");
    let via_trait = model.probabilities_from_cosines(&sims);
    assert_eq!(probs.len(), want_p.len(), "probability rows");
    assert_eq!(
        probs.len(),
        via_trait.len(),
        "probability rows through the trait"
    );
    for ((p, w), t) in probs.iter().zip(&want_p).zip(&via_trait) {
        assert!(max_abs(p, w) <= 1e-5);
        assert!(max_abs(p, t) <= 1e-6);
    }
    let row_sum: f32 = probs[0].iter().sum();
    assert!((row_sum - 1.0).abs() > 1e-3, "not a softmax");
}

#[test]
fn load_scorer_dispatches_siglip() {
    let dir = model_dir();
    let scorer = load_scorer(dir.to_str().expect("utf8"), &LoadOptions::default()).expect("load");
    assert!(scorer.id().starts_with("siglip:"));
    assert_eq!(scorer.embed_dim(), 32);
    assert!(scorer.logit_bias().is_some());
    let e = scorer
        .encode_texts(&["a photo of a cat".to_string()])
        .expect("text");
    assert_eq!(e[0].len(), 32);
    assert!(scorer.encode_texts(&[]).expect("empty").is_empty());
}

#[test]
fn whole_model_loads_from_tokenizer_json_alone() {
    let tmp = tempfile::tempdir().expect("tmp");
    for f in [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ] {
        std::fs::copy(model_dir().join(f), tmp.path().join(f)).expect("copy");
    }
    std::fs::copy(
        data().join("siglip-text-tiny-json/tokenizer.json"),
        tmp.path().join("tokenizer.json"),
    )
    .expect("copy tokenizer.json");
    let m = Siglip::load(tmp.path(), &LoadOptions::default()).expect("load");
    assert!(!m.tokenizer().is_sentencepiece());
    let e = m.encode_texts(&["a dog".to_string()]).expect("encode");
    assert_eq!(e[0].len(), 32);
}

#[test]
fn missing_tokenizer_is_a_clear_error() {
    let tmp = tempfile::tempdir().expect("tmp");
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(model_dir().join(f), tmp.path().join(f)).expect("copy");
    }
    let err = Siglip::load(tmp.path(), &LoadOptions::default()).expect_err("no tokenizer");
    let msg = err.to_string();
    assert!(matches!(err, Error::Tokenizer(_)), "{msg}");
    assert!(
        msg.contains("spiece.model") && msg.contains("tokenizer.json"),
        "{msg}"
    );
    assert!(msg.contains(&tmp.path().display().to_string()), "{msg}");
    // The image tower alone still loads from the same directory.
    let v = cuelab_models::siglip::SiglipVision::load(tmp.path(), &LoadOptions::default())
        .expect("vision");
    assert_eq!(v.embed_dim(), 32);
}

#[test]
fn corrupt_spiece_model_is_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    let p = tmp.path().join("spiece.model");
    std::fs::write(&p, b"\x0a\xff\xff\xff\x0fnot a model").expect("write");
    let err = SiglipTokenizer::load(tmp.path(), 64).expect_err("corrupt");
    assert!(err.to_string().contains(&p.display().to_string()), "{err}");
}

#[test]
fn vision_only_checkpoint_is_not_a_scorer() {
    // The existing vision-fixture has text weights but no tokenizer: scoring fails clearly,
    // embedding images still works through load_embedder.
    let dir = data().join("siglip-tiny");
    let err = match load_scorer(dir.to_str().expect("utf8"), &LoadOptions::default()) {
        Ok(_) => panic!("scorer without tokenizer"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("spiece.model"), "{err}");
    let e = cuelab_models::load_embedder(dir.to_str().expect("utf8"), &LoadOptions::default())
        .expect("embedder");
    assert_eq!(e.embed_dim(), 32);
}

/// The other SentencePiece normaliser options and user-defined symbols, against the
/// `sentencepiece` library's own `encode` (pieces and ids).
#[test]
fn spiece_variants_match_sentencepiece() {
    let dir = data().join("spiece-variants");
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).expect("read"))
            .expect("parse");
    let probes = r["probes"].as_array().expect("probes");
    let models = r["models"].as_object().expect("models");
    assert_eq!(models.len(), 2);
    for (name, m) in models {
        let sp = SentencePiece::from_file(&dir.join(format!("{name}.model"))).expect("load");
        for (i, p) in probes.iter().enumerate() {
            let text = p.as_str().expect("probe");
            let got = sp.encode(text);
            let pieces: Vec<&str> = got.iter().map(|(s, _)| s.as_str()).collect();
            let want: Vec<&str> = m["pieces"][i]
                .as_array()
                .expect("pieces")
                .iter()
                .map(|x| x.as_str().expect("piece"))
                .collect();
            assert_eq!(pieces, want, "{name}: {text:?}");
            let ids: Vec<u32> = got.iter().map(|(_, id)| *id).collect();
            let want_ids: Vec<u32> = m["ids"][i]
                .as_array()
                .expect("ids")
                .iter()
                .map(|x| x.as_u64().expect("id") as u32)
                .collect();
            assert_eq!(ids, want_ids, "{name}: {text:?}");
        }
    }
}
