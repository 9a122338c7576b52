//! A mock OpenAI-compatible server for tests (feature `mock`).
//!
//! Real HTTP/1.1 (keep-alive, `Content-Length` bodies) on `127.0.0.1` with a random port, served
//! by its own tokio runtime on its own threads (named `vlm-mock`), so a client in the same process
//! can be measured apart from it. It answers `/v1/chat/completions` deterministically from the
//! request:
//!
//! - the option is chosen by a [`PickRule`] (default [`default_pick`]: a hash of the user text
//!   modulo the number of options);
//! - `structured_outputs.choice` / `guided_choice`: the option's text;
//! - `logprobs: true`: the option's letter, with `top_logprobs` where the chosen letter has the
//!   highest log-probability (also as `" X"`, a second spelling) and the others decrease with
//!   their distance from it;
//! - otherwise, when the user text lists lettered options (`A. ...` lines): a free sentence, one
//!   of `I think the answer is (B) blue.`, `B`, `The answer is blue.` (chosen by hash);
//! - otherwise (open question): a fixed sentence, or what an [`OpenRule`] set with
//!   [`MockServer::set_open_reply`] writes (counts, box lists, ...).
//!
//! Faults ([`Fault`]) are injected per request by a [`FaultRule`], e.g. [`fault_on_attempts`] or
//! [`fault_with_probability`]. Counters: [`MockServer::requests`], per-fault counts, the last
//! `Authorization` header.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the mock saw in one request (what rules decide on).
#[derive(Debug, Clone)]
pub struct MockRequest {
    /// `model` field.
    pub model: String,
    /// System prompt, if any.
    pub system: Option<String>,
    /// The user message's text part(s), joined by newlines.
    pub user_text: String,
    /// The options: from `structured_outputs`/`guided_choice`, else the lettered lines of the
    /// user text.
    pub options: Vec<String>,
    /// Which answering shape the request asks for.
    pub shape: Shape,
    /// Number of `image_url` parts.
    pub images: usize,
    /// The `image_url` parts' URLs (data URLs as sent), in order.
    pub image_urls: Vec<String>,
    /// Number of `video_url` parts.
    pub videos: usize,
    /// How many earlier requests had the same user text and shape (0 on the first attempt).
    pub seen: u32,
    /// `top_logprobs` field, if any.
    pub top_logprobs: Option<u64>,
    /// Top-level fields of the body, sorted.
    pub fields: Vec<String>,
    /// `temperature` field, if any.
    pub temperature: Option<f64>,
}

/// The answering shape of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `structured_outputs: {"choice": [...]}`.
    Structured,
    /// `guided_choice: [...]`.
    Guided,
    /// `logprobs: true`.
    Logprobs,
    /// Lettered options in the text, no constraint.
    Free,
    /// No options.
    Open,
}

/// A fault the mock can inject into one response.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer normally, but only after this delay (beyond the client's timeout to test it).
    Slow(Duration),
    /// 500 with a JSON error body.
    ServerError,
    /// 429 with `Retry-After: seconds`.
    TooManyRequests {
        /// The `Retry-After` value in seconds.
        retry_after_s: u32,
    },
    /// 200 with a truncated JSON body.
    MalformedJson,
    /// 200, but the answer text is not one of the options (constrained decoding ignored).
    WrongChoiceText,
    /// Close the connection without answering.
    DropConnection,
    /// 400 with a JSON error message (fatal for the client).
    BadRequest,
    /// 404 "model not found" (fatal for the client).
    NotFound,
}

impl Fault {
    fn name(&self) -> &'static str {
        match self {
            Fault::Slow(_) => "slow",
            Fault::ServerError => "500",
            Fault::TooManyRequests { .. } => "429",
            Fault::MalformedJson => "malformed_json",
            Fault::WrongChoiceText => "wrong_choice_text",
            Fault::DropConnection => "dropped_connection",
            Fault::BadRequest => "400",
            Fault::NotFound => "404",
        }
    }
}

/// Chooses the option index (taken modulo the number of options).
pub type PickRule = Arc<dyn Fn(&MockRequest) -> usize + Send + Sync>;
/// Writes the reply to an open question (no options).
pub type OpenRule = Arc<dyn Fn(&MockRequest) -> String + Send + Sync>;
/// Decides the fault of a request, if any.
pub type FaultRule = Arc<dyn Fn(&MockRequest) -> Option<Fault> + Send + Sync>;

/// 64-bit FNV-1a of `s` (stable across platforms and runs).
pub fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The default pick: `fnv1a(user_text) % options`.
pub fn default_pick(request: &MockRequest) -> usize {
    if request.options.is_empty() {
        return 0;
    }
    (fnv1a(&request.user_text) % request.options.len() as u64) as usize
}

/// `fault` on the first `attempts` requests of every question (retries then succeed when
/// `attempts` is at most the client's retries).
pub fn fault_on_attempts(fault: Fault, attempts: u32) -> FaultRule {
    Arc::new(move |r: &MockRequest| (r.seen < attempts).then(|| fault.clone()))
}

/// `fault` with probability `p` per request, decided by a hash of (seed, user text, attempt),
/// so the same run sees the same faults.
pub fn fault_with_probability(fault: Fault, p: f64, seed: u64) -> FaultRule {
    Arc::new(move |r: &MockRequest| {
        let h = fnv1a(&format!("{seed}\n{}\n{}", r.user_text, r.seen));
        ((h % 1_000_000) as f64 / 1_000_000.0 < p).then(|| fault.clone())
    })
}

#[derive(Default)]
struct Counters {
    requests: AtomicUsize,
    faults: Mutex<HashMap<&'static str, usize>>,
    seen: Mutex<HashMap<(String, u8), u32>>,
    authorization: Mutex<Option<String>>,
}

struct State {
    pick: Mutex<PickRule>,
    open: Mutex<Option<OpenRule>>,
    faults: Mutex<Option<FaultRule>>,
    counters: Counters,
}

/// A running mock server; stops when dropped.
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MockServer {
    /// Starts a server with the default pick rule and no faults, on 1 worker thread.
    pub fn start() -> std::io::Result<MockServer> {
        MockServer::start_with(1)
    }

    /// Starts a server whose runtime has `threads` worker threads.
    pub fn start_with(threads: usize) -> std::io::Result<MockServer> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let state = Arc::new(State {
            pick: Mutex::new(Arc::new(default_pick)),
            open: Mutex::new(None),
            faults: Mutex::new(None),
            counters: Counters::default(),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("vlm-mock")
            .enable_all()
            .build()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("vlm-mock-main".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = TcpListener::from_std(std_listener) else {
                        return;
                    };
                    tokio::select! {
                        _ = accept_loop(listener, served) => {}
                        _ = rx => {}
                    }
                });
                runtime.shutdown_background();
            })?;
        Ok(MockServer {
            addr,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// Base URL, `http://127.0.0.1:PORT/v1`.
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Replaces the pick rule.
    pub fn set_pick(&self, rule: PickRule) {
        if let Ok(mut p) = self.state.pick.lock() {
            *p = rule;
        }
    }

    /// Replaces the reply rule of open questions (`None`: the fixed sentence).
    pub fn set_open_reply(&self, rule: Option<OpenRule>) {
        if let Ok(mut o) = self.state.open.lock() {
            *o = rule;
        }
    }

    /// Replaces the fault rule (`None`: no faults).
    pub fn set_faults(&self, rule: Option<FaultRule>) {
        if let Ok(mut f) = self.state.faults.lock() {
            *f = rule;
        }
    }

    /// Requests received on `/chat/completions` (every attempt counts).
    pub fn requests(&self) -> usize {
        self.state.counters.requests.load(Ordering::SeqCst)
    }

    /// How many times the fault named `name` (`slow`, `500`, `429`, `malformed_json`,
    /// `wrong_choice_text`, `dropped_connection`, `400`, `404`) was injected.
    pub fn faults_injected(&self, name: &str) -> usize {
        self.state
            .counters
            .faults
            .lock()
            .map(|f| f.get(name).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// The `Authorization` header of the last request, if it had one.
    pub fn last_authorization(&self) -> Option<String> {
        self.state
            .counters
            .authorization
            .lock()
            .ok()
            .and_then(|a| a.clone())
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let _ = serve_connection(stream, state).await;
        });
    }
}

/// One parsed HTTP request.
struct HttpRequest {
    method: String,
    path: String,
    authorization: Option<String>,
    body: Vec<u8>,
}

async fn serve_connection(mut stream: TcpStream, state: Arc<State>) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        let Some(request) = read_request(&mut stream, &mut buf).await? else {
            return Ok(());
        };
        let reply = handle(&request, &state).await;
        match reply {
            Reply::Drop => return Ok(()),
            Reply::Http {
                status,
                extra_headers,
                body,
            } => {
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra_headers}\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).await?;
                stream.write_all(&body).await?;
            }
        }
    }
}

/// Reads one request (head + `Content-Length` body); `None` at a clean end of the connection.
async fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<HttpRequest>> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let head_end = loop {
        if let Some(p) = find(buf, b"\r\n\r\n") {
            break p;
        }
        if buf.len() > 1 << 20 {
            return Err(bad("request head too long"));
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(bad("connection closed mid-request"))
            };
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split_whitespace();
    let method = first.next().unwrap_or_default().to_string();
    let path = first.next().unwrap_or_default().to_string();
    let mut length = 0usize;
    let mut authorization = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        match name.as_str() {
            "content-length" => length = value.parse().map_err(|_| bad("bad content-length"))?,
            "authorization" => authorization = Some(value.to_string()),
            "transfer-encoding" => return Err(bad("chunked bodies are not supported")),
            _ => {}
        }
    }
    let body_start = head_end + 4;
    while buf.len() < body_start + length {
        let mut chunk = vec![0u8; (body_start + length - buf.len()).min(256 * 1024)];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(bad("connection closed mid-body"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[body_start..body_start + length].to_vec();
    buf.drain(..body_start + length);
    Ok(Some(HttpRequest {
        method,
        path,
        authorization,
        body,
    }))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

enum Reply {
    Http {
        status: &'static str,
        extra_headers: String,
        body: Vec<u8>,
    },
    Drop,
}

fn json_reply(status: &'static str, body: Value) -> Reply {
    Reply::Http {
        status,
        extra_headers: String::new(),
        body: body.to_string().into_bytes(),
    }
}

fn error_reply(status: &'static str, message: &str) -> Reply {
    json_reply(
        status,
        json!({ "error": { "message": message, "code": status } }),
    )
}

async fn handle(request: &HttpRequest, state: &State) -> Reply {
    if request.method != "POST" || !request.path.ends_with("/chat/completions") {
        return error_reply("404 Not Found", &format!("no route {}", request.path));
    }
    let counters = &state.counters;
    counters.requests.fetch_add(1, Ordering::SeqCst);
    if let Ok(mut a) = counters.authorization.lock() {
        a.clone_from(&request.authorization);
    }
    let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
        return error_reply("400 Bad Request", "request body is not JSON");
    };
    let Some(mut req) = describe(&body) else {
        return error_reply("400 Bad Request", "no messages");
    };
    req.seen = counters
        .seen
        .lock()
        .map(|mut seen| {
            let n = seen
                .entry((req.user_text.clone(), req.shape as u8))
                .or_insert(0);
            *n += 1;
            *n - 1
        })
        .unwrap_or(0);
    let fault_rule = state.faults.lock().ok().and_then(|f| f.clone());
    let fault = fault_rule.and_then(|rule| rule(&req));
    if let Some(f) = &fault {
        if let Ok(mut counts) = counters.faults.lock() {
            *counts.entry(f.name()).or_insert(0) += 1;
        }
    }
    match fault {
        Some(Fault::Slow(d)) => tokio::time::sleep(d).await,
        Some(Fault::ServerError) => {
            return error_reply("500 Internal Server Error", "mock: injected server error")
        }
        Some(Fault::TooManyRequests { retry_after_s }) => {
            return Reply::Http {
                status: "429 Too Many Requests",
                extra_headers: format!("retry-after: {retry_after_s}\r\n"),
                body: br#"{"error":{"message":"mock: slow down"}}"#.to_vec(),
            }
        }
        Some(Fault::MalformedJson) => {
            return Reply::Http {
                status: "200 OK",
                extra_headers: String::new(),
                body: br#"{"id":"x","choices":[{"index":0,"message":{"content":"#.to_vec(),
            }
        }
        Some(Fault::DropConnection) => return Reply::Drop,
        Some(Fault::BadRequest) => {
            return error_reply(
                "400 Bad Request",
                "mock: this model does not accept structured_outputs",
            )
        }
        Some(Fault::NotFound) => {
            return error_reply(
                "404 Not Found",
                &format!("The model `{}` does not exist.", req.model),
            )
        }
        Some(Fault::WrongChoiceText) | None => {}
    }
    let pick = state.pick.lock().map(|p| Arc::clone(&p)).ok();
    let n = req.options.len();
    let choice = match (pick, n) {
        (_, 0) => 0,
        (Some(rule), n) => rule(&req) % n,
        (None, n) => default_pick(&req) % n,
    };
    let wrong = fault == Some(Fault::WrongChoiceText);
    let open = state.open.lock().ok().and_then(|o| o.clone());
    json_reply("200 OK", completion(&req, choice, wrong, open.as_ref()))
}

fn label(i: usize) -> String {
    char::from(b'A' + (i % 26) as u8).to_string()
}

fn completion(req: &MockRequest, choice: usize, wrong: bool, open: Option<&OpenRule>) -> Value {
    let option = req.options.get(choice).cloned().unwrap_or_default();
    let mut logprobs = Value::Null;
    let content = match req.shape {
        Shape::Open => match open {
            Some(rule) => rule(req),
            None => "A picture with some shapes in it.".to_string(),
        },
        Shape::Structured | Shape::Guided => {
            if wrong {
                format!("{} (probably)", option.to_uppercase())
            } else {
                option
            }
        }
        Shape::Logprobs => {
            let want = req.top_logprobs.unwrap_or(5) as usize;
            let mut top = vec![json!({ "token": label(choice), "logprob": -0.05 })];
            let mut others: Vec<usize> = (0..req.options.len()).filter(|&i| i != choice).collect();
            others.sort_by_key(|&i| i.abs_diff(choice));
            for (rank, i) in others.into_iter().enumerate() {
                top.push(json!({ "token": label(i), "logprob": -2.0 - rank as f64 }));
            }
            top.insert(
                1,
                json!({ "token": format!(" {}", label(choice)), "logprob": -4.0 }),
            );
            top.push(json!({ "token": "The", "logprob": -9.0 }));
            top.truncate(want.max(1));
            if wrong {
                // no option label among the top tokens
                top = vec![
                    json!({ "token": "Z", "logprob": -0.1 }),
                    json!({ "token": "The", "logprob": -3.0 }),
                ];
            }
            logprobs = json!({ "content": [{
                "token": label(choice), "logprob": -0.05, "top_logprobs": top
            }]});
            if wrong {
                "Z".to_string()
            } else {
                label(choice)
            }
        }
        Shape::Free => {
            if wrong {
                "I cannot tell.".to_string()
            } else {
                match fnv1a(&req.user_text) % 3 {
                    0 => format!("I think the answer is ({}) {option}.", label(choice)),
                    1 => label(choice),
                    _ => format!("The answer is {option}."),
                }
            }
        }
    };
    let mut choice_obj = json!({
        "index": 0,
        "message": { "role": "assistant", "content": content },
        "finish_reason": "stop"
    });
    if !logprobs.is_null() {
        choice_obj["logprobs"] = logprobs;
    }
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "model": req.model,
        "choices": [choice_obj],
        "usage": { "prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2 }
    })
}

/// Reads what the rules need from a request body; `None` without messages.
fn describe(body: &Value) -> Option<MockRequest> {
    let messages = body.get("messages")?.as_array()?;
    let mut system = None;
    let mut texts = Vec::new();
    let mut images = 0;
    let mut image_urls = Vec::new();
    let mut videos = 0;
    for m in messages {
        let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
        let content = m.get("content");
        match (role, content) {
            ("system", Some(Value::String(s))) => system = Some(s.clone()),
            ("user", Some(Value::String(s))) => texts.push(s.clone()),
            ("user", Some(Value::Array(parts))) => {
                for p in parts {
                    match p.get("type").and_then(Value::as_str) {
                        Some("text") => {
                            if let Some(t) = p.get("text").and_then(Value::as_str) {
                                texts.push(t.to_string());
                            }
                        }
                        Some("image_url") => {
                            images += 1;
                            if let Some(u) = p.pointer("/image_url/url").and_then(Value::as_str) {
                                image_urls.push(u.to_string());
                            }
                        }
                        Some("video_url") => videos += 1,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let user_text = texts.join("\n");
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let lettered = lettered_options(&user_text);
    let (shape, options) = if let Some(c) = body.pointer("/structured_outputs/choice") {
        (Shape::Structured, strings(c))
    } else if let Some(c) = body.get("guided_choice") {
        (Shape::Guided, strings(c))
    } else if body.get("logprobs").and_then(Value::as_bool) == Some(true) {
        (Shape::Logprobs, lettered)
    } else if !lettered.is_empty() {
        (Shape::Free, lettered)
    } else {
        (Shape::Open, Vec::new())
    };
    Some(MockRequest {
        model: body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        system,
        user_text,
        options,
        shape,
        images,
        image_urls,
        videos,
        seen: 0,
        fields: {
            let mut f: Vec<String> = body
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            f.sort();
            f
        },
        top_logprobs: body.get("top_logprobs").and_then(Value::as_u64),
        temperature: body.get("temperature").and_then(Value::as_f64),
    })
}

/// Options written as consecutive `A. text`, `B. text`, ... lines.
fn lettered_options(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let want = label(out.len());
        if let Some(rest) = line.strip_prefix(&format!("{want}. ")) {
            if out.len() < 26 {
                out.push(rest.to_string());
                continue;
            }
        }
        if !out.is_empty() {
            break;
        }
    }
    out
}
