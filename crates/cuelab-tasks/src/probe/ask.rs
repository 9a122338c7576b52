//! Asking one batch of questions and collecting the answers by position.

use cuelab_vlm::{Answer, Answerer, Question, VlmError};

/// The answers to `questions` in their order (`None` where a fatal backend error stopped the
/// batch first), and that fatal error if any.
pub fn ask_batch(
    answerer: &dyn Answerer,
    questions: &[Question],
) -> (Vec<Option<cuelab_vlm::Result<Answer>>>, Option<VlmError>) {
    let mut answers: Vec<Option<cuelab_vlm::Result<Answer>>> =
        (0..questions.len()).map(|_| None).collect();
    let fatal = {
        let mut sink = |i: usize, a: cuelab_vlm::Result<Answer>| {
            if let Some(slot) = answers.get_mut(i) {
                *slot = Some(a);
            }
        };
        answerer.answer_all(questions, &mut sink).err()
    };
    (answers, fatal)
}
