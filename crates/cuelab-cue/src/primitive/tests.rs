//! Every primitive type against its own schema entry: names, phases, defaults, and each
//! parameter read from and printed to the right field.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::schema::{ParamKind, ParamSpec, PRIMITIVES};
use crate::Recipe;

fn parse_one(spec: &str) -> Primitive {
    let r = Recipe::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
    assert_eq!(r.steps().len(), 1, "{spec}");
    r.steps()[0].clone()
}

#[test]
fn kinds_names_and_phases_agree() {
    assert_eq!(PRIMITIVES.len(), Kind::ALL.len());
    for (kind, spec) in Kind::ALL.into_iter().zip(PRIMITIVES) {
        assert_eq!(kind.name(), spec.name);
        assert_eq!(Kind::from_name(spec.name), Some(kind));
        let p = parse_one(spec.name);
        assert_eq!(p.kind(), kind, "{}", spec.name);
        assert_eq!(p.phase(), spec.phase, "{}", spec.name);
        assert_eq!(p.name(), spec.name);
    }
    let mut names: Vec<&str> = PRIMITIVES.iter().map(|p| p.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), PRIMITIVES.len(), "duplicate primitive names");
    assert_eq!(Kind::from_name("plain"), None);
}

/// `name=value` pairs of a canonical step.
fn printed_args(p: &Primitive) -> Vec<(String, String)> {
    let text = p.to_string();
    let Some(inner) = text
        .strip_prefix(p.name())
        .and_then(|t| t.strip_prefix('('))
        .and_then(|t| t.strip_suffix(')'))
    else {
        assert_eq!(text, p.name());
        return Vec::new();
    };
    inner
        .split(',')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn defaults_print_as_the_schema_states_them() {
    for spec in PRIMITIVES {
        let p = parse_one(spec.name);
        let printed = printed_args(&p);
        let expected: Vec<(String, String)> = spec
            .params
            .iter()
            .map(|q| (q.name.to_string(), q.default.to_string()))
            .collect();
        assert_eq!(printed, expected, "{}", spec.name);
    }
}

/// A valid value other than the parameter's default, without commas or quotes.
fn other_value(q: &ParamSpec) -> String {
    match q.kind {
        ParamKind::Number { min, max } => {
            let v = if q.default == max.to_string() {
                min
            } else {
                max
            };
            v.to_string()
        }
        ParamKind::Int { min, max } => {
            let v = if q.default == max.to_string() {
                min
            } else {
                max
            };
            v.to_string()
        }
        ParamKind::Bool => (q.default != "true").to_string(),
        ParamKind::Color => "#123456".into(),
        ParamKind::Choice(words) => words.iter().find(|w| **w != q.default).unwrap().to_string(),
        ParamKind::Text => "something".into(),
    }
}

#[test]
fn every_parameter_reaches_its_own_field_and_prints_back() {
    for spec in PRIMITIVES {
        let default = parse_one(spec.name);
        for q in spec.params {
            let value = other_value(q);
            let text = format!("{}({}={value})", spec.name, q.name);
            let p = parse_one(&text);
            assert_ne!(p, default, "{text} equals the default");
            let printed = printed_args(&p);
            for (name, v) in &printed {
                let want = if name == q.name {
                    value.as_str()
                } else {
                    spec.params.iter().find(|o| o.name == name).unwrap().default
                };
                assert_eq!(v, want, "{text}: {name} printed as {v}");
            }
            assert_eq!(parse_one(&p.to_string()), p, "{text}");
        }
    }
}
