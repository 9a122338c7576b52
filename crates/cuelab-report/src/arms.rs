//! Paired comparisons between "arms" (a variant of a run) on the samples both scored, matched
//! by sample id: accuracy of each, McNemar's exact test, paired bootstrap CIs of the difference
//! in accuracy and in a continuous score, and the flips in each direction.

use std::collections::BTreeMap;

use crate::html::{esc, num, pval};
use crate::stats::{mcnemar_p, paired_bootstrap};

/// One scored sample under one arm.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// Right (hit at IoU 0.5, correct answer).
    pub ok: bool,
    /// A continuous score (IoU, CIDEr-D); equals `ok` as 0/1 when there is none.
    pub score: f64,
}

/// A variant of a run with its outcomes by sample id.
#[derive(Debug, Clone)]
pub struct Arm {
    /// Shown name (`run · variant`, or the variant alone for a single run).
    pub name: String,
    /// Outcomes by sample id.
    pub outcomes: BTreeMap<String, Outcome>,
}

/// Arm `b` against reference arm `a`.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Reference arm name.
    pub a: String,
    /// Compared arm name.
    pub b: String,
    /// Samples both scored.
    pub n: usize,
    /// Accuracy of a and b on them.
    pub acc: (f64, f64),
    /// Mean b - a of `ok` with its 95% CI.
    pub acc_diff: (f64, f64, f64),
    /// Mean b - a of `score` with its 95% CI.
    pub score_diff: (f64, f64, f64),
    /// McNemar's exact p-value.
    pub p: f64,
    /// Ids right under a and wrong under b.
    pub lost: Vec<String>,
    /// Ids wrong under a and right under b.
    pub gained: Vec<String>,
}

/// Compare `b` to `a` (bootstrap seeded with `seed`).
pub fn compare(a: &Arm, b: &Arm, seed: u64) -> Comparison {
    let mut xa = Vec::new();
    let mut xb = Vec::new();
    let mut sa = Vec::new();
    let mut sb = Vec::new();
    let mut lost = Vec::new();
    let mut gained = Vec::new();
    for (id, oa) in &a.outcomes {
        let Some(ob) = b.outcomes.get(id) else {
            continue;
        };
        xa.push(f64::from(u8::from(oa.ok)));
        xb.push(f64::from(u8::from(ob.ok)));
        sa.push(oa.score);
        sb.push(ob.score);
        match (oa.ok, ob.ok) {
            (true, false) => lost.push(id.clone()),
            (false, true) => gained.push(id.clone()),
            _ => {}
        }
    }
    let n = xa.len();
    let mean = |v: &[f64]| {
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    Comparison {
        a: a.name.clone(),
        b: b.name.clone(),
        n,
        acc: (mean(&xa), mean(&xb)),
        acc_diff: paired_bootstrap(&xa, &xb, seed),
        score_diff: paired_bootstrap(&sa, &sb, seed),
        p: mcnemar_p(lost.len(), gained.len()),
        lost,
        gained,
    }
}

/// Every arm after the first against the first.
pub fn against_first(arms: &[Arm], seed: u64) -> Vec<Comparison> {
    match arms.split_first() {
        Some((first, rest)) => rest.iter().map(|b| compare(first, b, seed)).collect(),
        None => Vec::new(),
    }
}

fn ci3(d: (f64, f64, f64)) -> String {
    format!(
        "<td class=\"num\">{} <span class=\"ci\">[{}, {}]</span></td>",
        num(Some(d.0)),
        num(Some(d.1)),
        num(Some(d.2))
    )
}

/// The paired-comparison table with flip counts. `ok_name` names the binary outcome
/// (`Acc@0.5`, `accuracy`); `score_name` the continuous one (omitted when `None`).
pub fn table(comps: &[Comparison], ok_name: &str, score_name: Option<&str>) -> String {
    let mut s = format!(
        "<table class=\"paired\"><thead><tr><th>arm</th><th>vs</th><th>n matched</th><th>{0} ref</th><th>{0} arm</th><th>Δ {0} [95% CI]</th><th>McNemar p</th><th>ref ✓ → arm ✗</th><th>ref ✗ → arm ✓</th>{1}</tr></thead><tbody>",
        esc(ok_name),
        score_name.map(|n| format!("<th>Δ {} [95% CI]</th>", esc(n))).unwrap_or_default()
    );
    for c in comps {
        s.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{}<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{}</tr>",
            esc(&c.b),
            esc(&c.a),
            c.n,
            num(Some(c.acc.0)),
            num(Some(c.acc.1)),
            ci3(c.acc_diff),
            pval(Some(c.p)),
            c.lost.len(),
            c.gained.len(),
            if score_name.is_some() { ci3(c.score_diff) } else { String::new() }
        ));
    }
    s.push_str("</tbody></table><p class=\"note\">Computed by the report from the result rows, matched by sample id: McNemar's exact two-sided test on the discordant pairs; paired percentile bootstrap (1000 resamples, seed 0) of the per-sample difference.</p>");
    s
}
