//! Spatial words: seed 004 found CLIP-based grounding fails most on expressions that locate the
//! object by position ("the man on the left"), so every summary is broken down by them.

/// Words that make an expression spatial (matched as whole lowercase words).
pub const SPATIAL_WORDS: &[&str] = &[
    "left",
    "right",
    "top",
    "bottom",
    "above",
    "below",
    "behind",
    "front",
    "middle",
    "center",
    "centre",
    "near",
    "nearest",
    "far",
    "farthest",
    "furthest",
    "closest",
    "closer",
    "next",
    "beside",
    "between",
    "upper",
    "lower",
    "corner",
    "side",
    "under",
    "over",
    "leftmost",
    "rightmost",
    "first",
    "second",
    "third",
    "last",
];

/// True when `expression` contains a spatial word.
pub fn is_spatial(expression: &str) -> bool {
    expression
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| SPATIAL_WORDS.contains(&w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_words_only() {
        assert!(is_spatial("the man on the LEFT"));
        assert!(is_spatial("second circle from the top"));
        assert!(!is_spatial("a leftover sandwich"));
        assert!(!is_spatial("the red square"));
    }
}
