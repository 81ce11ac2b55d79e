//! One probe: an HTTP(S) request or a TCP connect, with a timeout below the interval. The verdict says up, degraded
//! (answered as expected but above the latency limit) or down, and why.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::spec::{Expect, Target};
use super::state::Outcome;

/// The most of a body read to look for the expected text.
const BODY_LIMIT: usize = 64 * 1024;

/// What one probe found.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeResult {
    /// When it started.
    pub at: DateTime<Utc>,
    /// The verdict.
    pub outcome: Outcome,
    /// How long it took, in ms (`None` when it timed out).
    pub latency_ms: Option<u32>,
    /// The HTTP status.
    pub status_code: Option<u16>,
    /// Why it is down (or degraded).
    pub error: Option<String>,
}

/// Probes targets. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Prober {
    http: reqwest::Client,
}

impl Prober {
    /// A prober with its own connection pool. Redirects are not followed: a 3xx is judged as is.
    pub fn new() -> Prober {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("portolan-health/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .unwrap_or_default();
        Prober { http }
    }

    /// Probes `target` once, giving up after `timeout`.
    pub async fn probe(&self, target: &Target, expect: &Expect, timeout: Duration) -> ProbeResult {
        let at = Utc::now();
        let started = Instant::now();
        let verdict = tokio::time::timeout(timeout, self.attempt(target, expect)).await;
        let elapsed = started.elapsed();
        let latency_ms = Some(u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX));
        match verdict {
            Err(_) => ProbeResult {
                at,
                outcome: Outcome::Down,
                latency_ms: None,
                status_code: None,
                error: Some(format!("no answer within {} ms", timeout.as_millis())),
            },
            Ok(Err((status_code, error))) => {
                ProbeResult { at, outcome: Outcome::Down, latency_ms, status_code, error: Some(error) }
            }
            Ok(Ok(status_code)) => match expect.degraded_after {
                Some(limit) if elapsed > limit => ProbeResult {
                    at,
                    outcome: Outcome::Degraded,
                    latency_ms,
                    status_code,
                    error: Some(format!(
                        "answered in {} ms, above the {} ms limit",
                        elapsed.as_millis(),
                        limit.as_millis()
                    )),
                },
                _ => ProbeResult { at, outcome: Outcome::Up, latency_ms, status_code, error: None },
            },
        }
    }

    async fn attempt(&self, target: &Target, expect: &Expect) -> Result<Option<u16>, (Option<u16>, String)> {
        match target {
            Target::Tcp { host, port } => match tokio::net::TcpStream::connect((host.as_str(), *port)).await {
                Ok(_) => Ok(None),
                Err(e) => Err((None, format!("connect to {host}:{port} failed: {e}"))),
            },
            Target::Http(url) => {
                let res = self.http.get(url.clone()).send().await.map_err(|e| (None, describe(&e)))?;
                let status = res.status().as_u16();
                if !expect.status.accepts(status) {
                    return Err((Some(status), format!("status {status}, expected {}", expect.status)));
                }
                if let Some(needle) = &expect.body {
                    let body = read_prefix(res, BODY_LIMIT).await.map_err(|e| (Some(status), describe(&e)))?;
                    if !String::from_utf8_lossy(&body).contains(needle.as_str()) {
                        return Err((Some(status), format!("the body does not contain \"{needle}\"")));
                    }
                }
                Ok(Some(status))
            }
        }
    }
}

impl Default for Prober {
    fn default() -> Self {
        Prober::new()
    }
}

async fn read_prefix(mut res: reqwest::Response, limit: usize) -> Result<Vec<u8>, reqwest::Error> {
    let mut out = Vec::new();
    while out.len() < limit {
        match res.chunk().await? {
            Some(chunk) => out.extend_from_slice(&chunk),
            None => break,
        }
    }
    out.truncate(limit);
    Ok(out)
}

/// A short reason without the URL's query string (which may hold a secret).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "connection failed"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_body() || e.is_decode() {
        "reading the body failed"
    } else if e.is_redirect() {
        "redirect failed"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() { kind.to_owned() } else { format!("{kind}: {detail}") }
}

/// The timeout for a check's interval: below the interval, at most 10 s.
pub fn timeout_for(interval: Duration) -> Duration {
    let eighty = interval.mul_f64(0.8);
    eighty.min(Duration::from_secs(10)).max(Duration::from_millis(100))
}
