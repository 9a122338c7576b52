//! Scoring "List the X from left to right": the answer is split into listed items (lines,
//! commas, "and"; numbering and bullets removed; "two red circles" counts as two items), each
//! item that names something (uses a vocabulary word) is matched to a true object whose name
//! holds every attribute word of the item, and the matching gives precision, recall, F1 and how
//! well the listed order follows the true left-to-right order.

use serde::{Deserialize, Serialize};

use super::data::ProbeItem;
use super::words::{leading_count, words};

/// Scores of one listing answer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ListingScore {
    /// Listed items that name something.
    pub listed: usize,
    /// Listed items matched to a true target object.
    pub matched: usize,
    /// True target objects.
    pub truth: usize,
    /// `matched / listed` (1 when nothing is listed and nothing is there, 0 when only one side
    /// is empty).
    pub precision: f64,
    /// `matched / truth` (same convention).
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Share of pairs of matched items listed in their true left-to-right order (1 with fewer
    /// than two matches).
    pub order: f64,
}

/// The listed items of an answer, each as its attribute words (vocabulary words only), in the
/// order listed. Items naming nothing ("from left to right:") are dropped.
pub fn listed_items(answer: &str, vocabulary: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let normalised = answer.replace(" and ", ",").replace(" then ", ",");
    for part in normalised.split(['\n', ',', ';']) {
        let part = strip_numbering(part);
        if part.is_empty() {
            continue;
        }
        let named: Vec<String> = words(part)
            .into_iter()
            .filter(|w| vocabulary.contains(w))
            .collect();
        if named.is_empty() {
            continue;
        }
        let times = leading_count(part).unwrap_or(1).clamp(1, 100);
        for _ in 0..times {
            out.push(named.clone());
        }
    }
    out
}

/// `part` without a leading bullet (`-`, `*`, `•`) or list number (`1.`, `2)`).
fn strip_numbering(part: &str) -> &str {
    let part = part.trim().trim_start_matches(['-', '*', '•']).trim_start();
    let digits = part.len() - part.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits > 0 && part[digits..].starts_with(['.', ')', ':']) {
        return part[digits + 1..].trim();
    }
    part.trim()
}

fn ratio(num: usize, den: usize, other_empty: bool) -> f64 {
    if den == 0 {
        if other_empty {
            1.0
        } else {
            0.0
        }
    } else {
        num as f64 / den as f64
    }
}

/// Score `answer` as a listing of `item`'s targets.
pub fn score_listing(item: &ProbeItem, answer: &str) -> ListingScore {
    let listed = listed_items(answer, &item.vocabulary);
    let truth: Vec<Vec<String>> = item.targets().iter().map(|o| words(&o.name)).collect();
    let compatible =
        |l: &[String], t: &[String]| -> bool { !l.is_empty() && l.iter().all(|w| t.contains(w)) };
    // Kuhn's augmenting paths; listed items in order, truths tried left to right, so identical
    // objects are matched in order.
    let mut owner: Vec<Option<usize>> = vec![None; truth.len()];
    fn augment(
        i: usize,
        listed: &[Vec<String>],
        truth: &[Vec<String>],
        owner: &mut [Option<usize>],
        seen: &mut [bool],
        ok: &dyn Fn(&[String], &[String]) -> bool,
    ) -> bool {
        for t in 0..truth.len() {
            if seen[t] || !ok(&listed[i], &truth[t]) {
                continue;
            }
            seen[t] = true;
            if owner[t].is_none_or(|j| augment(j, listed, truth, owner, seen, ok)) {
                owner[t] = Some(i);
                return true;
            }
        }
        false
    }
    for i in 0..listed.len() {
        let mut seen = vec![false; truth.len()];
        augment(i, &listed, &truth, &mut owner, &mut seen, &compatible);
    }
    let pairs: Vec<(usize, usize)> = owner
        .iter()
        .enumerate()
        .filter_map(|(t, o)| o.map(|i| (i, t)))
        .collect();
    let matched = pairs.len();
    let (mut concordant, mut total) = (0usize, 0usize);
    for a in 0..pairs.len() {
        for b in a + 1..pairs.len() {
            total += 1;
            if (pairs[a].0 < pairs[b].0) == (pairs[a].1 < pairs[b].1) {
                concordant += 1;
            }
        }
    }
    let precision = ratio(matched, listed.len(), truth.is_empty());
    let recall = ratio(matched, truth.len(), listed.is_empty());
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    ListingScore {
        listed: listed.len(),
        matched,
        truth: truth.len(),
        precision,
        recall,
        f1,
        order: if total == 0 {
            1.0
        } else {
            concordant as f64 / total as f64
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::data::ProbeObject;
    use cuelab_cue::BoxXyxy;

    fn item(names: &[(&str, bool)]) -> ProbeItem {
        let objects = names
            .iter()
            .enumerate()
            .map(|(i, (n, t))| ProbeObject {
                bbox: BoxXyxy::new(i as f32 * 10.0, 0.0, i as f32 * 10.0 + 5.0, 5.0).unwrap(),
                name: (*n).to_string(),
                target: *t,
            })
            .collect();
        ProbeItem {
            id: "x".into(),
            image: "x.png".into(),
            width: 100,
            height: 100,
            singular: "circle".into(),
            plural: "circles".into(),
            qtype: "count".into(),
            objects,
            vocabulary: ["red", "blue", "green", "circle", "star"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }

    #[test]
    fn lists_are_split_matched_and_ordered() {
        let it = item(&[
            ("red circle", true),
            ("green star", false),
            ("blue circle", true),
        ]);
        let s = score_listing(&it, "From left to right:\n1. red circle\n2. blue circle");
        assert_eq!((s.listed, s.matched, s.truth), (2, 2, 2));
        assert_eq!((s.precision, s.recall, s.order), (1.0, 1.0, 1.0));
        let s = score_listing(&it, "a blue circle and a red circle");
        assert_eq!(s.matched, 2);
        assert_eq!(s.order, 0.0);
        let s = score_listing(&it, "red circle, green star, red circle");
        assert_eq!((s.listed, s.matched), (3, 1));
        assert!((s.precision - 1.0 / 3.0).abs() < 1e-12 && (s.recall - 0.5).abs() < 1e-12);
        // "circle" alone matches either circle; counts expand.
        let s = score_listing(&it, "two circles");
        assert_eq!((s.listed, s.matched, s.f1), (2, 2, 1.0));
        let s = score_listing(&it, "- 2 circles");
        assert_eq!(s.matched, 2);
        let s = score_listing(&it, "I cannot see any.");
        assert_eq!((s.listed, s.precision, s.recall, s.f1), (0, 0.0, 0.0, 0.0));
        let none = item(&[("green star", false)]);
        let s = score_listing(&none, "There are none.");
        assert_eq!((s.precision, s.recall), (1.0, 1.0));
    }
}
