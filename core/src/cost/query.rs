//! Reading cost back: totals of imported periods and the grouped report behind `GET /api/v1/cost`. Sums are
//! computed by the database in nano-units (`BIGINT`), one currency at a time, and printed as decimal text.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, JoinType, QueryFilter, QuerySelect, RelationTrait,
};

use portolan_types::cost::{CostGroup, CostReport};

use super::CostError;
use super::entity::{cost_daily, cost_tagsets};
use super::import::CurrencyTotals;
use super::money::Amount;

/// What to group by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    /// Component (allocated amounts only).
    Component,
    /// Team: a team tag or account rule, else the component's owner (allocated amounts only).
    Team,
    /// Environment (`unknown` when no tag names one).
    Environment,
    /// Cloud service.
    Service,
    /// Day (UTC).
    Day,
    /// Month (UTC).
    Month,
}

impl GroupBy {
    /// Parses the query parameter.
    pub fn parse(s: &str) -> Option<GroupBy> {
        Some(match s {
            "component" => GroupBy::Component,
            "team" => GroupBy::Team,
            "environment" => GroupBy::Environment,
            "service" => GroupBy::Service,
            "day" => GroupBy::Day,
            "month" => GroupBy::Month,
            _ => return None,
        })
    }

    /// The parameter's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Component => "component",
            GroupBy::Team => "team",
            GroupBy::Environment => "environment",
            GroupBy::Service => "service",
            GroupBy::Day => "day",
            GroupBy::Month => "month",
        }
    }
}

/// Which cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Amortised.
    Effective,
    /// As invoiced.
    Billed,
}

impl Metric {
    /// Parses the query parameter.
    pub fn parse(s: &str) -> Option<Metric> {
        match s {
            "effective" => Some(Metric::Effective),
            "billed" => Some(Metric::Billed),
            _ => None,
        }
    }

    /// The parameter's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Effective => "effective",
            Metric::Billed => "billed",
        }
    }

    /// `CAST(SUM(<table>.effective|billed) AS BIGINT)`: the metric's sum over any of the cost tables (the daily
    /// sums and every roll-up name the two amounts alike).
    pub(crate) fn sum_of(self, table: &str) -> Expr {
        // The parameter's spelling is the column's name.
        Expr::cust(format!("CAST(SUM({table}.{}) AS BIGINT)", self.as_str()))
    }
}

/// A report request.
#[derive(Clone, Debug)]
pub struct CostQuery {
    /// Grouping.
    pub group_by: GroupBy,
    /// Metric.
    pub metric: Metric,
    /// First day (inclusive).
    pub from: NaiveDate,
    /// Last day (exclusive).
    pub to: NaiveDate,
    /// Only this component (a full reference).
    pub component: Option<String>,
    /// Only this team (a full reference): what it is tagged with, and its components' untagged costs.
    pub team: Option<String>,
    /// The currency; by default the one with the largest total in the range.
    pub currency: Option<String>,
}

pub(crate) fn sum(metric: Metric) -> Expr {
    metric.sum_of("cost_daily")
}

/// The tag sets a query keeps: its component, or what its team is tagged with and its components' untagged costs.
fn tagset_filter(q: &CostQuery) -> Condition {
    let mut condition = Condition::all();
    if let Some(c) = &q.component {
        condition = condition.add(cost_tagsets::Column::ComponentRef.eq(c.as_str()));
    }
    if let Some(team) = &q.team {
        use crate::catalog::entity::entities;
        let owned = Query::select()
            .column(entities::Column::EntityRef)
            .from(entities::Entity)
            .and_where(entities::Column::OwnerRef.eq(team.as_str()))
            .to_owned();
        condition = condition.add(
            Condition::any().add(cost_tagsets::Column::TeamRef.eq(team.as_str())).add(
                Condition::all()
                    .add(cost_tagsets::Column::TeamRef.is_null())
                    .add(cost_tagsets::Column::ComponentRef.in_subquery(owned)),
            ),
        );
    }
    condition
}

pub(crate) fn filtered(q: &CostQuery) -> sea_orm::Select<cost_daily::Entity> {
    cost_daily::Entity::find()
        .join(JoinType::InnerJoin, cost_daily::Relation::Tagset.def())
        .filter(cost_daily::Column::Day.gte(q.from))
        .filter(cost_daily::Column::Day.lt(q.to))
        .filter(tagset_filter(q))
}

/// Whole months: a range from the first of a month to the first of a later one, which the monthly roll-up answers.
fn whole_months(q: &CostQuery) -> bool {
    use chrono::Datelike;
    q.from.day() == 1 && q.to.day() == 1 && q.from < q.to
}

/// The grouped sums of a query, from the monthly roll-up when the range is whole months (a few thousand rows for
/// the organisation's month instead of a hundred thousand), else from the daily sums. `k1`/`k2` name the
/// grouping columns; `{t}` stands for the table read.
async fn grouped(
    db: &DatabaseConnection,
    q: &CostQuery,
    k1: &str,
    k2: Option<&str>,
) -> Result<Vec<GroupRow>, sea_orm::DbErr> {
    fn columns<E: EntityTrait>(
        select: sea_orm::Select<E>,
        t: &str,
        metric: Metric,
        k1: &str,
        k2: Option<&str>,
    ) -> sea_orm::Select<E> {
        let k1 = k1.replace("{t}", t);
        let k2 = k2.map(|k| k.replace("{t}", t));
        let mut select = select
            .select_only()
            .column_as(Expr::cust(format!("{t}.currency")), "currency")
            .column(cost_tagsets::Column::Allocation)
            .column_as(Expr::cust(format!("CAST({k1} AS TEXT)")), "k1")
            .column_as(
                Expr::cust(k2.as_ref().map_or("CAST(NULL AS TEXT)".to_owned(), |c| format!("CAST({c} AS TEXT)"))),
                "k2",
            )
            .column_as(metric.sum_of(t), "amount")
            .group_by(Expr::cust(format!("{t}.currency")))
            .group_by(cost_tagsets::Column::Allocation)
            .group_by(Expr::cust(k1));
        if let Some(k2) = k2 {
            select = select.group_by(Expr::cust(k2));
        }
        select
    }
    if whole_months(q) && q.component.is_none() && q.team.is_none() {
        // The organisation's whole months: a few thousand groups a month, already summed per allocation.
        use super::entity::cost_month_groups as g;
        let (dim, k1, k2) = match q.group_by {
            GroupBy::Environment => ("environment", "cost_month_groups.k1", None),
            GroupBy::Service => ("service", "cost_month_groups.k1", None),
            GroupBy::Month => ("component", "cost_month_groups.month", None),
            GroupBy::Day => ("component", "cost_month_groups.allocation", None),
            GroupBy::Component => ("component", "cost_month_groups.k1", None),
            GroupBy::Team => ("component", "cost_month_groups.k1", Some("cost_month_groups.k2")),
        };
        let select = g::Entity::find()
            .filter(g::Column::Dim.eq(dim))
            .filter(g::Column::Month.gte(q.from))
            .filter(g::Column::Month.lt(q.to));
        let mut select = select
            .select_only()
            .column(g::Column::Currency)
            .column(g::Column::Allocation)
            .column_as(Expr::cust(format!("CAST({k1} AS TEXT)")), "k1")
            .column_as(Expr::cust(k2.map_or("CAST(NULL AS TEXT)".to_owned(), |c| format!("CAST({c} AS TEXT)"))), "k2")
            .column_as(q.metric.sum_of("cost_month_groups"), "amount")
            .group_by(g::Column::Currency)
            .group_by(g::Column::Allocation)
            .group_by(Expr::cust(k1));
        if let Some(k2) = k2 {
            select = select.group_by(Expr::cust(k2));
        }
        select.into_tuple().all(db).await
    } else if whole_months(q) && q.group_by != GroupBy::Day {
        // A component's or a team's whole months (by day, they need the days themselves).
        use super::entity::cost_monthly;
        let select = cost_monthly::Entity::find()
            .join(JoinType::InnerJoin, cost_monthly::Relation::Tagset.def())
            .filter(cost_monthly::Column::Month.gte(q.from))
            .filter(cost_monthly::Column::Month.lt(q.to))
            .filter(tagset_filter(q));
        columns(select, "cost_monthly", q.metric, &k1.replace("{t}.day", "{t}.month"), k2).into_tuple().all(db).await
    } else {
        columns(filtered(q), "cost_daily", q.metric, k1, k2).into_tuple().all(db).await
    }
}

/// Each day's whole in a range and currency, from the day roll-up.
async fn day_totals(
    db: &DatabaseConnection,
    q: &CostQuery,
    currency: &str,
) -> Result<Vec<(String, i64)>, sea_orm::DbErr> {
    use super::entity::cost_days;
    cost_days::Entity::find()
        .select_only()
        .column_as(Expr::cust("CAST(cost_days.day AS TEXT)"), "day")
        .column_as(q.metric.sum_of("cost_days"), "amount")
        .filter(cost_days::Column::Day.gte(q.from))
        .filter(cost_days::Column::Day.lt(q.to))
        .filter(cost_days::Column::Currency.eq(currency))
        .group_by(cost_days::Column::Day)
        .into_tuple()
        .all(db)
        .await
}

/// One grouped sum: currency, allocation, first and second key, nano-units.
type GroupRow = (String, String, Option<String>, Option<String>, i64);

/// The grouped report.
pub async fn report(db: &DatabaseConnection, q: &CostQuery) -> Result<CostReport, CostError> {
    // One pass over the range for every currency: the currencies' totals come from the same rows as the groups.
    // The organisation's days over whole months: the totals by allocation come from the monthly roll-up (grouped
    // by month) and the days from the day roll-up, two small reads instead of the month's daily sums.
    let days_from_roll_up = q.group_by == GroupBy::Day && whole_months(q) && q.component.is_none() && q.team.is_none();
    let (k1, k2) = match q.group_by {
        GroupBy::Component => ("cost_tagsets.component_ref", None),
        GroupBy::Team => ("cost_tagsets.component_ref", Some("cost_tagsets.team_ref")),
        GroupBy::Environment => ("cost_tagsets.environment", None),
        GroupBy::Service => ("{t}.service", None),
        // Any grouping column: the days are replaced below.
        _ if days_from_roll_up => ("cost_tagsets.allocation", None),
        GroupBy::Day | GroupBy::Month => ("{t}.day", None),
    };
    let all: Vec<GroupRow> = grouped(db, q, k1, k2).await?;
    let mut per_currency: BTreeMap<&str, i128> = BTreeMap::new();
    for row in &all {
        *per_currency.entry(row.0.as_str()).or_default() += i128::from(row.4);
    }
    let mut currencies: Vec<(&str, i128)> = per_currency.into_iter().collect();
    currencies.sort_by(|a, b| b.1.abs().cmp(&a.1.abs()).then(a.0.cmp(b.0)));
    let currency = q.currency.clone().or_else(|| currencies.first().map(|c| c.0.to_owned()));
    let mut report = CostReport {
        currency: currency.clone(),
        currencies: currencies.iter().map(|c| c.0.to_owned()).collect(),
        metric: q.metric.as_str().to_owned(),
        group_by: q.group_by.as_str().to_owned(),
        from: q.from.to_string(),
        to: q.to.to_string(),
        total: Amount::ZERO.to_string(),
        groups: Vec::new(),
        shared: Amount::ZERO.to_string(),
        unallocated: Amount::ZERO.to_string(),
    };
    let Some(currency) = currency else {
        return Ok(report);
    };
    let rows = all.into_iter().filter(|r| r.0 == currency).map(|(_, a, k1, k2, amount)| (a, k1, k2, amount));

    let owners: HashMap<String, String> = if q.group_by == GroupBy::Team {
        use crate::catalog::entity::entities;
        let pairs: Vec<(String, Option<String>)> = entities::Entity::find()
            .select_only()
            .column(entities::Column::EntityRef)
            .column(entities::Column::OwnerRef)
            .filter(entities::Column::Kind.eq("component"))
            .into_tuple()
            .all(db)
            .await?;
        pairs.into_iter().filter_map(|(r, o)| o.map(|o| (r, o))).collect()
    } else {
        HashMap::new()
    };

    let (mut total, mut shared, mut unallocated) = (Amount::ZERO, Amount::ZERO, Amount::ZERO);
    let mut groups: BTreeMap<String, Amount> = BTreeMap::new();
    for (allocation, k1, k2, amount) in rows {
        let amount = Amount(i128::from(amount));
        total += amount;
        match allocation.as_str() {
            "shared" => shared += amount,
            "component" => {}
            _ => unallocated += amount,
        }
        let key = match q.group_by {
            GroupBy::Component if allocation == "component" => k1,
            GroupBy::Team if allocation == "component" => {
                Some(k2.or_else(|| k1.and_then(|c| owners.get(&c).cloned())).unwrap_or_else(|| "(no owner)".into()))
            }
            GroupBy::Component | GroupBy::Team => None,
            GroupBy::Environment => Some(k1.unwrap_or_else(|| "unknown".into())),
            GroupBy::Service => k1,
            GroupBy::Day => k1.map(|d| d.chars().take(10).collect()),
            GroupBy::Month => k1.map(|d| d.chars().take(7).collect()),
        };
        if let Some(key) = key {
            *groups.entry(key).or_default() += amount;
        }
    }
    let mut groups: Vec<(String, Amount)> = groups.into_iter().collect();
    if !matches!(q.group_by, GroupBy::Day | GroupBy::Month) {
        groups.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    }
    if days_from_roll_up {
        groups = day_totals(db, q, &currency)
            .await?
            .into_iter()
            .map(|(day, amount)| (day.chars().take(10).collect(), Amount(i128::from(amount))))
            .collect();
        groups.sort();
    }
    report.total = total.to_string();
    report.shared = shared.to_string();
    report.unallocated = unallocated.to_string();
    report.groups = groups.into_iter().map(|(key, amount)| CostGroup { key, amount: amount.to_string() }).collect();
    Ok(report)
}

/// A component's part of the shared costs in a range and currency: each shared rule's amount split evenly among
/// the components with direct cost in the range, or in proportion to their direct cost, as the rule says.
/// Returns the part and, per rule, (name, split, the rule's whole amount).
pub async fn shared_part(
    db: &DatabaseConnection,
    rules: &super::Rules,
    component: &str,
    metric: Metric,
    range: (NaiveDate, NaiveDate),
    currency: &str,
) -> Result<(Amount, Vec<(String, String, Amount)>), CostError> {
    let q = CostQuery {
        group_by: GroupBy::Component,
        metric,
        from: range.0,
        to: range.1,
        component: None,
        team: None,
        currency: Some(currency.to_owned()),
    };
    let rows: Vec<(String, Option<String>, String, i64)> = filtered(&q)
        .filter(cost_daily::Column::Currency.eq(currency))
        .filter(cost_tagsets::Column::Allocation.is_in(["shared", "component"]))
        .select_only()
        .column(cost_tagsets::Column::Allocation)
        .column(cost_tagsets::Column::ComponentRef)
        .column(cost_tagsets::Column::Reason)
        .column_as(sum(metric), "amount")
        .group_by(cost_tagsets::Column::Allocation)
        .group_by(cost_tagsets::Column::ComponentRef)
        .group_by(cost_tagsets::Column::Reason)
        .into_tuple()
        .all(db)
        .await?;
    let mut direct: HashMap<String, Amount> = HashMap::new();
    let mut shared: BTreeMap<String, Amount> = BTreeMap::new();
    for (allocation, component_ref, reason, amount) in rows {
        let amount = Amount(i128::from(amount));
        if allocation == "shared" {
            *shared.entry(reason).or_default() += amount;
        } else if let Some(c) = component_ref {
            *direct.entry(c).or_default() += amount;
        }
    }
    direct.retain(|_, a| a.0 > 0);
    let total_direct: i128 = direct.values().map(|a| a.0).sum();
    let own = direct.get(component).copied().unwrap_or_default();
    let mut part = Amount::ZERO;
    let mut per_rule = Vec::new();
    for (reason, amount) in shared {
        // The reason names the rule (`shared rule `network``); a rule renamed since keeps an even split.
        let name = reason.strip_prefix("shared rule `").and_then(|r| r.strip_suffix('`')).unwrap_or(&reason);
        let split = rules.shared.iter().find(|r| r.name == name).map_or("even", |r| r.split.as_str()).to_owned();
        if own.0 > 0 {
            part += match split.as_str() {
                "proportional" if total_direct > 0 => Amount(amount.0 * own.0 / total_direct),
                _ => Amount(amount.0 / direct.len() as i128),
            };
        }
        per_rule.push((name.to_owned(), split, amount));
    }
    Ok((part, per_rule))
}

/// Billed and effective totals per currency of the given periods, with the effective cost's allocation.
pub async fn period_totals(db: &DatabaseConnection, period_ids: &[i64]) -> Result<Vec<CurrencyTotals>, CostError> {
    let mut by_currency: BTreeMap<String, CurrencyTotals> = BTreeMap::new();
    for chunk in period_ids.chunks(200) {
        let rows: Vec<(String, String, i64, i64)> = cost_daily::Entity::find()
            .join(JoinType::InnerJoin, cost_daily::Relation::Tagset.def())
            .filter(cost_daily::Column::PeriodId.is_in(chunk.iter().copied()))
            .select_only()
            .column(cost_daily::Column::Currency)
            .column(cost_tagsets::Column::Allocation)
            .column_as(sum(Metric::Billed), "billed")
            .column_as(sum(Metric::Effective), "effective")
            .group_by(cost_daily::Column::Currency)
            .group_by(cost_tagsets::Column::Allocation)
            .into_tuple()
            .all(db)
            .await?;
        for (currency, allocation, billed, effective) in rows {
            let t = by_currency.entry(currency.clone()).or_insert_with(|| CurrencyTotals {
                currency,
                billed: Amount::ZERO,
                effective: Amount::ZERO,
                allocated: Amount::ZERO,
                shared: Amount::ZERO,
                unallocated: Amount::ZERO,
                allocated_percent: None,
            });
            let (billed, effective) = (Amount(i128::from(billed)), Amount(i128::from(effective)));
            t.billed += billed;
            t.effective += effective;
            match allocation.as_str() {
                "component" => t.allocated += effective,
                "shared" => t.shared += effective,
                _ => t.unallocated += effective,
            }
        }
    }
    Ok(by_currency
        .into_values()
        .map(|mut t| {
            t.allocated_percent = percent(t.allocated, t.effective);
            t
        })
        .collect())
}

/// The first day of the month `day` is in, and the first day of the month after.
pub fn month_bounds(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    use chrono::Datelike;
    let first = day.with_day(1).unwrap_or(day);
    let next = first.checked_add_months(chrono::Months::new(1)).unwrap_or(first);
    (first, next)
}

/// The last day with imported cost, if any.
pub async fn latest_day(db: &DatabaseConnection) -> Result<Option<NaiveDate>, CostError> {
    let day: Option<Option<NaiveDate>> = cost_daily::Entity::find()
        .select_only()
        .column_as(cost_daily::Column::Day.max(), "day")
        .into_tuple()
        .one(db)
        .await?;
    Ok(day.flatten())
}

/// The imported billing periods, newest first, as JSON objects.
pub async fn periods(db: &DatabaseConnection) -> Result<Vec<serde_json::Value>, CostError> {
    use super::entity::cost_periods;
    use sea_orm::QueryOrder;
    let rows = cost_periods::Entity::find()
        .order_by_desc(cost_periods::Column::PeriodStart)
        .order_by_asc(cost_periods::Column::Provider)
        .order_by_asc(cost_periods::Column::Account)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|p| {
            serde_json::json!({
                "provider": p.provider,
                "account": p.account,
                "period": p.period_start.format("%Y-%m").to_string(),
                "period_start": p.period_start.to_string(),
                "format": p.format,
                "files": serde_json::from_str::<serde_json::Value>(&p.files).unwrap_or_default(),
                "rows": p.rows,
                "totals": serde_json::from_str::<serde_json::Value>(&p.totals).unwrap_or_default(),
                "imported_by": p.imported_by,
                "imported_at": p.imported_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            })
        })
        .collect())
}

/// `part / whole` in percent with one decimal, rounded half up, computed in integers.
pub fn percent(part: Amount, whole: Amount) -> Option<String> {
    if whole.is_zero() {
        return None;
    }
    let tenths = (part.0 * 2000 / whole.0 + (part.0 * 2000 / whole.0).signum()) / 2;
    Some(format!("{}{}.{}", if tenths < 0 { "-" } else { "" }, (tenths / 10).abs(), (tenths % 10).abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_have_bounds() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(month_bounds(d(2026, 12, 31)), (d(2026, 12, 1), d(2027, 1, 1)));
        assert_eq!(month_bounds(d(2028, 2, 29)), (d(2028, 2, 1), d(2028, 3, 1)));
    }

    #[test]
    fn shares_print_with_one_decimal() {
        let a = |s: &str| Amount::parse(s).unwrap();
        assert_eq!(percent(a("1"), a("3")).as_deref(), Some("33.3"));
        assert_eq!(percent(a("2"), a("3")).as_deref(), Some("66.7"));
        assert_eq!(percent(a("3"), a("3")).as_deref(), Some("100.0"));
        assert_eq!(percent(a("0"), a("3")).as_deref(), Some("0.0"));
        assert_eq!(percent(a("1"), a("0")), None);
    }
}
