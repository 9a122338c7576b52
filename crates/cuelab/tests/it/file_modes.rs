//! Files that cuelab writes atomically (temporary file renamed into place) get the permissions
//! `File::create` would give (0o666 minus the umask, 0o644 under umask 022), not tempfile's
//! owner-only 0o600: run summaries and manifests, COCO captions, the report page, rendered PNGs.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::fixtures::{cuelab, models_data, photo, text};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn atomically_written_outputs_get_the_umask_permissions() {
    let tmp = tempfile::tempdir().unwrap();
    // what this process's umask gives a plain file (0o644 under the usual 022)
    let plain = tmp.path().join("plain.txt");
    std::fs::File::create(&plain).unwrap();
    let expected = mode(&plain);
    assert_ne!(expected, 0o600, "the umask would hide the difference");

    let scenes = tmp.path().join("scenes");
    let o = cuelab(&["scenes", "-n", "2", "--out", scenes.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let run = tmp.path().join("run");
    let qwen = models_data().join("qwen3-vl-tiny");
    let o = cuelab(&[
        "caption",
        "--data",
        scenes.to_str().unwrap(),
        "--local",
        qwen.to_str().unwrap(),
        "--gen",
        "max_tokens=3",
        "--limit",
        "1",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let report = tmp.path().join("report.html");
    let o = cuelab(&[
        "report",
        run.to_str().unwrap(),
        "-o",
        report.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let png = tmp.path().join("cued.png");
    let o = cuelab(&[
        "render",
        photo().to_str().unwrap(),
        "--box",
        "10,10,80,60",
        "--output",
        png.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));

    let cells = std::fs::read_dir(run.join("cells")).unwrap();
    let cell = cells.map(|e| e.unwrap().path()).next().unwrap();
    for file in [
        run.join("summary.json"),
        run.join("manifest.json"),
        cell.join("captions.json"),
        report,
        png,
    ] {
        assert_eq!(
            mode(&file),
            expected,
            "{} is {:o}, a plain file here is {expected:o}",
            file.display(),
            mode(&file)
        );
    }
}
