//! A SentencePiece unigram model read straight from its `spiece.model` protobuf, encoding exactly
//! like the `sentencepiece` library's `encode(text, out_type=str)`: the normaliser (precompiled
//! character map, dummy prefix, extra-whitespace removal, whitespace escaping to `▁`), the Viterbi
//! segmentation over the vocabulary (unknown characters scored `min_score - 10`, user-defined
//! pieces always preferred) and the fusion of consecutive unknown pieces.
//!
//! Only unigram models without byte fallback are supported (what SigLIP and T5 ship); anything else
//! is reported as an error naming the file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The whitespace symbol SentencePiece substitutes for spaces.
pub const SPACE_SYMBOL: &str = "\u{2581}";
/// Score penalty of an unknown character, below the lowest piece score (sentencepiece's `kUnkPenalty`).
const UNK_PENALTY: f32 = 10.0;

/// Kind of a vocabulary entry (`ModelProto.SentencePiece.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceType {
    /// An ordinary piece.
    Normal,
    /// The unknown piece.
    Unknown,
    /// A control symbol (`</s>`, `<pad>`...): never produced from text.
    Control,
    /// A user-defined symbol: matched verbatim and always preferred.
    UserDefined,
    /// A byte piece (`<0x41>`), used by byte fallback.
    Byte,
    /// Declared but unused: never produced.
    Unused,
}

impl PieceType {
    fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            1 => PieceType::Normal,
            2 => PieceType::Unknown,
            3 => PieceType::Control,
            4 => PieceType::UserDefined,
            5 => PieceType::Unused,
            6 => PieceType::Byte,
            _ => return None,
        })
    }
}

/// One vocabulary entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    /// The piece text (spaces as `▁`).
    pub piece: String,
    /// Its log-probability score.
    pub score: f32,
    /// Its kind.
    pub kind: PieceType,
}

/// The normaliser settings of the model (`NormalizerSpec`).
#[derive(Debug, Clone)]
pub struct NormalizerSpec {
    /// Rule name (`nmt_nfkc`, `identity`...), informational.
    pub name: String,
    /// Prepend a space to the input.
    pub add_dummy_prefix: bool,
    /// Drop leading, trailing and repeated spaces.
    pub remove_extra_whitespaces: bool,
    /// Write spaces as `▁`.
    pub escape_whitespaces: bool,
    charsmap: Option<CharsMap>,
}

/// A loaded SentencePiece unigram model.
#[derive(Debug, Clone)]
pub struct SentencePiece {
    path: PathBuf,
    pieces: Vec<Piece>,
    /// Every piece string to its id (what `piece_to_id` looks up).
    ids: HashMap<String, u32>,
    /// Pieces the segmentation may produce (normal and user-defined).
    matchable: HashMap<String, u32>,
    /// User-defined symbols, longest first (matched verbatim by the normaliser).
    user_defined: Vec<String>,
    max_piece_bytes: usize,
    min_score: f32,
    max_score: f32,
    unk_id: u32,
    normalizer: NormalizerSpec,
}

impl SentencePiece {
    /// Read and parse a `spiece.model` file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes, path)
    }

    /// Parse a serialized `ModelProto`; `path` is only used in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad = |message: String| Error::Tokenizer(format!("{}: {message}", path.display()));
        let mut pieces = Vec::new();
        let mut model_type = 1u64;
        let mut unk_id = 0u64;
        let mut byte_fallback = false;
        let mut normalizer = NormalizerSpec {
            name: String::new(),
            add_dummy_prefix: true,
            remove_extra_whitespaces: true,
            escape_whitespaces: true,
            charsmap: None,
        };
        for field in Fields::new(bytes) {
            let field = field.map_err(|e| bad(format!("not a SentencePiece model: {e}")))?;
            match (field.number, field.value) {
                (1, Value::Bytes(b)) => pieces.push(parse_piece(b).map_err(&bad)?),
                (2, Value::Bytes(b)) => {
                    for f in Fields::new(b) {
                        let f = f.map_err(|e| bad(format!("trainer_spec: {e}")))?;
                        match (f.number, f.value) {
                            (3, Value::Varint(v)) => model_type = v,
                            (35, Value::Varint(v)) => byte_fallback = v != 0,
                            (40, Value::Varint(v)) => unk_id = v,
                            _ => {}
                        }
                    }
                }
                (3, Value::Bytes(b)) => {
                    for f in Fields::new(b) {
                        let f = f.map_err(|e| bad(format!("normalizer_spec: {e}")))?;
                        match (f.number, f.value) {
                            (1, Value::Bytes(s)) => {
                                normalizer.name = String::from_utf8_lossy(s).into_owned()
                            }
                            (2, Value::Bytes(m)) if !m.is_empty() => {
                                normalizer.charsmap = Some(CharsMap::parse(m).map_err(|e| {
                                    bad(format!("normalizer_spec.precompiled_charsmap: {e}"))
                                })?)
                            }
                            (3, Value::Varint(v)) => normalizer.add_dummy_prefix = v != 0,
                            (4, Value::Varint(v)) => normalizer.remove_extra_whitespaces = v != 0,
                            (5, Value::Varint(v)) => normalizer.escape_whitespaces = v != 0,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if model_type != 1 {
            return Err(bad(format!(
                "model type {model_type} is not supported (only unigram, type 1)"
            )));
        }
        if byte_fallback {
            return Err(bad("byte fallback is not supported".into()));
        }
        if pieces.is_empty() {
            return Err(bad("the model has no pieces".into()));
        }
        let unk_id = u32::try_from(unk_id)
            .ok()
            .filter(|&u| (u as usize) < pieces.len())
            .ok_or_else(|| bad(format!("unk_id {unk_id} is outside the vocabulary")))?;
        let mut ids = HashMap::with_capacity(pieces.len());
        let mut matchable = HashMap::with_capacity(pieces.len());
        let mut user_defined = Vec::new();
        // As sentencepiece: the maximum starts at FLT_MIN (the smallest positive float), so with the
        // usual negative scores user-defined pieces score `-0.1`.
        let (mut min_score, mut max_score) = (f32::MAX, f32::MIN_POSITIVE);
        for (i, p) in pieces.iter().enumerate() {
            let id = i as u32;
            ids.entry(p.piece.clone()).or_insert(id);
            match p.kind {
                PieceType::Normal => {
                    min_score = min_score.min(p.score);
                    max_score = max_score.max(p.score);
                    matchable.entry(p.piece.clone()).or_insert(id);
                }
                PieceType::UserDefined => {
                    matchable.entry(p.piece.clone()).or_insert(id);
                    if !p.piece.is_empty() {
                        user_defined.push(p.piece.clone());
                    }
                }
                _ => {}
            }
        }
        if min_score == f32::MAX {
            min_score = 0.0;
        }
        user_defined.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let max_piece_bytes = matchable.keys().map(String::len).max().unwrap_or(1);
        Ok(SentencePiece {
            path: path.to_path_buf(),
            pieces,
            ids,
            matchable,
            user_defined,
            max_piece_bytes,
            min_score,
            max_score,
            unk_id,
            normalizer,
        })
    }

    /// The file this model was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of pieces.
    pub fn len(&self) -> usize {
        self.pieces.len()
    }

    /// Whether the vocabulary is empty (never true for a loaded model).
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// The vocabulary.
    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// The normaliser settings.
    pub fn normalizer(&self) -> &NormalizerSpec {
        &self.normalizer
    }

    /// The unknown piece's id.
    pub fn unk_id(&self) -> u32 {
        self.unk_id
    }

    /// Id of a piece string, the unknown id when it is not in the vocabulary (sentencepiece's
    /// `piece_to_id`).
    pub fn piece_to_id(&self, piece: &str) -> u32 {
        self.ids.get(piece).copied().unwrap_or(self.unk_id)
    }

    /// Id of a piece string, `None` when it is not in the vocabulary.
    pub fn get_id(&self, piece: &str) -> Option<u32> {
        self.ids.get(piece).copied()
    }

    /// The normalised form of `text` that the segmentation sees.
    pub fn normalize(&self, text: &str) -> String {
        let spec = &self.normalizer;
        let space = if spec.escape_whitespaces {
            SPACE_SYMBOL
        } else {
            " "
        };
        let mut input = text;
        let mut out = String::with_capacity(text.len() * 3 / 2);
        if spec.remove_extra_whitespaces {
            while !input.is_empty() {
                let (s, n) = self.normalize_prefix(input);
                if s != " " {
                    break;
                }
                input = &input[n..];
            }
        }
        if input.is_empty() {
            return out;
        }
        if spec.add_dummy_prefix {
            out.push_str(space);
        }
        let mut prev_space = spec.remove_extra_whitespaces;
        while !input.is_empty() {
            let (s, n) = self.normalize_prefix(input);
            let mut s = s;
            if prev_space {
                s = s.trim_start_matches(' ');
            }
            if !s.is_empty() {
                for c in s.chars() {
                    if spec.escape_whitespaces && c == ' ' {
                        out.push_str(SPACE_SYMBOL);
                    } else {
                        out.push(c);
                    }
                }
                prev_space = s.ends_with(' ');
            }
            input = &input[n..];
            if !spec.remove_extra_whitespaces {
                prev_space = false;
            }
        }
        if spec.remove_extra_whitespaces {
            while out.ends_with(space) {
                out.truncate(out.len() - space.len());
            }
        }
        out
    }

    /// The replacement of the longest normalisation rule matching the start of `input`, and how
    /// many bytes of `input` it consumes (one character unchanged when no rule matches).
    fn normalize_prefix<'a>(&'a self, input: &'a str) -> (&'a str, usize) {
        if let Some(u) = self
            .user_defined
            .iter()
            .find(|u| input.starts_with(u.as_str()))
        {
            return (&input[..u.len()], u.len());
        }
        if let Some((s, n)) = self
            .normalizer
            .charsmap
            .as_ref()
            .and_then(|m| m.longest_match(input.as_bytes()))
        {
            // A rule covers whole characters in any sane map; fall back to one character when a
            // corrupt map ends inside one.
            if input.is_char_boundary(n) {
                return (s, n);
            }
        }
        let n = input.chars().next().map_or(0, char::len_utf8);
        (&input[..n], n)
    }

    /// Segment `text` into pieces (normalised piece strings with their ids), like
    /// `SentencePieceProcessor.encode(text, out_type=str)`; runs of unknown characters come out
    /// as one piece with the unknown id.
    pub fn encode(&self, text: &str) -> Vec<(String, u32)> {
        let normalized = self.normalize(text);
        self.segment(&normalized)
    }

    /// Viterbi segmentation of an already-normalised string.
    fn segment(&self, s: &str) -> Vec<(String, u32)> {
        #[derive(Clone, Copy)]
        struct Best {
            id: u32,
            score: f32,
            start: Option<usize>,
        }
        let size = s.len();
        if size == 0 {
            return Vec::new();
        }
        let unk_score = self.min_score - UNK_PENALTY;
        let mut best = vec![
            Best {
                id: 0,
                score: 0.0,
                start: None,
            };
            size + 1
        ];
        let mut start = 0;
        while start < size {
            let here = best[start].score;
            let first_len = s[start..].chars().next().map_or(1, char::len_utf8);
            let mut has_single = false;
            let limit = size.min(start + self.max_piece_bytes);
            let mut end = start + first_len;
            while end <= limit {
                if s.is_char_boundary(end) {
                    if let Some(&id) = self.matchable.get(&s[start..end]) {
                        let p = &self.pieces[id as usize];
                        let len = (end - start) as f32;
                        let score = if p.kind == PieceType::UserDefined {
                            len * self.max_score - 0.1
                        } else {
                            p.score
                        };
                        let cand = here + score;
                        let t = &mut best[end];
                        if t.start.is_none() || cand > t.score {
                            *t = Best {
                                id,
                                score: cand,
                                start: Some(start),
                            };
                        }
                        if end - start == first_len {
                            has_single = true;
                        }
                    }
                }
                end += 1;
            }
            if !has_single {
                let cand = here + unk_score;
                let t = &mut best[start + first_len];
                if t.start.is_none() || cand > t.score {
                    *t = Best {
                        id: self.unk_id,
                        score: cand,
                        start: Some(start),
                    };
                }
            }
            start += first_len;
        }
        let mut out: Vec<(usize, usize, u32)> = Vec::new();
        let mut end = size;
        while end > 0 {
            let b = best[end];
            let begin = b.start.unwrap_or(0);
            out.push((begin, end, b.id));
            end = begin;
        }
        out.reverse();
        // Fuse runs of unknown pieces (sentencepiece does this when it builds its output).
        let mut pieces: Vec<(String, u32)> = Vec::with_capacity(out.len());
        let mut prev_unk = false;
        for (a, b, id) in out {
            let is_unk = id == self.unk_id;
            match pieces.last_mut() {
                Some(last) if is_unk && prev_unk => last.0.push_str(&s[a..b]),
                _ => pieces.push((s[a..b].to_string(), id)),
            }
            prev_unk = is_unk;
        }
        pieces
    }
}

fn parse_piece(bytes: &[u8]) -> std::result::Result<Piece, String> {
    let mut piece = Piece {
        piece: String::new(),
        score: 0.0,
        kind: PieceType::Normal,
    };
    for f in Fields::new(bytes) {
        let f = f.map_err(|e| format!("piece: {e}"))?;
        match (f.number, f.value) {
            (1, Value::Bytes(s)) => {
                piece.piece = String::from_utf8(s.to_vec())
                    .map_err(|_| "a piece is not valid UTF-8".to_string())?
            }
            (2, Value::Fixed32(v)) => piece.score = f32::from_bits(v),
            (3, Value::Varint(v)) => {
                piece.kind = PieceType::from_code(v)
                    .ok_or_else(|| format!("piece `{}` has unknown type {v}", piece.piece))?
            }
            _ => {}
        }
    }
    Ok(piece)
}

/// The precompiled normalisation map: a Darts double-array trie over UTF-8 bytes whose values are
/// offsets of NUL-terminated replacement strings.
#[derive(Debug, Clone)]
struct CharsMap {
    units: Vec<u32>,
    strings: Vec<u8>,
}

impl CharsMap {
    fn parse(blob: &[u8]) -> std::result::Result<Self, String> {
        if blob.len() < 4 {
            return Err("truncated".into());
        }
        let trie_bytes = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
        if !trie_bytes.is_multiple_of(4) || blob.len() < 4 + trie_bytes || trie_bytes == 0 {
            return Err(format!("trie size {trie_bytes} does not fit the blob"));
        }
        let units = blob[4..4 + trie_bytes]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(CharsMap {
            units,
            strings: blob[4 + trie_bytes..].to_vec(),
        })
    }

    /// The replacement of the longest rule that is a prefix of `key`, and its length in bytes.
    fn longest_match(&self, key: &[u8]) -> Option<(&str, usize)> {
        let offset = |u: u32| ((u >> 10) << ((u & (1 << 9)) >> 6)) as usize;
        let label = |u: u32| u & ((1 << 31) | 0xFF);
        let has_leaf = |u: u32| (u >> 8) & 1 == 1;
        let value = |u: u32| (u & ((1 << 31) - 1)) as usize;
        let mut pos = offset(*self.units.first()?);
        let mut found = None;
        for (i, &c) in key.iter().enumerate() {
            pos ^= c as usize;
            let unit = *self.units.get(pos)?;
            if label(unit) != c as u32 {
                break;
            }
            pos ^= offset(unit);
            if has_leaf(unit) {
                let v = value(*self.units.get(pos)?);
                found = Some((v, i + 1));
            }
        }
        let (v, n) = found?;
        let tail = self.strings.get(v..)?;
        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        std::str::from_utf8(&tail[..end]).ok().map(|s| (s, n))
    }
}

/// A protobuf wire value.
#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Varint(u64),
    Fixed64,
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// One protobuf field.
#[derive(Debug, Clone, Copy)]
struct Field<'a> {
    number: u64,
    value: Value<'a>,
}

/// Iterator over the top-level fields of a protobuf message.
struct Fields<'a> {
    buf: &'a [u8],
    failed: bool,
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Fields { buf, failed: false }
    }

    fn varint(&mut self) -> std::result::Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.buf.split_first().ok_or("truncated varint")?;
            self.buf = rest;
            v |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }

    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        if self.buf.len() < n {
            return Err(format!(
                "field of {n} bytes overruns the message ({} left)",
                self.buf.len()
            ));
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }

    fn field(&mut self) -> std::result::Result<Field<'a>, String> {
        let key = self.varint()?;
        let number = key >> 3;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Fixed64
            }
            2 => {
                let n = usize::try_from(self.varint()?).map_err(|_| "length too large")?;
                Value::Bytes(self.take(n)?)
            }
            5 => {
                let b = self.take(4)?;
                Value::Fixed32(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            w => return Err(format!("unsupported wire type {w} (field {number})")),
        };
        Ok(Field { number, value })
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = std::result::Result<Field<'a>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.buf.is_empty() {
            return None;
        }
        let f = self.field();
        if f.is_err() {
            self.failed = true;
        }
        Some(f)
    }
}
