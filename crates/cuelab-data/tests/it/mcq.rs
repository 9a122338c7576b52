//! `mcq::build_from_dir` on the SSv2-format clip fixture (`tools/reference/video/make_fixtures.py`):
//! one question per placeholder and one for the verb, distinct distractors, balanced answer
//! positions, the seeded split by video and the skipped-record report.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cuelab_data::mcq::{self, vocab_key, McqOptions, Ssv2Source};
use cuelab_data::Task;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ssv2_clips")
}

fn source() -> Ssv2Source {
    Ssv2Source {
        dir: fixture(),
        media: Some(fixture().join("videos")),
        boxes: vec![fixture().join("boxes.json")],
    }
}

#[test]
fn questions_cover_every_placeholder_and_verb_with_distinct_options() {
    let (qs, report) = mcq::build_from_dir(&source(), &McqOptions::default()).unwrap();
    // 7 good videos (one with two placeholders) -> 8 object + 7 verb questions.
    assert_eq!(report.by_type["object"], 8);
    assert_eq!(report.by_type["verb"], 7);
    assert_eq!(qs.len(), 15);
    let q = qs.iter().find(|q| q.id == "ssv2-1005-object1").unwrap();
    assert_eq!(
        q.question.as_deref(),
        Some("dropping _____ into red rubber ice-tray")
    );
    assert_eq!(q.answer.as_deref(), Some("a cheese cube"));
    assert_eq!(q.task, Task::Video);
    assert_eq!(q.frame_boxes.len(), 11, "one frame of 1005 has no boxes");
    assert!(q.video.as_ref().unwrap().ends_with("1005.mp4"));
    let v = qs.iter().find(|q| q.id == "ssv2-1003-verb").unwrap();
    assert_eq!(
        v.question.as_deref(),
        Some("the red ball _____ like a rock")
    );
    assert_eq!(v.answer.as_deref(), Some("falling"));
    for q in &qs {
        // Distinct after folding case and articles ("a cup" and "Cup" are one object).
        let keys: BTreeSet<String> = q.choices.iter().map(|c| vocab_key(c)).collect();
        assert_eq!(keys.len(), 4, "{}: {:?}", q.id, q.choices);
        let answer = q.answer.as_deref().unwrap();
        assert_eq!(q.choices[q.answer_index.unwrap()], answer);
        if q.qtype.as_deref() == Some("object") && q.id.starts_with("ssv2-1005") {
            // the video's other object is never a distractor
            let other = if q.id.ends_with("object1") {
                "red rubber ice-tray"
            } else {
                "cheese cube"
            };
            assert!(!keys.contains(other), "{:?}", q.choices);
        }
    }
    // Answer positions balanced (15 questions over 4 positions: 3 or 4 each).
    assert_eq!(report.answer_positions.iter().sum::<usize>(), 15);
    assert!(
        report
            .answer_positions
            .iter()
            .all(|&n| (3..=4).contains(&n)),
        "{:?}",
        report.answer_positions
    );
    // Vocabulary folds case and articles: "a cup"/"Cup", "the red ball".
    assert_eq!(report.objects, 7);
    // labels.json writes templates without brackets: `something` is never a verb.
    assert_eq!(report.verbs, 7);
    assert!(qs
        .iter()
        .all(|q| !q.choices.iter().any(|c| c == "something")));
    // Skipped: the template missing from labels.json and the missing video file.
    let reasons: BTreeMap<&str, &str> = report
        .skipped
        .iter()
        .map(|s| (s.video.as_str(), s.reason.as_str()))
        .collect();
    assert!(
        reasons["1098"].contains("not in labels.json"),
        "{reasons:?}"
    );
    assert!(reasons["1099"].contains("missing media"), "{reasons:?}");
    assert_eq!(report.videos, 9);
}

#[test]
fn split_is_by_video_seeded_and_one_to_eight_and_a_half() {
    let opts = McqOptions::default();
    let (a, ra) = mcq::build_from_dir(&source(), &opts).unwrap();
    let (b, _) = mcq::build_from_dir(&source(), &opts).unwrap();
    assert_eq!(a, b, "same seed, same questions");
    // 7 videos: round(7 / 9.5) = 1 test video.
    assert_eq!(ra.videos_by_split["test"], 1);
    assert_eq!(ra.videos_by_split["train"], 6);
    let mut split_of: BTreeMap<String, String> = BTreeMap::new();
    for q in &a {
        let vid = q.extra["video_id"].as_str().unwrap().to_string();
        let s = q.split.clone().unwrap();
        assert_eq!(
            split_of.entry(vid).or_insert(s.clone()),
            &s,
            "one video, one split"
        );
    }
    let other = McqOptions {
        seed: 7,
        ..McqOptions::default()
    };
    let (c, _) = mcq::build_from_dir(&source(), &other).unwrap();
    assert_ne!(
        a.iter().map(|q| &q.choices).collect::<Vec<_>>(),
        c.iter().map(|q| &q.choices).collect::<Vec<_>>(),
        "another seed draws other distractors"
    );
    assert_eq!(mcq::parse_split_ratio("1:8.5").unwrap(), (1.0, 8.5));
    assert!(mcq::parse_split_ratio("1-8").is_err());
    assert!(mcq::parse_split_ratio("0:0").is_err());
}

#[test]
fn too_small_a_vocabulary_is_reported_not_padded() {
    // 7 objects: video 1005 owns two, so only 5 remain for its 6 distractors; every other
    // question has enough (6 other objects, 6 of the 7 verbs).
    let opts = McqOptions {
        choices: 7,
        ..McqOptions::default()
    };
    let (qs, report) = mcq::build_from_dir(&source(), &opts).unwrap();
    assert_eq!(qs.len(), 13, "{:?}", report.skipped);
    assert!(qs.iter().all(|q| q.choices.len() == 7));
    let short: Vec<_> = report
        .skipped
        .iter()
        .filter(|s| s.video == "1005")
        .collect();
    assert_eq!(short.len(), 2, "{:?}", report.skipped);
    assert!(
        short[0].reason.contains("only 5 distinct objects"),
        "{}",
        short[0].reason
    );
    assert!(mcq::build_from_dir(
        &source(),
        &McqOptions {
            choices: 1,
            ..McqOptions::default()
        }
    )
    .is_err());
}
