//! SigLIP's text tokenizer, reproducing transformers 5.23's `SiglipTokenizer` called the way SigLIP
//! is meant to be called (`padding="max_length", truncation=True`, 64 tokens):
//!
//! 1. the text gets a leading `▁` (and any `▁` in it becomes a space);
//! 2. it is split around the special tokens (`</s>`, `<unk>`, the `added_tokens_decoder` of
//!    `tokenizer_config.json`), which map straight to their ids;
//! 3. every other chunk is canonicalised as big_vision does: lower-cased (`do_lower_case`), ASCII
//!    punctuation (Python's `string.punctuation`) removed, whitespace runs collapsed to one space,
//!    stripped;
//! 4. the chunk is encoded by SentencePiece as `"<unk>" + chunk` and the pieces of `"<unk>"` alone
//!    are dropped (transformers' trick against the dummy prefix);
//! 5. a `▁` piece right before a special token is dropped; ids are cut to `max_length - 1`, `</s>`
//!    is appended unless already last, and the row is padded to `max_length` with the pad token
//!    (`</s>`).
//!
//! The vocabulary comes from `spiece.model` (read by [`crate::spiece`], what transformers loads for
//! `model_type: "siglip"`) or, when a checkpoint ships only a `tokenizer.json`, from that file through
//! the `tokenizers` crate (its own normaliser does the canonicalisation; steps 5 apply the same).
//!
//! SigLIP runs its text tower without an attention mask (it was trained on padded rows), so only ids
//! are produced.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;
use tokenizers::Tokenizer;

use crate::error::{Error, Result};
use crate::spiece::{SentencePiece, SPACE_SYMBOL};
use crate::tokenize::TokenBatch;

/// SigLIP's text context (`max_position_embeddings`, the tokenizer's `model_max_length`).
pub const SIGLIP_CONTEXT: usize = 64;

/// Where the vocabulary came from.
#[derive(Debug, Clone)]
enum Backend {
    /// `spiece.model`, with the number of pieces `"<unk>"` alone encodes to.
    Spiece {
        model: Box<SentencePiece>,
        unk_pieces: usize,
    },
    /// `tokenizer.json`.
    Json(Box<Tokenizer>),
}

/// A SigLIP tokenizer (see the module documentation for what it does).
#[derive(Debug, Clone)]
pub struct SiglipTokenizer {
    backend: Backend,
    max_length: usize,
    lower_case: bool,
    unk_token: String,
    /// Special token strings and their ids, longest first.
    special: Vec<(String, u32)>,
    eos_id: u32,
    pad_id: u32,
}

/// The token strings a `tokenizer_config.json` declares (defaults: SigLIP's).
#[derive(Debug, Clone)]
struct TokenizerConfig {
    lower_case: bool,
    eos: String,
    unk: String,
    pad: String,
    added: Vec<(String, u32)>,
}

impl TokenizerConfig {
    fn read(dir: &Path) -> Result<Self> {
        let mut c = TokenizerConfig {
            lower_case: true,
            eos: "</s>".into(),
            unk: "<unk>".into(),
            pad: "</s>".into(),
            added: Vec::new(),
        };
        let path = dir.join("tokenizer_config.json");
        if !path.is_file() {
            return Ok(c);
        }
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let v: Value = serde_json::from_str(&text).map_err(|e| Error::Config {
            path: path.clone(),
            key: String::new(),
            message: e.to_string(),
        })?;
        // A token is a string or an AddedToken dict with `content`.
        let token = |key: &str| -> Option<String> {
            match v.get(key)? {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o.get("content")?.as_str().map(str::to_string),
                _ => None,
            }
        };
        if let Some(b) = v.get("do_lower_case").and_then(Value::as_bool) {
            c.lower_case = b;
        }
        if let Some(s) = token("eos_token") {
            c.eos = s;
        }
        if let Some(s) = token("unk_token") {
            c.unk = s;
        }
        if let Some(s) = token("pad_token") {
            c.pad = s;
        }
        if let Some(Value::Object(m)) = v.get("added_tokens_decoder") {
            for (id, t) in m {
                let content = t.get("content").and_then(Value::as_str);
                match (id.parse::<u32>(), content) {
                    (Ok(id), Some(content)) => c.added.push((content.to_string(), id)),
                    _ => {
                        return Err(Error::Config {
                            path,
                            key: format!("added_tokens_decoder.{id}"),
                            message: "expected an integer key and a `content` string".into(),
                        })
                    }
                }
            }
        }
        Ok(c)
    }
}

impl SiglipTokenizer {
    /// Load the tokenizer of a checkpoint directory: `spiece.model` when present (what
    /// transformers' `SiglipTokenizer` reads), else `tokenizer.json`; `tokenizer_config.json`
    /// (optional) gives lower-casing and the special tokens. Rows are padded to `max_length`.
    pub fn load(dir: &Path, max_length: usize) -> Result<Self> {
        let spiece = dir.join("spiece.model");
        let json = dir.join("tokenizer.json");
        if spiece.is_file() {
            Self::from_spiece(&spiece, max_length)
        } else if json.is_file() {
            Self::from_tokenizer_json(&json, max_length)
        } else {
            Err(Error::Tokenizer(format!(
                "{}: no SigLIP tokenizer: neither {} nor {} exists",
                dir.display(),
                spiece.display(),
                json.display()
            )))
        }
    }

    /// A tokenizer from a `spiece.model` file (`tokenizer_config.json` next to it is read if
    /// present).
    pub fn from_spiece(path: &Path, max_length: usize) -> Result<Self> {
        let model = SentencePiece::from_file(path)?;
        let config = TokenizerConfig::read(path.parent().unwrap_or(Path::new(".")))?;
        let id = |t: &str, what: &str| {
            model.get_id(t).ok_or_else(|| {
                Error::Tokenizer(format!(
                    "{}: the {what} token `{t}` is not in the vocabulary",
                    path.display()
                ))
            })
        };
        let eos_id = id(&config.eos, "end-of-text")?;
        let pad_id = id(&config.pad, "padding")?;
        let unk_id = id(&config.unk, "unknown")?;
        let mut special = config.added.clone();
        special.extend([
            (config.eos.clone(), eos_id),
            (config.unk.clone(), unk_id),
            (config.pad.clone(), pad_id),
        ]);
        let unk_pieces = model.encode(&config.unk).len();
        Self::new(
            Backend::Spiece {
                model: Box::new(model),
                unk_pieces,
            },
            config,
            special,
            eos_id,
            pad_id,
            max_length,
        )
    }

    /// A tokenizer from a Hugging Face `tokenizer.json` (its normaliser is trusted to do SigLIP's
    /// canonicalisation; special tokens are added here, not by its post-processor).
    pub fn from_tokenizer_json(path: &Path, max_length: usize) -> Result<Self> {
        let mut inner = Tokenizer::from_file(path)
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))?;
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))?;
        let config = TokenizerConfig::read(path.parent().unwrap_or(Path::new(".")))?;
        let id = |t: &str, what: &str| {
            inner.token_to_id(t).ok_or_else(|| {
                Error::Tokenizer(format!(
                    "{}: the {what} token `{t}` is not in the vocabulary",
                    path.display()
                ))
            })
        };
        let eos_id = id(&config.eos, "end-of-text")?;
        let pad_id = id(&config.pad, "padding")?;
        Self::new(
            Backend::Json(Box::new(inner)),
            config,
            Vec::new(),
            eos_id,
            pad_id,
            max_length,
        )
    }

    fn new(
        backend: Backend,
        config: TokenizerConfig,
        mut special: Vec<(String, u32)>,
        eos_id: u32,
        pad_id: u32,
        max_length: usize,
    ) -> Result<Self> {
        if max_length < 1 {
            return Err(Error::Invalid(
                "SigLIP max_length must be at least 1".into(),
            ));
        }
        special.retain(|(s, _)| !s.is_empty());
        special.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        special.dedup_by(|a, b| a.0 == b.0);
        Ok(SiglipTokenizer {
            backend,
            max_length,
            lower_case: config.lower_case,
            unk_token: config.unk,
            special,
            eos_id,
            pad_id,
        })
    }

    /// Every row's length (`max_length`).
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// The end-of-text id.
    pub fn eos_id(&self) -> u32 {
        self.eos_id
    }

    /// The padding id.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// Whether the vocabulary came from `spiece.model` (else `tokenizer.json`).
    pub fn is_sentencepiece(&self) -> bool {
        matches!(self.backend, Backend::Spiece { .. })
    }

    /// big_vision's text canonicalisation as transformers applies it: lower-case (when
    /// `do_lower_case`), drop ASCII punctuation, collapse whitespace runs to one space, strip.
    pub fn canonicalize(&self, text: &str) -> String {
        let lowered;
        let text = if self.lower_case {
            lowered = text.to_lowercase();
            lowered.as_str()
        } else {
            text
        };
        let mut out = String::with_capacity(text.len());
        let mut in_space = false;
        for c in text.chars().filter(|c| !c.is_ascii_punctuation()) {
            if py_isspace(c) {
                in_space = true;
            } else {
                if in_space && !out.is_empty() {
                    out.push(' ');
                }
                in_space = false;
                out.push(c);
            }
        }
        out
    }

    /// Token ids of one text, without padding: content (cut to `max_length - 1` ids) then `</s>`
    /// unless the content already ends with it.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = match &self.backend {
            Backend::Spiece { model, unk_pieces } => self.spiece_ids(model, *unk_pieces, text),
            Backend::Json(t) => t
                .encode(text, false)
                .map_err(|e| Error::Tokenizer(e.to_string()))?
                .get_ids()
                .to_vec(),
        };
        ids.truncate(self.max_length - 1);
        if ids.last() != Some(&self.eos_id) {
            ids.push(self.eos_id);
        }
        Ok(ids)
    }

    /// Ids of many texts, each row padded to `max_length` with the pad id.
    pub fn encode_batch(&self, texts: &[String]) -> Result<TokenBatch> {
        let len = self.max_length;
        let mut ids = Vec::with_capacity(texts.len() * len);
        let mut lengths = Vec::with_capacity(texts.len());
        for t in texts {
            let row = self.encode(t)?;
            lengths.push(row.len());
            ids.extend(row.iter().copied());
            ids.extend(std::iter::repeat_n(self.pad_id, len - row.len()));
        }
        Ok(TokenBatch {
            ids,
            rows: texts.len(),
            len,
            lengths,
        })
    }

    /// Steps 1-5 of the module documentation for the SentencePiece backend (no eos, no cut).
    fn spiece_ids(&self, model: &SentencePiece, unk_pieces: usize, text: &str) -> Vec<u32> {
        let text = format!("{SPACE_SYMBOL}{}", text.replace(SPACE_SYMBOL, " "));
        // (piece, id, is special)
        let mut tokens: Vec<(String, u32, bool)> = Vec::new();
        let mut rest = text.as_str();
        let mut chunk_start = 0;
        let mut i = 0;
        let special_ids: HashMap<&str, u32> =
            self.special.iter().map(|(s, i)| (s.as_str(), *i)).collect();
        while i < rest.len() {
            let hit = self
                .special
                .iter()
                .find(|(s, _)| rest[i..].starts_with(s.as_str()));
            match hit {
                Some((s, id)) => {
                    let chunk = &rest[chunk_start..i];
                    if !chunk.is_empty() {
                        self.spiece_chunk(model, unk_pieces, chunk, &special_ids, &mut tokens);
                    }
                    tokens.push((s.clone(), *id, true));
                    rest = &rest[i + s.len()..];
                    chunk_start = 0;
                    i = 0;
                }
                None => i += rest[i..].chars().next().map_or(1, char::len_utf8),
            }
        }
        if !rest.is_empty() {
            self.spiece_chunk(model, unk_pieces, rest, &special_ids, &mut tokens);
        }
        if tokens.len() > 1 && tokens[0].0 == SPACE_SYMBOL && tokens[1].2 {
            tokens.remove(0);
        }
        tokens.into_iter().map(|(_, id, _)| id).collect()
    }

    fn spiece_chunk(
        &self,
        model: &SentencePiece,
        unk_pieces: usize,
        chunk: &str,
        special_ids: &HashMap<&str, u32>,
        out: &mut Vec<(String, u32, bool)>,
    ) {
        let text = self.canonicalize(chunk);
        let pieces = model.encode(&format!("{}{text}", self.unk_token));
        let skip = if pieces.len() >= unk_pieces {
            unk_pieces
        } else {
            0
        };
        for (piece, _) in pieces.into_iter().skip(skip) {
            // transformers converts piece strings back to ids: added tokens first, then the
            // SentencePiece vocabulary (unknown id for a run of unknown characters).
            let id = special_ids
                .get(piece.as_str())
                .copied()
                .unwrap_or_else(|| model.piece_to_id(&piece));
            let special = special_ids.contains_key(piece.as_str());
            out.push((piece, id, special));
        }
    }
}

/// Python's `str.isspace` (what `re`'s `\s` and `str.strip` use): Unicode White_Space plus the
/// information separators U+001C..U+001F.
fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}
