//! Uptime, latency percentiles, error budgets and burn rates, from counts of probe slots. Pure arithmetic, unit
//! tested with hand-computed cases.

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};

/// How many probe slots ended in each state. Degraded counts as available (it answered); unknown and maintenance
/// count neither way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Up slots.
    pub up: i64,
    /// Degraded slots.
    pub degraded: i64,
    /// Down slots.
    pub down: i64,
    /// Slots inside a maintenance window.
    pub maintenance: i64,
    /// Slots the portal could not probe.
    pub unknown: i64,
}

impl Counts {
    /// Adds another set of counts.
    pub fn add(&mut self, o: &Counts) {
        self.up += o.up;
        self.degraded += o.degraded;
        self.down += o.down;
        self.maintenance += o.maintenance;
        self.unknown += o.unknown;
    }

    /// Counts one slot by the state it ended in.
    pub fn count(&mut self, state: &str) {
        match state {
            "up" => self.up += 1,
            "degraded" => self.degraded += 1,
            "down" => self.down += 1,
            "maintenance" => self.maintenance += 1,
            _ => self.unknown += 1,
        }
    }

    /// Slots that count towards uptime.
    pub fn total(&self) -> i64 {
        self.up + self.degraded + self.down
    }

    /// Available share, 0 to 1; `None` without a counted slot.
    pub fn uptime(&self) -> Option<f64> {
        let t = self.total();
        (t > 0).then(|| (self.up + self.degraded) as f64 / t as f64)
    }

    /// Share of counted slots that were down, 0 to 1.
    pub fn error_ratio(&self) -> Option<f64> {
        self.uptime().map(|u| 1.0 - u)
    }
}

/// Upper bounds of the latency histogram's buckets, in milliseconds; one more bucket holds everything above.
pub const LATENCY_BOUNDS_MS: [u32; 19] =
    [5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10_000, 30_000];

/// A small latency histogram (the bounds above), kept in hourly and daily buckets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histogram(pub [i64; 20]);

impl Histogram {
    /// Counts one latency.
    pub fn record(&mut self, ms: u32) {
        let i = LATENCY_BOUNDS_MS.iter().position(|b| ms <= *b).unwrap_or(LATENCY_BOUNDS_MS.len());
        self.0[i] += 1;
    }

    /// Adds another histogram.
    pub fn add(&mut self, o: &Histogram) {
        for (a, b) in self.0.iter_mut().zip(o.0.iter()) {
            *a += b;
        }
    }

    /// Latencies counted.
    pub fn count(&self) -> i64 {
        self.0.iter().sum()
    }

    /// The `q` quantile (0 to 1), interpolated inside its bucket; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * n as f64).max(1.0);
        let mut seen = 0i64;
        for (i, c) in self.0.iter().enumerate() {
            if *c == 0 {
                continue;
            }
            if (seen + c) as f64 >= rank {
                let lo = if i == 0 { 0.0 } else { f64::from(LATENCY_BOUNDS_MS[i - 1]) };
                let Some(hi) = LATENCY_BOUNDS_MS.get(i).map(|b| f64::from(*b)) else { return Some(lo) };
                let within = (rank - seen as f64) / *c as f64;
                return Some(lo + (hi - lo) * within);
            }
            seen += c;
        }
        LATENCY_BOUNDS_MS.last().map(|b| f64::from(*b))
    }

    /// Stored form: counts separated by commas.
    pub fn encode(&self) -> String {
        self.0.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
    }

    /// Reads the stored form (a damaged value reads as empty rather than failing a page).
    pub fn decode(text: &str) -> Histogram {
        let mut h = Histogram::default();
        for (slot, part) in h.0.iter_mut().zip(text.split(',')) {
            *slot = part.trim().parse().unwrap_or(0);
        }
        h
    }
}

/// SLO figures for one window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Budget {
    /// 1 - error ratio / (1 - objective), at most 1; below 0 when overspent.
    pub remaining: f64,
}

/// The allowed error ratio of an objective in percent (99.9 → 0.001).
pub fn allowed_error(objective_percent: f64) -> f64 {
    (1.0 - objective_percent / 100.0).max(f64::EPSILON)
}

/// Error budget remaining: 1 - error ratio / allowed error ratio. 1 with no counted slot.
pub fn budget_remaining(counts: &Counts, objective_percent: f64) -> f64 {
    match counts.error_ratio() {
        Some(r) => 1.0 - r / allowed_error(objective_percent),
        None => 1.0,
    }
}

/// How fast the budget burns: the error ratio over the allowed error ratio (1 = exactly on budget).
pub fn burn_rate(counts: &Counts, objective_percent: f64) -> Option<f64> {
    counts.error_ratio().map(|r| r / allowed_error(objective_percent))
}

/// How long until the budget is spent at `burn` over a window of `window`, given what remains; `None` when not
/// burning or already spent.
pub fn time_to_exhaustion(remaining: f64, burn: f64, window: Duration) -> Option<Duration> {
    if burn <= 0.0 || remaining <= 0.0 {
        return None;
    }
    let secs = window.num_seconds() as f64 * remaining / burn;
    Some(Duration::seconds(secs.round() as i64))
}

/// One of the multi-window burn-rate alerts of Google's SRE workbook.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BurnRule {
    /// `page` or `ticket`.
    pub severity: &'static str,
    /// The long window.
    pub long: Duration,
    /// The short window (a twelfth of the long one).
    pub short: Duration,
    /// Burn rate both windows must exceed.
    pub factor: f64,
}

/// The workbook's four rules: 14.4x over 1 h and 5 min and 6x over 6 h and 30 min page; 3x over 1 day and 2 h and
/// 1x over 3 days and 6 h open a ticket.
pub fn burn_rules() -> [BurnRule; 4] {
    [
        BurnRule { severity: "page", long: Duration::hours(1), short: Duration::minutes(5), factor: 14.4 },
        BurnRule { severity: "page", long: Duration::hours(6), short: Duration::minutes(30), factor: 6.0 },
        BurnRule { severity: "ticket", long: Duration::days(1), short: Duration::hours(2), factor: 3.0 },
        BurnRule { severity: "ticket", long: Duration::days(3), short: Duration::hours(6), factor: 1.0 },
    ]
}

/// Whether a rule fires, given the burn rates over its long and short windows.
pub fn fires(rule: &BurnRule, long_burn: Option<f64>, short_burn: Option<f64>) -> bool {
    matches!((long_burn, short_burn), (Some(l), Some(s)) if l > rule.factor && s > rule.factor)
}

/// Where the counts of one part of a window come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Raw results (kept for a short period).
    Raw,
    /// Hourly buckets.
    Hourly,
    /// Daily buckets (UTC days).
    Daily,
}

/// Start of the UTC hour holding `t`.
pub fn floor_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(t.year(), t.month(), t.day(), t.hour(), 0, 0).single().unwrap_or(t)
}

/// Start of the UTC day holding `t`.
pub fn floor_day(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(t.year(), t.month(), t.day(), 0, 0, 0).single().unwrap_or(t)
}

fn ceil_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    let f = floor_hour(t);
    if f == t { f } else { f + Duration::hours(1) }
}

fn ceil_day(t: DateTime<Utc>) -> DateTime<Utc> {
    let f = floor_day(t);
    if f == t { f } else { f + Duration::days(1) }
}

/// Splits `[from, to)` into parts read from raw results (the ragged ends), hourly buckets and daily buckets (whole
/// days), so a window's counts are exact and cost a few rows. Raw parts older than `raw_kept_since` (trimmed by
/// retention) widen to their whole hour.
pub fn plan(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    raw_kept_since: DateTime<Utc>,
) -> Vec<(Source, DateTime<Utc>, DateTime<Utc>)> {
    let mut out = Vec::new();
    if from >= to {
        return out;
    }
    let (h0, h1) = (ceil_hour(from), floor_hour(to));
    let raw = |out: &mut Vec<_>, a: DateTime<Utc>, b: DateTime<Utc>| {
        if a >= b {
            return;
        }
        if a < raw_kept_since {
            out.push((Source::Hourly, floor_hour(a), ceil_hour(b)));
        } else {
            out.push((Source::Raw, a, b));
        }
    };
    if h0 >= h1 {
        raw(&mut out, from, to);
        return out;
    }
    raw(&mut out, from, h0);
    let (d0, d1) = (ceil_day(h0), floor_day(h1));
    if d0 < d1 {
        if h0 < d0 {
            out.push((Source::Hourly, h0, d0));
        }
        out.push((Source::Daily, d0, d1));
        if d1 < h1 {
            out.push((Source::Hourly, d1, h1));
        }
    } else {
        out.push((Source::Hourly, h0, h1));
    }
    raw(&mut out, h1, to);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn unknown_and_maintenance_never_count_as_downtime() {
        let c = Counts { up: 990, degraded: 8, down: 2, maintenance: 500, unknown: 300 };
        assert_eq!(c.total(), 1000);
        assert_eq!(c.uptime(), Some(0.998));
        assert_eq!(Counts::default().uptime(), None, "no data is not 0% nor 100%");
    }

    #[test]
    fn error_budget_by_hand() {
        // 99.9% over 43,200 slots allows 43.2 bad slots; 10.8 bad is a quarter spent.
        let c = Counts { up: 43_189, down: 11, ..Counts::default() };
        let r = budget_remaining(&c, 99.9);
        assert!((r - (1.0 - (11.0 / 43_200.0) / 0.001)).abs() < 1e-12);
        assert!((r - 0.745_370_37).abs() < 1e-6, "{r}");
        let over = Counts { up: 900, down: 100, ..Counts::default() };
        assert!((budget_remaining(&over, 99.0) - (-9.0)).abs() < 1e-9, "overspent goes below zero");
        assert_eq!(budget_remaining(&Counts::default(), 99.9), 1.0);
    }

    #[test]
    fn burn_rate_and_time_to_exhaustion_by_hand() {
        // 1.44% errors against 99.9% burns at 14.4x.
        let c = Counts { up: 9856, down: 144, ..Counts::default() };
        let b = burn_rate(&c, 99.9).unwrap();
        assert!((b - 14.4).abs() < 1e-9, "{b}");
        // Half a 30-day budget left, burning at 1x: 15 days to go.
        assert_eq!(time_to_exhaustion(0.5, 1.0, Duration::days(30)), Some(Duration::days(15)));
        assert_eq!(time_to_exhaustion(0.5, 0.0, Duration::days(30)), None);
        let page = burn_rules()[0];
        assert!(fires(&page, Some(15.0), Some(20.0)));
        assert!(!fires(&page, Some(15.0), Some(2.0)), "the short window must agree: the problem is still on");
        assert!(!fires(&page, None, Some(20.0)));
    }

    #[test]
    fn latency_quantiles_interpolate_inside_a_bucket() {
        let mut h = Histogram::default();
        for ms in [12, 14, 16, 18] {
            h.record(ms);
        }
        h.record(400);
        assert_eq!(h.count(), 5);
        let p50 = h.quantile(0.5).unwrap();
        assert!((10.0..=20.0).contains(&p50), "{p50}");
        let p99 = h.quantile(0.99).unwrap();
        assert!((300.0..=500.0).contains(&p99), "{p99}");
        assert_eq!(Histogram::decode(&h.encode()), h);
        assert_eq!(Histogram::default().quantile(0.5), None);
        let mut slow = Histogram::default();
        slow.record(60_000);
        assert_eq!(slow.quantile(0.5), Some(30_000.0), "above the last bound reads as the last bound");
    }

    #[test]
    fn a_window_is_read_from_raw_ends_hourly_edges_and_whole_days() {
        let kept = t("2026-11-01T00:00:00Z");
        let p = plan(t("2026-11-10T10:15:00Z"), t("2026-11-13T08:30:00Z"), kept);
        assert_eq!(
            p,
            vec![
                (Source::Raw, t("2026-11-10T10:15:00Z"), t("2026-11-10T11:00:00Z")),
                (Source::Hourly, t("2026-11-10T11:00:00Z"), t("2026-11-11T00:00:00Z")),
                (Source::Daily, t("2026-11-11T00:00:00Z"), t("2026-11-13T00:00:00Z")),
                (Source::Hourly, t("2026-11-13T00:00:00Z"), t("2026-11-13T08:00:00Z")),
                (Source::Raw, t("2026-11-13T08:00:00Z"), t("2026-11-13T08:30:00Z")),
            ]
        );
        // Inside one hour: raw only.
        let p = plan(t("2026-11-10T10:15:00Z"), t("2026-11-10T10:45:00Z"), kept);
        assert_eq!(p, vec![(Source::Raw, t("2026-11-10T10:15:00Z"), t("2026-11-10T10:45:00Z"))]);
        // Calendar month: whole days only.
        let p = plan(t("2026-10-01T00:00:00Z"), t("2026-11-01T00:00:00Z"), kept);
        assert_eq!(p, vec![(Source::Daily, t("2026-10-01T00:00:00Z"), t("2026-11-01T00:00:00Z"))]);
        // Raw results trimmed: the edge widens to its hour.
        let p = plan(t("2026-10-20T10:15:00Z"), t("2026-10-20T12:00:00Z"), kept);
        assert_eq!(
            p,
            vec![
                (Source::Hourly, t("2026-10-20T10:00:00Z"), t("2026-10-20T11:00:00Z")),
                (Source::Hourly, t("2026-10-20T11:00:00Z"), t("2026-10-20T12:00:00Z")),
            ]
        );
    }
}
