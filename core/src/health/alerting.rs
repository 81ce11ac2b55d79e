//! Alerts: which of Prometheus's and Alertmanager's alerts belong to an entity (`prometheus.io/alert` names them,
//! or a label such as `service` carries the entity's name), the Alertmanager webhook receiver that keeps resolved
//! alerts as history and opens incidents for production ones, Prometheus panels and PromQL SLOs.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set};
use serde_json::Value;

use portolan_types::health::{AlertView, PanelView, SeriesView};

use super::alerts;
use super::prometheus::{
    ALERT_ANNOTATION, Alert, Client, RULE_ANNOTATION, SLO_ERROR_ANNOTATION, SLO_TOTAL_ANNOTATION, panel_queries,
    with_window,
};
use super::sync::default_environment;
use crate::catalog::entity::entities;
use crate::config::Config;
use crate::deploys::incidents;

fn annotations(entity: &entities::Model) -> BTreeMap<String, String> {
    let body: Value = serde_json::from_str(&entity.body).unwrap_or(Value::Null);
    body.pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned()))).collect())
        .unwrap_or_default()
}

/// Whether an alert belongs to an entity: named in its `prometheus.io/alert`, or carrying its name (or full
/// reference) in the configured label.
pub fn belongs(entity: &entities::Model, alert: &Alert, label: &str) -> bool {
    if let Some(names) = annotations(entity).get(ALERT_ANNOTATION) {
        let names: Vec<&str> = names.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
        if names.contains(&alert.name()) || names.contains(&"all") {
            return true;
        }
    }
    alert
        .labels
        .get(label)
        .is_some_and(|v| v.eq_ignore_ascii_case(&entity.name) || v.eq_ignore_ascii_case(&entity.entity_ref))
}

/// The environment an alert is about: its `environment` or `env` label when that is configured (`prod` reads as
/// `production`), else the default production environment.
pub fn environment_of(config: &Config, alert: &Alert) -> Option<String> {
    for key in ["environment", "env"] {
        if let Some(v) = alert.labels.get(key) {
            let v = v.trim().to_lowercase();
            let v = match v.as_str() {
                "prod" => "production".to_owned(),
                "stage" | "stg" => "staging".to_owned(),
                "dev" => "development".to_owned(),
                _ => v,
            };
            if config.environment(&v).is_some() {
                return Some(v);
            }
        }
    }
    default_environment(config)
}

/// The title of a runbook hosted in this portal that `url` leads to.
pub async fn runbook_title(db: &DatabaseConnection, config: &Config, url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let public = &config.public_url;
    if parsed.origin() != public.origin() {
        return None;
    }
    let mut parts = parsed.path_segments()?.filter(|p| !p.is_empty());
    if parts.next()? != "docs" {
        return None;
    }
    let (space, slug) = (parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    crate::docs::pages::find_address(db, space, slug).await.ok().flatten().map(|(p, _)| p.title)
}

async fn view(db: &DatabaseConnection, config: &Config, a: &Alert, source: &str) -> AlertView {
    let runbook_url = a.annotations.get("runbook_url").cloned();
    let runbook_title = match &runbook_url {
        Some(u) => runbook_title(db, config, u).await,
        None => None,
    };
    AlertView {
        name: a.name().to_owned(),
        state: match a.state.as_str() {
            "active" => "firing".to_owned(),
            s => s.to_owned(),
        },
        severity: a.labels.get("severity").cloned(),
        runbook_url,
        runbook_title,
        summary: a.annotations.get("summary").or_else(|| a.annotations.get("description")).cloned(),
        since: a.since.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        ended_at: None,
        source: source.to_owned(),
    }
}

/// An alert the receiver kept, as pages show it.
async fn kept_view(db: &DatabaseConnection, config: &Config, row: &alerts::Model) -> AlertView {
    let a = Alert {
        labels: serde_json::from_str(&row.labels).unwrap_or_default(),
        annotations: serde_json::from_str(&row.annotations).unwrap_or_default(),
        state: row.status.clone(),
        since: Some(row.starts_at),
    };
    let mut v = view(db, config, &a, "webhook").await;
    if v.name.is_empty() {
        v.name = row.name.clone();
    }
    v.ended_at = row.ends_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    v
}

/// The alerts the receiver kept for an entity, newest first, at most `limit`.
pub async fn kept(
    db: &DatabaseConnection,
    config: &Config,
    entity_ref: &str,
    limit: u64,
) -> Result<Vec<AlertView>, DbErr> {
    use sea_orm::{QueryOrder, QuerySelect};
    let rows = alerts::Entity::find()
        .filter(alerts::Column::ComponentRef.eq(entity_ref))
        .order_by_desc(alerts::Column::StartsAt)
        .limit(limit)
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(kept_view(db, config, r).await);
    }
    Ok(out)
}

/// What Prometheus and Alertmanager say about an entity right now.
#[derive(Debug, Default)]
pub struct Live {
    /// Firing and pending alerts with their environment.
    pub alerts: Vec<(String, AlertView)>,
    /// Panels.
    pub panels: Vec<PanelView>,
    /// Messages for the page.
    pub notices: Vec<String>,
    /// PromQL SLO: error ratios over 1 h, 6 h and 30 d, when declared.
    pub promql: Option<PromSlo>,
}

/// Error ratios from PromQL.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PromSlo {
    /// Over the last hour.
    pub ratio_1h: Option<f64>,
    /// Over the last 6 hours.
    pub ratio_6h: Option<f64>,
    /// Over 30 days.
    pub ratio_30d: Option<f64>,
}

/// What the configured servers answer about alerts right now, asked once for any number of entities: `None` for a
/// server that is not configured, the error's text for one that failed.
#[derive(Debug, Default)]
pub struct AlertSources {
    prometheus: Option<Result<Vec<Alert>, String>>,
    alertmanager: Option<Result<Vec<Alert>, String>>,
}

/// Asks Prometheus's `/api/v1/alerts` and Alertmanager's `/api/v2/alerts`, whichever are configured.
pub async fn alert_sources(config: &Config) -> AlertSources {
    let prometheus = match &config.health.prometheus_url {
        Some(url) => Some(Client::new(url.clone()).alerts().await.map_err(|e| e.to_string())),
        None => None,
    };
    let alertmanager = match &config.health.alertmanager_url {
        Some(url) => Some(
            Client::new(url.clone())
                .active_alerts()
                .await
                .map_err(|e| e.to_string().replace("Prometheus", "Alertmanager")),
        ),
        None => None,
    };
    AlertSources { prometheus, alertmanager }
}

/// An entity's firing and pending alerts with their environment, from what `sources` answered (each alert once,
/// Prometheus's first); when no Alertmanager is configured or it failed, the alerts its receiver was last told are
/// firing. A failed server is a message in `notices`.
pub async fn alerts_of(
    db: &DatabaseConnection,
    config: &Config,
    entity: &entities::Model,
    sources: &AlertSources,
    notices: &mut Vec<String>,
) -> Vec<(String, AlertView)> {
    let label = config.health.alert_label.as_str();
    let mut out = Vec::new();
    let mut seen: Vec<BTreeMap<String, String>> = Vec::new();
    for (answer, source, name) in
        [(&sources.prometheus, "prometheus", "Prometheus"), (&sources.alertmanager, "alertmanager", "Alertmanager")]
    {
        match answer {
            Some(Ok(list)) => {
                for a in list.iter().filter(|a| belongs(entity, a, label)) {
                    if seen.contains(&a.labels) {
                        continue;
                    }
                    seen.push(a.labels.clone());
                    let env = environment_of(config, a).unwrap_or_default();
                    out.push((env, view(db, config, a, source).await));
                }
            }
            Some(Err(e)) => notices.push(format!("Alerts from {name}: {e}")),
            None => {}
        }
    }
    if !matches!(sources.alertmanager, Some(Ok(_))) {
        // Nobody to ask: what the receiver was last told is firing is the best there is.
        let firing = alerts::Entity::find()
            .filter(alerts::Column::ComponentRef.eq(&entity.entity_ref))
            .filter(alerts::Column::Status.eq("firing"))
            .all(db)
            .await
            .unwrap_or_default();
        for row in firing {
            let labels: BTreeMap<String, String> = serde_json::from_str(&row.labels).unwrap_or_default();
            if seen.contains(&labels) {
                continue;
            }
            seen.push(labels);
            let env = row.environment.clone().unwrap_or_default();
            out.push((env, kept_view(db, config, &row).await));
        }
    }
    out
}

/// Reads alerts, panels and a PromQL SLO for an entity from the configured servers. Every failure is a notice.
pub async fn live(db: &DatabaseConnection, config: &Config, entity: &entities::Model, now: DateTime<Utc>) -> Live {
    let mut out = Live::default();
    let sources = alert_sources(config).await;
    out.alerts = alerts_of(db, config, entity, &sources, &mut out.notices).await;
    let ann = annotations(entity);
    if let Some(url) = &config.health.prometheus_url {
        let prom = Client::new(url.clone());
        if let Some(rule) = ann.get(RULE_ANNOTATION) {
            for q in panel_queries(rule) {
                let panel = match prom.query_range(&q.expr, now - Duration::hours(24), now, Duration::minutes(5)).await
                {
                    Ok(series) if series.iter().all(|s| s.points.is_empty()) => PanelView {
                        query: q.expr.clone(),
                        series: Vec::new(),
                        error: Some("no data for the last 24 hours".to_owned()),
                    },
                    Ok(series) => PanelView {
                        query: q.expr.clone(),
                        series: series
                            .into_iter()
                            .map(|s| SeriesView {
                                label: match &q.legend {
                                    Some(l) => s.labels.get(l).cloned().unwrap_or_else(|| q.expr.clone()),
                                    None if s.labels.is_empty() => q.expr.clone(),
                                    None => s
                                        .labels
                                        .iter()
                                        .map(|(k, v)| format!("{k}=\"{v}\""))
                                        .collect::<Vec<_>>()
                                        .join(", "),
                                },
                                points: s.points.iter().map(|(t, v)| (t.timestamp_millis(), *v)).collect(),
                            })
                            .collect(),
                        error: None,
                    },
                    Err(e) => PanelView { query: q.expr.clone(), series: Vec::new(), error: Some(e.to_string()) },
                };
                out.panels.push(panel);
            }
        }
        if let (Some(err_q), Some(total_q)) = (ann.get(SLO_ERROR_ANNOTATION), ann.get(SLO_TOTAL_ANNOTATION)) {
            let mut slo = PromSlo::default();
            for (window, slot) in [
                (Duration::hours(1), &mut slo.ratio_1h),
                (Duration::hours(6), &mut slo.ratio_6h),
                (Duration::days(30), &mut slo.ratio_30d),
            ] {
                let expr = format!("({}) / ({})", with_window(err_q, window), with_window(total_q, window));
                match prom.query(&expr, now).await {
                    Ok(v) => *slot = v.map(|r| r.clamp(0.0, 1.0)),
                    Err(e) => {
                        out.notices.push(format!("SLO query over {}: {e}", with_window("{{window}}", window)));
                        break;
                    }
                }
            }
            out.promql = Some(slo);
        }
        if !out.panels.is_empty() || out.promql.is_some() {
            match prom.retention().await {
                Ok(Some(r)) if r < Duration::days(30) => out.notices.push(format!(
                    "Prometheus keeps {} days of data, less than the 30-day SLO window: figures over 30 days cover only what it has.",
                    r.num_days()
                )),
                Ok(_) => {}
                Err(e) => out.notices.push(format!("Prometheus's retention: {e}")),
            }
        }
    }
    out
}

/// What a webhook delivery changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Received {
    /// Alerts stored or updated.
    pub alerts: usize,
    /// Incidents opened.
    pub opened: usize,
    /// Incidents resolved.
    pub resolved: usize,
    /// Alerts matching no catalog entity.
    pub unmatched: usize,
}

/// Entities an alert could belong to: Components and Resources named by its label, or naming it in
/// `prometheus.io/alert`.
async fn owner_of(db: &DatabaseConnection, config: &Config, a: &Alert) -> Result<Option<entities::Model>, DbErr> {
    let label = config.health.alert_label.as_str();
    if let Some(v) = a.labels.get(label) {
        let by_ref = entities::Entity::find().filter(entities::Column::EntityRef.eq(v.to_lowercase())).one(db).await?;
        if let Some(e) = by_ref.filter(|e| e.kind == "component" || e.kind == "resource") {
            return Ok(Some(e));
        }
        let by_name = entities::Entity::find()
            .filter(entities::Column::Kind.is_in(["component", "resource"]))
            .filter(entities::Column::Name.eq(v.as_str()))
            .one(db)
            .await?;
        if by_name.is_some() {
            return Ok(by_name);
        }
    }
    let naming = entities::Entity::find()
        .filter(entities::Column::Kind.is_in(["component", "resource"]))
        .filter(entities::Column::Body.contains(ALERT_ANNOTATION))
        .all(db)
        .await?;
    Ok(naming.into_iter().find(|e| belongs(e, a, "")))
}

/// Takes an Alertmanager webhook payload (`version` 4): stores each alert, opens an incident when an alert of a
/// production environment starts firing and resolves it when the alert resolves. Repeated deliveries change
/// nothing more.
pub async fn receive(db: &DatabaseConnection, config: &Config, payload: &Value) -> Result<Received, DbErr> {
    let mut out = Received::default();
    let now = Utc::now();
    let list = payload.get("alerts").and_then(Value::as_array).cloned().unwrap_or_default();
    for raw in &list {
        let a = Alert {
            labels: raw["labels"]
                .as_object()
                .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned()))).collect())
                .unwrap_or_default(),
            annotations: raw["annotations"]
                .as_object()
                .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned()))).collect())
                .unwrap_or_default(),
            state: raw["status"].as_str().unwrap_or("firing").to_owned(),
            since: raw["startsAt"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|d| d.with_timezone(&Utc)),
        };
        let Some(starts) = a.since else { continue };
        let fingerprint = raw["fingerprint"].as_str().map(str::to_owned).unwrap_or_else(|| {
            use sha2::Digest;
            let text = serde_json::to_string(&a.labels).unwrap_or_default();
            hex::encode(&sha2::Sha256::digest(text.as_bytes())[..8])
        });
        // Alertmanager sends `0001-01-01T00:00:00Z` for "not ended".
        let ends = raw["endsAt"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|d| d.with_timezone(&Utc))
            .filter(|t| t.timestamp() > 0);
        let resolved = a.state == "resolved";
        let owner = owner_of(db, config, &a).await?;
        if owner.is_none() {
            out.unmatched += 1;
        }
        let env = environment_of(config, &a);
        let txn = crate::db::begin_write(db).await?;
        let existing = alerts::Entity::find()
            .filter(alerts::Column::Fingerprint.eq(&fingerprint))
            .filter(alerts::Column::StartsAt.eq(starts))
            .one(&txn)
            .await?;
        let production = env.as_deref().and_then(|e| config.environment(e)).is_some_and(|e| e.production);
        let mut incident_id = existing.as_ref().and_then(|e| e.incident_id);
        if let Some(entity) = owner.as_ref().filter(|_| production && !resolved && incident_id.is_none()) {
            let external_id = format!("alert:{fingerprint}:{}", starts.timestamp_millis());
            let summary = a.annotations.get("summary").map(|s| format!(": {s}")).unwrap_or_default();
            let found =
                incidents::Entity::find().filter(incidents::Column::ExternalId.eq(&external_id)).one(&txn).await?;
            let row = match found {
                Some(r) => r,
                None => {
                    out.opened += 1;
                    incidents::ActiveModel {
                        component_ref: Set(entity.entity_ref.clone()),
                        environment: Set(env.clone().unwrap_or_default()),
                        title: Set(format!("{}{summary}", a.name()).chars().take(300).collect()),
                        severity: Set(a.labels.get("severity").cloned().unwrap_or_else(|| "warning".to_owned())),
                        started_at: Set(starts),
                        resolved_at: Set(None),
                        external_id: Set(external_id),
                        deployment: Set(None),
                        source: Set("alertmanager".to_owned()),
                        created_at: Set(now),
                        updated_at: Set(now),
                        ..Default::default()
                    }
                    .insert(&txn)
                    .await?
                }
            };
            incident_id = Some(row.id);
        }
        if resolved && let Some(id) = incident_id {
            let n = incidents::Entity::update_many()
                .col_expr(incidents::Column::ResolvedAt, Expr::value(ends.unwrap_or(now)))
                .col_expr(incidents::Column::UpdatedAt, Expr::value(now))
                .filter(incidents::Column::Id.eq(id))
                .filter(incidents::Column::ResolvedAt.is_null())
                .exec(&txn)
                .await?;
            out.resolved += n.rows_affected as usize;
        }
        let labels = serde_json::to_string(&a.labels).unwrap_or_default();
        let annotations = serde_json::to_string(&a.annotations).unwrap_or_default();
        match existing {
            Some(e) => {
                let mut m: alerts::ActiveModel = e.into();
                m.status = Set(if resolved { "resolved" } else { "firing" }.to_owned());
                m.ends_at = Set(if resolved { ends.or(Some(now)) } else { None });
                m.labels = Set(labels);
                m.annotations = Set(annotations);
                m.incident_id = Set(incident_id);
                m.component_ref = Set(owner.as_ref().map(|o| o.entity_ref.clone()));
                m.updated_at = Set(now);
                m.update(&txn).await?;
            }
            None => {
                alerts::ActiveModel {
                    fingerprint: Set(fingerprint),
                    starts_at: Set(starts),
                    ends_at: Set(if resolved { ends.or(Some(now)) } else { None }),
                    name: Set(a.name().chars().take(200).collect()),
                    status: Set(if resolved { "resolved" } else { "firing" }.to_owned()),
                    severity: Set(a.labels.get("severity").cloned()),
                    component_ref: Set(owner.as_ref().map(|o| o.entity_ref.clone())),
                    environment: Set(env),
                    labels: Set(labels),
                    annotations: Set(annotations),
                    incident_id: Set(incident_id),
                    updated_at: Set(now),
                    ..Default::default()
                }
                .insert(&txn)
                .await?;
            }
        }
        txn.commit().await?;
        out.alerts += 1;
    }
    Ok(out)
}

/// An entity's alert history as the receiver kept it (newest first, at most 100).
pub async fn history(db: &DatabaseConnection, entity_ref: &str) -> Result<Vec<alerts::Model>, DbErr> {
    use sea_orm::{QueryOrder, QuerySelect};
    alerts::Entity::find()
        .filter(alerts::Column::ComponentRef.eq(entity_ref))
        .order_by_desc(alerts::Column::StartsAt)
        .limit(100)
        .all(db)
        .await
}
