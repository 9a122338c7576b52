//! `cuelab report`: one self-contained HTML page for one run directory or several compared
//! side by side, read from the run directories' files only (`manifest.json`, `summary.json`,
//! `results.jsonl`, `per_image.jsonl`, `clipscore.jsonl`, `timing.json`), never from the
//! crates that wrote them.
//!
//! The page has no network dependency: CSS, SVG plots (drawn by `plotters`) and JPEG
//! thumbnails are inlined, a Content-Security-Policy forbids loading anything, and the small
//! inline script (a gallery filter) is optional. Every string from data is escaped.
//!
//! ```no_run
//! let opts = cuelab_report::Options::default();
//! let html = cuelab_report::render(&["runs/demo/grounding".into()], &opts).unwrap();
//! std::fs::write("report.html", html).unwrap();
//! ```

pub mod arms;
pub mod error;
pub mod gallery;
pub mod html;
pub mod manifest;
pub mod plot;
pub mod run;
pub mod samples;
pub mod sections;
pub mod stats;
pub mod synth;
pub mod thumbs;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use error::{ReportError, Result};
pub use run::Run;
pub use sections::{Context, Registry, Section};

use html::esc;

/// How to make the page.
#[derive(Debug, Clone)]
pub struct Options {
    /// Page title (default: the runs' names).
    pub title: Option<String>,
    /// Cards per gallery at most (samples, worst failures, each flip direction).
    pub max_gallery: usize,
    /// Extra samples files (dataset JSONL) to find images, expressions and questions in, on
    /// top of the `data.samples_file` a run's manifest names.
    pub samples: Vec<PathBuf>,
    /// Longest side of a thumbnail in pixels.
    pub thumb_side: u32,
    /// JPEG quality of thumbnails.
    pub thumb_quality: u8,
    /// Folder the page will be written to (links to run files are relative to it).
    pub out_dir: Option<PathBuf>,
    /// Seed of the report's own bootstrap resampling.
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            title: None,
            max_gallery: 200,
            samples: Vec::new(),
            thumb_side: 192,
            thumb_quality: 75,
            out_dir: None,
            seed: 0,
        }
    }
}

/// The page for the run directories `dirs` with the built-in sections.
pub fn render(dirs: &[PathBuf], opts: &Options) -> Result<String> {
    render_with(dirs, opts, &Registry::builtin())
}

/// The page for `dirs` with the sections of `registry`.
pub fn render_with(dirs: &[PathBuf], opts: &Options, registry: &Registry) -> Result<String> {
    if dirs.is_empty() {
        return Err(ReportError::NoRuns);
    }
    let mut runs: Vec<Run> = dirs.iter().map(|d| Run::load(d)).collect::<Result<_>>()?;
    unique_labels(&mut runs);
    let mut samples = samples::SampleIndex::default();
    let mut files: Vec<PathBuf> = opts.samples.clone();
    for r in &runs {
        if let Some(p) = r.manifest["data"]["samples_file"].as_str() {
            let p = PathBuf::from(p);
            if p.is_file() && !files.contains(&p) {
                files.push(p);
            }
        }
    }
    for f in &files {
        samples.add_file(f)?;
    }
    let mut ctx = Context {
        max_gallery: opts.max_gallery,
        seed: opts.seed,
        samples,
        thumbs: thumbs::Thumbs::new(opts.thumb_side, opts.thumb_quality),
        out_dir: opts.out_dir.clone(),
    };
    let title = opts.title.clone().unwrap_or_else(|| {
        format!(
            "cuelab report: {}",
            runs.iter()
                .map(|r| r.label.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    });

    let mut body = String::new();
    let mut toc = Vec::new();
    let mut claimed = vec![false; runs.len()];
    for section in registry.sections() {
        let mine: Vec<&Run> = runs
            .iter()
            .enumerate()
            .filter(|(i, r)| !claimed[*i] && section.accepts(r))
            .map(|(_, r)| r)
            .collect();
        if mine.is_empty() {
            continue;
        }
        for (i, r) in runs.iter().enumerate() {
            if section.accepts(r) {
                claimed[i] = true;
            }
        }
        let id = format!("section-{}", section.name());
        body.push_str(&format!(
            "<section class=\"kind\" id=\"{}\" data-kind=\"{}\"><h2>{}</h2>",
            esc(&id),
            esc(section.name()),
            esc(section.title())
        ));
        body.push_str(&section.render(&mine, &mut ctx)?);
        body.push_str("</section>");
        toc.push((id, section.title().to_string()));
    }
    let others: Vec<&Run> = runs
        .iter()
        .zip(&claimed)
        .filter(|(_, c)| !**c)
        .map(|(r, _)| r)
        .collect();
    if !others.is_empty() {
        body.push_str("<section class=\"kind\" id=\"section-other\" data-kind=\"other\"><h2>Other runs</h2><p class=\"note\">No section of this report knows these runs; their summary.json follows.</p>");
        for r in &others {
            body.push_str(&format!(
                "<h3>{}</h3><pre>{}</pre>",
                esc(&r.label),
                esc(&serde_json::to_string_pretty(&r.summary).unwrap_or_default())
            ));
        }
        body.push_str("</section>");
        toc.push(("section-other".into(), "Other runs".into()));
    }
    body.push_str(
        "<section class=\"kind\" id=\"section-manifest\" data-kind=\"manifest\"><h2>Manifests</h2>",
    );
    for r in &runs {
        body.push_str(&manifest::render(r, &ctx));
    }
    body.push_str("</section>");
    toc.push(("section-manifest".into(), "Manifests".into()));

    let mut page = String::with_capacity(body.len() + 8192);
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    page.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">");
    page.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    page.push_str(&format!(
        "<title>{}</title><style>{}</style></head><body>",
        esc(&title),
        CSS
    ));
    page.push_str(&format!(
        "<header><h1>{}</h1><p class=\"note\">Generated {} by cuelab-report {} from the run directories' files; everything is inlined (no network). Links point to the full data.</p>",
        esc(&title),
        now_utc(),
        env!("CARGO_PKG_VERSION")
    ));
    page.push_str("<table class=\"runs\"><thead><tr><th>run</th><th>kind</th><th>directory</th><th>rows</th><th>variants</th></tr></thead><tbody>");
    for r in &runs {
        page.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&r.label),
            esc(r.experiment()),
            esc(&r.dir.display().to_string()),
            r.rows.len(),
            esc(&r.variants().iter().map(|v| v.1.as_str()).collect::<Vec<_>>().join(", "))
        ));
    }
    page.push_str("</tbody></table><nav><ul>");
    for (id, t) in &toc {
        page.push_str(&format!("<li><a href=\"#{}\">{}</a></li>", esc(id), esc(t)));
    }
    page.push_str("</ul></nav></header><main>");
    page.push_str(&body);
    page.push_str(&format!("</main><script>{JS}</script></body></html>\n"));
    Ok(page)
}

/// Render and write the page to `out` (through a temporary file renamed into place).
/// Links to run files are made relative to `out`'s folder.
pub fn write(dirs: &[PathBuf], out: &Path, opts: &Options) -> Result<()> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut opts = opts.clone();
    if opts.out_dir.is_none() {
        opts.out_dir = Some(dir.to_path_buf());
    }
    let page = render(dirs, &opts)?;
    std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))?;
    // mode 0o666 minus the umask, as `cuelab_cue::atomic_file_in` (this crate does not depend on it)
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(|e| ReportError::io(dir, e))?;
    tmp.write_all(page.as_bytes())
        .map_err(|e| ReportError::io(out, e))?;
    tmp.persist(out)
        .map_err(|e| ReportError::io(out, e.error))?;
    Ok(())
}

/// Make run labels unique by prefixing the parent folder, then a number.
fn unique_labels(runs: &mut [Run]) {
    for i in 0..runs.len() {
        if runs.iter().filter(|r| r.label == runs[i].label).count() > 1 {
            let parent = runs[i]
                .dir
                .parent()
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned());
            if let Some(p) = parent {
                runs[i].label = format!("{p}/{}", runs[i].label);
            }
        }
    }
    for i in 0..runs.len() {
        let dup = runs[..i]
            .iter()
            .filter(|r| r.label == runs[i].label)
            .count();
        if dup > 0 {
            runs[i].label = format!("{} ({})", runs[i].label, dup + 1);
        }
    }
}

/// Current UTC time, `YYYY-MM-DD HH:MM UTC`.
fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem / 60) % 60
    )
}

/// The page's style sheet.
const CSS: &str = r#"
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0 auto;max-width:1280px;padding:0 16px 48px;color:#1d1d1f;background:#fff}
h1{font-size:22px;margin:18px 0 4px}h2{font-size:19px;border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:32px}h3{font-size:16px;margin:20px 0 6px}h4{font-size:14px;margin:14px 0 4px}
.note{color:#555;font-size:12.5px;margin:2px 0 8px}.dim{color:#888;font-weight:normal;font-size:12px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}th{background:#f4f4f6}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.ci{color:#777;font-size:11.5px}
caption{caption-side:top;text-align:left;font-weight:600;padding:2px 0}
nav ul{list-style:none;padding:0;display:flex;gap:14px;flex-wrap:wrap}nav a{color:#0b63c4}
.plots{display:flex;flex-wrap:wrap;gap:10px}figure.plot{margin:0;border:1px solid #eee}figure.plot svg{display:block;max-width:100%;height:auto}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:10px;margin:8px 0}
.card{border:1px solid #ddd;border-radius:6px;padding:6px;font-size:12.5px;background:#fafafa}.card[hidden]{display:none}
.thumb{position:relative;width:100%;line-height:0}.thumb img{width:100%;height:auto;display:block;border-radius:3px}.thumb svg{position:absolute;inset:0;width:100%;height:100%}
.legend{font-size:12px;padding:2px 8px 6px;display:flex;gap:12px;flex-wrap:wrap}.legend i{display:inline-block;width:11px;height:11px;margin-right:4px;vertical-align:-1px}
.thumb.missing{line-height:1.4;color:#999;background:#eee;text-align:center;padding:30px 0}
rect.gt,rect.pred0,rect.pred1,rect.pred2,rect.pred3{fill:none;stroke-width:2.5}
rect.gt{stroke:#1db954}rect.pred0{stroke:#e3242b;stroke-dasharray:6 3}rect.pred1{stroke:#1f6feb;stroke-dasharray:2 2}rect.pred2{stroke:#f59e0b;stroke-dasharray:8 2 2 2}rect.pred3{stroke:#c026d3;stroke-dasharray:4 4}
.key{display:inline-block;min-width:12px;height:10px;margin-right:4px;border:2px solid;border-radius:2px;padding:0 2px;font-size:11px;line-height:10px}
.key.gt{border-color:#1db954}.key.pred0{border-color:#e3242b}.key.pred1{border-color:#1f6feb}.key.pred2{border-color:#f59e0b}.key.pred3{border-color:#c026d3}
.meta ul,.meta ol{margin:4px 0;padding-left:18px}.meta .id{color:#777;font-size:11px;word-break:break-all;margin-top:4px}.expr{font-weight:600;margin:2px 0}.said{color:#666;font-size:11.5px}
.ok{color:#137333;font-weight:600}.bad{color:#b3261e;font-weight:600}.warn{color:#b3261e}
details.page>summary{cursor:pointer;color:#0b63c4;margin:4px 0}input.filter{margin:4px 0;padding:3px 6px;width:260px}
dl.manifest{display:grid;grid-template-columns:170px 1fr;gap:3px 12px;margin:6px 0}dl.manifest dt{font-weight:600}dl.manifest dd{margin:0}dl.inner{display:grid;grid-template-columns:auto 1fr;gap:0 10px;margin:0}dl.inner dt{font-weight:normal;color:#555}ul.inner{margin:0;padding-left:16px}
pre{background:#f6f8fa;padding:8px;overflow:auto;max-height:360px;font-size:12px}code{font-size:12px;word-break:break-all}
"#;

/// The optional script: shows the filter boxes and filters gallery cards by their text.
const JS: &str = r#"
(function(){document.querySelectorAll('section.gallery').forEach(function(g){var i=g.querySelector('input.filter');if(!i)return;i.hidden=false;i.addEventListener('input',function(){var q=i.value.toLowerCase();g.querySelectorAll('details.page').forEach(function(d){var any=false;d.querySelectorAll('.card').forEach(function(c){var m=!q||c.getAttribute('data-text').indexOf(q)>=0;c.hidden=!m;any=any||m;});if(q){d.open=any;}});});});})();
"#;
