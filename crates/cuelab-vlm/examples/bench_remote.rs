//! Client overhead against the in-process mock server: CPU time per request and requests/s at
//! 64 in flight, one 640x480 image per question.
//!
//! ```sh
//! cargo build --release -p cuelab-vlm --features mock --example bench_remote
//! target/release/examples/bench_remote 2000 [--python /opt/refenv/bin/python]
//! ```
//!
//! Scenarios (structured-choice requests unless stated):
//! - `synthetic x16`: the 16 synthetic images of the first version of this benchmark, each asked
//!   N/16 times, in the structured / logprobs / free modes (comparable with its old figures);
//! - `photo, unique cue`: `assets/photos/dog.jpg` cropped to 640x480 with a red box drawn at a
//!   different place for every request, so every request encodes its own image (the worst
//!   case: a cued image asked once);
//! - `photo, 16 cues shared`: 16 such images, each asked N/16 times (encoded once each);
//! - `photo, originals`: 16 JPEG files registered with `register_original`: their bytes are
//!   sent as they are, nothing is encoded.
//!
//! With `--python PY`, `tools/reference/vlm/bench_client.py` (Pillow JPEG + base64 + JSON +
//! `http.client`, 64 threads) runs against the same mock afterwards, on the unique-cue images.
//!
//! CPU time is read per thread from `/proc/self/task/*/stat` (Linux): the client's share is its
//! runtime threads (`vlm-client`) plus the main thread (which drives the batch); the mock's
//! threads (`vlm-mock*`) are reported apart.

use std::io::Cursor;
use std::sync::Arc;
use std::time::Instant;

use cuelab_vlm::mock::MockServer;
use cuelab_vlm::{AnswerMode, Answerer, Question, RemoteAnswerer, RemoteConfig};
use image::{ImageEncoder, Rgb, RgbImage};

/// (client, mock) CPU seconds so far.
fn cpu_split() -> (f64, f64) {
    let mut client = 0.0;
    let mut mock = 0.0;
    let main_tid = std::fs::read_to_string("/proc/thread-self/stat")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(String::from));
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (f64::NAN, f64::NAN);
    };
    for t in tasks.flatten() {
        let tid = t.file_name().to_string_lossy().into_owned();
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        // fields[11] = utime, fields[12] = stime (clock ticks, 100 Hz)
        let ticks: f64 = fields
            .get(11..13)
            .map(|f| f.iter().filter_map(|x| x.parse::<f64>().ok()).sum())
            .unwrap_or(0.0);
        let secs = ticks / 100.0;
        if comm.starts_with("vlm-mock") {
            mock += secs;
        } else if comm.starts_with("vlm-client") || Some(&tid) == main_tid.as_ref() {
            client += secs;
        }
    }
    (client, mock)
}

fn synthetic(k: u32) -> RgbImage {
    RgbImage::from_fn(640, 480, move |x, y| {
        Rgb([(x + k * 7) as u8, (y * 3 + k) as u8, ((x ^ y) + k) as u8])
    })
}

/// `photo` with a 4-px red box outline whose place depends on `i`.
fn cued(photo: &RgbImage, i: usize) -> RgbImage {
    let mut img = photo.clone();
    let (x0, y0) = (((i * 37) % 440) as u32 + 20, ((i * 53) % 280) as u32 + 20);
    let (w, h) = (160, 140);
    for y in y0..y0 + h {
        for x in x0..x0 + w {
            let edge = x < x0 + 4 || x >= x0 + w - 4 || y < y0 + 4 || y >= y0 + h - 4;
            if edge {
                img.put_pixel(x, y, Rgb([255, 0, 0]));
            }
        }
    }
    img
}

fn question(i: usize, image: Arc<RgbImage>) -> Question {
    Question {
        id: format!("q{i}"),
        system: None,
        text: format!("[{i}] What colour is the ball?"),
        images: vec![image],
        choices: vec!["red".into(), "green".into(), "blue".into()],
    }
}

fn client(
    server: &MockServer,
    mode: AnswerMode,
) -> Result<RemoteAnswerer, Box<dyn std::error::Error>> {
    Ok(RemoteAnswerer::new(RemoteConfig {
        endpoints: vec![server.url()],
        model: "mock".into(),
        mode,
        concurrency: 64,
        threads: 2,
        timeout_s: 30.0,
        ..RemoteConfig::default()
    })?)
}

fn row(
    label: &str,
    answerer: &RemoteAnswerer,
    questions: &[Question],
) -> Result<(), Box<dyn std::error::Error>> {
    let n = questions.len();
    let (c0, m0) = cpu_split();
    let start = Instant::now();
    let mut ok = 0;
    answerer.answer_all(questions, &mut |_, r| ok += usize::from(r.is_ok()))?;
    let wall = start.elapsed().as_secs_f64();
    let (c1, m1) = cpu_split();
    assert_eq!(ok, n, "every request answered");
    println!(
        "| {label} | {n} | {wall:.2} | {:.0} | {:.3} | {:.3} |",
        n as f64 / wall,
        (c1 - c0) * 1000.0 / n as f64,
        (m1 - m0) * 1000.0 / n as f64
    );
    Ok(())
}

fn per_call_ms(reps: usize, mut f: impl FnMut(usize)) -> f64 {
    let start = Instant::now();
    for k in 0..reps {
        f(k);
    }
    start.elapsed().as_secs_f64() * 1000.0 / reps as f64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000)
        .max(16);
    let python = args
        .iter()
        .position(|a| a == "--python")
        .and_then(|k| args.get(k + 1))
        .cloned();
    // run from the repository root, or name the photo with --photo
    let photo_path = args
        .iter()
        .position(|a| a == "--photo")
        .and_then(|k| args.get(k + 1))
        .cloned()
        .unwrap_or_else(|| "assets/photos/dog.jpg".into());
    let photo = image::open(&photo_path)?.to_rgb8();
    let photo = image::imageops::crop_imm(&photo, 64, 48, 640, 480).to_image();

    let server = MockServer::start_with(1)?;
    println!("| scenario | requests | wall s | req/s | client CPU ms/req | mock CPU ms/req |");
    println!("|---|---|---|---|---|---|");

    let synth: Vec<Arc<RgbImage>> = (0..16u32).map(|k| Arc::new(synthetic(k))).collect();
    let questions: Vec<Question> = (0..n)
        .map(|i| question(i, Arc::clone(&synth[i % 16])))
        .collect();
    for mode in [
        AnswerMode::Structured,
        AnswerMode::Logprobs,
        AnswerMode::Free,
    ] {
        row(
            &format!("synthetic x16, {mode}"),
            &client(&server, mode)?,
            &questions,
        )?;
    }

    let unique: Vec<Question> = (0..n)
        .map(|i| question(i, Arc::new(cued(&photo, i))))
        .collect();
    row(
        "photo, unique cue per request",
        &client(&server, AnswerMode::Structured)?,
        &unique,
    )?;
    drop(unique);

    let shared: Vec<Arc<RgbImage>> = (0..16).map(|k| Arc::new(cued(&photo, k))).collect();
    let questions: Vec<Question> = (0..n)
        .map(|i| question(i, Arc::clone(&shared[i % 16])))
        .collect();
    row(
        "photo, 16 cued images shared",
        &client(&server, AnswerMode::Structured)?,
        &questions,
    )?;

    // originals: JPEG files (written here at quality 95) whose decode is what the questions show
    let answerer = client(&server, AnswerMode::Structured)?;
    let mut originals = Vec::new();
    for img in &shared {
        let bytes = cuelab_vlm::remote::jpeg::encode(img, 95)?;
        let decoded = Arc::new(image::load_from_memory(&bytes)?.to_rgb8());
        assert!(answerer.register_original(&decoded, &bytes));
        originals.push(decoded);
    }
    let questions: Vec<Question> = (0..n)
        .map(|i| question(i, Arc::clone(&originals[i % 16])))
        .collect();
    row("photo, 16 original files", &answerer, &questions)?;

    // the steps alone, one thread
    let reps = 40;
    let old = |img: &RgbImage| {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(Cursor::new(&mut out), 90)
            .write_image(img.as_raw(), 640, 480, image::ExtendedColorType::Rgb8)
            .map(|()| out)
    };
    let photo_q90 = cuelab_vlm::remote::jpeg::encode(&photo, 90)?;
    println!("\none 640x480 image, one thread, mean of {reps}:\n");
    println!("| step | synthetic | photo |");
    println!("|---|---|---|");
    println!(
        "| JPEG q90 4:4:4, `image` 0.25 encoder (before) | {:.3} ms | {:.3} ms |",
        per_call_ms(reps, |k| drop(old(&synth[k % 16]))),
        per_call_ms(reps, |_| drop(old(&photo)))
    );
    println!(
        "| JPEG q90 4:4:4, libjpeg-turbo C (after) | {:.3} ms | {:.3} ms |",
        per_call_ms(reps, |k| drop(cuelab_vlm::remote::jpeg::encode(
            &synth[k % 16],
            90
        ))),
        per_call_ms(reps, |_| drop(cuelab_vlm::remote::jpeg::encode(&photo, 90)))
    );
    println!(
        "| base64 + SHA-256 of the photo's JPEG ({} bytes) | | {:.3} ms |",
        photo_q90.len(),
        per_call_ms(reps, |_| drop(cuelab_vlm::remote::encode::data_url(
            &photo_q90,
            "image/jpeg"
        )))
    );
    println!(
        "| pixel hash (payload cache lookup) | | {:.3} ms |",
        per_call_ms(reps, |_| {
            std::hint::black_box(cuelab_vlm::remote::payload::pixel_hash(&photo));
        })
    );

    if let Some(py) = python {
        let script = "tools/reference/vlm/bench_client.py";
        let (_, m0) = cpu_split();
        let out = std::process::Command::new(&py)
            .args([script, "--url", &server.url(), "--n", &n.to_string()])
            .output()?;
        let (_, m1) = cpu_split();
        println!("\n{}", String::from_utf8_lossy(&out.stdout).trim_end());
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        println!(
            "(mock CPU during the Python run: {:.3} ms/request)",
            (m1 - m0) * 1000.0 / n as f64
        );
    }
    Ok(())
}
