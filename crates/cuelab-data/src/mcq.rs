//! Fill-in-the-blank multiple-choice questions from Something-Something-v2 labels (seed 000).
//!
//! Every video's template (`"Dropping [something] into [something]"`) and placeholders (`"a
//! cheese cube"`, `"red rubber ice-tray"`) give one question per placeholder (`"dropping _____
//! into red rubber ice-tray"`, answer `"a cheese cube"`) and one for the verb (`"_____ a cheese
//! cube into red rubber ice-tray"`, answer `"dropping"`). Distractors are drawn from the
//! dataset's own vocabulary of objects (every placeholder) and verbs (the first word of every
//! template that is not a placeholder), seeded per question, and are always distinct from each
//! other, from the answer and from the video's other objects, compared case- and
//! article-insensitively ([`vocab_key`]). The answer's position is balanced over the whole set
//! (each position holds it equally often, ±1), and videos are split test : train by a seeded
//! permutation (1 : 8.5 as the seed). What cannot be asked is reported with the reason.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::sample::{Sample, Task};
use crate::ssv2::{self, Ssv2Options, VideoEntry};
use crate::util;

/// The blank shown in place of the asked word(s).
pub const BLANK: &str = "_____";

/// Settings of [`build`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McqOptions {
    /// Options per question (answer + distractors), at least 2.
    pub choices: usize,
    /// Seed of the distractor draws, the answer positions and the split.
    pub seed: u64,
    /// Test : train ratio of the split by video (seed 000: 1 : 8.5).
    pub split_ratio: (f64, f64),
}

impl Default for McqOptions {
    fn default() -> Self {
        McqOptions {
            choices: 4,
            seed: 0,
            split_ratio: (1.0, 8.5),
        }
    }
}

/// Parse a `test:train` ratio such as `1:8.5`.
pub fn parse_split_ratio(text: &str) -> Result<(f64, f64)> {
    let bad = || {
        DataError::Invalid(format!(
            "split ratio {text:?}: expected TEST:TRAIN, e.g. 1:8.5"
        ))
    };
    let (a, b) = text.split_once(':').ok_or_else(bad)?;
    let a: f64 = a.trim().parse().map_err(|_| bad())?;
    let b: f64 = b.trim().parse().map_err(|_| bad())?;
    if !(a.is_finite() && b.is_finite()) || a < 0.0 || b < 0.0 || a + b <= 0.0 {
        return Err(bad());
    }
    Ok((a, b))
}

/// A sample (or one of its questions) that was not turned into a question, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedQuestion {
    /// The video id (or the record the loader could not read).
    pub video: String,
    /// The question that was skipped (`object1`, `verb`, ...), when only one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// Why.
    pub reason: String,
}

/// What [`build`] made and skipped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct McqReport {
    /// Videos read (loaded, before skipping).
    pub videos: usize,
    /// Questions written.
    pub questions: usize,
    /// Questions per type (`object`, `verb`).
    pub by_type: BTreeMap<String, usize>,
    /// Questions per split.
    pub by_split: BTreeMap<String, usize>,
    /// Videos per split.
    pub videos_by_split: BTreeMap<String, usize>,
    /// How often the answer is at each position.
    pub answer_positions: Vec<usize>,
    /// Distinct objects in the vocabulary (after case/article folding).
    pub objects: usize,
    /// Distinct verbs in the vocabulary.
    pub verbs: usize,
    /// Everything skipped, with the reason.
    pub skipped: Vec<SkippedQuestion>,
}

/// The case- and article-insensitive key of a vocabulary entry: lower case, whitespace collapsed,
/// a leading `a`/`an`/`the` and trailing punctuation removed (`"A  Cheese cube."` → `"cheese
/// cube"`).
pub fn vocab_key(text: &str) -> String {
    let lower = text.to_lowercase();
    let mut words: Vec<&str> = lower.split_whitespace().collect();
    if words.len() > 1 && matches!(words[0], "a" | "an" | "the") {
        words.remove(0);
    }
    let joined = words.join(" ");
    joined
        .trim_end_matches(|c: char| c.is_ascii_punctuation())
        .to_string()
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Slot,
}

/// Split a bracketed template into text and placeholder slots.
fn parse_template(template: &str) -> std::result::Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('[') {
        if open > 0 {
            out.push(Piece::Text(rest[..open].to_string()));
        }
        let close = rest[open..]
            .find(']')
            .ok_or_else(|| format!("template {template:?} has an unclosed '['"))?;
        out.push(Piece::Slot);
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest.to_string()));
    }
    Ok(out)
}

/// The verb of a template: the first word that is not a placeholder, lower case
/// (`"[Something] falling like a rock"` → `falling`), with its piece index and byte range. The
/// word `something` is a placeholder too (`labels.json` writes templates without brackets).
fn find_verb(pieces: &[Piece]) -> Option<(usize, std::ops::Range<usize>, String)> {
    for (i, p) in pieces.iter().enumerate() {
        let Piece::Text(t) = p else { continue };
        let mut pos = 0;
        while let Some(off) = t[pos..].find(|c: char| c.is_alphabetic()) {
            let start = pos + off;
            let end = t[start..]
                .find(|c: char| !(c.is_alphabetic() || c == '-' || c == '\''))
                .map_or(t.len(), |e| start + e);
            let word = t[start..end].to_lowercase();
            if word != "something" {
                return Some((i, start..end, word));
            }
            pos = end;
        }
    }
    None
}

/// The verb of a bracketed template, if it has one (see the module docs).
pub fn template_verb(template: &str) -> Option<String> {
    parse_template(template)
        .ok()
        .and_then(|p| find_verb(&p).map(|v| v.2))
}

/// Render the template with `fill(k)` for slot `k`; text pieces lower case, spaces collapsed.
fn render(pieces: &[Piece], mut fill: impl FnMut(usize) -> String, verb_blank: bool) -> String {
    let verb = if verb_blank { find_verb(pieces) } else { None };
    let mut out = String::new();
    let mut slot = 0;
    for (i, p) in pieces.iter().enumerate() {
        match p {
            Piece::Text(t) => {
                let t = t.to_lowercase();
                match &verb {
                    Some((vi, range, _)) if *vi == i => {
                        out.push_str(&t[..range.start]);
                        out.push_str(BLANK);
                        out.push_str(&t[range.end..]);
                    }
                    _ => out.push_str(&t),
                }
            }
            Piece::Slot => {
                out.push_str(&fill(slot));
                slot += 1;
            }
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The dataset's vocabulary: folded key → the surface form used in options (the most frequent
/// spelling, ties broken alphabetically).
#[derive(Debug, Default)]
struct Vocabulary {
    keys: Vec<String>,
    shown: Vec<String>,
}

impl Vocabulary {
    fn from_words<'a>(words: impl Iterator<Item = &'a str>) -> Self {
        let mut counts: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
        for w in words {
            let key = vocab_key(w);
            if key.is_empty() {
                continue;
            }
            let surface = w.split_whitespace().collect::<Vec<_>>().join(" ");
            *counts.entry(key).or_default().entry(surface).or_default() += 1;
        }
        let mut v = Vocabulary::default();
        for (key, forms) in counts {
            let best = forms
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                .map(|(f, _)| f.clone())
                .unwrap_or_else(|| key.clone());
            v.keys.push(key);
            v.shown.push(best);
        }
        v
    }

    /// `n` distinct entries whose keys are not in `forbidden`, drawn with `rng`.
    fn draw(
        &self,
        n: usize,
        forbidden: &BTreeSet<String>,
        rng: &mut ChaCha8Rng,
    ) -> std::result::Result<Vec<String>, usize> {
        let allowed = |i: usize| !forbidden.contains(&self.keys[i]);
        let mut picked: Vec<usize> = Vec::with_capacity(n);
        // Rejection sampling over the whole vocabulary (fast when it is large), then an exact
        // draw from the allowed entries when that does not finish quickly.
        for _ in 0..n * 20 {
            if picked.len() == n || self.keys.is_empty() {
                break;
            }
            let i = rng.gen_range(0..self.keys.len());
            if allowed(i) && !picked.contains(&i) {
                picked.push(i);
            }
        }
        if picked.len() < n {
            let mut rest: Vec<usize> = (0..self.keys.len())
                .filter(|&i| allowed(i) && !picked.contains(&i))
                .collect();
            if picked.len() + rest.len() < n {
                return Err(picked.len() + rest.len());
            }
            rest.shuffle(rng);
            picked.extend(rest.into_iter().take(n - picked.len()));
        }
        Ok(picked.into_iter().map(|i| self.shown[i].clone()).collect())
    }
}

/// A stable 64-bit hash (FNV-1a) of a question id, to seed its own draw.
fn id_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn rng_for(seed: u64, stream: u64, id: &str) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ id_hash(id));
    rng.set_stream(stream);
    rng
}

/// One video: its bracketed template and placeholders, and the loaded sample (media, boxes).
#[derive(Debug, Clone)]
pub struct McqVideo {
    /// The SSv2 list entry.
    pub entry: VideoEntry,
    /// The loaded sample (media and frame boxes), as [`ssv2::load`] makes it.
    pub sample: Sample,
}

/// Build the questions of `videos` (see the module docs). `verbs` adds template verbs to the
/// verb vocabulary (e.g. every template of `labels.json`). Output is sorted by question id.
pub fn build(
    videos: &[McqVideo],
    extra_templates: &[String],
    opts: &McqOptions,
) -> Result<(Vec<Sample>, McqReport)> {
    if opts.choices < 2 {
        return Err(DataError::Invalid(format!(
            "{} choices per question: at least 2 are needed",
            opts.choices
        )));
    }
    let mut report = McqReport {
        videos: videos.len(),
        ..McqReport::default()
    };
    let objects = Vocabulary::from_words(
        videos
            .iter()
            .flat_map(|v| v.entry.placeholders.iter().map(String::as_str)),
    );
    let verb_words: Vec<String> = videos
        .iter()
        .map(|v| v.entry.template.as_str())
        .chain(extra_templates.iter().map(String::as_str))
        .filter_map(template_verb)
        .collect();
    let verbs = Vocabulary::from_words(verb_words.iter().map(String::as_str));
    report.objects = objects.keys.len();
    report.verbs = verbs.keys.len();

    let mut questions: Vec<Sample> = Vec::new();
    let mut seen_videos = BTreeSet::new();
    for v in videos {
        let id = &v.entry.id;
        let skip = |question: Option<&str>, reason: String| SkippedQuestion {
            video: id.clone(),
            question: question.map(str::to_string),
            reason,
        };
        if !seen_videos.insert(id.clone()) {
            report
                .skipped
                .push(skip(None, "video id listed twice (first kept)".into()));
            continue;
        }
        let pieces = match parse_template(&v.entry.template) {
            Ok(p) => p,
            Err(reason) => {
                report.skipped.push(skip(None, reason));
                continue;
            }
        };
        let slots = pieces.iter().filter(|p| **p == Piece::Slot).count();
        if slots != v.entry.placeholders.len() {
            report.skipped.push(skip(
                None,
                format!(
                    "template has {slots} placeholders, list has {}",
                    v.entry.placeholders.len()
                ),
            ));
            continue;
        }
        let own: BTreeSet<String> = v.entry.placeholders.iter().map(|p| vocab_key(p)).collect();
        let fill = |k: usize| {
            v.entry.placeholders[k]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        // One question per placeholder.
        for (k, answer) in v.entry.placeholders.iter().enumerate() {
            let name = format!("object{}", k + 1);
            let answer = answer.split_whitespace().collect::<Vec<_>>().join(" ");
            if vocab_key(&answer).is_empty() {
                report
                    .skipped
                    .push(skip(Some(&name), "placeholder is empty".into()));
                continue;
            }
            let qid = format!("ssv2-{id}-{name}");
            let mut rng = rng_for(opts.seed, 1, &qid);
            match objects.draw(opts.choices - 1, &own, &mut rng) {
                Ok(distractors) => {
                    let text = render(
                        &pieces,
                        |j| if j == k { BLANK.to_string() } else { fill(j) },
                        false,
                    );
                    questions.push(question(v, qid, text, answer, distractors, "object", k));
                }
                Err(have) => report.skipped.push(skip(
                    Some(&name),
                    format!(
                        "only {have} distinct objects besides this video's own; {} needed",
                        opts.choices - 1
                    ),
                )),
            }
        }
        // One question for the verb.
        match find_verb(&pieces) {
            None => report
                .skipped
                .push(skip(Some("verb"), "template has no verb word".into())),
            Some((_, _, verb)) => {
                let qid = format!("ssv2-{id}-verb");
                let mut rng = rng_for(opts.seed, 2, &qid);
                let forbidden: BTreeSet<String> = [vocab_key(&verb)].into();
                match verbs.draw(opts.choices - 1, &forbidden, &mut rng) {
                    Ok(distractors) => {
                        let text = render(&pieces, fill, true);
                        questions.push(question(v, qid, text, verb, distractors, "verb", slots));
                    }
                    Err(have) => report.skipped.push(skip(
                        Some("verb"),
                        format!(
                            "only {have} other distinct verbs; {} needed",
                            opts.choices - 1
                        ),
                    )),
                }
            }
        }
    }
    questions.sort_by(|a, b| a.id.cmp(&b.id));
    balance_positions(&mut questions, opts);
    assign_splits(&mut questions, opts, &mut report);
    report.questions = questions.len();
    report.answer_positions = vec![0; opts.choices];
    for q in &questions {
        *report
            .by_type
            .entry(q.qtype.clone().unwrap_or_default())
            .or_default() += 1;
        if let Some(s) = &q.split {
            *report.by_split.entry(s.clone()).or_default() += 1;
        }
        if let Some(slot) = q
            .answer_index
            .and_then(|i| report.answer_positions.get_mut(i))
        {
            *slot += 1;
        }
    }
    Ok((questions, report))
}

/// A question sample: the answer first in `choices` (positions are balanced afterwards).
fn question(
    v: &McqVideo,
    id: String,
    text: String,
    answer: String,
    distractors: Vec<String>,
    qtype: &str,
    blank: usize,
) -> Sample {
    let mut s = v.sample.clone();
    s.id = id;
    s.dataset = "ssv2".into();
    s.task = Task::Video;
    s.question = Some(text);
    s.choices = std::iter::once(answer.clone()).chain(distractors).collect();
    s.answer = Some(answer);
    s.answer_index = Some(0);
    s.qtype = Some(qtype.into());
    s.captions = vec![v.entry.label.clone()];
    s.extra.insert("video_id".into(), v.entry.id.clone().into());
    s.extra.insert("blank".into(), blank.into());
    s.extra
        .insert("template".into(), v.entry.template.clone().into());
    s
}

/// Put the answer at each position equally often (±1): positions `i mod n` for the questions in
/// id order, shuffled by the seed; the distractors keep their drawn order in the other places.
fn balance_positions(questions: &mut [Sample], opts: &McqOptions) {
    let n = opts.choices;
    let mut positions: Vec<usize> = (0..questions.len()).map(|i| i % n).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    rng.set_stream(3);
    positions.shuffle(&mut rng);
    for (q, &pos) in questions.iter_mut().zip(&positions) {
        if q.choices.len() != n {
            continue;
        }
        let answer = q.choices.remove(0);
        q.choices.insert(pos, answer);
        q.answer_index = Some(pos);
    }
}

/// Split by video: a seeded permutation of the distinct video ids, the first
/// `round(videos × test / (test + train))` are `test` (at least one when both parts are
/// non-zero and there are two videos or more), the rest `train`.
fn assign_splits(questions: &mut [Sample], opts: &McqOptions, report: &mut McqReport) {
    let vid = |s: &Sample| {
        s.extra
            .get("video_id")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let ids: BTreeSet<String> = questions.iter().map(vid).collect();
    let mut ids: Vec<String> = ids.into_iter().collect();
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    rng.set_stream(4);
    ids.shuffle(&mut rng);
    let (test, train) = opts.split_ratio;
    let mut n_test = (ids.len() as f64 * test / (test + train)).round() as usize;
    if test > 0.0 && train > 0.0 && ids.len() >= 2 {
        n_test = n_test.clamp(1, ids.len() - 1);
    }
    let test_ids: BTreeSet<&String> = ids.iter().take(n_test).collect();
    report.videos_by_split.insert("test".into(), n_test);
    report
        .videos_by_split
        .insert("train".into(), ids.len() - n_test);
    for q in questions.iter_mut() {
        let split = if test_ids.contains(&vid(q)) {
            "test"
        } else {
            "train"
        };
        q.split = Some(split.into());
    }
}

/// Where [`load_dir`] reads an SSv2 dataset from.
#[derive(Debug, Clone, Default)]
pub struct Ssv2Source {
    /// The folder holding `labels.json` and the lists (`train.json`, `validation.json`).
    pub dir: PathBuf,
    /// Video files (`<id>.webm`/`.mp4`) or frame folders (`<id>/`); when given each must exist.
    pub media: Option<PathBuf>,
    /// Something-Else box files.
    pub boxes: Vec<PathBuf>,
}

/// The lists of an SSv2 folder that carry labels (`train.json`, `validation.json`; `test.json`
/// has no templates and is not used).
pub const LISTS: [&str; 2] = ["train.json", "validation.json"];

/// Load the videos of an SSv2 folder for [`build`], and the templates of its `labels.json`.
/// Records the loader refuses (unknown template, placeholder count, missing media, bad box) are
/// returned as skipped with the loader's message.
pub fn load_dir(src: &Ssv2Source) -> Result<(Vec<McqVideo>, Vec<String>, Vec<SkippedQuestion>)> {
    let labels_path = src.dir.join("labels.json");
    let labels = labels_path.is_file().then_some(labels_path.clone());
    let templates: Vec<String> = match &labels {
        Some(p) => {
            let mut t: Vec<String> = ssv2::read_labels(p)?.into_keys().collect();
            t.sort();
            t
        }
        None => Vec::new(),
    };
    let lists: Vec<PathBuf> = LISTS
        .iter()
        .map(|l| src.dir.join(l))
        .filter(|p| p.is_file())
        .collect();
    if lists.is_empty() {
        return Err(DataError::Invalid(format!(
            "{}: no train.json or validation.json (an SSv2 labels folder)",
            src.dir.display()
        )));
    }
    let mut videos = Vec::new();
    let mut skipped = Vec::new();
    for list in &lists {
        let entries: Vec<VideoEntry> =
            util::read_json(list, "SSv2 list: [{id, label, template, placeholders}]")?;
        let opts = Ssv2Options {
            labels: labels.clone(),
            video_dir: src.media.clone(),
            boxes: src.boxes.clone(),
            split: None,
            skip_bad: true,
        };
        let loaded = ssv2::load(list, &opts)?;
        let mut by_id: BTreeMap<String, Sample> = loaded
            .samples
            .into_iter()
            .map(|s| (s.id.trim_start_matches("ssv2-").to_string(), s))
            .collect();
        for e in loaded.skipped {
            let (video, reason) = match &e {
                DataError::Record {
                    record, message, ..
                } => (record.clone(), message.clone()),
                DataError::MissingMedia { record, media, .. } => (
                    record.clone(),
                    format!("missing media file {}", media.display()),
                ),
                other => (list.display().to_string(), other.to_string()),
            };
            skipped.push(SkippedQuestion {
                video: video.trim_start_matches("video ").to_string(),
                question: None,
                reason,
            });
        }
        for entry in entries {
            if let Some(sample) = by_id.remove(&entry.id) {
                videos.push(McqVideo { entry, sample });
            }
        }
    }
    Ok((videos, templates, skipped))
}

/// Load an SSv2 folder and build its questions; the loader's skips are part of the report.
pub fn build_from_dir(src: &Ssv2Source, opts: &McqOptions) -> Result<(Vec<Sample>, McqReport)> {
    let (videos, templates, skipped) = load_dir(src)?;
    let (questions, mut report) = build(&videos, &templates, opts)?;
    report.videos += skipped.len();
    let mut all = skipped;
    all.append(&mut report.skipped);
    report.skipped = all;
    Ok((questions, report))
}

/// Rewrite media paths relative to `dir` where they lie under it (else absolute), so a
/// questions file written to `dir` resolves them from its own folder.
pub fn relative_media(samples: &mut [Sample], dir: &Path) {
    let base = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let fix = |p: &mut PathBuf| {
        let abs = std::fs::canonicalize(&*p).unwrap_or_else(|_| p.clone());
        *p = match abs.strip_prefix(&base) {
            Ok(rel) => rel.to_path_buf(),
            Err(_) => abs,
        };
    };
    for s in samples {
        if let Some(v) = s.video.as_mut() {
            fix(v);
        }
        s.frames.iter_mut().for_each(fix);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(id: &str, template: &str, placeholders: &[&str]) -> McqVideo {
        let entry = VideoEntry {
            id: id.into(),
            label: String::new(),
            template: template.into(),
            placeholders: placeholders.iter().map(|s| s.to_string()).collect(),
        };
        McqVideo {
            sample: Sample::new(format!("ssv2-{id}"), "ssv2", Task::Video),
            entry,
        }
    }

    #[test]
    fn keys_fold_case_articles_and_spaces() {
        assert_eq!(vocab_key("A  Cheese cube."), "cheese cube");
        assert_eq!(vocab_key("the Pen"), "pen");
        assert_eq!(vocab_key("a"), "a");
        assert_eq!(vocab_key("  "), "");
    }

    #[test]
    fn questions_blank_each_placeholder_and_the_verb() {
        let vids = vec![
            video(
                "1",
                "Dropping [something] into [something]",
                &["a cheese cube", "red rubber ice-tray"],
            ),
            video("2", "[Something] falling like a rock", &["a pen"]),
            video("3", "Pushing [something] from left to right", &["cup"]),
            video("4", "Lifting [something] up", &["thermos bottle"]),
            video("5", "Tipping [something] over", &["salt shaker"]),
        ];
        let (qs, report) = build(&vids, &[], &McqOptions::default()).unwrap();
        let get = |id: &str| qs.iter().find(|q| q.id == id).unwrap();
        let q = get("ssv2-1-object1");
        assert_eq!(
            q.question.as_deref(),
            Some("dropping _____ into red rubber ice-tray")
        );
        assert_eq!(q.answer.as_deref(), Some("a cheese cube"));
        let keys: BTreeSet<String> = q.choices.iter().map(|c| vocab_key(c)).collect();
        assert_eq!(keys.len(), 4);
        assert!(!keys.contains("red rubber ice-tray"));
        assert_eq!(
            get("ssv2-1-verb").question.as_deref(),
            Some("_____ a cheese cube into red rubber ice-tray")
        );
        assert_eq!(
            get("ssv2-2-verb").question.as_deref(),
            Some("a pen _____ like a rock")
        );
        assert_eq!(get("ssv2-2-verb").answer.as_deref(), Some("falling"));
        assert_eq!(
            template_verb("Something falling like a rock").as_deref(),
            Some("falling")
        );
        assert_eq!(template_verb("[something]"), None);
        assert_eq!(report.questions, 11);
        assert_eq!(report.by_type["verb"], 5);
        assert!(report
            .answer_positions
            .iter()
            .all(|&n| (2..=3).contains(&n)));
    }
}
