//! The DORA four keys, computed from deployments, their changes and incidents. Pure functions: the store loads
//! what a scope and period need and hands it here, so every rule below is unit-tested on hand-computed cases.
//!
//! The rules (the README's "How the four keys are computed" repeats them):
//! - A *unit* is a successful deployment to a production environment, counted once per component, deployed sha
//!   and local day: the same sha rolled out to `prod-eu` and `prod-us` on one day is one unit.
//! - **Deployment frequency** counts units whose end falls in the period; per day is that over the period's days.
//! - **Lead time** is measured per change (a commit), from its start (its pull request's first commit when known,
//!   which keeps squash merges honest; else its commit time) to the end of the first successful production
//!   deployment that carried it. A change counts in the period where that first deployment ended.
//! - **Change failure rate** is units that caused a failure over all units. A deployment caused a failure when an
//!   incident names it, or an incident on the same component and environment starts after it ended, within the
//!   attribution window and before that component's next deployment there, or a later deployment says
//!   `rollback_of` or `fixes` it. Pipeline failures (`failure`, `error`) are counted apart: they changed nothing.
//! - **Recovery time** runs from the failing deployment's end (or its incident's start, whichever is first) to
//!   the first of: the rollback or fix deployment ending successfully, or its incidents all being resolved.
//!   Failures not yet recovered from are left out of the median.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// A deployment as the maths needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Dep {
    /// Row id (ties in time are broken by it).
    pub id: i64,
    /// `component:default/payments-api`.
    pub component: String,
    /// Environment name.
    pub environment: String,
    /// Deployed sha.
    pub sha: Option<String>,
    /// Status (`success`, `failure`, ...).
    pub status: String,
    /// When it ended (else started, else was reported): the time it is ordered and counted by.
    pub at: DateTime<Utc>,
    /// The sender's key.
    pub external_id: String,
    /// The deployment it rolls back.
    pub rollback_of: Option<String>,
    /// The deployment it repairs.
    pub fixes: Option<String>,
    /// The changes it brought.
    pub changes: Vec<Change>,
}

/// A change (commit) a deployment brought.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// Its sha.
    pub sha: String,
    /// Where the change started: its pull request's first commit, else its commit time.
    pub started_at: DateTime<Utc>,
}

/// An incident.
#[derive(Clone, Debug, PartialEq)]
pub struct Incident {
    /// Component ref.
    pub component: String,
    /// Environment name.
    pub environment: String,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// Resolution.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The external id of the deployment that caused it.
    pub deployment: Option<String>,
}

/// The performance bands, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Band {
    /// Elite.
    Elite,
    /// High.
    High,
    /// Medium.
    Medium,
    /// Low.
    Low,
}

impl Band {
    /// `elite`, `high`, `medium`, `low`.
    pub fn as_str(self) -> &'static str {
        match self {
            Band::Elite => "elite",
            Band::High => "high",
            Band::Medium => "medium",
            Band::Low => "low",
        }
    }
}

/// One year's cluster table from the State of DevOps report. Each list is checked best band first; the first
/// band whose limit the value meets wins, and a value meeting none is `low`.
#[derive(Clone, Debug, PartialEq)]
pub struct BandTable {
    /// The report's year.
    pub year: i32,
    /// Deployment frequency: the least deployments per day of elite, high, medium.
    pub frequency_min_per_day: [f64; 3],
    /// Lead time: the longest (exclusive) of elite, high, medium, in seconds.
    pub lead_time_max: [i64; 3],
    /// Change failure rate: the highest ratio (inclusive) of elite, high, medium.
    pub failure_rate_max: [f64; 3],
    /// Recovery time: the longest (exclusive) of elite, high, medium, in seconds.
    pub recovery_max: [i64; 3],
}

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

/// The tables Portolan knows, from the Accelerate State of DevOps reports. Frequency: elite deploys on demand
/// (at least daily), high between daily and weekly, medium between weekly and monthly. 2024's clusters are not
/// ordered on failure rate (medium 10% is below high's 20%): by failure rate alone medium cannot be told from
/// high, so Portolan says high up to 20% and medium up to low's 40%. Its medium recovery time ("less than one
/// day") equals high's, so by recovery alone a team is high below a day and low above it.
pub const BAND_TABLES: [BandTable; 2] = [
    BandTable {
        year: 2023,
        frequency_min_per_day: [1.0, 1.0 / 7.0, 1.0 / 30.0],
        lead_time_max: [DAY, 7 * DAY, 30 * DAY],
        failure_rate_max: [0.05, 0.10, 0.15],
        recovery_max: [HOUR, DAY, 7 * DAY],
    },
    BandTable {
        year: 2024,
        frequency_min_per_day: [1.0, 1.0 / 7.0, 1.0 / 30.0],
        lead_time_max: [DAY, 7 * DAY, 30 * DAY],
        failure_rate_max: [0.05, 0.20, 0.40],
        recovery_max: [HOUR, DAY, DAY],
    },
];

/// The table for a year (the latest when the year is unknown).
pub fn band_table(year: i32) -> &'static BandTable {
    BAND_TABLES.iter().find(|t| t.year == year).unwrap_or(&BAND_TABLES[BAND_TABLES.len() - 1])
}

const BANDS: [Band; 3] = [Band::Elite, Band::High, Band::Medium];

impl BandTable {
    /// The band of a deployment frequency.
    pub fn frequency(&self, per_day: f64) -> Band {
        BANDS.into_iter().zip(self.frequency_min_per_day).find(|(_, min)| per_day >= *min).map_or(Band::Low, |b| b.0)
    }
    /// The band of a lead time.
    pub fn lead_time(&self, seconds: i64) -> Band {
        BANDS.into_iter().zip(self.lead_time_max).find(|(_, max)| seconds < *max).map_or(Band::Low, |b| b.0)
    }
    /// The band of a change failure rate.
    pub fn failure_rate(&self, ratio: f64) -> Band {
        BANDS.into_iter().zip(self.failure_rate_max).find(|(_, max)| ratio <= *max).map_or(Band::Low, |b| b.0)
    }
    /// The band of a recovery time.
    pub fn recovery(&self, seconds: i64) -> Band {
        BANDS.into_iter().zip(self.recovery_max).find(|(_, max)| seconds < *max).map_or(Band::Low, |b| b.0)
    }
}

/// How the figures are counted.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The environments counted as production.
    pub production: HashSet<String>,
    /// How long after a deployment an incident on its component and environment is blamed on it.
    pub incident_window: Duration,
    /// The zone days and weeks are counted in.
    pub time_zone: Tz,
    /// The first day of a week.
    pub week_start: Weekday,
    /// The band table.
    pub bands: &'static BandTable,
}

/// The four keys with what they were computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// Units counted for frequency.
    pub deployments: u64,
    /// Per day.
    pub per_day: f64,
    /// Band of the frequency.
    pub frequency_band: Band,
    /// Lead time of each change counted, in seconds, with its sha and the deployment that shipped it.
    pub lead_times: Vec<(String, i64, i64)>,
    /// Median lead time.
    pub lead_time_median: Option<i64>,
    /// 90th percentile lead time.
    pub lead_time_p90: Option<i64>,
    /// Band of the median lead time.
    pub lead_time_band: Option<Band>,
    /// Units that caused a failure (ids of one deployment of each).
    pub failed: Vec<i64>,
    /// Units (ids of one deployment of each).
    pub units: Vec<i64>,
    /// Failed / units.
    pub failure_ratio: Option<f64>,
    /// Band of the failure rate.
    pub failure_band: Option<Band>,
    /// Recovery times of the failures recovered from, in seconds, with the failing deployment's id.
    pub recoveries: Vec<(i64, i64)>,
    /// Median recovery time.
    pub recovery_median: Option<i64>,
    /// Band of the median recovery time.
    pub recovery_band: Option<Band>,
    /// Production deployments whose pipeline failed.
    pub pipeline_failures: u64,
    /// The weekly trend.
    pub weeks: Vec<Week>,
}

/// One week of the trend.
#[derive(Clone, Debug, PartialEq)]
pub struct Week {
    /// Its first day, in the configured zone.
    pub start: NaiveDate,
    /// Units.
    pub deployments: u64,
    /// Median lead time of the changes whose first deployment ended this week.
    pub lead_time_median: Option<i64>,
    /// Failed units / units.
    pub failure_ratio: Option<f64>,
    /// Median recovery time of failures of units of this week.
    pub recovery_median: Option<i64>,
}

/// The median (the mean of the two middle values for an even count, rounded down).
pub fn median(values: &mut [i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let n = values.len();
    Some(if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]).div_euclid(2) })
}

/// A percentile by the nearest-rank method.
pub fn percentile(values: &mut [i64], p: f64) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = ((p / 100.0) * values.len() as f64).ceil().max(1.0) as usize;
    Some(values[rank.min(values.len()) - 1])
}

/// The local date of an instant.
pub fn local_day(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    tz.from_utc_datetime(&at.naive_utc()).date_naive()
}

/// The first day of the week holding `day`.
pub fn week_of(day: NaiveDate, week_start: Weekday) -> NaiveDate {
    let back = (7 + day.weekday().num_days_from_monday() - week_start.num_days_from_monday()) % 7;
    day - Duration::days(i64::from(back))
}

fn in_period(at: DateTime<Utc>, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
    at >= from && at < to
}

/// The four keys over `[from, to)`. `deps` may hold deployments from before `from` (so a change already in
/// production is not counted again) and after `to` (so a failure is seen through a later rollback).
pub fn compute(
    deps: &[Dep],
    incidents: &[Incident],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    settings: &Settings,
) -> Figures {
    let tz = settings.time_zone;
    let mut ordered: Vec<&Dep> = deps.iter().collect();
    ordered.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
    let production = |d: &Dep| settings.production.contains(&d.environment);
    let succeeded = |d: &Dep| d.status == "success";

    // Units: successful production deployments by (component, sha, local day); the first deployment of each
    // stands for it.
    let mut units: BTreeMap<(String, String, NaiveDate), Vec<&Dep>> = BTreeMap::new();
    for d in ordered.iter().copied().filter(|d| production(d) && succeeded(d) && in_period(d.at, from, to)) {
        let sha = d.sha.clone().unwrap_or_else(|| format!("#{}", d.external_id));
        units.entry((d.component.clone(), sha, local_day(d.at, tz))).or_default().push(d);
    }

    // Lead time: each change's first successful production deployment.
    let mut first_shipped: HashMap<(&str, &str), (&Dep, &Change)> = HashMap::new();
    for d in ordered.iter().copied().filter(|d| production(d) && succeeded(d)) {
        for c in &d.changes {
            first_shipped.entry((d.component.as_str(), c.sha.as_str())).or_insert((d, c));
        }
    }
    let mut lead_times: Vec<(String, i64, i64, NaiveDate)> = first_shipped
        .values()
        .filter(|(d, _)| in_period(d.at, from, to))
        .map(|(d, c)| {
            let seconds = (d.at - c.started_at).num_seconds().max(0);
            (c.sha.clone(), seconds, d.id, week_of(local_day(d.at, tz), settings.week_start))
        })
        .collect();
    lead_times.sort_by(|a, b| a.2.cmp(&b.2).then(a.0.cmp(&b.0)));

    // Failures and recoveries, per deployment. Indexes first, so each lookup is a hash or a binary search.
    let mut next_at: HashMap<i64, DateTime<Utc>> = HashMap::new();
    let mut last_in_env: HashMap<(&str, &str), &Dep> = HashMap::new();
    for d in &ordered {
        if let Some(prev) = last_in_env.insert((d.component.as_str(), d.environment.as_str()), d) {
            next_at.insert(prev.id, d.at);
        }
    }
    let mut repairs_of: HashMap<&str, Vec<&Dep>> = HashMap::new();
    for r in &ordered {
        for target in [r.rollback_of.as_deref(), r.fixes.as_deref()].into_iter().flatten() {
            repairs_of.entry(target).or_default().push(r);
        }
    }
    let mut named: HashMap<&str, Vec<&Incident>> = HashMap::new();
    let mut unnamed: HashMap<(&str, &str), Vec<&Incident>> = HashMap::new();
    for i in incidents {
        match i.deployment.as_deref() {
            Some(d) => named.entry(d).or_default().push(i),
            None => unnamed.entry((i.component.as_str(), i.environment.as_str())).or_default().push(i),
        }
    }
    for list in unnamed.values_mut() {
        list.sort_by_key(|i| i.started_at);
    }
    let failure_of = |d: &Dep| -> Option<Option<i64>> {
        let mut caused_by: Vec<&Incident> = named.get(d.external_id.as_str()).cloned().unwrap_or_default();
        let until = match next_at.get(&d.id) {
            Some(n) => (*n).min(d.at + settings.incident_window),
            None => d.at + settings.incident_window,
        };
        if let Some(list) = unnamed.get(&(d.component.as_str(), d.environment.as_str())) {
            let from = list.partition_point(|i| i.started_at < d.at);
            caused_by.extend(list[from..].iter().take_while(|i| i.started_at < until));
        }
        let repairs: Vec<&Dep> = repairs_of
            .get(d.external_id.as_str())
            .map(|l| l.iter().copied().filter(|r| (r.at, r.id) > (d.at, d.id)).collect())
            .unwrap_or_default();
        if caused_by.is_empty() && repairs.is_empty() {
            return None;
        }
        let start = caused_by.iter().map(|i| i.started_at).chain([d.at]).min().unwrap_or(d.at);
        let repaired = repairs.iter().filter(|r| succeeded(r)).map(|r| r.at).min();
        let resolved = if !caused_by.is_empty() && caused_by.iter().all(|i| i.resolved_at.is_some()) {
            caused_by.iter().filter_map(|i| i.resolved_at).max()
        } else {
            None
        };
        let restored = [repaired, resolved].into_iter().flatten().min();
        Some(restored.map(|end| (end - start).num_seconds().max(0)))
    };

    let mut failed = Vec::new();
    let mut unit_ids = Vec::new();
    let mut recoveries: Vec<(i64, i64, NaiveDate)> = Vec::new();
    let mut week_units: BTreeMap<NaiveDate, (u64, u64)> = BTreeMap::new();
    for ((_, _, day), group) in &units {
        let week = week_of(*day, settings.week_start);
        unit_ids.push(group[0].id);
        let entry = week_units.entry(week).or_default();
        entry.0 += 1;
        // The unit failed if any of its deployments did; its recovery is the first one recovered.
        let outcomes: Vec<Option<i64>> = group.iter().filter_map(|d| failure_of(d)).collect();
        if !outcomes.is_empty() {
            failed.push(group[0].id);
            entry.1 += 1;
            if let Some(seconds) = outcomes.iter().flatten().min() {
                recoveries.push((group[0].id, *seconds, week));
            }
        }
    }

    let pipeline_failures = ordered
        .iter()
        .filter(|d| production(d) && (d.status == "failure" || d.status == "error") && in_period(d.at, from, to))
        .count() as u64;

    let days = ((to - from).num_seconds() as f64 / DAY as f64).max(1.0 / 24.0);
    let deployments = units.len() as u64;
    let per_day = deployments as f64 / days;
    let mut lt: Vec<i64> = lead_times.iter().map(|l| l.1).collect();
    let lead_time_median = median(&mut lt);
    let lead_time_p90 = percentile(&mut lt, 90.0);
    let failure_ratio = (deployments > 0).then(|| failed.len() as f64 / deployments as f64);
    let mut rec: Vec<i64> = recoveries.iter().map(|r| r.1).collect();
    let recovery_median = median(&mut rec);

    // Weeks covering the period, even empty ones (a gap is information).
    let mut weeks = Vec::new();
    let last_day = local_day(to - Duration::seconds(1), tz);
    let mut week = week_of(local_day(from, tz), settings.week_start);
    while week <= last_day && weeks.len() < 600 {
        let (n, f) = week_units.get(&week).copied().unwrap_or_default();
        let mut lt: Vec<i64> = lead_times.iter().filter(|l| l.3 == week).map(|l| l.1).collect();
        let mut rc: Vec<i64> = recoveries.iter().filter(|r| r.2 == week).map(|r| r.1).collect();
        weeks.push(Week {
            start: week,
            deployments: n,
            lead_time_median: median(&mut lt),
            failure_ratio: (n > 0).then(|| f as f64 / n as f64),
            recovery_median: median(&mut rc),
        });
        week += Duration::days(7);
    }

    Figures {
        deployments,
        per_day,
        frequency_band: settings.bands.frequency(per_day),
        lead_time_band: lead_time_median.map(|s| settings.bands.lead_time(s)),
        lead_times: lead_times.into_iter().map(|(sha, s, id, _)| (sha, s, id)).collect(),
        lead_time_median,
        lead_time_p90,
        failure_band: failure_ratio.map(|r| settings.bands.failure_rate(r)),
        failure_ratio,
        failed,
        units: unit_ids,
        recovery_band: recovery_median.map(|s| settings.bands.recovery(s)),
        recoveries: recoveries.into_iter().map(|(id, s, _)| (id, s)).collect(),
        recovery_median,
        pipeline_failures,
        weeks,
    }
}

/// A deployment as the change computation needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Reported {
    /// Row id.
    pub id: i64,
    /// Environment.
    pub environment: String,
    /// Deployed sha.
    pub sha: Option<String>,
    /// Status.
    pub status: String,
    /// Order time.
    pub at: DateTime<Utc>,
    /// The commits it said it carried.
    pub commits: Vec<ReportedCommit>,
}

/// A commit as a deployment reported it.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportedCommit {
    /// Its sha.
    pub sha: String,
    /// Commit time.
    pub committed_at: Option<DateTime<Utc>>,
    /// Pull request.
    pub pr_number: Option<i32>,
    /// First commit of the pull request.
    pub pr_first_commit_at: Option<DateTime<Utc>>,
}

impl ReportedCommit {
    /// Where the change started: the pull request's first commit when known, else the commit time.
    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        match (self.pr_first_commit_at, self.committed_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// What the portal concluded about one deployment's changes.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Computed {
    /// The changes, oldest first.
    pub changes: Vec<ReportedCommit>,
    /// No earlier successful deployment of this component to this environment.
    pub first: bool,
    /// Changes older than the first-deployment window were left out.
    pub truncated: bool,
}

/// The changes of each deployment of one component: the commits reachable from its sha and not from the
/// previous successful deployment of the component to the same environment.
///
/// Reachability is learned from what deployments report: a commit belongs to the earliest-deployed sha that
/// listed it (or that is it), and a sha reaches every commit belonging to shas first deployed no later than it
/// (history is taken as linear, as on a trunk that deploys). So a redeploy of the same sha, or a rollback to an
/// older one, brings no changes; promoting a sha from staging to production brings what staging got, even when
/// the production deployment reports no commits; several pushes before one deployment all count; a component's
/// first deployment to an environment looks back `first_window` only and is marked.
pub fn compute_changes(deps: &[Reported], first_window: Duration) -> HashMap<i64, Computed> {
    let mut ordered: Vec<&Reported> = deps.iter().collect();
    ordered.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
    // Each sha's first deployment (any environment, any status: it existed then) gives its rank.
    let mut sha_rank: HashMap<&str, usize> = HashMap::new();
    for d in &ordered {
        if let Some(sha) = d.sha.as_deref() {
            let next = sha_rank.len();
            sha_rank.entry(sha).or_insert(next);
        }
    }
    // Each commit belongs to the lowest-ranked sha that reported it; what is known about it is merged.
    let mut commits: HashMap<&str, (usize, ReportedCommit)> = HashMap::new();
    for d in &ordered {
        let Some(rank) = d.sha.as_deref().map(|s| sha_rank[s]) else { continue };
        for c in &d.commits {
            let e = commits.entry(c.sha.as_str()).or_insert((rank, c.clone()));
            e.0 = e.0.min(rank);
            e.1.committed_at = e.1.committed_at.or(c.committed_at);
            e.1.pr_number = e.1.pr_number.or(c.pr_number);
            e.1.pr_first_commit_at = e.1.pr_first_commit_at.or(c.pr_first_commit_at);
        }
    }
    let mut by_rank: Vec<Vec<&ReportedCommit>> = vec![Vec::new(); sha_rank.len()];
    for (rank, c) in commits.values() {
        by_rank[*rank].push(c);
    }
    for list in &mut by_rank {
        list.sort_by(|a, b| a.committed_at.cmp(&b.committed_at).then(a.sha.cmp(&b.sha)));
    }

    let mut out = HashMap::new();
    let mut last_success: HashMap<&str, &Reported> = HashMap::new();
    for d in &ordered {
        let previous = last_success.get(d.environment.as_str()).copied();
        let mut computed = Computed { first: previous.is_none(), ..Computed::default() };
        if let Some(sha) = d.sha.as_deref() {
            let upper = sha_rank[sha];
            let lower = previous.and_then(|p| p.sha.as_deref()).map(|s| sha_rank[s]);
            let start = lower.map_or(0, |l| l + 1);
            for list in by_rank.iter().take(upper + 1).skip(start) {
                for c in list {
                    if previous.is_none() && c.committed_at.or(c.started_at()).unwrap_or(d.at) < d.at - first_window {
                        computed.truncated = true;
                        continue;
                    }
                    computed.changes.push((*c).clone());
                }
            }
        }
        if d.status == "success" {
            last_success.insert(d.environment.as_str(), d);
        }
        out.insert(d.id, computed);
    }
    out
}

/// For each successful production deployment, which of its changes it was the first successful production
/// deployment of (in any of the `production` environments, over the whole history given), index for index with
/// its computed changes. A change's lead time ends there; later deployments of the same commit (another region,
/// a redeploy after a rollback) do not count it again.
pub fn first_in_production(
    deps: &[Reported],
    computed: &HashMap<i64, Computed>,
    production: &HashSet<&str>,
) -> HashMap<i64, Vec<bool>> {
    let mut ordered: Vec<&Reported> =
        deps.iter().filter(|d| d.status == "success" && production.contains(d.environment.as_str())).collect();
    ordered.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
    let mut shipped: HashSet<&str> = HashSet::new();
    let mut out = HashMap::new();
    for d in ordered {
        let Some(c) = computed.get(&d.id) else { continue };
        out.insert(d.id, c.changes.iter().map(|ch| shipped.insert(ch.sha.as_str())).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("{s}:00Z")).unwrap().with_timezone(&Utc)
    }

    fn settings() -> Settings {
        Settings {
            production: ["production".to_owned(), "prod-eu".to_owned(), "prod-us".to_owned()].into_iter().collect(),
            incident_window: Duration::hours(24),
            time_zone: chrono_tz::UTC,
            week_start: Weekday::Mon,
            bands: band_table(2024),
        }
    }

    fn change(sha: &str, started: &str) -> Change {
        Change { sha: sha.to_owned(), started_at: t(started) }
    }

    fn dep(id: i64, env: &str, sha: &str, status: &str, at: &str, changes: Vec<Change>) -> Dep {
        Dep {
            id,
            component: "component:default/pay".to_owned(),
            environment: env.to_owned(),
            sha: Some(sha.to_owned()),
            status: status.to_owned(),
            at: t(at),
            external_id: format!("d{id}"),
            rollback_of: None,
            fixes: None,
            changes,
        }
    }

    fn incident(env: &str, start: &str, end: Option<&str>, deployment: Option<&str>) -> Incident {
        Incident {
            component: "component:default/pay".to_owned(),
            environment: env.to_owned(),
            started_at: t(start),
            resolved_at: end.map(t),
            deployment: deployment.map(str::to_owned),
        }
    }

    const FROM: &str = "2026-11-02T00:00";
    const TO: &str = "2026-11-30T00:00";

    fn figures(deps: &[Dep], incidents: &[Incident]) -> Figures {
        compute(deps, incidents, t(FROM), t(TO), &settings())
    }

    fn commit(sha: &str, at: &str) -> ReportedCommit {
        ReportedCommit { sha: sha.to_owned(), committed_at: Some(t(at)), pr_number: None, pr_first_commit_at: None }
    }

    fn reported(id: i64, env: &str, sha: &str, status: &str, at: &str, commits: &[(&str, &str)]) -> Reported {
        Reported {
            id,
            environment: env.to_owned(),
            sha: Some(sha.to_owned()),
            status: status.to_owned(),
            at: t(at),
            commits: commits.iter().map(|(s, a)| commit(s, a)).collect(),
        }
    }

    fn shas(c: &HashMap<i64, Computed>, id: i64) -> Vec<&str> {
        let mut v: Vec<&str> = c[&id].changes.iter().map(|c| c.sha.as_str()).collect();
        v.sort_unstable();
        v
    }

    fn window() -> Duration {
        Duration::days(30)
    }

    // --- Changes ---

    #[test]
    fn several_pushes_before_one_deployment_all_count() {
        let deps = [
            reported(1, "production", "a1", "success", "2026-11-02T09:00", &[("a1", "2026-11-01T10:00")]),
            reported(
                2,
                "production",
                "a4",
                "success",
                "2026-11-05T09:00",
                &[("a2", "2026-11-03T10:00"), ("a3", "2026-11-04T10:00"), ("a4", "2026-11-04T15:00")],
            ),
        ];
        let c = compute_changes(&deps, window());
        assert_eq!(shas(&c, 2), ["a2", "a3", "a4"]);
        assert!(!c[&2].first);
    }

    #[test]
    fn a_rollback_brings_no_changes() {
        let deps = [
            reported(1, "production", "a1", "success", "2026-11-02T09:00", &[("a1", "2026-11-01T10:00")]),
            reported(2, "production", "a2", "success", "2026-11-03T09:00", &[("a2", "2026-11-02T10:00")]),
            reported(3, "production", "a1", "success", "2026-11-03T10:00", &[]),
        ];
        let c = compute_changes(&deps, window());
        assert_eq!(shas(&c, 2), ["a2"]);
        assert!(shas(&c, 3).is_empty());
    }

    #[test]
    fn redeploying_the_same_sha_brings_no_changes() {
        let deps = [
            reported(1, "production", "a1", "success", "2026-11-02T09:00", &[("a1", "2026-11-01T10:00")]),
            reported(2, "production", "a1", "success", "2026-11-02T12:00", &[("a1", "2026-11-01T10:00")]),
        ];
        let c = compute_changes(&deps, window());
        assert_eq!(shas(&c, 1), ["a1"]);
        assert!(shas(&c, 2).is_empty());
    }

    #[test]
    fn a_failed_pipeline_does_not_move_the_baseline() {
        let deps = [
            reported(1, "production", "a1", "success", "2026-11-02T09:00", &[("a1", "2026-11-01T10:00")]),
            reported(2, "production", "a2", "failure", "2026-11-03T09:00", &[("a2", "2026-11-02T10:00")]),
            reported(3, "production", "a3", "success", "2026-11-03T11:00", &[("a3", "2026-11-03T10:00")]),
        ];
        let c = compute_changes(&deps, window());
        assert_eq!(shas(&c, 3), ["a2", "a3"], "the change of the failed run ships with the next success");
    }

    #[test]
    fn promotion_from_staging_carries_what_staging_got() {
        let deps = [
            reported(1, "staging", "a1", "success", "2026-11-02T09:00", &[("a1", "2026-11-01T10:00")]),
            reported(2, "production", "a1", "success", "2026-11-02T15:00", &[]),
            reported(3, "staging", "a2", "success", "2026-11-03T09:00", &[("a2", "2026-11-02T10:00")]),
            reported(4, "staging", "a3", "success", "2026-11-04T09:00", &[("a3", "2026-11-03T10:00")]),
            reported(5, "production", "a3", "success", "2026-11-04T15:00", &[]),
        ];
        let c = compute_changes(&deps, window());
        assert_eq!(shas(&c, 2), ["a1"]);
        assert_eq!(shas(&c, 5), ["a2", "a3"], "production gets both staging deployments' changes");
    }

    #[test]
    fn a_first_deployment_looks_back_a_bounded_window_and_says_so() {
        let deps = [reported(
            1,
            "production",
            "a3",
            "success",
            "2026-11-20T09:00",
            &[("a1", "2024-01-01T10:00"), ("a2", "2026-11-01T10:00"), ("a3", "2026-11-19T10:00")],
        )];
        let c = compute_changes(&deps, window());
        assert!(c[&1].first);
        assert!(c[&1].truncated);
        assert_eq!(shas(&c, 1), ["a2", "a3"]);
    }

    #[test]
    fn changes_do_not_depend_on_the_order_reports_arrive_in() {
        let deps = vec![
            reported(1, "staging", "a1", "success", "2026-11-02T09:00", &[("a1", "2026-11-01T10:00")]),
            reported(2, "production", "a1", "success", "2026-11-02T15:00", &[]),
            reported(3, "staging", "a2", "failure", "2026-11-03T09:00", &[("a2", "2026-11-02T10:00")]),
            reported(4, "production", "a3", "success", "2026-11-04T15:00", &[("a3", "2026-11-03T10:00")]),
        ];
        let expected = compute_changes(&deps, window());
        let mut reversed = deps.clone();
        reversed.reverse();
        assert_eq!(compute_changes(&reversed, window()), expected);
    }

    // --- Frequency ---

    #[test]
    fn two_production_regions_count_once_per_sha_and_day() {
        let deps = [
            dep(1, "prod-eu", "a1", "success", "2026-11-03T09:00", vec![change("a1", "2026-11-03T08:00")]),
            dep(2, "prod-us", "a1", "success", "2026-11-03T11:00", vec![change("a1", "2026-11-03T08:00")]),
            dep(3, "prod-us", "a2", "success", "2026-11-04T11:00", vec![change("a2", "2026-11-04T08:00")]),
            dep(4, "prod-eu", "a2", "success", "2026-11-05T01:00", vec![change("a2", "2026-11-04T08:00")]),
        ];
        let f = figures(&deps, &[]);
        assert_eq!(f.deployments, 3, "a1 once; a2 on two different days twice");
        assert_eq!(f.lead_times.len(), 2, "each change counts once, at its first production deployment");
        let a1 = f.lead_times.iter().find(|l| l.0 == "a1").unwrap();
        assert_eq!(a1.1, 3600);
        assert_eq!(a1.2, 1);
    }

    #[test]
    fn a_change_is_first_in_production_once_across_regions_and_redeploys() {
        let deps = [
            reported(1, "staging", "a1", "success", "2026-11-02T08:00", &[("a1", "2026-11-01T10:00")]),
            reported(2, "prod-eu", "a1", "success", "2026-11-02T09:00", &[]),
            reported(3, "prod-us", "a1", "success", "2026-11-02T10:00", &[]),
            reported(4, "prod-eu", "a2", "failure", "2026-11-03T09:00", &[("a2", "2026-11-03T08:00")]),
            reported(5, "prod-eu", "a2", "success", "2026-11-03T10:00", &[]),
            reported(6, "prod-eu", "a1", "success", "2026-11-03T11:00", &[]),
            reported(7, "prod-eu", "a2", "success", "2026-11-03T12:00", &[]),
        ];
        let c = compute_changes(&deps, window());
        let production: HashSet<&str> = ["prod-eu", "prod-us"].into_iter().collect();
        let f = first_in_production(&deps, &c, &production);
        assert_eq!(f[&2], [true], "a1 ships first to prod-eu");
        assert_eq!(f[&3], [false], "not again in prod-us");
        assert!(!f.contains_key(&1) && !f.contains_key(&4), "staging and failures are not production shipments");
        assert_eq!(f[&5], [true], "a2 ships with the first success");
        assert!(f[&6].is_empty(), "a rollback brings nothing");
        assert_eq!(shas(&c, 7), ["a2"], "the redeploy after the rollback brings a2 again");
        assert_eq!(f[&7], [false], "but it is not a2's first production deployment");
    }

    #[test]
    fn staging_deployments_do_not_count() {
        let deps = [
            dep(1, "staging", "a1", "success", "2026-11-03T09:00", vec![change("a1", "2026-11-03T08:00")]),
            dep(2, "production", "a1", "success", "2026-11-04T09:00", vec![change("a1", "2026-11-03T08:00")]),
        ];
        let f = figures(&deps, &[]);
        assert_eq!(f.deployments, 1);
        assert_eq!(f.lead_times, [("a1".to_owned(), 25 * 3600, 2)], "lead time ends at production, not staging");
    }

    #[test]
    fn per_day_is_over_the_whole_period() {
        let deps: Vec<Dep> = (0..14)
            .map(|i| dep(i, "production", &format!("a{i}"), "success", &format!("2026-11-{:02}T09:00", 2 + i), vec![]))
            .collect();
        let f = figures(&deps, &[]);
        assert_eq!(f.deployments, 14);
        assert!((f.per_day - 0.5).abs() < 1e-9, "14 deployments over 28 days");
        assert_eq!(f.frequency_band, Band::High);
    }

    #[test]
    fn a_day_boundary_follows_the_configured_zone() {
        // 22:30 and 23:30 UTC on 2 November are 23:30 on the 2nd and 00:30 on the 3rd in Berlin (UTC+1).
        let deps = [
            dep(1, "prod-eu", "a1", "success", "2026-11-02T22:30", vec![]),
            dep(2, "prod-us", "a1", "success", "2026-11-02T23:30", vec![]),
        ];
        assert_eq!(figures(&deps, &[]).deployments, 1, "one day in UTC");
        let mut berlin = settings();
        berlin.time_zone = chrono_tz::Europe::Berlin;
        assert_eq!(compute(&deps, &[], t(FROM), t(TO), &berlin).deployments, 2, "two days in Berlin");
    }

    #[test]
    fn deployments_outside_the_period_are_left_out() {
        let deps = [
            dep(1, "production", "a1", "success", "2026-11-01T23:59", vec![change("a1", "2026-11-01T08:00")]),
            dep(2, "prod-eu", "a1", "success", "2026-11-02T10:00", vec![change("a1", "2026-11-01T08:00")]),
            dep(3, "production", "a2", "success", "2026-11-30T00:00", vec![change("a2", "2026-11-29T08:00")]),
        ];
        let f = figures(&deps, &[]);
        assert_eq!(f.deployments, 1, "only the prod-eu deployment is inside [from, to)");
        assert!(f.lead_times.is_empty(), "a1 first reached production before the period");
    }

    // --- Lead time ---

    #[test]
    fn a_squash_merge_starts_at_the_first_commit_of_its_pull_request() {
        let c = ReportedCommit {
            sha: "s1".to_owned(),
            committed_at: Some(t("2026-11-05T10:00")),
            pr_number: Some(7),
            pr_first_commit_at: Some(t("2026-11-02T10:00")),
        };
        assert_eq!(c.started_at(), Some(t("2026-11-02T10:00")));
        let deps = [dep(1, "production", "s1", "success", "2026-11-05T12:00", vec![change("s1", "2026-11-02T10:00")])];
        assert_eq!(figures(&deps, &[]).lead_time_median, Some(3 * 86_400 + 2 * 3600));
    }

    #[test]
    fn median_and_p90_of_lead_times() {
        let deps = [dep(
            1,
            "production",
            "a4",
            "success",
            "2026-11-10T00:00",
            vec![
                change("a1", "2026-11-09T23:00"),
                change("a2", "2026-11-09T22:00"),
                change("a3", "2026-11-09T20:00"),
                change("a4", "2026-11-09T12:00"),
            ],
        )];
        let f = figures(&deps, &[]);
        assert_eq!(f.lead_time_median, Some(3 * 3600), "between 2 h and 4 h");
        assert_eq!(f.lead_time_p90, Some(12 * 3600));
        assert_eq!(f.lead_time_band, Some(Band::Elite));
    }

    #[test]
    fn median_and_percentile_helpers() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [5]), Some(5));
        assert_eq!(median(&mut [4, 1, 3]), Some(3));
        assert_eq!(median(&mut [1, 2, 3, 4]), Some(2));
        assert_eq!(percentile(&mut [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90.0), Some(9));
        assert_eq!(percentile(&mut [10, 20], 90.0), Some(20));
    }

    // --- Change failure rate and recovery ---

    #[test]
    fn an_incident_inside_the_window_is_a_change_failure_with_its_recovery() {
        let deps = [
            dep(1, "production", "a1", "success", "2026-11-03T09:00", vec![]),
            dep(2, "production", "a2", "success", "2026-11-05T09:00", vec![]),
        ];
        let incidents = [incident("production", "2026-11-03T10:00", Some("2026-11-03T11:30"), None)];
        let f = figures(&deps, &incidents);
        assert_eq!(f.failed, [1]);
        assert_eq!(f.failure_ratio, Some(0.5));
        assert_eq!(f.recoveries, [(1, 9000)], "from the deployment's end to the resolution");
        assert_eq!(f.recovery_band, Some(Band::High));
    }

    #[test]
    fn an_incident_outside_the_window_is_nobody_s_failure() {
        let deps = [dep(1, "production", "a1", "success", "2026-11-03T09:00", vec![])];
        let incidents = [incident("production", "2026-11-04T10:00", Some("2026-11-04T11:00"), None)];
        let f = figures(&deps, &incidents);
        assert!(f.failed.is_empty(), "25 hours later is outside the 24-hour window");
        assert_eq!(f.failure_ratio, Some(0.0));
    }

    #[test]
    fn an_incident_after_the_next_deployment_is_blamed_on_that_one() {
        let deps = [
            dep(1, "production", "a1", "success", "2026-11-03T09:00", vec![]),
            dep(2, "production", "a2", "success", "2026-11-03T12:00", vec![]),
        ];
        let incidents = [incident("production", "2026-11-03T13:00", None, None)];
        assert_eq!(figures(&deps, &incidents).failed, [2]);
    }

    #[test]
    fn an_incident_in_another_environment_or_component_is_not_blamed() {
        let deps = [dep(1, "production", "a1", "success", "2026-11-03T09:00", vec![])];
        let mut other = incident("production", "2026-11-03T10:00", None, None);
        other.component = "component:default/other".to_owned();
        let staging = incident("staging", "2026-11-03T10:00", None, None);
        assert!(figures(&deps, &[other, staging]).failed.is_empty());
    }

    #[test]
    fn an_incident_naming_its_deployment_counts_whenever_it_starts() {
        let deps = [
            dep(1, "production", "a1", "success", "2026-11-03T09:00", vec![]),
            dep(2, "production", "a2", "success", "2026-11-04T09:00", vec![]),
        ];
        let incidents = [incident("production", "2026-11-06T09:00", Some("2026-11-06T10:00"), Some("d1"))];
        let f = figures(&deps, &incidents);
        assert_eq!(f.failed, [1]);
        assert_eq!(f.recoveries, [(1, 3 * 86_400 + 3600)]);
    }

    #[test]
    fn a_rollback_marks_the_deployment_it_undoes_as_failed_and_ends_the_recovery() {
        let mut rollback = dep(2, "production", "a0", "success", "2026-11-03T09:40", vec![]);
        rollback.rollback_of = Some("d1".to_owned());
        let deps = [dep(1, "production", "a1", "success", "2026-11-03T09:00", vec![]), rollback];
        let f = figures(&deps, &[]);
        assert_eq!(f.failed, [1]);
        assert_eq!(f.recoveries, [(1, 40 * 60)]);
        assert_eq!(f.recovery_band, Some(Band::Elite));
        assert_eq!(f.failure_ratio, Some(0.5), "the rollback is a deployment too");
    }

    #[test]
    fn a_fix_forward_counts_like_a_rollback() {
        let mut fix = dep(2, "production", "a2", "success", "2026-11-04T09:00", vec![]);
        fix.fixes = Some("d1".to_owned());
        let deps = [dep(1, "production", "a1", "success", "2026-11-03T09:00", vec![]), fix];
        let f = figures(&deps, &[]);
        assert_eq!(f.failed, [1]);
        assert_eq!(f.recoveries, [(1, 86_400)]);
    }

    #[test]
    fn recovery_starts_at_the_incident_when_it_began_first_and_ends_at_the_earliest_restoration() {
        let mut fix = dep(2, "production", "a2", "success", "2026-11-03T12:00", vec![]);
        fix.fixes = Some("d1".to_owned());
        let deps = [dep(1, "production", "a1", "success", "2026-11-03T09:00", vec![]), fix];
        let incidents = [incident("production", "2026-11-03T08:30", Some("2026-11-03T13:00"), Some("d1"))];
        let f = figures(&deps, &incidents);
        assert_eq!(f.recoveries, [(1, 3 * 3600 + 30 * 60)], "08:30 to the fix at 12:00");
    }

    #[test]
    fn an_open_incident_is_a_failure_without_a_recovery_yet() {
        let deps = [dep(1, "production", "a1", "success", "2026-11-03T09:00", vec![])];
        let f = figures(&deps, &[incident("production", "2026-11-03T09:30", None, None)]);
        assert_eq!(f.failed, [1]);
        assert!(f.recoveries.is_empty());
        assert_eq!(f.recovery_median, None);
    }

    #[test]
    fn pipeline_failures_are_not_change_failures() {
        let deps = [
            dep(1, "production", "a1", "failure", "2026-11-03T09:00", vec![]),
            dep(2, "production", "a1", "error", "2026-11-03T09:10", vec![]),
            dep(3, "production", "a1", "success", "2026-11-03T09:20", vec![]),
            dep(4, "staging", "a1", "failure", "2026-11-03T08:00", vec![]),
        ];
        let f = figures(&deps, &[]);
        assert_eq!(f.pipeline_failures, 2, "production only");
        assert_eq!(f.deployments, 1);
        assert_eq!(f.failure_ratio, Some(0.0));
    }

    #[test]
    fn a_multi_region_unit_fails_once() {
        let deps = [
            dep(1, "prod-eu", "a1", "success", "2026-11-03T09:00", vec![]),
            dep(2, "prod-us", "a1", "success", "2026-11-03T10:00", vec![]),
        ];
        let incidents = [
            incident("prod-eu", "2026-11-03T09:30", Some("2026-11-03T10:00"), None),
            incident("prod-us", "2026-11-03T10:30", Some("2026-11-03T10:45"), None),
        ];
        let f = figures(&deps, &incidents);
        assert_eq!((f.failed.len(), f.units.len()), (1, 1));
        assert_eq!(f.recoveries, [(1, 45 * 60)], "the quicker of the two recoveries, one per unit");
    }

    // --- Weeks and bands ---

    #[test]
    fn weeks_start_on_the_configured_day_and_gaps_are_kept() {
        let deps = [
            dep(1, "production", "a1", "success", "2026-11-03T09:00", vec![]),
            dep(2, "production", "a2", "success", "2026-11-22T09:00", vec![]),
        ];
        let f = figures(&deps, &[]);
        let weeks: Vec<(String, u64)> = f.weeks.iter().map(|w| (w.start.to_string(), w.deployments)).collect();
        assert_eq!(
            weeks,
            [("2026-11-02".into(), 1), ("2026-11-09".into(), 0), ("2026-11-16".into(), 1), ("2026-11-23".into(), 0)]
        );
        let mut sunday = settings();
        sunday.week_start = Weekday::Sun;
        let f = compute(&deps, &[], t(FROM), t(TO), &sunday);
        assert_eq!(f.weeks[0].start.to_string(), "2026-11-01");
        assert_eq!(
            f.weeks.iter().find(|w| w.deployments == 1 && w.start.to_string() == "2026-11-22").map(|w| w.deployments),
            Some(1)
        );
    }

    #[test]
    fn bands_follow_the_report_tables() {
        let b24 = band_table(2024);
        let b23 = band_table(2023);
        assert_eq!(b24.frequency(3.0), Band::Elite);
        assert_eq!(b24.frequency(0.2), Band::High);
        assert_eq!(b24.frequency(0.05), Band::Medium);
        assert_eq!(b24.frequency(0.01), Band::Low);
        assert_eq!(b24.lead_time(3600), Band::Elite);
        assert_eq!(b24.lead_time(2 * DAY), Band::High);
        assert_eq!(b24.lead_time(10 * DAY), Band::Medium);
        assert_eq!(b24.lead_time(60 * DAY), Band::Low);
        assert_eq!(b24.failure_rate(0.05), Band::Elite);
        assert_eq!(b24.failure_rate(0.15), Band::High);
        assert_eq!(b23.failure_rate(0.15), Band::Medium);
        assert_eq!(b23.failure_rate(0.30), Band::Low);
        assert_eq!(b24.recovery(30 * 60), Band::Elite);
        assert_eq!(b24.recovery(3 * DAY), Band::Low);
        assert_eq!(b23.recovery(3 * DAY), Band::Medium);
        assert_eq!(band_table(1990).year, 2024, "unknown years use the latest table");
    }

    #[test]
    fn an_empty_period_has_no_figures_but_a_low_frequency() {
        let f = figures(&[], &[]);
        assert_eq!(f.deployments, 0);
        assert_eq!(f.frequency_band, Band::Low);
        assert_eq!((f.lead_time_median, f.failure_ratio, f.recovery_median), (None, None, None));
    }
}
