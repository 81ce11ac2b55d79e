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
