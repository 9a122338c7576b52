//! Reading model configuration files (`config.json`, `open_clip_config.json`) into serde-derived
//! structs, and the checks every family's `validate()` shares.
//!
//! Each family declares the keys it uses as `#[derive(Deserialize)]` structs whose
//! `#[serde(default)]` values are the reference implementation's defaults (Hugging Face
//! `config.json` files routinely omit keys that equal them). A `null` value counts as absent, as it
//! does for transformers. Errors are [`Error::Config`] naming the file and the dotted key
//! (`text_config.hidden_size`); a parsed config is then checked by its family's `validate()` for
//! values no model can have (zero heads, a width the heads do not divide, ...).

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::transformer::Act;

/// Read and parse a JSON file (an unreadable file is [`Error::Io`], malformed JSON is
/// [`Error::Config`] with an empty key).
pub(crate) fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| Error::Config {
        path: path.to_path_buf(),
        key: String::new(),
        message: e.to_string(),
    })
}

/// Deserialize `value` (a whole file, or the section at `prefix`, e.g. `"vision_config"`) into
/// `T`, treating `null` as absent; a wrong value is an [`Error::Config`] naming `prefix.key`.
pub(crate) fn section<T: DeserializeOwned>(path: &Path, prefix: &str, value: &Value) -> Result<T> {
    let mut value = value.clone();
    drop_nulls(&mut value);
    if value.is_null() {
        value = Value::Object(Default::default());
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let key = match (prefix.is_empty(), inner.as_str()) {
            (_, ".") => prefix.to_string(),
            (true, _) => inner,
            (false, _) => format!("{prefix}.{inner}"),
        };
        Error::Config {
            path: path.to_path_buf(),
            key,
            message: e.into_inner().to_string(),
        }
    })
}

/// Remove every object entry whose value is `null`, recursively (transformers treats an explicit
/// `null` like an absent key and falls back to the default).
fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, x| !x.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// The `model_type` string of a parsed `config.json`, if any.
pub(crate) fn model_type(root: &Value) -> Option<&str> {
    root.get("model_type").and_then(Value::as_str)
}

/// An [`Error::Config`] for `key` of the file at `path`.
pub(crate) fn invalid(path: &Path, key: &str, message: impl Into<String>) -> Error {
    Error::Config {
        path: path.to_path_buf(),
        key: key.to_string(),
        message: message.into(),
    }
}

/// Check that `heads` (at `heads_key`) is positive and divides `width` (at `width_key`).
pub(crate) fn check_heads(
    path: &Path,
    heads_key: &str,
    heads: usize,
    width_key: &str,
    width: usize,
) -> Result<()> {
    if heads == 0 || !width.is_multiple_of(heads) {
        return Err(invalid(
            path,
            heads_key,
            format!("must divide {width_key} (got {heads} heads for width {width})"),
        ));
    }
    Ok(())
}

/// Check that `value` (at `key`) is positive.
pub(crate) fn check_positive(path: &Path, key: &str, value: usize) -> Result<()> {
    if value == 0 {
        return Err(invalid(path, key, "must be positive"));
    }
    Ok(())
}

/// Check that `patch` (at `patch_key`) is positive and divides `image` (at `image_key`).
pub(crate) fn check_patch(
    path: &Path,
    patch_key: &str,
    patch: usize,
    image_key: &str,
    image: usize,
) -> Result<()> {
    if patch == 0 || !image.is_multiple_of(patch) || image == 0 {
        return Err(invalid(
            path,
            patch_key,
            format!("must divide {image_key} (got patch {patch} for image size {image})"),
        ));
    }
    let grid = image / patch;
    if grid
        .checked_mul(grid)
        .and_then(|n| n.checked_add(1))
        .is_none()
    {
        return Err(invalid(
            path,
            image_key,
            format!("{image} / {patch} patches per side is too large"),
        ));
    }
    Ok(())
}

/// Parse an activation name (`hidden_act`) at `key`.
pub(crate) fn activation(path: &Path, key: &str, name: &str) -> Result<Act> {
    Act::parse(name).ok_or_else(|| {
        invalid(
            path,
            key,
            format!("activation `{name}` is not supported (quick_gelu, gelu, gelu_pytorch_tanh)"),
        )
    })
}
