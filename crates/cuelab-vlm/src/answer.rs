//! What comes back: the raw answer and the option it was resolved to.

use serde::{Deserialize, Serialize};

/// How an answer's text was resolved to an option.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ParseOutcome {
    /// The text is exactly one option (constrained modes, or a clean free answer).
    Exact,
    /// The option was found inside free text; `how` names the rule (`letter`, `paren_letter`,
    /// `option_text`, `answer_is`, ...).
    Extracted {
        /// The extraction rule that matched.
        how: String,
    },
    /// Chosen by ranking log-probabilities (no text to parse).
    Ranked,
    /// No option could be read from the text. Counted and reported, never scored as a guess.
    Unparseable,
    /// An open question: the text is the answer.
    Open,
}

/// A model's answer to one [`crate::Question`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The text the model produced (empty for pure ranking).
    pub text: String,
    /// Index into the question's `choices`, when one was resolved.
    pub choice: Option<usize>,
    /// How `choice` was obtained.
    pub parse: ParseOutcome,
    /// Per-option log-probabilities, in `choices` order, when the mode ranks options. An option
    /// whose label was not among the returned tokens has `-inf` (written `null` in JSON).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "neg_inf_as_null"
    )]
    pub option_logprobs: Option<Vec<f64>>,
    /// Whether the answer came from the response cache (nothing was sent).
    #[serde(default)]
    pub from_cache: bool,
}

/// Serde for `Option<Vec<f64>>` writing `-inf` (and NaN) as `null` and reading `null` back as
/// `-inf`, since JSON has no infinities.
mod neg_inf_as_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<f64>>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref()
            .map(|xs| {
                xs.iter()
                    .map(|&x| x.is_finite().then_some(x))
                    .collect::<Vec<Option<f64>>>()
            })
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<f64>>, D::Error> {
        let v: Option<Vec<Option<f64>>> = Option::deserialize(d)?;
        Ok(v.map(|xs| {
            xs.into_iter()
                .map(|x| x.unwrap_or(f64::NEG_INFINITY))
                .collect()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logprobs_round_trip_with_infinities() {
        let a = Answer {
            text: "B".into(),
            choice: Some(1),
            parse: ParseOutcome::Ranked,
            option_logprobs: Some(vec![-2.5, -0.1, f64::NEG_INFINITY]),
            from_cache: false,
        };
        let json = serde_json::to_string(&a).unwrap();
        assert!(json.contains("[-2.5,-0.1,null]"), "{json}");
        let back: Answer = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
        let plain: Answer =
            serde_json::from_str(r#"{"text":"x","choice":null,"parse":{"status":"open"}}"#)
                .unwrap();
        assert_eq!(plain.option_logprobs, None);
    }
}
