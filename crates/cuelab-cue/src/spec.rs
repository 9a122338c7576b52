//! The cue spec language: `ellipse(color=red, width=3) + blur(radius=20) + gray`.
//!
//! A [`Recipe`] is a list of [`Step`]s joined by `+`. Each step names a primitive from
//! [`crate::schema::PRIMITIVES`] with optional `name=value` parameters; omitted parameters take
//! their defaults. Parsing validates every value against the primitive's schema entry and
//! builds the typed [`Primitive`] once. `plain` (or an empty spec) is the recipe with no steps. The canonical form
//! printed by `Display` lists every parameter in schema order, so it is the recipe's identity in
//! caches and result files, and `parse(print(r)) == r`.

use std::fmt;
use std::str::FromStr;

use crate::error::{CueError, Result};
use crate::primitive::param::Args;
use crate::primitive::{Crop, Kind, Outside, Overlay, Primitive};
use crate::schema::{Phase, PRIMITIVES};
use crate::value::{convert, Value};

/// One step of a recipe: the typed [`Primitive`] (the name `Step` is kept for callers).
pub type Step = Primitive;

/// A parsed cue recipe.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Recipe {
    steps: Vec<Step>,
}

impl Recipe {
    /// Parse a spec. Errors point at the column and say what was expected.
    pub fn parse(spec: &str) -> Result<Self> {
        Parser::new(spec).recipe()
    }

    /// The recipe with no steps (`plain`): the image unchanged.
    pub fn plain() -> Self {
        Recipe::default()
    }

    /// The steps in written order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// True when the recipe changes nothing.
    pub fn is_plain(&self) -> bool {
        self.steps.is_empty()
    }

    /// Steps of one phase, in written order.
    pub fn phase(&self, phase: Phase) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(move |s| s.phase() == phase)
    }

    /// The outside steps, in written order.
    pub fn outside(&self) -> impl Iterator<Item = &Outside> {
        self.steps.iter().filter_map(|s| match s {
            Primitive::Outside(o) => Some(o),
            Primitive::Overlay(_) | Primitive::Crop(_) => None,
        })
    }

    /// The overlay steps, in written order.
    pub fn overlays(&self) -> impl Iterator<Item = &Overlay> {
        self.steps.iter().filter_map(|s| match s {
            Primitive::Overlay(o) => Some(o),
            Primitive::Outside(_) | Primitive::Crop(_) => None,
        })
    }

    /// The crop step, if any (a recipe has at most one).
    pub fn crop(&self) -> Option<&Crop> {
        self.steps.iter().find_map(|s| match s {
            Primitive::Crop(c) => Some(c),
            Primitive::Outside(_) | Primitive::Overlay(_) => None,
        })
    }

    /// The canonical text of only the `Outside` steps: the identity of the background this
    /// recipe paints outside a region (renderers cache backgrounds by it).
    pub fn outside_key(&self) -> String {
        self.phase(Phase::Outside)
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join("+")
    }
}

impl fmt::Display for Recipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.steps.is_empty() {
            return f.write_str("plain");
        }
        for (i, s) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

impl FromStr for Recipe {
    type Err = CueError;
    fn from_str(s: &str) -> Result<Self> {
        Recipe::parse(s)
    }
}

/// A hand-written recursive-descent parser with byte positions for error columns.
struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Parser { src, pos: 0 }
    }

    fn err(&self, at: usize, message: impl Into<String>) -> CueError {
        CueError::Spec {
            spec: self.src.to_string(),
            column: self.src[..at.min(self.src.len())].chars().count() + 1,
            message: message.into(),
        }
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> Option<(usize, &'a str)> {
        self.skip_ws();
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                self.pos += 1;
            } else {
                break;
            }
        }
        (self.pos > start).then(|| (start, &self.src[start..self.pos]))
    }

    fn recipe(mut self) -> Result<Recipe> {
        self.skip_ws();
        if self.pos == self.src.len() {
            return Ok(Recipe::plain());
        }
        let mut steps = Vec::new();
        let mut plain_seen = false;
        loop {
            self.skip_ws();
            let at = self.pos;
            let Some((_, name)) = self.ident() else {
                return Err(self.err(
                    at,
                    format!("expected a primitive name, one of: plain, {}", all_names()),
                ));
            };
            if name == "plain" || name == "none" {
                plain_seen = true;
            } else {
                steps.push(self.step(at, name)?);
            }
            self.skip_ws();
            if self.pos == self.src.len() {
                break;
            }
            if !self.eat('+') {
                return Err(self.err(self.pos, "expected '+' or the end of the spec"));
            }
        }
        if plain_seen && !steps.is_empty() {
            return Err(self.err(0, "'plain' cannot be combined with other primitives"));
        }
        let crops = steps
            .iter()
            .filter(|s| matches!(s, Primitive::Crop(_)))
            .count();
        if crops > 1 {
            return Err(self.err(0, "at most one 'crop' per recipe"));
        }
        Ok(Recipe { steps })
    }

    fn step(&mut self, at: usize, name: &str) -> Result<Step> {
        let Some(kind) = Kind::from_name(name) else {
            return Err(self.err(
                at,
                format!(
                    "unknown primitive '{name}'; valid primitives: plain, {}",
                    all_names()
                ),
            ));
        };
        let spec = kind.spec();
        let mut values: Vec<Option<Value>> = vec![None; spec.params.len()];
        if self.eat('(') && !self.eat(')') {
            loop {
                self.skip_ws();
                let pat = self.pos;
                let Some((_, pname)) = self.ident() else {
                    return Err(self.err(pat, "expected a parameter name"));
                };
                let Some(idx) = spec.params.iter().position(|p| p.name == pname) else {
                    let valid: Vec<&str> = spec.params.iter().map(|p| p.name).collect();
                    let list = if valid.is_empty() {
                        "it takes no parameters".to_string()
                    } else {
                        format!("valid parameters: {}", valid.join(", "))
                    };
                    return Err(self.err(
                        pat,
                        format!("unknown parameter '{pname}' for {name}; {list}"),
                    ));
                };
                if values[idx].is_some() {
                    return Err(self.err(pat, format!("parameter '{pname}' given twice")));
                }
                if !self.eat('=') {
                    return Err(self.err(self.pos, format!("expected '=' after '{pname}'")));
                }
                self.skip_ws();
                let vat = self.pos;
                let raw = self.raw_value()?;
                let v = convert(&raw, spec.params[idx].kind)
                    .map_err(|m| self.err(vat, format!("{name}.{pname}: {m}")))?;
                values[idx] = Some(v);
                if self.eat(')') {
                    break;
                }
                if !self.eat(',') {
                    return Err(self.err(self.pos, "expected ',' or ')'"));
                }
            }
        }
        let mut filled = Vec::with_capacity(values.len());
        for (v, p) in values.into_iter().zip(spec.params) {
            match v {
                Some(v) => filled.push(v),
                None => filled.push(convert(p.default, p.kind).unwrap_or_else(|m| {
                    panic!("bug: default of {}.{} invalid: {m}", spec.name, p.name)
                })),
            }
        }
        Ok(kind.build(Args::new(spec.name, spec.params, filled)))
    }

    /// A quoted string (with `\"` and `\\` escapes) or a bare run up to `,` `)` `+` or space.
    fn raw_value(&mut self) -> Result<String> {
        let start = self.pos;
        if self.peek() == Some('"') {
            self.pos += 1;
            let mut out = String::new();
            loop {
                match self.peek() {
                    None => return Err(self.err(start, "unterminated string")),
                    Some('"') => {
                        self.pos += 1;
                        return Ok(out);
                    }
                    Some('\\') => {
                        self.pos += 1;
                        match self.peek() {
                            Some(c) => {
                                out.push(c);
                                self.pos += c.len_utf8();
                            }
                            None => return Err(self.err(start, "unterminated string")),
                        }
                    }
                    Some(c) => {
                        out.push(c);
                        self.pos += c.len_utf8();
                    }
                }
            }
        }
        while let Some(c) = self.peek() {
            if c == ',' || c == ')' || c == '+' || c.is_whitespace() || c == '(' {
                // '+' may start a signed number only right after '='
                if c == '+' && self.pos == start {
                    self.pos += 1;
                    continue;
                }
                break;
            }
            self.pos += c.len_utf8();
        }
        if self.pos == start {
            return Err(self.err(start, "expected a value"));
        }
        Ok(self.src[start..self.pos].to_string())
    }
}

fn all_names() -> String {
    PRIMITIVES
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_seed_recipe_and_fills_defaults() {
        let r = Recipe::parse("ellipse(color=red, width=3) + blur(radius=20) + gray").unwrap();
        assert_eq!(r.steps().len(), 3);
        let Primitive::Overlay(Overlay::Ellipse(e)) = &r.steps()[0] else {
            panic!("{:?}", r.steps()[0]);
        };
        assert_eq!((e.width, e.aa), (3, false));
        let Primitive::Outside(Outside::Blur(b)) = &r.steps()[1] else {
            panic!("{:?}", r.steps()[1]);
        };
        assert_eq!(b.radius, 20.0);
        assert_eq!(
            r.to_string(),
            "ellipse(color=red,width=3,aa=false,alpha=1)+blur(radius=20)+gray"
        );
    }

    #[test]
    fn canonical_form_round_trips_for_every_primitive() {
        let specs = [
            "plain",
            "",
            "rect",
            "ellipse(color=#ff000080,width=10,aa=true)",
            "rounded(corner=4.5)",
            "blur(radius=1.5)+gray+dim(amount=0.25)+fill(color=blue,alpha=0.5)",
            "colorcode+tint(alpha=0.25)",
            "crop(pad=-2,context=0.5,square=true)",
            "label(text=\"a, b\")+label(text=letter,pos=above)",
            "arrow(from=bottom)+dot(radius=3)+trajectory(fade=true)+mask(outline=false)",
        ];
        for s in specs {
            let r = Recipe::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            let printed = r.to_string();
            let again = Recipe::parse(&printed).unwrap_or_else(|e| panic!("{printed}: {e}"));
            assert_eq!(r, again, "{s} -> {printed}");
            assert_eq!(printed, again.to_string());
        }
    }

    #[test]
    fn errors_point_at_the_column_and_list_valid_names() {
        let e = Recipe::parse("ellipse + blurr(radius=2)")
            .unwrap_err()
            .to_string();
        assert!(e.contains("column 11"), "{e}");
        assert!(e.contains("unknown primitive 'blurr'"), "{e}");
        assert!(e.contains("blur"), "{e}");

        let e = Recipe::parse("ellipse(colour=red)")
            .unwrap_err()
            .to_string();
        assert!(e.contains("column 9"), "{e}");
        assert!(
            e.contains("valid parameters: color, width, aa, alpha"),
            "{e}"
        );

        let e = Recipe::parse("ellipse(width=99)").unwrap_err().to_string();
        assert!(e.contains("outside [1, 50]"), "{e}");

        let e = Recipe::parse("ellipse(width=3").unwrap_err().to_string();
        assert!(e.contains("expected ',' or ')'"), "{e}");

        let e = Recipe::parse("gray(x=1)").unwrap_err().to_string();
        assert!(e.contains("takes no parameters"), "{e}");

        assert!(Recipe::parse("crop+crop").is_err());
        assert!(Recipe::parse("plain+gray").is_err());
        assert!(Recipe::parse("ellipse gray").is_err());
        assert!(Recipe::parse("ellipse(color=reddish)").is_err());
        assert!(Recipe::parse("label(text=\"open").is_err());
    }
}
