//! Sending one request: endpoint choice, timeout, retries with backoff, fault classification.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::health::{EndpointStats, Health, HealthPolicy, Standing};
use std::time::Duration;

use bytes::Bytes;
use rand::Rng as _;
use reqwest::StatusCode;

use crate::answer::Answer;

/// The API key, kept out of every `Debug`, log line and error message.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    /// Reads the key from the environment variable `var`; `None` when unset or empty.
    pub fn from_env(var: &str) -> Option<ApiKey> {
        std::env::var(var)
            .ok()
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .map(ApiKey)
    }

    /// Replaces every occurrence of the key in `text` (servers sometimes echo it).
    fn redact(&self, text: &str) -> String {
        text.replace(&self.0, "[redacted]")
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

/// Why a request finally failed.
#[derive(Debug)]
pub enum SendError {
    /// A fault no retry can fix; the run should stop.
    Fatal(String),
    /// Every attempt failed (or the failure is specific to this request).
    Failed {
        /// Attempts made.
        attempts: u32,
        /// The last error.
        reason: String,
    },
}

/// Retry policy.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// First backoff delay.
    pub base: Duration,
    /// Longest delay (also caps `Retry-After`).
    pub max: Duration,
}

impl RetryPolicy {
    /// Delay before retry number `retry` (0-based): `base * 2^retry`, capped, times a uniform
    /// jitter factor in [0.5, 1).
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self.base.as_secs_f64() * 2f64.powi(retry.min(30) as i32);
        let capped = exp.min(self.max.as_secs_f64());
        let jitter = rand::thread_rng().gen_range(0.5..1.0);
        Duration::from_secs_f64(capped * jitter)
    }
}

struct Endpoint {
    url: String,
    in_flight: AtomicUsize,
    health: Health,
}

/// The HTTP side of the client: a connection pool and the endpoints it spreads requests over.
pub struct Transport {
    client: reqwest::Client,
    endpoints: Vec<Endpoint>,
    turn: AtomicUsize,
    api_key: Option<ApiKey>,
    policy: RetryPolicy,
    health: HealthPolicy,
}

/// Decrements an endpoint's in-flight count when the attempt ends (also when cancelled).
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The outcome of one attempt.
enum Attempt {
    Done(Answer),
    Retry {
        reason: String,
        after: Option<Duration>,
        /// The endpoint is at fault (connection, timeout, 5xx, malformed body), not overloaded.
        failed: bool,
    },
    Fatal(String),
    GiveUp(String),
}

/// `http://h:8000/v1` → `http://h:8000/v1/chat/completions`; `http://h:8000` →
/// `http://h:8000/v1/chat/completions`; a full `.../chat/completions` URL is kept.
pub fn completions_url(endpoint: &str) -> String {
    let e = endpoint.trim().trim_end_matches('/');
    if e.ends_with("/chat/completions") {
        e.to_string()
    } else if e.ends_with("/v1") {
        format!("{e}/chat/completions")
    } else {
        format!("{e}/v1/chat/completions")
    }
}

impl Transport {
    /// A transport over `endpoints` (already normalised URLs).
    pub fn new(
        endpoints: &[String],
        api_key: Option<ApiKey>,
        timeout: Duration,
        pool_size: usize,
        policy: RetryPolicy,
        health: HealthPolicy,
    ) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_max_idle_per_host(pool_size)
            .tcp_nodelay(true)
            .user_agent(concat!("cuelab-vlm/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", chain(&e)))?;
        for url in endpoints {
            let parsed = reqwest::Url::parse(url)
                .map_err(|e| format!("endpoint {url:?} is not a valid URL: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(format!(
                    "endpoint {url:?}: only http and https are supported"
                ));
            }
        }
        Ok(Transport {
            client,
            endpoints: endpoints
                .iter()
                .map(|url| Endpoint {
                    url: url.clone(),
                    in_flight: AtomicUsize::new(0),
                    health: Health::default(),
                })
                .collect(),
            turn: AtomicUsize::new(0),
            api_key,
            policy,
            health,
        })
    }

    /// Requests sent to each endpoint so far (attempts, including retries).
    pub fn sent_per_endpoint(&self) -> Vec<(String, usize)> {
        self.endpoints
            .iter()
            .map(|e| (e.url.clone(), e.health.requests() as usize))
            .collect()
    }

    /// Requests, failures, ejections and latency percentiles of each endpoint so far.
    pub fn endpoint_stats(&self) -> Vec<EndpointStats> {
        self.endpoints
            .iter()
            .map(|e| e.health.stats(&e.url))
            .collect()
    }

    /// The endpoint for the next attempt: one out of the rotation whose probe is due (so a
    /// recovered replica rejoins), else the healthy one with the fewest requests in flight
    /// (ties go round-robin), else — every replica out — the one due back first, so a run never
    /// waits while a replica may answer.
    fn pick(&self) -> &Endpoint {
        let n = self.endpoints.len();
        let start = self.turn.fetch_add(1, Ordering::Relaxed) % n;
        let now = Instant::now();
        let mut best: Option<&Endpoint> = None;
        let mut soonest: Option<(Instant, &Endpoint)> = None;
        for k in 0..n {
            let e = &self.endpoints[(start + k) % n];
            match e.health.standing(now) {
                Standing::ProbeDue => {
                    if e.health.claim_probe(now, &self.health, false) {
                        tracing::debug!("probing {}", e.url);
                        return e;
                    }
                }
                Standing::Down(until) => {
                    if soonest.is_none_or(|(t, _)| until < t) {
                        soonest = Some((until, e));
                    }
                }
                Standing::Healthy => {
                    let load = e.in_flight.load(Ordering::Relaxed);
                    if best.is_none_or(|b| load < b.in_flight.load(Ordering::Relaxed)) {
                        best = Some(e);
                    }
                }
            }
        }
        match (best, soonest) {
            (Some(e), _) => e,
            (None, Some((_, e))) => {
                e.health.claim_probe(now, &self.health, true);
                e
            }
            (None, None) => &self.endpoints[start],
        }
    }

    /// Sends `body` until `parse` accepts a 200 response, a fatal status comes back, or the
    /// retries are spent. `parse` errors (malformed bodies) are retried.
    pub async fn send<P>(&self, body: Bytes, parse: P) -> Result<Answer, SendError>
    where
        P: Fn(&[u8]) -> Result<Answer, String>,
    {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let outcome = self.attempt(body.clone(), &parse).await;
            let (reason, after) = match outcome {
                Attempt::Done(answer) => return Ok(answer),
                Attempt::Fatal(msg) => return Err(SendError::Fatal(self.scrub(&msg))),
                Attempt::GiveUp(reason) => {
                    return Err(SendError::Failed {
                        attempts,
                        reason: self.scrub(&reason),
                    })
                }
                Attempt::Retry { reason, after, .. } => (reason, after),
            };
            if attempts > self.policy.retries {
                return Err(SendError::Failed {
                    attempts,
                    reason: self.scrub(&reason),
                });
            }
            let mut delay = self.policy.backoff(attempts - 1);
            if let Some(after) = after {
                delay = delay.max(after.min(self.policy.max));
            }
            tracing::debug!(
                attempt = attempts,
                ?delay,
                "retrying: {}",
                self.scrub(&reason)
            );
            tokio::time::sleep(delay).await;
        }
    }

    fn scrub(&self, text: &str) -> String {
        match &self.api_key {
            Some(k) => k.redact(text),
            None => text.to_string(),
        }
    }

    async fn attempt<P>(&self, body: Bytes, parse: &P) -> Attempt
    where
        P: Fn(&[u8]) -> Result<Answer, String>,
    {
        let endpoint = self.pick();
        endpoint.in_flight.fetch_add(1, Ordering::Relaxed);
        let _guard = InFlight(&endpoint.in_flight);
        endpoint.health.sent();
        let started = Instant::now();
        let outcome = self.exchange(endpoint, body, parse).await;
        match &outcome {
            Attempt::Done(_) => endpoint.health.alive(Some(started.elapsed())),
            Attempt::Retry { failed: true, .. } => {
                if endpoint.health.failed(&self.health, Instant::now()) {
                    tracing::warn!(
                        "{} failed {} times in a row: out of the rotation until a probe succeeds",
                        endpoint.url,
                        self.health.eject_after
                    );
                }
            }
            _ => endpoint.health.alive(None),
        }
        outcome
    }

    /// One HTTP exchange with `endpoint`, classified.
    async fn exchange<P>(&self, endpoint: &Endpoint, body: Bytes, parse: &P) -> Attempt
    where
        P: Fn(&[u8]) -> Result<Answer, String>,
    {
        let mut request = self
            .client
            .post(&endpoint.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(&key.0);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retry {
                    reason: format!("{}: {}", endpoint.url, error_kind(&e)),
                    after: None,
                    failed: true,
                }
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let bytes = match response.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return Attempt::Retry {
                    reason: format!("{}: reading the response: {}", endpoint.url, error_kind(&e)),
                    after: None,
                    failed: true,
                }
            }
        };
        if status.is_success() {
            return match parse(&bytes) {
                Ok(answer) => Attempt::Done(answer),
                Err(reason) => Attempt::Retry {
                    reason: format!("{}: {reason}", endpoint.url),
                    after: None,
                    failed: true,
                },
            };
        }
        let message = format!(
            "{} answered {status}: {}",
            endpoint.url,
            server_message(&bytes)
        );
        match status {
            StatusCode::TOO_MANY_REQUESTS => Attempt::Retry {
                reason: message,
                after: retry_after,
                failed: false,
            },
            StatusCode::REQUEST_TIMEOUT => Attempt::Retry {
                reason: message,
                after: None,
                failed: false,
            },
            StatusCode::BAD_REQUEST
            | StatusCode::UNAUTHORIZED
            | StatusCode::FORBIDDEN
            | StatusCode::NOT_FOUND
            | StatusCode::UNPROCESSABLE_ENTITY => Attempt::Fatal(message),
            s if s.is_server_error() => Attempt::Retry {
                reason: message,
                after: retry_after,
                failed: true,
            },
            _ => Attempt::GiveUp(message),
        }
    }
}

/// The human part of an error body: `error.message`, `message` or `detail` of a JSON body, else
/// the body's start.
fn server_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let msg = v
            .pointer("/error/message")
            .or_else(|| v.get("message"))
            .or_else(|| v.get("detail"))
            .or_else(|| v.get("error"));
        if let Some(m) = msg {
            return match m.as_str() {
                Some(s) => truncate(s, 500),
                None => truncate(&m.to_string(), 500),
            };
        }
    }
    let text = String::from_utf8_lossy(body);
    if text.trim().is_empty() {
        "(empty body)".to_string()
    } else {
        truncate(text.trim(), 500)
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// A short description of a transport error (timeout, connection, ...) with its causes.
fn error_kind(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "broken response body"
    } else {
        "request failed"
    };
    format!("{kind} ({})", chain(e))
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls() {
        assert_eq!(
            completions_url("http://h:8000/v1/"),
            "http://h:8000/v1/chat/completions"
        );
        assert_eq!(
            completions_url("http://h:8000"),
            "http://h:8000/v1/chat/completions"
        );
        assert_eq!(
            completions_url("https://api.x/v1/chat/completions"),
            "https://api.x/v1/chat/completions"
        );
    }

    #[test]
    fn backoff_grows_with_jitter_and_cap() {
        let p = RetryPolicy {
            retries: 5,
            base: Duration::from_millis(100),
            max: Duration::from_millis(350),
        };
        for _ in 0..50 {
            let d0 = p.backoff(0).as_secs_f64();
            assert!((0.05..0.1).contains(&d0), "{d0}");
            let d1 = p.backoff(1).as_secs_f64();
            assert!((0.1..0.2).contains(&d1), "{d1}");
            let d5 = p.backoff(5).as_secs_f64();
            assert!((0.175..0.35).contains(&d5), "{d5}");
        }
    }

    #[test]
    fn server_messages() {
        assert_eq!(
            server_message(br#"{"error":{"message":"model x does not exist","type":"NotFound"}}"#),
            "model x does not exist"
        );
        assert_eq!(server_message(br#"{"detail":"bad"}"#), "bad");
        assert_eq!(server_message(b"  oops "), "oops");
        assert_eq!(server_message(b""), "(empty body)");
        assert!(server_message(&[b'x'; 2000]).len() < 600);
    }

    #[test]
    fn key_is_redacted() {
        let k = ApiKey("sk-secret".into());
        assert_eq!(format!("{k:?}"), "ApiKey([redacted])");
        assert_eq!(k.redact("bad key sk-secret!"), "bad key [redacted]!");
    }
}
