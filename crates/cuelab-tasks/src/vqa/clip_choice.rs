//! CLIP as a multiple-choice answerer (MMVP-VLM's evaluation): the option whose text embedding
//! is most similar to the image wins; `option_logprobs` are the log-softmax of the logits
//! (`logit_scale x cosine`) over the options.

use cuelab_models::ImageTextScorer;
use cuelab_vlm::{Answer, Answerer, ParseOutcome, Question, Result, VlmError};
use image::RgbImage;
use serde_json::{json, Value};

/// Answers multiple-choice questions by image-text similarity.
pub struct ClipChoiceAnswerer<'m> {
    scorer: &'m (dyn ImageTextScorer + Send + Sync),
    prefix: String,
}

impl<'m> ClipChoiceAnswerer<'m> {
    /// Wraps a loaded scorer; `prefix` is put before every option text (e.g. `"a photo of "`;
    /// MMVP-VLM uses the statements as they are: empty).
    pub fn new(scorer: &'m (dyn ImageTextScorer + Send + Sync), prefix: impl Into<String>) -> Self {
        ClipChoiceAnswerer {
            scorer,
            prefix: prefix.into(),
        }
    }

    /// What identifies the answers (model and prefix): the run identity.
    pub fn identity(&self) -> Value {
        json!({"backend": "clip-choice", "model": self.scorer.id(), "prefix": self.prefix,
               "preprocess": format!("{:?}", self.scorer.preprocess())})
    }
}

fn log_softmax(logits: &[f64]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lse = max + logits.iter().map(|l| (l - max).exp()).sum::<f64>().ln();
    logits.iter().map(|l| l - lse).collect()
}

impl Answerer for ClipChoiceAnswerer<'_> {
    fn describe(&self) -> Value {
        self.identity()
    }

    fn answer_all(
        &self,
        questions: &[Question],
        sink: &mut cuelab_vlm::backend::AnswerSink<'_>,
    ) -> Result<()> {
        let model_err = |e: cuelab_models::Error| VlmError::Fatal(format!("CLIP: {e}"));
        let mut images: Vec<RgbImage> = Vec::new();
        let mut owners: Vec<usize> = Vec::new();
        for (i, q) in questions.iter().enumerate() {
            if q.choices.len() < 2 {
                sink(
                    i,
                    Err(VlmError::InvalidRequest {
                        id: q.id.clone(),
                        reason: "CLIP can only choose between options".into(),
                    }),
                );
            } else if let Some(first) = q.images.first() {
                images.push(first.as_ref().clone());
                owners.push(i);
            } else {
                sink(
                    i,
                    Err(VlmError::InvalidRequest {
                        id: q.id.clone(),
                        reason: "no image".into(),
                    }),
                );
            }
        }
        if owners.is_empty() {
            return Ok(());
        }
        let image_embeddings = self.scorer.encode_images(&images).map_err(model_err)?;
        let mut texts: Vec<String> = Vec::new();
        for &i in &owners {
            for c in &questions[i].choices {
                let t = format!("{}{}", self.prefix, c);
                if !texts.contains(&t) {
                    texts.push(t);
                }
            }
        }
        let text_embeddings = self.scorer.encode_texts(&texts).map_err(model_err)?;
        let scale = f64::from(self.scorer.logit_scale());
        for (k, &i) in owners.iter().enumerate() {
            let q = &questions[i];
            let image = cuelab_models::l2_normalize(&image_embeddings[k]);
            let logits: Vec<f64> = q
                .choices
                .iter()
                .map(|c| {
                    let t = format!("{}{}", self.prefix, c);
                    let at = texts.iter().position(|x| *x == t).unwrap_or(0);
                    let text = cuelab_models::l2_normalize(&text_embeddings[at]);
                    scale
                        * image
                            .iter()
                            .zip(&text)
                            .map(|(a, b)| f64::from(a * b))
                            .sum::<f64>()
                })
                .collect();
            let best = logits
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(j, _)| j);
            sink(
                i,
                Ok(Answer {
                    text: best.map(|j| q.choices[j].clone()).unwrap_or_default(),
                    choice: best,
                    parse: ParseOutcome::Ranked,
                    option_logprobs: Some(log_softmax(&logits)),
                    from_cache: false,
                }),
            );
        }
        Ok(())
    }
}
