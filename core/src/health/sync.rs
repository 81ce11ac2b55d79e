//! Checks declared in git: `portolan.dev/health-url[.<environment>]` and its companions on Component and Resource
//! entities become checks with source `annotation`. Sync adds, updates (keeping state and history) and removes them
//! to match the catalog.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
    Set,
};
use serde_json::Value;

use super::spec::{CheckSpec, Declared, declared_checks};
use super::{SOURCE_ANNOTATION, buckets, checks, results, state_changes};
use crate::catalog::entity::entities;
use crate::config::Config;
use crate::deploys::incidents;

/// What a sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Checks added.
    pub added: usize,
    /// Checks whose spec changed.
    pub updated: usize,
    /// Checks removed with their history.
    pub removed: usize,
    /// Annotation problems, each prefixed with the entity.
    pub problems: Vec<String>,
}

impl SyncReport {
    /// Whether anything changed.
    pub fn changed(&self) -> bool {
        self.added + self.updated + self.removed > 0
    }
}

/// The environment the plain `portolan.dev/health-url` probes: `production` when configured as production, else
/// the first production environment.
pub fn default_environment(config: &Config) -> Option<String> {
    let mut prod = config.production_environments();
    let first = prod.next().map(str::to_owned);
    if config.environment("production").is_some_and(|e| e.production) { Some("production".to_owned()) } else { first }
}

/// Reads the health annotations of an entity's Backstage JSON body.
pub fn declared_in(body: &str, config: &Config) -> Declared {
    let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let annotations: Vec<(&str, &str)> = value
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v))).collect())
        .unwrap_or_default();
    let envs: Vec<String> = config.environments.iter().map(|e| e.name.clone()).collect();
    declared_checks(annotations, &envs, default_environment(config).as_deref(), config.health.min_interval)
}

fn spec_columns(spec: &CheckSpec) -> (String, i64, String, Option<String>, Option<i32>, f64) {
    (
        spec.target.to_string(),
        i64::try_from(spec.interval.as_millis()).unwrap_or(i64::MAX),
        spec.expect.status.to_string(),
        spec.expect.body.clone(),
        spec.expect.degraded_after.map(|d| i32::try_from(d.as_millis()).unwrap_or(i32::MAX)),
        spec.objective,
    )
}

/// A new check row, unknown until its first probe, due now.
pub fn new_check(
    entity_ref: &str,
    source: &str,
    spec: &CheckSpec,
    enabled: bool,
    now: DateTime<Utc>,
) -> checks::ActiveModel {
    let (target, interval_ms, status, body, degraded, objective) = spec_columns(spec);
    checks::ActiveModel {
        component_ref: Set(entity_ref.to_owned()),
        environment: Set(spec.environment.clone()),
        name: Set(spec.name.clone()),
        source: Set(source.to_owned()),
        target: Set(target),
        interval_ms: Set(interval_ms),
        expect_status: Set(status),
        expect_body: Set(body),
        degraded_ms: Set(degraded),
        slo_objective: Set(objective),
        enabled: Set(enabled),
        state: Set("unknown".to_owned()),
        state_since: Set(now),
        fail_streak: Set(0),
        ok_streak: Set(0),
        next_due_at: Set(now),
        lease_until: Set(None),
        lease_owner: Set(None),
        last_checked_at: Set(None),
        last_latency_ms: Set(None),
        last_status_code: Set(None),
        last_error: Set(None),
        tls_expires_at: Set(None),
        open_incident_id: Set(None),
        burn_alert: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// Whether a stored check differs from a spec.
pub fn differs(c: &checks::Model, spec: &CheckSpec) -> bool {
    let (target, interval_ms, status, body, degraded, objective) = spec_columns(spec);
    c.target != target
        || c.interval_ms != interval_ms
        || c.expect_status != status
        || c.expect_body != body
        || c.degraded_ms != degraded
        || c.slo_objective != objective
}

/// Writes a spec over a stored check, keeping its state and history; a new interval or target is probed at once.
pub fn apply_spec(c: &checks::Model, spec: &CheckSpec, now: DateTime<Utc>) -> checks::ActiveModel {
    let (target, interval_ms, status, body, degraded, objective) = spec_columns(spec);
    let mut m: checks::ActiveModel = c.clone().into();
    if c.target != target || c.interval_ms != interval_ms {
        m.next_due_at = Set(now);
    }
    m.target = Set(target);
    m.interval_ms = Set(interval_ms);
    m.expect_status = Set(status);
    m.expect_body = Set(body);
    m.degraded_ms = Set(degraded);
    m.slo_objective = Set(objective);
    m.updated_at = Set(now);
    m
}

/// Removes a check with its results and buckets (its state changes too); an incident it opened is resolved.
pub async fn remove_check<C: sea_orm::ConnectionTrait>(
    db: &C,
    c: &checks::Model,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if let Some(id) = c.open_incident_id {
        incidents::Entity::update_many()
            .col_expr(incidents::Column::ResolvedAt, Expr::value(now))
            .col_expr(incidents::Column::UpdatedAt, Expr::value(now))
            .filter(incidents::Column::Id.eq(id))
            .filter(incidents::Column::ResolvedAt.is_null())
            .exec(db)
            .await?;
    }
    results::Entity::delete_many().filter(results::Column::CheckId.eq(c.id)).exec(db).await?;
    buckets::Entity::delete_many().filter(buckets::Column::CheckId.eq(c.id)).exec(db).await?;
    state_changes::Entity::delete_many().filter(state_changes::Column::CheckId.eq(c.id)).exec(db).await?;
    checks::Entity::delete_by_id(c.id).exec(db).await?;
    Ok(())
}

/// Makes the annotation checks match the catalog.
pub async fn sync_declared(db: &DatabaseConnection, config: &Config) -> Result<SyncReport, DbErr> {
    let now = Utc::now();
    let rows: Vec<(String, String)> = entities::Entity::find()
        .select_only()
        .column(entities::Column::EntityRef)
        .column(entities::Column::Body)
        .filter(entities::Column::Kind.is_in(["component", "resource"]))
        .filter(entities::Column::Body.contains("portolan.dev/health-url"))
        .into_tuple()
        .all(db)
        .await?;
    let mut report = SyncReport::default();
    let mut wanted: HashMap<(String, String, String), CheckSpec> = HashMap::new();
    for (entity_ref, body) in rows {
        let declared = declared_in(&body, config);
        report.problems.extend(declared.problems.into_iter().map(|p| format!("{entity_ref}: {p}")));
        for spec in declared.checks {
            wanted.insert((entity_ref.clone(), spec.environment.clone(), spec.name.clone()), spec);
        }
    }
    let txn = crate::db::begin_write(db).await?;
    let existing = checks::Entity::find().filter(checks::Column::Source.eq(SOURCE_ANNOTATION)).all(&txn).await?;
    for c in &existing {
        match wanted.remove(&(c.component_ref.clone(), c.environment.clone(), c.name.clone())) {
            Some(spec) if differs(c, &spec) => {
                apply_spec(c, &spec, now).update(&txn).await?;
                report.updated += 1;
            }
            Some(_) => {}
            None => {
                remove_check(&txn, c, now).await?;
                report.removed += 1;
            }
        }
    }
    let mut fresh: Vec<_> = wanted.into_iter().collect();
    fresh.sort_by(|a, b| a.0.cmp(&b.0));
    for ((entity_ref, _, _), spec) in fresh {
        new_check(&entity_ref, SOURCE_ANNOTATION, &spec, true, now).insert(&txn).await?;
        report.added += 1;
    }
    txn.commit().await?;
    Ok(report)
}

/// Syncs when the catalog changed since `marker` (its size and latest update).
pub async fn sync_if_changed(
    db: &DatabaseConnection,
    config: &Config,
    marker: &mut Option<(u64, Option<DateTime<Utc>>)>,
) -> Result<Option<SyncReport>, DbErr> {
    let count = entities::Entity::find().count(db).await?;
    let latest: Option<DateTime<Utc>> = entities::Entity::find()
        .select_only()
        .column_as(entities::Column::UpdatedAt.max(), "latest")
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(db)
        .await?
        .flatten();
    let now = Some((count, latest));
    if *marker == now {
        return Ok(None);
    }
    let report = sync_declared(db, config).await?;
    *marker = now;
    Ok(Some(report))
}
