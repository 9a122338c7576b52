//! Captioning metrics for cuelab, numerically identical to pycocoevalcap: its PTB tokenisation
//! step (no Java), CIDEr-D, BLEU-1..4 and ROUGE-L; plus the CLIPScore / RefCLIPScore arithmetic.
//!
//! ```
//! use cuelab_metrics::{evaluate, CaptionSet};
//! let mut set = CaptionSet::default();
//! set.refs.insert("1".into(), vec!["A dog runs on the grass.".into()]);
//! set.cands.insert("1".into(), "a dog running on grass".into());
//! let scores = evaluate(&set).unwrap();
//! assert!(scores.rouge_l > 0.0);
//! ```

pub mod bleu;
pub mod caption_io;
pub mod caption_set;
pub mod cider;
pub mod clipscore;
pub mod error;
pub mod ngrams;
pub mod rouge;
pub mod tokenize;

pub use caption_set::{evaluate, evaluate_tokenized, CaptionScores, CaptionSet, ImageScores};
pub use error::{Error, Result};
pub use tokenize::{ptb_tokens, tokenize_caption};
