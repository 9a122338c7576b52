//! The user message's text: question plus options, per answering mode and template.

use crate::question::{AnswerMode, Question};
use crate::remote::config::PromptTemplate;

/// The option label of index `i`: `A`, `B`, ... (`None` past `Z`).
pub fn label(i: usize) -> Option<char> {
    (i < 26).then(|| (b'A' + i as u8) as char)
}

/// Whether `mode` shows the options as a lettered list (and expects a letter back).
pub fn lettered(mode: AnswerMode) -> bool {
    matches!(mode, AnswerMode::Logprobs | AnswerMode::Free)
}

/// Builds the user text of `question` for `mode`. Open questions (no choices) are sent as they
/// are. `None` when the options cannot be lettered (more than 26 in a lettered mode).
pub fn user_text(
    template: &PromptTemplate,
    mode: AnswerMode,
    question: &Question,
) -> Option<String> {
    if question.choices.is_empty() {
        return Some(question.text.clone());
    }
    let (tpl, options) = if lettered(mode) {
        let mut lines = Vec::with_capacity(question.choices.len());
        for (i, c) in question.choices.iter().enumerate() {
            lines.push(format!("{}. {c}", label(i)?));
        }
        (&template.lettered, lines.join("\n"))
    } else {
        (&template.choice_list, question.choices.join(", "))
    };
    // one pass so that a question containing "{options}" is not expanded
    let mut out = String::with_capacity(tpl.len() + question.text.len() + options.len());
    let mut rest = tpl.as_str();
    while let Some(pos) = rest.find('{') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(t) = tail.strip_prefix("{question}") {
            out.push_str(&question.text);
            rest = t;
        } else if let Some(t) = tail.strip_prefix("{options}") {
            out.push_str(&options);
            rest = t;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str, choices: &[&str]) -> Question {
        Question {
            id: "q".into(),
            system: None,
            text: text.into(),
            images: vec![],
            choices: choices.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn per_mode_defaults() {
        let t = PromptTemplate::default();
        let question = q("What colour is the {options} ball?", &["red", "blue"]);
        assert_eq!(
            user_text(&t, AnswerMode::Structured, &question).as_deref(),
            Some("What colour is the {options} ball?\nOptions: red, blue")
        );
        assert_eq!(
            user_text(&t, AnswerMode::Free, &question).as_deref(),
            Some("What colour is the {options} ball?\nA. red\nB. blue\nAnswer with the option's letter.")
        );
        assert_eq!(
            user_text(&t, AnswerMode::Guided, &q("Describe it.", &[])).as_deref(),
            Some("Describe it.")
        );
        let many: Vec<String> = (0..27).map(|i| i.to_string()).collect();
        let mut big = q("n?", &[]);
        big.choices = many;
        assert_eq!(user_text(&t, AnswerMode::Logprobs, &big), None);
        assert!(user_text(&t, AnswerMode::Structured, &big).is_some());
    }
}
