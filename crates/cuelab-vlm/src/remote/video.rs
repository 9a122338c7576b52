//! A clip's frames as one MP4 `video_url` data URL (vLLM's video input), encoded by the system
//! ffmpeg (`CUELAB_FFMPEG` names another binary) from raw RGB frames on its stdin.

use std::io::Write;
use std::process::{Command, Stdio};

use base64::Engine as _;
use image::RgbImage;
use sha2::{Digest, Sha256};

use crate::remote::encode::{fitted_size, hex, EncodedImage};

/// Encode `frames` (one size; downscaled like images when above `max_pixels`) as an H.264 MP4
/// at `fps`, returned as a `data:video/mp4;base64,...` URL with the hash of its bytes.
pub fn encode(
    frames: &[RgbImage],
    fps: f64,
    max_pixels: Option<u64>,
) -> Result<EncodedImage, String> {
    let first = frames.first().ok_or("a video needs at least one frame")?;
    if frames.iter().any(|f| f.dimensions() != first.dimensions()) {
        return Err("the frames of a video must have one size".into());
    }
    if !(fps.is_finite() && fps > 0.0) {
        return Err(format!("video_fps {fps} must be positive"));
    }
    let (w, h) = fitted_size(first.width(), first.height(), max_pixels);
    let tmp = std::env::temp_dir().join(format!(
        "cuelab-video-{}-{}.mp4",
        std::process::id(),
        next_id()
    ));
    let bin = std::env::var_os("CUELAB_FFMPEG").unwrap_or_else(|| "ffmpeg".into());
    let size = format!("{}x{}", first.width(), first.height());
    let rate = format!("{fps}");
    let scale = format!("scale={w}:{h}:flags=bicubic,pad=ceil(iw/2)*2:ceil(ih/2)*2");
    let mut child = Command::new(&bin)
        .args([
            "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
        ])
        .args([
            "-s",
            &size,
            "-framerate",
            &rate,
            "-i",
            "pipe:0",
            "-vf",
            &scale,
        ])
        .args([
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
        ])
        .args(["-fflags", "+bitexact", "-threads", "1"])
        .arg(&tmp)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot run {} to encode the clip as video_url ({e}); install ffmpeg or send \
                 frames (video_input = frames)",
                std::path::Path::new(&bin).display()
            )
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        for f in frames {
            if stdin.write_all(f.as_raw()).is_err() {
                break; // ffmpeg exited; its status says why
            }
        }
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let bytes = std::fs::read(&tmp);
    let _ = std::fs::remove_file(&tmp);
    if !out.status.success() {
        return Err(format!(
            "ffmpeg could not encode the clip: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let bytes = bytes.map_err(|e| format!("reading the encoded clip: {e}"))?;
    let sha256 = hex(&Sha256::digest(&bytes));
    let prefix = "data:video/mp4;base64,";
    let mut data_url = String::with_capacity(prefix.len() + bytes.len().div_ceil(3) * 4);
    data_url.push_str(prefix);
    base64::engine::general_purpose::STANDARD.encode_string(&bytes, &mut data_url);
    Ok(EncodedImage { data_url, sha256 })
}

fn next_id() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// True when an encoded part is a video (sent as `video_url`).
pub fn is_video(part: &EncodedImage) -> bool {
    part.data_url.starts_with("data:video/")
}
