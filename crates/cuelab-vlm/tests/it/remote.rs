#![allow(clippy::unwrap_used)]
//! The remote client against the in-process mock server: every answering mode, every fault,
//! fatal errors, the response cache, several endpoints, the API key.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cuelab_vlm::mock::{
    fault_on_attempts, fault_with_probability, Fault, MockRequest, MockServer, Shape,
};
use cuelab_vlm::{
    Answer, AnswerMode, Answerer, ParseOutcome, Question, RemoteAnswerer, RemoteConfig, VlmError,
};
use image::RgbImage;

const CHOICES: [&str; 3] = ["red", "dark green", "blue"];

fn questions(n: usize) -> Vec<Question> {
    let image = Arc::new(RgbImage::from_fn(32, 24, |x, y| {
        image::Rgb([x as u8 * 8, y as u8 * 10, 77])
    }));
    (0..n)
        .map(|i| Question {
            id: format!("q{i}"),
            system: Some("You are a careful observer.".into()),
            text: format!("[{i}] What colour is the ball?"),
            images: vec![Arc::clone(&image)],
            choices: CHOICES.iter().map(|s| s.to_string()).collect(),
        })
        .collect()
}

/// The question number written as `[i]` in the user text.
fn number(r: &MockRequest) -> usize {
    let start = r.user_text.find('[').unwrap() + 1;
    let end = r.user_text.find(']').unwrap();
    r.user_text[start..end].parse().unwrap()
}

/// The mock picks option `i % n` for question `i`.
fn server() -> MockServer {
    let s = MockServer::start().unwrap();
    s.set_pick(Arc::new(number));
    s
}

fn config(urls: &[String], mode: AnswerMode) -> RemoteConfig {
    RemoteConfig {
        endpoints: urls.to_vec(),
        model: "mock/vlm-1".into(),
        mode,
        api_key_env: "CUELAB_TEST_NO_SUCH_KEY".into(),
        concurrency: 8,
        timeout_s: 0.3,
        retries: 3,
        backoff_base_s: 0.005,
        backoff_max_s: 0.02,
        threads: 1,
        ..RemoteConfig::default()
    }
}

/// Runs a batch, checking that no question is reported twice.
fn run(
    answerer: &RemoteAnswerer,
    qs: &[Question],
) -> (
    Vec<Option<cuelab_vlm::Result<Answer>>>,
    cuelab_vlm::Result<()>,
) {
    let mut out: Vec<Option<cuelab_vlm::Result<Answer>>> = (0..qs.len()).map(|_| None).collect();
    let result = answerer.answer_all(qs, &mut |i, r| {
        assert!(out[i].is_none(), "question {i} reported twice");
        out[i] = Some(r);
    });
    (out, result)
}

fn all_answers(out: Vec<Option<cuelab_vlm::Result<Answer>>>) -> Vec<Answer> {
    out.into_iter()
        .enumerate()
        .map(|(i, a)| match a {
            Some(Ok(a)) => a,
            other => panic!("question {i}: {other:?}"),
        })
        .collect()
}

#[test]
fn every_mode_answers_what_the_server_chose() {
    let s = server();
    let qs = questions(12);
    for mode in AnswerMode::ALL {
        let before = s.requests();
        let answerer = RemoteAnswerer::new(config(&[s.url()], mode)).unwrap();
        let (out, result) = run(&answerer, &qs);
        result.unwrap();
        let answers = all_answers(out);
        for (i, a) in answers.iter().enumerate() {
            assert_eq!(a.choice, Some(i % 3), "{mode} q{i}: {a:?}");
            assert!(!a.from_cache);
            match mode {
                AnswerMode::Structured | AnswerMode::Guided => {
                    assert_eq!(a.parse, ParseOutcome::Exact);
                    assert_eq!(a.text, CHOICES[i % 3]);
                }
                AnswerMode::Logprobs => {
                    assert_eq!(a.parse, ParseOutcome::Ranked);
                    let lp = a.option_logprobs.as_ref().unwrap();
                    assert_eq!(lp.len(), 3);
                    // the chosen label also came as " X": probabilities summed
                    assert!(lp[i % 3] > -0.05 && lp[i % 3] < 0.0, "{lp:?}");
                    assert!(lp.iter().all(|&x| x <= lp[i % 3]));
                }
                AnswerMode::Free => {
                    assert!(
                        matches!(
                            a.parse,
                            ParseOutcome::Extracted { .. } | ParseOutcome::Exact
                        ),
                        "{a:?}"
                    );
                }
            }
        }
        assert_eq!(s.requests() - before, 12, "{mode}");
    }
}

#[test]
fn request_shapes_and_generation_fields() {
    let s = server();
    let seen: Arc<Mutex<Vec<MockRequest>>> = Arc::default();
    let log = Arc::clone(&seen);
    s.set_pick(Arc::new(move |r: &MockRequest| {
        log.lock().unwrap().push(r.clone());
        number(r)
    }));
    let qs = questions(1);
    let expected = [
        (
            AnswerMode::Structured,
            Shape::Structured,
            "structured_outputs",
        ),
        (AnswerMode::Guided, Shape::Guided, "guided_choice"),
        (AnswerMode::Logprobs, Shape::Logprobs, "logprobs"),
        (AnswerMode::Free, Shape::Free, "messages"),
    ];
    for (mode, shape, field) in expected {
        let mut c = config(&[s.url()], mode);
        c.generation.temperature = Some(0.0);
        c.generation.seed = Some(7);
        c.top_logprobs = 4;
        let answerer = RemoteAnswerer::new(c).unwrap();
        answerer.answer_one(&qs[0]).unwrap();
        let r = seen.lock().unwrap().pop().unwrap();
        assert_eq!(r.shape, shape);
        assert_eq!(r.options, CHOICES);
        assert_eq!(r.images, 1);
        assert_eq!(r.model, "mock/vlm-1");
        assert_eq!(r.system.as_deref(), Some("You are a careful observer."));
        assert_eq!(r.temperature, Some(0.0));
        assert!(r.fields.iter().any(|f| f == field), "{:?}", r.fields);
        assert!(r.fields.iter().any(|f| f == "seed"));
        // unset generation fields are not sent
        for absent in ["top_p", "top_k", "presence_penalty"] {
            assert!(!r.fields.iter().any(|f| f == absent), "{:?}", r.fields);
        }
        let has_max_tokens = r.fields.iter().any(|f| f == "max_tokens");
        assert_eq!(has_max_tokens, mode == AnswerMode::Logprobs);
        if mode == AnswerMode::Logprobs {
            assert_eq!(r.top_logprobs, Some(4));
        }
    }
}

#[test]
fn open_questions_get_the_text() {
    let s = server();
    let mut q = questions(1).remove(0);
    q.choices.clear();
    let answerer = RemoteAnswerer::new(config(&[s.url()], AnswerMode::Structured)).unwrap();
    let a = answerer.answer_one(&q).unwrap();
    assert_eq!(a.parse, ParseOutcome::Open);
    assert_eq!(a.choice, None);
    assert!(a.text.contains("picture"));
}

#[test]
fn transient_faults_are_retried_until_answered() {
    let faults = [
        Fault::Slow(Duration::from_secs(2)),
        Fault::ServerError,
        Fault::TooManyRequests { retry_after_s: 0 },
        Fault::MalformedJson,
        Fault::DropConnection,
    ];
    let qs = questions(8);
    for fault in faults {
        // a fresh server: its attempt counters start at 0
        let s = server();
        let before = s.requests();
        s.set_faults(Some(fault_on_attempts(fault.clone(), 2)));
        let answerer = RemoteAnswerer::new(config(&[s.url()], AnswerMode::Guided)).unwrap();
        let (out, result) = run(&answerer, &qs);
        result.unwrap();
        let answers = all_answers(out);
        for (i, a) in answers.iter().enumerate() {
            assert_eq!(a.choice, Some(i % 3), "{fault:?}");
        }
        // two faulty attempts, then the answer
        assert_eq!(s.requests() - before, 3 * 8, "{fault:?}");
        let name = match fault {
            Fault::Slow(_) => "slow",
            Fault::ServerError => "500",
            Fault::TooManyRequests { .. } => "429",
            Fault::MalformedJson => "malformed_json",
            _ => "dropped_connection",
        };
        assert_eq!(s.faults_injected(name), 16, "{fault:?}");
    }
}

#[test]
fn persistent_faults_fail_only_their_questions() {
    let s = server();
    s.set_faults(Some(Arc::new(|r: &MockRequest| match number(r) % 4 {
        1 => Some(Fault::ServerError),
        3 => Some(Fault::DropConnection),
        _ => None,
    })));
    let qs = questions(12);
    let answerer = RemoteAnswerer::new(config(&[s.url()], AnswerMode::Structured)).unwrap();
    let (out, result) = run(&answerer, &qs);
    result.unwrap();
    for (i, a) in out.into_iter().enumerate() {
        match (i % 4, a) {
            (0 | 2, Some(Ok(a))) => assert_eq!(a.choice, Some(i % 3)),
            (
                1 | 3,
                Some(Err(VlmError::Failed {
                    id,
                    attempts,
                    reason,
                })),
            ) => {
                assert_eq!(id, format!("q{i}"));
                assert_eq!(attempts, 4);
                let want = if i % 4 == 1 { "500" } else { "request failed" };
                assert!(reason.contains(want), "{reason}");
            }
            (_, other) => panic!("question {i}: {other:?}"),
        }
    }
    // 6 good questions once, 6 bad ones 4 times each
    assert_eq!(s.requests(), 6 + 6 * 4);
}

#[test]
fn random_faults_every_question_accounted_for() {
    let s = server();
    let mixed = [
        fault_with_probability(Fault::ServerError, 0.2, 1),
        fault_with_probability(Fault::MalformedJson, 0.2, 2),
        fault_with_probability(Fault::DropConnection, 0.2, 3),
        fault_with_probability(Fault::TooManyRequests { retry_after_s: 0 }, 0.2, 4),
    ];
    s.set_faults(Some(Arc::new(move |r: &MockRequest| {
        mixed.iter().find_map(|rule| rule(r))
    })));
    let qs = questions(40);
    let answerer = RemoteAnswerer::new(config(&[s.url()], AnswerMode::Free)).unwrap();
    let (out, result) = run(&answerer, &qs);
    result.unwrap();
    let mut answered = 0;
    for (i, a) in out.into_iter().enumerate() {
        match a {
            Some(Ok(a)) => {
                assert_eq!(a.choice, Some(i % 3));
                answered += 1;
            }
            Some(Err(VlmError::Failed { .. })) => {}
            other => panic!("question {i}: {other:?}"),
        }
    }
    // ~59% of attempts are faulty; with 4 attempts ~88% of questions get through
    assert!(answered >= 25, "{answered}");
    assert!(s.requests() > 40);
}

#[test]
fn retry_after_is_honoured() {
    let s = server();
    s.set_faults(Some(fault_on_attempts(
        Fault::TooManyRequests { retry_after_s: 1 },
        1,
    )));
    let mut c = config(&[s.url()], AnswerMode::Structured);
    c.backoff_max_s = 5.0;
    let answerer = RemoteAnswerer::new(c).unwrap();
    let start = Instant::now();
    let a = answerer.answer_one(&questions(1)[0]).unwrap();
    assert_eq!(a.choice, Some(0));
    assert!(
        start.elapsed() >= Duration::from_millis(950),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(s.requests(), 2);
}

#[test]
fn wrong_choice_text_is_unparseable_with_text_kept() {
    let s = server();
    s.set_faults(Some(Arc::new(|r: &MockRequest| {
        (number(r) == 1).then_some(Fault::WrongChoiceText)
    })));
    let qs = questions(3);
    for mode in AnswerMode::ALL {
        let answerer = RemoteAnswerer::new(config(&[s.url()], mode)).unwrap();
        let answers = all_answers(run(&answerer, &qs).0);
        let a = &answers[1];
        assert_eq!(a.choice, None, "{mode}: {a:?}");
        assert_eq!(a.parse, ParseOutcome::Unparseable, "{mode}");
        assert!(!a.text.is_empty());
        if matches!(mode, AnswerMode::Structured | AnswerMode::Guided) {
            assert_eq!(a.text, "DARK GREEN (probably)");
        }
        assert_eq!(answers[0].choice, Some(0));
        assert_eq!(answers[2].choice, Some(2));
    }
}

#[test]
fn fatal_errors_stop_the_batch_with_the_servers_message() {
    for (fault, needle) in [
        (Fault::BadRequest, "does not accept structured_outputs"),
        (Fault::NotFound, "mock/vlm-1"),
    ] {
        let s = server();
        s.set_faults(Some(Arc::new(move |r: &MockRequest| {
            (number(r) == 3).then(|| fault.clone())
        })));
        let mut c = config(&[s.url()], AnswerMode::Structured);
        c.concurrency = 1;
        let answerer = RemoteAnswerer::new(c).unwrap();
        let qs = questions(20);
        let (out, result) = run(&answerer, &qs);
        match result {
            Err(VlmError::Fatal(message)) => assert!(message.contains(needle), "{message}"),
            other => panic!("{other:?}"),
        }
        let reported = out.iter().filter(|a| a.is_some()).count();
        assert_eq!(reported, 3, "only the questions before the fatal one");
        assert_eq!(
            s.requests(),
            4,
            "no retry of a fatal error, nothing sent after it"
        );
    }
}

#[test]
fn cache_answers_reruns_without_sending() {
    let dir = tempfile::tempdir().unwrap();
    let s = server();
    // question 0 fails in the first run: failures must not be cached
    s.set_faults(Some(Arc::new(|r: &MockRequest| {
        (number(r) == 0).then_some(Fault::ServerError)
    })));
    let mut c = config(&[s.url()], AnswerMode::Logprobs);
    c.cache_path = Some(dir.path().join("sub/responses.sqlite"));
    let qs = questions(10);
    let first = {
        let answerer = RemoteAnswerer::new(c.clone()).unwrap();
        let (out, result) = run(&answerer, &qs);
        result.unwrap();
        assert!(matches!(out[0], Some(Err(VlmError::Failed { .. }))));
        out.into_iter()
            .skip(1)
            .map(|a| a.unwrap().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(s.requests(), 4 + 9);
    s.set_faults(None);
    let answerer = RemoteAnswerer::new(c.clone()).unwrap();
    let answers = all_answers(run(&answerer, &qs).0);
    assert_eq!(
        s.requests(),
        4 + 9 + 1,
        "only the failed question is sent again"
    );
    assert!(!answers[0].from_cache);
    assert_eq!(answers[1..].len(), first.len());
    for (a, b) in answers[1..].iter().zip(&first) {
        assert!(a.from_cache);
        assert_eq!(a.choice, b.choice);
        assert_eq!(a.option_logprobs, b.option_logprobs);
    }
    // a third run sends nothing at all
    let answers = all_answers(run(&answerer, &qs).0);
    assert!(answers.iter().all(|a| a.from_cache));
    assert_eq!(s.requests(), 14);
    // any change of the request is a miss: generation settings, model, mode, image
    let mut c2 = c.clone();
    c2.generation.temperature = Some(0.7);
    let a = RemoteAnswerer::new(c2).unwrap().answer_one(&qs[1]).unwrap();
    assert!(!a.from_cache);
    let mut c3 = c.clone();
    c3.mode = AnswerMode::Structured;
    assert!(
        !RemoteAnswerer::new(c3)
            .unwrap()
            .answer_one(&qs[1])
            .unwrap()
            .from_cache
    );
    let mut q = qs[1].clone();
    q.images = vec![Arc::new(RgbImage::new(32, 24))];
    assert!(!answerer.answer_one(&q).unwrap().from_cache);
    assert_eq!(s.requests(), 17);
}

#[test]
fn two_endpoints_share_the_load() {
    let a = server();
    let b = server();
    // Every answer takes 30 ms, so requests in flight (what the client balances on), not which
    // server thread the OS happens to schedule first on a loaded machine, decide the split
    // (without it, one run under load average 10 split 3 / 37).
    for s in [&a, &b] {
        s.set_faults(Some(Arc::new(|_: &MockRequest| {
            Some(Fault::Slow(Duration::from_millis(30)))
        })));
    }
    let mut c = config(&[a.url(), b.url()], AnswerMode::Guided);
    c.concurrency = 4;
    let answerer = RemoteAnswerer::new(c).unwrap();
    let qs = questions(40);
    let answers = all_answers(run(&answerer, &qs).0);
    assert_eq!(answers.len(), 40);
    assert_eq!(a.requests() + b.requests(), 40);
    assert!(
        a.requests() >= 10 && b.requests() >= 10,
        "{} / {}",
        a.requests(),
        b.requests()
    );
    let sent = answerer.sent_per_endpoint();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].1 + sent[1].1, 40);
    assert_eq!(sent[0].0, format!("{}/chat/completions", a.url()));
}

#[test]
fn api_key_is_sent_but_never_described() {
    let var = "CUELAB_VLM_TEST_API_KEY_7";
    std::env::set_var(var, "sk-test-very-secret");
    let s = server();
    let mut c = config(&[s.url()], AnswerMode::Structured);
    c.api_key_env = var.into();
    let answerer = RemoteAnswerer::new(c).unwrap();
    answerer.answer_one(&questions(1)[0]).unwrap();
    assert_eq!(
        s.last_authorization().as_deref(),
        Some("Bearer sk-test-very-secret")
    );
    let described = answerer.describe().to_string();
    assert!(!described.contains("sk-test-very-secret"), "{described}");
    assert!(described.contains(var));
    assert!(!format!("{:?}", answerer.config()).contains("sk-test-very-secret"));

    // no key: no header
    let answerer = RemoteAnswerer::new(config(&[s.url()], AnswerMode::Structured)).unwrap();
    answerer.answer_one(&questions(1)[0]).unwrap();
    assert_eq!(s.last_authorization(), None);
}

#[test]
fn describe_records_the_settings() {
    let mut c = config(&["http://127.0.0.1:9/v1".to_string()], AnswerMode::Logprobs);
    c.generation.top_p = Some(0.9);
    c.max_pixels = Some(1000);
    let d = RemoteAnswerer::new(c).unwrap().describe();
    assert_eq!(d["backend"], "openai-compatible");
    assert_eq!(d["endpoints"][0], "http://127.0.0.1:9/v1/chat/completions");
    assert_eq!(d["model"], "mock/vlm-1");
    assert_eq!(d["mode"], "logprobs");
    assert_eq!(d["generation"]["top_p"], 0.9);
    assert_eq!(d["max_pixels"], 1000);
    assert!(d["template"]["lettered"]
        .as_str()
        .unwrap()
        .contains("{options}"));
    assert!(d["generation"].get("temperature").is_none());
}

#[test]
fn config_from_toml_and_validation() {
    let c: RemoteConfig = toml::from_str(
        r#"
        endpoints = ["http://a:8000/v1", "http://b:8000"]
        model = "Qwen/Qwen3-VL-2B-Instruct"
        mode = "guided"
        concurrency = 64
        image_format = "png"
        [generation]
        temperature = 0.0
        max_tokens = 16
        "#,
    )
    .unwrap();
    assert_eq!(c.mode, AnswerMode::Guided);
    assert_eq!(c.concurrency, 64);
    assert_eq!(c.generation.max_tokens, Some(16));
    assert_eq!(c.retries, RemoteConfig::default().retries);
    assert!(toml::from_str::<RemoteConfig>("modle = \"x\"").is_err());
    let mut bad = c.clone();
    bad.model.clear();
    assert!(RemoteAnswerer::new(bad).is_err());
    let mut bad = c;
    bad.endpoints = vec!["ftp://x".into()];
    assert!(RemoteAnswerer::new(bad).is_err());
}

#[test]
fn too_many_options_for_letters_is_a_per_question_error() {
    let s = server();
    let mut q = questions(1).remove(0);
    q.choices = (0..30).map(|i| format!("option {i}")).collect();
    let answerer = RemoteAnswerer::new(config(&[s.url()], AnswerMode::Free)).unwrap();
    let (out, result) = run(&answerer, &[q]);
    result.unwrap();
    assert!(matches!(out[0], Some(Err(VlmError::InvalidRequest { .. }))));
    assert_eq!(s.requests(), 0);
}
