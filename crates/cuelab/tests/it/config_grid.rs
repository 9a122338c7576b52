//! TOML experiment files through the CLI: a `cuelab ground` grid with a `[sweep]` expands to
//! exactly the hand-computed variants; flags override the file, which overrides the defaults
//! (for `ground` and for `ask`'s question-answering file); an unknown key, a bad value and a
//! placeholder without sweep values are clear errors (exit 2, naming the key, value or file)
//! that create no run directory.

#![allow(clippy::unwrap_used)]

use crate::fixtures::{cuelab, text, tiny_clip};
use crate::run_identity::scenes;
use std::path::Path;

fn manifest(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap()
}

/// `(method, cues, template, debias, aggregate)` of every variant in a run's manifest.
fn variants(out: &Path) -> Vec<(String, Vec<String>, String, u64, String)> {
    manifest(out)["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let v = &v["variant"];
            (
                v["method"].as_str().unwrap().to_string(),
                v["cues"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_string())
                    .collect(),
                v["template"].as_str().unwrap().to_string(),
                v["debias"].as_u64().unwrap(),
                v["aggregate"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn ground(config: &Path, data: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "ground",
        "--config",
        config.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--limit",
        "1",
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    cuelab(&args)
}

#[test]
fn a_grid_with_a_sweep_expands_to_exactly_the_hand_computed_variants() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = scenes(&tmp.path().join("sc"), 3);
    let data = sc.join("samples.jsonl");
    let config = tmp.path().join("grid.toml");
    // Two cue sets, each filled by the sweep: the first uses {w} only (the {c} axis gives
    // duplicates, dropped), the second {c} only. Baseline runs once.
    std::fs::write(
        &config,
        format!(
            r#"models = ["{}"]
method = ["baseline", "redcircle"]
cues = [["ellipse(color=red,width={{w}})"], ["rect(color={{c}},width=2)", "gray"]]
template = ["This is {{expr}}", "a photo of {{expr}}"]
debias = [0, 2]
aggregate = "max"
seed = 7

[sweep]
w = [2, 3]
c = ["red", "blue"]
"#,
            tiny_clip().display()
        ),
    )
    .unwrap();
    let out = tmp.path().join("run");
    let o = ground(&config, &data, &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Hand-computed: baseline + 4 cue sets x 2 templates x 2 debias sizes x 1 aggregate = 17,
    // in file order (sweep axes in name order: c, then w).
    let canon = |shape: &str, colour: &str, width: u32| {
        format!("{shape}(color={colour},width={width},aa=false,alpha=1)")
    };
    let cue_sets: Vec<Vec<String>> = vec![
        vec![canon("ellipse", "red", 2)],
        vec![canon("ellipse", "red", 3)],
        vec![canon("rect", "red", 2), "gray".into()],
        vec![canon("rect", "blue", 2), "gray".into()],
    ];
    let mut want = vec![(
        "baseline".to_string(),
        Vec::new(),
        "{expr}".to_string(),
        0,
        "mean".to_string(),
    )];
    for cues in &cue_sets {
        for template in ["This is {expr}", "a photo of {expr}"] {
            for debias in [0, 2] {
                want.push((
                    "redcircle".into(),
                    cues.clone(),
                    template.into(),
                    debias,
                    "max".into(),
                ));
            }
        }
    }
    assert_eq!(want.len(), 17);
    let got = variants(&out);
    assert_eq!(got.len(), want.len(), "{got:#?}");
    assert_eq!(got, want);
    // Every variant has a row for the one sample.
    let rows = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert_eq!(rows.lines().count(), 17);
}

#[test]
fn flags_override_the_file_which_overrides_the_defaults() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = scenes(&tmp.path().join("sc"), 3);
    let data = sc.join("samples.jsonl");
    let clip = tiny_clip();
    // The file sets seed, debias (a grid axis), aggregate and method; it leaves out models,
    // template and the text field.
    let config = tmp.path().join("exp.toml");
    std::fs::write(
        &config,
        "method = [\"redcircle\"]\ncues = [[\"rect(color=red,width=2)\"]]\ndebias = [0, 2]\n\
         aggregate = \"max\"\nseed = 7\n",
    )
    .unwrap();

    // File over defaults (models from the flag: a file without `models` is allowed).
    let out = tmp.path().join("file");
    let o = ground(&config, &data, &out, &["--model", clip.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let m = manifest(&out);
    assert_eq!(m["config"]["seed"], 7, "seed from the file");
    assert_eq!(m["config"]["aggregate"], "max", "aggregate from the file");
    assert_eq!(m["config"]["debias"], serde_json::json!([0, 2]));
    assert_eq!(
        m["config"]["template"], "This is {expr}",
        "template from the defaults"
    );
    assert_eq!(m["config"]["text_field"], "sent", "text field default");
    let got = variants(&out);
    assert_eq!(got.len(), 2, "debias axis of the file: {got:?}");
    assert!(got.iter().all(|v| v.0 == "redcircle" && v.4 == "max"));

    // Flags over the file: seed, debias (collapses the axis), aggregate, method, text field.
    let out = tmp.path().join("flags");
    let o = ground(
        &config,
        &data,
        &out,
        &[
            "--model",
            clip.to_str().unwrap(),
            "--seed",
            "9",
            "--debias",
            "1",
            "--aggregate",
            "mean",
            "--method",
            "baseline",
            "--method",
            "redcircle",
            "--text-field",
            "raw",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let m = manifest(&out);
    assert_eq!(m["config"]["seed"], 9);
    assert_eq!(m["config"]["debias"], 1);
    assert_eq!(m["config"]["aggregate"], "mean");
    assert_eq!(m["config"]["text_field"], "raw");
    let got = variants(&out);
    assert_eq!(
        got.iter()
            .map(|v| (v.0.as_str(), v.3, v.4.as_str()))
            .collect::<Vec<_>>(),
        vec![("baseline", 0, "mean"), ("redcircle", 1, "mean")]
    );

    // `ask`: the question-answering file over its defaults, flags over the file.
    let ask_cfg = tmp.path().join("ask.toml");
    std::fs::write(
        &ask_cfg,
        "order = \"keep\"\nseed = 4\nsystem = \"From the file.\"\n",
    )
    .unwrap();
    let ask = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "ask",
            "--data",
            data.to_str().unwrap(),
            "--clip",
            clip.to_str().unwrap(),
            "--task",
            "multiple_choice",
            "--config",
            ask_cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        let o = cuelab(&args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        manifest(out)["config"].clone()
    };
    let c = ask(&tmp.path().join("ask-file"), &[]);
    assert_eq!(
        (&c["order"], &c["seed"], &c["system"]),
        (
            &serde_json::json!("keep"),
            &serde_json::json!(4),
            &serde_json::json!("From the file.")
        )
    );
    assert_eq!(c["count_suffix"], " Answer with a number.", "default");
    let c = ask(
        &tmp.path().join("ask-flags"),
        &["--order", "shuffle", "--seed", "5"],
    );
    assert_eq!(c["order"], "shuffle");
    assert_eq!(c["seed"], 5);
    assert_eq!(c["system"], "From the file.", "not overridden");
}

#[test]
fn unknown_keys_bad_values_and_unfilled_placeholders_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = scenes(&tmp.path().join("sc"), 3);
    let data = sc.join("samples.jsonl");
    let clip = tiny_clip();
    let models = format!("models = [\"{}\"]\n", clip.display());
    let cases: [(&str, String, &[&str]); 6] = [
        (
            "unknown key",
            format!("{models}temprature = 0.5\n"),
            &["unknown field", "temprature"],
        ),
        (
            "unknown method",
            format!("{models}method = [\"bluecircle\"]\n"),
            &["bluecircle"],
        ),
        (
            "bad aggregate",
            format!("{models}aggregate = \"median\"\n"),
            &["median"],
        ),
        (
            "negative debias",
            format!("{models}debias = -1\n"),
            &["debias"],
        ),
        (
            "placeholder without a sweep",
            format!("{models}method = \"redcircle\"\ncues = [[\"ellipse(width={{w}})\"]]\n"),
            &["placeholder with no [sweep] values", "{w}"],
        ),
        (
            "bad cue in a sweep",
            format!(
                "{models}method = \"redcircle\"\ncues = [[\"ellipse(width={{w}})\"]]\n\
                 [sweep]\nw = [2, \"wide\"]\n"
            ),
            &["wide"],
        ),
    ];
    for (i, (name, toml, needles)) in cases.iter().enumerate() {
        let config = tmp.path().join(format!("bad{i}.toml"));
        std::fs::write(&config, toml).unwrap();
        let out = tmp.path().join(format!("run{i}"));
        let o = ground(&config, &data, &out, &[]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: {t}");
        for n in *needles {
            assert!(t.contains(n), "{name}: the error should name {n:?}: {t}");
        }
        assert!(!t.contains("panicked"), "{name}: {t}");
        assert!(!out.join("results.jsonl").exists(), "{name}: a run started");
    }
    // The file's path is named for a parse error.
    let config = tmp.path().join("bad0.toml");
    let o = ground(&config, &data, &tmp.path().join("x"), &[]);
    assert!(text(&o).contains("bad0.toml"), "{}", text(&o));
    // ask's file: unknown key and bad value.
    for (toml, needle) in [
        ("temperature = 0.5\n", "temperature"),
        ("order = \"random\"\n", "random"),
    ] {
        let config = tmp.path().join("ask.toml");
        std::fs::write(&config, toml).unwrap();
        let o = cuelab(&[
            "ask",
            "--data",
            data.to_str().unwrap(),
            "--clip",
            clip.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--out",
            tmp.path().join("ask").to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains(needle), "{}", text(&o));
    }
}
