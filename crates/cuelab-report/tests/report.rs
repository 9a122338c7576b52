//! The report, end to end: pages rendered from the demo's real run directories (committed
//! under tests/data/demo, written by `cuelab demo` with the bundled tiny CLIP) and from
//! synthetic runs, checked as text and loaded in headless Chromium (no console errors; the
//! expected sections, tables and images in the DOM Chromium dumps; a screenshot saved).
//!
//! Chromium comes from `tools/ci/install-chromium.sh`. Without it the browser checks are
//! skipped with a message, except under CI (env `CI` set), where a missing Chromium fails.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use cuelab_report::{render, synth, write, Options};

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// The Chromium binary, or `None` (skip) when absent outside CI.
fn chromium() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("CHROMIUM").map(PathBuf::from),
        Some(PathBuf::from("/usr/bin/chromium")),
        Some(PathBuf::from("/usr/bin/chromium-browser")),
    ];
    if let Some(p) = candidates.into_iter().flatten().find(|p| p.is_file()) {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() {
        panic!("CI is set but Chromium is missing: run `bash tools/ci/install-chromium.sh` first");
    }
    eprintln!("SKIPPED browser check: Chromium not found (install it with `bash tools/ci/install-chromium.sh`)");
    None
}

/// What Chromium made of a page.
struct Loaded {
    dom: String,
    console: Vec<String>,
    seconds: f64,
}

fn chromium_args(profile: &Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1280,2200",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}

/// Load `page` in Chromium: dump the DOM, then save a screenshot to `png`.
fn load(chrome: &Path, page: &Path, png: &Path) -> Loaded {
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let t0 = std::time::Instant::now();
    let out = Command::new(chrome)
        .args(chromium_args(profile.path()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("run chromium");
    let seconds = t0.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "chromium failed: {stderr}");
    let console: Vec<String> = stderr
        .lines()
        .filter(|l| l.contains("CONSOLE"))
        .map(str::to_string)
        .collect();
    let shot = Command::new(chrome)
        .args(chromium_args(profile.path()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(
        shot.status.success(),
        "chromium screenshot failed: {}",
        String::from_utf8_lossy(&shot.stderr)
    );
    assert!(png.is_file(), "no screenshot at {}", png.display());
    Loaded {
        dom: String::from_utf8_lossy(&out.stdout).to_string(),
        console,
        seconds,
    }
}

fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

/// Where screenshots are kept for a look after the test.
fn shot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// Checks every page must pass as text: one file, nothing loaded from the network, one script.
fn check_self_contained(html: &str) {
    for bad in [
        "src=\"http",
        "href=\"http",
        "url(http",
        "@import",
        "<link",
        "src=\"//",
    ] {
        assert!(!html.contains(bad), "page refers to the network: {bad}");
    }
    assert_eq!(count(html, "<script"), 1, "exactly one (inline) script");
    assert!(html.contains("Content-Security-Policy"));
}

#[test]
fn demo_runs_report_in_chromium() {
    let demo = data().join("demo");
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("report.html");
    let opts = Options {
        title: Some("demo runs".into()),
        samples: vec![demo.join("scenes/samples.jsonl")],
        ..Default::default()
    };
    let runs = vec![
        demo.join("grounding"),
        demo.join("questions"),
        data().join("captions"),
    ];
    write(&runs, &page, &opts).unwrap();
    let html = std::fs::read_to_string(&page).unwrap();
    check_self_contained(&html);
    // Headline numbers exactly as summary.json (4 decimals shown, full value in the title).
    let gs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(demo.join("grounding/summary.json")).unwrap(),
    )
    .unwrap();
    let acc = gs["variants"][1]["all"]["acc_05"]["mean"].as_f64().unwrap();
    assert!(
        html.contains(&format!("{acc:.4}")),
        "Acc@0.5 of the cued variant"
    );
    assert!(html.contains(&format!(
        "mean {}",
        gs["variants"][1]["all"]["acc_05"]["mean"]
    )));
    let qs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(demo.join("questions/summary.json")).unwrap(),
    )
    .unwrap();
    let qacc = qs["variants"][0]["all"]["accuracy"]["mean"]
        .as_f64()
        .unwrap();
    assert!(html.contains(&format!("{qacc:.4}")));

    let Some(chrome) = chromium() else { return };
    let png = shot_path("demo-report.png");
    let loaded = load(&chrome, &page, &png);
    assert!(
        loaded.console.is_empty(),
        "console messages: {:?}",
        loaded.console
    );
    let dom = &loaded.dom;
    for id in [
        "section-grounding",
        "section-questions",
        "section-captions",
        "section-manifest",
    ] {
        assert!(
            dom.contains(&format!("id=\"{id}\"")),
            "section {id} in the DOM"
        );
    }
    assert!(
        count(dom, "<table class=\"headline\"") >= 3,
        "a headline table per run"
    );
    assert!(
        count(dom, "<table class=\"paired\"") >= 2,
        "paired comparisons"
    );
    assert!(count(dom, "<figure class=\"plot\"><svg") >= 8, "plots");
    assert!(
        count(dom, "<img src=\"data:image/jpeg;base64,") >= 12,
        "thumbnails"
    );
    assert!(count(dom, "<rect class=\"gt\"") >= 6, "ground-truth boxes");
    assert!(count(dom, "<rect class=\"pred0\"") >= 6, "predicted boxes");
    assert!(count(dom, "class=\"card\"") >= 12, "gallery cards");
    assert!(dom.contains("Worst failures") && dom.contains("Flips:"));
    assert!(dom.contains("config hash") && dom.contains("manifest.json verbatim"));
    // The optional script ran: filter boxes are visible.
    assert!(
        dom.contains("class=\"filter\" placeholder")
            && !dom.contains("placeholder=\"filter cards…\" hidden")
    );
    eprintln!(
        "demo report: {} bytes, Chromium load+dump {:.2} s, screenshot {}",
        html.len(),
        loaded.seconds,
        png.display()
    );
}

#[test]
fn hostile_strings_are_escaped_and_stay_text() {
    let tmp = tempfile::tempdir().unwrap();
    synth::write_runs(tmp.path(), 30, 160, 120, 1).unwrap();
    let page = tmp.path().join("report.html");
    let opts = Options {
        title: Some(format!("title {}", synth::HOSTILE)),
        ..Default::default()
    };
    write(
        &[tmp.path().join("grounding"), tmp.path().join("questions")],
        &page,
        &opts,
    )
    .unwrap();
    let html = std::fs::read_to_string(&page).unwrap();
    check_self_contained(&html);
    assert!(!html.contains("<script>alert(1)"));
    assert!(!html.contains("<b>odd</b>"));
    assert!(!html.contains("<cue>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &quot;&amp;&#39;"));
    assert!(html.contains("red circle &lt;cue&gt;"));

    let Some(chrome) = chromium() else { return };
    let loaded = load(&chrome, &page, &shot_path("hostile.png"));
    assert!(
        loaded.console.is_empty(),
        "console messages: {:?}",
        loaded.console
    );
    // In the DOM the hostile text is text: still one script element, no <b> from data.
    assert_eq!(count(&loaded.dom, "<script"), 1);
    assert!(!loaded.dom.contains("<b>odd</b>"));
    assert!(loaded.dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[test]
fn several_runs_are_compared_by_sample_id() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    synth::write_runs(a.path(), 40, 96, 72, 1).unwrap();
    synth::write_runs(b.path(), 40, 96, 72, 2).unwrap();
    let html = render(
        &[a.path().join("grounding"), b.path().join("grounding")],
        &Options::default(),
    )
    .unwrap();
    assert!(html.contains("Paired comparisons across runs"));
    // Four arms (two variants in each run) against the first: three rows, 40 matched each.
    let table = html.split("<table class=\"paired\">").nth(1).unwrap();
    let table = table.split("</table>").next().unwrap();
    assert_eq!(count(table, "<tr>"), 4, "header and three arms");
    assert_eq!(count(table, "<td class=\"num\">40</td>"), 3);
    // Same directory name twice: labels made unique.
    assert!(html.contains("grounding (2)") || html.contains("/grounding"));
}

#[test]
fn a_directory_that_is_not_a_run_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let err = render(&[tmp.path().to_path_buf()], &Options::default()).unwrap_err();
    assert!(err.to_string().contains("not a run directory"), "{err}");
    assert!(render(&[], &Options::default()).is_err());
}

/// The HTML of the section `id` (up to the next section).
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("section {id} missing"));
    let rest = &html[start..];
    let end = rest[1..].find("<section").map_or(rest.len(), |e| e + 1);
    &rest[..end]
}

/// The table rows of `html` whose first cells are `cells`.
fn rows_with<'a>(html: &'a str, cells: &[&str]) -> Vec<&'a str> {
    let prefix: String = cells.iter().map(|c| format!("<td>{c}</td>")).collect();
    html.split("<tr>")
        .map(|r| r.split("</tr>").next().unwrap_or(""))
        .filter(|r| r.starts_with(&prefix))
        .collect()
}

fn summary_of(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn four(v: &serde_json::Value) -> String {
    format!("{:.4}", v.as_f64().unwrap())
}

#[test]
fn probe_runs_report_in_chromium() {
    // Real probe run directories (tools/report/make-probe-fixtures.sh): count with the tiny
    // CLIP, count+list and preprocess with the tiny Qwen3-VL, preprocess with CLIP, boxtool.
    let probes = data().join("probes");
    let names = [
        "count",
        "listing",
        "preprocess",
        "preprocess-local",
        "boxtool",
    ];
    let runs: Vec<PathBuf> = names.iter().map(|n| probes.join(n)).collect();
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("report.html");
    write(&runs, &page, &Options::default()).unwrap();
    let html = std::fs::read_to_string(&page).unwrap();
    check_self_contained(&html);
    assert!(
        !html.contains("id=\"section-other\""),
        "every probe run has its section"
    );

    // count: each presentation's MAE and bias as summary.json, the curve plotted and tabled
    let counting = section(&html, "section-probe-count");
    let s = summary_of(&probes.join("count"));
    for v in s["variants"].as_array().unwrap() {
        let label = v["label"].as_str().unwrap();
        // the headline row (the paired table's rows come after it)
        let row = rows_with(counting, &["count", label]);
        assert!(
            row[0].contains(&four(&v["count"]["mae"]["mean"])),
            "{label} MAE: {}",
            row[0]
        );
        assert!(
            row[0].contains(&four(&v["count"]["bias"]["mean"])),
            "{label} bias"
        );
    }
    assert!(counting.contains("Exact count accuracy by true count N"));
    let crowd = s["variants"][0]["curve"]
        .as_array()
        .unwrap()
        .last()
        .unwrap();
    assert!(counting.contains(&format!("<td class=\"num\">{}</td>", crowd["n"])));
    // listing: precision/recall/F1 of the listing run, and the paired test with its flip rate
    let l = summary_of(&probes.join("listing"));
    let plain = rows_with(counting, &["listing", "plain"]);
    assert!(
        plain[0].contains(&four(&l["variants"][0]["listing"]["f1"]["mean"])),
        "{}",
        plain[0]
    );
    let vs = &l["vs_reference"][0];
    let row = rows_with(counting, &["listing", "som", "plain"]);
    assert_eq!(row.len(), 1);
    assert!(row[0].contains(&four(&vs["flip_rate"])));

    // preprocess: per-transform accuracy, flip rate and McNemar against identity, visual tokens
    let pre = section(&html, "section-probe-preprocess");
    assert!(pre.contains("Exact count accuracy per transform"));
    let p = summary_of(&probes.join("preprocess"));
    for t in p["vs_reference"].as_array().unwrap() {
        let arm = t["arm"].as_str().unwrap();
        let row = rows_with(pre, &["preprocess", arm]);
        assert!(!row.is_empty(), "{arm}");
        assert!(row[0].contains(&four(&t["flip_rate"])), "{arm}: {}", row[0]);
        assert!(row[0].contains(&format!(
            "{}/{}",
            t["mcnemar"]["b_only"], t["mcnemar"]["a_only"]
        )));
    }
    let local = summary_of(&probes.join("preprocess-local"));
    for v in local["variants"].as_array().unwrap() {
        let label = v["label"].as_str().unwrap();
        let row = rows_with(pre, &["preprocess-local", label]);
        assert!(
            row[0].contains(&four(&v["visual_tokens"])),
            "{label}: {}",
            row[0]
        );
    }

    // boxtool: arms, parse rate in the run's format, box quality, turns
    let bt = section(&html, "section-probe-boxtool");
    let b = summary_of(&probes.join("boxtool"));
    for a in b["arms"].as_array().unwrap() {
        let row = rows_with(bt, &["boxtool", a["arm"].as_str().unwrap()]);
        assert!(row[0].contains(&four(&a["stats"]["exact"]["mean"])));
    }
    let q = &b["quality"];
    let row = rows_with(bt, &["boxtool", "qwen3"]);
    assert_eq!(row.len(), 1, "{bt}");
    assert!(row[0].contains(&format!(">{}</td>", q["misses"])));
    assert!(row[0].contains(&four(&q["recall"]["mean"])));
    let turns = &b["turns"]["histogram"][0];
    assert!(bt.contains(&format!("{} turns: {}", turns[0], turns[1])));

    let Some(chrome) = chromium() else { return };
    let png = shot_path("probe-report.png");
    let loaded = load(&chrome, &page, &png);
    assert!(
        loaded.console.is_empty(),
        "console messages: {:?}",
        loaded.console
    );
    let dom = &loaded.dom;
    for id in [
        "section-probe-count",
        "section-probe-preprocess",
        "section-probe-boxtool",
    ] {
        assert!(
            dom.contains(&format!("id=\"{id}\"")),
            "section {id} in the DOM"
        );
    }
    assert!(
        count(dom, "<figure class=\"plot\"><svg") >= 3,
        "curve, transforms, boxtool"
    );
    assert!(count(dom, "<table class=\"headline\"") >= 3);
    eprintln!(
        "probe report: {} bytes, Chromium load+dump {:.2} s, screenshot {}",
        html.len(),
        loaded.seconds,
        png.display()
    );
}
