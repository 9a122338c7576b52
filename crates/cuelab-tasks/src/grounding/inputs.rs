//! What a grounding run's inputs could not provide, counted: samples the loader skipped (by
//! reason), samples whose image has no entry in a proposals file (scored on the whole-image
//! fallback), detector boxes that failed validation. Recorded in the manifest (`data.inputs`),
//! the summary (`inputs`) and the terminal table; nothing is left out silently.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Counts of inputs left out or replaced, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputCounts {
    /// Grounding samples skipped while loading, by reason (e.g. `no target box`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub skipped: BTreeMap<String, usize>,
    /// Samples (of those this run scores) whose image has no entry in the proposals file.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub images_without_proposals: usize,
    /// Detector boxes dropped because they failed validation (empty or not finite).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub invalid_detections: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl InputCounts {
    /// Count one skipped sample for `reason`.
    pub fn skip(&mut self, reason: &str) {
        *self.skipped.entry(reason.to_string()).or_default() += 1;
    }

    /// True when nothing was skipped, replaced or dropped.
    pub fn is_empty(&self) -> bool {
        self.skipped.is_empty()
            && self.images_without_proposals == 0
            && self.invalid_detections == 0
    }

    /// One human line per kind, for the terminal.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .skipped
            .iter()
            .map(|(reason, n)| format!("{n} sample(s) skipped while loading: {reason}"))
            .collect();
        if self.images_without_proposals > 0 {
            out.push(format!(
                "{} sample(s) had no entry in the proposals file (scored on the whole image)",
                self.images_without_proposals
            ));
        }
        if self.invalid_detections > 0 {
            out.push(format!(
                "{} detector box(es) failed validation and were dropped",
                self.invalid_detections
            ));
        }
        out
    }
}

/// The counts of a merged run from its shards' counts: load-time skips are the same in every
/// shard (loading happens before sharding) and are taken once; proposal and detection counts
/// are per shard and add up.
pub fn merge_shard_counts(shards: &[InputCounts]) -> InputCounts {
    let mut out = shards.first().cloned().unwrap_or_default();
    out.images_without_proposals = shards.iter().map(|c| c.images_without_proposals).sum();
    out.invalid_detections = shards.iter().map(|c| c.invalid_detections).sum();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_counts_serialise_to_an_empty_object_and_lines_name_every_kind() {
        let mut c = InputCounts::default();
        assert!(c.is_empty());
        assert_eq!(serde_json::to_string(&c).unwrap(), "{}");
        c.skip("no target box");
        c.skip("no target box");
        c.images_without_proposals = 3;
        c.invalid_detections = 1;
        assert!(!c.is_empty());
        let lines = c.lines();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("2 sample(s) skipped"));
        let back: InputCounts = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }
}
