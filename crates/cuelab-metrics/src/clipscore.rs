//! CLIPScore and RefCLIPScore (Hessel et al. 2021) from precomputed embeddings. The model engine
//! (`cuelab-models`) produces the embeddings; this module is the pure arithmetic, so the variant
//! used (weight `w`, text prefix) is explicit and reproducible.

use crate::error::{Error, Result};

/// The prefix the CLIPScore paper prepends to candidate captions before encoding them.
pub const DEFAULT_PREFIX: &str = "A photo depicts ";

/// The paper's rescaling weight.
pub const DEFAULT_W: f64 = 2.5;

/// Options of the CLIPScore variant.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipScoreOptions {
    /// Multiplier of the clipped cosine (paper: 2.5).
    pub w: f64,
    /// Text prepended to every caption before encoding, candidates and references alike (the
    /// original implementation's `CLIPCapDataset` prefixes both with "A photo depicts "; empty
    /// to reproduce variants without it).
    pub prefix: String,
}

impl Default for ClipScoreOptions {
    fn default() -> Self {
        Self {
            w: DEFAULT_W,
            prefix: DEFAULT_PREFIX.to_string(),
        }
    }
}

impl ClipScoreOptions {
    /// The text to encode for a candidate caption.
    pub fn candidate_text(&self, caption: &str) -> String {
        format!("{}{}", self.prefix, caption)
    }

    /// The text to encode for a reference caption (the same prefix, as the original code).
    pub fn reference_text(&self, caption: &str) -> String {
        format!("{}{}", self.prefix, caption)
    }
}

/// Cosine similarity of two vectors (need not be normalised).
pub fn cosine(a: &[f32], b: &[f32]) -> Result<f64> {
    if a.len() != b.len() {
        return Err(Error::Dimension(a.len(), b.len()));
    }
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        return Ok(0.0);
    }
    Ok(dot / (na.sqrt() * nb.sqrt()))
}

/// CLIPScore = w · max(cos(image, candidate), 0).
pub fn clip_score(image: &[f32], candidate: &[f32], w: f64) -> Result<f64> {
    Ok(w * cosine(image, candidate)?.max(0.0))
}

/// RefCLIPScore as the original implementation computes it: the harmonic mean
/// `2 a b / (a + b)` of CLIPScore `a` and the best reference cosine `b = max_r cos(candidate, r)`
/// (not clipped, not weighted). Returns 0 when `a + b == 0` (the original divides by zero) and
/// CLIPScore alone when there is no reference.
pub fn ref_clip_score(image: &[f32], candidate: &[f32], refs: &[Vec<f32>], w: f64) -> Result<f64> {
    let cs = clip_score(image, candidate, w)?;
    if refs.is_empty() {
        return Ok(cs);
    }
    let mut best = f64::NEG_INFINITY;
    for r in refs {
        best = best.max(cosine(candidate, r)?);
    }
    if cs + best == 0.0 {
        return Ok(0.0);
    }
    Ok(2.0 * cs * best / (cs + best))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores() {
        let img = [1.0f32, 0.0];
        let cand = [1.0f32, 1.0];
        let c = 0.5f64.sqrt();
        assert!((clip_score(&img, &cand, 2.5).unwrap() - 2.5 * c).abs() < 1e-9);
        assert_eq!(clip_score(&img, &[-1.0, 0.0], 2.5).unwrap(), 0.0);
        let r = ref_clip_score(&img, &cand, &[vec![0.0, 1.0], vec![1.0, 1.0]], 2.5).unwrap();
        let cs = 2.5 * c;
        assert!((r - 2.0 * cs * 1.0 / (cs + 1.0)).abs() < 1e-6);
        assert!(cosine(&[1.0], &[1.0, 2.0]).is_err());
        assert_eq!(
            ClipScoreOptions::default().candidate_text("a dog"),
            "A photo depicts a dog"
        );
    }
}
