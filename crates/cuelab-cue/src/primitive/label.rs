//! `label`: a Set-of-Mark style text tag (number, letter or word) at the region.

use std::fmt;

use image::RgbImage;

use super::param::{word_enum, ArgWriter, Args, FieldValue, Param, TextField};
use super::Cue;
use crate::color::Color;
use crate::draw::{self, Brush};
use crate::region::BoxXyxy;
use crate::render::Target;
use crate::schema::{Phase, PrimitiveSpec};
use crate::text;
use crate::value::Value;

/// `label`: a text tag at the region.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// What the tag says.
    pub text: LabelText,
    /// Font size in pixels per em (as Pillow's `truetype` size).
    pub size: f32,
    /// Text colour.
    pub color: Color,
    /// Tag background colour.
    pub bg: Color,
    /// Where the tag sits.
    pub pos: LabelPos,
    /// Opacity.
    pub alpha: f32,
}

/// The text of a label.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelText {
    /// The target's label, else its number (`index + 1`): spec word `auto`.
    Auto,
    /// `A`, `B`, ..., `Z`, `AA`, ... by the target's index: spec word `letter`.
    Letter,
    /// This text (never `auto` or `letter`).
    Literal(String),
}

impl FieldValue for LabelText {
    fn from_value(value: Value) -> Option<Self> {
        let text = String::from_value(value)?;
        Some(match text.as_str() {
            "auto" => LabelText::Auto,
            "letter" => LabelText::Letter,
            _ => LabelText::Literal(text),
        })
    }
    fn to_value(&self) -> Value {
        Value::Text(match self {
            LabelText::Auto => "auto".to_string(),
            LabelText::Letter => "letter".to_string(),
            LabelText::Literal(t) => t.clone(),
        })
    }
}

impl TextField for LabelText {}

word_enum! {
    /// Where a label's tag sits relative to the region's (clipped) box.
    pub enum LabelPos {
        /// Inside the top-left corner.
        TopLeft = "top-left",
        /// Inside the top-right corner.
        TopRight = "top-right",
        /// Inside the bottom-left corner.
        BottomLeft = "bottom-left",
        /// Inside the bottom-right corner.
        BottomRight = "bottom-right",
        /// Centred on the box.
        Center = "center",
        /// On top of the box, left-aligned.
        Above = "above",
    }
}

const TEXT: Param<LabelText> = Param::text(
    "text",
    "auto",
    "the text; auto = region number (1, 2, ...); letter = A, B, ...",
);
const SIZE: Param<f32> = Param::number(
    "size",
    4.0,
    400.0,
    "18",
    "font size in pixels per em (as Pillow's truetype size)",
);
const COLOR: Param<Color> = Param::color("color", "white", "text colour");
const BG: Param<Color> = Param::color("bg", "red", "tag background colour");
const POS: Param<LabelPos> = Param::choice("pos", "top-left", "where the tag sits");
const ALPHA: Param<f32> = Param::unit("alpha", "1", "opacity");

impl Cue for Label {
    const SPEC: PrimitiveSpec = PrimitiveSpec {
        name: "label",
        phase: Phase::Overlay,
        doc: "a text tag (Set-of-Mark style number, letter or word) at the region",
        params: &[
            TEXT.spec, SIZE.spec, COLOR.spec, BG.spec, POS.spec, ALPHA.spec,
        ],
    };
    fn from_args(args: &mut Args) -> Self {
        Label {
            text: args.take(&TEXT),
            size: args.take(&SIZE),
            color: args.take(&COLOR),
            bg: args.take(&BG),
            pos: args.take(&POS),
            alpha: args.take(&ALPHA),
        }
    }
    fn write_args(&self, w: &mut ArgWriter<'_, '_>) -> fmt::Result {
        w.arg(&TEXT, &self.text)?;
        w.arg(&SIZE, &self.size)?;
        w.arg(&COLOR, &self.color)?;
        w.arg(&BG, &self.bg)?;
        w.arg(&POS, &self.pos)?;
        w.arg(&ALPHA, &self.alpha)
    }
}

impl Label {
    /// The text drawn for `target`.
    pub fn text_for(&self, target: &Target) -> String {
        match &self.text {
            LabelText::Auto => target
                .label
                .clone()
                .unwrap_or_else(|| (target.index + 1).to_string()),
            LabelText::Letter => letter(target.index),
            LabelText::Literal(t) => t.clone(),
        }
    }

    /// Draw the tag for `target` at its clipped box, kept on the image.
    pub fn draw(&self, out: &mut RgbImage, target: &Target, clipped: &BoxXyxy) {
        let (iw, ih) = out.dimensions();
        let txt = self.text_for(target);
        let size = self.size;
        let alpha = self.alpha;
        let (tw, th) = text::measure(&txt, size);
        let pad = (size * 0.2).round();
        let (bw, bh) = (tw + 2.0 * pad, th + pad);
        let (x, y) = match self.pos {
            LabelPos::TopLeft => (clipped.x0, clipped.y0),
            LabelPos::TopRight => (clipped.x1 - bw, clipped.y0),
            LabelPos::BottomLeft => (clipped.x0, clipped.y1 - bh),
            LabelPos::BottomRight => (clipped.x1 - bw, clipped.y1 - bh),
            LabelPos::Center => {
                let (cx, cy) = clipped.center();
                (cx - bw * 0.5, cy - bh * 0.5)
            }
            LabelPos::Above => (clipped.x0, clipped.y0 - bh),
        };
        // keep the tag on the image
        let x = x.clamp(0.0, (iw as f32 - bw).max(0.0)).round();
        let y = y.clamp(0.0, (ih as f32 - bh).max(0.0)).round();
        if let Some(path) = draw::rect_path(x, y, x + bw, y + bh) {
            let bg = self.bg.with_opacity(alpha);
            draw::paint_path(out, &path, Brush::Fill, bg, false);
        }
        text::draw_text(out, &txt, x + pad, y + pad * 0.5, size, self.color, alpha);
    }
}

/// `A`, `B`, ..., `Z`, `AA`, `AB`, ... for 0, 1, ...
fn letter(index: usize) -> String {
    let mut n = index + 1;
    let mut s = Vec::new();
    while n > 0 {
        n -= 1;
        s.push(b'A' + (n % 26) as u8);
        n /= 26;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters() {
        assert_eq!(letter(0), "A");
        assert_eq!(letter(25), "Z");
        assert_eq!(letter(26), "AA");
        assert_eq!(letter(27), "AB");
        assert_eq!(letter(26 * 27), "AAA");
    }
}
