//! OpenCost: Kubernetes cost per namespace (or label, or any aggregate) pulled from OpenCost's `/allocation` API
//! one day at a time (`step=1d`) and imported like a billing file: one billing period per month of the cluster
//! (provider `OpenCost`, account = the configured cluster name), replaced whole on every pull, so pulling twice
//! changes nothing.
//!
//! Each allocation becomes a tag set the allocation rules read: `aggregate=namespace` gives a `namespace` tag
//! (namespace rules apply), `label:app` an `app` tag (a component tag key), and so on. OpenCost's own buckets:
//! `__idle__` (unused cluster capacity) is tagged `opencost=idle` and `__unmounted__` (volumes no pod mounts)
//! `opencost=unmounted`, so a shared rule can claim them; `__unallocated__` (no value for the aggregate) carries no
//! tag for it and lands in unallocated. Its cost is split by resource into cloud services (`Kubernetes CPU`,
//! `Kubernetes RAM`, ...), adjustments included, and whatever `totalCost` has beyond the parts is kept as
//! `Kubernetes other`, so the services add up to OpenCost's total. `null` (OpenCost's NaN and infinities) counts as
//! zero; numbers are read from their decimal text, never through floating-point arithmetic.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sea_orm::DatabaseConnection;
use serde_json::Value;

use super::CostError;
use super::formats::{Category, Line};
use super::import::{Aggregate, ImportSummary, Source};
use super::money::Amount;
use crate::config::CostSettings;

/// The provider name OpenCost's costs are kept under.
pub const PROVIDER: &str = "OpenCost";

/// Resource parts of an allocation: cloud service and the fields summed into it.
const PARTS: [(&str, &[&str]); 8] = [
    ("Kubernetes CPU", &["cpuCost", "cpuCostAdjustment"]),
    ("Kubernetes GPU", &["gpuCost", "gpuCostAdjustment"]),
    ("Kubernetes RAM", &["ramCost", "ramCostAdjustment"]),
    ("Kubernetes storage", &["pvCost", "pvCostAdjustment"]),
    ("Kubernetes network", &["networkCost", "networkCostAdjustment"]),
    ("Kubernetes load balancers", &["loadBalancerCost", "loadBalancerCostAdjustment"]),
    ("Kubernetes shared", &["sharedCost"]),
    ("External", &["externalCost"]),
];

/// Why a pull failed.
fn failed(message: String) -> CostError {
    CostError::File { file: "OpenCost /allocation".to_owned(), line: 0, column: None, message }
}

/// The days a pull covers on `today`, `[from, to)`: this month up to yesterday, from the month before during a
/// month's first three days (OpenCost's last days of a month settle late).
pub fn window(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = today.with_day(1).unwrap_or(today);
    let start = if today.day() <= 3 { first.pred_opt().and_then(|d| d.with_day(1)).unwrap_or(first) } else { first };
    (start, today)
}

/// OpenCost writes `NaN` and infinities as `null` today, but older versions wrote them bare, which is not JSON:
/// turns bare `NaN`, `Infinity`, `+Inf`, `-Inf` outside strings into `null`.
pub fn sanitize(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut in_string = false;
    let mut escaped = false;
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < body.len() {
        let c = bytes[i];
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
        } else if c == b'"' {
            in_string = true;
        } else {
            let rest = &body[i..];
            if let Some(word) =
                ["-Infinity", "+Infinity", "Infinity", "-Inf", "+Inf", "NaN"].iter().find(|w| rest.starts_with(**w))
            {
                out.push_str("null");
                i += word.len();
                continue;
            }
        }
        // Copy the whole UTF-8 character.
        let len = body[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&body[i..i + len]);
        i += len;
    }
    out
}

/// A JSON number as an exact amount (from its shortest decimal text); `null`, missing or non-numbers are zero.
fn money(v: Option<&Value>) -> Result<Amount, String> {
    match v {
        Some(Value::Number(n)) => Amount::parse(&n.to_string()).map_err(|e| e.to_string()),
        Some(Value::String(s)) if matches!(s.as_str(), "NaN" | "Inf" | "+Inf" | "-Inf") => Ok(Amount::ZERO),
        _ => Ok(Amount::ZERO),
    }
}

/// The tags one allocation's name gives, for the aggregate it was asked with.
pub fn tags_of(name: &str, aggregate: &str) -> Vec<(String, String)> {
    let fields: Vec<&str> = aggregate.split(',').map(str::trim).collect();
    let mut tags = Vec::new();
    if name == "__idle__" || name.ends_with("/__idle__") {
        tags.push(("opencost".to_owned(), "idle".to_owned()));
        return tags;
    }
    let parts: Vec<&str> = if fields.len() > 1 { name.splitn(fields.len(), '/').collect() } else { vec![name] };
    for (field, value) in fields.iter().zip(parts) {
        let key = field
            .strip_prefix("label:")
            .or_else(|| field.strip_prefix("annotation:"))
            .unwrap_or(field)
            .trim()
            .to_lowercase();
        // OpenCost 1.10x names label groups `app=storefront`; later versions just `storefront`.
        let value = value.strip_prefix(&format!("{key}=")).unwrap_or(value).trim();
        match value {
            "" | "__unallocated__" => {}
            "__unmounted__" => tags.push(("opencost".to_owned(), "unmounted".to_owned())),
            v => tags.push((key, v.to_owned())),
        }
    }
    tags.sort();
    tags.dedup_by(|a, b| a.0 == b.0);
    tags
}

/// Reads an `/allocation` answer (`{"code": 200, "data": [{name: allocation}, ...]}`) into lines.
pub fn lines(body: &str, settings: &CostSettings) -> Result<Vec<Line>, CostError> {
    let doc: Value =
        serde_json::from_str(&sanitize(body)).map_err(|e| failed(format!("the answer is not OpenCost's JSON: {e}")))?;
    if let Some(code) = doc.get("code").and_then(Value::as_i64)
        && code != 200
    {
        let message = doc.get("message").and_then(Value::as_str).unwrap_or("no message");
        return Err(failed(format!("OpenCost answered code {code}: {message}")));
    }
    let Some(steps) = doc.get("data").and_then(Value::as_array) else {
        return Err(failed("the answer has no `data` array".to_owned()));
    };
    let mut out = Vec::new();
    for step in steps {
        let Some(allocations) = step.as_object() else { continue };
        for (name, a) in allocations {
            let start = a
                .pointer("/window/start")
                .or_else(|| a.get("start"))
                .and_then(Value::as_str)
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .ok_or_else(|| failed(format!("allocation `{name}` has no window start")))?;
            let day = start.with_timezone(&Utc).date_naive();
            let period_start = day.with_day(1).unwrap_or(day);
            let tags = tags_of(name, &settings.opencost_aggregate);
            let bad = |e: String| failed(format!("allocation `{name}` on {day}: {e}"));
            let mut parts = Amount::ZERO;
            let line = |service: &str, amount: Amount| Line {
                provider: PROVIDER.to_owned(),
                account: settings.opencost_cluster.clone(),
                sub_account: settings.opencost_cluster.clone(),
                period_start,
                day,
                currency: settings.opencost_currency.clone(),
                service: service.to_owned(),
                category: Category::Usage,
                billed: amount,
                effective: amount,
                tags: tags.clone(),
            };
            for (service, fields) in PARTS {
                let mut sum = Amount::ZERO;
                for f in fields {
                    sum += money(a.get(*f)).map_err(bad)?;
                }
                if !sum.is_zero() {
                    parts += sum;
                    out.push(line(service, sum));
                }
            }
            let total = match a.get("totalCost") {
                Some(Value::Number(_)) => money(a.get("totalCost")).map_err(bad)?,
                _ => parts,
            };
            if total != parts {
                out.push(line("Kubernetes other", total - parts));
            }
        }
    }
    Ok(out)
}

/// Asks OpenCost for the allocations of `[from, to)`, a day per step.
pub async fn fetch(
    http: &reqwest::Client,
    settings: &CostSettings,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<String, CostError> {
    let Some(base) = &settings.opencost_url else {
        return Err(failed("PORTOLAN_OPENCOST_URL is not set".to_owned()));
    };
    let mut url = base.join("allocation").map_err(|e| failed(e.to_string()))?;
    url.query_pairs_mut()
        .append_pair("window", &format!("{from}T00:00:00Z,{to}T00:00:00Z"))
        .append_pair("aggregate", &settings.opencost_aggregate)
        .append_pair("step", "1d")
        .append_pair("accumulate", "false")
        .append_pair("includeIdle", "true");
    let res = http.get(url).send().await.map_err(|e| failed(format!("cannot reach OpenCost: {e}")))?;
    let status = res.status();
    let body = res.text().await.map_err(|e| failed(format!("reading OpenCost's answer: {e}")))?;
    if !status.is_success() {
        // A bad parameter answers plain text, sometimes followed by a JSON envelope: show the first line.
        let first: String = body.lines().next().unwrap_or_default().chars().take(300).collect();
        return Err(failed(format!("OpenCost answered {status}: {first}")));
    }
    Ok(body)
}

/// Pulls the window of `today` and replaces the months it covers. A failed pull changes nothing.
pub async fn pull(
    db: &DatabaseConnection,
    config: &crate::Config,
    http: &reqwest::Client,
    today: NaiveDate,
    by: &str,
) -> Result<ImportSummary, CostError> {
    let (from, to) = window(today);
    let body = fetch(http, &config.cost, from, to).await?;
    let mut agg = Aggregate::default();
    let source = format!("opencost {from}..{to}");
    for line in lines(&body, &config.cost)? {
        if line.day < from || line.day >= to {
            continue;
        }
        agg.add(line, "opencost", &source).map_err(|column| failed(format!("{column}: the sum grows too large")))?;
    }
    let sources = [Source { path: std::path::PathBuf::new(), name: source }];
    super::import::store(db, config, &agg, &sources, by).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(aggregate: &str) -> CostSettings {
        CostSettings { opencost_aggregate: aggregate.to_owned(), ..CostSettings::default() }
    }

    #[test]
    fn names_become_tags_the_rules_read() {
        assert_eq!(tags_of("payments", "namespace"), [("namespace".to_owned(), "payments".to_owned())]);
        assert_eq!(tags_of("app=storefront", "label:app"), [("app".to_owned(), "storefront".to_owned())]);
        assert_eq!(tags_of("storefront", "label:app"), [("app".to_owned(), "storefront".to_owned())]);
        assert_eq!(
            tags_of("shop/app=storefront", "namespace,label:app"),
            [("app".to_owned(), "storefront".to_owned()), ("namespace".to_owned(), "shop".to_owned())]
        );
        assert_eq!(tags_of("__unallocated__", "label:app"), []);
        assert_eq!(
            tags_of("shop/__unallocated__", "namespace,label:app"),
            [("namespace".to_owned(), "shop".to_owned())]
        );
        assert_eq!(tags_of("__idle__", "namespace"), [("opencost".to_owned(), "idle".to_owned())]);
        assert_eq!(tags_of("cluster-one/__idle__", "namespace"), [("opencost".to_owned(), "idle".to_owned())]);
        assert_eq!(tags_of("__unmounted__", "namespace"), [("opencost".to_owned(), "unmounted".to_owned())]);
    }

    #[test]
    fn bare_nan_and_infinities_become_null_outside_strings() {
        assert_eq!(
            sanitize(r#"{"a":NaN,"b":-Inf,"c":"NaN in text","d":[+Inf,1.5],"e":"\"NaN"}"#),
            r#"{"a":null,"b":null,"c":"NaN in text","d":[null,1.5],"e":"\"NaN"}"#
        );
        assert_eq!(sanitize("{\"ü\":\"é\"}"), "{\"ü\":\"é\"}");
    }

    #[test]
    fn parts_add_up_to_the_total_and_nulls_count_as_zero() {
        let body = r#"{"code":200,"status":"success","data":[{"shop":{"name":"shop",
            "properties":{"cluster":"c1","namespace":"shop"},
            "window":{"start":"2026-11-02T00:00:00Z","end":"2026-11-03T00:00:00Z"},
            "cpuCost":1.25,"cpuCostAdjustment":-0.05,"ramCost":0.5,"ramCostAdjustment":null,"gpuCost":null,
            "pvCost":0.1,"networkCost":0,"loadBalancerCost":0,"sharedCost":0,"externalCost":0,
            "totalCost":1.80001}}]}"#;
        let lines = lines(body, &settings("namespace")).unwrap();
        let by_service: Vec<(String, String)> =
            lines.iter().map(|l| (l.service.clone(), l.effective.to_string())).collect();
        assert_eq!(
            by_service,
            [
                ("Kubernetes CPU".to_owned(), "1.20".to_owned()),
                ("Kubernetes RAM".to_owned(), "0.50".to_owned()),
                ("Kubernetes storage".to_owned(), "0.10".to_owned()),
                ("Kubernetes other".to_owned(), "0.00001".to_owned()),
            ]
        );
        assert!(lines.iter().all(|l| l.day == NaiveDate::from_ymd_opt(2026, 11, 2).unwrap()));
        assert_eq!(lines[0].tags, [("namespace".to_owned(), "shop".to_owned())]);
        let total: Amount = lines.iter().map(|l| l.billed).sum();
        assert_eq!(total, Amount::parse("1.80001").unwrap());
    }

    #[test]
    fn an_error_envelope_is_reported() {
        let err =
            lines(r#"{"code":500,"status":"","data":null,"message":"Error: illegal window"}"#, &settings("namespace"))
                .unwrap_err();
        assert!(err.to_string().contains("code 500: Error: illegal window"), "{err}");
    }

    #[test]
    fn a_pull_rereads_the_last_month_in_a_months_first_days() {
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        assert_eq!(window(d(11, 20)), (d(11, 1), d(11, 20)));
        assert_eq!(window(d(12, 2)), (d(11, 1), d(12, 2)));
        assert_eq!(window(d(1, 1).with_year(2027).unwrap()), (d(12, 1), d(1, 1).with_year(2027).unwrap()));
    }
}
