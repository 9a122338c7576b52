//! `cuelab render`, `cuelab cues` and `cuelab demo` end to end on the bundled photo.

#![allow(clippy::unwrap_used)]

use crate::fixtures::{cuelab, photo, text};

#[test]
fn every_primitive_renders_on_a_real_photo() {
    let dir = tempfile::tempdir().unwrap();
    let photo = photo();
    let specs = [
        "plain",
        "rect",
        "ellipse(color=red,width=3)+blur(radius=20)+gray",
        "rounded(corner=20)",
        "dim",
        "fill(color=#00000080)",
        "colorcode",
        "tint",
        "crop(pad=10)",
        "label(text=letter)",
        "arrow(from=bottom)",
        "dot",
        "trajectory(fade=true)",
        "mask",
    ];
    for (i, spec) in specs.iter().enumerate() {
        let out = dir.path().join(format!("{i}.png"));
        let o = cuelab(&[
            "render",
            photo.to_str().unwrap(),
            "--box",
            "124,218,316,540",
            "--points",
            "150,500;250,400;300,250",
            "--cue",
            spec,
            "-o",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{spec}: {}", text(&o));
        let img = image::open(&out).unwrap().to_rgb8();
        if *spec == "crop(pad=10)" {
            assert_eq!(img.dimensions(), (212, 342));
        } else {
            assert_eq!(img.dimensions(), (768, 576));
        }
    }
}

#[test]
fn boxes_file_writes_one_image_per_region() {
    let dir = tempfile::tempdir().unwrap();
    let boxes = dir.path().join("boxes.json");
    std::fs::write(
        &boxes,
        r#"[[10,10,100,100], {"box": [460,70,690,170], "label": "truck"},
            {"polygon": [[130,120,570,120,570,420]]},
            {"rle": {"size": [576, 768], "counts": [1000, 5000, 436368]}}]"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = cuelab(&[
        "render",
        photo().to_str().unwrap(),
        "--boxes",
        boxes.to_str().unwrap(),
        "--cue",
        "mask+label+blur(radius=5)",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let n = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(n, 4);
}

#[test]
fn bad_input_is_a_clear_error_with_exit_2_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.png");
    let o_str = out.to_str().unwrap();
    let photo = photo();
    let p = photo.to_str().unwrap();
    let corrupt = dir.path().join("corrupt.jpg");
    std::fs::write(&corrupt, b"\xff\xd8\xff\xe0 truncated").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["render", "missing.jpg", "--box", "1,1,5,5", "-o", o_str],
            "missing.jpg",
        ),
        (
            vec![
                "render",
                corrupt.to_str().unwrap(),
                "--box",
                "1,1,5,5",
                "-o",
                o_str,
            ],
            "corrupt.jpg",
        ),
        (
            vec!["render", p, "--box", "50,50,10,10", "-o", o_str],
            "x0 <= x1",
        ),
        (
            vec!["render", p, "--box", "NaN,1,5,5", "-o", o_str],
            "finite",
        ),
        (
            vec!["render", p, "--box", "1,2,3", "-o", o_str],
            "four comma-separated",
        ),
        (
            vec![
                "render", p, "--box", "1,1,5,5", "--cue", "circle", "-o", o_str,
            ],
            "valid primitives",
        ),
        (
            vec![
                "render",
                p,
                "--box",
                "1,1,5,5",
                "--cue",
                "blur(sigma=2)",
                "-o",
                o_str,
            ],
            "valid parameters: radius",
        ),
        (
            vec!["render", p, "--box", "2000,2000,2100,2100", "-o", o_str],
            "outside",
        ),
    ];
    for (args, needle) in cases {
        let o = cuelab(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(needle), "{args:?}: {}", text(&o));
        assert!(!out.exists(), "{args:?} wrote output");
    }
}

#[test]
fn box_partly_outside_is_clipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.png");
    let o = cuelab(&[
        "render",
        photo().to_str().unwrap(),
        "--box",
        "-20,-20,100,100",
        "--cue",
        "ellipse+blur(radius=4)",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("clipped"), "{}", text(&o));
    assert!(out.exists());
}

#[test]
fn cues_lists_every_primitive_as_json() {
    let o = cuelab(&["cues", "--json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for n in [
        "ellipse",
        "blur",
        "gray",
        "crop",
        "label",
        "trajectory",
        "mask",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
}

#[test]
fn demo_writes_gallery_scenes_and_a_grounding_run() {
    let dir = tempfile::tempdir().unwrap();
    let o = cuelab(&["demo", "-o", dir.path().to_str().unwrap(), "--scenes", "4"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(dir
        .path()
        .join("gallery/seed004_ellipse_blur_gray.png")
        .exists());
    assert_eq!(
        std::fs::read_dir(dir.path().join("gallery"))
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "png"))
            .count(),
        13
    );
    assert!(dir.path().join("scenes/samples.jsonl").exists());
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("grounding/manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["experiment"], "grounding");
    assert!(manifest["end"].is_string(), "manifest stamped at the end");
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("grounding/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["variants"].as_array().unwrap().len(), 2);
    assert!(text(&o).contains("McNemar"), "{}", text(&o));
}
