//! OpenAI CLIP's byte-level BPE tokenizer, read from `bpe_simple_vocab_16e6.txt.gz` (embedded;
//! see `assets/PROVENANCE.md`), with the behaviour of open_clip's `SimpleTokenizer` and OpenAI's
//! `clip.tokenize`:
//!
//! 1. clean: a subset of `ftfy.fix_text` (see [`clean`]), HTML unescaping twice, whitespace runs
//!    collapsed to one space, trimmed, lower-cased;
//! 2. pre-tokenise with CLIP's pattern (the two special tokens, English contractions, letter runs,
//!    single digits, runs of other non-space characters);
//! 3. map each piece's UTF-8 bytes to the 256 printable stand-in characters, mark the last symbol
//!    as word-final (`</w>`), and apply the ranked merges, lowest rank first;
//! 4. `<start_of_text>` + ids + `<end_of_text>`; longer than the context (77) is an error, or with
//!    truncation the first `context` ids are kept and the last becomes `<end_of_text>`.
//!
//! The special tokens are spelt as open_clip spells them (`<start_of_text>`, `<end_of_text>`): that
//! text in a caption becomes the special id, while `<|startoftext|>` is ordinary text. OpenAI's
//! original `clip.tokenize` spells them `<|startoftext|>` / `<|endoftext|>` instead; the ids (49406,
//! 49407) are the same, so only captions containing those literal strings tokenise differently.
//!
//! Differences from `ftfy.fix_text` (which open_clip applies first): mojibake repair
//! (`fix_encoding`), terminal escapes and half-width katakana are not handled; HTML named entities
//! are limited to a common table (numeric references are complete).

use std::collections::HashMap;
use std::io::Read;
use std::sync::OnceLock;

use regex::Regex;

use crate::error::{Error, Result};
use crate::tokenize::TokenBatch;

/// The merges file, gzip-compressed, as shipped with OpenAI CLIP and open_clip (MIT).
const VOCAB_GZ: &[u8] = include_bytes!("../assets/bpe_simple_vocab_16e6.txt.gz");
/// Merges used by CLIP (the file holds more): `49152 - 256 - 2`.
const N_MERGES: usize = 48894;
/// `<start_of_text>` id.
pub const SOT: u32 = 49406;
/// `<end_of_text>` id.
pub const EOT: u32 = 49407;
/// OpenAI CLIP's context length.
pub const CONTEXT: usize = 77;

/// The shared vocabulary: ranked merges over symbol ids.
#[derive(Debug)]
struct Vocab {
    /// symbol string -> id
    ids: HashMap<String, u32>,
    /// (left id, right id) -> (rank, merged id)
    merges: HashMap<(u32, u32), (u32, u32)>,
    /// byte -> stand-in character
    byte_char: [char; 256],
    pattern: Regex,
}

/// CLIP's printable stand-ins for bytes: printable Latin-1 bytes map to themselves, the other 68
/// to U+0100 onwards in byte order. Returns the bytes in vocabulary order and the map.
fn byte_chars() -> (Vec<u8>, [char; 256]) {
    let printable = |b: u8| (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || b >= 0xAE;
    let mut order: Vec<u8> = (0..=255u8).filter(|&b| printable(b)).collect();
    let mut map = ['\0'; 256];
    for &b in &order {
        map[b as usize] = char::from(b);
    }
    let mut next = 256u32;
    for b in 0..=255u8 {
        if !printable(b) {
            order.push(b);
            map[b as usize] = char::from_u32(next).unwrap_or('\u{FFFD}');
            next += 1;
        }
    }
    (order, map)
}

fn build_vocab() -> Result<Vocab> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(VOCAB_GZ)
        .read_to_string(&mut text)
        .map_err(|e| Error::Tokenizer(format!("embedded BPE vocabulary: {e}")))?;
    let (order, byte_char) = byte_chars();
    let mut symbols: Vec<String> = order
        .iter()
        .map(|&b| byte_char[b as usize].to_string())
        .collect();
    let finals: Vec<String> = symbols.iter().map(|s| format!("{s}</w>")).collect();
    symbols.extend(finals);
    let mut pairs = Vec::with_capacity(N_MERGES);
    for line in text.lines().skip(1).take(N_MERGES) {
        let mut it = line.split_whitespace();
        match (it.next(), it.next()) {
            (Some(a), Some(b)) => {
                pairs.push((a.to_string(), b.to_string()));
                symbols.push(format!("{a}{b}"));
            }
            _ => return Err(Error::Tokenizer(format!("bad merge line `{line}`"))),
        }
    }
    symbols.push("<start_of_text>".into());
    symbols.push("<end_of_text>".into());
    let ids: HashMap<String, u32> = symbols
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), i as u32))
        .collect();
    let id = |s: &str| {
        ids.get(s)
            .copied()
            .ok_or_else(|| Error::Tokenizer(format!("merge symbol `{s}` not in vocabulary")))
    };
    let mut merges = HashMap::with_capacity(pairs.len());
    for (rank, (a, b)) in pairs.iter().enumerate() {
        let merged = id(&format!("{a}{b}"))?;
        merges.insert((id(a)?, id(b)?), (rank as u32, merged));
    }
    let pattern = Regex::new(
        r"(?i)<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+",
    )
    .map_err(|e| Error::Tokenizer(e.to_string()))?;
    Ok(Vocab {
        ids,
        merges,
        byte_char,
        pattern,
    })
}

fn vocab() -> Result<&'static Vocab> {
    static VOCAB: OnceLock<std::result::Result<Vocab, String>> = OnceLock::new();
    VOCAB
        .get_or_init(|| build_vocab().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::Tokenizer(e.clone()))
}

/// OpenAI CLIP's BPE tokenizer (49,408 ids).
#[derive(Debug, Clone)]
pub struct BpeTokenizer {
    vocab: &'static Vocab,
    context: usize,
}

impl BpeTokenizer {
    /// The OpenAI vocabulary (embedded), context length 77.
    pub fn openai() -> Result<Self> {
        Ok(BpeTokenizer {
            vocab: vocab()?,
            context: CONTEXT,
        })
    }

    /// Change the context length.
    pub fn with_context(mut self, context: usize) -> Self {
        self.context = context.max(2);
        self
    }

    /// The context length.
    pub fn context(&self) -> usize {
        self.context
    }

    /// Ids of the cleaned text without the start/end tokens.
    pub fn encode_plain(&self, text: &str) -> Vec<u32> {
        let v = self.vocab;
        let text = clean(text);
        let mut out = Vec::new();
        for m in v.pattern.find_iter(&text) {
            let piece = m.as_str();
            if piece == "<start_of_text>" {
                out.push(SOT);
                continue;
            }
            if piece == "<end_of_text>" {
                out.push(EOT);
                continue;
            }
            self.bpe(piece, &mut out);
        }
        out
    }

    /// `<start_of_text>` + ids + `<end_of_text>`. Too long for the context: an error, or with
    /// `truncate` the first `context` ids with `<end_of_text>` last (as `clip.tokenize(truncate=True)`
    /// and open_clip).
    pub fn encode(&self, text: &str, truncate: bool) -> Result<Vec<u32>> {
        let mut ids = Vec::with_capacity(self.context);
        ids.push(SOT);
        ids.extend(self.encode_plain(text));
        ids.push(EOT);
        if ids.len() > self.context {
            if !truncate {
                return Err(Error::Tokenizer(format!(
                    "text is {} tokens, longer than the context length {}: `{}`",
                    ids.len(),
                    self.context,
                    text.chars().take(60).collect::<String>()
                )));
            }
            ids.truncate(self.context);
            if let Some(last) = ids.last_mut() {
                *last = EOT;
            }
        }
        Ok(ids)
    }

    /// Many texts, zero-padded to the longest row (OpenAI pads with 0).
    pub fn encode_batch(&self, texts: &[String], truncate: bool) -> Result<TokenBatch> {
        let rows: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| self.encode(t, truncate))
            .collect::<Result<_>>()?;
        let len = rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(rows.len() * len);
        let mut lengths = Vec::with_capacity(rows.len());
        for r in &rows {
            lengths.push(r.len());
            ids.extend_from_slice(r);
            ids.extend(std::iter::repeat_n(0, len - r.len()));
        }
        Ok(TokenBatch {
            ids,
            rows: rows.len(),
            len,
            lengths,
        })
    }

    /// Byte-level BPE of one pre-token, appending its ids to `out`.
    fn bpe(&self, piece: &str, out: &mut Vec<u32>) {
        let v = self.vocab;
        let bytes = piece.as_bytes();
        let Some((&last, rest)) = bytes.split_last() else {
            return;
        };
        let lookup = |s: &str| v.ids.get(s).copied().unwrap_or(0);
        let mut word: Vec<u32> = rest
            .iter()
            .map(|&b| lookup(&v.byte_char[b as usize].to_string()))
            .collect();
        word.push(lookup(&format!("{}</w>", v.byte_char[last as usize])));
        loop {
            // The adjacent pair with the lowest merge rank.
            let best = word
                .windows(2)
                .filter_map(|w| {
                    v.merges
                        .get(&(w[0], w[1]))
                        .map(|&(r, m)| (r, w[0], w[1], m))
                })
                .min_by_key(|&(r, ..)| r);
            let Some((_, a, b, merged)) = best else {
                break;
            };
            // Merge every occurrence, left to right.
            let mut next = Vec::with_capacity(word.len());
            let mut i = 0;
            while i < word.len() {
                if i + 1 < word.len() && word[i] == a && word[i + 1] == b {
                    next.push(merged);
                    i += 2;
                } else {
                    next.push(word[i]);
                    i += 1;
                }
            }
            word = next;
            if word.len() == 1 {
                break;
            }
        }
        out.extend(word);
    }
}

/// Python's `str.isspace` (Unicode whitespace plus the information separators U+001C–U+001F).
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The text cleaning before pre-tokenisation (see the module docs for what of `ftfy` is covered):
/// ligatures expanded, full-width ASCII narrowed, curly quotes straightened, control characters
/// removed, NFC; HTML entities unescaped twice; whitespace collapsed; lower-cased.
pub fn clean(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            'Ĳ' => s.push_str("IJ"),
            'ĳ' => s.push_str("ij"),
            'ŉ' => s.push_str("'n"),
            'Ǆ' => s.push_str("DŽ"),
            'ǅ' => s.push_str("Dž"),
            'ǆ' => s.push_str("dž"),
            'Ǉ' => s.push_str("LJ"),
            'ǈ' => s.push_str("Lj"),
            'ǉ' => s.push_str("lj"),
            'Ǌ' => s.push_str("NJ"),
            'ǋ' => s.push_str("Nj"),
            'ǌ' => s.push_str("nj"),
            'ﬀ' => s.push_str("ff"),
            'ﬁ' => s.push_str("fi"),
            'ﬂ' => s.push_str("fl"),
            'ﬃ' => s.push_str("ffi"),
            'ﬄ' => s.push_str("ffl"),
            'ﬅ' => s.push_str("ſt"),
            'ﬆ' => s.push_str("st"),
            '\u{3000}' => s.push(' '),
            '\u{FF01}'..='\u{FF5E}' => {
                s.push(char::from_u32(c as u32 - 0xFEE0).unwrap_or(c));
            }
            '\u{02BC}' | '\u{2018}'..='\u{201B}' => s.push('\''),
            '\u{201C}'..='\u{201F}' => s.push('"'),
            '\u{00}'..='\u{08}'
            | '\u{0B}'
            | '\u{0E}'..='\u{1F}'
            | '\u{7F}'
            | '\u{206A}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFC}' => {}
            _ => s.push(c),
        }
    }
    let mut n = tokenizers::NormalizedString::from(s.as_str());
    n.nfc();
    let s = html_unescape(&html_unescape(n.get()));
    let words: Vec<&str> = s.split(is_py_space).filter(|w| !w.is_empty()).collect();
    words.join(" ").to_lowercase()
}

/// Named HTML entities understood by [`html_unescape`] (a common subset of HTML5's list).
const ENTITIES: &[(&str, &str)] = &[
    ("amp", "&"),
    ("lt", "<"),
    ("gt", ">"),
    ("quot", "\""),
    ("apos", "'"),
    ("nbsp", "\u{a0}"),
    ("copy", "©"),
    ("reg", "®"),
    ("trade", "™"),
    ("hellip", "…"),
    ("mdash", "—"),
    ("ndash", "–"),
    ("lsquo", "‘"),
    ("rsquo", "’"),
    ("ldquo", "“"),
    ("rdquo", "”"),
    ("deg", "°"),
    ("times", "×"),
    ("eacute", "é"),
    ("egrave", "è"),
    ("aacute", "á"),
    ("agrave", "à"),
    ("ouml", "ö"),
    ("uuml", "ü"),
    ("auml", "ä"),
    ("szlig", "ß"),
    ("ccedil", "ç"),
    ("ntilde", "ñ"),
    ("euro", "€"),
    ("pound", "£"),
];
/// Entities that HTML also recognises without the trailing semicolon (subset).
const NO_SEMI: &[&str] = &[
    "amp", "lt", "gt", "quot", "nbsp", "copy", "reg", "deg", "times", "eacute", "egrave", "aacute",
    "agrave", "ouml", "uuml", "auml", "szlig", "ccedil", "ntilde", "pound",
];

/// Windows-1252 meanings of the C1 range, which HTML applies to numeric references 0x80–0x9F.
fn cp1252(n: u32) -> Option<char> {
    const T: [u32; 32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013,
        0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ];
    (0x80..=0x9F)
        .contains(&n)
        .then(|| char::from_u32(T[(n - 0x80) as usize]))
        .flatten()
}

/// HTML character-reference unescaping in the manner of Python's `html.unescape`: numeric
/// references (decimal or hex, semicolon optional) and the named entities in the table above.
pub fn html_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        let tail = &rest[p + 1..];
        if let Some((text, used)) = unescape_one(tail) {
            out.push_str(&text);
            rest = &tail[used..];
        } else {
            out.push('&');
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// One reference after `&`: the replacement and how many bytes of `tail` it used.
fn unescape_one(tail: &str) -> Option<(String, usize)> {
    if let Some(num) = tail.strip_prefix('#') {
        let (hex, digits) = match num.strip_prefix(['x', 'X']) {
            Some(h) => (true, h),
            None => (false, num),
        };
        let len = digits
            .bytes()
            .take_while(|b| {
                if hex {
                    b.is_ascii_hexdigit()
                } else {
                    b.is_ascii_digit()
                }
            })
            .count();
        if len == 0 {
            return None;
        }
        let prefix = 1 + usize::from(hex);
        let value =
            u32::from_str_radix(&digits[..len], if hex { 16 } else { 10 }).unwrap_or(u32::MAX);
        let semi = usize::from(digits[len..].starts_with(';'));
        let c = if let Some(c) = cp1252(value) {
            c.to_string()
        } else if value == 0 || (0xD800..=0xDFFF).contains(&value) || value > 0x10FFFF {
            "\u{FFFD}".to_string()
        } else if (0x1..=0x8).contains(&value)
            || (0xE..=0x1F).contains(&value)
            || (0x7F..=0x9F).contains(&value)
            || (0xFDD0..=0xFDEF).contains(&value)
            || value == 0xB
            || (value & 0xFFFE) == 0xFFFE
        {
            String::new()
        } else {
            char::from_u32(value).map(String::from).unwrap_or_default()
        };
        return Some((c, prefix + len + semi));
    }
    let name_len = tail
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    let name = &tail[..name_len];
    if tail[name_len..].starts_with(';') {
        if let Some((_, v)) = ENTITIES.iter().find(|(n, _)| *n == name) {
            return Some((v.to_string(), name_len + 1));
        }
    }
    // Without a semicolon: the longest known prefix that HTML allows bare.
    (1..=name_len).rev().find_map(|k| {
        let n = &name[..k];
        NO_SEMI
            .contains(&n)
            .then(|| ENTITIES.iter().find(|(e, _)| *e == n))
            .flatten()
            .map(|(_, v)| (v.to_string(), k))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_has_clip_size() {
        let v = vocab().expect("vocab");
        assert_eq!(v.ids.len(), 49408);
        assert_eq!(v.ids.get("<end_of_text>"), Some(&EOT));
    }

    #[test]
    fn unescape() {
        assert_eq!(
            html_unescape("a &amp;amp; b &lt;x&gt; &#39; &#x41;"),
            "a &amp; b <x> ' A"
        );
        assert_eq!(html_unescape("AT&T &ampx &unknown;"), "AT&T &x &unknown;");
    }

    #[test]
    fn truncation() {
        let t = BpeTokenizer::openai().expect("tok");
        let long = "word ".repeat(100);
        assert!(t.encode(&long, false).is_err());
        let ids = t.encode(&long, true).expect("ids");
        assert_eq!(ids.len(), 77);
        assert_eq!(ids[0], SOT);
        assert_eq!(ids[76], EOT);
    }
}
