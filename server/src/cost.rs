//! Cost routes: the grouped report (`GET /api/v1/cost`), billing file imports (`POST /api/v1/cost/imports`, the
//! file as the request body, streamed to a temporary file so memory stays flat), the imported periods and the
//! allocation rules (`GET/PUT /api/v1/cost/rules`).

use std::io::Write;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Extension, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{NaiveDate, Utc};
use futures_util::StreamExt;
use serde::Deserialize;

use portolan_core::access::{Action, Target};
use portolan_core::auth::RequestViewer;
use portolan_core::cost::import::{ImportSummary, Source};
use portolan_core::cost::query::{CostQuery, GroupBy, Metric};
use portolan_core::cost::{self, CostError, Rules};
use portolan_types::cost::{AnomalyList, AnomalyTriageInput, BudgetInput, BudgetView, CostReport};

use crate::ServerState;
use crate::access::authorize;
use crate::api::require;
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::{ApiError, ErrorEnvelope};

/// The largest billing file the API accepts (a month of CUR for a large organisation, gzipped).
const MAX_UPLOAD: usize = 4 * 1024 * 1024 * 1024;

/// The cost routes.
pub fn router() -> Router<ServerState> {
    Router::new()
        .route("/api/v1/cost", get(report))
        .route("/api/v1/cost/imports", get(list_periods).post(import).layer(DefaultBodyLimit::max(MAX_UPLOAD)))
        .route("/api/v1/cost/rules", get(get_rules).put(put_rules))
        .route("/api/v1/cost/budgets", get(list_budgets).put(put_budget))
        .route("/api/v1/cost/opencost/pull", axum::routing::post(pull_opencost))
        .route("/api/v1/cost/anomalies", get(list_anomalies))
        .route("/api/v1/cost/anomalies/triage", axum::routing::post(triage_anomaly))
        .route("/cost/budgets", axum::routing::post(budget_form))
        .route("/cost/rules", axum::routing::post(rules_form))
        .route("/cost/anomalies", axum::routing::post(triage_form))
        .route("/cost/import", axum::routing::post(import_form).layer(DefaultBodyLimit::max(MAX_UPLOAD)))
}

pub(crate) fn cost_error(e: CostError) -> ApiError {
    match e {
        CostError::File { .. } => ApiError::unprocessable("file", e.to_string()),
        CostError::Invalid { field, reason } => ApiError::unprocessable("rules", format!("{field}: {reason}")),
        CostError::Conflict { .. } => ApiError::conflict(e.to_string()),
        CostError::Db(e) => ApiError::internal("cost", e),
        CostError::Scratch(e) => ApiError::internal("cost", e),
    }
}

/// Parameters of `GET /api/v1/cost`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CostParams {
    /// `component`, `team`, `environment`, `service`, `day` or `month` (default `component`).
    pub group_by: Option<String>,
    /// `effective` (amortised, the default) or `billed`.
    pub metric: Option<String>,
    /// First day, inclusive (`2026-11-01`, UTC; default: the first of this month).
    pub from: Option<String>,
    /// Last day, exclusive (default: the first of next month).
    pub to: Option<String>,
    /// Only this component (`component:default/payments-api` or a bare name).
    pub component: Option<String>,
    /// Only this team (`group:default/payments` or a bare name).
    pub team: Option<String>,
    /// The currency (default: the one with the most spend in the range).
    pub currency: Option<String>,
    /// `csv` for a CSV file of the groups (then shared and unallocated) instead of JSON.
    pub format: Option<String>,
}

fn parse_day(field: &'static str, text: Option<&str>, default: NaiveDate) -> Result<NaiveDate, ApiError> {
    match text {
        None | Some("") => Ok(default),
        Some(t) => NaiveDate::parse_from_str(t.get(..10).unwrap_or(t), "%Y-%m-%d")
            .map_err(|_| ApiError::unprocessable(field, format!("`{t}` is not a date (YYYY-MM-DD)"))),
    }
}

/// Spend in a date range, grouped by component, team, environment, cloud service, day or month, in one currency.
/// Amounts are decimal strings. For `component` and `team`, groups + `shared` + `unallocated` = `total`; for
/// the other groupings the groups add up to `total`.
#[utoipa::path(get, path = "/api/v1/cost", tag = "cost", params(CostParams), responses(
    (status = 200, description = "The report", body = CostReport),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 422, description = "A parameter is wrong (`field` names it)", body = ErrorEnvelope)))]
pub(crate) async fn report(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiQuery(p): ApiQuery<CostParams>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let csv = p.format.as_deref() == Some("csv");
    let report = report_of(&state, &viewer, p).await?;
    if !csv {
        return Ok(Json(report).into_response());
    }
    // One line per group, then the shared and unallocated amounts, so the file adds up to the total.
    let mut out = String::from("key,amount,currency\n");
    let currency = report.currency.clone().unwrap_or_default();
    let field = |s: &str| {
        let s = if s.starts_with(['=', '+', '-', '@']) && s.parse::<f64>().is_err() {
            format!("'{s}")
        } else {
            s.to_owned()
        };
        if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
    };
    for g in &report.groups {
        out.push_str(&format!("{},{},{currency}\n", field(&g.key), g.amount));
    }
    if matches!(report.group_by.as_str(), "component" | "team") {
        out.push_str(&format!(
            "(shared),{},{currency}\n(unallocated),{},{currency}\n",
            report.shared, report.unallocated
        ));
    }
    let name = format!("cost-{}-{}-{}.csv", report.group_by, report.from, report.to);
    Ok((
        [
            (http::header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        out,
    )
        .into_response())
}

async fn report_of(state: &ServerState, viewer: &RequestViewer, p: CostParams) -> Result<CostReport, ApiError> {
    require(viewer)?;
    let group_by = match p.group_by.as_deref() {
        None | Some("") => GroupBy::Component,
        Some(g) => GroupBy::parse(g).ok_or_else(|| {
            ApiError::unprocessable("group_by", "must be component, team, environment, service, day or month")
        })?,
    };
    let metric = match p.metric.as_deref() {
        None | Some("") => Metric::Effective,
        Some(m) => Metric::parse(m).ok_or_else(|| ApiError::unprocessable("metric", "must be effective or billed"))?,
    };
    let (first, next) = cost::query::month_bounds(Utc::now().date_naive());
    let from = parse_day("from", p.from.as_deref(), first)?;
    let to = parse_day("to", p.to.as_deref(), next)?;
    if to <= from {
        return Err(ApiError::unprocessable("to", "must be after from"));
    }
    let q = CostQuery {
        group_by,
        metric,
        from,
        to,
        component: p.component.filter(|c| !c.is_empty()).map(|c| cost::rules::entity_ref("component", &c)),
        team: p.team.filter(|t| !t.is_empty()).map(|t| cost::rules::entity_ref("group", &t)),
        currency: p.currency.filter(|c| !c.is_empty()).map(|c| c.trim().to_ascii_uppercase()),
    };
    cost::query::report(&state.app.db, &q).await.map_err(cost_error)
}

/// Parameters of `POST /api/v1/cost/imports`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// The file's name, shown in errors and kept with the billing periods (default `upload`).
    pub name: Option<String>,
}

/// Imports one billing file sent as the request body (FOCUS, AWS CUR or CUR 2.0 as CSV, plain, gzip or zipped,
/// or as Parquet: the format is read from the header or schema, the container from the first bytes). Every
/// billing period in it replaces what was imported before for the same provider and account, atomically; a
/// malformed file changes nothing and the answer names the line (a Parquet file: the row) and column. Needs `cost.import` (administrators; a token needs `cost:write`).
#[utoipa::path(post, path = "/api/v1/cost/imports", tag = "cost", params(ImportParams),
    request_body(content = String, content_type = "text/csv"),
    responses(
    (status = 201, description = "Imported: rows, periods, totals per currency and the allocated share"),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "cost.import refused", body = ErrorEnvelope),
    (status = 422, description = "The file is malformed: the message names the line and column", body = ErrorEnvelope)))]
pub(crate) async fn import(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiQuery(p): ApiQuery<ImportParams>,
    body: Body,
) -> Result<(http::StatusCode, Json<ImportSummary>), ApiError> {
    let viewer = require(&viewer)?;
    authorize(&state, viewer, Action::CostImport, &Target::global()).await?;
    let name = p.name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| "upload".to_owned());
    let name: String = name.chars().filter(|c| !c.is_control()).take(200).collect();
    let mut upload = Upload::new()?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        upload.write(&chunk.map_err(|e| ApiError::bad_request(format!("reading the upload: {e}")))?)?;
    }
    let path = upload.path.clone();
    let sources = vec![Source { path: path.clone(), name }];
    let summary = cost::import::import(&state.app.db, &state.app.config, sources, &viewer.login, None)
        .await
        .map_err(cost_error)?;
    tracing::info!(by = %viewer.login, rows = summary.rows, periods = ?summary.periods, "billing file imported");
    cost::budgets::notify(&state.app.db, &state.app.config).await;
    Ok((http::StatusCode::CREATED, Json(summary)))
}

fn rand_suffix() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{n}", Utc::now().timestamp_nanos_opt().unwrap_or_default())
}

/// An upload streamed to a temporary file, removed when dropped.
struct Upload {
    path: std::path::PathBuf,
    file: std::fs::File,
}

impl Upload {
    fn new() -> Result<Upload, ApiError> {
        let path = std::env::temp_dir().join(format!("portolan-cost-{}-{}.upload", std::process::id(), rand_suffix()));
        let file = std::fs::File::create(&path).map_err(|e| ApiError::internal("storing the upload", e))?;
        Ok(Upload { path, file })
    }

    fn write(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        self.file.write_all(chunk).map_err(|e| ApiError::internal("storing the upload", e))
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The import form of the cost page (`multipart/form-data`, field `file`): imports like the API, then sends the
/// browser back to the cost page with the outcome.
pub(crate) async fn import_form(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    multipart: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<axum::response::Redirect, ApiError> {
    let viewer = require(&viewer)?;
    authorize(&state, viewer, Action::CostImport, &Target::global()).await?;
    let back = |key: &str, text: &str| {
        axum::response::Redirect::to(&format!("/cost?{key}={}", portolan_types::encode_query_value(text)))
    };
    let mut multipart = multipart.map_err(|e| ApiError::bad_request(format!("not a file upload: {e}")))?;
    let mut upload = Upload::new()?;
    let path = upload.path.clone();
    let mut name = None;
    while let Some(mut field) =
        multipart.next_field().await.map_err(|e| ApiError::bad_request(format!("reading the upload: {e}")))?
    {
        if field.name() != Some("file") {
            continue;
        }
        let file_name: String =
            field.file_name().unwrap_or("upload").chars().filter(|c| !c.is_control()).take(200).collect();
        while let Some(chunk) =
            field.chunk().await.map_err(|e| ApiError::bad_request(format!("reading the upload: {e}")))?
        {
            upload.write(&chunk)?;
        }
        name = Some(file_name);
    }
    let Some(name) = name else {
        return Ok(back("error", "Choose a file to import."));
    };
    let sources = vec![Source { path: path.clone(), name }];
    match cost::import::import(&state.app.db, &state.app.config, sources, &viewer.login, None).await {
        Ok(s) => {
            cost::budgets::notify(&state.app.db, &state.app.config).await;
            let totals: Vec<String> =
                s.totals.iter().map(|t| format!("{} {} effective", t.effective.to_cents_text(), t.currency)).collect();
            let text = format!("Imported {} rows: {} ({})", s.rows, s.periods.join(", "), totals.join(", "));
            let month = s.periods.first().and_then(|p| p.rsplit(' ').next()).unwrap_or_default().to_owned();
            Ok(axum::response::Redirect::to(&format!(
                "/cost?month={}&notice={}",
                portolan_types::encode_query_value(&month),
                portolan_types::encode_query_value(&text)
            )))
        }
        Err(CostError::Db(e)) => Err(ApiError::internal("importing cost", e)),
        Err(CostError::Scratch(e)) => Err(ApiError::internal("importing cost", e)),
        Err(e) => Ok(back("error", &format!("Refused, nothing changed: {e}"))),
    }
}

/// The imported billing periods, newest first.
#[utoipa::path(get, path = "/api/v1/cost/imports", tag = "cost", responses(
    (status = 200, description = "Billing periods: provider, account, period, format, files, rows, totals, who and when"),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope)))]
pub(crate) async fn list_periods(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
) -> Result<Json<serde_json::Value>, ApiError> {
    require(&viewer)?;
    let periods = cost::query::periods(&state.app.db).await.map_err(cost_error)?;
    Ok(Json(serde_json::Value::Array(periods)))
}

/// The allocation rules in force.
#[utoipa::path(get, path = "/api/v1/cost/rules", tag = "cost", responses(
    (status = 200, description = "The rules"),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope)))]
pub(crate) async fn get_rules(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
) -> Result<Json<Rules>, ApiError> {
    require(&viewer)?;
    Ok(Json(cost::load_rules(&state.app.db).await.map_err(cost_error)?))
}

/// Replaces the allocation rules and applies them to every imported cost, past periods included. Needs
/// `cost.import` (administrators).
#[utoipa::path(put, path = "/api/v1/cost/rules", tag = "cost", responses(
    (status = 200, description = "Saved and applied; `moved` counts the tag sets that changed place"),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "cost.import refused", body = ErrorEnvelope),
    (status = 422, description = "A rule is wrong (the message names it)", body = ErrorEnvelope)))]
pub(crate) async fn put_rules(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiJson(rules): ApiJson<Rules>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let viewer = require(&viewer)?;
    authorize(&state, viewer, Action::CostImport, &Target::global()).await?;
    let moved = cost::save_rules(&state.app.db, &state.app.config, &rules, &viewer.login).await.map_err(cost_error)?;
    Ok(Json(serde_json::json!({"moved": moved})))
}

/// Drafts longer than this are not carried back in the URL after a refused save (the editor then shows the rules
/// in force and says so).
const MAX_DRAFT_IN_URL: usize = 16 * 1024;

/// The rules editor of the cost page (`rules`: YAML or JSON text, `base`: the version it was opened at). Saves and
/// re-allocates like `PUT /api/v1/cost/rules`; a mistake or a save by someone else in between saves nothing and
/// sends the text back to the editor with the reason, so no edit is lost.
pub(crate) async fn rules_form(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    axum::Form(form): axum::Form<std::collections::HashMap<String, String>>,
) -> Result<axum::response::Redirect, ApiError> {
    let viewer = require(&viewer)?;
    let text = form.get("rules").cloned().unwrap_or_default();
    let base = form.get("base").cloned().unwrap_or_default();
    let refused = |why: String| {
        let draft = if text.len() <= MAX_DRAFT_IN_URL {
            let (t, b) = (portolan_types::encode_query_value(&text), portolan_types::encode_query_value(&base));
            format!("&rules_draft={t}&rules_base={b}")
        } else {
            String::new()
        };
        axum::response::Redirect::to(&format!("/cost?error={}{draft}#rules", portolan_types::encode_query_value(&why)))
    };
    if let Err(e) = authorize(&state, viewer, Action::CostImport, &Target::global()).await {
        return Ok(refused(format!("Rules not saved: {}", e.message())));
    }
    let rules = match cost::rules_from_yaml(&text) {
        Ok(r) => r,
        Err(e) => return Ok(refused(format!("Rules not saved, nothing changed: {e}."))),
    };
    match cost::save_rules_from(&state.app.db, &state.app.config, &rules, &base, &viewer.login).await {
        Ok(moved) => {
            tracing::info!(by = %viewer.login, moved, "cost allocation rules saved from the editor");
            let text = format!("Allocation rules saved; {moved} tag sets changed place.");
            Ok(axum::response::Redirect::to(&format!("/cost?notice={}", portolan_types::encode_query_value(&text))))
        }
        Err(CostError::Db(e)) => Err(ApiError::internal("saving cost rules", e)),
        Err(CostError::Conflict { current }) => Ok(refused(format!(
            "Rules not saved: they were saved {current} after you opened them. Your text is below; compare it with \
             the rules in force (GET /api/v1/cost/rules) and save again."
        ))),
        Err(e) => Ok(refused(format!("Rules not saved, nothing changed: {e}."))),
    }
}

/// Every budget with this month's spend, forecast and status (the month of the latest imported cost).
#[utoipa::path(get, path = "/api/v1/cost/budgets", tag = "cost", responses(
    (status = 200, description = "The budgets", body = Vec<BudgetView>),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope)))]
pub(crate) async fn list_budgets(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
) -> Result<Json<Vec<BudgetView>>, ApiError> {
    require(&viewer)?;
    Ok(Json(cost::budgets::list(&state.app.db).await.map_err(cost_error)?))
}

/// Sets a team's or a component's monthly budget (`amount: null` removes it). Needs `cost.budget.edit` on it:
/// the team's members, or the component's owners (a token needs `cost:write`). Answers the budgets.
#[utoipa::path(put, path = "/api/v1/cost/budgets", tag = "cost", request_body = BudgetInput, responses(
    (status = 200, description = "Saved; every budget", body = Vec<BudgetView>),
    (status = 400, description = "The body is not JSON of this shape", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "cost.budget.edit refused", body = ErrorEnvelope),
    (status = 422, description = "A field is wrong (the message names it)", body = ErrorEnvelope)))]
pub(crate) async fn put_budget(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiJson(body): ApiJson<BudgetInput>,
) -> Result<Json<Vec<BudgetView>>, ApiError> {
    let viewer = require(&viewer)?;
    let (change, owner) = cost::budgets::validate(&state.app.db, &body).await.map_err(|e| match e {
        CostError::Invalid { field, reason } => ApiError::unprocessable("budget", format!("{field}: {reason}")),
        other => cost_error(other),
    })?;
    authorize(&state, viewer, Action::CostBudgetEdit, &Target::entity(change.scope.clone(), owner.as_deref())).await?;
    cost::budgets::apply(&state.app.db, &change, &viewer.login).await.map_err(cost_error)?;
    cost::budgets::notify(&state.app.db, &state.app.config).await;
    Ok(Json(cost::budgets::list(&state.app.db).await.map_err(cost_error)?))
}

/// The budget form of the cost page (`scope`, `amount`, `currency`): sets the budget like the API, then sends the
/// browser back to the cost page with the outcome.
pub(crate) async fn budget_form(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    axum::Form(form): axum::Form<std::collections::HashMap<String, String>>,
) -> Result<axum::response::Redirect, ApiError> {
    let viewer = require(&viewer)?;
    let back = |key: &str, text: &str| {
        axum::response::Redirect::to(&format!("/cost?{key}={}", portolan_types::encode_query_value(text)))
    };
    let input = BudgetInput {
        scope: form.get("scope").cloned().unwrap_or_default(),
        amount: form.get("amount").filter(|a| !a.trim().is_empty()).cloned(),
        currency: form.get("currency").filter(|c| !c.trim().is_empty()).cloned(),
    };
    let (change, owner) = match cost::budgets::validate(&state.app.db, &input).await {
        Ok(v) => v,
        Err(CostError::Invalid { field, reason }) => {
            return Ok(back("error", &format!("Budget not saved: {field} {reason}.")));
        }
        Err(e) => return Err(cost_error(e)),
    };
    let target = Target::entity(change.scope.clone(), owner.as_deref());
    if let Err(e) = authorize(&state, viewer, Action::CostBudgetEdit, &target).await {
        return Ok(back("error", &format!("Budget not saved: {}", e.message())));
    }
    cost::budgets::apply(&state.app.db, &change, &viewer.login).await.map_err(cost_error)?;
    cost::budgets::notify(&state.app.db, &state.app.config).await;
    Ok(back("notice", &format!("Budget of {} saved.", cost::rules::short_name(&change.scope))))
}

/// Parameters of `GET /api/v1/cost/anomalies`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnomalyParams {
    /// First day judged, inclusive (default: 30 days before `to`).
    pub from: Option<String>,
    /// Last day judged, exclusive (default and latest: the day after the last complete day).
    pub to: Option<String>,
    /// Only this component (`component:default/payments-api` or a bare name).
    pub component: Option<String>,
    /// Only the components of this team (`group:default/payments` or a bare name).
    pub team: Option<String>,
    /// Only this currency.
    pub currency: Option<String>,
    /// `open`, `snoozed`, `dismissed` or `all` (the default).
    pub status: Option<String>,
    /// `effective` (the default) or `billed`.
    pub metric: Option<String>,
}

/// Days whose spend stands out: over the trailing window's mean by at least the minimum amount, with a robust
/// z-score over the threshold (see `settings`), per component, `shared` and `unallocated`, on complete days only.
/// Each says whether it is open, snoozed or dismissed, and why.
#[utoipa::path(get, path = "/api/v1/cost/anomalies", tag = "cost", params(AnomalyParams), responses(
    (status = 200, description = "The anomalies, newest first", body = AnomalyList),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 422, description = "A parameter is wrong (`field` names it)", body = ErrorEnvelope)))]
pub(crate) async fn list_anomalies(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiQuery(p): ApiQuery<AnomalyParams>,
) -> Result<Json<AnomalyList>, ApiError> {
    require(&viewer)?;
    let day = |field: &'static str, text: Option<String>| -> Result<Option<NaiveDate>, ApiError> {
        match text.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(t) => NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| ApiError::unprocessable(field, format!("`{t}` is not a date (YYYY-MM-DD)"))),
        }
    };
    let status = p.status.filter(|s| !s.is_empty());
    if let Some(s) = &status
        && !matches!(s.as_str(), "open" | "snoozed" | "dismissed" | "all")
    {
        return Err(ApiError::unprocessable("status", "must be open, snoozed, dismissed or all"));
    }
    let metric = match p.metric.as_deref() {
        None | Some("") => None,
        Some(m) => {
            Some(Metric::parse(m).ok_or_else(|| ApiError::unprocessable("metric", "must be effective or billed"))?)
        }
    };
    let q = cost::anomalies::AnomalyQuery {
        from: day("from", p.from)?,
        to: day("to", p.to)?,
        component: p.component.filter(|c| !c.is_empty()).map(|c| cost::rules::entity_ref("component", &c)),
        team: p.team.filter(|t| !t.is_empty()).map(|t| cost::rules::entity_ref("group", &t)),
        currency: p.currency.filter(|c| !c.is_empty()).map(|c| c.trim().to_ascii_uppercase()),
        status,
        metric,
    };
    let list = cost::anomalies::list(&state.app.db, &state.app.config.cost, &q, cost::anomalies::today())
        .await
        .map_err(cost_error)?;
    Ok(Json(list))
}

/// Dismisses (not a problem), snoozes (mutes the scope's anomalies through `until`) or reopens one anomaly, with
/// a reason. Needs `cost.anomaly.triage` on the component (its owner's members; `shared` and `unallocated`:
/// administrators; a token needs `cost:write`).
#[utoipa::path(post, path = "/api/v1/cost/anomalies/triage", tag = "cost", request_body = AnomalyTriageInput,
    responses(
    (status = 200, description = "Recorded"),
    (status = 400, description = "The body is not JSON of this shape", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "cost.anomaly.triage refused", body = ErrorEnvelope),
    (status = 422, description = "A field is wrong (the message names it)", body = ErrorEnvelope)))]
pub(crate) async fn triage_anomaly(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiJson(body): ApiJson<AnomalyTriageInput>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let viewer = require(&viewer)?;
    let (triage, owner) = cost::anomalies::validate(&state.app.db, &body).await.map_err(|e| match e {
        CostError::Invalid { field, reason } => ApiError::unprocessable("anomaly", format!("{field}: {reason}")),
        other => cost_error(other),
    })?;
    authorize(&state, viewer, Action::CostAnomalyTriage, &triage_target(&triage, owner)).await?;
    cost::anomalies::apply(&state.app.db, &triage, &viewer.login).await.map_err(cost_error)?;
    Ok(Json(serde_json::json!({
        "scope": triage.scope, "currency": triage.currency, "day": triage.day.to_string(), "action": triage.action,
    })))
}

fn triage_target(t: &cost::anomalies::Triage, owner: Option<String>) -> Target {
    cost::anomalies::target(&t.scope, owner.as_deref())
}

/// Where a form may send the browser back to: a path of this site, else the cost page.
fn local_path(back: Option<&String>) -> String {
    match back {
        Some(b) if b.starts_with('/') && !b.starts_with("//") && !b.contains(['\\', '\r', '\n']) => b.clone(),
        _ => "/cost".to_owned(),
    }
}

/// The anomaly forms (on the cost page and a component's page): `scope`, `currency`, `day`, `action`, `reason`,
/// `until`, `back`. Decides like the API, then sends the browser back with the outcome.
pub(crate) async fn triage_form(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    axum::Form(form): axum::Form<std::collections::HashMap<String, String>>,
) -> Result<axum::response::Redirect, ApiError> {
    let viewer = require(&viewer)?;
    let path = local_path(form.get("back"));
    let back = |key: &str, text: &str| {
        let sep = if path.contains('?') { '&' } else { '?' };
        axum::response::Redirect::to(&format!("{path}{sep}{key}={}", portolan_types::encode_query_value(text)))
    };
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let input = AnomalyTriageInput {
        scope: get("scope"),
        currency: get("currency"),
        day: get("day"),
        action: get("action"),
        reason: form.get("reason").cloned(),
        until: form.get("until").cloned(),
    };
    let (triage, owner) = match cost::anomalies::validate(&state.app.db, &input).await {
        Ok(v) => v,
        Err(CostError::Invalid { field, reason }) => {
            return Ok(back("error", &format!("Anomaly not updated: {field} {reason}.")));
        }
        Err(e) => return Err(cost_error(e)),
    };
    if let Err(e) = authorize(&state, viewer, Action::CostAnomalyTriage, &triage_target(&triage, owner)).await {
        return Ok(back("error", &format!("Anomaly not updated: {}", e.message())));
    }
    cost::anomalies::apply(&state.app.db, &triage, &viewer.login).await.map_err(cost_error)?;
    let done = match triage.action.as_str() {
        "dismiss" => "dismissed".to_owned(),
        "snooze" => format!("snoozed through {}", triage.until.map(|u| u.to_string()).unwrap_or_default()),
        _ => "reopened".to_owned(),
    };
    Ok(back("notice", &format!("Anomaly of {} on {} {done}.", cost::rules::short_name(&triage.scope), triage.day)))
}

/// Pulls OpenCost now (`PORTOLAN_OPENCOST_URL`): this month so far, and the month before during a month's first
/// three days, each month replaced whole. Needs `cost.import` (administrators; a token needs `cost:write`).
#[utoipa::path(post, path = "/api/v1/cost/opencost/pull", tag = "cost", responses(
    (status = 201, description = "Imported: rows, periods, totals per currency and the allocated share"),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "cost.import refused", body = ErrorEnvelope),
    (status = 409, description = "PORTOLAN_OPENCOST_URL is not set", body = ErrorEnvelope),
    (status = 502, description = "OpenCost could not be reached, answered an error or malformed JSON (the message says which); nothing changed", body = ErrorEnvelope)))]
pub(crate) async fn pull_opencost(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
) -> Result<(http::StatusCode, Json<ImportSummary>), ApiError> {
    let viewer = require(&viewer)?;
    authorize(&state, viewer, Action::CostImport, &Target::global()).await?;
    if state.app.config.cost.opencost_url.is_none() {
        return Err(ApiError::not_configured("PORTOLAN_OPENCOST_URL is not set"));
    }
    let summary = cost::opencost::pull(
        &state.app.db,
        &state.app.config,
        &opencost_client(),
        Utc::now().date_naive(),
        &viewer.login,
    )
    .await
    .map_err(|e| match e {
        CostError::File { .. } => ApiError::bad_gateway(e.to_string()),
        other => cost_error(other),
    })?;
    tracing::info!(by = %viewer.login, rows = summary.rows, periods = ?summary.periods, "OpenCost pulled");
    cost::budgets::notify(&state.app.db, &state.app.config).await;
    Ok((http::StatusCode::CREATED, Json(summary)))
}

/// The HTTP client OpenCost is read with.
pub(crate) fn opencost_client() -> reqwest::Client {
    reqwest::Client::builder().timeout(std::time::Duration::from_secs(120)).build().unwrap_or_default()
}
