#![allow(clippy::unwrap_used)]
//! Endpoint health against the mock server: a replica that is down (500s, or nothing listening)
//! leaves the rotation after `eject_after` failures in a row, the run goes on with the healthy
//! one without stalling, the downed replica is probed back once it recovers, and every
//! endpoint's requests, failures and latency percentiles are reported.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cuelab_vlm::mock::{Fault, MockServer};
use cuelab_vlm::{AnswerMode, Answerer, Question, RemoteAnswerer, RemoteConfig};
use image::RgbImage;

fn questions(n: usize, tag: &str) -> Vec<Question> {
    let image = Arc::new(RgbImage::from_fn(16, 12, |x, y| {
        image::Rgb([x as u8 * 9, y as u8 * 11, 50])
    }));
    (0..n)
        .map(|i| Question {
            id: format!("{tag}{i}"),
            system: None,
            text: format!("[{tag}{i}] Which colour?"),
            images: vec![Arc::clone(&image)],
            choices: vec!["red".into(), "blue".into()],
        })
        .collect()
}

fn config(urls: &[String], probe_base_s: f64) -> RemoteConfig {
    RemoteConfig {
        endpoints: urls.to_vec(),
        model: "mock/vlm-1".into(),
        mode: AnswerMode::Structured,
        api_key_env: "CUELAB_TEST_NO_SUCH_KEY".into(),
        concurrency: 4,
        timeout_s: 2.0,
        retries: 4,
        backoff_base_s: 0.001,
        backoff_max_s: 0.005,
        threads: 1,
        eject_after: 3,
        probe_base_s,
        probe_max_s: probe_base_s * 4.0,
        ..RemoteConfig::default()
    }
}

/// Answers every question; panics on any failure.
fn answer_all(a: &RemoteAnswerer, qs: &[Question]) {
    let mut ok = 0;
    a.answer_all(qs, &mut |_, r| {
        r.unwrap();
        ok += 1;
    })
    .unwrap();
    assert_eq!(ok, qs.len());
}

/// A URL nothing listens on (a port bound, then released).
fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}/v1")
}

#[test]
fn a_replica_answering_500_leaves_the_rotation_and_is_probed_back() {
    let good = MockServer::start().unwrap();
    let bad = MockServer::start().unwrap();
    bad.set_faults(Some(Arc::new(|_| Some(Fault::ServerError))));
    let answerer = RemoteAnswerer::new(config(&[good.url(), bad.url()], 0.2)).unwrap();
    let qs = questions(60, "a");
    answer_all(&answerer, &qs);
    let stats = answerer.endpoint_stats();
    let (g, b) = (&stats[0], &stats[1]);
    assert!(g.url.starts_with(&good.url()) && b.url.starts_with(&bad.url()));
    // the bad replica got 3 failures in a row, then (at most) a few probes and in-flight ones
    assert!(b.ejections >= 1, "{b:?}");
    assert_eq!(b.failures, b.requests, "{b:?}");
    assert!(
        b.requests <= 12,
        "the downed replica kept getting traffic: {b:?}"
    );
    assert!(!b.healthy, "{b:?}");
    assert_eq!(b.latency_ms_p50, None);
    assert_eq!(g.failures, 0);
    assert_eq!(
        g.requests as usize, 60,
        "every question answered once by the good one"
    );
    let (p50, p99) = (g.latency_ms_p50.unwrap(), g.latency_ms_p99.unwrap());
    assert!(p50 > 0.0 && p50 <= p99, "{g:?}");

    // the replica recovers; after its probe delay the next requests probe it back in
    bad.set_faults(None);
    std::thread::sleep(Duration::from_millis(900));
    let before = bad.requests();
    answer_all(&answerer, &questions(40, "b"));
    let b = answerer.endpoint_stats()[1].clone();
    assert!(b.healthy, "{b:?}");
    // more than the one probe: back in the rotation, it gets its share of requests again
    assert!(
        bad.requests() - before >= 3,
        "back in the rotation it answers again: {} of 40",
        bad.requests() - before
    );
    assert!(b.latency_ms_p50.is_some());
}

#[test]
fn a_replica_that_is_gone_never_stalls_the_run() {
    let good = MockServer::start().unwrap();
    let dead = dead_url();
    // a long probe delay: once out, the dead replica is not tried again during the run
    let answerer = RemoteAnswerer::new(config(&[dead.clone(), good.url()], 60.0)).unwrap();
    let start = Instant::now();
    answer_all(&answerer, &questions(50, "c"));
    let secs = start.elapsed().as_secs_f64();
    let stats = answerer.endpoint_stats();
    let d = &stats[0];
    assert_eq!((d.ejections, d.healthy), (1, false), "{d:?}");
    assert!(d.requests >= 3 && d.requests <= 8, "{d:?}");
    assert_eq!(stats[1].requests, 50);
    assert!(secs < 20.0, "{secs} s");

    // every replica down: requests still go out (to the one due back first) and fail as
    // failures, not as a hang
    let all_dead = RemoteAnswerer::new(RemoteConfig {
        retries: 6,
        ..config(&[dead_url(), dead_url()], 60.0)
    })
    .unwrap();
    let start = Instant::now();
    let mut failed = 0;
    all_dead
        .answer_all(&questions(3, "d"), &mut |_, r| {
            assert!(r.is_err());
            failed += 1;
        })
        .unwrap();
    assert_eq!(failed, 3);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(all_dead.endpoint_stats().iter().all(|e| e.ejections == 1));
}
