//! `cuelab.Model`: an image embedder, and when the checkpoint has a text tower an image-text
//! scorer, loaded as `cuelab embed` / `cuelab score` load them (CLIP ViT / ResNet / open_clip,
//! SigLIP, DINOv2; Hugging Face id in the local cache, or a directory).

use cuelab_models::{
    cosine_matrix, l2_normalize, load_embedder, load_scorer, ImageEmbedder, ImageTextScorer,
    LoadOptions, ModelDtype, Pipeline,
};
use pyo3::prelude::*;
use pyo3::types::PyByteArray;

use crate::error;
use crate::images::{matrix_to_py, Source};

/// What was loaded: a scorer (image and text towers) or an image-only embedder.
enum Loaded {
    Scorer(Box<dyn ImageTextScorer + Send + Sync>),
    Embedder(Box<dyn ImageEmbedder + Send + Sync>),
}

impl Loaded {
    fn images(&self) -> &(dyn ImageEmbedder + Send + Sync) {
        match self {
            Loaded::Scorer(s) => s.as_ref(),
            Loaded::Embedder(e) => e.as_ref(),
        }
    }
}

/// A loaded model (see the module documentation).
#[pyclass(frozen, module = "cuelab._native", name = "Model")]
pub struct Model {
    loaded: Loaded,
    dtype: ModelDtype,
    reference: String,
}

/// A float32 matrix handed to Python: `(bytearray, rows, columns)`.
type Matrix<'py> = (Bound<'py, PyByteArray>, usize, usize);

impl Model {
    fn scorer(&self) -> PyResult<&(dyn ImageTextScorer + Send + Sync)> {
        match &self.loaded {
            Loaded::Scorer(s) => Ok(s.as_ref()),
            Loaded::Embedder(e) => Err(error::plain(format!(
                "model `{}` ({}) embeds images only: it has no text tower",
                self.reference,
                e.id()
            ))),
        }
    }
}

fn load(reference: &str, opts: &LoadOptions) -> cuelab_models::Result<Loaded> {
    match load_scorer(reference, opts) {
        Ok(s) => Ok(Loaded::Scorer(s)),
        Err(cuelab_models::Error::UnsupportedArchitecture { .. }) => {
            load_embedder(reference, opts).map(Loaded::Embedder)
        }
        Err(e) => Err(e),
    }
}

fn maybe_normalize(rows: Vec<Vec<f32>>, normalize: bool) -> Vec<Vec<f32>> {
    if normalize {
        rows.iter().map(|r| l2_normalize(r)).collect()
    } else {
        rows
    }
}

#[pymethods]
impl Model {
    /// Load `reference` (HF id in the local hub cache, or a directory) with weights and matrix
    /// products in `dtype` (`f32`, `bf16`, `f16`), image preprocessing `preprocess` (`openai`,
    /// `hf`; `None`: the checkpoint layout's default) on `device` (`cpu`, `cuda[:N]`).
    #[new]
    #[pyo3(signature = (reference, dtype = "f32", preprocess = None, device = "cpu"))]
    fn new(
        py: Python<'_>,
        reference: &str,
        dtype: &str,
        preprocess: Option<&str>,
        device: &str,
    ) -> PyResult<Self> {
        let dtype = dtype.parse::<ModelDtype>().map_err(error::to_py)?;
        let opts = LoadOptions {
            pipeline: preprocess
                .map(Pipeline::parse)
                .transpose()
                .map_err(error::to_py)?,
            device: cuelab_models::device(device).map_err(error::to_py)?,
            dtype,
        };
        let loaded = py
            .detach(|| load(reference, &opts))
            .map_err(|e| error::with_context(format!("loading model `{reference}`"), e))?;
        Ok(Model {
            loaded,
            dtype,
            reference: reference.to_string(),
        })
    }

    /// Stable identifier: architecture, name, a prefix of the weights' SHA-256 (and the dtype
    /// when it is not f32).
    #[getter]
    fn id(&self) -> String {
        self.loaded.images().id().to_string()
    }

    /// The reference the model was loaded from.
    #[getter]
    fn reference(&self) -> String {
        self.reference.clone()
    }

    /// Length of each embedding.
    #[getter]
    fn embed_dim(&self) -> usize {
        self.loaded.images().embed_dim()
    }

    /// The dtype of weights and matrix products.
    #[getter]
    fn dtype(&self) -> String {
        self.dtype.name().to_string()
    }

    /// The image preprocessing (its key, e.g. `openai/224`).
    #[getter]
    fn preprocess(&self) -> String {
        self.loaded.images().preprocess().key()
    }

    /// True when the model embeds texts too (and can score).
    #[getter]
    fn has_text(&self) -> bool {
        matches!(self.loaded, Loaded::Scorer(_))
    }

    /// Multiplier of cosines to logits (`None` for image-only models).
    #[getter]
    fn logit_scale(&self) -> Option<f32> {
        self.scorer().ok().map(|s| s.logit_scale())
    }

    /// Bias of sigmoid-loss models (SigLIP); `None` for CLIP.
    #[getter]
    fn logit_bias(&self) -> Option<f32> {
        self.scorer().ok().and_then(|s| s.logit_bias())
    }

    /// Embeddings of `images` (paths or `(bytes, width, height)`), one row each.
    #[pyo3(signature = (images, normalize = false))]
    fn embed_images<'py>(
        &self,
        py: Python<'py>,
        images: Vec<Bound<'py, PyAny>>,
        normalize: bool,
    ) -> PyResult<Matrix<'py>> {
        let sources = Source::extract_all(&images)?;
        let model = self.loaded.images();
        let rows = py.detach(|| -> cuelab_models::Result<Vec<Vec<f32>>> {
            let decoded = sources
                .into_iter()
                .map(Source::load_for_model)
                .collect::<Result<Vec<_>, _>>()?;
            model.encode_images(&decoded)
        });
        let rows = maybe_normalize(rows.map_err(error::to_py)?, normalize);
        Ok(matrix_to_py(py, &rows, model.embed_dim()))
    }

    /// Embeddings of `texts`, one row each.
    #[pyo3(signature = (texts, normalize = false))]
    fn embed_texts<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<String>,
        normalize: bool,
    ) -> PyResult<Matrix<'py>> {
        let scorer = self.scorer()?;
        let rows = py
            .detach(|| scorer.encode_texts(&texts))
            .map_err(error::to_py)?;
        let rows = maybe_normalize(rows, normalize);
        Ok(matrix_to_py(py, &rows, scorer.embed_dim()))
    }

    /// Cosine, logit and probability matrices (`images x texts`) as `cuelab score` computes them:
    /// probabilities are a softmax over the texts for CLIP, a per-pair sigmoid for SigLIP.
    fn score<'py>(
        &self,
        py: Python<'py>,
        images: Vec<Bound<'py, PyAny>>,
        texts: Vec<String>,
    ) -> PyResult<(Matrix<'py>, Matrix<'py>, Matrix<'py>)> {
        if texts.is_empty() {
            return Err(error::plain("give at least one text"));
        }
        let sources = Source::extract_all(&images)?;
        let scorer = self.scorer()?;
        let sims = py.detach(|| -> cuelab_models::Result<Vec<Vec<f32>>> {
            let decoded = sources
                .into_iter()
                .map(Source::load_for_model)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(cosine_matrix(
                &scorer.encode_images(&decoded)?,
                &scorer.encode_texts(&texts)?,
            ))
        });
        let sims = sims.map_err(error::to_py)?;
        let logits = scorer.logits_from_cosines(&sims);
        let probs = scorer.probabilities_from_cosines(&sims);
        let n = texts.len();
        Ok((
            matrix_to_py(py, &sims, n),
            matrix_to_py(py, &logits, n),
            matrix_to_py(py, &probs, n),
        ))
    }

    fn __repr__(&self) -> String {
        format!(
            "Model({:?}, id={:?}, dtype={:?}, preprocess={:?})",
            self.reference,
            self.loaded.images().id(),
            self.dtype.name(),
            self.loaded.images().preprocess().key()
        )
    }
}
