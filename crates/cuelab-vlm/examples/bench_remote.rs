//! Client overhead against the in-process mock server: CPU time per request and requests/s at
//! 64 in flight, 640x480 image per question (JPEG encode included).
//!
//! `cargo run -p cuelab-vlm --features mock --example bench_remote [-- N]`
//!
//! CPU time is read per thread from `/proc/self/task/*/stat` (Linux): the client's share is its
//! runtime threads (`vlm-client`) plus the main thread (which drives the batch); the mock's
//! threads (`vlm-mock*`) are reported apart.

use std::sync::Arc;
use std::time::Instant;

use cuelab_vlm::mock::MockServer;
use cuelab_vlm::{AnswerMode, Answerer, Question, RemoteAnswerer, RemoteConfig};
use image::RgbImage;

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let server = MockServer::start_with(1)?;
    let images: Vec<Arc<RgbImage>> = (0..16u32)
        .map(|k| {
            Arc::new(RgbImage::from_fn(640, 480, move |x, y| {
                image::Rgb([(x + k * 7) as u8, (y * 3 + k) as u8, ((x ^ y) + k) as u8])
            }))
        })
        .collect();
    let questions: Vec<Question> = (0..n)
        .map(|i| Question {
            id: format!("q{i}"),
            system: None,
            text: format!("[{i}] What colour is the ball?"),
            images: vec![Arc::clone(&images[i % images.len()])],
            choices: vec!["red".into(), "green".into(), "blue".into()],
        })
        .collect();
    println!("| mode | requests | wall s | req/s | client CPU ms/req | mock CPU ms/req |");
    println!("|---|---|---|---|---|---|");
    for mode in [
        AnswerMode::Structured,
        AnswerMode::Logprobs,
        AnswerMode::Free,
    ] {
        let config = RemoteConfig {
            endpoints: vec![server.url()],
            model: "mock".into(),
            mode,
            concurrency: 64,
            threads: 2,
            timeout_s: 30.0,
            ..RemoteConfig::default()
        };
        let answerer = RemoteAnswerer::new(config)?;
        let (c0, m0) = cpu_split();
        let start = Instant::now();
        let mut ok = 0;
        answerer.answer_all(&questions, &mut |_, r| ok += usize::from(r.is_ok()))?;
        let wall = start.elapsed().as_secs_f64();
        let (c1, m1) = cpu_split();
        assert_eq!(ok, n);
        println!(
            "| {mode} | {n} | {wall:.2} | {:.0} | {:.3} | {:.3} |",
            n as f64 / wall,
            (c1 - c0) * 1000.0 / n as f64,
            (m1 - m0) * 1000.0 / n as f64
        );
    }
    // the encode alone (JPEG q90, 640x480), single thread
    let start = Instant::now();
    let reps = 50;
    for k in 0..reps {
        let _ = cuelab_vlm::remote::encode::encode(
            &images[k % images.len()],
            cuelab_vlm::ImageFormat::Jpeg,
            90,
            None,
        )?;
    }
    println!(
        "\nJPEG q90 + base64 of one 640x480 image: {:.3} ms",
        start.elapsed().as_secs_f64() * 1000.0 / reps as f64
    );
    Ok(())
}
