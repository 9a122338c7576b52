//! Parameter values: what the parser accepts for each [`ParamKind`], and how a value prints in
//! a canonical spec (text is quoted only when it must be).

use std::fmt;

use crate::color::Color;
use crate::schema::ParamKind;

/// A parameter value after validation.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number (also integers).
    Number(f32),
    /// A boolean.
    Bool(bool),
    /// A colour.
    Color(Color),
    /// A word from a choice list, or free text.
    Text(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(v) => write!(f, "{v}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Color(c) => write!(f, "{c}"),
            Value::Text(t) => {
                let bare = !t.is_empty()
                    && t.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if bare && t.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
                    f.write_str(t)
                } else {
                    write!(f, "\"")?;
                    for c in t.chars() {
                        match c {
                            '"' => f.write_str("\\\"")?,
                            '\\' => f.write_str("\\\\")?,
                            c => write!(f, "{c}")?,
                        }
                    }
                    write!(f, "\"")
                }
            }
        }
    }
}

/// Check a raw value against a parameter kind.
pub(crate) fn convert(raw: &str, kind: ParamKind) -> std::result::Result<Value, String> {
    match kind {
        ParamKind::Number { min, max } => {
            let v: f32 = raw
                .parse()
                .map_err(|_| format!("expected a number, found '{raw}'"))?;
            if !v.is_finite() || v < min || v > max {
                return Err(format!("{v} is outside [{min}, {max}]"));
            }
            Ok(Value::Number(v))
        }
        ParamKind::Int { min, max } => {
            let v: i64 = raw
                .parse()
                .map_err(|_| format!("expected an integer, found '{raw}'"))?;
            if v < min || v > max {
                return Err(format!("{v} is outside [{min}, {max}]"));
            }
            Ok(Value::Number(v as f32))
        }
        ParamKind::Bool => match raw.to_ascii_lowercase().as_str() {
            "true" | "on" | "yes" | "1" => Ok(Value::Bool(true)),
            "false" | "off" | "no" | "0" => Ok(Value::Bool(false)),
            _ => Err(format!("expected true or false, found '{raw}'")),
        },
        ParamKind::Color => Color::parse(raw).map(Value::Color).ok_or_else(|| {
            format!(
                "expected a colour (#rrggbb, #rrggbbaa or one of {}), found '{raw}'",
                Color::names().collect::<Vec<_>>().join(", ")
            )
        }),
        ParamKind::Choice(options) => {
            if options.contains(&raw) {
                Ok(Value::Text(raw.to_string()))
            } else {
                Err(format!(
                    "expected one of {}, found '{raw}'",
                    options.join(", ")
                ))
            }
        }
        ParamKind::Text => Ok(Value::Text(raw.to_string())),
    }
}
