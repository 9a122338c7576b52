//! Model configuration files: serde parsing with the reference defaults, `null` as absent, and
//! `validate()` refusing impossible sizes with an error that names the file and the key — never
//! a panic.

use std::path::{Path, PathBuf};

use crate::fixtures::data;
use cuelab_models::clip_vit::ClipVitConfig;
use cuelab_models::dinov2::Dinov2Config;
use cuelab_models::open_clip::OpenClipConfig;
use cuelab_models::siglip::{SiglipTextConfig, SiglipVisionConfig};
use cuelab_models::{load_embedder, load_scorer, Error, LoadOptions};
use serde_json::{json, Value};

/// A copy of a fixture directory whose config file `name` has `edit` applied.
fn edited(fixture: &str, name: &str, edit: impl FnOnce(&mut Value)) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    for e in std::fs::read_dir(data().join(fixture)).expect("fixture") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), tmp.path().join(e.file_name())).expect("copy");
    }
    let path = tmp.path().join(name);
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    edit(&mut v);
    std::fs::write(&path, serde_json::to_string_pretty(&v).expect("ser")).expect("write");
    tmp
}

/// The error of loading `dir` as an image embedder.
fn embedder_error(dir: &Path) -> Error {
    let reference = dir.to_str().expect("utf8");
    match load_embedder(reference, &LoadOptions::default()) {
        Ok(_) => panic!("{reference}: loaded as an embedder"),
        Err(e) => e,
    }
}

/// The error of loading `dir` as an image-text scorer.
fn scorer_error(dir: &Path) -> Error {
    let reference = dir.to_str().expect("utf8");
    match load_scorer(reference, &LoadOptions::default()) {
        Ok(_) => panic!("{reference}: loaded as a scorer"),
        Err(e) => e,
    }
}

/// The config error of loading `dir` as a scorer and as an embedder (both must agree).
fn load_error(dir: &Path) -> Error {
    let embedder = embedder_error(dir).to_string();
    let e = scorer_error(dir);
    assert_eq!(e.to_string(), embedder);
    e
}

/// Assert `err` is a config error for `key` of `file`, and return its message.
fn config_key(err: &Error, file: &Path, key: &str) -> String {
    match err {
        Error::Config { path, key: k, .. } => {
            assert_eq!(path, file, "{err}");
            assert_eq!(k, key, "{err}");
        }
        other => panic!("expected a config error for `{key}`, got {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(key) && msg.contains(&*file.to_string_lossy()),
        "{msg}"
    );
    msg
}

fn clip_config(dir: &Path) -> PathBuf {
    dir.join("config.json")
}

#[test]
fn clip_zero_or_non_dividing_heads_name_the_key() {
    let tmp = edited("clip-vit-tiny", "config.json", |v| {
        v["text_config"]["num_attention_heads"] = json!(0);
    });
    let msg = config_key(
        &load_error(tmp.path()),
        &clip_config(tmp.path()),
        "text_config.num_attention_heads",
    );
    assert!(msg.contains("must divide text_config.hidden_size"), "{msg}");

    // hidden 32 is not a multiple of 5 heads
    let tmp = edited("clip-vit-tiny", "config.json", |v| {
        v["vision_config"]["num_attention_heads"] = json!(5);
    });
    let msg = config_key(
        &load_error(tmp.path()),
        &clip_config(tmp.path()),
        "vision_config.num_attention_heads",
    );
    assert!(msg.contains("5 heads for width 32"), "{msg}");

    let tmp = edited("clip-vit-tiny", "config.json", |v| {
        v["vision_config"]["patch_size"] = json!(30);
    });
    config_key(
        &load_error(tmp.path()),
        &clip_config(tmp.path()),
        "vision_config.patch_size",
    );

    // 2^40 patches per side: the position table's size would overflow
    let tmp = edited("clip-vit-tiny", "config.json", |v| {
        v["vision_config"]["image_size"] = json!(1u64 << 40);
        v["vision_config"]["patch_size"] = json!(1);
    });
    let msg = config_key(
        &load_error(tmp.path()),
        &clip_config(tmp.path()),
        "vision_config.image_size",
    );
    assert!(msg.contains("too large"), "{msg}");

    let tmp = edited("clip-vit-tiny", "config.json", |v| {
        v["text_config"]["max_position_embeddings"] = json!(0);
    });
    config_key(
        &load_error(tmp.path()),
        &clip_config(tmp.path()),
        "text_config.max_position_embeddings",
    );
}

#[test]
fn clip_values_of_the_wrong_type_name_the_key() {
    for (section, key, value) in [
        ("vision_config", "patch_size", json!("32")),
        ("text_config", "num_hidden_layers", json!(-2)),
        ("text_config", "layer_norm_eps", json!("small")),
        ("vision_config", "hidden_act", json!("swish")),
        ("text_config", "intermediate_size", json!(64.5)),
    ] {
        let tmp = edited("clip-vit-tiny", "config.json", |v| {
            v[section][key] = value.clone();
        });
        config_key(
            &load_error(tmp.path()),
            &clip_config(tmp.path()),
            &format!("{section}.{key}"),
        );
    }
    let tmp = edited("clip-vit-tiny", "config.json", |v| {
        v["projection_dim"] = json!([16]);
    });
    config_key(
        &load_error(tmp.path()),
        &clip_config(tmp.path()),
        "projection_dim",
    );
}

#[test]
fn malformed_json_names_the_file() {
    for text in ["", "{\"model_type\": \"clip\", ", "[1, 2]", "not json"] {
        let tmp = edited("clip-vit-tiny", "config.json", |_| {});
        let path = clip_config(tmp.path());
        std::fs::write(&path, text).expect("write");
        let err = ClipVitConfig::from_file(&path).expect_err(text);
        let msg = err.to_string();
        assert!(msg.contains(&*path.to_string_lossy()), "{text:?}: {msg}");
        assert!(
            matches!(
                err,
                Error::Config { .. } | Error::UnsupportedArchitecture { .. }
            ),
            "{text:?}: {msg}"
        );
        // The loaders dispatch on the same file and name it.
        let msg = scorer_error(tmp.path()).to_string();
        assert!(msg.contains(&*path.to_string_lossy()), "{text:?}: {msg}");
    }
}

#[test]
fn clip_absent_and_null_keys_take_transformers_defaults() {
    let tmp = edited("clip-vit-tiny", "config.json", |v| {
        let t = v["text_config"].as_object_mut().expect("text_config");
        t.remove("layer_norm_eps");
        t.remove("hidden_act");
        v["vision_config"]["layer_norm_eps"] = Value::Null;
    });
    let c = ClipVitConfig::from_file(&clip_config(tmp.path())).expect("defaults");
    assert_eq!((c.text_eps, c.vision_eps), (1e-5, 1e-5));
    assert_eq!(c.text_act, cuelab_models::Act::QuickGelu);
    assert_eq!(c.text_hidden, 32);

    // A config with only a model type is CLIP ViT-B/32's.
    let path = clip_config(tmp.path());
    std::fs::write(&path, r#"{"model_type": "clip"}"#).expect("write");
    let c = ClipVitConfig::from_file(&path).expect("all defaults");
    assert_eq!(
        (
            c.text_hidden,
            c.vision_hidden,
            c.patch_size,
            c.projection_dim
        ),
        (512, 768, 32, 512)
    );
    assert_eq!(c.eos_token_id, None);
}

#[test]
fn validate_refuses_a_config_changed_after_parsing() {
    let path = clip_config(&data().join("clip-vit-tiny"));
    let mut c = ClipVitConfig::from_file(&path).expect("fixture");
    c.validate(&path).expect("fixture is valid");
    c.text_hidden = 30;
    let msg = config_key(
        &c.validate(&path).expect_err("30 / 4"),
        &path,
        "text_config.num_attention_heads",
    );
    assert!(msg.contains("4 heads for width 30"), "{msg}");
}

#[test]
fn open_clip_bad_sizes_name_the_key() {
    let file = |d: &Path| d.join("open_clip_config.json");
    let tmp = edited("clip-rn-tiny", "open_clip_config.json", |v| {
        v["model_cfg"]["text_cfg"]["heads"] = json!(3);
    });
    let err = OpenClipConfig::from_file(&file(tmp.path())).expect_err("8 / 3");
    config_key(&err, &file(tmp.path()), "model_cfg.text_cfg.heads");
    config_key(
        &load_error(tmp.path()),
        &file(tmp.path()),
        "model_cfg.text_cfg.heads",
    );

    let tmp = edited("clip-rn-tiny", "open_clip_config.json", |v| {
        v["model_cfg"]["vision_cfg"]["width"] = json!(-6);
    });
    config_key(
        &load_error(tmp.path()),
        &file(tmp.path()),
        "model_cfg.vision_cfg.width",
    );

    let tmp = edited("clip-rn-tiny", "open_clip_config.json", |v| {
        v["model_cfg"]["vision_cfg"]["image_size"] = json!(50);
    });
    config_key(
        &load_error(tmp.path()),
        &file(tmp.path()),
        "model_cfg.vision_cfg.image_size",
    );

    let tmp = edited("clip-rn-tiny", "open_clip_config.json", |v| {
        v["model_cfg"]
            .as_object_mut()
            .expect("model_cfg")
            .remove("embed_dim");
    });
    let msg = config_key(&load_error(tmp.path()), &file(tmp.path()), "model_cfg");
    assert!(msg.contains("embed_dim"), "{msg}");

    // open_clip ViT towers: the patch must divide the image, the head width the width.
    let tmp = edited("open-clip-vit-tiny", "open_clip_config.json", |v| {
        v["model_cfg"]["vision_cfg"]["patch_size"] = json!(7);
    });
    config_key(
        &load_error(tmp.path()),
        &file(tmp.path()),
        "model_cfg.vision_cfg.patch_size",
    );
    let tmp = edited("open-clip-vit-tiny", "open_clip_config.json", |v| {
        v["model_cfg"]["vision_cfg"]["head_width"] = json!(0);
    });
    config_key(
        &load_error(tmp.path()),
        &file(tmp.path()),
        "model_cfg.vision_cfg.head_width",
    );
    let tmp = edited("open-clip-vit-tiny", "open_clip_config.json", |v| {
        v["model_cfg"]["vision_cfg"]["mlp_ratio"] = json!("four");
    });
    config_key(
        &load_error(tmp.path()),
        &file(tmp.path()),
        "model_cfg.vision_cfg.mlp_ratio",
    );
}

#[test]
fn open_clip_bare_config_and_defaults() {
    // A bare model config (no `model_cfg` wrapper) parses the same.
    let nested = OpenClipConfig::from_file(&data().join("clip-rn-tiny/open_clip_config.json"))
        .expect("fixture");
    let tmp = edited("clip-rn-tiny", "open_clip_config.json", |v| {
        *v = v["model_cfg"].clone();
    });
    let bare =
        OpenClipConfig::from_file(&tmp.path().join("open_clip_config.json")).expect("bare config");
    assert_eq!(bare, nested);
    assert_eq!(bare.mlp_ratio, 4.0);
    let vit = OpenClipConfig::from_file(&data().join("open-clip-vit-tiny/open_clip_config.json"))
        .expect("vit fixture");
    let v = vit.vit.as_ref().expect("a ViT tower");
    assert_eq!(
        (v.patch_size, v.width, v.head_width, v.layers),
        (8, 16, 8, 2)
    );
    assert_eq!(vit.image_size, 32);
}

#[test]
fn dinov2_and_siglip_bad_sizes_name_the_key() {
    let tmp = edited("dinov2-tiny", "config.json", |v| {
        v["num_attention_heads"] = json!(0);
    });
    config_key(
        &embedder_error(tmp.path()),
        &clip_config(tmp.path()),
        "num_attention_heads",
    );
    let tmp = edited("dinov2-tiny", "config.json", |v| {
        v["patch_size"] = json!(0);
    });
    let path = clip_config(tmp.path());
    let err = Dinov2Config::from_value(&path, &crate::fixtures::json(&path)).expect_err("patch 0");
    config_key(&err, &path, "patch_size");

    let tmp = edited("siglip-text-tiny", "config.json", |v| {
        v["vision_config"]["patch_size"] = json!(15);
    });
    let path = clip_config(tmp.path());
    let err =
        SiglipVisionConfig::from_value(&path, &crate::fixtures::json(&path)).expect_err("64 / 15");
    config_key(&err, &path, "vision_config.patch_size");
    config_key(&load_error(tmp.path()), &path, "vision_config.patch_size");

    let tmp = edited("siglip-text-tiny", "config.json", |v| {
        v["text_config"]["vocab_size"] = json!(0);
    });
    let path = clip_config(tmp.path());
    let err = SiglipTextConfig::from_value(&path, &crate::fixtures::json(&path)).expect_err("0");
    config_key(&err, &path, "text_config.vocab_size");
    // (the image tower alone does not read text_config)
    config_key(&scorer_error(tmp.path()), &path, "text_config.vocab_size");
}

#[test]
fn from_weights_validates_a_config_built_in_code() {
    let d = data().join("clip-rn-tiny");
    let file = d.join("open_clip_config.json");
    let mut cfg = OpenClipConfig::from_file(&file).expect("fixture");
    cfg.text_heads = 3;
    let w = cuelab_models::weights::Weights::load(
        &d.join("model.safetensors"),
        &cuelab_models::Device::Cpu,
    )
    .expect("weights");
    let err =
        match cuelab_models::open_clip::OpenClip::from_weights(&d, cfg, w, &LoadOptions::default())
        {
            Ok(_) => panic!("3 heads do not divide width 8"),
            Err(e) => e,
        };
    config_key(&err, &file, "model_cfg.text_cfg.heads");
}
