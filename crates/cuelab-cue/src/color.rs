//! Colours: CSS/Pillow names (`red`, `green` = #008000 as in Pillow's `ImageColor`), `#rgb`,
//! `#rrggbb` and `#rrggbbaa`.

use std::fmt;

/// An sRGB colour with straight (non-premultiplied) alpha.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Color {
    /// Red, green, blue, alpha.
    pub rgba: [u8; 4],
}

/// Named colours accepted in specs: the values Pillow's `ImageColor.getrgb` gives for them.
const NAMED: &[(&str, [u8; 3])] = &[
    ("red", [255, 0, 0]),
    ("green", [0, 128, 0]),
    ("lime", [0, 255, 0]),
    ("blue", [0, 0, 255]),
    ("yellow", [255, 255, 0]),
    ("orange", [255, 165, 0]),
    ("purple", [128, 0, 128]),
    ("magenta", [255, 0, 255]),
    ("cyan", [0, 255, 255]),
    ("white", [255, 255, 255]),
    ("black", [0, 0, 0]),
    ("gray", [128, 128, 128]),
    ("brown", [165, 42, 42]),
    ("pink", [255, 192, 203]),
];

impl Color {
    /// Opaque colour from RGB.
    pub const fn rgb(r: u8, g: u8, b: u8) -> Self {
        Color {
            rgba: [r, g, b, 255],
        }
    }

    /// Parse a colour name or hex code; `None` when it is neither.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim().to_ascii_lowercase();
        if let Some(hex) = t.strip_prefix('#') {
            let digits: Option<Vec<u8>> = hex
                .chars()
                .map(|c| c.to_digit(16).map(|d| d as u8))
                .collect();
            let d = digits?;
            return match d.len() {
                3 => Some(Color::rgb(d[0] * 17, d[1] * 17, d[2] * 17)),
                6 => Some(Color::rgb(
                    d[0] * 16 + d[1],
                    d[2] * 16 + d[3],
                    d[4] * 16 + d[5],
                )),
                8 => Some(Color {
                    rgba: [
                        d[0] * 16 + d[1],
                        d[2] * 16 + d[3],
                        d[4] * 16 + d[5],
                        d[6] * 16 + d[7],
                    ],
                }),
                _ => None,
            };
        }
        let t = if t == "grey" { "gray".to_string() } else { t };
        NAMED
            .iter()
            .find(|(n, _)| *n == t)
            .map(|(_, c)| Color::rgb(c[0], c[1], c[2]))
    }

    /// The names accepted by [`Color::parse`].
    pub fn names() -> impl Iterator<Item = &'static str> {
        NAMED.iter().map(|(n, _)| *n)
    }

    /// The same colour with its alpha multiplied by `opacity` in `[0, 1]`.
    pub fn with_opacity(self, opacity: f32) -> Self {
        let a = (f32::from(self.rgba[3]) * opacity.clamp(0.0, 1.0)).round() as u8;
        Color {
            rgba: [self.rgba[0], self.rgba[1], self.rgba[2], a],
        }
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [r, g, b, a] = self.rgba;
        if a == 255 {
            if let Some((name, _)) = NAMED.iter().find(|(_, c)| *c == [r, g, b]) {
                return f.write_str(name);
            }
            return write!(f, "#{r:02x}{g:02x}{b:02x}");
        }
        write!(f, "#{r:02x}{g:02x}{b:02x}{a:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_hex_like_pillow() {
        assert_eq!(Color::parse("red"), Some(Color::rgb(255, 0, 0)));
        assert_eq!(Color::parse("Green"), Some(Color::rgb(0, 128, 0)));
        assert_eq!(Color::parse("#f00"), Some(Color::rgb(255, 0, 0)));
        assert_eq!(Color::parse("#102030"), Some(Color::rgb(16, 32, 48)));
        assert_eq!(
            Color::parse("#10203080").map(|c| c.rgba),
            Some([16, 32, 48, 128])
        );
        assert_eq!(Color::parse("redd"), None);
        assert_eq!(Color::parse("#12345"), None);
    }

    #[test]
    fn display_round_trips() {
        for text in ["red", "#102030", "#10203080", "green"] {
            let c = Color::parse(text).expect("valid colour");
            assert_eq!(Color::parse(&c.to_string()), Some(c));
        }
    }
}
