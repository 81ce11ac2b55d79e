//! The state machine of one check (a change needs N failures or M successes in a row, so one lost packet is not an
//! outage) and the fixed-rate schedule (slots do not drift with how long probes take).

use chrono::{DateTime, Duration, Utc};

/// What a check's state can be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Answering as expected.
    Up,
    /// Answering, but slower than its latency limit.
    Degraded,
    /// Not answering as expected.
    Down,
    /// Not probed (new, or the portal could not probe it).
    Unknown,
    /// In a maintenance window: probed, but not alerting nor counted.
    Maintenance,
}

impl State {
    /// The name stored and served.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Up => "up",
            State::Degraded => "degraded",
            State::Down => "down",
            State::Unknown => "unknown",
            State::Maintenance => "maintenance",
        }
    }

    /// Reads a stored name (anything unrecognised is unknown).
    pub fn parse(text: &str) -> State {
        match text {
            "up" => State::Up,
            "degraded" => State::Degraded,
            "down" => State::Down,
            "maintenance" => State::Maintenance,
            _ => State::Unknown,
        }
    }

    /// How bad it is, for showing the worst of several checks (maintenance and unknown below the real states).
    pub fn severity(self) -> u8 {
        match self {
            State::Down => 4,
            State::Degraded => 3,
            State::Up => 2,
            State::Maintenance => 1,
            State::Unknown => 0,
        }
    }
}

/// One probe's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// As expected.
    Up,
    /// As expected but slow.
    Degraded,
    /// Wrong status, wrong body, refused, timed out.
    Down,
}

impl Outcome {
    /// The name stored with the raw result.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Up => "up",
            Outcome::Degraded => "degraded",
            Outcome::Down => "down",
        }
    }
}

/// How many results in a row change the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    /// Failures in a row before a check is down (default 2).
    pub failures: u32,
    /// Successes in a row before a down check is up again (default 1).
    pub successes: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { failures: 2, successes: 1 }
    }
}

/// A check's state and its streaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tracker {
    /// Current state (never maintenance: that is decided when results are counted).
    pub state: State,
    /// Failures in a row.
    pub fail_streak: u32,
    /// Successes in a row.
    pub ok_streak: u32,
}

impl Tracker {
    /// A new check: unknown until probed.
    pub fn new() -> Tracker {
        Tracker { state: State::Unknown, fail_streak: 0, ok_streak: 0 }
    }

    /// Takes one probe's verdict; answers the new state when it changed.
    pub fn observe(&mut self, outcome: Outcome, t: Thresholds) -> Option<State> {
        let before = self.state;
        match outcome {
            Outcome::Down => {
                self.fail_streak = self.fail_streak.saturating_add(1);
                self.ok_streak = 0;
                if self.fail_streak >= t.failures.max(1) {
                    self.state = State::Down;
                }
            }
            Outcome::Up | Outcome::Degraded => {
                self.ok_streak = self.ok_streak.saturating_add(1);
                self.fail_streak = 0;
                let target = if outcome == Outcome::Up { State::Up } else { State::Degraded };
                let needs = match self.state {
                    State::Down => t.successes.max(1),
                    _ => 1,
                };
                if self.ok_streak >= needs {
                    self.state = target;
                }
            }
        }
        (self.state != before).then_some(self.state)
    }

    /// Whether the last verdict disagrees with the state without having changed it yet: probe again at once.
    pub fn pending(&self, outcome: Outcome) -> bool {
        match outcome {
            Outcome::Down => self.state != State::Down,
            Outcome::Up | Outcome::Degraded => self.state == State::Down,
        }
    }
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker::new()
    }
}

/// A check's phase within its interval, so that checks added together do not all fire at once: a stable spread
/// derived from the check's id.
pub fn phase(check_id: i64, interval: Duration) -> Duration {
    let ms = interval.num_milliseconds().max(1) as u64;
    // SplitMix64 of the id: stable across restarts and replicas.
    let mut z = (check_id as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    Duration::milliseconds((z % ms) as i64)
}

/// The first slot of a check strictly after `after`: slots sit at `phase + k * interval` from the epoch, so the
/// schedule never drifts with execution time, and slots missed while the portal was down are skipped (they count
/// as unknown, never as downtime).
pub fn next_slot(check_id: i64, interval: Duration, after: DateTime<Utc>) -> DateTime<Utc> {
    let ms = interval.num_milliseconds().max(1);
    let phase = phase(check_id, interval).num_milliseconds();
    let t = after.timestamp_millis();
    let k = (t - phase).div_euclid(ms) + 1;
    DateTime::<Utc>::from_timestamp_millis(phase + k * ms).unwrap_or(after + interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(outcomes: &[Outcome], t: Thresholds) -> Vec<State> {
        let mut tr = Tracker::new();
        outcomes
            .iter()
            .map(|o| {
                tr.observe(*o, t);
                tr.state
            })
            .collect()
    }

    use Outcome::{Degraded as G, Down as D, Up as U};

    #[test]
    fn one_lost_packet_is_not_an_outage() {
        let s = run(&[U, D, U, U], Thresholds::default());
        assert_eq!(s, [State::Up, State::Up, State::Up, State::Up]);
    }

    #[test]
    fn two_failures_in_a_row_make_it_down_and_one_success_brings_it_back() {
        let s = run(&[U, D, D, D, U], Thresholds::default());
        assert_eq!(s, [State::Up, State::Up, State::Down, State::Down, State::Up]);
    }

    #[test]
    fn thresholds_are_configurable() {
        let t = Thresholds { failures: 3, successes: 2 };
        let s = run(&[U, D, D, D, U, D, U, U], t);
        assert_eq!(s, [State::Up, State::Up, State::Up, State::Down, State::Down, State::Down, State::Down, State::Up]);
    }

    #[test]
    fn a_flapping_target_never_alternates_states() {
        let t = Thresholds::default();
        let mut tr = Tracker::new();
        tr.observe(U, t);
        let mut changes = 0;
        for i in 0..100 {
            if tr.observe(if i % 2 == 0 { D } else { U }, t).is_some() {
                changes += 1;
            }
        }
        assert_eq!(changes, 0, "alternating results never reach two failures in a row");
    }

    #[test]
    fn slow_answers_are_degraded_not_down() {
        let s = run(&[U, G, G, U], Thresholds::default());
        assert_eq!(s, [State::Up, State::Degraded, State::Degraded, State::Up]);
    }

    #[test]
    fn a_verdict_against_the_state_asks_for_an_immediate_recheck() {
        let t = Thresholds::default();
        let mut tr = Tracker::new();
        tr.observe(U, t);
        tr.observe(D, t);
        assert!(tr.pending(D), "one failure while up: re-check now");
        tr.observe(D, t);
        assert!(!tr.pending(D), "down is confirmed");
        assert!(tr.pending(U));
    }

    #[test]
    fn slots_stay_on_a_fixed_grid_whatever_the_probe_took() {
        let interval = Duration::seconds(30);
        let start = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let first = next_slot(7, interval, start);
        assert!(first > start && first <= start + interval);
        // A probe that ran late (or long) still leads to the next slot on the grid, not to "now + interval".
        let late = first + Duration::milliseconds(12_345);
        assert_eq!(next_slot(7, interval, late), first + interval);
        // Slots missed while the portal was down are skipped, not run in a burst.
        let after_outage = first + Duration::minutes(10) + Duration::seconds(1);
        let next = next_slot(7, interval, after_outage);
        assert_eq!((next - first).num_milliseconds() % 30_000, 0);
        assert!(next > after_outage && next - after_outage <= interval);
    }

    #[test]
    fn checks_are_spread_over_their_interval() {
        let interval = Duration::seconds(30);
        let phases: std::collections::HashSet<i64> =
            (1..=100).map(|id| phase(id, interval).num_milliseconds() / 3000).collect();
        assert!(phases.len() >= 8, "100 checks land in most tenths of the interval: {phases:?}");
        assert_eq!(phase(5, interval), phase(5, interval), "stable");
    }
}
