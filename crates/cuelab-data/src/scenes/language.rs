//! Referring expressions (checked to pick out exactly one object), questions and captions.

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::draw::{Object, Shape, COLOURS};

/// Number words 0..=20.
pub const NUMBERS: [&str; 21] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
];

const ORDINALS: [&str; 5] = ["first", "second", "third", "fourth", "fifth"];

/// Minimum centre gap (pixels) for an ordering or relation to count as visible.
const GAP: f32 = 8.0;

/// A coordinate of an object.
type Key = fn(&Object) -> f32;
/// A spatial relation between an object and an anchor.
type Relation = fn(&Object, &Object) -> bool;

/// A referring expression and the kind of cue it uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Referring {
    /// The sentence.
    pub text: String,
    /// `attribute`, `superlative`, `spatial` or `ordinal`.
    pub kind: &'static str,
}

fn ordinal_in(objs: &[&Object], t: &Object, key: impl Fn(&Object) -> f32) -> Option<usize> {
    let mut v: Vec<f32> = objs.iter().map(|o| key(o)).collect();
    v.sort_by(f32::total_cmp);
    if v.windows(2).any(|p| p[1] - p[0] < GAP) {
        return None;
    }
    let k = key(t);
    v.iter().position(|x| *x == k)
}

/// Every unambiguous referring expression for `objs[t]`.
pub fn referring(objs: &[Object], t: usize) -> Vec<Referring> {
    let target = &objs[t];
    let mut out = Vec::new();
    let mut push = |text: String, kind| out.push(Referring { text, kind });
    let count = |f: &dyn Fn(&Object) -> bool| objs.iter().filter(|o| f(o)).count();
    let same_shape: Vec<&Object> = objs.iter().filter(|o| o.shape == target.shape).collect();
    let same_noun = |o: &Object| o.shape == target.shape && o.colour == target.colour;
    if count(&same_noun) == 1 {
        push(format!("the {}", target.noun()), "attribute");
    }
    if same_shape.len() == 1 {
        push(format!("the {}", target.shape.name()), "attribute");
    }
    if count(&|o: &Object| o.colour == target.colour) == 1 {
        push(format!("the {} object", target.colour_name()), "attribute");
    }
    if same_shape.len() >= 2 {
        let bigger = same_shape.iter().filter(|o| o.size >= target.size).count();
        let smaller = same_shape.iter().filter(|o| o.size <= target.size).count();
        if bigger == 1 {
            push(
                format!("the largest {}", target.shape.name()),
                "superlative",
            );
        }
        if smaller == 1 {
            push(
                format!("the smallest {}", target.shape.name()),
                "superlative",
            );
        }
        let orders: [(&str, Key, &str); 2] =
            [("left", |o| o.cx, "leftmost"), ("top", |o| o.cy, "topmost")];
        for (side, key, most) in orders {
            if let Some(k) = ordinal_in(&same_shape, target, key) {
                if k == 0 {
                    push(format!("the {most} {}", target.shape.name()), "ordinal");
                } else if k < ORDINALS.len() {
                    push(
                        format!(
                            "the {} {} from the {side}",
                            ORDINALS[k],
                            target.shape.name()
                        ),
                        "ordinal",
                    );
                }
            }
        }
    }
    // Spatial: "the <shape> left of the <unique anchor>", unique among objects of that shape.
    for (ai, a) in objs.iter().enumerate() {
        if ai == t
            || objs
                .iter()
                .filter(|o| o.shape == a.shape && o.colour == a.colour)
                .count()
                != 1
        {
            continue;
        }
        let rels: [(&str, Relation); 4] = [
            ("left of", |o, a| o.cx < a.cx - GAP),
            ("right of", |o, a| o.cx > a.cx + GAP),
            ("above", |o, a| o.cy < a.cy - GAP),
            ("below", |o, a| o.cy > a.cy + GAP),
        ];
        for (word, rel) in rels {
            if !rel(target, a) {
                continue;
            }
            let n = objs
                .iter()
                .enumerate()
                .filter(|(i, o)| *i != ai && o.shape == target.shape && rel(o, a))
                .count();
            // Also rule out objects near the boundary that a reader might count.
            let near = objs.iter().enumerate().any(|(i, o)| {
                i != ai && i != t && o.shape == target.shape && !rel(o, a) && {
                    let loose: bool = match word {
                        "left of" => o.cx < a.cx + GAP,
                        "right of" => o.cx > a.cx - GAP,
                        "above" => o.cy < a.cy + GAP,
                        _ => o.cy > a.cy - GAP,
                    };
                    loose
                }
            });
            if n == 1 && !near {
                push(
                    format!("the {} {word} the {}", target.shape.name(), a.noun()),
                    "spatial",
                );
            }
        }
    }
    out
}

/// Choose up to `k` expressions of different kinds first.
pub fn pick(rng: &mut ChaCha8Rng, mut all: Vec<Referring>, k: usize) -> Vec<Referring> {
    all.shuffle(rng);
    let mut out: Vec<Referring> = Vec::new();
    for r in &all {
        if out.len() < k && !out.iter().any(|o| o.kind == r.kind) {
            out.push(r.clone());
        }
    }
    for r in all {
        if out.len() < k && !out.contains(&r) {
            out.push(r);
        }
    }
    out
}

/// `"a red circle, a blue square and two green stars"`, objects grouped by noun in first-seen
/// left-to-right order.
pub fn listing(objs: &[Object]) -> String {
    let mut sorted: Vec<&Object> = objs.iter().collect();
    sorted.sort_by(|a, b| a.cx.total_cmp(&b.cx));
    let mut groups: Vec<(String, String, usize)> = Vec::new();
    for o in sorted {
        let noun = o.noun();
        match groups.iter_mut().find(|g| g.0 == noun) {
            Some(g) => g.2 += 1,
            None => groups.push((noun, format!("{} {}", o.colour_name(), o.shape.plural()), 1)),
        }
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(s, p, n)| {
            if *n == 1 {
                format!("{} {s}", if s.starts_with('o') { "an" } else { "a" })
            } else {
                format!("{} {p}", NUMBERS.get(*n).copied().unwrap_or("many"))
            }
        })
        .collect();
    join_and(&parts)
}

/// `"a, b and c"`.
pub fn join_and(parts: &[String]) -> String {
    match parts {
        [] => "nothing".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Several caption phrasings of a scene.
pub fn captions(objs: &[Object], cluttered: bool) -> Vec<String> {
    let bg = if cluttered {
        "a cluttered grey background"
    } else {
        "a plain background"
    };
    let n = objs.len();
    let mut by_shape: BTreeMap<Shape, usize> = BTreeMap::new();
    for o in objs {
        *by_shape.entry(o.shape).or_default() += 1;
    }
    let shape_parts: Vec<String> = by_shape
        .iter()
        .map(|(s, c)| {
            if *c == 1 {
                format!("one {}", s.name())
            } else {
                format!(
                    "{} {}",
                    NUMBERS.get(*c).copied().unwrap_or("many"),
                    s.plural()
                )
            }
        })
        .collect();
    let word = NUMBERS.get(n).copied().unwrap_or("many");
    if n == 0 {
        return vec![
            format!("An empty scene on {bg}."),
            format!("Nothing but {bg}."),
        ];
    }
    let list = listing(objs);
    vec![
        format!("{} on {bg}.", capitalise(&list)),
        format!(
            "There {} {word} object{} in the image: {list}.",
            if n == 1 { "is" } else { "are" },
            if n == 1 { "" } else { "s" }
        ),
        format!("A picture of {}.", join_and(&shape_parts)),
    ]
}

/// Upper-case the first letter.
pub fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// A fill-in-the-blank question about one object: (question, choices, answer index, index of
/// the object asked about).
pub fn fill_blank(
    rng: &mut ChaCha8Rng,
    objs: &[Object],
) -> Option<(String, Vec<String>, usize, usize)> {
    let mut order: Vec<usize> = (0..objs.len()).collect();
    order.shuffle(rng);
    for &i in &order {
        let o = &objs[i];
        let unique_colour = objs.iter().filter(|x| x.colour == o.colour).count() == 1;
        let unique_shape = objs.iter().filter(|x| x.shape == o.shape).count() == 1;
        if unique_colour {
            let mut choices: Vec<String> = super::layout::SCENE_SHAPES
                .iter()
                .filter(|s| **s != o.shape)
                .map(|s| s.name().to_string())
                .collect();
            choices.shuffle(rng);
            choices.truncate(3);
            let at = rng.gen_range(0..=3);
            choices.insert(at, o.shape.name().to_string());
            let q = format!("The {} object in the image is a ____.", o.colour_name());
            return Some((q, choices, at, i));
        }
        if unique_shape {
            let mut choices: Vec<String> = COLOURS
                .iter()
                .map(|c| c.0)
                .filter(|c| *c != o.colour_name())
                .map(str::to_string)
                .collect();
            choices.shuffle(rng);
            choices.truncate(3);
            let at = rng.gen_range(0..=3);
            choices.insert(at, o.colour_name().to_string());
            let q = format!("The {} in the image is ____.", o.shape.name());
            return Some((q, choices, at, i));
        }
    }
    None
}
