//! Images to base64 data URLs: optional downscale, JPEG or PNG encoding.

use std::io::Cursor;

use base64::Engine as _;
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::imageops::FilterType;
use image::{ImageEncoder, RgbImage};
use sha2::{Digest, Sha256};

use crate::remote::config::ImageFormat;

/// An encoded image ready to be sent.
#[derive(Debug, Clone)]
pub struct EncodedImage {
    /// `data:image/...;base64,...`
    pub data_url: String,
    /// Hex SHA-256 of the encoded bytes (what the cache key records instead of the data URL).
    pub sha256: String,
}

/// Size after fitting `width x height` into `max_pixels` (aspect ratio kept, each side >= 1).
pub fn fitted_size(width: u32, height: u32, max_pixels: Option<u64>) -> (u32, u32) {
    let pixels = u64::from(width) * u64::from(height);
    match max_pixels {
        Some(max) if pixels > max => {
            let scale = (max as f64 / pixels as f64).sqrt();
            let mut w = ((f64::from(width) * scale).floor() as u32).max(1);
            let mut h = ((f64::from(height) * scale).floor() as u32).max(1);
            // floor keeps w*h <= max except in degenerate rounding; shrink the longer side if not
            while u64::from(w) * u64::from(h) > max && (w > 1 || h > 1) {
                if w >= h {
                    w -= 1;
                } else {
                    h -= 1;
                }
            }
            (w, h)
        }
        _ => (width, height),
    }
}

/// Encodes `image` (downscaled first when it has more than `max_pixels` pixels, with the
/// Catmull-Rom bicubic filter) as a data URL.
pub fn encode(
    image: &RgbImage,
    format: ImageFormat,
    jpeg_quality: u8,
    max_pixels: Option<u64>,
) -> Result<EncodedImage, String> {
    let (w, h) = fitted_size(image.width(), image.height(), max_pixels);
    let resized;
    let img = if (w, h) != image.dimensions() {
        resized = image::imageops::resize(image, w, h, FilterType::CatmullRom);
        &resized
    } else {
        image
    };
    if img.width() == 0 || img.height() == 0 {
        return Err("image has no pixels".into());
    }
    let (bytes, mime) = match format {
        ImageFormat::Jpeg => (
            crate::remote::jpeg::encode(img, jpeg_quality)?,
            "image/jpeg",
        ),
        ImageFormat::Png => {
            let mut bytes = Vec::with_capacity((img.width() * img.height()) as usize + 1024);
            PngEncoder::new_with_quality(
                Cursor::new(&mut bytes),
                CompressionType::Fast,
                PngFilter::Adaptive,
            )
            .write_image(
                img.as_raw(),
                img.width(),
                img.height(),
                image::ExtendedColorType::Rgb8,
            )
            .map_err(|e| format!("PNG encoding failed: {e}"))?;
            (bytes, "image/png")
        }
    };
    Ok(data_url(&bytes, mime))
}

/// `bytes` as a `data:{mime};base64,...` URL, with their SHA-256.
pub fn data_url(bytes: &[u8], mime: &str) -> EncodedImage {
    let sha256 = hex(&Sha256::digest(bytes));
    let prefix = format!("data:{mime};base64,");
    let mut data_url = String::with_capacity(prefix.len() + bytes.len().div_ceil(3) * 4);
    data_url.push_str(&prefix);
    base64::engine::general_purpose::STANDARD.encode_string(bytes, &mut data_url);
    EncodedImage { data_url, sha256 }
}

/// The MIME type under which an image file's own bytes can be sent in place of a re-encoding of
/// its decoded `width x height` RGB pixels, or `None` when they cannot: only baseline or
/// progressive JPEG with 1 or 3 components and PNG of 8-bit gray or RGB (no alpha, no
/// transparency chunk, no 16-bit samples), with no EXIF orientation to apply and of the same
/// size. For these, a server decoding the file (Pillow's `convert("RGB")`, as vLLM and SGLang
/// do) gets the pixels cuelab decoded (its JPEG decoder is Pillow's libjpeg-turbo, see
/// `docs/jpeg.md`), where a re-encoding would add a second lossy step.
pub fn original_mime(bytes: &[u8], width: u32, height: u32) -> Option<&'static str> {
    use image::ImageDecoder as _;
    let (size, color, orientation, mime) = if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        if !matches!(jpeg_components(bytes)?, 1 | 3) {
            return None;
        }
        let mut d = image::codecs::jpeg::JpegDecoder::new(Cursor::new(bytes)).ok()?;
        (
            d.dimensions(),
            d.color_type(),
            d.orientation().ok()?,
            "image/jpeg",
        )
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        let mut d = image::codecs::png::PngDecoder::new(Cursor::new(bytes)).ok()?;
        (
            d.dimensions(),
            d.color_type(),
            d.orientation().ok()?,
            "image/png",
        )
    } else {
        return None;
    };
    let plain = matches!(color, image::ColorType::L8 | image::ColorType::Rgb8)
        && orientation == image::metadata::Orientation::NoTransforms
        && size == (width, height);
    plain.then_some(mime)
}

/// The component count in a JPEG's frame header (SOFn), if one is found before the scan.
fn jpeg_components(bytes: &[u8]) -> Option<u8> {
    let mut k = 2;
    loop {
        while bytes.get(k) == Some(&0xFF) && bytes.get(k + 1) == Some(&0xFF) {
            k += 1; // fill bytes
        }
        if *bytes.get(k)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(k + 1)?;
        let len = usize::from(u16::from_be_bytes([*bytes.get(k + 2)?, *bytes.get(k + 3)?]));
        match marker {
            // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC): P, Y, X, then Nf
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                return bytes.get(k + 9).copied()
            }
            0xDA | 0xD9 => return None,
            _ => k += 2 + len,
        }
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_keeps_aspect_and_budget() {
        assert_eq!(fitted_size(640, 480, None), (640, 480));
        assert_eq!(fitted_size(640, 480, Some(640 * 480)), (640, 480));
        let (w, h) = fitted_size(640, 480, Some(100_000));
        assert!(u64::from(w * h) <= 100_000);
        assert!((f64::from(w) / f64::from(h) - 640.0 / 480.0).abs() < 0.01);
        assert_eq!(fitted_size(10_000, 1, Some(4)), (4, 1));
        assert_eq!(fitted_size(3, 3, Some(1)), (1, 1));
    }

    #[test]
    fn encodes_decodable_data_urls() {
        let img = RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 128]));
        for (format, mime) in [
            (ImageFormat::Jpeg, "image/jpeg"),
            (ImageFormat::Png, "image/png"),
        ] {
            let e = encode(&img, format, 85, Some(32 * 24)).unwrap();
            let prefix = format!("data:{mime};base64,");
            assert!(e.data_url.starts_with(&prefix));
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&e.data_url[prefix.len()..])
                .unwrap();
            let back = image::load_from_memory(&bytes).unwrap();
            assert_eq!((back.width(), back.height()), (32, 24));
            assert_eq!(e.sha256, hex(&Sha256::digest(&bytes)));
        }
        // PNG is lossless
        let e = encode(&img, ImageFormat::Png, 85, None).unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&e.data_url["data:image/png;base64,".len()..])
            .unwrap();
        assert_eq!(image::load_from_memory(&bytes).unwrap().to_rgb8(), img);
    }
}
