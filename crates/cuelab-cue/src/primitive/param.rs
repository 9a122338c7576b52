//! Typed parameters: a [`Param<T>`] is one schema entry ([`ParamSpec`]) whose kind is fixed by
//! the Rust type of the field it fills, so a primitive cannot declare a number and read a
//! colour. [`Args`] carries the values the parser validated to a primitive's constructor, and
//! [`ArgWriter`] prints them back in canonical form.

use std::fmt;
use std::marker::PhantomData;

use crate::color::Color;
use crate::schema::{ParamKind, ParamSpec};
use crate::value::Value;

/// One parameter of a primitive, read into a field of type `T`.
#[derive(Debug)]
pub(crate) struct Param<T> {
    /// The schema entry `cuelab cues` prints and the parser validates against.
    pub(crate) spec: ParamSpec,
    field: PhantomData<fn() -> T>,
}

const fn param<T>(
    name: &'static str,
    kind: ParamKind,
    default: &'static str,
    doc: &'static str,
) -> Param<T> {
    Param {
        spec: ParamSpec {
            name,
            kind,
            default,
            doc,
        },
        field: PhantomData,
    }
}

impl Param<f32> {
    /// A real number in `[min, max]`.
    pub(crate) const fn number(
        name: &'static str,
        min: f32,
        max: f32,
        default: &'static str,
        doc: &'static str,
    ) -> Self {
        param(name, ParamKind::Number { min, max }, default, doc)
    }

    /// A real number in `[0, 1]` (opacities, amounts).
    pub(crate) const fn unit(name: &'static str, default: &'static str, doc: &'static str) -> Self {
        Self::number(name, 0.0, 1.0, default, doc)
    }
}

impl Param<u32> {
    /// An integer in `[min, max]`.
    pub(crate) const fn int(
        name: &'static str,
        min: u32,
        max: u32,
        default: &'static str,
        doc: &'static str,
    ) -> Self {
        let kind = ParamKind::Int {
            min: min as i64,
            max: max as i64,
        };
        param(name, kind, default, doc)
    }

    /// A stroke or line width: an integer number of pixels in `[1, 50]`.
    pub(crate) const fn width(
        name: &'static str,
        default: &'static str,
        doc: &'static str,
    ) -> Self {
        Self::int(name, 1, 50, default, doc)
    }
}

impl Param<bool> {
    /// A boolean.
    pub(crate) const fn flag(name: &'static str, default: &'static str, doc: &'static str) -> Self {
        param(name, ParamKind::Bool, default, doc)
    }
}

impl Param<Color> {
    /// A colour.
    pub(crate) const fn color(
        name: &'static str,
        default: &'static str,
        doc: &'static str,
    ) -> Self {
        param(name, ParamKind::Color, default, doc)
    }
}

/// A field type read from free text (a `Text` parameter).
pub(crate) trait TextField: FieldValue {}

impl TextField for String {}

impl<T: TextField> Param<T> {
    /// Free text.
    pub(crate) const fn text(name: &'static str, default: &'static str, doc: &'static str) -> Self {
        param(name, ParamKind::Text, default, doc)
    }
}

impl<T: Word> Param<T> {
    /// One of the words of `T`.
    pub(crate) const fn choice(
        name: &'static str,
        default: &'static str,
        doc: &'static str,
    ) -> Self {
        param(name, ParamKind::Choice(T::WORDS), default, doc)
    }
}

/// A type whose values are a fixed set of words (a `Choice` parameter).
pub(crate) trait Word: Sized {
    /// Every word, in the order `cuelab cues` lists them.
    const WORDS: &'static [&'static str];
    /// The word of a value.
    fn word(&self) -> &'static str;
    /// The value of a word, `None` for any other text.
    fn from_word(word: &str) -> Option<Self>;
}

/// Declares a [`Word`] enum: one variant per word, in the listed order.
macro_rules! word_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $word:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $crate::primitive::param::Word for $name {
            const WORDS: &'static [&'static str] = &[$($word),+];

            fn word(&self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }

            fn from_word(word: &str) -> Option<Self> {
                match word {
                    $($word => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}
pub(crate) use word_enum;

/// A field type a validated [`Value`] converts to and from.
pub(crate) trait FieldValue: Sized {
    /// The field from a value of the parameter's kind (`None` only for a value of another kind).
    fn from_value(value: Value) -> Option<Self>;
    /// The value printed in the canonical spec.
    fn to_value(&self) -> Value;
}

impl FieldValue for f32 {
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Number(v) => Some(v),
            _ => None,
        }
    }
    fn to_value(&self) -> Value {
        Value::Number(*self)
    }
}

impl FieldValue for u32 {
    fn from_value(value: Value) -> Option<Self> {
        // an `Int` parameter: a whole number the parser checked against its (non-negative) range
        match value {
            Value::Number(v) => Some(v as u32),
            _ => None,
        }
    }
    fn to_value(&self) -> Value {
        Value::Number(*self as f32)
    }
}

impl FieldValue for bool {
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Bool(v) => Some(v),
            _ => None,
        }
    }
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl FieldValue for Color {
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Color(v) => Some(v),
            _ => None,
        }
    }
    fn to_value(&self) -> Value {
        Value::Color(*self)
    }
}

impl FieldValue for String {
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Text(v) => Some(v),
            _ => None,
        }
    }
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl<T: Word> FieldValue for T {
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Text(v) => T::from_word(&v),
            _ => None,
        }
    }
    fn to_value(&self) -> Value {
        Value::Text(self.word().to_string())
    }
}

/// The validated values of one primitive's parameters (given or default), in schema order,
/// handed to its constructor.
#[derive(Debug)]
pub(crate) struct Args {
    primitive: &'static str,
    params: &'static [ParamSpec],
    values: Vec<Option<Value>>,
}

impl Args {
    /// `values[i]` belongs to `params[i]`; every value has the kind its parameter declares.
    pub(crate) fn new(
        primitive: &'static str,
        params: &'static [ParamSpec],
        values: Vec<Value>,
    ) -> Self {
        Args {
            primitive,
            params,
            values: values.into_iter().map(Some).collect(),
        }
    }

    /// The first parameter no field has read, if any (a primitive that forgets a parameter is
    /// a bug: [`super::Kind::build`] checks this in debug builds).
    pub(crate) fn unread(&self) -> Option<&'static str> {
        self.params
            .iter()
            .zip(&self.values)
            .find_map(|(p, v)| v.as_ref().map(|_| p.name))
    }

    /// The value of `param`, as its field type. Panics only on a parameter the primitive does
    /// not declare or reads twice: a bug, which the unit tests build every primitive to find.
    pub(crate) fn take<T: FieldValue>(&mut self, param: &Param<T>) -> T {
        let name = param.spec.name;
        let value = self
            .params
            .iter()
            .position(|p| p.name == name)
            .and_then(|i| self.values[i].take())
            .unwrap_or_else(|| {
                panic!(
                    "bug: {} reads parameter {name} twice or undeclared",
                    self.primitive
                )
            });
        T::from_value(value)
            .unwrap_or_else(|| panic!("bug: {}.{name} does not fit its field", self.primitive))
    }
}

/// Writes `name=value` pairs, comma-separated, for a primitive's canonical text.
pub(crate) struct ArgWriter<'a, 'b> {
    f: &'a mut fmt::Formatter<'b>,
    first: bool,
}

impl<'a, 'b> ArgWriter<'a, 'b> {
    /// A writer onto `f`.
    pub(crate) fn new(f: &'a mut fmt::Formatter<'b>) -> Self {
        ArgWriter { f, first: true }
    }

    /// Write one parameter with its value.
    pub(crate) fn arg<T: FieldValue>(&mut self, param: &Param<T>, value: &T) -> fmt::Result {
        if !self.first {
            self.f.write_str(",")?;
        }
        self.first = false;
        write!(self.f, "{}={}", param.spec.name, value.to_value())
    }
}
