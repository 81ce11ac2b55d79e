//! The probe engine. Each check's slots sit on a fixed grid ([`super::state::next_slot`]); the engine claims the
//! checks due in the next second with a lease in the database (so with several replicas each check runs once per
//! slot), waits for each slot, probes with bounded concurrency, re-checks at once when a verdict goes against the
//! state, and records batches of slots in one transaction: raw results, hourly and daily buckets, state changes,
//! and incidents for production checks.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use tokio::sync::{Semaphore, mpsc};

use super::maths::{Counts, Histogram, floor_day, floor_hour};
use super::probe::{ProbeResult, Prober, timeout_for};
use super::spec::{Expect, StatusSet, Target};
use super::state::{Outcome, State, Thresholds, Tracker, next_slot};
use super::{buckets, checks, maintenance, results, state_changes};
use crate::config::Config;
use crate::deploys::incidents;

/// How far ahead checks are claimed.
const LOOKAHEAD_MS: i64 = 1000;
/// How often the scheduler looks for due checks.
const TICK: StdDuration = StdDuration::from_millis(250);
/// Slots recorded per transaction, at most.
const BATCH: usize = 500;

/// Probe figures for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Slots probed.
    pub slots: AtomicU64,
    /// Probes run (slots and re-checks).
    pub probes: AtomicU64,
    /// Probes per verdict: up, degraded, down.
    pub outcomes: [AtomicU64; 3],
    /// Slots that started more than a second after their time.
    pub late_slots: AtomicU64,
    /// Sum of start delays, in microseconds.
    pub drift_micros: AtomicU64,
    /// Largest start delay seen, in microseconds.
    pub max_drift_micros: AtomicU64,
    /// Batches that failed to record (their checks are probed again when the lease ends).
    pub record_failures: AtomicU64,
    /// Slots overdue by more than their interval when claimed (new checks, or the portal was down).
    pub caught_up: AtomicU64,
    /// Start delays per bucket of [`DRIFT_BOUNDS_MS`] (the last one: above them all).
    pub drift_buckets: [AtomicU64; 11],
}

/// Upper bounds of the start-delay histogram, in milliseconds.
pub const DRIFT_BOUNDS_MS: [u64; 10] = [1, 5, 10, 50, 100, 250, 500, 1000, 2000, 5000];

impl Metrics {
    fn probe(&self, outcome: Outcome) {
        self.probes.fetch_add(1, Ordering::Relaxed);
        let i = match outcome {
            Outcome::Up => 0,
            Outcome::Degraded => 1,
            Outcome::Down => 2,
        };
        self.outcomes[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one slot's start delay.
    pub fn started(&self, late_micros: u64) {
        self.slots.fetch_add(1, Ordering::Relaxed);
        self.drift_micros.fetch_add(late_micros, Ordering::Relaxed);
        self.max_drift_micros.fetch_max(late_micros, Ordering::Relaxed);
        if late_micros > 1_000_000 {
            self.late_slots.fetch_add(1, Ordering::Relaxed);
        }
        let i = DRIFT_BOUNDS_MS.iter().position(|b| late_micros <= b * 1000).unwrap_or(DRIFT_BOUNDS_MS.len());
        self.drift_buckets[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text lines.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(out, "# TYPE portolan_health_slots_total counter");
        let _ = writeln!(out, "portolan_health_slots_total {}", g(&self.slots));
        let _ = writeln!(out, "# TYPE portolan_health_probes_total counter");
        for (i, name) in ["up", "degraded", "down"].iter().enumerate() {
            let _ = writeln!(out, "portolan_health_probes_total{{outcome=\"{name}\"}} {}", g(&self.outcomes[i]));
        }
        let _ = writeln!(out, "# TYPE portolan_health_late_slots_total counter");
        let _ = writeln!(out, "portolan_health_late_slots_total {}", g(&self.late_slots));
        let _ = writeln!(out, "# TYPE portolan_health_start_drift_seconds_sum counter");
        let _ = writeln!(out, "portolan_health_start_drift_seconds_sum {:.6}", g(&self.drift_micros) as f64 / 1e6);
        let _ = writeln!(out, "# TYPE portolan_health_start_drift_seconds_max gauge");
        let _ = writeln!(out, "portolan_health_start_drift_seconds_max {:.6}", g(&self.max_drift_micros) as f64 / 1e6);
        let _ = writeln!(out, "# TYPE portolan_health_start_drift_seconds histogram");
        let mut cumulative = 0;
        for (i, b) in DRIFT_BOUNDS_MS.iter().enumerate() {
            cumulative += g(&self.drift_buckets[i]);
            let _ = writeln!(
                out,
                "portolan_health_start_drift_seconds_bucket{{le=\"{}\"}} {cumulative}",
                *b as f64 / 1000.0
            );
        }
        cumulative += g(&self.drift_buckets[DRIFT_BOUNDS_MS.len()]);
        let _ = writeln!(out, "portolan_health_start_drift_seconds_bucket{{le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(out, "portolan_health_start_drift_seconds_count {cumulative}");
        let _ = writeln!(out, "# TYPE portolan_health_caught_up_slots_total counter");
        let _ = writeln!(out, "portolan_health_caught_up_slots_total {}", g(&self.caught_up));
        let _ = writeln!(out, "# TYPE portolan_health_record_failures_total counter");
        let _ = writeln!(out, "portolan_health_record_failures_total {}", g(&self.record_failures));
    }
}

/// What one slot of one check found.
#[derive(Clone, Debug)]
pub struct SlotOutcome {
    /// The check as claimed.
    pub check: checks::Model,
    /// The slot.
    pub slot: DateTime<Utc>,
    /// The scheduled probe first, then any re-checks.
    pub probes: Vec<ProbeResult>,
    /// The state and streaks after them.
    pub tracker: Tracker,
    /// Changes on the way: (when, from, to, why).
    pub changes: Vec<(DateTime<Utc>, State, State, Option<String>)>,
}

/// The probe engine of one process.
pub struct Engine {
    db: DatabaseConnection,
    config: Arc<Config>,
    prober: Prober,
    replica: String,
    claims: AtomicU64,
    limit: Arc<Semaphore>,
    last_burn_minute: AtomicU64,
    /// Probe figures.
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("replica", &self.replica).finish_non_exhaustive()
    }
}

/// Not leased, or the lease ran out.
fn free(now: DateTime<Utc>) -> sea_orm::Condition {
    sea_orm::Condition::any().add(checks::Column::LeaseUntil.is_null()).add(checks::Column::LeaseUntil.lt(now))
}

/// A check's spec as stored.
pub fn expect_of(c: &checks::Model) -> Expect {
    Expect {
        status: StatusSet::parse(&c.expect_status).unwrap_or_else(|_| Expect::default().status),
        body: c.expect_body.clone(),
        degraded_after: c.degraded_ms.and_then(|ms| u64::try_from(ms).ok()).map(StdDuration::from_millis),
    }
}

fn interval_of(c: &checks::Model) -> Duration {
    Duration::milliseconds(c.interval_ms.max(1))
}

fn tracker_of(c: &checks::Model) -> Tracker {
    Tracker {
        state: match State::parse(&c.state) {
            State::Maintenance => State::Unknown,
            s => s,
        },
        fail_streak: u32::try_from(c.fail_streak).unwrap_or(0),
        ok_streak: u32::try_from(c.ok_streak).unwrap_or(0),
    }
}

impl Engine {
    /// An engine over `db`, named uniquely among replicas.
    pub fn new(db: DatabaseConnection, config: Arc<Config>, metrics: Arc<Metrics>) -> Engine {
        let replica = format!("{}-{:016x}", std::process::id(), rand::random::<u64>());
        let limit = Arc::new(Semaphore::new(config.health.concurrency));
        Engine {
            db,
            config,
            prober: Prober::new(),
            replica,
            claims: AtomicU64::new(0),
            limit,
            last_burn_minute: AtomicU64::new(0),
            metrics,
        }
    }

    fn thresholds(&self) -> Thresholds {
        Thresholds { failures: self.config.health.failures, successes: self.config.health.successes }
    }

    /// Claims the enabled checks due by `horizon` that no replica holds, for a lease long enough to probe them.
    pub async fn claim(&self, now: DateTime<Utc>, horizon: DateTime<Utc>) -> Result<Vec<checks::Model>, DbErr> {
        let due: Vec<i64> = checks::Entity::find()
            .select_only()
            .column(checks::Column::Id)
            .filter(checks::Column::Enabled.eq(true))
            .filter(checks::Column::NextDueAt.lte(horizon))
            .filter(free(now))
            .order_by_asc(checks::Column::NextDueAt)
            .limit(5000)
            .into_tuple()
            .all(&self.db)
            .await?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let token = format!("{}:{}", self.replica, self.claims.fetch_add(1, Ordering::Relaxed));
        // Long enough for a slot with its re-checks at the longest timeout; a crashed replica's checks come back
        // after it.
        let until = horizon + Duration::seconds(60);
        let mut won = Vec::new();
        for chunk in due.chunks(500) {
            checks::Entity::update_many()
                .col_expr(checks::Column::LeaseOwner, Expr::value(token.clone()))
                .col_expr(checks::Column::LeaseUntil, Expr::value(until))
                .filter(checks::Column::Id.is_in(chunk.iter().copied()))
                .filter(free(now))
                .exec(&self.db)
                .await?;
            won.extend(
                checks::Entity::find()
                    .filter(checks::Column::Id.is_in(chunk.iter().copied()))
                    .filter(checks::Column::LeaseOwner.eq(token.clone()))
                    .all(&self.db)
                    .await?,
            );
        }
        Ok(won)
    }

    /// Probes one claimed check's slot, re-checking at once (up to the thresholds) when a verdict goes against
    /// the state.
    pub async fn run_slot(&self, check: checks::Model) -> SlotOutcome {
        let slot = check.next_due_at;
        let interval = interval_of(&check);
        let timeout = timeout_for(interval.to_std().unwrap_or(StdDuration::from_secs(60)));
        let t = self.thresholds();
        let mut tracker = tracker_of(&check);
        let mut probes = Vec::new();
        let mut changes = Vec::new();
        let (target, expect) = match Target::parse(&check.target) {
            Ok(target) => (target, expect_of(&check)),
            Err(e) => {
                // Cannot happen for stored checks (validated on the way in); never count it as downtime.
                tracing::warn!(check = check.id, error = %e, "a stored health check has a bad target");
                return SlotOutcome { check, slot, probes, tracker, changes };
            }
        };
        let max_rechecks = t.failures.max(t.successes).saturating_sub(1);
        loop {
            let result = {
                let _permit = self.limit.acquire().await;
                self.prober.probe(&target, &expect, timeout).await
            };
            self.metrics.probe(result.outcome);
            let before = tracker.state;
            if let Some(after) = tracker.observe(result.outcome, t) {
                changes.push((result.at, before, after, result.error.clone()));
            }
            let outcome = result.outcome;
            probes.push(result);
            if !tracker.pending(outcome) || probes.len() > max_rechecks as usize {
                break;
            }
        }
        SlotOutcome { check, slot, probes, tracker, changes }
    }

    /// Records slots in one transaction. A check changed or removed meanwhile keeps its new spec.
    pub async fn record(&self, outcomes: Vec<SlotOutcome>, now: DateTime<Utc>) -> Result<(), DbErr> {
        if outcomes.is_empty() {
            return Ok(());
        }
        record(&self.db, &self.config, outcomes, now).await
    }

    /// Claims, probes and records every check due at `now`, at once (tests and `portolan health run-once`).
    pub async fn run_due(&self, now: DateTime<Utc>) -> Result<usize, DbErr> {
        let claimed = self.claim(now, now).await?;
        let n = claimed.len();
        let mut outcomes = Vec::with_capacity(n);
        let mut tasks = tokio::task::JoinSet::new();
        for c in claimed {
            let me = self.clone_handle();
            tasks.spawn(async move { me.run_slot(c).await });
        }
        while let Some(done) = tasks.join_next().await {
            if let Ok(o) = done {
                outcomes.push(o);
            }
        }
        outcomes.sort_by_key(|o| o.check.id);
        self.record(outcomes, now).await?;
        Ok(n)
    }

    /// Sends notifications for new state changes, and (once a minute at most) for burn-rate alerts that start.
    pub async fn notify(&self, http: &reqwest::Client) {
        let now = Utc::now();
        let mut messages = match super::notify::claim_changes(&self.db, &self.config, now).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "reading health state changes to notify failed");
                Vec::new()
            }
        };
        let minute = now.timestamp() / 60;
        if self.last_burn_minute.swap(minute as u64, Ordering::Relaxed) != minute as u64 {
            match super::notify::burn_alerts(&self.db, &self.config, now).await {
                Ok(m) => messages.extend(m),
                Err(e) => tracing::warn!(error = %e, "computing burn-rate alerts failed"),
            }
        }
        if !messages.is_empty() {
            let sent = super::notify::send(http, &self.config, &messages).await;
            tracing::info!(messages = messages.len(), sent, "health notifications sent");
        }
    }

    fn clone_handle(&self) -> Arc<Engine> {
        Arc::new(Engine {
            db: self.db.clone(),
            config: self.config.clone(),
            prober: self.prober.clone(),
            replica: self.replica.clone(),
            claims: AtomicU64::new(0),
            limit: self.limit.clone(),
            last_burn_minute: AtomicU64::new(0),
            metrics: self.metrics.clone(),
        })
    }

    /// Runs forever: syncs declared checks when the catalog changes, claims due checks every 250 ms, probes each
    /// at its slot, records in batches, trims old rows every hour.
    pub async fn run(self: Arc<Self>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<SlotOutcome>();
        let writer = self.clone();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while let Some(first) = rx.recv().await {
                batch.push(first);
                // Gather what arrives in the next moment into the same transaction.
                let deadline = tokio::time::Instant::now() + StdDuration::from_millis(100);
                while batch.len() < BATCH {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(o)) => batch.push(o),
                        _ => break,
                    }
                }
                let n = batch.len();
                if let Err(e) = writer.record(std::mem::take(&mut batch), Utc::now()).await {
                    writer.metrics.record_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, slots = n, "recording health results failed");
                }
            }
        });
        let mut last_sync = tokio::time::Instant::now() - StdDuration::from_secs(3600);
        let mut marker = None;
        let mut last_trim = tokio::time::Instant::now();
        let mut last_notify = tokio::time::Instant::now();
        let notifying = self.config.health.webhook_url.is_some() || !self.config.health.team_webhooks.is_empty();
        let http = reqwest::Client::builder().timeout(StdDuration::from_secs(5)).build().unwrap_or_default();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if last_sync.elapsed() >= StdDuration::from_secs(30) {
                last_sync = tokio::time::Instant::now();
                match super::sync::sync_if_changed(&self.db, &self.config, &mut marker).await {
                    Ok(Some(r)) if r.changed() => {
                        tracing::info!(
                            added = r.added,
                            updated = r.updated,
                            removed = r.removed,
                            "health checks synced"
                        )
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "syncing declared health checks failed"),
                }
            }
            if last_trim.elapsed() >= StdDuration::from_secs(3600) {
                last_trim = tokio::time::Instant::now();
                if let Err(e) = trim(&self.db, &self.config, Utc::now()).await {
                    tracing::warn!(error = %e, "trimming health results failed");
                }
            }
            if notifying && last_notify.elapsed() >= StdDuration::from_secs(5) {
                last_notify = tokio::time::Instant::now();
                let (me, http) = (self.clone(), http.clone());
                tokio::spawn(async move { me.notify(&http).await });
            }
            let now = Utc::now();
            let claimed = match self.claim(now, now + Duration::milliseconds(LOOKAHEAD_MS)).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming health checks failed");
                    continue;
                }
            };
            for c in claimed {
                let me = self.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let wait = (c.next_due_at - Utc::now()).to_std().unwrap_or_default();
                    tokio::time::sleep(wait).await;
                    let late = (Utc::now() - c.next_due_at).num_microseconds().unwrap_or(0).max(0) as u64;
                    if late > (c.interval_ms.max(1000) as u64) * 1000 {
                        // Overdue by more than an interval: new, or the portal was not running. Not drift.
                        me.metrics.caught_up.fetch_add(1, Ordering::Relaxed);
                    } else {
                        me.metrics.started(late);
                    }
                    let _ = tx.send(me.run_slot(c).await);
                });
            }
        }
    }
}

/// Whether a maintenance window covers `environment` of `component` at `at`.
fn in_window(windows: &[maintenance::Model], component: &str, environment: &str, at: DateTime<Utc>) -> bool {
    windows.iter().any(|w| {
        w.component_ref == component
            && w.environment.as_deref().is_none_or(|e| e == environment)
            && w.starts_at <= at
            && at < w.ends_at
    })
}

type BucketKey = (i64, &'static str, DateTime<Utc>);

async fn record(
    db: &DatabaseConnection,
    config: &Config,
    outcomes: Vec<SlotOutcome>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let components: Vec<String> = {
        let mut c: Vec<String> = outcomes.iter().map(|o| o.check.component_ref.clone()).collect();
        c.sort();
        c.dedup();
        c
    };
    let earliest = outcomes.iter().map(|o| o.slot).min().unwrap_or(now);
    let windows = maintenance::Entity::find()
        .filter(maintenance::Column::ComponentRef.is_in(components))
        .filter(maintenance::Column::EndsAt.gt(earliest))
        .all(&txn)
        .await?;

    let mut raw = Vec::new();
    let mut deltas: BTreeMap<BucketKey, (Counts, Histogram)> = BTreeMap::new();
    for o in &outcomes {
        let c = &o.check;
        let maintenance = in_window(&windows, &c.component_ref, &c.environment, o.slot);
        let counted = if o.probes.is_empty() {
            State::Unknown
        } else if maintenance {
            State::Maintenance
        } else {
            o.tracker.state
        };
        // Times on the slot's clock: the scheduled probe at the slot, re-checks and changes after it.
        let base = o.probes.first().map(|p| p.at).unwrap_or(o.slot);
        let on_slot = |at: DateTime<Utc>| o.slot + (at - base).max(Duration::zero());
        for (i, p) in o.probes.iter().enumerate() {
            raw.push(results::ActiveModel {
                check_id: Set(c.id),
                at: Set(on_slot(p.at).timestamp_millis()),
                outcome: Set(p.outcome.as_str().to_owned()),
                counted: Set((i == 0).then(|| counted.as_str().to_owned())),
                latency_ms: Set(p.latency_ms.map(|v| i32::try_from(v).unwrap_or(i32::MAX))),
                status_code: Set(p.status_code.map(i32::from)),
                error: Set(p.error.clone()),
                ..Default::default()
            });
        }
        for (period, start) in [("h", floor_hour(o.slot)), ("d", floor_day(o.slot))] {
            let entry = deltas.entry((c.id, period, start)).or_default();
            entry.0.count(counted.as_str());
            if let Some(ms) = o.probes.first().and_then(|p| p.latency_ms) {
                entry.1.record(ms);
            }
        }

        // The check itself: state, streaks, the next slot on its grid, the lease released.
        let last = o.probes.last();
        let interval = interval_of(c);
        let mut m: checks::ActiveModel = checks::ActiveModel { id: Set(c.id), ..Default::default() };
        // The next slot on the grid after this one; after an overdue slot (new check, portal was down) the next
        // one after now, so missed slots are skipped rather than run late.
        let after = if o.slot < now - interval { now } else { o.slot };
        m.next_due_at = Set(next_slot(c.id, interval, after));
        m.lease_until = Set(None);
        m.lease_owner = Set(None);
        m.state = Set(o.tracker.state.as_str().to_owned());
        m.fail_streak = Set(i32::try_from(o.tracker.fail_streak).unwrap_or(i32::MAX));
        m.ok_streak = Set(i32::try_from(o.tracker.ok_streak).unwrap_or(i32::MAX));
        if let Some(p) = last {
            m.last_checked_at = Set(Some(o.slot));
            m.last_latency_ms = Set(p.latency_ms.map(|v| i32::try_from(v).unwrap_or(i32::MAX)));
            m.last_status_code = Set(p.status_code.map(i32::from));
            m.last_error = Set(p.error.clone());
            if p.tls_expires_at.is_some() {
                m.tls_expires_at = Set(p.tls_expires_at);
            }
        }
        if let Some((at, _, _, _)) = o.changes.last() {
            m.state_since = Set(on_slot(*at));
        }
        m.updated_at = Set(now);

        let production = config.environment(&c.environment).is_some_and(|e| e.production);
        let mut open_incident = c.open_incident_id;
        for (at, from, to, why) in &o.changes {
            let at = on_slot(*at);
            state_changes::ActiveModel {
                check_id: Set(c.id),
                at: Set(at),
                from_state: Set(from.as_str().to_owned()),
                to_state: Set(to.as_str().to_owned()),
                reason: Set(why.clone()),
                notified_at: Set(None),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            if *to == State::Down && production && !maintenance && open_incident.is_none() {
                let row = incidents::ActiveModel {
                    component_ref: Set(c.component_ref.clone()),
                    environment: Set(c.environment.clone()),
                    title: Set(format!(
                        "{} is down in {}{}",
                        c.name,
                        c.environment,
                        why.as_deref().map(|w| format!(": {w}")).unwrap_or_default()
                    )),
                    severity: Set("critical".to_owned()),
                    started_at: Set(at),
                    resolved_at: Set(None),
                    external_id: Set(format!("health:{}:{}", c.id, at.timestamp_millis())),
                    deployment: Set(None),
                    source: Set("health".to_owned()),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
                .insert(&txn)
                .await?;
                open_incident = Some(row.id);
            } else if *to != State::Down
                && let Some(id) = open_incident.take()
            {
                incidents::Entity::update_many()
                    .col_expr(incidents::Column::ResolvedAt, Expr::value(at))
                    .col_expr(incidents::Column::UpdatedAt, Expr::value(now))
                    .filter(incidents::Column::Id.eq(id))
                    .filter(incidents::Column::ResolvedAt.is_null())
                    .exec(&txn)
                    .await?;
            }
        }
        if open_incident != c.open_incident_id {
            m.open_incident_id = Set(open_incident);
        }
        checks::Entity::update_many().set(m).filter(checks::Column::Id.eq(c.id)).exec(&txn).await?;
    }
    for chunk in raw.chunks(200) {
        results::Entity::insert_many(chunk.to_vec()).exec(&txn).await?;
    }
    add_to_buckets(&txn, deltas).await?;
    txn.commit().await
}

async fn add_to_buckets<C: ConnectionTrait>(
    txn: &C,
    deltas: BTreeMap<BucketKey, (Counts, Histogram)>,
) -> Result<(), DbErr> {
    let ids: Vec<i64> = {
        let mut v: Vec<i64> = deltas.keys().map(|k| k.0).collect();
        v.dedup();
        v
    };
    let starts: Vec<DateTime<Utc>> = {
        let mut v: Vec<DateTime<Utc>> = deltas.keys().map(|k| k.2).collect();
        v.sort();
        v.dedup();
        v
    };
    let mut existing: HashMap<(i64, String, DateTime<Utc>), buckets::Model> = HashMap::new();
    for chunk in ids.chunks(400) {
        for b in buckets::Entity::find()
            .filter(buckets::Column::CheckId.is_in(chunk.iter().copied()))
            .filter(buckets::Column::Start.is_in(starts.iter().copied()))
            .all(txn)
            .await?
        {
            existing.insert((b.check_id, b.period.clone(), b.start), b);
        }
    }
    let mut inserts = Vec::new();
    for ((id, period, start), (counts, hist)) in deltas {
        let n = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
        match existing.get(&(id, period.to_owned(), start)) {
            Some(b) => {
                let mut h = Histogram::decode(&b.latency);
                h.add(&hist);
                buckets::Entity::update_many()
                    .col_expr(buckets::Column::Up, Expr::value(b.up + n(counts.up)))
                    .col_expr(buckets::Column::Degraded, Expr::value(b.degraded + n(counts.degraded)))
                    .col_expr(buckets::Column::Down, Expr::value(b.down + n(counts.down)))
                    .col_expr(buckets::Column::Maintenance, Expr::value(b.maintenance + n(counts.maintenance)))
                    .col_expr(buckets::Column::Unknown, Expr::value(b.unknown + n(counts.unknown)))
                    .col_expr(buckets::Column::Latency, Expr::value(h.encode()))
                    .filter(buckets::Column::CheckId.eq(id))
                    .filter(buckets::Column::Period.eq(period))
                    .filter(buckets::Column::Start.eq(start))
                    .exec(txn)
                    .await?;
            }
            None => inserts.push(buckets::ActiveModel {
                check_id: Set(id),
                period: Set(period.to_owned()),
                start: Set(start),
                up: Set(n(counts.up)),
                degraded: Set(n(counts.degraded)),
                down: Set(n(counts.down)),
                maintenance: Set(n(counts.maintenance)),
                unknown: Set(n(counts.unknown)),
                latency: Set(hist.encode()),
            }),
        }
    }
    for chunk in inserts.chunks(200) {
        buckets::Entity::insert_many(chunk.to_vec()).exec(txn).await?;
    }
    Ok(())
}

/// What a retention run removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trimmed {
    /// Raw results.
    pub results: u64,
    /// Hourly buckets.
    pub hourly: u64,
}

/// Removes raw results older than the raw period and hourly buckets older than the hourly period; daily buckets
/// and state changes stay.
pub async fn trim(db: &DatabaseConnection, config: &Config, now: DateTime<Utc>) -> Result<Trimmed, DbErr> {
    let raw_cut = now - Duration::days(i64::from(config.health.raw_days));
    let hourly_cut = floor_hour(now - Duration::days(i64::from(config.health.hourly_days)));
    // Check by check, so each delete walks the (check, time) index.
    let ids: Vec<i64> = checks::Entity::find().select_only().column(checks::Column::Id).into_tuple().all(db).await?;
    let mut results = 0;
    for chunk in ids.chunks(50) {
        results += results::Entity::delete_many()
            .filter(results::Column::CheckId.is_in(chunk.iter().copied()))
            .filter(results::Column::At.lt(raw_cut.timestamp_millis()))
            .exec(db)
            .await?
            .rows_affected;
    }
    let hourly = buckets::Entity::delete_many()
        .filter(buckets::Column::Period.eq("h"))
        .filter(buckets::Column::Start.lt(hourly_cut))
        .exec(db)
        .await?;
    Ok(Trimmed { results, hourly: hourly.rows_affected })
}
