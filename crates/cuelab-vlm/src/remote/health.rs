//! Endpoint health: a replica that fails `eject_after` attempts in a row leaves the rotation;
//! once its backoff (`probe_base * 2^k`, capped at `probe_max`, `k` = failed probes since it
//! left) has passed, the next request goes to it as a probe: a success brings it back, a
//! failure sends it out again with a doubled backoff. Requests, failures, ejections and the
//! latency of every answered attempt are counted per endpoint ([`EndpointStats`]).
//!
//! What counts as a failure of the endpoint: connection errors, timeouts, 5xx responses and
//! malformed bodies. Responses that show the server is alive (2xx, 4xx including 429) reset
//! the count.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// When a replica leaves the rotation and how it is probed back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthPolicy {
    /// Consecutive failed attempts that take a replica out (0: never).
    pub eject_after: u32,
    /// Delay before the first probe.
    pub probe_base: Duration,
    /// Longest delay between probes.
    pub probe_max: Duration,
    /// How long a claimed probe may take before another request may probe again (the request
    /// timeout).
    pub probe_timeout: Duration,
}

impl HealthPolicy {
    fn backoff(&self, level: u32) -> Duration {
        let secs = self.probe_base.as_secs_f64() * 2f64.powi(level.min(30) as i32);
        Duration::from_secs_f64(secs.min(self.probe_max.as_secs_f64()))
    }
}

/// Out of the rotation until `until`; `level` failed probes since it left; `probing` while a
/// probe is out.
#[derive(Debug, Clone, Copy)]
struct Down {
    until: Instant,
    level: u32,
    probing: bool,
}

/// Where an endpoint stands for the next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// In the rotation.
    Healthy,
    /// Out, and its backoff has passed: the next request may probe it.
    ProbeDue,
    /// Out until this instant.
    Down(Instant),
}

/// The health record of one endpoint.
#[derive(Debug, Default)]
pub struct Health {
    consecutive: AtomicU32,
    requests: AtomicU64,
    failures: AtomicU64,
    ejections: AtomicU64,
    down: Mutex<Option<Down>>,
    latencies_ms: Mutex<Vec<f32>>,
}

/// Requests, failures and latency of one endpoint, as the run summary reports them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointStats {
    /// The endpoint's URL.
    pub url: String,
    /// Attempts sent (retries included).
    pub requests: u64,
    /// Attempts that failed on the endpoint's side (connection, timeout, 5xx, malformed body).
    pub failures: u64,
    /// Times it left the rotation.
    pub ejections: u64,
    /// In the rotation at the end.
    pub healthy: bool,
    /// Latency percentiles of answered attempts in milliseconds (`None` without any).
    pub latency_ms_p50: Option<f64>,
    /// 90th percentile.
    pub latency_ms_p90: Option<f64>,
    /// 99th percentile.
    pub latency_ms_p99: Option<f64>,
}

/// Nearest-rank percentile `p` (0–100) of sorted values.
pub fn percentile(sorted: &[f32], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(f64::from(sorted[rank.clamp(1, sorted.len()) - 1]))
}

impl Health {
    /// Where the endpoint stands at `now`.
    pub fn standing(&self, now: Instant) -> Standing {
        match *self.down.lock().unwrap_or_else(|e| e.into_inner()) {
            None => Standing::Healthy,
            Some(d) if d.until <= now => Standing::ProbeDue,
            Some(d) => Standing::Down(d.until),
        }
    }

    /// Claim the probe of an endpoint out of the rotation: no other request probes it until
    /// this one ends (or `policy.probe_timeout` passes). False when it is not due (any more).
    pub fn claim_probe(&self, now: Instant, policy: &HealthPolicy, force: bool) -> bool {
        let mut down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        match down.as_mut() {
            Some(d) if force || d.until <= now => {
                d.until = now + policy.probe_timeout;
                d.probing = true;
                true
            }
            _ => false,
        }
    }

    /// An attempt is about to be sent.
    pub fn sent(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Attempts sent so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The server answered (any status showing it is alive); `latency` of an answered attempt
    /// is recorded.
    pub fn alive(&self, latency: Option<Duration>) {
        self.consecutive.store(0, Ordering::Relaxed);
        let back = self
            .down
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .is_some();
        if back {
            tracing::info!("an endpoint answered its probe and is back in the rotation");
        }
        if let Some(l) = latency {
            self.latencies_ms
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(l.as_secs_f32() * 1000.0);
        }
    }

    /// The attempt failed on the endpoint's side; returns true when this takes it out of the
    /// rotation.
    pub fn failed(&self, policy: &HealthPolicy, now: Instant) -> bool {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let n = self.consecutive.fetch_add(1, Ordering::Relaxed) + 1;
        let mut down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        match down.as_mut() {
            Some(d) if d.probing => {
                // a failed probe: back off more
                d.level += 1;
                d.until = now + policy.backoff(d.level);
                d.probing = false;
                false
            }
            // a request that was in flight when it left: its delay stands
            Some(_) => false,
            None if policy.eject_after > 0 && n >= policy.eject_after => {
                *down = Some(Down {
                    until: now + policy.backoff(0),
                    level: 0,
                    probing: false,
                });
                self.ejections.fetch_add(1, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// The counters so far.
    pub fn stats(&self, url: &str) -> EndpointStats {
        let mut lat = self
            .latencies_ms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        lat.sort_by(f32::total_cmp);
        EndpointStats {
            url: url.to_string(),
            requests: self.requests.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            ejections: self.ejections.load(Ordering::Relaxed),
            healthy: self
                .down
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_none(),
            latency_ms_p50: percentile(&lat, 50.0),
            latency_ms_p90: percentile(&lat, 90.0),
            latency_ms_p99: percentile(&lat, 99.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> HealthPolicy {
        HealthPolicy {
            eject_after: 3,
            probe_base: Duration::from_secs(1),
            probe_max: Duration::from_secs(4),
            probe_timeout: Duration::from_secs(10),
        }
    }

    #[test]
    fn ejected_after_n_failures_probed_back_with_backoff() {
        let h = Health::default();
        let p = policy();
        let t0 = Instant::now();
        assert!(!h.failed(&p, t0));
        h.alive(None); // a success in between resets the count
        assert!(!h.failed(&p, t0) && !h.failed(&p, t0));
        assert!(h.failed(&p, t0), "the third failure in a row ejects");
        assert_eq!(h.standing(t0), Standing::Down(t0 + Duration::from_secs(1)));
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(h.standing(t1), Standing::ProbeDue);
        assert!(h.claim_probe(t1, &p, false));
        assert!(!h.claim_probe(t1, &p, false), "one probe at a time");
        // the probe fails: 2 s; a request still in flight from before failing changes nothing
        h.failed(&p, t1);
        assert_eq!(h.standing(t1), Standing::Down(t1 + Duration::from_secs(2)));
        h.failed(&p, t1);
        assert_eq!(h.standing(t1), Standing::Down(t1 + Duration::from_secs(2)));
        // the next probes fail: 4 s (the cap), then 4 s
        for _ in 0..2 {
            assert!(h.claim_probe(t1, &p, true));
            h.failed(&p, t1);
        }
        assert_eq!(h.standing(t1), Standing::Down(t1 + Duration::from_secs(4)));
        h.alive(Some(Duration::from_millis(5)));
        assert_eq!(h.standing(t1), Standing::Healthy);
        let s = h.stats("u");
        assert_eq!((s.failures, s.ejections, s.healthy), (8, 1, true));
        assert_eq!(s.latency_ms_p50, Some(5.0));
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f32> = (1..=100).map(|x| x as f32).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&v[..1], 90.0), Some(1.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
