//! Bounded, seeded fuzzing of every parser that takes user input: each target starts from its
//! committed corpus (`corpus/<target>/`, built by `tools/fuzz/make_corpus.py`) and must return
//! (an error is fine) without panicking on every mutated input. The iteration count comes from
//! `CUELAB_FUZZ_ITERS` (default 6,000 per target, fewer for the file-based and model-loading ones; a few seconds in a dev build); the seed from
//! `CUELAB_FUZZ_SEED` (default 0). Inputs that panic are written to
//! `$CARGO_TARGET_TMPDIR/fuzz-findings/<target>/`.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use cuelab_fuzz::{fuzz, read_corpus, FuzzOptions, FuzzReport};

fn options(default_iters: usize) -> FuzzOptions {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    FuzzOptions {
        iterations: env("CUELAB_FUZZ_ITERS").map_or(default_iters, |n| n as usize),
        seed: env("CUELAB_FUZZ_SEED").unwrap_or(0),
        max_len: 1 << 20,
        findings: Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-findings")),
    }
}

fn corpus(name: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(name);
    let c = read_corpus(&dir).unwrap();
    assert!(!c.is_empty(), "empty corpus {}", dir.display());
    c
}

fn check(report: FuzzReport) {
    println!(
        "{}: {} inputs, {} panics",
        report.target, report.executions, report.panics
    );
    assert_eq!(
        report.panics, 0,
        "{} panicked: {:#?}",
        report.target, report.panic_messages
    );
}

/// Run a path-taking loader on the mutated bytes written to a temporary file named `file`.
fn via_file(name: &str, file: &str, iters: usize, load: impl Fn(&Path)) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(file);
    check(fuzz(name, &corpus(name), &options(iters), |bytes| {
        std::fs::write(&path, bytes).unwrap();
        load(&path);
    }));
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn cue_specs_parse_and_render() {
    let image = image::RgbImage::from_pixel(24, 18, image::Rgb([90, 120, 200]));
    let renderer = cuelab_cue::Renderer::new(&image);
    let target = cuelab_cue::Target {
        region: cuelab_cue::Region::Box(cuelab_cue::BoxXyxy::new(3.0, 4.0, 15.0, 12.0).unwrap()),
        index: 0,
        points: vec![(2.0, 2.0), (10.0, 9.0), (20.0, 15.0)],
        label: Some("dog".into()),
    };
    check(fuzz("cue_spec", &corpus("cue_spec"), &options(6000), |b| {
        if let Ok(recipe) = cuelab_cue::Recipe::parse(&text(b)) {
            // The canonical form parses back to the same recipe.
            let again = cuelab_cue::Recipe::parse(&recipe.to_string()).unwrap();
            assert_eq!(again.to_string(), recipe.to_string());
            let _ = renderer.render(&recipe, &target);
        }
    }));
}

#[test]
fn boxes_rle_and_regions() {
    check(fuzz("box", &corpus("box"), &options(6000), |b| {
        let _ = cuelab_cue::BoxXyxy::parse(&text(b));
    }));
    check(fuzz("rle", &corpus("rle"), &options(6000), |b| {
        if let Ok(r) = cuelab_cue::Rle::from_compressed(7, 9, &text(b)) {
            let _ = r.decode();
        }
    }));
    check(fuzz(
        "region_json",
        &corpus("region_json"),
        &options(6000),
        |b| {
            if let Ok(r) = serde_json::from_slice::<cuelab_cue::Region>(b) {
                let _ = r.bbox();
                if let cuelab_cue::Region::Mask(m) = &r {
                    if u64::from(m.height) * u64::from(m.width) < 1 << 20 {
                        let _ = m.decode();
                    }
                }
            }
        },
    ));
}

#[test]
fn images_decode() {
    check(fuzz("image", &corpus("image"), &options(6000), |b| {
        let _ = cuelab_cue::decode_rgb(b, Path::new("fuzz.bin"));
    }));
}

#[test]
fn dataset_files() {
    via_file("jsonl", "samples.jsonl", 3200, |p| {
        let _ = cuelab_data::jsonl::read(p, false);
        let _ = cuelab_data::jsonl::read(p, true);
    });
    via_file("coco_instances", "instances.json", 2400, |p| {
        let _ = cuelab_data::coco::load_instances(p, None, true);
    });
    via_file("coco_captions", "captions.json", 2400, |p| {
        let _ = cuelab_data::coco::load_captions(p, None, true);
    });
    via_file("karpathy", "dataset_coco.json", 2400, |p| {
        let _ = cuelab_data::coco::load_karpathy(p, None, None, true);
    });
    via_file("caption_results", "results.json", 2400, |p| {
        let _ = cuelab_data::coco::read_results(p);
    });
    via_file("mmvp", "Questions.csv", 2400, |p| {
        let _ = cuelab_data::mmvp::load(p, None, true, true);
        let _ = cuelab_data::mmvp::load(p, None, false, false);
    });
    via_file("mmvp_vlm", "Questions.csv", 2400, |p| {
        let _ = cuelab_data::mmvp::load_vlm(p, None, true);
    });
    via_file("ssv2_labels", "labels.json", 2400, |p| {
        let _ = cuelab_data::ssv2::read_labels(p);
    });
    via_file("refcoco_pickle", "refs(fuzz).p", 3200, |p| {
        let _ = cuelab_data::refcoco::read_refs(p);
    });
    // A whole RefCOCO folder: mutated refs next to valid instances.
    let inst = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cuelab-data/tests/data/refcocog/instances.json");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(&inst, tmp.path().join("instances.json")).unwrap();
    let refs = tmp.path().join("refs(umd).p");
    check(fuzz(
        "refcoco_folder",
        &corpus("refcoco_pickle"),
        &options(1600),
        |b| {
            std::fs::write(&refs, b).unwrap();
            let _ = cuelab_data::refcoco::load(
                &refs,
                &tmp.path().join("instances.json"),
                None,
                None,
                true,
            );
        },
    ));
}

#[test]
fn experiment_configs() {
    check(fuzz(
        "grounding_toml",
        &corpus("grounding_toml"),
        &options(6000),
        |b| {
            if let Ok(cfg) = toml::from_str::<cuelab_tasks::experiment::GroundingConfig>(&text(b)) {
                if let Ok(v) = cfg.variants() {
                    assert!(!v.is_empty(), "an Ok grid is never empty");
                }
                let _ = cfg.hash();
            }
        },
    ));
}

#[test]
fn model_files_and_tokenizers() {
    let device = cuelab_models::Device::Cpu;
    via_file("safetensors", "model.safetensors", 6000, |p| {
        let _ = cuelab_models::weights::Weights::load(p, &device);
    });
    via_file("spiece", "spiece.model", 2400, |p| {
        let _ = cuelab_models::spiece::SentencePiece::from_file(p);
    });
    let bpe = cuelab_models::bpe::BpeTokenizer::openai().unwrap();
    // SigLIP's tokenizers: SentencePiece (`spiece.model`) and `tokenizer.json` (Unigram).
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cuelab-models/tests/data");
    let siglip: Vec<_> = ["siglip-text-tiny", "siglip-text-tiny-json"]
        .iter()
        .map(|d| {
            cuelab_models::siglip_tokenizer::SiglipTokenizer::load(&models.join(d), 64).unwrap()
        })
        .collect();
    check(fuzz("text", &corpus("text"), &options(6000), |b| {
        let t = text(b);
        let _ = bpe.encode(&t, true);
        let _ = bpe.encode_plain(&t);
        for tok in &siglip {
            let _ = tok.encode(&t);
            let _ = tok.encode_batch(std::slice::from_ref(&t));
        }
    }));
    // config.json next to real (tiny) weights: mutated configs must be refused cleanly.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cuelab-models/tests/data");
    let tmp = tempfile::tempdir().unwrap();
    for name in ["clip-vit-tiny", "dinov2-tiny"] {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for f in std::fs::read_dir(src.join(name)).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, dir.join(f.file_name().unwrap())).unwrap();
        }
    }
    let opts = cuelab_models::LoadOptions::default();
    check(fuzz(
        "config_json",
        &corpus("config_json"),
        &options(600),
        |b| {
            for name in ["clip-vit-tiny", "dinov2-tiny"] {
                let dir = tmp.path().join(name);
                std::fs::write(dir.join("config.json"), b).unwrap();
                let _ = cuelab_models::load_embedder(dir.to_str().unwrap(), &opts);
            }
        },
    ));
}

#[test]
fn lora_headers() {
    // The header-only reader of the LoRA planner (`cuelab lora-plan`): shapes, the target
    // matrices of every projection with and without the vision blocks, and their parameters.
    via_file("lora_header", "model.safetensors", 2400, |p| {
        use cuelab_models::qwen3_vl::lora_shapes as ls;
        let _ = ls::safetensors_shapes(p);
        let dir = p.parent().unwrap();
        for (targets, vision) in [
            (&ls::Projection::ALL[..], true),
            (&[ls::Projection::Q][..], false),
        ] {
            if let Ok(m) = ls::lora_targets(dir, targets, vision) {
                for rank in [1, 64, usize::MAX] {
                    let _ = ls::trainable_params(&m, rank);
                }
            }
        }
    });
}

#[test]
fn run_configs() {
    // The TOML files of `ask` / `mmvp` (`--config`), `caption` (`--config`), the probes
    // (`probe count|preprocess|boxtool --config`) and every remote backend (`--backend-config`):
    // parsed, validated, expanded and hashed as the commands do, and a valid backend's prompt
    // templates filled in.
    let question = cuelab_vlm::Question {
        id: "q".into(),
        system: None,
        text: "Which {options} is {question}?".into(),
        images: Vec::new(),
        choices: vec!["a dog".into(), "{question}".into(), String::new()],
    };
    let backend = serde_json::json!({"model": "m"});
    // The seeds are valid files of each kind, so mutations start from inputs that get far.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/run_toml");
    let ask = cuelab_tasks::vqa::config::VqaConfig::from_toml_file(&dir.join("ask.toml")).unwrap();
    assert_eq!(ask.variants().unwrap().len(), 2);
    let caption = cuelab_tasks::caption::CaptionConfig::from_toml_file(&dir.join("caption.toml"));
    assert_eq!(caption.unwrap().cells().unwrap().len(), 2 * 3 * 2);
    let remote: cuelab_vlm::remote::config::RemoteConfig =
        toml::from_str(&std::fs::read_to_string(dir.join("backend.toml")).unwrap()).unwrap();
    remote.validate().unwrap();
    let probe = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let count: cuelab_tasks::probe::count::CountConfig =
        toml::from_str(&probe("probe_count.toml")).unwrap();
    count.presentations().unwrap();
    let pre: cuelab_tasks::probe::preprocess::PreprocessConfig =
        toml::from_str(&probe("probe_preprocess.toml")).unwrap();
    assert_eq!(pre.transforms().unwrap().len(), 8);
    let _: cuelab_tasks::probe::boxtool::BoxtoolConfig =
        toml::from_str(&probe("probe_boxtool.toml")).unwrap();
    via_file("run_toml", "run.toml", 2400, |p| {
        if let Ok(c) = cuelab_tasks::vqa::config::VqaConfig::from_toml_file(p) {
            if c.variants().is_ok() {
                let _ = c.hash(&backend);
            }
        }
        if let Ok(c) = cuelab_tasks::caption::CaptionConfig::from_toml_file(p) {
            let _ = c.gen_specs();
            let _ = c.recipes();
            if c.cells().is_ok() {
                let _ = c.hash(&backend);
            }
        }
        // (not UTF-8: an error in the commands too)
        let text = std::fs::read_to_string(p).unwrap_or_default();
        // `probe count|preprocess|boxtool --config`
        if let Ok(c) = toml::from_str::<cuelab_tasks::probe::count::CountConfig>(&text) {
            let _ = c.presentations();
        }
        if let Ok(c) = toml::from_str::<cuelab_tasks::probe::preprocess::PreprocessConfig>(&text) {
            let _ = c.transforms();
        }
        let _ = toml::from_str::<cuelab_tasks::probe::boxtool::BoxtoolConfig>(&text);
        if let Ok(r) = toml::from_str::<cuelab_vlm::remote::config::RemoteConfig>(&text) {
            if r.validate().is_ok() {
                let _ = r.timeout();
                let _ = cuelab_vlm::remote::prompt::user_text(&r.template, r.mode, &question);
            }
        }
    });
}
