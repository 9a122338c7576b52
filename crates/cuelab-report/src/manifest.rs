//! The run's manifest in readable form: what ran (experiment, version, command), on what
//! (models and their hashes, data and its checksums), how (config, seed), where (machine) and
//! when, then the whole `manifest.json` verbatim, so the run can be reproduced from the page.

use serde_json::Value;

use crate::html::{esc, text};
use crate::run::Run;
use crate::sections::Context;

/// Keys shown first, with their labels, in this order; every other key follows.
const KNOWN: &[(&str, &str)] = &[
    ("experiment", "experiment"),
    ("command", "command"),
    ("argv", "command line"),
    ("cuelab_version", "cuelab version"),
    ("git", "git"),
    ("start", "started"),
    ("end", "finished"),
    ("config_hash", "config hash"),
    ("seed", "seed"),
    ("models", "models"),
    ("model_hashes", "model hashes"),
    ("backend", "backend"),
    ("backend_identity", "backend identity"),
    ("data", "data"),
    ("data_checksums", "data checksums"),
    ("inputs", "inputs"),
    ("samples", "samples"),
    ("questions", "questions"),
    ("debias_pool", "debias pool"),
    ("shard", "shard"),
    ("merged_from", "merged from"),
    ("machine", "machine"),
    ("variants", "variants"),
    ("config", "config"),
];

fn value_html(v: &Value) -> String {
    match v {
        Value::Object(m) if m.len() <= 8 && m.values().all(|x| !x.is_object() && !x.is_array()) => {
            let mut s = String::from("<dl class=\"inner\">");
            for (k, x) in m {
                s.push_str(&format!("<dt>{}</dt><dd>{}</dd>", esc(k), esc(&text(x))));
            }
            s.push_str("</dl>");
            s
        }
        Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) => {
            let mut s = String::from("<ul class=\"inner\">");
            for x in a {
                s.push_str(&format!("<li><code>{}</code></li>", esc(&text(x))));
            }
            s.push_str("</ul>");
            s
        }
        Value::Object(_) | Value::Array(_) => format!(
            "<pre>{}</pre>",
            esc(&serde_json::to_string_pretty(v).unwrap_or_default())
        ),
        other => format!("<code>{}</code>", esc(&text(other))),
    }
}

/// The manifest block of one run.
pub fn render(run: &Run, ctx: &Context) -> String {
    let mut s = format!(
        "<section class=\"manifest\" id=\"manifest-{}\"><h3>{} <span class=\"dim\">{}</span></h3>",
        esc(&crate::html::slug(&run.label)),
        esc(&run.label),
        esc(&run.dir.display().to_string())
    );
    let Some(m) = run.manifest.as_object() else {
        s.push_str("<p class=\"note\">This run directory has no manifest.json (caption evaluation writes only scores): what produced it is not recorded.</p></section>");
        return s;
    };
    s.push_str("<dl class=\"manifest\">");
    for (k, label) in KNOWN {
        if let Some(v) = m.get(*k).filter(|v| !v.is_null()) {
            s.push_str(&format!(
                "<dt>{}</dt><dd>{}</dd>",
                esc(label),
                value_html(v)
            ));
        }
    }
    for (k, v) in m {
        if KNOWN.iter().any(|(n, _)| n == k) || v.is_null() {
            continue;
        }
        s.push_str(&format!("<dt>{}</dt><dd>{}</dd>", esc(k), value_html(v)));
    }
    if !m.contains_key("command") && !m.contains_key("argv") {
        s.push_str("<dt>command</dt><dd class=\"dim\">not recorded by this run</dd>");
    }
    s.push_str("</dl>");
    s.push_str(&format!(
        "<details><summary>manifest.json verbatim ({})</summary><pre>{}</pre></details></section>",
        ctx.link(run, "manifest.json"),
        esc(&serde_json::to_string_pretty(&run.manifest).unwrap_or_default())
    ));
    s
}
