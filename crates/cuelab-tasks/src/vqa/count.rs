//! Reading a count out of a free-text answer ("3", "three", "There are 3 circles.").

use cuelab_data::scenes::language::NUMBERS as WORDS;

/// The first count in `text`: a run of ASCII digits or an English number word (zero..twenty),
/// whichever comes first. `None` when the text holds no count or two different ones that the
/// reader cannot choose between ("3 or 4").
pub fn parse_count(text: &str) -> Option<i64> {
    let lower = text.to_lowercase();
    let mut found: Vec<i64> = Vec::new();
    for token in lower.split(|c: char| !c.is_ascii_alphanumeric()) {
        if token.is_empty() {
            continue;
        }
        if token.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = token.parse::<i64>() {
                found.push(n);
            }
        } else if let Some(n) = WORDS.iter().position(|w| *w == token) {
            found.push(n as i64);
        }
    }
    match found.as_slice() {
        [] => None,
        [n] => Some(*n),
        [first, rest @ ..] => {
            // "3 (three)" or "There are 3. Three circles." agree; "3 or 4" does not.
            if rest.iter().all(|n| n == first) {
                Some(*first)
            } else if lower.contains(" or ") {
                None
            } else {
                Some(*first)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_count;

    #[test]
    fn reads_digits_and_words() {
        assert_eq!(parse_count("3"), Some(3));
        assert_eq!(parse_count("There are 12 circles."), Some(12));
        assert_eq!(parse_count("Seven."), Some(7));
        assert_eq!(parse_count("3 (three)"), Some(3));
        assert_eq!(parse_count("I count 4 triangles and 2 squares"), Some(4));
        assert_eq!(parse_count("3 or 4"), None);
        assert_eq!(parse_count("none that I can see"), None);
        assert_eq!(parse_count(""), None);
    }
}
