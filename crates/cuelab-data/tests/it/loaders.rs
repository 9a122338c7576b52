//! Loaders on small fixtures written to each published schema
//! (made by `tools/reference/data/make_fixtures.py`).

use std::path::{Path, PathBuf};

use cuelab_data::check::{check, CheckOptions, Format};
use cuelab_data::{coco, jsonl, mmvp, refcoco, ssv2, DataError};

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
}

#[test]
fn refs_pickle_protocol_2_and_4_read_the_same() {
    let p2 = refcoco::read_refs(&data("refcocog/refs(umd)_p2.p")).unwrap();
    let p4 = refcoco::read_refs(&data("refcocog/refs(umd)_p4.p")).unwrap();
    assert_eq!(p2, p4);
    assert_eq!(p2.len(), 3);
    assert_eq!(p2[0].sentences[0].raw, "The lady with the blue shirt.");
    assert_eq!(
        p2[0].sentences[1].tokens,
        vec!["woman", "in", "blue", "on", "the", "left"]
    );
    assert_eq!(p2[0].ann_id, 1719310);
    assert_eq!(p2[0].sent_ids, vec![0, 1]);
}

#[test]
fn refcoco_samples_have_xyxy_targets_and_proposals() {
    let dir = data("refcocog");
    let l = refcoco::load(
        &dir.join("refs(umd).p"),
        &dir.join("instances.json"),
        Some(&dir.join("images")),
        None,
        false,
    )
    .unwrap();
    assert_eq!(l.samples.len(), 3);
    let s = &l.samples[0];
    let t = s.target.unwrap();
    assert!((t.x0 - 103.93).abs() < 1e-3 && (t.x1 - (103.93 + 134.22)).abs() < 1e-3);
    assert!((t.y1 - (299.99 + 177.01)).abs() < 1e-3);
    assert_eq!(s.category.as_deref(), Some("person"));
    assert_eq!(s.proposals.len(), 2);
    assert_eq!(s.proposals[s.target_index.unwrap()], t);
    assert_eq!(s.expressions.len(), 2);
    assert_eq!(s.split.as_deref(), Some("train"));
    assert!(s.image.as_ref().unwrap().is_file());
    assert!(matches!(
        l.samples[1].target_region,
        Some(cuelab_cue::Region::Mask(_))
    ));
    let val = refcoco::load(
        &dir.join("refs(umd).p"),
        &dir.join("instances.json"),
        None,
        Some("val"),
        false,
    )
    .unwrap();
    assert_eq!(val.samples.len(), 1);
}

#[test]
fn truncated_pickle_is_a_clear_error() {
    let e = refcoco::read_refs(&data("bad/refs_truncated.p")).unwrap_err();
    assert!(matches!(e, DataError::Pickle { .. }));
    assert!(e.to_string().contains("refs_truncated.p"), "{e}");
}

#[test]
fn coco_instances_captions_karpathy_results() {
    let inst = coco::load_instances(
        &data("refcocog/instances.json"),
        Some(&data("refcocog/images")),
        false,
    )
    .unwrap();
    assert_eq!(inst.samples.len(), 2);
    assert_eq!(inst.samples[0].proposals.len(), 2);
    let caps = coco::load_captions(
        &data("coco/captions_val2014.json"),
        Some(&data("coco/images")),
        false,
    )
    .unwrap();
    assert_eq!(caps.samples[0].captions.len(), 2);
    let k = coco::load_karpathy(
        &data("coco/dataset_coco.json"),
        Some(&data("coco/images")),
        Some("test"),
        false,
    )
    .unwrap();
    assert_eq!(k.samples.len(), 1);
    assert_eq!(k.samples[0].captions, vec!["A red square."]);
    let r = coco::read_results(&data("coco/results.json")).unwrap();
    assert_eq!(r.len(), 2);
}

#[test]
fn bad_coco_inputs_name_file_and_record() {
    let e = coco::load_instances(&data("bad/instances_truncated.json"), None, false).unwrap_err();
    assert!(e.to_string().contains("instances_truncated.json"), "{e}");
    let e =
        coco::load_instances(&data("bad/instances_wrong_schema.json"), None, false).unwrap_err();
    assert!(e.to_string().contains("instances_wrong_schema.json"), "{e}");
    let p = data("bad/instances_missing_image.json");
    let e = coco::load_instances(&p, Some(&data("coco/images")), false).unwrap_err();
    assert!(e.to_string().contains("annotation 4"), "{e}");
    let l = coco::load_instances(&p, Some(&data("coco/images")), true).unwrap();
    assert_eq!((l.samples.len(), l.skipped.len()), (1, 2));
    assert!(l
        .skipped
        .iter()
        .any(|e| matches!(e, DataError::MissingMedia { .. })));
    let e = coco::load_instances(&data("nope.json"), None, false).unwrap_err();
    assert!(e.to_string().contains("nope.json"), "{e}");
}

#[test]
fn mmvp_pairs_and_errata_flag() {
    let csv = data("mmvp/Questions.csv");
    let l = mmvp::load(&csv, None, false, false).unwrap();
    assert_eq!(l.samples.len(), 4);
    assert_eq!(l.samples[0].choices, vec!["Yes", "No"]);
    assert_eq!(l.samples[0].answer_index, Some(1));
    assert_eq!(l.samples[0].pair_id, l.samples[1].pair_id);
    assert_eq!(l.samples[2].pair_id.as_deref(), Some("mmvp-pair-50"));
    assert_eq!(l.samples[2].answer.as_deref(), Some("Open"));
    let fixed = mmvp::load(&csv, None, true, false).unwrap();
    assert_eq!(fixed.samples[2].answer.as_deref(), Some("Closed"));
    assert_eq!(fixed.samples[0].answer, l.samples[0].answer);
    let v = mmvp::load_vlm(&data("mmvp_vlm/Questions.csv"), None, false).unwrap();
    assert_eq!(v.samples.len(), 2);
    assert_eq!(
        v.samples[1].choices[1],
        "The school bus is parked facing the camera"
    );
    assert_eq!(
        v.samples[0].qtype.as_deref(),
        Some("Orientation and Direction")
    );
}

#[test]
fn ssv2_with_something_else_boxes() {
    let d = data("ssv2");
    let opts = ssv2::Ssv2Options {
        labels: Some(d.join("labels.json")),
        video_dir: Some(d.join("videos")),
        boxes: vec![d.join("bounding_box_smthsmth_part1.json")],
        split: Some("validation".into()),
        skip_bad: false,
    };
    let l = ssv2::load(&d.join("validation.json"), &opts).unwrap();
    let s = &l.samples[0];
    assert_eq!(s.extra["template"], "Pushing something from left to right");
    assert_eq!(s.extra["class_id"], 1);
    assert_eq!(s.frame_boxes.len(), 2);
    assert_eq!(s.frame_boxes[0].boxes[1].label, "hand");
    assert!(s.video.as_ref().unwrap().is_file());
}

#[test]
fn check_reports_and_skips() {
    let o = CheckOptions::default();
    let r = check(&data("refcocog"), Format::Refcoco, &o).unwrap();
    assert_eq!(r.counts["refcoco"]["samples"], 3);
    assert_eq!(r.counts["refcoco"]["split:train"], 1);
    check(&data("ssv2"), Format::Ssv2, &o).unwrap();
    check(&data("mmvp"), Format::Mmvp, &o).unwrap();
    check(&data("mmvp_vlm"), Format::MmvpVlm, &o).unwrap();
    check(&data("coco/results.json"), Format::CaptionResults, &o).unwrap();
    let bad = data("bad/samples.jsonl");
    let e = check(&bad, Format::Jsonl, &o).unwrap_err().to_string();
    assert!(e.contains("samples.jsonl") && e.contains("line 3"), "{e}");
    let skip = CheckOptions {
        skip_bad: true,
        ..o
    };
    let r = check(&bad, Format::Jsonl, &skip).unwrap();
    assert_eq!(r.skipped, 2);
    assert_eq!(r.counts["jsonl"]["samples"], 1);
    assert!(jsonl::read(&bad, false).is_err());
}

#[test]
fn refcoco_keeps_raw_and_sent_and_lists_a_split() {
    let dir = data("refcocog");
    let refs = refcoco::read_refs(&dir.join("refs(umd).p")).unwrap();
    let l = refcoco::load_refs(
        &refs,
        &dir.join("refs(umd).p"),
        &dir.join("instances.json"),
        None,
        Some("train"),
        false,
    )
    .unwrap();
    let e = &l.samples[0].expressions[0];
    assert_eq!(e.raw, "The lady with the blue shirt.");
    assert_eq!(
        e.text(cuelab_data::TextField::Sent),
        "the lady with the blue shirt"
    );
    assert_eq!(
        e.text(cuelab_data::TextField::Raw),
        "The lady with the blue shirt."
    );
    let train = refcoco::split_expressions(&refs, "train", cuelab_data::TextField::Sent);
    assert_eq!(
        train,
        vec!["the lady with the blue shirt", "woman in blue on the left"]
    );
    let raw = refcoco::split_expressions(&refs, "train", cuelab_data::TextField::Raw);
    assert_eq!(raw[0], "The lady with the blue shirt.");
    assert!(refcoco::split_expressions(&refs, "nope", cuelab_data::TextField::Sent).is_empty());
}
