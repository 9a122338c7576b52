//! `cuelab.render`, `cuelab.cues` and `cuelab.Recipe`: cue specs and drawing on the cue engine
//! (`cuelab_cue`), the same code path as `cuelab render` and `cuelab cues --json`.

use cuelab_cue::region_json::{BoxLayout, RegionEntry};
use cuelab_cue::{Recipe as CueRecipe, Renderer};
use pyo3::prelude::*;
use pyo3::types::PyByteArray;

use crate::error;
use crate::images::{self, Source};

/// A parsed cue recipe; `str()` is its canonical spec (every parameter spelled out), the cue's
/// identity in caches and result files.
#[pyclass(frozen, module = "cuelab._native", name = "Recipe")]
pub struct Recipe {
    inner: CueRecipe,
}

#[pymethods]
impl Recipe {
    /// Parse a cue spec such as `"ellipse(color=red,width=3)+blur(radius=20)"`.
    #[new]
    fn new(spec: &str) -> PyResult<Self> {
        Ok(Recipe {
            inner: CueRecipe::parse(spec).map_err(error::to_py)?,
        })
    }

    /// The canonical spec.
    #[getter]
    fn spec(&self) -> String {
        self.inner.to_string()
    }

    /// True for the recipe that draws nothing (`plain`).
    #[getter]
    fn is_plain(&self) -> bool {
        self.inner.is_plain()
    }

    /// The primitives, in the written order.
    #[getter]
    fn steps(&self) -> Vec<&'static str> {
        self.inner.steps().iter().map(|s| s.name()).collect()
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self) -> String {
        format!("Recipe({:?})", self.inner.to_string())
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .extract::<PyRef<'_, Recipe>>()
            .is_ok_and(|o| o.inner.to_string() == self.inner.to_string())
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.inner.to_string().hash(&mut h);
        h.finish()
    }
}

/// The box layout named `format` (`xyxy`, `xywh` or `pillow`), as `cuelab render --box-format`.
fn layout(format: &str) -> PyResult<BoxLayout> {
    format
        .parse()
        .map_err(|e: String| pyo3::exceptions::PyValueError::new_err(format!("box_format {e}")))
}

/// Draw `cue` on `image` for every region of `regions` (a JSON list of regions). Errors of a
/// region are prefixed `region #I: ` when `many`.
#[pyfunction]
#[pyo3(signature = (image, regions, cue, box_format = "xyxy", many = false))]
pub fn render<'py>(
    py: Python<'py>,
    image: Bound<'py, PyAny>,
    regions: &str,
    cue: &str,
    box_format: &str,
    many: bool,
) -> PyResult<Vec<(Bound<'py, PyByteArray>, u32, u32)>> {
    let recipe = CueRecipe::parse(cue).map_err(error::to_py)?;
    let entries: Vec<serde_json::Value> = serde_json::from_str(regions)
        .map_err(|e| error::plain(format!("regions: expected a JSON list: {e}")))?;
    if entries.is_empty() {
        return Err(error::plain("the list of regions is empty"));
    }
    let prefix = |i: usize, e: PyErr| -> PyErr {
        if many {
            let text = e.value(py).to_string();
            error::plain(format!("region #{i}: {text}"))
        } else {
            e
        }
    };
    let mut targets = Vec::with_capacity(entries.len());
    for (i, value) in entries.into_iter().enumerate() {
        let entry: RegionEntry = serde_json::from_value(value).map_err(|_| {
            prefix(
                i,
                error::plain(
                    "expected a box [x0, y0, x1, y1] or an object with box, polygon or rle \
                     (and optional label, points)",
                ),
            )
        })?;
        targets.push(
            entry
                .into_target(i, layout(box_format)?)
                .map_err(|e| prefix(i, error::to_py(e)))?,
        );
    }
    let source = Source::extract(&image)?;
    let rendered = py.detach(
        move || -> Result<Vec<image::RgbImage>, cuelab_cue::CueError> {
            let image = source.load_rgb()?;
            let renderer = Renderer::new(&image);
            targets
                .iter()
                .map(|t| renderer.render(&recipe, t))
                .collect()
        },
    );
    let rendered = rendered.map_err(error::to_py)?;
    Ok(rendered.iter().map(|i| images::to_py(py, i)).collect())
}

/// The cue primitives, their parameters and defaults as JSON (the output of `cuelab cues --json`).
#[pyfunction]
pub fn cues_json() -> PyResult<String> {
    let list = cuelab_cue::schema::primitives_json();
    serde_json::to_string(&list).map_err(error::to_py)
}
