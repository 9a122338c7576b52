#![allow(clippy::unwrap_used)]
//! End-to-end `cuelab probe surprisal` and `cuelab lora-plan` on the synthetic scenes with the
//! tiny random-weight Qwen3-VL: the run directory and table, resuming, the plan from the run
//! directory, from the JSONL directly and from --bits, and bad input (exit 2, clear message).

use crate::fixtures::{cuelab, models_data, text};

fn model() -> String {
    models_data().join("qwen3-vl-tiny").display().to_string()
}

#[test]
fn surprisal_then_lora_plan_on_the_scenes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let scenes = dir.join("scenes");
    let o = cuelab(
        &["scenes", "-n", "3", "--pairs", "0", "--clips", "0", "-o"]
            .into_iter()
            .chain([scenes.to_str().unwrap()])
            .collect::<Vec<_>>(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let data = scenes.join("samples.jsonl");
    let run = dir.join("run");
    let args = [
        "probe",
        "surprisal",
        "--model",
        &model(),
        "--data",
        data.to_str().unwrap(),
        "--cue",
        "plain",
        "--cue",
        "rect(color=red,width=3)",
        "-o",
        run.to_str().unwrap(),
    ];
    let o = cuelab(&args);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("ans b/tok") && t.contains("dataset:"), "{t}");
    assert!(t.contains("vs plain: answer bits/token"), "{t}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    let bits = summary["dataset_bits"].as_f64().unwrap();
    assert!(bits > 0.0);
    // resumed: same table, nothing recomputed
    let results = std::fs::read_to_string(run.join("results.jsonl")).unwrap();
    let o = cuelab(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(run.join("results.jsonl")).unwrap(),
        results
    );

    // the report has a surprisal section
    let page = dir.join("report.html");
    let o = cuelab(&[
        "report",
        run.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("id=\"section-surprisal\""),
        "no surprisal section"
    );
    assert!(html.contains("dataset information"));

    // the plan from the run directory
    let js = dir.join("plan.json");
    let o = cuelab(&[
        "lora-plan",
        "--model",
        &model(),
        "--data",
        run.to_str().unwrap(),
        "--rank",
        "1,2,4,8,16,32",
        "--targets",
        "q,k,v,o,gate,up,down",
        "--json",
        js.to_str().unwrap(),
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("smallest rank"), "{t}");
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&js).unwrap()).unwrap();
    assert_eq!(plan["information_bits"].as_f64().unwrap(), bits);
    assert_eq!(plan["ranks"][0]["params"], 3648);
    // smallest rank r with r * 3648 * 2 bits >= 2 * information
    let want = [1u64, 2, 4, 8, 16, 32]
        .into_iter()
        .find(|r| (r * 3648 * 2) as f64 >= 2.0 * bits);
    assert_eq!(plan["chosen_rank"].as_u64(), want, "{t}");

    // the plan measuring the JSONL itself (plain only) gives the same information
    let o = cuelab(&[
        "lora-plan",
        "--model",
        &model(),
        "--data",
        data.to_str().unwrap(),
        "-o",
        dir.join("plain-run").to_str().unwrap(),
        "--json",
        js.to_str().unwrap(),
        "--vision",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&js).unwrap()).unwrap();
    assert!((plan["information_bits"].as_f64().unwrap() - bits).abs() < 1e-6);
    assert_eq!(plan["vision_matrices"], 16);
}

#[test]
fn lora_plan_and_surprisal_refuse_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let o = cuelab(&[
        "lora-plan",
        "--model",
        &model(),
        "--bits",
        "1000",
        "--targets",
        "q,qkv",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("unknown LoRA target `qkv`"),
        "{}",
        text(&o)
    );
    let o = cuelab(&[
        "lora-plan",
        "--model",
        &model(),
        "--bits",
        "1000",
        "--rank",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("ranks must be positive"), "{}", text(&o));
    let o = cuelab(&["lora-plan", "--model", &model(), "--bits", "1000"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("given with --bits"));
    let o = cuelab(&[
        "lora-plan",
        "--model",
        &model(),
        "--data",
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no summary.json"), "{}", text(&o));
    // a data file with nothing to measure
    let data = tmp.path().join("d.jsonl");
    std::fs::write(
        &data,
        "{\"id\":\"g\",\"dataset\":\"x\",\"task\":\"grounding\",\"image\":\"a.png\"}\n",
    )
    .unwrap();
    let o = cuelab(&[
        "probe",
        "surprisal",
        "--model",
        &model(),
        "--data",
        data.to_str().unwrap(),
        "-o",
        tmp.path().join("r").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no example to measure"), "{}", text(&o));
}
