//! Images crossing the boundary: from Python, a path (`str` or `os.PathLike`, decoded exactly as
//! the CLI decodes files: Pillow-exact JPEG, EXIF orientation) or a `(bytes, width, height)`
//! tuple of packed RGB pixels (the Python layer makes it from PIL images and uint8 arrays); to
//! Python, `(bytearray, width, height)`.

use std::path::PathBuf;

use image::RgbImage;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes};

use crate::error;

/// An image as handed over by the Python layer, before decoding.
pub enum Source {
    /// A file, decoded later (without the GIL).
    Path(PathBuf),
    /// Pixels already in memory.
    Pixels(RgbImage),
}

impl Source {
    /// Read one argument: a path, or `(bytes, width, height)` with `width * height * 3` bytes.
    pub fn extract(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        if let Ok((data, width, height)) = obj.extract::<(Bound<'_, PyBytes>, u32, u32)>() {
            let bytes = data.as_bytes();
            let expected = width as usize * height as usize * 3;
            if bytes.len() != expected {
                return Err(error::plain(format!(
                    "image of {width}x{height} pixels needs {expected} bytes of RGB, got {}",
                    bytes.len()
                )));
            }
            let image = RgbImage::from_raw(width, height, bytes.to_vec())
                .ok_or_else(|| error::plain("cannot build an RGB image from these pixels"))?;
            return Ok(Source::Pixels(image));
        }
        match obj.extract::<PathBuf>() {
            Ok(path) => Ok(Source::Path(path)),
            Err(_) => Err(pyo3::exceptions::PyTypeError::new_err(
                "expected an image path or (bytes, width, height)",
            )),
        }
    }

    /// Read a list of arguments.
    pub fn extract_all(objs: &[Bound<'_, PyAny>]) -> PyResult<Vec<Self>> {
        objs.iter().map(Source::extract).collect()
    }

    /// The decoded image (files decoded as `cuelab_cue::load_rgb` does, for rendering).
    pub fn load_rgb(self) -> Result<RgbImage, cuelab_cue::CueError> {
        match self {
            Source::Path(p) => cuelab_cue::load_rgb(&p),
            Source::Pixels(i) => Ok(i),
        }
    }

    /// The decoded image (files decoded as `cuelab_models::load_image` does, for models).
    pub fn load_for_model(self) -> Result<RgbImage, cuelab_models::Error> {
        match self {
            Source::Path(p) => cuelab_models::load_image(&p),
            Source::Pixels(i) => Ok(i),
        }
    }
}

/// `image` as `(bytearray, width, height)` of packed RGB.
pub fn to_py<'py>(py: Python<'py>, image: &RgbImage) -> (Bound<'py, PyByteArray>, u32, u32) {
    let (w, h) = image.dimensions();
    (PyByteArray::new(py, image.as_raw()), w, h)
}

/// Rows of `f32` as a `(bytearray, rows, columns)` of little-endian float32.
pub fn matrix_to_py<'py>(
    py: Python<'py>,
    rows: &[Vec<f32>],
    columns: usize,
) -> (Bound<'py, PyByteArray>, usize, usize) {
    let mut bytes = Vec::with_capacity(rows.len() * columns * 4);
    for row in rows {
        for v in row {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    (PyByteArray::new(py, &bytes), rows.len(), columns)
}
