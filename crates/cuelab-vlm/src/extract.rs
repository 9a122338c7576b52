//! Reading the chosen option out of a free-text answer.
//!
//! The extractor is tolerant of form (case, whitespace, punctuation, markdown emphasis, a lettered
//! prefix, "the answer is ...") but never guesses: when the text names two different options, or
//! none, the result is [`Extraction::Unparseable`].
//!
//! Rules, tried in this order on the whole text (and, for "the answer is X", on the part after the
//! last such phrase):
//!
//! 1. `exact`: the text, normalised, is exactly one option's text.
//! 2. `letter`: the text is a lone option letter (`B`, `(b)`, `B.`, `b)`, `**B**`).
//! 3. `answer_is`: "the answer is X", "answer: X", "correct option is X", ...: rules 1, 2, 4, 5
//!    and 6 applied to X (up to the end of its sentence).
//! 4. `letter_prefix`: a leading option letter followed by `.`, `)` or `:` (`B. blue`,
//!    `(b) blue`); rejected if the rest of the text names another option.
//! 5. `paren_letter`: exactly one distinct parenthesised letter `(b)` anywhere in the text.
//! 6. `option_text`: exactly one option's text occurs in the text at word boundaries; an option
//!    whose every occurrence lies inside a longer matched option's occurrence does not count
//!    (`dark red` beats `red`).
//!
//! Letters are `A`, `B`, ... in option order and are only read when `letters` is true (the
//! prompt showed a lettered list). Bare letters inside a sentence are never read (`a` is an
//! article).

/// The outcome of reading an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extraction {
    /// The text is exactly one option (after normalisation).
    Exact(usize),
    /// An option was found by the named rule.
    Found {
        /// Index of the option.
        index: usize,
        /// The rule: `letter`, `answer_is`, `letter_prefix`, `paren_letter` or `option_text`.
        how: &'static str,
    },
    /// No option, or more than one, could be read.
    Unparseable,
}

impl Extraction {
    /// The option index, if one was read.
    pub fn index(&self) -> Option<usize> {
        match self {
            Extraction::Exact(i) | Extraction::Found { index: i, .. } => Some(*i),
            Extraction::Unparseable => None,
        }
    }
}

/// Reads which of `choices` the free-text `text` names. `letters`: whether option letters
/// (`A`, `B`, ...) are meaningful (the prompt listed the options with letters).
pub fn extract(text: &str, choices: &[String], letters: bool) -> Extraction {
    let options: Vec<Vec<String>> = choices.iter().map(|c| tokens(c)).collect();
    let letters = letters && choices.len() <= 26;
    let words = tokens(text);
    match read(text, &words, &options, choices.len(), letters) {
        Read::One(i, "exact") => Extraction::Exact(i),
        Read::One(i, how) => Extraction::Found { index: i, how },
        Read::None | Read::Ambiguous => Extraction::Unparseable,
    }
}

/// A single reading attempt.
enum Read {
    One(usize, &'static str),
    None,
    Ambiguous,
}

fn read(raw: &str, words: &[String], options: &[Vec<String>], n: usize, letters: bool) -> Read {
    if words.is_empty() {
        return Read::None;
    }
    // 1. exact option text
    let exact: Vec<usize> = (0..n)
        .filter(|&i| !options[i].is_empty() && options[i] == words)
        .collect();
    match exact.len() {
        1 => return Read::One(exact[0], "exact"),
        0 => {}
        _ => return Read::Ambiguous,
    }
    // 2. lone letter
    if letters && words.len() == 1 {
        if let Some(i) = letter_index(&words[0], n) {
            return Read::One(i, "letter");
        }
    }
    // 3. "the answer is X"
    if let Some(tail) = answer_tail(raw) {
        let tail_words = tokens(tail);
        if !tail_words.is_empty() && tail_words.len() < words.len() {
            return match read(tail, &tail_words, options, n, letters) {
                Read::One(i, _) => Read::One(i, "answer_is"),
                other => other,
            };
        }
    }
    // 4. leading letter with punctuation: "B. blue", "(b) blue", "b) blue", "B: blue"
    if letters {
        if let Some((i, rest)) = leading_letter(raw, n) {
            let rest_words = tokens(rest);
            return match mentioned(&rest_words, options) {
                Mention::One(j) if j != i => Read::Ambiguous,
                Mention::Many(ref js) if !js.contains(&i) => Read::Ambiguous,
                _ => Read::One(i, "letter_prefix"),
            };
        }
        // 5. a single distinct "(b)" anywhere
        let mut found: Vec<usize> = paren_letters(raw, n);
        found.sort_unstable();
        found.dedup();
        match found.len() {
            0 => {}
            1 => {
                let i = found[0];
                return match mentioned(words, options) {
                    Mention::One(j) if j != i => Read::Ambiguous,
                    _ => Read::One(i, "paren_letter"),
                };
            }
            _ => return Read::Ambiguous,
        }
    }
    // 6. option text inside the sentence
    match mentioned(words, options) {
        Mention::One(i) => Read::One(i, "option_text"),
        Mention::None => Read::None,
        Mention::Many(_) => Read::Ambiguous,
    }
}

/// Lower-cased alphanumeric words; every other character separates words.
fn tokens(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn letter_index(word: &str, n: usize) -> Option<usize> {
    let mut chars = word.chars();
    let c = chars.next()?;
    if chars.next().is_some() || !c.is_ascii_alphabetic() {
        return None;
    }
    let i = (c.to_ascii_lowercase() as u8 - b'a') as usize;
    (i < n).then_some(i)
}

/// Text after the last "answer is" / "answer:" / "option is" style phrase, up to the end of its
/// sentence.
fn answer_tail(raw: &str) -> Option<&str> {
    let lower = raw.to_lowercase();
    // `to_lowercase` can change byte lengths for some scripts; only use positions when it did not.
    if lower.len() != raw.len() {
        return None;
    }
    const MARKERS: [&str; 8] = [
        "answer is",
        "answer would be",
        "answer:",
        "option is",
        "choice is",
        "option:",
        "choice:",
        "i choose",
    ];
    let (pos, marker) = MARKERS
        .iter()
        .filter_map(|m| lower.rfind(m).map(|p| (p, *m)))
        .max_by_key(|(p, m)| p + m.len())?;
    let tail = &raw[pos + marker.len()..];
    let tail = tail.trim_start_matches([':', ' ', '\t', '\n', '*', '"', '\'']);
    // up to the end of the sentence (a '.' followed by whitespace or the end), or a newline
    let mut end = tail.len();
    let bytes = tail.as_bytes();
    for (k, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            end = k;
            break;
        }
        // a period ends the sentence unless it directly follows a lone letter ("B. blue")
        if b == b'.' && bytes.get(k + 1).is_none_or(|c| c.is_ascii_whitespace()) && k > 1 {
            end = k;
            break;
        }
    }
    Some(&tail[..end])
}

/// A leading option letter written as `B.`, `B)`, `(B)`, `B:` (optionally in `**`), and the
/// rest of the text.
fn leading_letter(raw: &str, n: usize) -> Option<(usize, &str)> {
    let s = raw.trim_start().trim_start_matches(['*', '"', '\'', '`']);
    let (s, paren) = match s.strip_prefix('(') {
        Some(rest) => (rest, true),
        None => (s, false),
    };
    let mut chars = s.char_indices();
    let (_, c) = chars.next()?;
    let (k, next) = chars.next()?;
    let i = letter_index(&c.to_string(), n)?;
    let ok = if paren {
        next == ')'
    } else {
        matches!(next, '.' | ')' | ':')
    };
    if !ok {
        return None;
    }
    let rest = &s[k + next.len_utf8()..];
    // "B.blue" would be odd but "e.g." must not read as option E: require a space or the end
    if !paren
        && next == '.'
        && rest
            .chars()
            .next()
            .is_some_and(|c| !c.is_whitespace() && c != '*')
    {
        return None;
    }
    Some((i, rest))
}

/// Every parenthesised single letter `(x)` naming an option.
fn paren_letters(raw: &str, n: usize) -> Vec<usize> {
    let chars: Vec<char> = raw.chars().collect();
    chars
        .windows(3)
        .filter(|w| w[0] == '(' && w[2] == ')')
        .filter_map(|w| letter_index(&w[1].to_string(), n))
        .collect()
}

enum Mention {
    None,
    One(usize),
    Many(Vec<usize>),
}

/// Which options occur in `words` at word boundaries, longest match winning over a shorter
/// option it contains.
fn mentioned(words: &[String], options: &[Vec<String>]) -> Mention {
    // (option, start, end) of every occurrence
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    for (i, opt) in options.iter().enumerate() {
        if opt.is_empty() || opt.len() > words.len() {
            continue;
        }
        for start in 0..=words.len() - opt.len() {
            if words[start..start + opt.len()] == opt[..] {
                spans.push((i, start, start + opt.len()));
            }
        }
    }
    let mut hits: Vec<usize> = Vec::new();
    for &(i, s, e) in &spans {
        let inside_longer = spans
            .iter()
            .any(|&(j, s2, e2)| j != i && s2 <= s && e <= e2 && (e2 - s2) > (e - s));
        if !inside_longer && !hits.contains(&i) {
            hits.push(i);
        }
    }
    match hits.len() {
        0 => Mention::None,
        1 => Mention::One(hits[0]),
        _ => Mention::Many(hits),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn idx(text: &str, choices: &[&str]) -> Option<usize> {
        extract(text, &opts(choices), true).index()
    }

    #[test]
    fn exact_text_in_any_case_and_punctuation() {
        let c = ["red", "blue", "dark red"];
        assert_eq!(extract("blue", &opts(&c), true), Extraction::Exact(1));
        assert_eq!(extract("  Blue. ", &opts(&c), true), Extraction::Exact(1));
        assert_eq!(
            extract("**DARK RED**", &opts(&c), true),
            Extraction::Exact(2)
        );
        assert_eq!(extract("\"red\"\n", &opts(&c), true), Extraction::Exact(0));
    }

    #[test]
    fn lone_letters() {
        let c = ["cat", "dog", "bird"];
        for (t, want) in [
            ("B", 1),
            ("b", 1),
            ("(b)", 1),
            ("B.", 1),
            ("b)", 1),
            ("**C**", 2),
            (" a ", 0),
            ("[A]", 0),
        ] {
            assert_eq!(
                extract(t, &opts(&c), true),
                Extraction::Found {
                    index: want,
                    how: "letter"
                },
                "{t:?}"
            );
        }
        // out of range letters and letters without a lettered prompt
        assert_eq!(idx("D", &c), None);
        assert_eq!(extract("B", &opts(&c), false), Extraction::Unparseable);
    }

    #[test]
    fn answer_is_phrases() {
        let c = ["cat", "dog", "bird"];
        let r = extract("I think the answer is (B) dog.", &opts(&c), true);
        assert_eq!(
            r,
            Extraction::Found {
                index: 1,
                how: "answer_is"
            }
        );
        assert_eq!(idx("The answer is: C", &c), Some(2));
        assert_eq!(idx("Answer: bird", &c), Some(2));
        assert_eq!(
            idx(
                "Looking at the image, a cat and a dog are visible, but the answer is dog.",
                &c
            ),
            Some(1)
        );
        assert_eq!(idx("The correct option is A. The cat sits.", &c), Some(0));
        assert_eq!(idx("The answer is **B**", &c), Some(1));
        // the answer-is part names two options: ambiguous, not a guess
        assert_eq!(idx("The answer is cat or dog.", &c), None);
    }

    #[test]
    fn letter_prefix_and_consistency() {
        let c = ["cat", "dog", "bird"];
        assert_eq!(
            extract("B. dog", &opts(&c), true),
            Extraction::Found {
                index: 1,
                how: "letter_prefix"
            }
        );
        assert_eq!(idx("(c) bird, clearly", &c), Some(2));
        assert_eq!(idx("A: the cat on the left", &c), Some(0));
        assert_eq!(idx("b) dog", &c), Some(1));
        // letter says dog, text says bird
        assert_eq!(idx("B. bird", &c), None);
        // "e.g." is not option E
        let fruit = ["apple", "banana", "cherry", "date", "elderberry"];
        assert_eq!(idx("e.g. a cherry", &fruit), Some(2));
    }

    #[test]
    fn paren_letter_inside_sentence() {
        let c = ["cat", "dog", "bird"];
        assert_eq!(
            extract("It looks like option (c) to me", &opts(&c), true),
            Extraction::Found {
                index: 2,
                how: "paren_letter"
            }
        );
        assert_eq!(idx("Either (a) or (b)", &c), None);
        assert_eq!(idx("(b) ... yes, (b)", &c), Some(1));
    }

    #[test]
    fn option_text_inside_sentence() {
        let c = ["red", "blue", "dark red"];
        assert_eq!(
            extract("The ball is blue in colour.", &opts(&c), true),
            Extraction::Found {
                index: 1,
                how: "option_text"
            }
        );
        // longest wins: "dark red" contains "red"
        assert_eq!(idx("It is a dark red ball", &c), Some(2));
        // word boundaries: "redder" and "blueberry" are not options
        assert_eq!(idx("It is redder than a blueberry", &c), None);
        // two options named: ambiguous
        assert_eq!(idx("It is red, not blue", &c), None);
        assert_eq!(idx("Both red and dark red appear", &c), None);
        // numbers
        assert_eq!(idx("There are 3 apples.", &["2", "3", "13"]), Some(1));
        assert_eq!(idx("I count 13", &["2", "3", "13"]), Some(2));
    }

    #[test]
    fn nothing_or_garbage() {
        let c = ["cat", "dog"];
        for t in [
            "",
            "   ",
            "I cannot tell from this image.",
            "???",
            "The answer is unclear",
            "{\"answer\": null}",
        ] {
            assert_eq!(
                extract(t, &opts(&c), true),
                Extraction::Unparseable,
                "{t:?}"
            );
        }
        // letters never read from bare words in a sentence
        assert_eq!(idx("a picture of something", &c), None);
    }

    #[test]
    fn multiword_options_and_punctuation() {
        let c = [
            "Yes, the dog is left of the cat",
            "No, the dog is right of the cat",
        ];
        assert_eq!(idx("yes the dog is left of the cat", &c), Some(0));
        assert_eq!(idx("Answer: No, the dog is right of the cat.", &c), Some(1));
        assert_eq!(idx("No", &["Yes", "No"]), Some(1));
        assert_eq!(idx("no.", &["Yes", "No"]), Some(1));
        assert_eq!(idx("Yes and no", &["Yes", "No"]), None);
    }

    #[test]
    fn non_ascii_text_does_not_panic() {
        let c = ["çà", "ß"];
        assert_eq!(idx("ÇÀ", &c), Some(0));
        assert_eq!(idx("İ the answer is ß", &c), Some(1));
        assert_eq!(idx("(é) 😀", &c), None);
    }
}
