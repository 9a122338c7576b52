//! What the run directory does not hold about a sample: its image, expression, question,
//! options and target box, read from a samples file (cuelab's dataset JSONL, or the grounding
//! sample JSONL of `cuelab ground`). Lines are read as plain JSON, so any dataset that writes
//! these fields works.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::Result;
use crate::run::read_jsonl;

/// What the page shows about one sample.
#[derive(Debug, Clone, Default)]
pub struct SampleInfo {
    /// The image file (resolved against the samples file's folder).
    pub image: Option<PathBuf>,
    /// The referring expression (grounding).
    pub expression: Option<String>,
    /// The question (questions).
    pub question: Option<String>,
    /// The options in dataset order.
    pub choices: Vec<String>,
    /// The right answer as text.
    pub answer: Option<String>,
    /// The target box (x0, y0, x1, y1), when the dataset has one.
    pub target: Option<[f64; 4]>,
}

/// Sample information by id. Grounding ids `SAMPLE/k` (k-th expression) are indexed too.
#[derive(Debug, Clone, Default)]
pub struct SampleIndex {
    by_id: HashMap<String, SampleInfo>,
}

/// A box from `[x0, y0, x1, y1]` or `{x0, y0, x1, y1}`.
pub fn parse_box(v: &Value) -> Option<[f64; 4]> {
    if let Some(a) = v.as_array() {
        if a.len() == 4 {
            let mut b = [0.0; 4];
            for (o, x) in b.iter_mut().zip(a) {
                *o = x.as_f64()?;
            }
            return Some(b);
        }
        return None;
    }
    let g = |k: &str| v.get(k).and_then(Value::as_f64);
    Some([g("x0")?, g("y0")?, g("x1")?, g("y1")?])
}

impl SampleIndex {
    /// Number of indexed ids.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The sample with this id.
    pub fn get(&self, id: &str) -> Option<&SampleInfo> {
        self.by_id.get(id)
    }

    /// Add every sample of a JSONL file.
    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        for v in read_jsonl(path, None)? {
            self.add_value(&v, &base);
        }
        Ok(())
    }

    fn add_value(&mut self, v: &Value, base: &Path) {
        let Some(id) = v.get("id").map(crate::html::text) else {
            return;
        };
        let image = v.get("image").and_then(Value::as_str).map(|p| {
            let p = PathBuf::from(p);
            if p.is_relative() {
                base.join(p)
            } else {
                p
            }
        });
        let strings = |k: &str| -> Vec<String> {
            v.get(k)
                .and_then(Value::as_array)
                .map(|a| a.iter().map(crate::html::text).collect())
                .unwrap_or_default()
        };
        let choices = strings("choices");
        let answer = v
            .get("answer")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                let i = v.get("answer_index")?.as_u64()? as usize;
                choices.get(i).cloned()
            });
        let target = v.get("target").and_then(parse_box);
        let info = SampleInfo {
            image,
            expression: v
                .get("expression")
                .and_then(Value::as_str)
                .map(str::to_string),
            question: v
                .get("question")
                .and_then(Value::as_str)
                .map(str::to_string),
            choices,
            answer,
            target,
        };
        if let Some(exprs) = v.get("expressions").and_then(Value::as_array) {
            for (k, e) in exprs.iter().enumerate() {
                let raw = e
                    .get("raw")
                    .and_then(Value::as_str)
                    .or_else(|| e.as_str())
                    .map(str::to_string);
                let mut one = info.clone();
                one.expression = raw;
                self.by_id.insert(format!("{id}/{k}"), one);
            }
        }
        self.by_id.insert(id, info);
    }
}
