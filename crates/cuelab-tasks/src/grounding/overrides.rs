//! The grounding configuration with a front end's values over it (`cuelab ground` flags, the
//! Python `ground` keywords): flags > configuration file > defaults.

use std::path::PathBuf;

use super::config::{GroundingConfig, OneOrMany};
use super::study::DEFAULT_MODEL;
use super::{Aggregate, Method};
use crate::error::{Result, TaskError};

/// Values over the configuration; `None` and empty lists keep the configuration's value.
#[derive(Debug, Clone, Default)]
pub struct GroundingOverrides {
    /// The experiment file (TOML); `None`: the defaults.
    pub config_file: Option<PathBuf>,
    /// CLIP models (none in either place: [`DEFAULT_MODEL`]).
    pub models: Vec<String>,
    /// Methods.
    pub methods: Vec<Method>,
    /// One cue variant (a list of cue recipes).
    pub cues: Vec<String>,
    /// Debiasing sample count.
    pub debias: Option<usize>,
    /// Debiasing pool (`train`, `eval` or a file).
    pub debias_pool: Option<String>,
    /// Draw the debiasing pool with replacement.
    pub debias_with_replacement: Option<bool>,
    /// Text field of the samples.
    pub text_field: Option<String>,
    /// Aggregation of several cues' scores.
    pub aggregate: Option<Aggregate>,
    /// Only the first N samples.
    pub limit: Option<usize>,
    /// Seed.
    pub seed: Option<u64>,
    /// Weight of the class prior (>= 0).
    pub class_prior: Option<f32>,
}

impl GroundingOverrides {
    /// The configuration file (or the defaults) with these values over it.
    pub fn config(&self) -> Result<GroundingConfig> {
        let cfg = match &self.config_file {
            Some(p) => GroundingConfig::from_toml_file(p)?,
            None => GroundingConfig::default(),
        };
        self.apply(cfg)
    }

    /// `cfg` with these values over it.
    pub fn apply(&self, mut cfg: GroundingConfig) -> Result<GroundingConfig> {
        if !self.models.is_empty() {
            cfg.models = self.models.clone();
        }
        if cfg.models.is_empty() {
            cfg.models = vec![DEFAULT_MODEL.into()];
        }
        if !self.methods.is_empty() {
            cfg.method = OneOrMany::Many(self.methods.clone());
        }
        if !self.cues.is_empty() {
            cfg.cues = vec![self.cues.clone()];
        }
        if let Some(d) = self.debias {
            cfg.debias = OneOrMany::One(d);
        }
        if let Some(p) = &self.debias_pool {
            cfg.debias_pool = Some(p.clone());
        }
        if let Some(r) = self.debias_with_replacement {
            cfg.debias_with_replacement = Some(r);
        }
        if let Some(f) = &self.text_field {
            cfg.text_field = cuelab_data::TextField::parse(f);
        }
        if let Some(a) = self.aggregate {
            cfg.aggregate = OneOrMany::One(a);
        }
        cfg.limit = self.limit.or(cfg.limit);
        cfg.seed = self.seed.unwrap_or(cfg.seed);
        if let Some(l) = self.class_prior {
            if !l.is_finite() || l < 0.0 {
                return Err(TaskError::Usage(format!(
                    "--class-prior {l}: expected a weight >= 0"
                )));
            }
            cfg.class_prior = Some(l);
        }
        Ok(cfg)
    }
}
