//! Baseline JPEG encoding with libjpeg-turbo's encoder (the MozJPEG 4.1 sources vendored by
//! `mozjpeg-sys`, already built for cuelab's Pillow-exact decoder), in its `JCP_FASTEST`
//! profile: libjpeg v6 defaults, i.e. what libjpeg-turbo and Pillow write, no trellis
//! quantisation, no progressive scans, no optimised Huffman tables.
//!
//! Settings are those of the `image` crate's encoder used before: the IJG Annex K tables scaled
//! by the quality (the same formula), 4:4:4 (no chroma subsampling), standard Huffman tables,
//! JFIF header, integer ("islow") forward DCT. The bytes differ from the `image` encoder's
//! (rounding of the DCT and quantisation differ); how much the decoded pixels differ is measured
//! in the tests.

use std::panic::{catch_unwind, AssertUnwindSafe};

use image::RgbImage;
use mozjpeg::{ColorSpace, Compress};

/// Encode `image` as a baseline JPEG at `quality` (1..=100), 4:4:4.
pub fn encode(image: &RgbImage, quality: u8) -> Result<Vec<u8>, String> {
    let (w, h) = image.dimensions();
    if w == 0 || h == 0 || w > 65_500 || h > 65_500 {
        return Err(format!("cannot encode a {w}x{h} image as JPEG"));
    }
    let quality = quality.clamp(1, 100);
    // libjpeg reports fatal errors by unwinding (the `mozjpeg` crate's error manager)
    catch_unwind(AssertUnwindSafe(|| -> std::io::Result<Vec<u8>> {
        let mut c = Compress::new(ColorSpace::JCS_RGB);
        c.set_fastest_defaults();
        c.set_size(w as usize, h as usize);
        c.set_color_space(ColorSpace::JCS_YCbCr);
        c.set_quality(f32::from(quality));
        c.set_chroma_sampling_pixel_sizes((1, 1), (1, 1));
        let out = Vec::with_capacity((w as usize * h as usize) / 3 + 1024);
        let mut started = c.start_compress(out)?;
        started.write_scanlines(image.as_raw())?;
        started.finish()
    }))
    .map_err(|panic| {
        let reason = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("libjpeg error");
        format!("JPEG encoding failed: {reason}")
    })?
    .map_err(|e| format!("JPEG encoding failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::ImageEncoder as _;

    /// The `image` crate's encoder, which this module replaced.
    fn image_crate(img: &RgbImage, quality: u8) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(std::io::Cursor::new(&mut out), quality)
            .write_image(
                img.as_raw(),
                img.width(),
                img.height(),
                image::ExtendedColorType::Rgb8,
            )
            .unwrap();
        out
    }

    /// Quantisation tables: (id, 64 values in zigzag order).
    type Tables = Vec<(u8, Vec<u8>)>;

    /// The quantisation tables and the frame's components (id, sampling byte, table) of a
    /// baseline JPEG.
    fn tables_and_components(bytes: &[u8]) -> (Tables, Vec<[u8; 3]>) {
        let (mut tables, mut comps) = (Vec::new(), Vec::new());
        let mut k = 2;
        while k + 4 <= bytes.len() {
            let marker = bytes[k + 1];
            let len = usize::from(u16::from_be_bytes([bytes[k + 2], bytes[k + 3]]));
            let seg = &bytes[k + 4..k + 2 + len];
            match marker {
                0xDB => {
                    for t in seg.chunks_exact(65) {
                        assert_eq!(t[0] >> 4, 0, "8-bit tables");
                        tables.push((t[0] & 15, t[1..].to_vec()));
                    }
                }
                0xC0 => {
                    for c in seg[6..].chunks_exact(3) {
                        comps.push([c[0], c[1], c[2]]);
                    }
                }
                0xDA => break,
                _ => {}
            }
            k += 2 + len;
        }
        tables.sort();
        (tables, comps)
    }

    fn psnr(a: &[u8], b: &[u8]) -> f64 {
        assert_eq!(a.len(), b.len());
        let sq: f64 = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
            .sum();
        10.0 * (255.0f64.powi(2) * a.len() as f64 / sq.max(1e-9)).log10()
    }

    #[test]
    fn same_settings_as_the_image_crate_encoder_and_near_pixels() {
        // cargo runs unit tests from the package's folder
        let path = "../../assets/photos/dog.jpg";
        let photo = image::open(path).unwrap().to_rgb8();
        // odd sizes exercise the partial blocks at the edges
        let photo = image::imageops::crop_imm(&photo, 3, 5, 301, 203).to_image();
        for quality in [50, 75, 90, 95, 100] {
            let ours = encode(&photo, quality).unwrap();
            let theirs = image_crate(&photo, quality);
            let (t1, c1) = tables_and_components(&ours);
            let (t2, c2) = tables_and_components(&theirs);
            assert_eq!(t1, t2, "quality {quality}: the same quantisation tables");
            assert_eq!(c1.len(), 3);
            assert_eq!(c2.len(), c1.len());
            for (a, b) in c1.iter().zip(&c2) {
                assert_eq!(a[1], 0x11, "4:4:4");
                assert_eq!((a[1], a[2]), (b[1], b[2]), "same sampling and table");
            }
            let a = image::load_from_memory(&ours).unwrap().to_rgb8();
            let b = image::load_from_memory(&theirs).unwrap().to_rgb8();
            assert_eq!(a.dimensions(), photo.dimensions());
            assert_eq!(b.dimensions(), photo.dimensions());
            let (pa, pb) = (
                psnr(a.as_raw(), photo.as_raw()),
                psnr(b.as_raw(), photo.as_raw()),
            );
            let max_diff = a
                .as_raw()
                .iter()
                .zip(b.as_raw())
                .map(|(&x, &y)| x.abs_diff(y))
                .max()
                .unwrap();
            let agree = psnr(a.as_raw(), b.as_raw());
            eprintln!(
                "quality {quality}: {} vs {} bytes; PSNR to source {pa:.2} vs {pb:.2} dB; \
                 between the two decodes {agree:.1} dB, max diff {max_diff}",
                ours.len(),
                theirs.len()
            );
            // measured: equal within 0.06 dB up to quality 95; at 100, 54.4 vs 49.2 dB (the
            // `image` encoder's float rounding of the coefficients costs it there)
            assert!(pa > pb - 0.1, "quality {quality}: {pa:.2} vs {pb:.2} dB");
            // not the same pixels (measured 43.4-47.5 dB apart, max difference 8-24 levels)
            assert!(
                agree > 40.0,
                "quality {quality}: the two decodes are {agree:.1} dB apart"
            );
        }
    }

    #[test]
    fn gray_edges_and_tiny_images() {
        for (w, h) in [(1, 1), (7, 3), (17, 9)] {
            let img = RgbImage::from_fn(w, h, |x, y| {
                image::Rgb([(x * 30) as u8, (y * 20) as u8, 200])
            });
            let back = image::load_from_memory(&encode(&img, 90).unwrap())
                .unwrap()
                .to_rgb8();
            assert_eq!(back.dimensions(), (w, h));
        }
        assert!(encode(&RgbImage::new(0, 4), 90).is_err());
    }
}
