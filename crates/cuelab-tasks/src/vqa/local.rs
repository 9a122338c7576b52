//! An in-process Qwen3-VL as an answerer: the in-process equivalent of a server's guided choice.
//!
//! Choice questions are answered by conditional log-likelihood: the prompt (images, question and
//! the option list) runs once and every option's tokens are scored after it; the option with the
//! highest summed log-probability wins, and `option_logprobs` holds the sums. Open questions
//! (counting) are answered by greedy generation.
//!
//! A question with several images (a clip's frames) shows them as separate images by default;
//! with [`LocalVlmAnswerer::with_video`] they go in as one video input through the model's video
//! processor (frame sampling, temporal patches of 2 frames, `<t seconds>` timestamps, the video's
//! rotary positions), the in-process equivalent of a served model's `video_url`.

use cuelab_models::qwen3_vl::ops::GenerateOptions;
use cuelab_models::qwen3_vl::{prompt, Qwen3Vl};
use cuelab_vlm::{Answer, Answerer, ParseOutcome, Question, Result, VlmError};
use image::RgbImage;
use serde_json::{json, Value};

/// Answers questions with a loaded Qwen3-VL.
pub struct LocalVlmAnswerer<'m> {
    model: &'m Qwen3Vl,
    max_new_tokens: usize,
    video_fps: Option<f64>,
}

impl<'m> LocalVlmAnswerer<'m> {
    /// Wraps a loaded model; open questions generate at most `max_new_tokens` tokens.
    pub fn new(model: &'m Qwen3Vl, max_new_tokens: usize) -> Self {
        LocalVlmAnswerer {
            model,
            max_new_tokens,
            video_fps: None,
        }
    }

    /// Give a question's frames (two or more) to the model as one video playing at `fps`
    /// frames per second (`None`: separate images, the default).
    pub fn with_video(mut self, fps: Option<f64>) -> Self {
        self.video_fps = fps;
        self
    }

    /// What decides the answers (the run identity): model id (weights hash), scoring rule,
    /// prompt layout and generation length.
    pub fn identity(&self) -> Value {
        let mut id = json!({
            "backend": "local-qwen3-vl",
            "model": self.model.id(),
            "choice_rule": "max summed log-likelihood of the option tokens",
            "prompt": "{question}\\nOptions: {options, comma-separated}",
            "max_new_tokens": self.max_new_tokens,
        });
        // Only with video input, so runs with frames as images keep their identity.
        if let Some(fps) = self.video_fps {
            id["video_input"] = json!("video");
            id["video_fps"] = json!(fps);
            id["video_processor"] = json!(self.model.video_processor());
        }
        id
    }

    fn answer(&self, q: &Question) -> Result<Answer> {
        let invalid = |e: cuelab_models::Error| VlmError::InvalidRequest {
            id: q.id.clone(),
            reason: e.to_string(),
        };
        let images: Vec<RgbImage> = q.images.iter().map(|i| i.as_ref().clone()).collect();
        let text = if q.choices.is_empty() {
            q.text.clone()
        } else {
            format!("{}\nOptions: {}", q.text, q.choices.join(", "))
        };
        let prepared = match self.video_fps {
            Some(fps) if images.len() > 1 => {
                self.model
                    .prepare_video_chat(q.system.as_deref(), &images, fps, &text)
            }
            _ => {
                let chat = prompt::chat_prompt(q.system.as_deref(), images.len(), &text);
                self.model
                    .prepare_with(self.model.processor(), &images, &chat)
            }
        }
        .map_err(invalid)?;
        if q.choices.is_empty() {
            let generation = self
                .model
                .generate(
                    &prepared,
                    &GenerateOptions {
                        max_new_tokens: self.max_new_tokens,
                        ..GenerateOptions::default()
                    },
                )
                .map_err(invalid)?;
            return Ok(Answer {
                text: generation.text.trim().to_string(),
                choice: None,
                parse: ParseOutcome::Open,
                option_logprobs: None,
                from_cache: false,
            });
        }
        let scores = self
            .model
            .score_choices(&prepared, &q.choices)
            .map_err(invalid)?;
        let sums: Vec<f64> = scores.iter().map(|s| s.sum_logprob).collect();
        let best = sums
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i);
        Ok(Answer {
            text: best.map(|i| q.choices[i].clone()).unwrap_or_default(),
            choice: best,
            parse: ParseOutcome::Ranked,
            option_logprobs: Some(sums),
            from_cache: false,
        })
    }
}

impl Answerer for LocalVlmAnswerer<'_> {
    fn describe(&self) -> Value {
        self.identity()
    }

    fn answer_all(
        &self,
        questions: &[Question],
        sink: &mut cuelab_vlm::backend::AnswerSink<'_>,
    ) -> Result<()> {
        for (i, q) in questions.iter().enumerate() {
            sink(i, self.answer(q));
        }
        Ok(())
    }
}
