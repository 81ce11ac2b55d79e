//! Request counts and latencies by route, and database pool figures, in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::ServerState;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// In-process metrics. Routes are the matched route templates (`/people/{login}`), never raw paths, so the
/// number of series stays bounded.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Records one finished request.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((method.to_owned(), route.to_owned(), status)).or_default() += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            let h = l.entry(route.to_owned()).or_default();
            for (i, bound) in BUCKETS.iter().enumerate() {
                if seconds <= *bound {
                    h.counts[i] += 1;
                }
            }
            h.sum += seconds;
            h.count += 1;
        }
    }

    /// Renders every series, plus the given pool figures.
    pub fn render(&self, pool: portolan_core::db::PoolStats, backend: &str) -> String {
        let mut out = String::new();
        out.push_str("# HELP portolan_http_requests_total HTTP requests by method, route and status.\n");
        out.push_str("# TYPE portolan_http_requests_total counter\n");
        if let Ok(r) = self.requests.lock() {
            for ((method, route, status), n) in r.iter() {
                let _ = writeln!(
                    out,
                    "portolan_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                    escape(method),
                    escape(route)
                );
            }
        }
        out.push_str("# HELP portolan_http_request_duration_seconds HTTP request latency by route.\n");
        out.push_str("# TYPE portolan_http_request_duration_seconds histogram\n");
        if let Ok(l) = self.latency.lock() {
            for (route, h) in l.iter() {
                let route = escape(route);
                for (bound, n) in BUCKETS.iter().zip(h.counts.iter()) {
                    let _ = writeln!(
                        out,
                        "portolan_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                    );
                }
                let _ = writeln!(
                    out,
                    "portolan_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(out, "portolan_http_request_duration_seconds_sum{{route=\"{route}\"}} {}", h.sum);
                let _ = writeln!(out, "portolan_http_request_duration_seconds_count{{route=\"{route}\"}} {}", h.count);
            }
        }
        out.push_str("# HELP portolan_db_pool_connections Database pool connections by state.\n");
        out.push_str("# TYPE portolan_db_pool_connections gauge\n");
        let in_use = pool.size.saturating_sub(pool.idle);
        let _ = writeln!(out, "portolan_db_pool_connections{{backend=\"{backend}\",state=\"idle\"}} {}", pool.idle);
        let _ = writeln!(out, "portolan_db_pool_connections{{backend=\"{backend}\",state=\"in_use\"}} {in_use}");
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Middleware: times each request and records it under its matched route.
pub async fn record(State(state): State<ServerState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let res = next.run(req).await;
    let route = route.unwrap_or_else(|| "unmatched".to_owned());
    state.metrics.observe(&method, &route, res.status().as_u16(), start.elapsed().as_secs_f64());
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe("GET", "/", 200, 0.003);
        m.observe("GET", "/", 200, 0.2);
        m.observe("GET", "/", 500, 20.0);
        let text = m.render(portolan_core::db::PoolStats { size: 3, idle: 1 }, "sqlite");
        assert!(text.contains("portolan_http_requests_total{method=\"GET\",route=\"/\",status=\"200\"} 2"), "{text}");
        assert!(text.contains("portolan_http_requests_total{method=\"GET\",route=\"/\",status=\"500\"} 1"));
        assert!(text.contains("portolan_http_request_duration_seconds_bucket{route=\"/\",le=\"0.005\"} 1"));
        assert!(text.contains("portolan_http_request_duration_seconds_bucket{route=\"/\",le=\"0.25\"} 2"));
        assert!(text.contains("portolan_http_request_duration_seconds_bucket{route=\"/\",le=\"+Inf\"} 3"));
        assert!(text.contains("portolan_db_pool_connections{backend=\"sqlite\",state=\"in_use\"} 2"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }
}
