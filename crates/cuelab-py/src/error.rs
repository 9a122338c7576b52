//! Errors as Python exceptions: [`CuelabError`] carries the same text the `cuelab` command prints
//! (`error: MESSAGE` then one `  caused by: CAUSE` line per underlying error), without the
//! `error: ` prefix.

use std::error::Error as StdError;

use pyo3::PyErr;

pyo3::create_exception!(
    cuelab,
    CuelabError,
    pyo3::exceptions::PyException,
    "An error reported by cuelab (bad input, unreadable file, model that cannot be loaded, refused run directory); the message is the one the `cuelab` command prints."
);

/// The message of `err` and its chain of causes, as the CLI prints them.
pub fn message(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        text.push_str(&format!("\n  caused by: {c}"));
        cause = c.source();
    }
    text
}

/// `err` as a [`CuelabError`].
pub fn to_py<E: StdError + 'static>(err: E) -> PyErr {
    CuelabError::new_err(message(&err))
}

/// `err` under a context line (as the CLI's `anyhow` context prints it: the context first, then
/// the error and its causes as `caused by` lines).
pub fn with_context<E: StdError + 'static>(context: impl Into<String>, err: E) -> PyErr {
    CuelabError::new_err(format!(
        "{}\n  caused by: {}",
        context.into(),
        message(&err)
    ))
}

/// A plain message as a [`CuelabError`].
pub fn plain(text: impl Into<String>) -> PyErr {
    CuelabError::new_err(text.into())
}
