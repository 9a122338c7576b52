//! HTML escaping and number formatting. Every string that comes from data (expressions,
//! questions, answers, ids, manifest values) goes through [`esc`] before it reaches the page.

use serde_json::Value;

/// Escape text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A number as shown in tables: 4 decimals, `–` for a missing or non-finite value.
pub fn num(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.4}"),
        _ => "–".into(),
    }
}

/// A JSON number (or null) as f64.
pub fn f(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// An estimate object `{mean, lo, hi, n}` as `mean [lo, hi]`, with the exact JSON values in
/// the cell's title attribute.
pub fn estimate_cell(e: &Value) -> String {
    if e.is_null() {
        return "<td>–</td>".into();
    }
    let (m, lo, hi) = (f(&e["mean"]), f(&e["lo"]), f(&e["hi"]));
    let exact = format!(
        "mean {} lo {} hi {} n {}",
        e["mean"], e["lo"], e["hi"], e["n"]
    );
    format!(
        "<td class=\"num\" title=\"{}\">{} <span class=\"ci\">[{}, {}]</span></td>",
        esc(&exact),
        num(m),
        num(lo),
        num(hi)
    )
}

/// A p-value: 4 significant decimals, `<1e-4` below that.
pub fn pval(p: Option<f64>) -> String {
    match p {
        Some(x) if x.is_finite() && x < 1e-4 => format!("{x:.1e}"),
        other => num(other),
    }
}

/// A JSON value as short readable text (strings unquoted).
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "–".into(),
        other => other.to_string(),
    }
}

/// A slug usable as an element id (ASCII letters, digits and dashes).
pub fn slug(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    out.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<script>alert(1)</script> \"&'"),
            "&lt;script&gt;alert(1)&lt;/script&gt; &quot;&amp;&#39;"
        );
        assert_eq!(slug("Run A/plain <x>"), "run-a-plain-x");
        assert_eq!(num(Some(f64::NAN)), "–");
        assert_eq!(num(Some(0.5)), "0.5000");
    }
}
