//! A Rust reimplementation of the tokenisation step of pycocoevalcap: the Stanford PTB tokenizer
//! (CoreNLP 3.4.1, run with `-preserveLines -lowerCase`) followed by pycocoevalcap's punctuation
//! filter. No Java is involved; the behaviour was studied on probe text and is checked token for
//! token against the Java output on the committed fixture (`tests/it/parity.rs`).
//!
//! Covered: lowercasing, contractions (`don't` → `do n't`, `can't` → `ca n't`, `'s 'm 're 've 'll 'd`,
//! `cannot`, `gonna`), quotes (ASCII, LaTeX and curly), brackets (`(` → `-lrb-`, which the
//! pycocoevalcap filter does *not* remove because it compares against upper-case names), dash runs,
//! ellipses, trailing punctuation runs (`!!!`, `?!`), abbreviations and acronyms (`e.g.`, `u.s.`,
//! `mr.`), currency and fraction normalisation (`€` → `$`, `£` → `#`, `½` → `1/2`), `&amp;`,
//! `* + = |` splitting, and dropping of emoji the Java lexer cannot tokenise.

/// Tokens pycocoevalcap removes after tokenisation (compared after the Java `-lowerCase`, so the
/// bracket names in upper case never match).
const PUNCTUATIONS: [&str; 17] = [
    "''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--",
    "...", ";",
];

/// Words that keep their final period (PTB abbreviation list, the part captions meet).
const ABBREVIATIONS: [&str; 40] = [
    "mr", "mrs", "ms", "dr", "st", "jr", "sr", "prof", "vs", "etc", "inc", "co", "corp", "ltd",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "mt",
    "ft", "gen", "gov", "sen", "rep", "rev", "capt", "sgt", "col", "lt", "messrs", "bros", "ave",
];

/// Tokenise one caption exactly as pycocoevalcap's `PTBTokenizer.tokenize` does: newlines become
/// spaces, the PTB tokens are lowercased, punctuation tokens are dropped, the rest joined by one space.
pub fn tokenize_caption(caption: &str) -> String {
    let mut out = String::with_capacity(caption.len() + 8);
    for tok in ptb_tokens(caption) {
        if PUNCTUATIONS.contains(&tok.as_str()) {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&tok);
    }
    out
}

/// The lowercased PTB tokens of one line, before pycocoevalcap's punctuation filter.
pub fn ptb_tokens(line: &str) -> Vec<String> {
    let norm = normalize(line);
    let chunks: Vec<&str> = norm
        .split(char::is_whitespace)
        .filter(|c| !c.is_empty())
        .collect();
    let mut out = Vec::with_capacity(chunks.len() + 4);
    for (i, chunk) in chunks.iter().enumerate() {
        let next = chunks.get(i + 1).copied().unwrap_or("");
        tokenize_chunk(chunk, next, &mut out);
    }
    out
}

/// Character-level normalisation the Java lexer applies before or while splitting.
fn normalize(line: &str) -> String {
    let mut s = String::with_capacity(line.len() + 8);
    for c in line.chars() {
        match c {
            '\n' | '\r' => s.push(' '),
            '\u{2018}' => s.push('`'),
            '\u{2019}' => s.push('\''),
            '\u{201C}' => s.push_str("``"),
            '\u{201D}' => s.push_str("''"),
            '\u{2026}' => s.push_str("..."),
            '\u{2013}' | '\u{2014}' => s.push_str("--"),
            '\u{20AC}' => s.push('$'),
            '\u{00A3}' => s.push('#'),
            '\u{00BD}' => s.push_str(" 1/2 "),
            '\u{00BC}' => s.push_str(" 1/4 "),
            '\u{00BE}' => s.push_str(" 3/4 "),
            c if is_dropped(c) => {}
            c => s.push(c),
        }
    }
    if s.contains('&') {
        s = replace_entities(&s);
    }
    s
}

/// `&amp;` (any case), `&lt;` and `&gt;` become the character they name.
fn replace_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        let head: String = tail
            .chars()
            .take(5)
            .collect::<String>()
            .to_ascii_lowercase();
        if head.starts_with("&amp;") {
            out.push('&');
            rest = &tail[5..];
        } else if head.starts_with("&lt;") {
            out.push('<');
            rest = &tail[4..];
        } else if head.starts_with("&gt;") {
            out.push('>');
            rest = &tail[4..];
        } else {
            out.push('&');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// Characters the Java lexer reports as untokenizable and drops (emoji and pictographs).
fn is_dropped(c: char) -> bool {
    matches!(c as u32, 0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0xFE0F | 0x200D)
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

fn first_char(s: &str) -> Option<char> {
    s.chars().next()
}

fn is_single_letter_acronym(core: &str) -> bool {
    // letter(.letter)*  e.g. "a", "e.g", "u.s", "a.b.c"
    let mut expect_letter = true;
    for c in core.chars() {
        if expect_letter {
            if !c.is_alphabetic() {
                return false;
            }
        } else if c != '.' {
            return false;
        }
        expect_letter = !expect_letter;
    }
    !core.is_empty() && !expect_letter
}

fn keeps_period(core: &str, next: &str) -> bool {
    if is_single_letter_acronym(core) {
        return true;
    }
    let l = lower(core);
    if l == "no" {
        return next.chars().next().is_some_and(|c| c.is_ascii_digit());
    }
    ABBREVIATIONS.contains(&l.as_str())
}

fn tokenize_chunk(s: &str, next: &str, out: &mut Vec<String>) {
    let mut start = 0usize;
    let mut end = s.len();
    // Leading punctuation.
    loop {
        let rest = &s[start..end];
        if rest.is_empty() {
            break;
        }
        let c1 = rest.chars().nth(1);
        if rest.starts_with("``") {
            out.push("``".into());
            start += 2;
        } else if rest.starts_with("''") {
            out.push("''".into());
            start += 2;
        } else if rest.starts_with('"') {
            out.push("``".into());
            start += 1;
        } else if rest.starts_with('`') {
            out.push("`".into());
            start += 1;
        } else if let Some(b) = bracket(rest.as_bytes()[0]) {
            out.push(b.into());
            start += 1;
        } else if rest.starts_with('\'') {
            let l = lower(rest);
            if rest.len() == 1 {
                out.push("'".into());
                start += 1;
            } else if c1.is_some_and(|c| c.is_ascii_digit())
                || (l.starts_with("'em") && !l[3..].chars().next().is_some_and(char::is_alphabetic))
            {
                break;
            } else if l.starts_with("'tis") || l.starts_with("'twas") {
                out.push("'t".into());
                start += 2;
                break;
            } else {
                out.push("`".into());
                start += 1;
            }
        } else if rest.starts_with("...") {
            out.push("...".into());
            start += rest.len() - rest.trim_start_matches('.').len();
        } else if rest.starts_with("--") {
            out.push("--".into());
            start += rest.len() - rest.trim_start_matches('-').len();
        } else if rest.starts_with('-') && rest.len() > 1 && !c1.is_some_and(|c| c.is_ascii_digit())
        {
            out.push("-".into());
            start += 1;
        } else if rest.starts_with('$')
            || rest.starts_with('#')
            || (rest.starts_with('&') && c1.is_some_and(char::is_alphabetic))
        {
            out.push(rest[..1].into());
            start += 1;
        } else {
            break;
        }
    }
    // Trailing punctuation, collected in reverse.
    let mut tail: Vec<String> = Vec::new();
    loop {
        let rest = &s[start..end];
        if rest.is_empty() {
            break;
        }
        let bytes = rest.as_bytes();
        let last = bytes[bytes.len() - 1];
        if rest.ends_with("''") && rest.len() > 2 {
            tail.push("''".into());
            end -= 2;
        } else if last == b'"' {
            tail.push("''".into());
            end -= 1;
        } else if let Some(b) = bracket(last) {
            tail.push(b.into());
            end -= 1;
        } else if last == b'\'' && rest.len() > 1 {
            tail.push("'".into());
            end -= 1;
        } else if last == b'.' {
            let dots = rest.len() - rest.trim_end_matches('.').len();
            if dots >= 3 {
                tail.push("...".into());
                end -= dots;
            } else if dots == 2 {
                tail.push(".".into());
                tail.push(".".into());
                end -= 2;
            } else if keeps_period(&rest[..rest.len() - 1], next) {
                break;
            } else {
                tail.push(".".into());
                end -= 1;
            }
        } else if last == b'!' || last == b'?' {
            let run = rest.len() - rest.trim_end_matches(['!', '?']).len();
            tail.push(rest[rest.len() - run..].into());
            end -= run;
        } else if matches!(last, b',' | b';' | b':' | b'%') && rest.len() > 1 {
            tail.push((last as char).to_string());
            end -= 1;
        } else if last == b'-' && rest.len() > 1 {
            let run = rest.len() - rest.trim_end_matches('-').len();
            if run >= 2 {
                tail.push("--".into());
                end -= run;
            } else {
                tail.push("-".into());
                end -= 1;
            }
        } else {
            break;
        }
    }
    let core = &s[start..end];
    if !core.is_empty() {
        split_internal(core, out);
    }
    out.extend(tail.into_iter().rev());
}

fn bracket(b: u8) -> Option<&'static str> {
    Some(match b {
        b'(' => "-lrb-",
        b')' => "-rrb-",
        b'[' => "-lsb-",
        b']' => "-rsb-",
        b'{' => "-lcb-",
        b'}' => "-rcb-",
        _ => return None,
    })
}

/// Split a core word at separators the lexer never keeps inside a word.
fn split_internal(core: &str, out: &mut Vec<String>) {
    let mut piece_start = 0usize;
    let bytes = core.as_bytes();
    let mut i = 0usize;
    while i < bytes.len() {
        let b = bytes[i];
        let sep_len = if b == b'-' && bytes.get(i + 1) == Some(&b'-') {
            bytes[i..].iter().take_while(|&&x| x == b'-').count()
        } else if b == b'.' && bytes[i..].starts_with(b"...") {
            bytes[i..].iter().take_while(|&&x| x == b'.').count()
        } else if matches!(
            b,
            b'*' | b'=' | b'|' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"'
        ) || (b == b'+' && i > 0 && !upper_plus(bytes, i))
        {
            1
        } else {
            0
        };
        if sep_len == 0 {
            i += 1;
            continue;
        }
        if piece_start < i {
            contractions(&core[piece_start..i], out);
        }
        let sep = &core[i..i + sep_len];
        out.push(match sep.as_bytes()[0] {
            b'-' => "--".to_string(),
            b'.' => "...".to_string(),
            b'"' => "''".to_string(),
            c => bracket(c).map_or_else(|| sep.to_string(), str::to_string),
        });
        i += sep_len;
        piece_start = i;
    }
    if piece_start < core.len() {
        contractions(&core[piece_start..], out);
    }
}

/// `AB+C`: a run of capitals joined by `+` to a capital stays one token (`a+b` does not).
fn upper_plus(bytes: &[u8], i: usize) -> bool {
    let before = bytes[..i]
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_alphabetic());
    let mut any = false;
    for b in before {
        if !b.is_ascii_uppercase() {
            return false;
        }
        any = true;
    }
    any && bytes.get(i + 1).is_some_and(u8::is_ascii_uppercase)
}

/// Split contractions and the few fused forms the PTB lexer separates.
fn contractions(word: &str, out: &mut Vec<String>) {
    let l = lower(word);
    match l.as_str() {
        "cannot" => return push2(out, "can", "not"),
        "gonna" => return push2(out, "gon", "na"),
        "gotta" => return push2(out, "got", "ta"),
        "wanna" => return push2(out, "wan", "na"),
        "gimme" => return push2(out, "gim", "me"),
        "lemme" => return push2(out, "lem", "me"),
        _ => {}
    }
    if l.len() > 3 && l.ends_with("n't") {
        let stem = &l[..l.len() - 3];
        let stem = match stem {
            "ca" | "wo" | "ai" | "sha" => stem,
            _ => stem,
        };
        return push2(out, stem, "n't");
    }
    for suffix in ["'s", "'m", "'d", "'re", "'ve", "'ll"] {
        if l.len() > suffix.len() && l.ends_with(suffix) {
            let cut = l.len() - suffix.len();
            if first_char(&l).is_some_and(char::is_alphanumeric) {
                return push2(out, &l[..cut], suffix);
            }
        }
    }
    out.push(l);
}

fn push2(out: &mut Vec<String>, a: &str, b: &str) {
    out.push(a.to_string());
    out.push(b.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> String {
        ptb_tokens(s).join(" ")
    }

    #[test]
    fn contractions_and_quotes() {
        assert_eq!(
            t("A man don't can't won't I'm it's \"quoted\" text."),
            "a man do n't ca n't wo n't i 'm it 's `` quoted '' text ."
        );
        assert_eq!(
            t("DON'T it’s dogs’ ‘hi’ 'em"),
            "do n't it 's dogs ' ` hi ' 'em"
        );
    }

    #[test]
    fn brackets_numbers_abbreviations() {
        assert_eq!(
            t("Hello (world) [x] {y} 3,000 3.14 $5 Mr. Smith e.g. end."),
            "hello -lrb- world -rrb- -lsb- x -rsb- -lcb- y -rcb- 3,000 3.14 $ 5 mr. smith e.g. end ."
        );
        assert_eq!(
            t("a well-known dog--cat ... and...so ; ok: yes! no?"),
            "a well-known dog -- cat ... and ... so ; ok : yes ! no ?"
        );
    }

    #[test]
    fn caption_filter_keeps_brackets() {
        assert_eq!(
            tokenize_caption("A dog (brown), running!"),
            "a dog -lrb- brown -rrb- running"
        );
        assert_eq!(tokenize_caption(""), "");
        assert_eq!(tokenize_caption("..."), "");
        assert_eq!(t("A+B a+b &AMP; &amp &lt;"), "a+b a + b & & amp <");
    }
}
