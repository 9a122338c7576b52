//! Reading images (any mode, EXIF orientation applied, to RGB8) and writing them atomically.

use std::io::Write;
use std::path::Path;

use image::error::{DecodingError, ImageFormatHint};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};

use crate::error::{CueError, Result};
use crate::jpeg;

/// Read an image file as 8-bit RGB, applying its EXIF orientation. Alpha is dropped (as
/// Pillow's `convert('RGB')`), gray is replicated, 16-bit samples are scaled to 8 bits. JPEG
/// files give exactly Pillow's pixels (libjpeg-turbo's decoder, see `docs/jpeg.md`); a
/// truncated JPEG is an error, as in Pillow.
pub fn load_rgb(path: &Path) -> Result<RgbImage> {
    let bytes = std::fs::read(path).map_err(|e| CueError::ImageRead {
        path: path.to_path_buf(),
        reason: image::ImageError::IoError(e),
    })?;
    decode_rgb(&bytes, path)
}

/// Decode an in-memory image the same way as [`load_rgb`]; `name` is used in errors.
pub fn decode_rgb(bytes: &[u8], name: &Path) -> Result<RgbImage> {
    let err = |reason| CueError::ImageRead {
        path: name.to_path_buf(),
        reason,
    };
    if jpeg::is_jpeg(bytes) {
        let (rgb, orientation) = jpeg::decode(bytes).map_err(|e| {
            err(image::ImageError::Decoding(DecodingError::new(
                ImageFormatHint::Exact(ImageFormat::Jpeg),
                e.to_string(),
            )))
        })?;
        if orientation == Orientation::NoTransforms {
            return Ok(rgb);
        }
        let mut img = DynamicImage::ImageRgb8(rgb);
        img.apply_orientation(orientation);
        return Ok(img.into_rgb8());
    }
    let reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| err(image::ImageError::IoError(e)))?;
    let mut decoder = reader.into_decoder().map_err(err)?;
    let orientation = decoder.orientation().map_err(err)?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(err)?;
    img.apply_orientation(orientation);
    Ok(img.to_rgb8())
}

/// Write `image` to `path` (format from the extension: png, jpg/jpeg, bmp, tiff, webp)
/// through a temporary file in the same directory, renamed into place: a crash never leaves a
/// half-written file.
pub fn save_atomic(image: &RgbImage, path: &Path) -> Result<()> {
    let werr = |message: String| CueError::ImageWrite {
        path: path.to_path_buf(),
        message,
    };
    let format = ImageFormat::from_path(path).map_err(|_| {
        werr("unknown image extension (use .png, .jpg, .bmp, .tiff or .webp)".into())
    })?;
    let mut bytes = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut bytes), format)
        .map_err(|e| werr(e.to_string()))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = atomic_file_in(dir).map_err(|e| werr(e.to_string()))?;
    tmp.write_all(&bytes).map_err(|e| werr(e.to_string()))?;
    tmp.persist(path).map_err(|e| werr(e.error.to_string()))?;
    Ok(())
}

/// A temporary file in `dir` for an atomic write (write it, then `persist` it over the target).
/// On unix it is created with mode 0o666, so the process umask applies as with `File::create`
/// (0o644 under umask 022), instead of tempfile's owner-only 0o600 that the persisted output
/// would keep. Every atomic write of cuelab goes through this (crates that do not depend on
/// cuelab-cue set the same mode locally).
pub fn atomic_file_in(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_corrupt_files_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.jpg");
        let e = load_rgb(&missing).unwrap_err().to_string();
        assert!(e.contains("nope.jpg"), "{e}");
        let corrupt = dir.path().join("bad.png");
        std::fs::write(&corrupt, b"\x89PNG\r\n\x1a\nnot really").unwrap();
        let e = load_rgb(&corrupt).unwrap_err().to_string();
        assert!(e.contains("bad.png"), "{e}");
    }

    #[test]
    fn save_then_load_round_trips_png() {
        let dir = tempfile::tempdir().unwrap();
        let img = RgbImage::from_fn(5, 4, |x, y| image::Rgb([x as u8 * 50, y as u8 * 60, 9]));
        let p = dir.path().join("a.png");
        save_atomic(&img, &p).unwrap();
        assert_eq!(load_rgb(&p).unwrap(), img);
        assert!(save_atomic(&img, &dir.path().join("a.unknown")).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn atomic_writes_get_the_permissions_of_file_create() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain.txt");
        std::fs::File::create(&plain).unwrap();
        // 0o666 minus this process's umask: 0o644 under umask 022, never tempfile's 0o600
        let expected = mode(&plain);
        assert_ne!(expected, 0o600, "the umask would hide the difference");
        let png = dir.path().join("a.png");
        save_atomic(&RgbImage::new(2, 2), &png).unwrap();
        assert_eq!(mode(&png), expected, "{:o}", mode(&png));
        let json = dir.path().join("b.json");
        let mut tmp = atomic_file_in(dir.path()).unwrap();
        tmp.write_all(b"{}").unwrap();
        tmp.persist(&json).unwrap();
        assert_eq!(mode(&json), expected, "{:o}", mode(&json));
    }
}
