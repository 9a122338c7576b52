//! # cuelab-py — the Python package `cuelab`
//!
//! The extension module `cuelab._native` (PyO3, stable ABI for CPython >= 3.9) behind the Python
//! package in `python/cuelab/`, which gives it its typed API (paths, PIL images and numpy arrays
//! in; numpy arrays, PIL images, dicts and pyarrow tables out). Every function is a thin call into
//! the library crates, the same calls the `cuelab` command makes, so the numbers are the CLI's:
//!
//! - rendering: [`render`](render::render), [`cues_json`](render::cues_json), [`render::Recipe`]
//!   (`cuelab_cue`);
//! - models: [`model::Model`] (`cuelab_models`: embeddings, cosine / logit / probability);
//! - caption metrics: [`metrics::caption_metrics`], [`metrics::clipscore`] (`cuelab_metrics`,
//!   `cuelab_tasks::clipscore`);
//! - experiments: [`runs::ground`], [`runs::ask`], [`runs::read_run`] (`cuelab_tasks`).
//!
//! Errors become `cuelab.CuelabError` with the CLI's message ([`error`]); every call that decodes
//! images, runs a model or an experiment releases the GIL.
//!
//! Built by maturin (`pyproject.toml` at the repository root, which enables the
//! `extension-module` feature: libpython is not linked, as an extension module must not);
//! `cargo build` builds it linked to libpython, `cargo test` has nothing to run in it (`test =
//! false`: its tests are the pytest suite in `python/tests`, run by `tools/ci/python-tests.sh`).

pub mod error;
pub mod images;
pub mod metrics;
pub mod model;
pub mod render;
pub mod runs;

use pyo3::prelude::*;

/// The extension module `cuelab._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("CuelabError", m.py().get_type::<error::CuelabError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<render::Recipe>()?;
    m.add_class::<model::Model>()?;
    m.add_function(wrap_pyfunction!(render::render, m)?)?;
    m.add_function(wrap_pyfunction!(render::cues_json, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::caption_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::clipscore, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::clipscore_defaults, m)?)?;
    m.add_function(wrap_pyfunction!(runs::ground, m)?)?;
    m.add_function(wrap_pyfunction!(runs::ask, m)?)?;
    m.add_function(wrap_pyfunction!(runs::read_run, m)?)?;
    m.add_function(wrap_pyfunction!(runs::scenes, m)?)?;
    Ok(())
}
