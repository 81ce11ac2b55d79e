//! What pages and the API show: one entity's health per environment (exact uptime over 24 h to 90 d, the SLO and
//! its burn rates, latency), the grid of entities by environment, history, and checks and maintenance windows added
//! in the portal.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use portolan_types::health::{
    AlertView, BurnAlert, CheckInput, CheckView, EntityHealth, EnvironmentHealth, GridCell, GridRow, HealthGrid,
    HealthHistory, HistoryPoint, LatencyView, LiveEntity, LiveEnvironment, MaintenanceInput, MaintenanceView, SloView,
    StateChangeView, UptimeWindows,
};

use super::maths::{self, Counts, Histogram, Source, floor_day, floor_hour, plan};
use super::spec::{self, CheckSpec, Expect, Target};
use super::state::State;
use super::sync::{apply_spec, declared_in, differs, new_check, remove_check};
use super::{HealthError, SOURCE_ANNOTATION, SOURCE_PORTAL, buckets, checks, maintenance, results, state_changes};
use crate::catalog::entity::entities;
use crate::catalog::model::EntityRef;
use crate::config::Config;
use crate::db::json_rows;

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn invalid(field: &'static str, reason: impl Into<String>) -> HealthError {
    HealthError::Invalid { field, reason: reason.into() }
}

/// Counts and latencies of some checks over `[from, to)`, exact: raw results at the ragged ends, hourly buckets at
/// the edges, daily buckets for whole days.
pub async fn window<C: ConnectionTrait>(
    db: &C,
    config: &Config,
    ids: &[i64],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(Counts, Histogram), DbErr> {
    let mut counts = Counts::default();
    let mut hist = Histogram::default();
    if ids.is_empty() {
        return Ok((counts, hist));
    }
    let kept = now - Duration::days(i64::from(config.health.raw_days));
    for (source, a, b) in plan(from, to, kept) {
        match source {
            Source::Raw => {
                let rows: Vec<(Option<String>, Option<i32>)> = json_rows(
                    db,
                    results::Entity::find()
                        .filter(results::Column::CheckId.is_in(ids.iter().copied()))
                        .filter(results::Column::At.gte(a.timestamp_millis()))
                        .filter(results::Column::At.lt(b.timestamp_millis()))
                        .filter(results::Column::Counted.is_not_null()),
                    &["counted", "latency_ms"],
                )
                .await?;
                for (counted, latency) in rows {
                    counts.count(counted.as_deref().unwrap_or("unknown"));
                    if let Some(ms) = latency.and_then(|v| u32::try_from(v).ok()) {
                        hist.record(ms);
                    }
                }
            }
            Source::Hourly | Source::Daily => {
                let period = if source == Source::Hourly { "h" } else { "d" };
                let rows: Vec<(i64, i64, i64, i64, i64, String)> = json_rows(
                    db,
                    buckets::Entity::find()
                        .filter(buckets::Column::CheckId.is_in(ids.iter().copied()))
                        .filter(buckets::Column::Period.eq(period))
                        .filter(buckets::Column::Start.gte(a))
                        .filter(buckets::Column::Start.lt(b)),
                    &["up", "degraded", "down", "maintenance", "unknown", "latency"],
                )
                .await?;
                for (up, degraded, down, maintenance, unknown, latency) in rows {
                    counts.add(&Counts { up, degraded, down, maintenance, unknown });
                    hist.add(&Histogram::decode(&latency));
                }
            }
        }
    }
    Ok((counts, hist))
}

/// Whether a maintenance window covers an environment now.
fn covered(windows: &[maintenance::Model], environment: &str, now: DateTime<Utc>) -> bool {
    windows
        .iter()
        .any(|w| w.environment.as_deref().is_none_or(|e| e == environment) && w.starts_at <= now && now < w.ends_at)
}

/// The state to show for a check: unknown when it has not been probed for three intervals (the portal was down or
/// the check is paused), maintenance inside a window.
pub fn shown_state(c: &checks::Model, in_maintenance: bool, now: DateTime<Utc>) -> State {
    shown(&c.state, c.enabled, c.last_checked_at, c.interval_ms, in_maintenance, now)
}

fn shown(
    state: &str,
    enabled: bool,
    last_checked_at: Option<DateTime<Utc>>,
    interval_ms: i64,
    in_maintenance: bool,
    now: DateTime<Utc>,
) -> State {
    if in_maintenance {
        return State::Maintenance;
    }
    let stale = match last_checked_at {
        None => true,
        Some(t) => now - t > Duration::milliseconds(interval_ms.saturating_mul(3)) + Duration::seconds(10),
    };
    if !enabled || stale { State::Unknown } else { State::parse(state) }
}

/// What the grid reads of a check.
struct GridCheck {
    id: i64,
    component_ref: String,
    environment: String,
    state: String,
    enabled: bool,
    last_checked_at: Option<DateTime<Utc>>,
    interval_ms: i64,
}

/// A check for pages and the API.
pub fn check_view(c: &checks::Model, in_maintenance: bool, now: DateTime<Utc>) -> CheckView {
    CheckView {
        id: c.id,
        entity_ref: c.component_ref.clone(),
        environment: c.environment.clone(),
        name: c.name.clone(),
        source: c.source.clone(),
        target: c.target.clone(),
        interval_seconds: c.interval_ms as f64 / 1000.0,
        expect_status: c.expect_status.clone(),
        expect_body: c.expect_body.clone(),
        degraded_ms: c.degraded_ms,
        slo: c.slo_objective,
        enabled: c.enabled,
        state: shown_state(c, in_maintenance, now).as_str().to_owned(),
        since: rfc3339(c.state_since),
        last_checked_at: c.last_checked_at.map(rfc3339),
        last_latency_ms: c.last_latency_ms,
        last_status_code: c.last_status_code,
        last_error: c.last_error.clone(),
        tls_expires_at: c.tls_expires_at.map(rfc3339),
    }
}

fn maintenance_view(w: &maintenance::Model) -> MaintenanceView {
    MaintenanceView {
        id: w.id,
        entity_ref: w.component_ref.clone(),
        environment: w.environment.clone(),
        starts_at: rfc3339(w.starts_at),
        ends_at: rfc3339(w.ends_at),
        reason: w.reason.clone(),
        created_by: w.created_by.clone(),
    }
}

fn round(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// One entity's health in every environment it has checks in.
pub async fn entity_health(
    db: &DatabaseConnection,
    config: &Config,
    entity: &entities::Model,
    now: DateTime<Utc>,
) -> Result<EntityHealth, DbErr> {
    let all = checks::Entity::find()
        .filter(checks::Column::ComponentRef.eq(&entity.entity_ref))
        .order_by_asc(checks::Column::Name)
        .all(db)
        .await?;
    let windows = maintenance::Entity::find()
        .filter(maintenance::Column::ComponentRef.eq(&entity.entity_ref))
        .filter(maintenance::Column::EndsAt.gt(now))
        .order_by_asc(maintenance::Column::StartsAt)
        .all(db)
        .await?;
    let live = super::alerting::live(db, config, entity, now).await;
    let promql_env = live.promql.map(|_| super::sync::default_environment(config).unwrap_or_default());
    let mut out = Vec::new();
    for env in &config.environments {
        let cs: Vec<&checks::Model> = all.iter().filter(|c| c.environment == env.name).collect();
        let env_alerts: Vec<AlertView> =
            live.alerts.iter().filter(|(e, _)| *e == env.name).map(|(_, a)| a.clone()).collect();
        let promql = live.promql.filter(|_| promql_env.as_deref() == Some(env.name.as_str()));
        if cs.is_empty() && env_alerts.is_empty() && promql.is_none() {
            continue;
        }
        let ids: Vec<i64> = cs.iter().map(|c| c.id).collect();
        let in_maintenance = covered(&windows, &env.name, now);
        let views: Vec<CheckView> = cs.iter().map(|c| check_view(c, in_maintenance, now)).collect();
        let (worst, since) = environment_state(&cs, in_maintenance, now);
        let uptime_of = |days: i64| window(db, config, &ids, now - Duration::days(days), now, now);
        let (d1, hist) = uptime_of(1).await?;
        let (d7, _) = uptime_of(7).await?;
        let (d30, _) = uptime_of(30).await?;
        let (d90, _) = uptime_of(90).await?;
        let objective = cs.iter().map(|c| c.slo_objective).fold(f64::NAN, f64::max);
        let objective = if objective.is_finite() { objective } else { spec::DEFAULT_OBJECTIVE };
        let burn_over = |d: Duration| window(db, config, &ids, now - d, now, now);
        let mut burns = HashMap::new();
        for rule in maths::burn_rules() {
            for d in [rule.long, rule.short] {
                if let std::collections::hash_map::Entry::Vacant(e) = burns.entry(d.num_seconds()) {
                    let (c, _) = burn_over(d).await?;
                    e.insert(maths::burn_rate(&c, objective));
                }
            }
        }
        let allowed = maths::allowed_error(objective);
        if let Some(p) = promql {
            // The SLO's indicator is PromQL: its error ratios replace the probes'.
            burns.insert(Duration::hours(1).num_seconds(), p.ratio_1h.map(|r| r / allowed));
            burns.insert(Duration::hours(6).num_seconds(), p.ratio_6h.map(|r| r / allowed));
        }
        let burn = |d: Duration| burns.get(&d.num_seconds()).copied().flatten();
        let remaining = match promql.and_then(|p| p.ratio_30d) {
            Some(r) => 1.0 - r / allowed,
            None => maths::budget_remaining(&d30, objective),
        };
        let slo_uptime = match promql {
            Some(p) => p.ratio_30d.map(|r| 1.0 - r),
            None => d30.uptime(),
        };
        let b1 = burn(Duration::hours(1));
        let burn_alerts = maths::burn_rules()
            .iter()
            .filter(|r| maths::fires(r, burn(r.long), burn(r.short)))
            .map(|r| BurnAlert {
                severity: r.severity.to_owned(),
                rule: format!("{}x over {} and {}", r.factor, span(r.long), span(r.short)),
                long_burn: round(burn(r.long).unwrap_or(0.0)),
                short_burn: round(burn(r.short).unwrap_or(0.0)),
            })
            .collect();
        out.push(EnvironmentHealth {
            environment: env.name.clone(),
            production: env.production,
            state: worst.as_str().to_owned(),
            since,
            uptime: UptimeWindows {
                h24: d1.uptime().map(round),
                d7: d7.uptime().map(round),
                d30: d30.uptime().map(round),
                d90: d90.uptime().map(round),
            },
            slo: SloView {
                objective: round(objective / 100.0),
                window_days: 30,
                uptime: slo_uptime.map(round),
                error_budget_remaining: round(remaining.clamp(0.0, 1.0)),
                overspent: remaining < 0.0,
                burn_rate_1h: b1.map(round),
                burn_rate_6h: burn(Duration::hours(6)).map(round),
                hours_to_exhaustion: b1
                    .and_then(|b| maths::time_to_exhaustion(remaining, b, Duration::days(30)))
                    .map(|d| round(d.num_seconds() as f64 / 3600.0)),
                burn_alerts,
                source: if promql.is_some() { "prometheus" } else { "probes" }.to_owned(),
            },
            latency_ms: LatencyView {
                p50: hist.quantile(0.5).map(|v| v.round()),
                p95: hist.quantile(0.95).map(|v| v.round()),
                p99: hist.quantile(0.99).map(|v| v.round()),
            },
            checks: views,
            alerts: env_alerts,
            maintenance: windows
                .iter()
                .filter(|w| w.environment.as_deref().is_none_or(|e| e == env.name))
                .map(maintenance_view)
                .collect(),
        });
    }
    let problems = declared_in(&entity.body, config).problems;
    Ok(EntityHealth {
        entity_ref: entity.entity_ref.clone(),
        environments: out,
        problems,
        panels: live.panels,
        notices: live.notices,
        alert_history: super::alerting::kept(db, config, &entity.entity_ref, 20).await?,
    })
}

/// The state an environment shows, the worst of its checks' (maintenance when a window covers an environment
/// without checks), and since when.
fn environment_state(cs: &[&checks::Model], in_maintenance: bool, now: DateTime<Utc>) -> (State, Option<String>) {
    let mut worst =
        cs.iter().map(|c| shown_state(c, in_maintenance, now)).max_by_key(|s| s.severity()).unwrap_or(State::Unknown);
    if in_maintenance && cs.is_empty() {
        worst = State::Maintenance;
    }
    let since =
        cs.iter().filter(|c| shown_state(c, in_maintenance, now) == worst).map(|c| c.state_since).max().map(rfc3339);
    (worst, since)
}

/// The live state of some entities: per environment with checks or alerts, the state and the firing alerts, with
/// none of the uptime, SLO or panel figures [`entity_health`] adds up. Prometheus and Alertmanager are asked once
/// for all of them; entities with nothing to show are left out.
pub async fn live_states(
    db: &DatabaseConnection,
    config: &Config,
    of: &[entities::Model],
    now: DateTime<Utc>,
) -> Result<Vec<LiveEntity>, DbErr> {
    if of.is_empty() {
        return Ok(Vec::new());
    }
    let refs: Vec<&str> = of.iter().map(|e| e.entity_ref.as_str()).collect();
    let all = checks::Entity::find().filter(checks::Column::ComponentRef.is_in(refs.clone())).all(db).await?;
    let windows = maintenance::Entity::find()
        .filter(maintenance::Column::ComponentRef.is_in(refs))
        .filter(maintenance::Column::EndsAt.gt(now))
        .all(db)
        .await?;
    let sources = super::alerting::alert_sources(config).await;
    let mut out = Vec::new();
    for entity in of {
        let mut notices = Vec::new();
        let alerts = super::alerting::alerts_of(db, config, entity, &sources, &mut notices).await;
        let mine: Vec<maintenance::Model> =
            windows.iter().filter(|w| w.component_ref == entity.entity_ref).cloned().collect();
        let mut environments = Vec::new();
        for env in &config.environments {
            let cs: Vec<&checks::Model> =
                all.iter().filter(|c| c.component_ref == entity.entity_ref && c.environment == env.name).collect();
            let env_alerts: Vec<AlertView> =
                alerts.iter().filter(|(e, _)| *e == env.name).map(|(_, a)| a.clone()).collect();
            if cs.is_empty() && env_alerts.is_empty() {
                continue;
            }
            let (state, since) = environment_state(&cs, covered(&mine, &env.name, now), now);
            environments.push(LiveEnvironment {
                environment: env.name.clone(),
                production: env.production,
                state: state.as_str().to_owned(),
                since,
                alerts: env_alerts,
            });
        }
        if !environments.is_empty() {
            out.push(LiveEntity { entity_ref: entity.entity_ref.clone(), environments });
        }
    }
    Ok(out)
}

fn span(d: Duration) -> String {
    if d.num_days() >= 1 && d.num_hours() % 24 == 0 {
        format!("{}d", d.num_days())
    } else if d.num_hours() >= 1 {
        format!("{}h", d.num_hours())
    } else {
        format!("{}m", d.num_minutes())
    }
}

/// Parses a grid window (`24h`, `7d`, `30d`, `90d`).
pub fn grid_window(text: Option<&str>) -> Result<(String, Duration), HealthError> {
    match text.map(str::trim).filter(|t| !t.is_empty()).unwrap_or("24h") {
        "24h" => Ok(("24h".into(), Duration::hours(24))),
        "7d" => Ok(("7d".into(), Duration::days(7))),
        "30d" => Ok(("30d".into(), Duration::days(30))),
        "90d" => Ok(("90d".into(), Duration::days(90))),
        other => Err(invalid("window", format!("`{other}` is not one of 24h, 7d, 30d, 90d"))),
    }
}

/// Ref, name, title, owner and system of an entity.
type EntityMeta = (String, String, Option<String>, Option<String>, Option<String>);

/// How long after a bucket's end results may still land in it: a slot is recorded when its probe and re-checks
/// are done (well under a minute), so a bucket that ended this long ago no longer changes.
const SETTLE: Duration = Duration::minutes(5);

/// Up, degraded and down counts per check from the buckets of a period in `[from, to)`, added up by the database.
async fn bucket_counts<C: ConnectionTrait>(
    db: &C,
    period: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<HashMap<i64, Counts>, DbErr> {
    let sums: Vec<(i64, i64, i64, i64)> = buckets::Entity::find()
        .select_only()
        .column(buckets::Column::CheckId)
        .column_as(Expr::cust("SUM(up)"), "up")
        .column_as(Expr::cust("SUM(degraded)"), "degraded")
        .column_as(Expr::cust("SUM(down)"), "down")
        .filter(buckets::Column::Period.eq(period))
        .filter(buckets::Column::Start.gte(from))
        .filter(buckets::Column::Start.lt(to))
        .group_by(buckets::Column::CheckId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(sums
        .into_iter()
        .map(|(id, up, degraded, down)| (id, Counts { up, degraded, down, ..Counts::default() }))
        .collect())
}

/// Up, degraded and down counts per check from the buckets of a period from `from` on (the open ones, at most
/// two per check), with their latency histograms when `latency` asks for them: read as one JSON document and
/// added up here (the driver hands grouped rows over one by one).
async fn open_buckets<C: ConnectionTrait>(
    db: &C,
    period: &str,
    from: DateTime<Utc>,
    latency: bool,
) -> Result<HashMap<i64, (Counts, Histogram)>, DbErr> {
    let q = buckets::Entity::find().filter(buckets::Column::Period.eq(period)).filter(buckets::Column::Start.gte(from));
    let mut out: HashMap<i64, (Counts, Histogram)> = HashMap::new();
    let mut add = |id: i64, up: i64, degraded: i64, down: i64, h: Option<&str>| {
        let e = out.entry(id).or_default();
        e.0.add(&Counts { up, degraded, down, ..Counts::default() });
        if let Some(h) = h {
            e.1.add(&Histogram::decode(h));
        }
    };
    if latency {
        let rows: Vec<(i64, i64, i64, i64, String)> =
            json_rows(db, q, &["check_id", "up", "degraded", "down", "latency"]).await?;
        for (id, up, degraded, down, h) in rows {
            add(id, up, degraded, down, Some(&h));
        }
    } else {
        let rows: Vec<(i64, i64, i64, i64)> = json_rows(db, q, &["check_id", "up", "degraded", "down"]).await?;
        for (id, up, degraded, down) in rows {
            add(id, up, degraded, down, None);
        }
    }
    Ok(out)
}

/// The latency histograms per check of the hourly buckets in `[from, to)`.
async fn bucket_latency<C: ConnectionTrait>(
    db: &C,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<HashMap<i64, Histogram>, DbErr> {
    let q = buckets::Entity::find()
        .filter(buckets::Column::Period.eq("h"))
        .filter(buckets::Column::Start.gte(from))
        .filter(buckets::Column::Start.lt(to));
    let rows: Vec<(i64, String)> = json_rows(db, q, &["check_id", "latency"]).await?;
    let mut out: HashMap<i64, Histogram> = HashMap::new();
    for (id, latency) in rows {
        out.entry(id).or_default().add(&Histogram::decode(&latency));
    }
    Ok(out)
}

type Settled<T> = Arc<HashMap<i64, T>>;
/// Period, from and to of settled sums.
type CountsKey = (String, DateTime<Utc>, DateTime<Utc>);
/// From and to of settled latency.
type LatencyKey = (DateTime<Utc>, DateTime<Utc>);

/// The grid's sums over buckets that have settled (ended more than [`SETTLE`] ago): they never change, so each
/// process adds them up once per hour and window instead of on every request. One per process, shared by every
/// request; replicas each keep their own, and all agree because settled buckets are the same for all.
#[derive(Default)]
pub struct GridCache {
    counts: Mutex<HashMap<CountsKey, Settled<Counts>>>,
    latency: Mutex<HashMap<LatencyKey, Settled<Histogram>>>,
    /// The last reading of the grid's changing rows per window, behind a lock that one reader holds at a time.
    reads: Mutex<HashMap<ReadKey, Arc<tokio::sync::Mutex<Option<Reading>>>>>,
    /// How many times the changing rows were read (for tests).
    read_count: std::sync::atomic::AtomicU64,
}

/// Period, start and closed of a grid's counts; start and closed of its latency.
type ReadKey = (&'static str, DateTime<Utc>, DateTime<Utc>, DateTime<Utc>, DateTime<Utc>);

/// What a grid reads that changes with every probe, and when the reading started.
struct Reading {
    started: std::time::Instant,
    data: Arc<GridData>,
}

/// The grid's rows before the viewer's filters.
struct GridData {
    checks: Vec<GridCheck>,
    windows: Vec<maintenance::Model>,
    meta: HashMap<String, (String, Option<String>, Option<String>)>,
    per_check: HashMap<i64, (Counts, Histogram)>,
}

impl std::fmt::Debug for GridCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GridCache").finish_non_exhaustive()
    }
}

/// At most this many settled sums are kept (a few windows, and the one the hour just closed).
const CACHED: usize = 16;

/// A settled sum from `map`, if it is there.
fn cached<K: Eq + std::hash::Hash, T>(map: &Mutex<HashMap<K, Settled<T>>>, key: &K) -> Option<Settled<T>> {
    map.lock().unwrap_or_else(|e| e.into_inner()).get(key).cloned()
}

/// Keeps a settled sum in `map`, dropping the ones `outdated` says will not be asked for again (they end at an
/// older boundary), and everything when the map is full.
fn keep<K: Eq + std::hash::Hash, T>(
    map: &Mutex<HashMap<K, Settled<T>>>,
    key: K,
    value: Settled<T>,
    outdated: impl Fn(&K) -> bool,
) {
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    map.retain(|k, _| !outdated(k));
    if map.len() >= CACHED {
        map.clear();
    }
    map.insert(key, value);
}

impl GridCache {
    /// The grid's changing rows, read at or after the call: requests that arrive while another reads wait for it
    /// to finish, and then share one reading that starts after all of them arrived. Reading them all at once, four
    /// grids on PostgreSQL each waited for the others' share of two cores; now each reading runs alone and serves
    /// every request that was waiting, and no request ever sees rows read before it arrived.
    async fn read(&self, db: &DatabaseConnection, key: ReadKey, now: DateTime<Utc>) -> Result<Arc<GridData>, DbErr> {
        let arrived = std::time::Instant::now();
        let slot = {
            let mut reads = self.reads.lock().unwrap_or_else(|e| e.into_inner());
            // The windows of an hour that has passed are not asked for again.
            reads.retain(|k, _| k.4 >= key.4);
            reads.entry(key).or_default().clone()
        };
        let mut last = slot.lock().await;
        if let Some(r) = last.as_ref().filter(|r| r.started >= arrived) {
            return Ok(r.data.clone());
        }
        let started = std::time::Instant::now();
        let data = Arc::new(self.read_now(db, key, now).await?);
        self.read_count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *last = Some(Reading { started, data: data.clone() });
        Ok(data)
    }

    /// How many times the grid's changing rows were read.
    pub fn reads(&self) -> u64 {
        self.read_count.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn read_now(&self, db: &DatabaseConnection, key: ReadKey, now: DateTime<Utc>) -> Result<GridData, DbErr> {
        let (period, start, closed, hour_ago, closed_hour) = key;
        // Only the columns the cells need, as one JSON document (see `json_rows`).
        type Row = (i64, String, String, String, crate::db::DbBool, Option<crate::db::DbTime>, i64);
        let check_rows = json_rows::<Row, _, _>(
            db,
            checks::Entity::find(),
            &["id", "component_ref", "environment", "state", "enabled", "last_checked_at", "interval_ms"],
        );
        let windows = maintenance::Entity::find()
            .filter(maintenance::Column::StartsAt.lte(now))
            .filter(maintenance::Column::EndsAt.gt(now))
            .all(db);
        // The entities with checks, by a subquery: a statement listing a thousand references is big enough to be
        // written to the socket in two parts, and sqlx 0.9 leaves Nagle's algorithm on, so the second part waits
        // for the server's delayed acknowledgement (40 ms on Linux) before PostgreSQL sees the whole statement.
        let with_checks =
            sea_orm::sea_query::Query::select().column(checks::Column::ComponentRef).from(checks::Entity).to_owned();
        let found = json_rows::<EntityMeta, _, _>(
            db,
            entities::Entity::find().filter(entities::Column::EntityRef.in_subquery(with_checks)),
            &["entity_ref", "name", "title", "owner_ref", "system_ref"],
        );
        // Buckets that can no longer change come from the cache; the open ones (the current hour or day) are read.
        let settled = self.counts(db, period, start, closed);
        let settled_latency = self.latency(db, hour_ago, closed_hour);
        let open_hours = open_buckets(db, "h", closed_hour, true);
        let open_counts = async {
            if period == "h" && closed == closed_hour {
                Ok(None)
            } else {
                open_buckets(db, period, closed, false).await.map(Some)
            }
        };
        // The reads are independent: each runs on its own pooled connection, so a grid waits for the slowest, not
        // for their sum.
        let (rows, windows, found, settled, settled_latency, open_hours, open_counts) =
            tokio::try_join!(check_rows, windows, found, settled, settled_latency, open_hours, open_counts)?;
        let checks = rows
            .into_iter()
            .map(|(id, component_ref, environment, state, enabled, last, interval_ms)| GridCheck {
                id,
                component_ref,
                environment,
                state,
                enabled: enabled.0,
                last_checked_at: last.map(|t| t.0),
                interval_ms,
            })
            .collect();
        let mut per_check: HashMap<i64, (Counts, Histogram)> = HashMap::new();
        for (id, c) in settled.iter() {
            per_check.entry(*id).or_default().0.add(c);
        }
        for (id, h) in settled_latency.iter() {
            per_check.entry(*id).or_default().1.add(h);
        }
        for (id, (c, h)) in &open_hours {
            let e = per_check.entry(*id).or_default();
            if open_counts.is_none() {
                e.0.add(c);
            }
            e.1.add(h);
        }
        for (id, (c, _)) in open_counts.iter().flatten() {
            per_check.entry(*id).or_default().0.add(c);
        }
        let meta = found
            .into_iter()
            .map(|(r, name, title, owner, system)| (r, (title.unwrap_or(name), owner, system)))
            .collect();
        Ok(GridData { checks, windows, meta, per_check })
    }

    /// Counts per check over the settled buckets of a period in `[from, to)`.
    pub async fn counts<C: ConnectionTrait>(
        &self,
        db: &C,
        period: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Settled<Counts>, DbErr> {
        if from >= to {
            return Ok(Arc::default());
        }
        let key = (period.to_owned(), from, to);
        if let Some(hit) = cached(&self.counts, &key) {
            return Ok(hit);
        }
        let sums = Arc::new(bucket_counts(db, period, from, to).await?);
        keep(&self.counts, key, sums.clone(), |k| k.0 == period && k.2 < to);
        Ok(sums)
    }

    /// Latency histograms per check over the settled hourly buckets in `[from, to)`.
    pub async fn latency<C: ConnectionTrait>(
        &self,
        db: &C,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Settled<Histogram>, DbErr> {
        if from >= to {
            return Ok(Arc::default());
        }
        if let Some(hit) = cached(&self.latency, &(from, to)) {
            return Ok(hit);
        }
        let hists = Arc::new(bucket_latency(db, from, to).await?);
        keep(&self.latency, (from, to), hists.clone(), |k| k.1 < to);
        Ok(hists)
    }
}

/// The kinds of entity that have health checks, which the grid's filters choose from.
pub const GRID_KINDS: &[&str] = &["component", "resource"];

/// The Components and Resources the grid's filters leave in (`None`: no filter): what `owner` owns (a team with
/// its sub-teams, or a user; a bare name is a team), what `system` holds, and with `mine_of` what that login's
/// user and teams own. A filter naming nothing in the catalog is `Invalid`, naming the field.
pub async fn grid_scope(
    db: &DatabaseConnection,
    owner: Option<&str>,
    system: Option<&str>,
    mine_of: Option<&str>,
) -> Result<Option<HashSet<String>>, HealthError> {
    use crate::deploys::{DeployError, scope_entities};
    let with_kind =
        |text: &str, kind: &str| if text.contains(':') { text.to_owned() } else { format!("{kind}:{text}") };
    let mut only: Option<HashSet<String>> = None;
    let mut narrow = |found: HashSet<String>| {
        only = Some(match only.take() {
            None => found,
            Some(prev) => prev.intersection(&found).cloned().collect(),
        });
    };
    for (text, kind, field) in [(owner, "group", "owner"), (system, "system", "system")] {
        let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else { continue };
        let found = match scope_entities(db, &with_kind(text, kind), GRID_KINDS).await {
            Ok(found) => found.unwrap_or_default().into_iter().collect(),
            Err(DeployError::Invalid { reason, .. }) => return Err(HealthError::Invalid { field, reason }),
            Err(DeployError::Db(e)) => return Err(HealthError::Db(e)),
        };
        narrow(found);
    }
    if let Some(login) = mine_of {
        let person = crate::auth::person(db, login).await?;
        let slugs: Vec<String> = person.map(|p| p.teams.into_iter().map(|t| t.slug).collect()).unwrap_or_default();
        let mut mine = HashSet::new();
        for o in crate::catalog::store::owners_for(db, login, &slugs).await? {
            if let Ok(Some(found)) = scope_entities(db, &o, GRID_KINDS).await {
                mine.extend(found);
            }
        }
        narrow(mine);
    }
    Ok(only)
}

/// Which entities the grid shows.
#[derive(Clone, Debug, Default)]
pub struct GridFilter {
    /// Only these entities (owner, system or "mine" narrowed them); `None`: all.
    pub only: Option<HashSet<String>>,
    /// Entities the viewer may not see.
    pub hidden: HashSet<String>,
}

/// The grid of entities with checks by environment. Uptime covers whole hours (24 h) or whole days (longer
/// windows) up to now, p95 latency the last hour and the current one: the service page's figures are the exact
/// ones.
pub async fn grid(
    db: &DatabaseConnection,
    config: &Config,
    cache: &GridCache,
    window_name: &str,
    span: Duration,
    filter: &GridFilter,
    now: DateTime<Utc>,
) -> Result<HealthGrid, DbErr> {
    let (period, start, closed) = if span <= Duration::hours(24) {
        ("h", floor_hour(now - span), floor_hour(now - SETTLE))
    } else {
        ("d", floor_day(now - span), floor_day(now - SETTLE))
    };
    let closed = closed.max(start);
    // Latency: the last hour and the current one. With hourly counts the open hours are read once for both.
    let hour_ago = floor_hour(now) - Duration::hours(1);
    let closed_hour = floor_hour(now - SETTLE).max(hour_ago);
    let data = cache.read(db, (period, start, closed, hour_ago, closed_hour), now).await?;
    let all: Vec<&GridCheck> = data
        .checks
        .iter()
        .filter(|c| !filter.hidden.contains(&c.component_ref))
        .filter(|c| filter.only.as_ref().is_none_or(|o| o.contains(&c.component_ref)))
        .collect();
    let (windows, meta, per_check) = (&data.windows, &data.meta, &data.per_check);
    let refs: Vec<String> = {
        let mut r: Vec<String> = all.iter().map(|c| c.component_ref.clone()).collect();
        r.sort();
        r.dedup();
        r
    };
    let mut by_entity: HashMap<&str, Vec<&GridCheck>> = HashMap::new();
    for c in &all {
        by_entity.entry(c.component_ref.as_str()).or_default().push(*c);
    }
    let mut totals: HashMap<&'static str, i64> = HashMap::new();
    let mut out = Vec::new();
    for r in &refs {
        let Some((title, owner, system)) = meta.get(r).cloned() else { continue };
        let cs = &by_entity[r.as_str()];
        let component_windows: Vec<maintenance::Model> =
            windows.iter().filter(|w| &w.component_ref == r).cloned().collect();
        let mut cells = Vec::new();
        for env in &config.environments {
            let here: Vec<&&GridCheck> = cs.iter().filter(|c| c.environment == env.name).collect();
            if here.is_empty() {
                continue;
            }
            let m = covered(&component_windows, &env.name, now);
            let state = here
                .iter()
                .map(|c| shown(&c.state, c.enabled, c.last_checked_at, c.interval_ms, m, now))
                .max_by_key(|s| s.severity())
                .unwrap_or(State::Unknown);
            let mut counts = Counts::default();
            let mut hist = Histogram::default();
            for c in &here {
                if let Some((cc, hh)) = per_check.get(&c.id) {
                    counts.add(cc);
                    hist.add(hh);
                }
            }
            *totals.entry(state.as_str()).or_default() += 1;
            cells.push(GridCell {
                environment: env.name.clone(),
                state: state.as_str().to_owned(),
                uptime: counts.uptime().map(round),
                p95_ms: hist.quantile(0.95).map(|v| v.round()),
            });
        }
        out.push(GridRow { entity_ref: r.clone(), title, owner, system, cells });
    }
    out.sort_by_cached_key(|r| (r.title.to_lowercase(), r.entity_ref.clone()));
    let mut totals: Vec<(String, i64)> = ["down", "degraded", "up", "maintenance", "unknown"]
        .iter()
        .map(|s| ((*s).to_owned(), totals.get(s).copied().unwrap_or(0)))
        .collect();
    totals.retain(|(_, n)| *n > 0);
    Ok(HealthGrid {
        environments: config.environments.iter().map(|e| e.name.clone()).collect(),
        window: window_name.to_owned(),
        rows: out,
        totals,
    })
}

/// An entity's history in one environment: per hour (ranges up to 3 days) or per day, with every state change.
pub async fn history(
    db: &DatabaseConnection,
    config: &Config,
    entity_ref: &str,
    environment: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<HealthHistory, DbErr> {
    let ids: Vec<i64> = checks::Entity::find()
        .filter(checks::Column::ComponentRef.eq(entity_ref))
        .filter(checks::Column::Environment.eq(environment))
        .all(db)
        .await?
        .iter()
        .map(|c| c.id)
        .collect();
    let hourly = to - from <= Duration::days(3);
    let (period, step) = if hourly { ("h", Duration::hours(1)) } else { ("d", Duration::days(1)) };
    let first = if hourly { floor_hour(from) } else { floor_day(from) };
    let mut points = Vec::new();
    let mut state_changes_out = Vec::new();
    let (total, _) = window(db, config, &ids, from, to, now).await?;
    if !ids.is_empty() {
        let rows = buckets::Entity::find()
            .filter(buckets::Column::CheckId.is_in(ids.iter().copied()))
            .filter(buckets::Column::Period.eq(period))
            .filter(buckets::Column::Start.gte(first))
            .filter(buckets::Column::Start.lt(to))
            .all(db)
            .await?;
        let mut by_start: HashMap<DateTime<Utc>, (Counts, Histogram)> = HashMap::new();
        for b in rows {
            let e = by_start.entry(b.start).or_default();
            e.0.add(&Counts {
                up: i64::from(b.up),
                degraded: i64::from(b.degraded),
                down: i64::from(b.down),
                maintenance: i64::from(b.maintenance),
                unknown: i64::from(b.unknown),
            });
            e.1.add(&Histogram::decode(&b.latency));
        }
        let mut t = first;
        while t < to && points.len() < 2000 {
            let (c, h) = by_start.remove(&t).unwrap_or_default();
            points.push(HistoryPoint {
                start: rfc3339(t),
                uptime: c.uptime().map(round),
                up: c.up,
                degraded: c.degraded,
                down: c.down,
                maintenance: c.maintenance,
                p95_ms: h.quantile(0.95).map(|v| v.round()),
            });
            t += step;
        }
        state_changes_out = state_changes::Entity::find()
            .filter(state_changes::Column::CheckId.is_in(ids.iter().copied()))
            .filter(state_changes::Column::At.gte(from))
            .filter(state_changes::Column::At.lt(to))
            .order_by_asc(state_changes::Column::At)
            .all(db)
            .await?
            .into_iter()
            .map(|s| StateChangeView {
                check_id: s.check_id,
                at: rfc3339(s.at),
                from: s.from_state,
                to: s.to_state,
                reason: s.reason,
            })
            .collect();
    }
    Ok(HealthHistory {
        entity_ref: entity_ref.to_owned(),
        environment: environment.to_owned(),
        from: rfc3339(from),
        to: rfc3339(to),
        step: if hourly { "hour" } else { "day" }.to_owned(),
        uptime: total.uptime().map(round),
        points,
        state_changes: state_changes_out,
    })
}

/// A state change as live pages receive it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ChangeEvent {
    /// The entity.
    pub entity_ref: String,
    /// Environment.
    pub environment: String,
    /// The check.
    pub check_id: i64,
    /// Before.
    pub from: String,
    /// After.
    pub to: String,
    /// When (RFC 3339).
    pub at: String,
}

/// State changes recorded after row `after` (`None`: none, only the newest id), with the newest id seen.
pub async fn changes_after(db: &DatabaseConnection, after: Option<i64>) -> Result<(i64, Vec<ChangeEvent>), DbErr> {
    use sea_orm::QuerySelect;
    let Some(after) = after else {
        let newest: Option<Option<i64>> = state_changes::Entity::find()
            .select_only()
            .column_as(state_changes::Column::Id.max(), "newest")
            .into_tuple()
            .one(db)
            .await?;
        return Ok((newest.flatten().unwrap_or(0), Vec::new()));
    };
    let rows = state_changes::Entity::find()
        .filter(state_changes::Column::Id.gt(after))
        .order_by_asc(state_changes::Column::Id)
        .limit(1000)
        .all(db)
        .await?;
    let newest = rows.last().map_or(after, |r| r.id);
    let ids: Vec<i64> = rows.iter().map(|r| r.check_id).collect();
    let owners: HashMap<i64, (String, String)> = if ids.is_empty() {
        HashMap::new()
    } else {
        checks::Entity::find()
            .filter(checks::Column::Id.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .map(|c| (c.id, (c.component_ref, c.environment)))
            .collect()
    };
    let events = rows
        .into_iter()
        .filter_map(|r| {
            let (entity_ref, environment) = owners.get(&r.check_id)?.clone();
            Some(ChangeEvent {
                entity_ref,
                environment,
                check_id: r.check_id,
                from: r.from_state,
                to: r.to_state,
                at: rfc3339(r.at),
            })
        })
        .collect();
    Ok((newest, events))
}

/// The Component or Resource an input names (a bare name is a component).
pub async fn resolve_entity<C: ConnectionTrait>(db: &C, text: &str) -> Result<entities::Model, HealthError> {
    let r = EntityRef::parse(text, Some("component"), "default").map_err(|e| invalid("entity", e.to_string()))?;
    if r.kind != "component" && r.kind != "resource" {
        return Err(invalid("entity", format!("`{r}` is not a component or resource")));
    }
    entities::Entity::find()
        .filter(entities::Column::EntityRef.eq(r.to_string()))
        .one(db)
        .await?
        .ok_or_else(|| invalid("entity", format!("there is no {r} in the catalog")))
}

fn environment(config: &Config, text: &str) -> Result<String, HealthError> {
    let name = text.trim().to_lowercase();
    if config.environment(&name).is_some() {
        return Ok(name);
    }
    let known: Vec<&str> = config.environments.iter().map(|e| e.name.as_str()).collect();
    Err(invalid("environment", format!("`{}` is not a configured environment ({})", text.trim(), known.join(", "))))
}

/// A check input that passed validation.
#[derive(Debug)]
pub struct ValidCheck {
    /// The entity (its owner decides who may edit its checks).
    pub entity: entities::Model,
    /// The spec.
    pub spec: CheckSpec,
    /// Probed or paused.
    pub enabled: bool,
}

/// Checks a check input field by field.
pub async fn validate_check(
    db: &DatabaseConnection,
    config: &Config,
    input: &CheckInput,
) -> Result<ValidCheck, HealthError> {
    let entity = resolve_entity(db, &input.entity).await?;
    let environment = environment(config, &input.environment)?;
    let name = input.name.trim();
    if name.is_empty() || name.len() > 63 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(invalid("name", "1 to 63 letters, digits, - and _"));
    }
    let target = Target::parse(&input.target).map_err(|e| invalid("target", e))?;
    let interval = match input.interval.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => spec::DEFAULT_INTERVAL,
        Some(t) => spec::parse_duration(t).map_err(|e| invalid("interval", e))?,
    };
    if interval < config.health.min_interval {
        return Err(invalid(
            "interval",
            format!("at least {} ms (PORTOLAN_HEALTH_MIN_INTERVAL)", config.health.min_interval.as_millis()),
        ));
    }
    if interval > std::time::Duration::from_secs(86_400) {
        return Err(invalid("interval", "at most 24h"));
    }
    let expect = match input.expect.as_deref() {
        None => Expect::default(),
        Some(t) => Expect::parse(t).map_err(|e| invalid("expect", e))?,
    };
    let objective = match input.slo {
        None => spec::DEFAULT_OBJECTIVE,
        Some(v) => spec::parse_objective(&v.to_string()).map_err(|e| invalid("slo", e))?,
    };
    Ok(ValidCheck {
        entity,
        spec: CheckSpec { environment, name: name.to_owned(), target, interval, expect, objective },
        enabled: input.enabled.unwrap_or(true),
    })
}

/// Adds a check in the portal; the same entity, environment and name twice is refused.
pub async fn create_check(db: &DatabaseConnection, v: &ValidCheck) -> Result<CheckView, HealthError> {
    let now = Utc::now();
    let clash = checks::Entity::find()
        .filter(checks::Column::ComponentRef.eq(&v.entity.entity_ref))
        .filter(checks::Column::Environment.eq(&v.spec.environment))
        .filter(checks::Column::Source.eq(SOURCE_PORTAL))
        .filter(checks::Column::Name.eq(&v.spec.name))
        .one(db)
        .await?;
    if clash.is_some() {
        return Err(invalid(
            "name",
            format!("{} already has a check called {} in {}", v.entity.entity_ref, v.spec.name, v.spec.environment),
        ));
    }
    let row = new_check(&v.entity.entity_ref, SOURCE_PORTAL, &v.spec, v.enabled, now).insert(db).await?;
    Ok(check_view(&row, false, now))
}

/// A check by id.
pub async fn find_check(db: &DatabaseConnection, id: i64) -> Result<checks::Model, HealthError> {
    checks::Entity::find_by_id(id).one(db).await?.ok_or_else(|| HealthError::NotFound(format!("no check {id}")))
}

fn refuse_declared(c: &checks::Model) -> Result<(), HealthError> {
    if c.source == SOURCE_ANNOTATION {
        return Err(HealthError::Declared(format!(
            "check {} is declared in {}'s catalog file: edit it in the repository",
            c.id, c.component_ref
        )));
    }
    Ok(())
}

/// Changes a check added in the portal (declared ones are edited in their repository).
pub async fn update_check(
    db: &DatabaseConnection,
    c: &checks::Model,
    v: &ValidCheck,
) -> Result<CheckView, HealthError> {
    refuse_declared(c)?;
    if v.entity.entity_ref != c.component_ref || v.spec.environment != c.environment {
        return Err(invalid("entity", "a check stays on its entity and environment; add a new one instead"));
    }
    let now = Utc::now();
    let mut m = if differs(c, &v.spec) { apply_spec(c, &v.spec, now) } else { c.clone().into() };
    m.name = Set(v.spec.name.clone());
    m.enabled = Set(v.enabled);
    if v.enabled && !c.enabled {
        m.next_due_at = Set(now);
    }
    m.updated_at = Set(now);
    let row = m.update(db).await?;
    Ok(check_view(&row, false, now))
}

/// Removes a check added in the portal, with its history.
pub async fn delete_check(db: &DatabaseConnection, c: &checks::Model) -> Result<(), HealthError> {
    refuse_declared(c)?;
    let txn = crate::db::begin_write(db).await?;
    remove_check(&txn, c, Utc::now()).await?;
    txn.commit().await?;
    Ok(())
}

/// Plans a maintenance window.
pub async fn create_maintenance(
    db: &DatabaseConnection,
    config: &Config,
    entity: &entities::Model,
    input: &MaintenanceInput,
    by: &str,
) -> Result<MaintenanceView, HealthError> {
    let env = match input.environment.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        None => None,
        Some(e) => Some(environment(config, e)?),
    };
    let parse = |field: &'static str, t: &str| {
        DateTime::parse_from_rfc3339(t.trim())
            .map(|d| d.with_timezone(&Utc))
            .map_err(|_| invalid(field, format!("`{}` is not an RFC 3339 time", t.trim())))
    };
    let starts = parse("starts_at", &input.starts_at)?;
    let ends = parse("ends_at", &input.ends_at)?;
    if ends <= starts {
        return Err(invalid("ends_at", "must be after starts_at"));
    }
    let reason = input.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(invalid("reason", "1 to 500 characters"));
    }
    let row = maintenance::ActiveModel {
        component_ref: Set(entity.entity_ref.clone()),
        environment: Set(env),
        starts_at: Set(starts),
        ends_at: Set(ends),
        reason: Set(reason.to_owned()),
        created_by: Set(by.to_owned()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(maintenance_view(&row))
}

/// A maintenance window by id.
pub async fn find_maintenance(db: &DatabaseConnection, id: i64) -> Result<maintenance::Model, HealthError> {
    maintenance::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| HealthError::NotFound(format!("no maintenance window {id}")))
}

/// Ends (deletes) a maintenance window.
pub async fn delete_maintenance(db: &DatabaseConnection, id: i64) -> Result<(), HealthError> {
    maintenance::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}
