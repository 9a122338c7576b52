//! Text tokenization: Hugging Face `tokenizer.json` through the `tokenizers` crate, with CLIP's
//! context length and truncation (content cut so that the sequence, with its start and end tokens,
//! fits the context; the last token is always the end token, as in `clip.tokenize(truncate=True)`
//! and transformers' `truncation=True, max_length=77`).

use std::path::Path;

use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::error::{Error, Result};

/// CLIP's text context length.
pub const CLIP_CONTEXT: usize = 77;

/// A batch of token ids, padded to the longest sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBatch {
    /// Row-major ids, `rows * len`.
    pub ids: Vec<u32>,
    /// Number of sequences.
    pub rows: usize,
    /// Padded length of every row.
    pub len: usize,
    /// Unpadded length of each row.
    pub lengths: Vec<usize>,
}

/// A CLIP-style text tokenizer.
#[derive(Debug, Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    context: usize,
    pad_id: u32,
    eos_id: Option<u32>,
}

impl TextTokenizer {
    /// Load `tokenizer.json`; truncation to `context` tokens including the special tokens.
    pub fn from_file(path: &Path, context: usize) -> Result<Self> {
        let mut inner = Tokenizer::from_file(path)
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))?;
        inner
            .with_truncation(Some(TruncationParams {
                max_length: context,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))?;
        inner.with_padding(None);
        let eos_id = ["<|endoftext|>", "</s>", "[SEP]"]
            .iter()
            .find_map(|t| inner.token_to_id(t));
        let pad_id = eos_id.unwrap_or(0);
        Ok(TextTokenizer {
            inner,
            context,
            pad_id,
            eos_id,
        })
    }

    /// Set the id used to pad shorter rows of a batch.
    pub fn with_pad_id(mut self, pad_id: u32) -> Self {
        self.pad_id = pad_id;
        self
    }

    /// The end-of-text token id, when the vocabulary has one.
    pub fn eos_id(&self) -> Option<u32> {
        self.eos_id
    }

    /// The context length.
    pub fn context(&self) -> usize {
        self.context
    }

    /// Token ids of one text (with special tokens, truncated).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Token ids of many texts, padded with the pad id to the longest row.
    pub fn encode_batch(&self, texts: &[String]) -> Result<TokenBatch> {
        let rows: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| self.encode(t))
            .collect::<Result<_>>()?;
        let len = rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(rows.len() * len);
        let mut lengths = Vec::with_capacity(rows.len());
        for r in &rows {
            lengths.push(r.len());
            ids.extend_from_slice(r);
            ids.extend(std::iter::repeat_n(self.pad_id, len - r.len()));
        }
        Ok(TokenBatch {
            ids,
            rows: rows.len(),
            len,
            lengths,
        })
    }
}
