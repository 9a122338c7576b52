//! `cuelab caption` end to end over the mock OpenAI-compatible server: a 2 prompts x 2
//! generation configs sweep on the scenes' captions, with CLIPScore from the committed tiny CLIP;
//! the generation settings reach the server, reruns send nothing, beam search is refused there.

#![allow(clippy::unwrap_used)]

use crate::fixtures::{cuelab, tiny_clip};

#[test]
fn caption_sweep_over_a_server_scores_cells_and_resumes() {
    let server = cuelab_vlm::mock::MockServer::start().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("scenes");
    let o = cuelab(&["scenes", "-n", "5", "--out", data.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let prompts = tmp.path().join("prompts.txt");
    std::fs::write(
        &prompts,
        "# two instructions\nDescribe the image.\n\nWhat do you see?\n",
    )
    .unwrap();
    let out = tmp.path().join("run");
    let url = server.url();
    let clip = tiny_clip();
    let args = [
        "caption",
        "--data",
        data.to_str().unwrap(),
        "--prompts-file",
        prompts.to_str().unwrap(),
        "--gen",
        "greedy",
        "--gen",
        "temperature=0.7,top_p=0.9,seed=1",
        "--endpoint",
        url.as_str(),
        "--model",
        "mock-vlm",
        "--clip",
        clip.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let o = cuelab(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("CIDEr-D") && stdout.contains("paired cider_d"),
        "{stdout}"
    );
    assert_eq!(server.requests(), 20, "2 prompts x 2 configs x 5 images");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let cells = summary["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 4);
    for c in cells {
        assert_eq!(c["captions"], 5);
        let cs = c["clip_score"]["mean"].as_f64().unwrap();
        assert!((0.0..=2.5).contains(&cs), "{c}");
        assert!(c["ref_clip_score"]["mean"].is_f64());
        assert!(c["cider_d"]["mean"].is_f64());
        let id = c["id"].as_str().unwrap();
        let results: Vec<serde_json::Value> = serde_json::from_str(
            &std::fs::read_to_string(out.join("cells").join(id).join("captions.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(results.len(), 5);
        assert_eq!(results[0]["caption"], "A picture with some shapes in it.");
    }
    // CIDEr-D and CLIPScore pairs for each of the 6 cell pairs
    assert_eq!(summary["paired"].as_array().unwrap().len(), 12);
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"experiment\": \"caption\"") && manifest.contains("top_p=0.9"));
    // Rerun: nothing sent again.
    let o = cuelab(&args);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(server.requests(), 20);
    // Beam search needs the in-process model.
    let o = cuelab(&[
        "caption",
        "--data",
        data.to_str().unwrap(),
        "--gen",
        "beam=3",
        "--endpoint",
        url.as_str(),
        "--model",
        "mock-vlm",
        "--out",
        tmp.path().join("beam").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--local"));
    // A malformed generation config names the problem.
    let o = cuelab(&["caption", "--gen", "warmth=3", "--local", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown key"));
}
