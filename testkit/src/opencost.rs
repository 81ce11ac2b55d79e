//! A fake OpenCost answering `GET /allocation` the way OpenCost 1.10x does: the `{"code", "status", "data"}`
//! envelope with one map per `step` keyed by allocation name (`app=storefront` for label aggregates), each
//! allocation with its `properties`, `window`, per-resource costs and `totalCost`; NaN written as `null`; an
//! `__idle__` row when `includeIdle=true`; and for a bad `window` the real answer: status 400, `text/plain`, the
//! message followed by a JSON error envelope.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

/// One allocation's costs on one day.
#[derive(Clone, Debug, PartialEq)]
pub struct Allocation {
    /// The day, `2026-11-02`.
    pub day: String,
    /// Its name as OpenCost keys it (`payments`, `app=storefront`, `__idle__`, `__unallocated__`).
    pub name: String,
    /// `cpuCost`, `ramCost`, `pvCost`, ... as JSON values (`null` for OpenCost's NaN).
    pub costs: Vec<(&'static str, Value)>,
    /// `totalCost` (as OpenCost computes it, possibly `null`).
    pub total: Value,
}

#[derive(Default)]
struct Inner {
    allocations: Mutex<Vec<Allocation>>,
    requests: Mutex<Vec<Vec<(String, String)>>>,
}

/// A running fake.
#[derive(Clone)]
pub struct FakeOpenCost {
    inner: Arc<Inner>,
    addr: SocketAddr,
}

impl FakeOpenCost {
    /// Starts on an ephemeral loopback port, serving `allocations`.
    pub async fn start(allocations: Vec<Allocation>) -> FakeOpenCost {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake OpenCost");
        let addr = listener.local_addr().expect("local address");
        let inner = Arc::new(Inner { allocations: Mutex::new(allocations), requests: Mutex::default() });
        let app = Router::new().route("/allocation", get(allocation)).with_state(inner.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake OpenCost server");
        });
        FakeOpenCost { inner, addr }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replaces what it serves (OpenCost's numbers settle over a few days).
    pub fn set(&self, allocations: Vec<Allocation>) {
        *self.inner.allocations.lock().expect("lock") = allocations;
    }

    /// The query parameters of every request so far.
    pub fn requests(&self) -> Vec<Vec<(String, String)>> {
        self.inner.requests.lock().expect("lock").clone()
    }
}

/// `2026-11-01T00:00:00Z,2026-11-08T00:00:00Z` into its two days.
fn parse_window(w: &str) -> Option<(String, String)> {
    let (a, b) = w.split_once(',')?;
    let day = |t: &str| -> Option<String> {
        let d = t.strip_suffix("T00:00:00Z")?;
        (d.len() == 10 && d.as_bytes()[4] == b'-' && d.as_bytes()[7] == b'-').then(|| d.to_owned())
    };
    let (a, b) = (day(a)?, day(b)?);
    (a < b).then_some((a, b))
}

fn next_day(day: &str) -> String {
    // Only ever used on well-formed days within a test's range.
    let (y, m, d): (i32, u32, u32) =
        (day[..4].parse().unwrap_or(2026), day[5..7].parse().unwrap_or(1), day[8..10].parse().unwrap_or(1));
    let days_in = |y: i32, m: u32| match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let (y, m, d) = if d < days_in(y, m) {
        (y, m, d + 1)
    } else if m < 12 {
        (y, m + 1, 1)
    } else {
        (y + 1, 1, 1)
    };
    format!("{y:04}-{m:02}-{d:02}")
}

async fn allocation(State(inner): State<Arc<Inner>>, Query(params): Query<Vec<(String, String)>>) -> Response {
    inner.requests.lock().expect("lock").push(params.clone());
    let get = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let window = get("window").unwrap_or_default();
    let Some((from, to)) = parse_window(&window) else {
        // What OpenCost 1.10x sends: http.Error's text, then (the handler goes on) the JSON error envelope.
        let body = format!(
            "Invalid 'window' parameter: illegal window: {window}\n{}",
            json!({"code": 500, "status": "", "data": null, "message": "Error: illegal window: [nil, nil)"})
        );
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")],
            body,
        )
            .into_response();
    };
    let include_idle = get("includeIdle").as_deref() == Some("true");
    let allocations = inner.allocations.lock().expect("lock").clone();
    let mut steps = Vec::new();
    let mut day = from.clone();
    while day < to {
        let end = next_day(&day);
        let mut set = Map::new();
        for a in allocations.iter().filter(|a| a.day == day) {
            if a.name == "__idle__" && !include_idle {
                continue;
            }
            let mut obj = json!({
                "name": a.name,
                "properties": {"cluster": "cluster-one", "node": "ip-10-0-1-17.ec2.internal"},
                "window": {"start": format!("{day}T00:00:00Z"), "end": format!("{end}T00:00:00Z")},
                "start": format!("{day}T00:00:00Z"),
                "end": format!("{end}T00:00:00Z"),
                "minutes": 1440.0,
                "cpuCores": 0.5, "cpuCoreRequestAverage": 0.5, "cpuCoreUsageAverage": 0.12, "cpuCoreHours": 12.0,
                "cpuCost": 0, "cpuCostAdjustment": 0, "cpuEfficiency": 0.24,
                "gpuCount": 0, "gpuHours": 0, "gpuCost": 0, "gpuCostAdjustment": 0,
                "networkTransferBytes": 0, "networkReceiveBytes": 0, "networkCost": 0, "networkCostAdjustment": 0,
                "loadBalancerCost": 0, "loadBalancerCostAdjustment": 0,
                "pvBytes": 0, "pvByteHours": 0, "pvCost": 0, "pvs": null, "pvCostAdjustment": 0,
                "ramBytes": 536870912, "ramByteRequestAverage": 536870912, "ramByteUsageAverage": 201326592,
                "ramByteHours": 12884901888_u64, "ramCost": 0, "ramCostAdjustment": 0, "ramEfficiency": 0.375,
                "sharedCost": 0, "externalCost": 0,
                "totalCost": a.total,
                "totalEfficiency": null,
                "rawAllocationOnly": null,
            });
            if a.name != "__idle__"
                && let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut)
            {
                props.insert("namespace".into(), json!(a.name.trim_start_matches("app=")));
            }
            for (k, v) in &a.costs {
                obj[*k] = v.clone();
            }
            set.insert(a.name.clone(), obj);
        }
        steps.push(Value::Object(set));
        day = end;
    }
    Json(json!({"code": 200, "status": "success", "data": steps})).into_response()
}
