//! Attribute words: the normalised words (lower case, singular) that name what an object is
//! ("red", "circle"; "traffic", "light"), used to decide which objects a question is about and
//! which true object a listed item names.

/// Number words read as counts in listings ("two red circles" = two items).
const COUNT_WORDS: [&str; 13] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve",
];

/// Irregular plurals (COCO's categories and common nouns), plural -> singular.
const IRREGULAR: [(&str, &str); 8] = [
    ("people", "person"),
    ("men", "man"),
    ("women", "woman"),
    ("children", "child"),
    ("mice", "mouse"),
    ("knives", "knife"),
    ("geese", "goose"),
    ("teeth", "tooth"),
];

/// Nouns that look plural but are not (kept as they are).
const INVARIANT: [&str; 6] = ["scissors", "glasses", "skis", "sheep", "bus", "grass"];

/// The singular of a lower-case word (rules good enough for object nouns; the same function
/// normalises both sides of every comparison, so it only has to be consistent).
pub fn singular(word: &str) -> String {
    if let Some((_, s)) = IRREGULAR.iter().find(|(p, _)| *p == word) {
        return (*s).to_string();
    }
    if INVARIANT.contains(&word) {
        return word.to_string();
    }
    if word == "buses" {
        return "bus".to_string();
    }
    if let Some(stem) = word.strip_suffix("ies") {
        if stem.len() >= 2 {
            return format!("{stem}y");
        }
    }
    for suffix in ["ches", "shes", "sses", "xes", "zes"] {
        if word.ends_with(suffix) {
            return word[..word.len() - 2].to_string();
        }
    }
    if word.len() > 3 && word.ends_with('s') && !word.ends_with("ss") && !word.ends_with("us") {
        return word[..word.len() - 1].to_string();
    }
    word.to_string()
}

/// The plural of a noun phrase (its last word made plural).
pub fn plural(phrase: &str) -> String {
    let phrase = phrase.trim();
    let (head, last) = match phrase.rsplit_once(' ') {
        Some((h, l)) => (format!("{h} "), l),
        None => (String::new(), phrase),
    };
    if let Some((p, _)) = IRREGULAR.iter().find(|(_, s)| *s == last) {
        return format!("{head}{p}");
    }
    if INVARIANT.contains(&last) && last != "bus" {
        return format!("{head}{last}");
    }
    let out = if last.ends_with('y')
        && !last.ends_with("ay")
        && !last.ends_with("ey")
        && !last.ends_with("oy")
    {
        format!("{}ies", &last[..last.len() - 1])
    } else if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|s| last.ends_with(s))
    {
        format!("{last}es")
    } else {
        format!("{last}s")
    };
    format!("{head}{out}")
}

/// The attribute words of a text: lower-case alphabetic tokens, singular.
pub fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|t| !t.is_empty())
        .map(singular)
        .collect()
}

/// The count a listed item starts with ("two red circles" = 2, "a circle" = 1), if any.
pub fn leading_count(text: &str) -> Option<usize> {
    let first = text
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|t| !t.is_empty())?
        .to_string();
    if let Ok(n) = first.parse::<usize>() {
        return Some(n);
    }
    COUNT_WORDS.iter().position(|w| *w == first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn singular_and_plural_agree() {
        for (s, p) in [
            ("circle", "circles"),
            ("person", "people"),
            ("bus", "buses"),
            ("box", "boxes"),
            ("bench", "benches"),
            ("sheep", "sheep"),
            ("skis", "skis"),
            ("red circle", "red circles"),
            ("traffic light", "traffic lights"),
            ("teddy", "teddies"),
            ("toy", "toys"),
        ] {
            assert_eq!(plural(s), p, "{s}");
            let last = p.rsplit(' ').next().unwrap();
            let want = s.rsplit(' ').next().unwrap();
            assert_eq!(singular(last), singular(want), "{p}");
        }
        assert_eq!(words("Two RED circles!"), vec!["two", "red", "circle"]);
        assert_eq!(leading_count("two red circles"), Some(2));
        assert_eq!(leading_count("3 circles"), Some(3));
        assert_eq!(leading_count("a circle"), None);
    }
}
