//! Sections of the page, one per run kind, in a registry: the page asks each registered
//! section which runs it accepts and lets it render them (one run, or several compared).
//! A later study adds its section with [`Registry::register`].

pub mod captions;
pub mod grounding;
pub mod probe_boxtool;
pub mod probe_count;
pub mod questions;
pub mod surprisal;

use std::path::PathBuf;

use crate::error::Result;
use crate::run::Run;
use crate::samples::SampleIndex;
use crate::thumbs::Thumbs;

/// What sections share while rendering: options, sample information and thumbnails.
#[derive(Debug)]
pub struct Context {
    /// Cards per gallery at most.
    pub max_gallery: usize,
    /// Seed of the report's own bootstrap resampling.
    pub seed: u64,
    /// Sample information (images, expressions, questions) by id.
    pub samples: SampleIndex,
    /// Thumbnails made so far.
    pub thumbs: Thumbs,
    /// Folder the page is written to (links to run files are made relative to it).
    pub out_dir: Option<PathBuf>,
}

impl Context {
    /// A link to `file` inside `run`'s directory, relative to the page when possible.
    pub fn link(&self, run: &Run, file: &str) -> String {
        let target = run.dir.join(file);
        let rel = match &self.out_dir {
            Some(out) => relative(out, &target),
            None => Some(target.clone()),
        };
        let href = rel
            .unwrap_or(target)
            .display()
            .to_string()
            .replace('\\', "/");
        format!(
            "<a href=\"{}\">{}</a>",
            crate::html::esc(&href),
            crate::html::esc(file)
        )
    }
}

/// `target` relative to folder `from`, when both are relative (or both absolute).
fn relative(from: &std::path::Path, target: &std::path::Path) -> Option<PathBuf> {
    use std::path::Component;
    let abs = |p: &std::path::Path| std::path::absolute(p).ok();
    let (from, target) = (abs(from)?, abs(target)?);
    let f: Vec<Component> = from.components().collect();
    let t: Vec<Component> = target.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return None;
    }
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c.as_os_str());
    }
    Some(out)
}

/// One kind of section.
pub trait Section: Send + Sync {
    /// Short name, used in element ids (`grounding`).
    fn name(&self) -> &'static str;
    /// Heading (`Grounding`).
    fn title(&self) -> &'static str;
    /// True when this section renders `run`.
    fn accepts(&self, run: &Run) -> bool;
    /// The section's HTML for `runs` (all accepted; several means a comparison).
    fn render(&self, runs: &[&Run], ctx: &mut Context) -> Result<String>;
}

/// The sections in page order.
pub struct Registry {
    sections: Vec<Box<dyn Section>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.sections.iter().map(|s| s.name()))
            .finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::builtin()
    }
}

impl Registry {
    /// Grounding, questions (MMVP, `ask`, the demo's questions), caption evaluation, and the
    /// probes (surprisal, count, preprocess, boxtool).
    pub fn builtin() -> Self {
        Registry {
            sections: vec![
                Box::new(grounding::Grounding),
                Box::new(questions::Questions),
                Box::new(captions::Captions),
                Box::new(surprisal::Surprisal),
                Box::new(probe_count::ProbeCount),
                Box::new(probe_count::ProbePreprocess),
                Box::new(probe_boxtool::ProbeBoxtool),
            ],
        }
    }

    /// Add a section (rendered after the built-in ones).
    pub fn register(&mut self, section: Box<dyn Section>) {
        self.sections.push(section);
    }

    /// The sections.
    pub fn sections(&self) -> &[Box<dyn Section>] {
        &self.sections
    }
}

/// A card's text with at most `n` characters.
pub(crate) fn clip(s: &str, n: usize) -> String {
    crate::plot::shorten(s, n)
}

/// Arm names: the variant label alone for one run, `run · label` for several.
pub(crate) fn arm_name(runs: &[&Run], run: &Run, label: &str) -> String {
    if runs.len() > 1 {
        format!("{} · {label}", run.label)
    } else {
        label.to_string()
    }
}

/// Plot wrapper.
pub(crate) fn figure(svg: Result<String>) -> String {
    match svg {
        Ok(s) => format!("<figure class=\"plot\">{s}</figure>"),
        Err(e) => format!("<p class=\"warn\">{}</p>", crate::html::esc(&e.to_string())),
    }
}
