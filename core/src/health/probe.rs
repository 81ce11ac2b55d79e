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
    /// When the server's TLS certificate expires (HTTPS targets).
    pub tls_expires_at: Option<DateTime<Utc>>,
}

/// An accepted answer: its HTTP status and its certificate's expiry.
type Answer = (Option<u16>, Option<DateTime<Utc>>);

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
            .tls_info(true)
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
                tls_expires_at: None,
            },
            Ok(Err((status_code, error))) => ProbeResult {
                at,
                outcome: Outcome::Down,
                latency_ms,
                status_code,
                error: Some(error),
                tls_expires_at: None,
            },
            Ok(Ok((status_code, tls_expires_at))) => match expect.degraded_after {
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
                    tls_expires_at,
                },
                _ => ProbeResult { at, outcome: Outcome::Up, latency_ms, status_code, error: None, tls_expires_at },
            },
        }
    }

    async fn attempt(&self, target: &Target, expect: &Expect) -> Result<Answer, (Option<u16>, String)> {
        match target {
            Target::Tcp { host, port } => match tokio::net::TcpStream::connect((host.as_str(), *port)).await {
                Ok(_) => Ok((None, None)),
                Err(e) => Err((None, format!("connect to {host}:{port} failed: {e}"))),
            },
            Target::Http(url) => {
                let res = self.http.get(url.clone()).send().await.map_err(|e| (None, describe(&e)))?;
                let status = res.status().as_u16();
                let tls = res
                    .extensions()
                    .get::<reqwest::tls::TlsInfo>()
                    .and_then(|t| t.peer_certificate())
                    .and_then(certificate_not_after);
                if !expect.status.accepts(status) {
                    return Err((Some(status), format!("status {status}, expected {}", expect.status)));
                }
                if let Some(needle) = &expect.body {
                    let body = read_prefix(res, BODY_LIMIT).await.map_err(|e| (Some(status), describe(&e)))?;
                    if !String::from_utf8_lossy(&body).contains(needle.as_str()) {
                        return Err((Some(status), format!("the body does not contain \"{needle}\"")));
                    }
                }
                Ok((Some(status), tls))
            }
        }
    }
}

/// One DER element: (tag, contents, what follows).
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// A certificate's `notAfter` (X.509 validity), read from its DER form.
pub fn certificate_not_after(cert: &[u8]) -> Option<DateTime<Utc>> {
    let (_, certificate, _) = der(cert)?;
    let (_, mut tbs, _) = der(certificate)?;
    // [0] version (optional), serialNumber, signature, issuer, validity.
    let (tag, _, rest) = der(tbs)?;
    if tag == 0xa0 {
        tbs = rest;
        let (_, _, rest) = der(tbs)?; // serial
        tbs = rest;
    } else {
        tbs = rest; // that was the serial
    }
    let (_, _, rest) = der(tbs)?; // signature algorithm
    let (_, _, rest) = der(rest)?; // issuer
    let (_, validity, _) = der(rest)?;
    let (_, _, rest) = der(validity)?; // notBefore
    let (tag, time, _) = der(rest)?;
    let text = std::str::from_utf8(time).ok()?.trim_end_matches('Z');
    let full = match tag {
        // UTCTime: YYMMDDHHMMSS, years 50-99 are 19xx.
        0x17 if text.len() == 12 => {
            let yy: u32 = text[..2].parse().ok()?;
            format!("{}{text}", if yy >= 50 { "19" } else { "20" })
        }
        0x18 if text.len() == 14 => text.to_owned(),
        _ => return None,
    };
    chrono::NaiveDateTime::parse_from_str(&full, "%Y%m%d%H%M%S").ok().map(|t| t.and_utc())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate made with `openssl req -x509 -days 45` (notAfter Jan 18 09:24:50 2027 GMT).
    const CERT: &str = "MIIBfzCCASWgAwIBAgIUSBRMgylWi0v2bPDIDdPLrTtfaj4wCgYIKoZIzj0EAwIwFTETMBEGA1UEAwwKcHJvYmUudGVzdDAeFw0yNjEyMDQwOTI0NTBaFw0yNzAxMTgwOTI0NTBaMBUxEzARBgNVBAMMCnByb2JlLnRlc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARbjU/gsJPzWC9/L0fYeQa7tfLPVJcyDzoz5caajlzdeoAxW9Lq3ASHSUy8fTxpneemIsUOVmLcWdH7uke8mZu3o1MwUTAdBgNVHQ4EFgQUmpXzLRcOtN4ZH8Z6pwBQJ9dSoaQwHwYDVR0jBBgwFoAUmpXzLRcOtN4ZH8Z6pwBQJ9dSoaQwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEA+yxqJjuLqfvpW5uHjGyJmoOx7jrNxoNeGUo4r7CmgnUCIDR1osk/+ybvt0UL/uuRzpoKa0QFemfsPpf6v8okO1J4";

    #[test]
    fn certificate_expiry_is_read_from_der() {
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD.decode(CERT).unwrap();
        let at = certificate_not_after(&der).unwrap();
        assert_eq!(at.to_rfc3339(), "2027-01-18T09:24:50+00:00");
        assert_eq!(certificate_not_after(&der[..40]), None, "a cut certificate reads as nothing, never panics");
        assert_eq!(certificate_not_after(b""), None);
    }

    #[test]
    fn timeouts_stay_below_the_interval() {
        assert_eq!(timeout_for(Duration::from_secs(1)), Duration::from_millis(800));
        assert_eq!(timeout_for(Duration::from_secs(60)), Duration::from_secs(10));
    }
}
