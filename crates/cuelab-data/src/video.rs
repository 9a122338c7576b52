//! Video files (`.webm`, `.mp4`, anything the system `ffmpeg` reads) decoded into frame folders,
//! and the frame sampling shared by every consumer (served models, cue rendering, export).
//!
//! Decoding runs the system `ffmpeg` (`CUELAB_FFMPEG` names another binary; `ffprobe` likewise
//! with `CUELAB_FFPROBE`) once per video: every native frame is written as a PNG into a cache
//! folder keyed by the file's content, so a second use, or another sampling of the same video,
//! decodes nothing. Frames are then *selected* from the native ones ([`sample_indices`]), so the
//! frame numbers of Something-Else boxes (native frames) stay valid. Frame folders (the
//! synthetic clips) are used as they are.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// Frame rate assumed for frame folders, which carry none (SSv2's videos are 12 fps).
pub const FOLDER_FPS: f64 = 12.0;

/// Which frames of a clip are used.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "mode", content = "value")]
pub enum FrameSampling {
    /// Every native frame.
    #[default]
    All,
    /// `n` frames spread evenly from the first to the last (`round(linspace(0, N-1, n))`).
    Count(usize),
    /// About `fps` frames per second of video: `max(1, floor(duration × fps))` frames, spread
    /// evenly as for [`FrameSampling::Count`].
    Fps(f64),
}

impl FrameSampling {
    /// Parse `all`, `frames=N`, `N` (a count) or `fps=F`.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || {
            DataError::Invalid(format!(
                "frame sampling {text:?}: expected all, frames=N or fps=F"
            ))
        };
        let t = text.trim();
        if t == "all" {
            return Ok(FrameSampling::All);
        }
        if let Some(v) = t.strip_prefix("fps=") {
            let f: f64 = v.parse().map_err(|_| bad())?;
            if !(f.is_finite() && f > 0.0) {
                return Err(bad());
            }
            return Ok(FrameSampling::Fps(f));
        }
        let n: usize = t
            .strip_prefix("frames=")
            .unwrap_or(t)
            .parse()
            .map_err(|_| bad())?;
        if n == 0 {
            return Err(bad());
        }
        Ok(FrameSampling::Count(n))
    }
}

impl std::fmt::Display for FrameSampling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameSampling::All => write!(f, "all"),
            FrameSampling::Count(n) => write!(f, "frames={n}"),
            FrameSampling::Fps(x) => write!(f, "fps={x}"),
        }
    }
}

/// The native frames chosen by `sampling` from a clip of `total` frames at `native_fps`
/// (ascending, distinct when fewer are asked than exist).
pub fn sample_indices(total: usize, native_fps: f64, sampling: FrameSampling) -> Vec<usize> {
    if total == 0 {
        return Vec::new();
    }
    let n = match sampling {
        FrameSampling::All => return (0..total).collect(),
        FrameSampling::Count(n) => n,
        FrameSampling::Fps(fps) => {
            let seconds = total as f64 / native_fps.max(1e-9);
            ((seconds * fps).floor() as usize).max(1)
        }
    };
    if n == 1 {
        return vec![0];
    }
    (0..n)
        .map(|i| ((i as f64) * (total - 1) as f64 / (n - 1) as f64).round() as usize)
        .collect()
}

/// The default cache of decoded videos: `$CUELAB_FRAME_CACHE`, else
/// `$XDG_CACHE_HOME/cuelab/frames`, else `~/.cache/cuelab/frames`, else `.cuelab-frames`.
pub fn default_cache() -> PathBuf {
    if let Some(p) = std::env::var_os("CUELAB_FRAME_CACHE") {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(p).join("cuelab/frames");
    }
    if let Some(p) = std::env::var_os("HOME") {
        return PathBuf::from(p).join(".cache/cuelab/frames");
    }
    PathBuf::from(".cuelab-frames")
}

/// What `ffprobe` reports about a video's first video stream.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VideoInfo {
    /// Frames per second (the stream's average frame rate).
    pub fps: f64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// The `ffmpeg` binary: `CUELAB_FFMPEG` or `ffmpeg` on the PATH.
pub fn ffmpeg_bin() -> PathBuf {
    std::env::var_os("CUELAB_FFMPEG").map_or_else(|| PathBuf::from("ffmpeg"), PathBuf::from)
}

/// The `ffprobe` binary: `CUELAB_FFPROBE` or `ffprobe` on the PATH.
pub fn ffprobe_bin() -> PathBuf {
    std::env::var_os("CUELAB_FFPROBE").map_or_else(|| PathBuf::from("ffprobe"), PathBuf::from)
}

/// Run a tool, mapping "not installed" and a failed exit to clear errors about `video`.
pub(crate) fn run_tool(bin: &Path, args: &[&std::ffi::OsStr], video: &Path) -> Result<Vec<u8>> {
    let out = Command::new(bin).args(args).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            DataError::Video {
                path: video.to_path_buf(),
                message: format!(
                    "{} not found: video decoding needs the system ffmpeg (apt-get install \
                     ffmpeg, or bash tools/ci/install-ffmpeg.sh; CUELAB_FFMPEG / CUELAB_FFPROBE \
                     name other binaries)",
                    bin.display()
                ),
            }
        } else {
            DataError::Video {
                path: video.to_path_buf(),
                message: format!("running {}: {e}", bin.display()),
            }
        }
    })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(3).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(DataError::Video {
            path: video.to_path_buf(),
            message: format!(
                "{} failed ({}); not a readable video? {}",
                bin.display(),
                out.status,
                tail.join(" | ")
            ),
        });
    }
    Ok(out.stdout)
}

/// Frame rate and size of a video (`ffprobe`).
pub fn probe(video: &Path) -> Result<VideoInfo> {
    if !video.is_file() {
        return Err(DataError::Video {
            path: video.to_path_buf(),
            message: "no such video file".into(),
        });
    }
    let args: Vec<&std::ffi::OsStr> = [
        "-v",
        "error",
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=avg_frame_rate,r_frame_rate,width,height",
        "-of",
        "json",
    ]
    .iter()
    .map(std::ffi::OsStr::new)
    .chain(std::iter::once(video.as_os_str()))
    .collect();
    let stdout = run_tool(&ffprobe_bin(), &args, video)?;
    let v: serde_json::Value = serde_json::from_slice(&stdout).map_err(|e| DataError::Video {
        path: video.to_path_buf(),
        message: format!("unreadable ffprobe output: {e}"),
    })?;
    let stream = v["streams"].get(0).ok_or_else(|| DataError::Video {
        path: video.to_path_buf(),
        message: "no video stream".into(),
    })?;
    let rate = |key: &str| -> Option<f64> {
        let s = stream[key].as_str()?;
        let (a, b) = s.split_once('/').unwrap_or((s, "1"));
        let (a, b): (f64, f64) = (a.parse().ok()?, b.parse().ok()?);
        (b > 0.0 && a > 0.0).then_some(a / b)
    };
    let fps = rate("avg_frame_rate")
        .or_else(|| rate("r_frame_rate"))
        .ok_or_else(|| DataError::Video {
            path: video.to_path_buf(),
            message: "the stream has no frame rate".into(),
        })?;
    let dim = |key: &str| stream[key].as_u64().unwrap_or(0) as u32;
    Ok(VideoInfo {
        fps,
        width: dim("width"),
        height: dim("height"),
    })
}

/// A 64-bit FNV-1a hash of a file's bytes and length: the cache key of its frames.
fn content_key(path: &Path) -> Result<String> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut len: u64 = 0;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        len += n as u64;
        for &b in &buf[..n] {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    Ok(format!("{h:016x}-{len}"))
}

/// The PNG files of a folder, sorted by name.
pub fn list_frames(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut frames: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        })
        .collect();
    frames.sort();
    Ok(frames)
}

/// A decoded video: its native frames (PNG files in the cache) and frame rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// Every native frame, in order.
    pub frames: Vec<PathBuf>,
    /// Native frames per second.
    pub fps: f64,
}

/// Decode every frame of `video` into `cache/<content key>/NNNNNN.png` (or reuse that folder
/// when an earlier call finished it). The folder is written under a temporary name and renamed
/// when complete, so a killed decode leaves nothing half-done behind.
pub fn decode(video: &Path, cache: &Path) -> Result<Decoded> {
    let info = probe(video)?;
    let dir = cache.join(content_key(video)?);
    let done = dir.join("fps.txt");
    if done.is_file() {
        let frames = list_frames(&dir)?;
        if !frames.is_empty() {
            return Ok(Decoded {
                frames,
                fps: info.fps,
            });
        }
    }
    let tmp = cache.join(format!(
        ".{}.tmp-{}",
        dir.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DataError::Io { path, source }
    };
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let pattern = tmp.join("%06d.png");
    let args: Vec<&std::ffi::OsStr> = vec![
        "-nostdin".as_ref(),
        "-v".as_ref(),
        "error".as_ref(),
        "-i".as_ref(),
        video.as_os_str(),
        "-map".as_ref(),
        "0:v:0".as_ref(),
        "-fps_mode".as_ref(),
        "passthrough".as_ref(),
        "-pix_fmt".as_ref(),
        "rgb24".as_ref(),
        pattern.as_os_str(),
    ];
    let result = run_tool(&ffmpeg_bin(), &args, video);
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let frames = list_frames(&tmp)?;
    if frames.is_empty() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(DataError::Video {
            path: video.to_path_buf(),
            message: "ffmpeg decoded no frames".into(),
        });
    }
    std::fs::write(tmp.join("fps.txt"), format!("{}\n", info.fps)).map_err(io(&tmp))?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
    }
    std::fs::rename(&tmp, &dir).map_err(io(&dir))?;
    Ok(Decoded {
        frames: list_frames(&dir)?,
        fps: info.fps,
    })
}

/// The frames of a clip under `sampling`, with the native index of each: a video file is decoded
/// (cached in `cache`), a folder's images are used as they are (at [`FOLDER_FPS`]).
pub fn clip_frames(
    media: &Path,
    sampling: FrameSampling,
    cache: &Path,
) -> Result<(Vec<PathBuf>, Vec<usize>)> {
    let (all, fps) = if media.is_dir() {
        (list_frames(media)?, FOLDER_FPS)
    } else {
        let d = decode(media, cache)?;
        (d.frames, d.fps)
    };
    if all.is_empty() {
        return Err(DataError::Video {
            path: media.to_path_buf(),
            message: "the clip has no frames".into(),
        });
    }
    let idx = sample_indices(all.len(), fps, sampling);
    Ok((idx.iter().map(|&i| all[i].clone()).collect(), idx))
}

/// A fresh scratch folder under the system temp dir (removed by the caller).
fn scratch_dir(tag: &str) -> Result<PathBuf> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("cuelab-{tag}-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| DataError::Io {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}

/// Encode frames as an H.264 MP4 at `fps` frames per second with the system ffmpeg (odd sizes
/// are padded by one pixel, as yuv420p needs even sides). All frames must have one size.
pub fn write_mp4(frames: &[image::RgbImage], fps: f64, out: &Path) -> Result<()> {
    let first = frames
        .first()
        .ok_or_else(|| DataError::Invalid("no frames to encode".into()))?;
    if frames.iter().any(|f| f.dimensions() != first.dimensions()) {
        return Err(DataError::Invalid(
            "frames of one clip must have one size".into(),
        ));
    }
    if !(fps.is_finite() && fps > 0.0) {
        return Err(DataError::Invalid(format!("fps {fps} must be positive")));
    }
    let tmp = scratch_dir("mp4")?;
    let result = (|| {
        for (i, f) in frames.iter().enumerate() {
            let p = tmp.join(format!("{:06}.png", i + 1));
            f.save(&p).map_err(|e| DataError::Image {
                path: p.clone(),
                message: e.to_string(),
            })?;
        }
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| DataError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let rate = format!("{fps}");
        let pattern = tmp.join("%06d.png");
        let args: Vec<&std::ffi::OsStr> = vec![
            "-nostdin".as_ref(),
            "-v".as_ref(),
            "error".as_ref(),
            "-y".as_ref(),
            "-framerate".as_ref(),
            rate.as_ref(),
            "-i".as_ref(),
            pattern.as_os_str(),
            "-vf".as_ref(),
            "pad=ceil(iw/2)*2:ceil(ih/2)*2".as_ref(),
            "-c:v".as_ref(),
            "libx264".as_ref(),
            "-pix_fmt".as_ref(),
            "yuv420p".as_ref(),
            "-movflags".as_ref(),
            "+faststart".as_ref(),
            "-fflags".as_ref(),
            "+bitexact".as_ref(),
            out.as_os_str(),
        ];
        run_tool(&ffmpeg_bin(), &args, out).map(|_| ())
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// Encode frames as a looping GIF at `fps` frames per second (pure Rust; colours quantised per
/// frame to 256).
pub fn write_gif(frames: &[image::RgbImage], fps: f64, out: &Path) -> Result<()> {
    use image::codecs::gif::{GifEncoder, Repeat};
    use image::{Delay, Frame};
    if frames.is_empty() {
        return Err(DataError::Invalid("no frames to encode".into()));
    }
    if !(fps.is_finite() && fps > 0.0) {
        return Err(DataError::Invalid(format!("fps {fps} must be positive")));
    }
    let io = |source| DataError::Io {
        path: out.to_path_buf(),
        source,
    };
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let file = std::fs::File::create(out).map_err(io)?;
    let img_err = |e: image::ImageError| DataError::Image {
        path: out.to_path_buf(),
        message: e.to_string(),
    };
    let mut enc = GifEncoder::new_with_speed(std::io::BufWriter::new(file), 10);
    enc.set_repeat(Repeat::Infinite).map_err(img_err)?;
    let delay = Delay::from_numer_denom_ms(((1000.0 / fps).round() as u32).max(1), 1);
    for f in frames {
        let rgba = image::DynamicImage::ImageRgb8(f.clone()).to_rgba8();
        enc.encode_frame(Frame::from_parts(rgba, 0, 0, delay))
            .map_err(img_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_parses_and_spreads_evenly() {
        assert_eq!(FrameSampling::parse("8").unwrap(), FrameSampling::Count(8));
        assert_eq!(
            FrameSampling::parse("fps=2").unwrap(),
            FrameSampling::Fps(2.0)
        );
        assert_eq!(FrameSampling::parse("all").unwrap(), FrameSampling::All);
        assert!(FrameSampling::parse("fps=0").is_err());
        assert!(FrameSampling::parse("frames=x").is_err());
        assert_eq!(
            sample_indices(10, 12.0, FrameSampling::Count(4)),
            vec![0, 3, 6, 9]
        );
        assert_eq!(
            sample_indices(24, 12.0, FrameSampling::Fps(2.0)),
            vec![0, 8, 15, 23]
        );
        assert_eq!(sample_indices(3, 12.0, FrameSampling::Count(1)), vec![0]);
        assert_eq!(sample_indices(3, 12.0, FrameSampling::All), vec![0, 1, 2]);
        assert!(sample_indices(0, 12.0, FrameSampling::Count(4)).is_empty());
    }
}
