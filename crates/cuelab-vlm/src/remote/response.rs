//! Reading a `/chat/completions` response into an [`Answer`].

use serde::Deserialize;

use crate::answer::{Answer, ParseOutcome};
use crate::extract::{extract, Extraction};
use crate::question::{AnswerMode, Question};
use crate::remote::prompt::label;

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
    #[serde(default)]
    logprobs: Option<Logprobs>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct Logprobs {
    #[serde(default)]
    content: Option<Vec<TokenLogprob>>,
}

#[derive(Deserialize)]
struct TokenLogprob {
    #[serde(default)]
    top_logprobs: Vec<TopLogprob>,
}

#[derive(Deserialize)]
struct TopLogprob {
    token: String,
    logprob: f64,
}

/// Parses a 200 response body. `Err` means the body is not a usable completion (malformed JSON,
/// no choices, logprobs missing in the `logprobs` mode): the request is worth retrying.
pub fn parse(body: &[u8], mode: AnswerMode, question: &Question) -> Result<Answer, String> {
    let completion: Completion =
        serde_json::from_slice(body).map_err(|e| format!("malformed response body: {e}"))?;
    let choice = completion
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| "response has no choices".to_string())?;
    let text = choice.message.content.unwrap_or_default();
    let n = question.choices.len();
    if n == 0 {
        return Ok(answer(text, None, ParseOutcome::Open, None));
    }
    Ok(match mode {
        AnswerMode::Structured | AnswerMode::Guided => {
            // constrained decoding: the text must be exactly one option; anything else is the
            // "wrong choice text" fault and is kept for inspection, never mapped to a guess
            match question.choices.iter().position(|c| *c == text) {
                Some(i) => answer(text, Some(i), ParseOutcome::Exact, None),
                None => answer(text, None, ParseOutcome::Unparseable, None),
            }
        }
        AnswerMode::Free => match extract(&text, &question.choices, true) {
            Extraction::Exact(i) => answer(text, Some(i), ParseOutcome::Exact, None),
            Extraction::Found { index, how } => answer(
                text,
                Some(index),
                ParseOutcome::Extracted {
                    how: how.to_string(),
                },
                None,
            ),
            Extraction::Unparseable => answer(text, None, ParseOutcome::Unparseable, None),
        },
        AnswerMode::Logprobs => {
            let top = choice
                .logprobs
                .and_then(|l| l.content)
                .and_then(|c| c.into_iter().next())
                .ok_or_else(|| "logprobs mode: the response has no logprobs".to_string())?
                .top_logprobs;
            let scores = rank(&top, n);
            let best = argmax(&scores);
            match best {
                Some(i) => answer(text, Some(i), ParseOutcome::Ranked, Some(scores)),
                None => answer(text, None, ParseOutcome::Unparseable, Some(scores)),
            }
        }
    })
}

fn answer(
    text: String,
    choice: Option<usize>,
    parse: ParseOutcome,
    option_logprobs: Option<Vec<f64>>,
) -> Answer {
    Answer {
        text,
        choice,
        parse,
        option_logprobs,
        from_cache: false,
    }
}

/// Log-probability of each option's label among the top tokens. A token counts for a label when,
/// stripped of whitespace and of `(`, `)`, `.`, `:`, it is the label (upper case); several tokens
/// of one label (`"A"`, `" A"`) are summed in probability (log-sum-exp). Labels not among the top
/// tokens get `-inf`.
fn rank(top: &[TopLogprob], n: usize) -> Vec<f64> {
    let mut scores = vec![f64::NEG_INFINITY; n];
    for t in top {
        let token = t
            .token
            .trim()
            .trim_matches(|c: char| matches!(c, '(' | ')' | '.' | ':'));
        let mut chars = token.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            continue;
        };
        let Some(i) = (0..n).find(|&i| label(i) == Some(c)) else {
            continue;
        };
        if !t.logprob.is_finite() {
            continue;
        }
        scores[i] = log_add(scores[i], t.logprob);
    }
    scores
}

fn log_add(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

fn argmax(scores: &[f64]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, &s) in scores.iter().enumerate() {
        if s.is_finite() && best.is_none_or(|b| s > scores[b]) {
            best = Some(i);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(choices: &[&str]) -> Question {
        Question {
            id: "q".into(),
            system: None,
            text: "?".into(),
            images: vec![],
            choices: choices.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn body(content: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]
        }))
        .unwrap()
    }

    #[test]
    fn constrained_exact_or_unparseable() {
        let question = q(&["red", "blue"]);
        let a = parse(&body("blue"), AnswerMode::Structured, &question).unwrap();
        assert_eq!((a.choice, a.parse), (Some(1), ParseOutcome::Exact));
        let a = parse(&body("Blue"), AnswerMode::Guided, &question).unwrap();
        assert_eq!((a.choice, &a.parse), (None, &ParseOutcome::Unparseable));
        assert_eq!(a.text, "Blue");
    }

    #[test]
    fn malformed_bodies_are_errors() {
        let question = q(&["red", "blue"]);
        assert!(parse(b"{not json", AnswerMode::Free, &question).is_err());
        assert!(parse(b"{\"choices\": []}", AnswerMode::Free, &question).is_err());
        assert!(parse(&body("A"), AnswerMode::Logprobs, &question).is_err());
    }

    #[test]
    fn logprobs_ranking() {
        let question = q(&["red", "blue", "green"]);
        let b = serde_json::to_vec(&serde_json::json!({
            "choices": [{"message": {"content": "B"}, "logprobs": {"content": [{
                "token": "B", "logprob": -0.5,
                "top_logprobs": [
                    {"token": "B", "logprob": -0.5},
                    {"token": " A", "logprob": -2.0},
                    {"token": "A", "logprob": -2.0},
                    {"token": "The", "logprob": -3.0},
                    {"token": "D", "logprob": -0.1}
                ]
            }]}}]
        }))
        .unwrap();
        let a = parse(&b, AnswerMode::Logprobs, &question).unwrap();
        assert_eq!(a.choice, Some(1));
        assert_eq!(a.parse, ParseOutcome::Ranked);
        let lp = a.option_logprobs.unwrap();
        assert!((lp[0] - (-2.0 + 2f64.ln())).abs() < 1e-12);
        assert_eq!(lp[1], -0.5);
        assert_eq!(lp[2], f64::NEG_INFINITY);
    }
}
