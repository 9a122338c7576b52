//! Paged, filterable galleries. Pages are `<details>` elements (the first open), so the page
//! reads without script; the optional inline script adds a filter box that shows only cards
//! whose text matches.

use crate::html::{esc, slug};

/// One card: its HTML and the plain text the filter matches against.
#[derive(Debug, Clone)]
pub struct Card {
    /// Text the filter searches (expression, question, ids, answers).
    pub text: String,
    /// The card's inner HTML (already escaped).
    pub html: String,
}

/// Cards per page.
pub const PAGE: usize = 48;

/// A gallery section with id `id`, heading `title`, a note under the heading, and `cards`
/// (`total` is how many there were before the page's cap, to say how many are shown).
pub fn gallery(id: &str, title: &str, note: &str, cards: &[Card], total: usize) -> String {
    let mut s = format!(
        "<section class=\"gallery\" id=\"{}\"><h4>{}</h4><p class=\"note\">{} Showing {} of {}.</p>",
        esc(id),
        esc(title),
        note,
        cards.len(),
        total
    );
    if cards.is_empty() {
        s.push_str("<p class=\"empty\">Nothing to show.</p></section>");
        return s;
    }
    s.push_str("<input type=\"search\" class=\"filter\" placeholder=\"filter cards…\" hidden>");
    for (p, chunk) in cards.chunks(PAGE).enumerate() {
        let first = p * PAGE + 1;
        s.push_str(&format!(
            "<details class=\"page\"{}><summary>cards {}–{}</summary><div class=\"cards\">",
            if p == 0 { " open" } else { "" },
            first,
            first + chunk.len() - 1
        ));
        for c in chunk {
            s.push_str(&format!(
                "<div class=\"card\" data-text=\"{}\">{}</div>",
                esc(&c.text.to_lowercase()),
                c.html
            ));
        }
        s.push_str("</div></details>");
    }
    s.push_str("</section>");
    s
}

/// One gallery per flip direction: `flips` holds (direction title, card ids shown, total
/// flips), `note` says what a flip is, and `card` renders one id.
pub fn flip_galleries(
    prefix: &str,
    flips: &[(String, Vec<String>, usize)],
    note: &str,
    card: impl Fn(&str) -> Card,
) -> String {
    let mut s = String::new();
    for (title, list, total) in flips {
        s.push_str(&gallery(
            &format!("{prefix}-flip-{}", slug(title)),
            &format!("Flips: {title}"),
            note,
            &list.iter().map(|id| card(id)).collect::<Vec<_>>(),
            *total,
        ));
    }
    s
}
