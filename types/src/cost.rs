//! Cost: the grouped report of `GET /api/v1/cost`.

use serde::{Deserialize, Serialize};

/// Spend for a date range in one currency, grouped. Amounts are decimal strings (never floating point).
///
/// For `group_by=component` and `group_by=team` the groups hold what is allocated to a component, so
/// `groups + shared + unallocated = total`; for `environment`, `service`, `day` and `month` the groups add up to
/// the total and `shared`/`unallocated` say how much of it no component carries.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostReport {
    /// ISO currency code of every amount here; `null` when nothing was spent in the range.
    pub currency: Option<String>,
    /// Every currency with spend in the range, largest first (ask for another with `currency=`).
    pub currencies: Vec<String>,
    /// `effective` (amortised) or `billed` (as invoiced).
    pub metric: String,
    /// The grouping.
    pub group_by: String,
    /// First day, inclusive (UTC).
    pub from: String,
    /// Last day, exclusive (UTC).
    pub to: String,
    /// Everything in the range (with the filters).
    pub total: String,
    /// The groups: largest first, or in date order for `day` and `month`.
    pub groups: Vec<CostGroup>,
    /// Shared costs (by a shared rule).
    pub shared: String,
    /// Costs no rule ties to a component.
    pub unallocated: String,
}

/// One group of a [`CostReport`].
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostGroup {
    /// The component's or team's entity ref, the environment, the cloud service, the day (`2026-11-02`) or the
    /// month (`2026-11`).
    pub key: String,
    /// Decimal amount.
    pub amount: String,
}

/// A monthly budget of a team or a component, with this month's spend and forecast.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetView {
    /// The team's or component's entity ref.
    pub scope: String,
    /// The budget per month (decimal text).
    pub amount: String,
    /// Its currency.
    pub currency: String,
    /// The month shown (`2026-11`): the month of the latest imported cost.
    pub month: String,
    /// Effective cost so far in that month.
    pub spent: String,
    /// Month-end forecast: the spend so far, extended at its daily rate over the whole month (equal to `spent`
    /// once the month's data is complete).
    pub forecast: String,
    /// `spent / amount` in percent, one decimal.
    pub spent_percent: Option<String>,
    /// `ok`, `forecast_over` (on course to pass it), `warning` (80 % spent) or `over` (100 % spent).
    pub status: String,
    /// Who set it last.
    pub updated_by: String,
}

/// `PUT /api/v1/cost/budgets`: sets (or with `amount: null` removes) one budget.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetInput {
    /// A team (`group:default/payments`, or a bare name) or a component (`component:default/payments-api`).
    pub scope: String,
    /// The monthly amount as decimal text (`"1500.00"`); `null` removes the budget.
    pub amount: Option<String>,
    /// ISO currency code (default `USD`).
    #[serde(default)]
    pub currency: Option<String>,
}

/// The anomaly detector's settings, as configured.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnomalySettings {
    /// The least a day must exceed its trailing mean by (decimal, in the anomaly's currency).
    pub min_amount: String,
    /// Days in the trailing window.
    pub trailing_days: u32,
    /// The robust z-score a day must reach (decimal).
    pub z: String,
}

/// A day whose spend stands out from its own trailing window.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostAnomaly {
    /// A component's entity ref, `shared` or `unallocated`.
    pub scope: String,
    /// ISO currency code of the amounts.
    pub currency: String,
    /// The day (UTC).
    pub day: String,
    /// That day's spend (decimal).
    pub amount: String,
    /// The trailing window's mean.
    pub expected: String,
    /// `amount - expected`.
    pub excess: String,
    /// Robust z-score with one decimal; `null` when the window was perfectly flat.
    pub z: Option<String>,
    /// `open`, `snoozed` or `dismissed`.
    pub status: String,
    /// Why it was snoozed or dismissed.
    pub reason: Option<String>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When (UTC, RFC 3339).
    pub decided_at: Option<String>,
    /// A snooze's last muted day.
    pub until: Option<String>,
}

/// `GET /api/v1/cost/anomalies`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnomalyList {
    /// `effective` or `billed`.
    pub metric: String,
    /// The last complete day of imported cost (the latest day is usually partial and never judged).
    pub complete_through: Option<String>,
    /// First day judged (inclusive).
    pub from: Option<String>,
    /// Last day judged (exclusive).
    pub to: Option<String>,
    /// The detector's settings.
    pub settings: AnomalySettings,
    /// Newest first, then largest excess first.
    pub anomalies: Vec<CostAnomaly>,
}

/// `POST /api/v1/cost/anomalies/triage`: dismiss, snooze or reopen one anomaly.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnomalyTriageInput {
    /// The anomaly's scope: a component (`component:default/payments-api` or a bare name), `shared` or
    /// `unallocated`.
    pub scope: String,
    /// Its currency.
    pub currency: String,
    /// Its day (`2026-11-02`).
    pub day: String,
    /// `dismiss` (not a problem), `snooze` (mute this scope's anomalies through `until`) or `reopen`.
    pub action: String,
    /// Why; required to dismiss or snooze.
    #[serde(default)]
    pub reason: Option<String>,
    /// For `snooze`: the last day muted.
    #[serde(default)]
    pub until: Option<String>,
}
