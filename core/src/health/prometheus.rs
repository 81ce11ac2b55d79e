//! Prometheus and Alertmanager clients: range queries for panels, instant queries for PromQL SLOs, firing alerts,
//! the server's retention, and Alertmanager's active alerts. Every failure (a `bad_data` answer, a timeout, an
//! unreachable server, `NaN` values) becomes a message for the panel, never a failed page.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use url::Url;

/// The Backstage annotation listing panel queries: `expr|legendLabel,expr2`.
pub const RULE_ANNOTATION: &str = "prometheus.io/rule";
/// The Backstage annotation naming the entity's alerts (comma-separated alert names).
pub const ALERT_ANNOTATION: &str = "prometheus.io/alert";
/// PromQL counting bad events over `{{window}}` (Sloth style).
pub const SLO_ERROR_ANNOTATION: &str = "portolan.dev/slo-error-query";
/// PromQL counting all events over `{{window}}`.
pub const SLO_TOTAL_ANNOTATION: &str = "portolan.dev/slo-total-query";

/// How long a call to Prometheus or Alertmanager may take.
const TIMEOUT: StdDuration = StdDuration::from_secs(5);

/// One panel query: the expression and the label naming each series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PanelQuery {
    /// PromQL.
    pub expr: String,
    /// Label whose value names each line.
    pub legend: Option<String>,
}

/// Splits `prometheus.io/rule` into queries: commas separate them except inside `()`, `{}` and `[]`, and `|label`
/// at the end names the legend label.
pub fn panel_queries(annotation: &str) -> Vec<PanelQuery> {
    let mut parts = Vec::new();
    let (mut depth, mut quote, mut cur) = (0i32, None::<char>, String::new());
    for ch in annotation.chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(ch),
            (None, '(' | '{' | '[') => depth += 1,
            (None, ')' | '}' | ']') => depth -= 1,
            (None, ',') if depth <= 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    parts.push(cur);
    parts
        .into_iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .map(|p| match p.rsplit_once('|') {
            Some((expr, legend))
                if !legend.trim().is_empty()
                    && legend.trim().chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                PanelQuery { expr: expr.trim().to_owned(), legend: Some(legend.trim().to_owned()) }
            }
            _ => PanelQuery { expr: p, legend: None },
        })
        .collect()
}

/// One line of a panel.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The series' labels.
    pub labels: BTreeMap<String, String>,
    /// (time, value) pairs; `NaN` and infinities are left out.
    pub points: Vec<(DateTime<Utc>, f64)>,
}

/// A firing or pending alert as Prometheus or Alertmanager reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Labels (with `alertname`).
    pub labels: BTreeMap<String, String>,
    /// Annotations (`summary`, `runbook_url`).
    pub annotations: BTreeMap<String, String>,
    /// `firing`, `pending`, `active`, `suppressed`.
    pub state: String,
    /// Since when.
    pub since: Option<DateTime<Utc>>,
}

impl Alert {
    /// `alertname`.
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }
}

/// Why Prometheus gave nothing usable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PromError {
    /// Prometheus answered with an error (`bad_data`, `timeout`, `execution`).
    #[error("Prometheus refused the query ({kind}): {message}")]
    Api {
        /// `errorType`.
        kind: String,
        /// `error`.
        message: String,
    },
    /// No answer, or not JSON.
    #[error("Prometheus could not be read: {0}")]
    Unreachable(String),
}

/// A Prometheus (or Alertmanager) server.
#[derive(Clone, Debug)]
pub struct Client {
    base: Url,
    http: reqwest::Client,
}

fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    let secs = v.as_f64()?;
    DateTime::<Utc>::from_timestamp_millis((secs * 1000.0).round() as i64)
}

fn parse_value(v: &Value) -> Option<f64> {
    let f: f64 = v.as_str()?.parse().ok()?;
    f.is_finite().then_some(f)
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned()))).collect())
        .unwrap_or_default()
}

fn rfc3339(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?).ok().map(|d| d.with_timezone(&Utc))
}

/// Reads Prometheus's envelope: `data` on success, the error otherwise.
pub fn envelope(body: &Value) -> Result<&Value, PromError> {
    match body.get("status").and_then(Value::as_str) {
        Some("success") => body.get("data").ok_or_else(|| PromError::Unreachable("an answer without data".into())),
        Some("error") => Err(PromError::Api {
            kind: body.get("errorType").and_then(Value::as_str).unwrap_or("error").to_owned(),
            message: body.get("error").and_then(Value::as_str).unwrap_or("").to_owned(),
        }),
        _ => Err(PromError::Unreachable("not a Prometheus API answer".into())),
    }
}

/// Reads a `matrix` result.
pub fn matrix(data: &Value) -> Vec<Series> {
    data.get("result")
        .and_then(Value::as_array)
        .map(|rs| {
            rs.iter()
                .map(|r| Series {
                    labels: string_map(&r["metric"]),
                    points: r["values"]
                        .as_array()
                        .map(|vs| vs.iter().filter_map(|p| Some((parse_time(&p[0])?, parse_value(&p[1])?))).collect())
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Reads the first value of a `vector` or `scalar` result (`None` when empty or not a number).
pub fn first_value(data: &Value) -> Option<f64> {
    match data.get("resultType").and_then(Value::as_str) {
        Some("scalar") => parse_value(&data["result"][1]),
        _ => data["result"].as_array()?.first().and_then(|r| parse_value(&r["value"][1])),
    }
}

/// Reads Prometheus's `/api/v1/alerts` data.
pub fn prometheus_alerts(data: &Value) -> Vec<Alert> {
    data.get("alerts")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|a| Alert {
                    labels: string_map(&a["labels"]),
                    annotations: string_map(&a["annotations"]),
                    state: a["state"].as_str().unwrap_or("firing").to_owned(),
                    since: rfc3339(&a["activeAt"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Reads Alertmanager's `/api/v2/alerts` answer (and the alerts of its webhook payload).
pub fn alertmanager_alerts(body: &Value) -> Vec<Alert> {
    body.as_array()
        .map(|a| {
            a.iter()
                .map(|a| Alert {
                    labels: string_map(&a["labels"]),
                    annotations: string_map(&a["annotations"]),
                    state: a["status"]["state"]
                        .as_str()
                        .or_else(|| a["status"].as_str())
                        .unwrap_or("active")
                        .to_owned(),
                    since: rfc3339(&a["startsAt"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Reads a Prometheus duration (`15d`, `1y`, `2w3d`, `90m`); for a retention like `15d or 10GiB` the time part.
pub fn parse_prom_duration(text: &str) -> Option<Duration> {
    let t = text.split(" or ").next()?.trim();
    if t.is_empty() {
        return None;
    }
    let mut total = Duration::zero();
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        total += match &rest[..unit_len] {
            "ms" => Duration::milliseconds(n),
            "s" => Duration::seconds(n),
            "m" => Duration::minutes(n),
            "h" => Duration::hours(n),
            "d" => Duration::days(n),
            "w" => Duration::weeks(n),
            "y" => Duration::days(365 * n),
            _ => return None,
        };
        rest = &rest[unit_len..];
    }
    Some(total)
}

impl Client {
    /// A client for the server at `base`.
    pub fn new(base: Url) -> Client {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("portolan/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Client { base, http }
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, PromError> {
        let url = self.base.join(path).map_err(|e| PromError::Unreachable(e.to_string()))?;
        let res = self.http.get(url).query(query).send().await.map_err(|e| {
            PromError::Unreachable(if e.is_timeout() { "no answer within 5 s".to_owned() } else { without_url(&e) })
        })?;
        let status = res.status();
        let text = res.text().await.map_err(|e| PromError::Unreachable(without_url(&e)))?;
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => Ok(v),
            Err(_) => Err(PromError::Unreachable(format!("status {status}, not JSON"))),
        }
    }

    /// `/api/v1/query_range`.
    pub async fn query_range(
        &self,
        expr: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: Duration,
    ) -> Result<Vec<Series>, PromError> {
        let body = self
            .get(
                "api/v1/query_range",
                &[
                    ("query", expr.to_owned()),
                    ("start", start.timestamp().to_string()),
                    ("end", end.timestamp().to_string()),
                    ("step", format!("{}s", step.num_seconds().max(1))),
                ],
            )
            .await?;
        Ok(matrix(envelope(&body)?))
    }

    /// `/api/v1/query`: the first value.
    pub async fn query(&self, expr: &str, at: DateTime<Utc>) -> Result<Option<f64>, PromError> {
        let body =
            self.get("api/v1/query", &[("query", expr.to_owned()), ("time", at.timestamp().to_string())]).await?;
        Ok(first_value(envelope(&body)?))
    }

    /// `/api/v1/alerts`.
    pub async fn alerts(&self) -> Result<Vec<Alert>, PromError> {
        let body = self.get("api/v1/alerts", &[]).await?;
        Ok(prometheus_alerts(envelope(&body)?))
    }

    /// How long the server keeps data (`/api/v1/status/runtimeinfo`'s `storageRetention`).
    pub async fn retention(&self) -> Result<Option<Duration>, PromError> {
        let body = self.get("api/v1/status/runtimeinfo", &[]).await?;
        Ok(envelope(&body)?.get("storageRetention").and_then(Value::as_str).and_then(parse_prom_duration))
    }

    /// Alertmanager's `/api/v2/alerts` (active ones, silenced and inhibited left out).
    pub async fn active_alerts(&self) -> Result<Vec<Alert>, PromError> {
        let body = self
            .get(
                "api/v2/alerts",
                &[("active", "true".into()), ("silenced", "false".into()), ("inhibited", "false".into())],
            )
            .await?;
        if body.is_array() {
            Ok(alertmanager_alerts(&body))
        } else {
            Err(PromError::Unreachable("Alertmanager answered something other than a list of alerts".into()))
        }
    }
}

fn without_url(e: &reqwest::Error) -> String {
    let mut source = std::error::Error::source(e);
    let mut detail = String::from("request failed");
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    detail
}

/// Puts a window into a Sloth-style query (`{{window}}` or `{{ window }}`).
pub fn with_window(query: &str, window: Duration) -> String {
    let w = if window.num_days() >= 1 && window.num_hours() % 24 == 0 {
        format!("{}d", window.num_days())
    } else if window.num_hours() >= 1 && window.num_minutes() % 60 == 0 {
        format!("{}h", window.num_hours())
    } else {
        format!("{}m", window.num_minutes().max(1))
    };
    query.replace("{{window}}", &w).replace("{{ window }}", &w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn panel_queries_split_on_top_level_commas_only() {
        let q = panel_queries("sum by (code, method)(rate(http_requests_total[5m]))|code, up{job=\"a,b\"}");
        assert_eq!(q.len(), 2, "{q:?}");
        assert_eq!(q[0].expr, "sum by (code, method)(rate(http_requests_total[5m]))");
        assert_eq!(q[0].legend.as_deref(), Some("code"));
        assert_eq!(q[1].expr, "up{job=\"a,b\"}");
        assert_eq!(q[1].legend, None);
        assert!(panel_queries("  ").is_empty());
    }

    #[test]
    fn matrices_leave_nan_and_infinities_out() {
        let body = json!({"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"instance": "a"}, "values": [[1700000000, "1"], [1700000060, "NaN"], [1700000120, "+Inf"], [1700000180.5, "0.5"]]}
        ]}});
        let s = matrix(envelope(&body).unwrap());
        assert_eq!(s[0].labels["instance"], "a");
        assert_eq!(s[0].points.len(), 2);
        assert_eq!(s[0].points[1].1, 0.5);
        assert_eq!(s[0].points[1].0.timestamp_millis(), 1_700_000_180_500);
    }

    #[test]
    fn errors_keep_prometheus_words() {
        let body = json!({"status": "error", "errorType": "bad_data", "error": "parse error at char 5"});
        let e = envelope(&body).unwrap_err();
        assert_eq!(e.to_string(), "Prometheus refused the query (bad_data): parse error at char 5");
        assert!(matches!(envelope(&json!({"hello": 1})), Err(PromError::Unreachable(_))));
    }

    #[test]
    fn instant_values_read_vectors_and_scalars() {
        let v = json!({"resultType": "vector", "result": [{"metric": {}, "value": [1700000000, "0.0123"]}]});
        assert_eq!(first_value(&v), Some(0.0123));
        assert_eq!(first_value(&json!({"resultType": "scalar", "result": [1700000000, "2"]})), Some(2.0));
        assert_eq!(first_value(&json!({"resultType": "vector", "result": []})), None);
        assert_eq!(first_value(&json!({"resultType": "vector", "result": [{"value": [1, "NaN"]}]})), None);
    }

    #[test]
    fn alerts_from_both_apis() {
        let p = prometheus_alerts(
            &json!({"alerts": [{"labels": {"alertname": "PaymentsDown", "service": "payments-api"},
            "annotations": {"runbook_url": "http://x/r"}, "state": "firing", "activeAt": "2026-12-01T10:00:00.123Z", "value": "0e+00"}]}),
        );
        assert_eq!(p[0].name(), "PaymentsDown");
        assert_eq!(p[0].state, "firing");
        assert!(p[0].since.is_some());
        let a = alertmanager_alerts(
            &json!([{"labels": {"alertname": "X"}, "annotations": {}, "startsAt": "2026-12-01T10:00:00Z",
            "status": {"state": "active", "silencedBy": [], "inhibitedBy": []}, "fingerprint": "abc"}]),
        );
        assert_eq!(a[0].state, "active");
    }

    #[test]
    fn retention_and_windows_read_prometheus_durations() {
        assert_eq!(parse_prom_duration("15d"), Some(Duration::days(15)));
        assert_eq!(parse_prom_duration("2w3d or 10GiB"), Some(Duration::days(17)));
        assert_eq!(parse_prom_duration("1y"), Some(Duration::days(365)));
        assert_eq!(parse_prom_duration("soon"), None);
        assert_eq!(with_window("sum(rate(x[{{window}}]))", Duration::days(30)), "sum(rate(x[30d]))");
        assert_eq!(with_window("rate(x[{{ window }}])", Duration::hours(6)), "rate(x[6h])");
        assert_eq!(with_window("rate(x[{{window}}])", Duration::minutes(5)), "rate(x[5m])");
    }
}
