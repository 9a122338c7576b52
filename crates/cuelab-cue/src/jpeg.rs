//! JPEG decoding with the pixels Pillow gives.
//!
//! Pillow decodes JPEG with libjpeg-turbo (its wheels bundle 3.0.4 in Pillow 11.0): integer
//! "islow" IDCT, "fancy" (triangle-filter) chroma upsampling, interblock smoothing for
//! progressive files with missing coefficients. cuelab runs the same C decoder, built from
//! vendored source by `mozjpeg-sys` (MozJPEG 4.1, whose decoder is libjpeg-turbo 2.1.5.1 plus
//! the 3.0.3 block-smoothing fixes; for 8-bit lossy JPEG its decoding files are line for line
//! those of 3.0.4, see `docs/jpeg.md`), with the same defaults, and reproduces what Pillow does
//! around it:
//!
//! - grey and YCbCr/RGB files come out as RGB (grey replicated, as `convert('RGB')`);
//! - 4-channel files (CMYK, or YCCK converted to CMYK by libjpeg) are read with Adobe's inverted
//!   polarity (Pillow's `CMYK;I` raw mode, applied to every 4-channel JPEG) and converted to RGB
//!   with Pillow's integer `cmyk2rgb`;
//! - a file whose data ends before the decoder is done is refused as truncated (Pillow raises
//!   "image file is truncated" unless `LOAD_TRUNCATED_IMAGES`); libjpeg's warnings about corrupt
//!   entropy-coded data are not errors (Pillow ignores them and returns the pixels);
//! - the EXIF orientation is read from the first `Exif` APP1 segment (Pillow's `getexif`).
//!
//! No `unsafe` here: the `mozjpeg` crate wraps libjpeg. Its fatal errors unwind out of the C code
//! (it is built with `-fexceptions` for that) and are caught below.

use std::cell::Cell;
use std::io::{BufRead, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};

use image::metadata::Orientation;
use image::RgbImage;
use mozjpeg::{ColorSpace, Decompress, Marker};

/// True when `bytes` start like a JPEG file (SOI then a marker), the test Pillow uses.
pub(crate) fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8, 0xFF])
}

/// Why a JPEG could not be decoded.
#[derive(Debug)]
pub(crate) enum JpegError {
    /// The data ends before the image is complete.
    Truncated {
        /// The file's length in bytes.
        len: usize,
    },
    /// libjpeg refused the data (its message).
    Corrupt(String),
}

impl std::fmt::Display for JpegError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JpegError::Truncated { len } => write!(
                f,
                "truncated JPEG: the data ends ({len} bytes) before the image is complete \
                 (Pillow refuses it too, unless ImageFile.LOAD_TRUNCATED_IMAGES is set)"
            ),
            JpegError::Corrupt(msg) => write!(f, "corrupt or unsupported JPEG: {msg}"),
        }
    }
}

/// Decode a JPEG file to RGB8 exactly as Pillow's `Image.open(..).convert('RGB')`, and return
/// the EXIF orientation it declares (not yet applied).
pub(crate) fn decode(bytes: &[u8]) -> Result<(RgbImage, Orientation), JpegError> {
    let ran_out = Cell::new(false);
    let outcome = catch_unwind(AssertUnwindSafe(|| decode_inner(bytes, &ran_out)));
    // Whatever libjpeg said, reading past the end is Pillow's "truncated" case.
    if ran_out.get() {
        return Err(JpegError::Truncated { len: bytes.len() });
    }
    match outcome {
        Ok(result) => result,
        Err(payload) => Err(JpegError::Corrupt(panic_message(payload.as_ref()))),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = if let Some(s) = payload.downcast_ref::<String>() {
        s.as_str()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else {
        "libjpeg failed"
    };
    text.trim_start_matches("libjpeg fatal error: ").to_string()
}

fn decode_inner(bytes: &[u8], ran_out: &Cell<bool>) -> Result<(RgbImage, Orientation), JpegError> {
    let io = |e: std::io::Error| JpegError::Corrupt(e.to_string());
    let reader = WatchEnd {
        rest: bytes,
        ran_out,
    };
    let decoder = Decompress::builder()
        .with_markers(&[Marker::APP(1)])
        .from_reader(reader)
        .map_err(io)?;
    let orientation = decoder
        .markers()
        .find_map(|m| {
            (m.marker == Marker::APP(1) && m.data.starts_with(b"Exif\0\0")).then_some(m.data)
        })
        .map_or(Orientation::NoTransforms, |exif| {
            exif_orientation(&exif[6..])
        });
    let (width, height) = decoder.size();
    let image = match decoder.color_space() {
        ColorSpace::JCS_GRAYSCALE | ColorSpace::JCS_YCbCr | ColorSpace::JCS_RGB => {
            let mut started = decoder.rgb().map_err(io)?;
            let pixels: Vec<u8> = started.read_scanlines().map_err(io)?;
            rgb_image(width, height, pixels)?
        }
        ColorSpace::JCS_CMYK | ColorSpace::JCS_YCCK => {
            let mut started = decoder.to_colorspace(ColorSpace::JCS_CMYK).map_err(io)?;
            let cmyk: Vec<u8> = started.read_scanlines().map_err(io)?;
            rgb_image(width, height, adobe_cmyk_to_rgb(&cmyk))?
        }
        other => {
            return Err(JpegError::Corrupt(format!(
                "{} components in colour space {other:?} (Pillow handles 1, 3 or 4)",
                decoder.components().len()
            )))
        }
    };
    Ok((image, orientation))
}

fn rgb_image(width: usize, height: usize, pixels: Vec<u8>) -> Result<RgbImage, JpegError> {
    let (w, h) = (u32::try_from(width), u32::try_from(height));
    match (w, h) {
        (Ok(w), Ok(h)) => RgbImage::from_raw(w, h, pixels),
        _ => None,
    }
    .ok_or_else(|| JpegError::Corrupt(format!("decoder returned a short {width}x{height} image")))
}

/// libjpeg's CMYK output read as Pillow does: raw mode `CMYK;I` inverts every channel, then
/// `convert('RGB')` computes `nk - nk * c / 255` with `nk = 255 - k` in its integer form
/// (`MULDIV255`: `t = a * b + 128; ((t >> 8) + t) >> 8`). After the inversion `nk` is the raw K.
pub(crate) fn adobe_cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(cmyk.len() / 4 * 3);
    for px in cmyk.chunks_exact(4) {
        let nk = u32::from(px[3]);
        for &raw in &px[..3] {
            let c = 255 - u32::from(raw);
            let t = c * nk + 128;
            let muldiv = ((t >> 8) + t) >> 8;
            // nk >= muldiv always (c <= 255), so no clipping is needed.
            out.push((nk - muldiv) as u8);
        }
    }
    out
}

/// Orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block (after `Exif\0\0`);
/// missing or invalid values mean no transform, as in Pillow's `exif_transpose`.
fn exif_orientation(tiff: &[u8]) -> Orientation {
    Orientation::from_exif_chunk(tiff).unwrap_or(Orientation::NoTransforms)
}

/// A reader over the file's bytes that records whether libjpeg asked for data past the end
/// (the `mozjpeg` source manager then inserts a fake EOI marker and goes on, as libjpeg's
/// memory source does; Pillow's suspending source instead stops, and Pillow reports truncation).
struct WatchEnd<'a> {
    rest: &'a [u8],
    ran_out: &'a Cell<bool>,
}

impl Read for WatchEnd<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.rest.len().min(buf.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for WatchEnd<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.rest.is_empty() {
            self.ran_out.set(true);
        }
        Ok(self.rest)
    }

    fn consume(&mut self, amt: usize) {
        self.rest = &self.rest[amt.min(self.rest.len())..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pillow's `cmyk2rgb` after `CMYK;I`, written the long way.
    fn pillow_reference(raw: [u8; 4]) -> [u8; 3] {
        let inv: Vec<i32> = raw.iter().map(|&v| 255 - i32::from(v)).collect();
        let nk = 255 - inv[3];
        let mut out = [0u8; 3];
        for i in 0..3 {
            let tmp = inv[i] * nk + 128;
            let v = nk - (((tmp >> 8) + tmp) >> 8);
            out[i] = v.clamp(0, 255) as u8;
        }
        out
    }

    #[test]
    fn cmyk_conversion_matches_pillow_for_every_value_pair() {
        for c in 0..=255u8 {
            for k in 0..=255u8 {
                let raw = [c, 255 - c, c / 2, k];
                assert_eq!(
                    adobe_cmyk_to_rgb(&raw),
                    pillow_reference(raw).to_vec(),
                    "{raw:?}"
                );
            }
        }
    }

    #[test]
    fn signature() {
        assert!(is_jpeg(b"\xff\xd8\xff\xe0rest"));
        assert!(!is_jpeg(b"\x89PNG\r\n"));
        assert!(!is_jpeg(b"\xff\xd8"));
    }

    #[test]
    fn empty_and_garbage_are_errors_not_panics() {
        assert!(decode(b"\xff\xd8\xff").is_err());
        assert!(decode(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00").is_err());
        let e = decode(&[0xFF, 0xD8, 0xFF, 0xC0, 0, 0, 0, 0]).unwrap_err();
        assert!(!e.to_string().is_empty());
    }
}
