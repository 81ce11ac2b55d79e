//! Cost anomalies: a component's (or the shared or unallocated) daily spend that stands out from its own recent
//! past. A day is an anomaly when it exceeds the mean of the trailing window by at least the minimum amount *and*
//! its robust z-score against that window (0.6745 (x - median) / MAD) reaches the threshold. Only complete days
//! are judged: the latest imported day is usually partial. Anomalies are computed from the daily sums on every
//! read, so a restated month moves them; what people decide (dismiss, snooze) is stored per anomaly.
//!
//! Money stays in integer nano-units throughout; the z-score comparison is done in integers too (it is a ratio of
//! amounts), and only its displayed value is rounded to one decimal.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
};

use portolan_types::cost::{AnomalyList, AnomalySettings, AnomalyTriageInput, CostAnomaly};

use super::CostError;
use super::entity::{cost_anomaly_triage, cost_daily, cost_tagsets};
use super::money::Amount;
use super::query::{self, CostQuery, GroupBy, Metric};
use crate::config::CostSettings;

/// How a day compares with its trailing window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Detection {
    /// The trailing window's mean.
    pub expected: Amount,
    /// The window's median.
    pub median: Amount,
    /// The robust z-score in tenths, rounded down; `None` when the window is perfectly flat (any rise is
    /// infinitely unusual).
    pub z_tenths: Option<i128>,
}

fn median(values: &mut [i128]) -> i128 {
    values.sort_unstable();
    let n = values.len();
    if n == 0 {
        0
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2
    }
}

/// Whether `x` is an anomaly against `window` (the trailing days, oldest first; days without spend are zero).
pub fn detect(window: &[Amount], x: Amount, min: Amount, z: Amount) -> Option<Detection> {
    if window.is_empty() {
        return None;
    }
    let n = window.len() as i128;
    let expected = Amount(window.iter().map(|a| a.0).sum::<i128>() / n);
    if x <= expected || x - expected < min {
        return None;
    }
    let mut values: Vec<i128> = window.iter().map(|a| a.0).collect();
    let med = median(&mut values);
    let dev = x.0 - med;
    if dev <= 0 {
        return None;
    }
    let mut spread: Vec<i128> = values.iter().map(|v| (v - med).abs()).collect();
    let mean_spread = spread.iter().sum::<i128>() / n;
    let mad = median(&mut spread);
    // z = 0.6745 dev / MAD; with MAD 0 (more than half the days equal) the mean absolute deviation stands in,
    // scaled by 1.2533 (Iglewicz and Hoaglin); with both 0 the window is flat and any rise counts.
    let (num, den) = if mad > 0 {
        (6745 * dev, 10_000 * mad)
    } else if mean_spread > 0 {
        (10_000 * dev, 12_533 * mean_spread)
    } else {
        return Some(Detection { expected, median: Amount(med), z_tenths: None });
    };
    // num / den >= z  <=>  num * 10^9 >= z.0 * den  (z is in nano-units).
    if num.saturating_mul(1_000_000_000) < z.0.saturating_mul(den) {
        return None;
    }
    Some(Detection { expected, median: Amount(med), z_tenths: Some(num * 10 / den) })
}

/// The last complete day of imported cost: the day before the latest one (which is usually partial), or the
/// latest itself when it closes a month that has ended.
pub fn complete_through(latest: NaiveDate, today: NaiveDate) -> Option<NaiveDate> {
    let month_closed = latest.succ_opt().is_some_and(|next| next.month() != latest.month()) && today > latest;
    if month_closed { Some(latest) } else { latest.pred_opt() }
}

/// What `GET /api/v1/cost/anomalies` asks for.
#[derive(Clone, Debug, Default)]
pub struct AnomalyQuery {
    /// First day judged (inclusive); default 30 days before `to`.
    pub from: Option<NaiveDate>,
    /// Last day judged (exclusive); default the day after the last complete day.
    pub to: Option<NaiveDate>,
    /// Only this component.
    pub component: Option<String>,
    /// Only this team's components.
    pub team: Option<String>,
    /// Only this currency.
    pub currency: Option<String>,
    /// Only anomalies in this state (`open`, `snoozed`, `dismissed`).
    pub status: Option<String>,
    /// Effective (default) or billed.
    pub metric: Option<Metric>,
}

fn scope_of(allocation: &str, component: Option<String>) -> String {
    match allocation {
        "component" => component.unwrap_or_else(|| "unallocated".to_owned()),
        "shared" => "shared".to_owned(),
        _ => "unallocated".to_owned(),
    }
}

/// The anomalies in a range, newest first.
pub async fn list(
    db: &DatabaseConnection,
    settings: &CostSettings,
    q: &AnomalyQuery,
    today: NaiveDate,
) -> Result<AnomalyList, CostError> {
    let metric = q.metric.unwrap_or(Metric::Effective);
    let view_settings = AnomalySettings {
        min_amount: settings.anomaly_min.to_string(),
        trailing_days: settings.anomaly_days,
        z: settings.anomaly_z.to_string(),
    };
    let latest = query::latest_day(db).await?;
    let complete = latest.and_then(|l| complete_through(l, today));
    let Some(complete) = complete else {
        return Ok(AnomalyList {
            metric: metric.as_str().to_owned(),
            complete_through: None,
            from: None,
            to: None,
            settings: view_settings,
            anomalies: Vec::new(),
        });
    };
    let end = complete.succ_opt().unwrap_or(complete);
    let to = q.to.map_or(end, |t| t.min(end));
    let from = q.from.unwrap_or(to - chrono::Duration::days(30));
    let trailing = i64::from(settings.anomaly_days);
    let start = from - chrono::Duration::days(trailing);
    let mut anomalies = Vec::new();
    if from < to {
        let first_day: Option<Option<NaiveDate>> = cost_daily::Entity::find()
            .select_only()
            .column_as(cost_daily::Column::Day.min(), "day")
            .into_tuple()
            .one(db)
            .await?;
        let first_day = first_day.flatten().unwrap_or(from);
        let cq = CostQuery {
            group_by: GroupBy::Day,
            metric,
            from: start,
            to,
            component: q.component.clone(),
            team: q.team.clone(),
            currency: q.currency.clone(),
        };
        let rows: Vec<(String, String, Option<String>, NaiveDate, i64)> = if q.component.is_none() && q.team.is_none() {
            organisation_days(db, metric, start, to, q.currency.as_deref()).await?
        } else {
            components_days(db, &cq, q).await?
        };
        // (scope, currency) -> day offset from `start` -> amount.
        let span = usize::try_from((to - start).num_days()).unwrap_or(0);
        let mut series: BTreeMap<(String, String), Vec<Amount>> = BTreeMap::new();
        for (currency, allocation, component, day, amount) in rows {
            let Ok(i) = usize::try_from((day - start).num_days()) else { continue };
            let s =
                series.entry((scope_of(&allocation, component), currency)).or_insert_with(|| vec![Amount::ZERO; span]);
            if let Some(slot) = s.get_mut(i) {
                *slot += Amount(i128::from(amount));
            }
        }
        let triage = triage_rows(db).await?;
        let window = usize::try_from(trailing).unwrap_or(14);
        for ((scope, currency), values) in &series {
            for i in window..span {
                let day = start + chrono::Duration::days(i as i64);
                // The window must lie inside the imported data, or the first days would all look new.
                if day - chrono::Duration::days(trailing) < first_day {
                    continue;
                }
                let x = values[i];
                let Some(d) = detect(&values[i - window..i], x, settings.anomaly_min, settings.anomaly_z) else {
                    continue;
                };
                let (status, decision) = state_of(&triage, scope, currency, day);
                anomalies.push(CostAnomaly {
                    scope: scope.clone(),
                    currency: currency.clone(),
                    day: day.to_string(),
                    amount: x.to_cents_text(),
                    expected: d.expected.to_cents_text(),
                    excess: (x - d.expected).to_cents_text(),
                    z: d.z_tenths.map(|t| format!("{}.{}", t / 10, t % 10)),
                    status: status.to_owned(),
                    reason: decision.map(|t| t.reason.clone()),
                    decided_by: decision.map(|t| t.decided_by.clone()),
                    decided_at: decision.map(|t| t.decided_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                    until: decision.and_then(|t| t.until).map(|u| u.to_string()),
                });
            }
        }
    }
    anomalies.retain(|a| q.status.as_deref().is_none_or(|s| s == "all" || a.status == s));
    anomalies.sort_by(|a, b| {
        b.day.cmp(&a.day).then_with(|| {
            let excess = |x: &CostAnomaly| Amount::parse(&x.excess).unwrap_or_default();
            excess(b).cmp(&excess(a)).then(a.scope.cmp(&b.scope))
        })
    });
    Ok(AnomalyList {
        metric: metric.as_str().to_owned(),
        complete_through: Some(complete.to_string()),
        from: Some(from.to_string()),
        to: Some(to.to_string()),
        settings: view_settings,
        anomalies,
    })
}

/// The organisation's days per allocation and component, from the per-component day roll-up (not the daily sums
/// of every tag set), as (currency, allocation, component, day, nano-units). The rows are read as they are, one
/// per period, day, currency and component (the series add up rows of the same day; SQL's GROUP BY cost ten times
/// the read), and they come back as one JSON array in one row: the SQLite driver hands every row from its worker
/// thread to the async task, a thread wake-up each, which cost several times the query for 40,000 rows.
async fn organisation_days(
    db: &DatabaseConnection,
    metric: Metric,
    start: NaiveDate,
    to: NaiveDate,
    currency: Option<&str>,
) -> Result<Vec<(String, String, Option<String>, NaiveDate, i64)>, CostError> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let backend = db.get_database_backend();
    let (aggregate, p) = match backend {
        DbBackend::Postgres => (
            "CAST(json_agg(json_build_array(currency, allocation, component_ref, day, {m})) AS TEXT)",
            ["$1", "$2", "$3"],
        ),
        _ => ("json_group_array(json_array(currency, allocation, component_ref, day, {m}))", ["?", "?", "?"]),
    };
    let mut sql = format!(
        "SELECT {} AS rows FROM cost_day_components WHERE day >= {} AND day < {}",
        aggregate.replace("{m}", metric.as_str()),
        p[0],
        p[1]
    );
    let mut values: Vec<sea_orm::Value> = vec![start.into(), to.into()];
    if let Some(c) = currency {
        sql.push_str(&format!(" AND currency = {}", p[2]));
        values.push(c.into());
    }
    let row = db.query_one_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    let text: Option<String> = match row {
        Some(r) => r.try_get("", "rows")?,
        None => None,
    };
    let bad = |e: String| CostError::Db(sea_orm::DbErr::Custom(format!("reading the day roll-up: {e}")));
    let parsed: Vec<(String, String, Option<String>, String, i64)> = match text {
        Some(t) => serde_json::from_str(&t).map_err(|e| bad(e.to_string()))?,
        None => Vec::new(),
    };
    parsed
        .into_iter()
        .map(|(currency, allocation, component, day, amount)| {
            let day = day.get(..10).and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
            let day = day.ok_or_else(|| bad("a day that is not a date".to_owned()))?;
            Ok((currency, allocation, component, day, amount))
        })
        .collect()
}

/// A component's or a team's days per allocation and component, from the daily sums of their tag sets.
async fn components_days(
    db: &DatabaseConnection,
    cq: &CostQuery,
    q: &AnomalyQuery,
) -> Result<Vec<(String, String, Option<String>, NaiveDate, i64)>, CostError> {
    let mut select = query::filtered(cq)
        .select_only()
        .column(cost_daily::Column::Currency)
        .column(cost_tagsets::Column::Allocation)
        .column(cost_tagsets::Column::ComponentRef)
        .column(cost_daily::Column::Day)
        .column_as(query::sum(cq.metric), "amount")
        .group_by(cost_daily::Column::Currency)
        .group_by(cost_tagsets::Column::Allocation)
        .group_by(cost_tagsets::Column::ComponentRef)
        .group_by(cost_daily::Column::Day)
        .filter(cost_tagsets::Column::Allocation.eq("component"));
    if let Some(c) = &q.currency {
        select = select.filter(cost_daily::Column::Currency.eq(c.as_str()));
    }
    Ok(select.into_tuple().all(db).await?)
}

type TriageMap = HashMap<(String, String), Vec<cost_anomaly_triage::Model>>;

async fn triage_rows(db: &DatabaseConnection) -> Result<TriageMap, CostError> {
    let mut map: TriageMap = HashMap::new();
    for row in cost_anomaly_triage::Entity::find().all(db).await? {
        map.entry((row.scope.clone(), row.currency.clone())).or_default().push(row);
    }
    Ok(map)
}

/// `dismissed` when this anomaly was dismissed; `snoozed` when it, or an earlier anomaly of the same scope whose
/// snooze runs past this day, was snoozed; else `open`.
fn state_of<'a>(
    triage: &'a TriageMap,
    scope: &str,
    currency: &str,
    day: NaiveDate,
) -> (&'static str, Option<&'a cost_anomaly_triage::Model>) {
    let Some(rows) = triage.get(&(scope.to_owned(), currency.to_owned())) else { return ("open", None) };
    if let Some(own) = rows.iter().find(|r| r.day == day) {
        return (if own.status == "dismissed" { "dismissed" } else { "snoozed" }, Some(own));
    }
    match rows.iter().find(|r| r.status == "snoozed" && r.day <= day && r.until.is_some_and(|u| day <= u)) {
        Some(s) => ("snoozed", Some(s)),
        None => ("open", None),
    }
}

/// A checked triage decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Triage {
    /// Component ref, `shared` or `unallocated`.
    pub scope: String,
    /// Currency.
    pub currency: String,
    /// The anomaly's day.
    pub day: NaiveDate,
    /// `dismiss`, `snooze` or `reopen`.
    pub action: String,
    /// Why (empty for reopen).
    pub reason: String,
    /// Snoozes: the last day muted.
    pub until: Option<NaiveDate>,
}

/// Checks a triage request; answers it with the owner whose members may decide (`None`: administrators only).
pub async fn validate(
    db: &DatabaseConnection,
    input: &AnomalyTriageInput,
) -> Result<(Triage, Option<String>), CostError> {
    let invalid = |field: &str, reason: &str| CostError::Invalid { field: field.to_owned(), reason: reason.to_owned() };
    let scope = match input.scope.trim() {
        s @ ("shared" | "unallocated") => s.to_owned(),
        s => super::rules::entity_ref("component", s),
    };
    if !(scope == "shared" || scope == "unallocated" || scope.starts_with("component:")) {
        return Err(invalid("scope", "must be a component, shared or unallocated"));
    }
    let currency = input.currency.trim().to_ascii_uppercase();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(invalid("currency", "must be a three-letter currency code"));
    }
    let day = NaiveDate::parse_from_str(input.day.trim(), "%Y-%m-%d")
        .map_err(|_| invalid("day", "must be a date (YYYY-MM-DD)"))?;
    let action = input.action.trim().to_ascii_lowercase();
    if !matches!(action.as_str(), "dismiss" | "snooze" | "reopen") {
        return Err(invalid("action", "must be dismiss, snooze or reopen"));
    }
    let reason = input.reason.as_deref().unwrap_or_default().trim().to_owned();
    if action != "reopen" && reason.is_empty() {
        return Err(invalid("reason", "say why (it is shown with the anomaly)"));
    }
    if reason.chars().count() > 500 {
        return Err(invalid("reason", "must be at most 500 characters"));
    }
    let until = match (action.as_str(), input.until.as_deref().map(str::trim).filter(|u| !u.is_empty())) {
        ("snooze", None) => return Err(invalid("until", "a snooze needs the last day it mutes")),
        ("snooze", Some(u)) => {
            let u = NaiveDate::parse_from_str(u, "%Y-%m-%d").map_err(|_| invalid("until", "must be a date"))?;
            if u < day || u > day + chrono::Duration::days(366) {
                return Err(invalid("until", "must be from the anomaly's day to a year after it"));
            }
            Some(u)
        }
        _ => None,
    };
    let owner = owner_of(db, &scope).await?;
    Ok((Triage { scope, currency, day, action, reason, until }, owner))
}

/// The owners of several scopes at once (component refs; `shared` and `unallocated` have none).
pub async fn owners_of(db: &DatabaseConnection, scopes: &[&str]) -> Result<HashMap<String, String>, CostError> {
    use crate::catalog::entity::entities;
    let mut wanted: Vec<&str> = scopes.iter().copied().filter(|s| s.contains(':')).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut owners = HashMap::new();
    for chunk in wanted.chunks(500) {
        let rows: Vec<(String, Option<String>)> = entities::Entity::find()
            .select_only()
            .column(entities::Column::EntityRef)
            .column(entities::Column::OwnerRef)
            .filter(entities::Column::EntityRef.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        owners.extend(rows.into_iter().filter_map(|(r, o)| o.map(|o| (r, o))));
    }
    Ok(owners)
}

/// The owner whose members may decide about a scope's anomalies: a component's owner in the catalog; `None`
/// for shared and unallocated costs and components the catalog does not know (administrators decide).
pub async fn owner_of(db: &DatabaseConnection, scope: &str) -> Result<Option<String>, CostError> {
    use crate::catalog::entity::entities;
    if !scope.starts_with("component:") {
        return Ok(None);
    }
    Ok(entities::Entity::find().filter(entities::Column::EntityRef.eq(scope)).one(db).await?.and_then(|e| e.owner_ref))
}

/// What a decision about a scope's anomalies is checked against.
pub fn target(scope: &str, owner: Option<&str>) -> crate::access::Target {
    if scope.starts_with("component:") {
        crate::access::Target::entity(scope.to_owned(), owner)
    } else {
        crate::access::Target::global()
    }
}

/// Stores a checked decision, with its audit entry.
pub async fn apply(db: &DatabaseConnection, t: &Triage, by: &str) -> Result<(), CostError> {
    let txn = db.begin().await?;
    cost_anomaly_triage::Entity::delete_many()
        .filter(cost_anomaly_triage::Column::Scope.eq(t.scope.as_str()))
        .filter(cost_anomaly_triage::Column::Currency.eq(t.currency.as_str()))
        .filter(cost_anomaly_triage::Column::Day.eq(t.day))
        .exec(&txn)
        .await?;
    if t.action != "reopen" {
        let row = cost_anomaly_triage::ActiveModel {
            scope: Set(t.scope.clone()),
            currency: Set(t.currency.clone()),
            day: Set(t.day),
            status: Set(if t.action == "dismiss" { "dismissed" } else { "snoozed" }.to_owned()),
            until: Set(t.until),
            reason: Set(t.reason.clone()),
            decided_by: Set(by.to_owned()),
            decided_at: Set(Utc::now()),
            ..Default::default()
        };
        cost_anomaly_triage::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    cost_anomaly_triage::Column::Scope,
                    cost_anomaly_triage::Column::Currency,
                    cost_anomaly_triage::Column::Day,
                ])
                .update_columns([
                    cost_anomaly_triage::Column::Status,
                    cost_anomaly_triage::Column::Until,
                    cost_anomaly_triage::Column::Reason,
                    cost_anomaly_triage::Column::DecidedBy,
                    cost_anomaly_triage::Column::DecidedAt,
                ])
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    crate::audit::record(
        &txn,
        crate::audit::Entry {
            actor: by,
            action: "cost.anomaly.triage",
            target: Some(&t.scope),
            detail: Some(serde_json::json!({
                "action": t.action, "currency": t.currency, "day": t.day.to_string(),
                "reason": t.reason, "until": t.until.map(|u| u.to_string()),
            })),
            request_id: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Today in UTC, for callers without a clock of their own.
pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Amount {
        Amount::parse(s).unwrap()
    }

    fn flat_with_noise() -> Vec<Amount> {
        ["100", "102", "98", "101", "99", "100", "103", "97", "100", "101", "99", "100", "102", "98"]
            .iter()
            .map(|s| a(s))
            .collect()
    }

    #[test]
    fn a_spike_well_above_the_window_is_an_anomaly() {
        let d = detect(&flat_with_noise(), a("180"), a("10"), a("3.5")).expect("a spike");
        assert_eq!(d.expected, a("100"));
        assert_eq!(d.median, a("100"));
        // The median absolute deviation is 1: 0.6745 * 80 / 1 = 53.96.
        assert_eq!(d.z_tenths, Some(539));
    }

    #[test]
    fn ordinary_noise_and_small_rises_are_not() {
        assert_eq!(detect(&flat_with_noise(), a("104"), a("10"), a("3.5")), None, "within the noise");
        // Far outside the noise but under the minimum amount: not worth anyone's time.
        assert_eq!(detect(&flat_with_noise(), a("109"), a("10"), a("3.5")), None, "under the minimum");
        assert!(detect(&flat_with_noise(), a("109"), a("5"), a("3.5")).is_some(), "over a lower minimum");
        assert_eq!(detect(&flat_with_noise(), a("50"), a("10"), a("3.5")), None, "a drop is not a cost anomaly");
    }

    #[test]
    fn a_noisy_series_needs_a_bigger_jump() {
        let noisy: Vec<Amount> =
            ["50", "150", "60", "140", "55", "145", "70", "130", "100", "100", "40", "160", "80", "120"]
                .iter()
                .map(|s| a(s))
                .collect();
        // 180 is 80 over the mean, but well inside what this series does.
        assert_eq!(detect(&noisy, a("180"), a("10"), a("3.5")), None);
        assert!(detect(&noisy, a("400"), a("10"), a("3.5")).is_some());
    }

    #[test]
    fn a_flat_window_flags_any_rise_over_the_minimum() {
        let flat = vec![a("20"); 14];
        let d = detect(&flat, a("35"), a("10"), a("3.5")).unwrap();
        assert_eq!(d.z_tenths, None);
        assert_eq!(detect(&flat, a("25"), a("10"), a("3.5")), None);
        // Mostly flat with one earlier blip: MAD is 0, the mean absolute deviation stands in.
        let mut blip = vec![a("20"); 14];
        blip[3] = a("30");
        assert!(detect(&blip, a("45"), a("10"), a("3.5")).unwrap().z_tenths.unwrap() > 35);
    }

    #[test]
    fn the_latest_day_is_partial_unless_its_month_closed() {
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        assert_eq!(complete_through(d(11, 20), d(11, 21)), Some(d(11, 19)));
        assert_eq!(complete_through(d(10, 31), d(12, 5)), Some(d(10, 31)));
        assert_eq!(complete_through(d(10, 31), d(10, 31)), Some(d(10, 30)));
    }
}
