//! Budgets: a monthly amount of effective cost per team or component and currency, this month's spend against it
//! with a month-end forecast, and a notification (Slack-compatible, to the global and the team's webhook) the
//! first time a month's spend reaches 80 % and 100 %.

use chrono::{NaiveDate, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use portolan_types::cost::BudgetView;

use super::CostError;
use super::entity::{cost_budget_alerts, cost_budgets};
use super::money::Amount;
use super::query::{self, CostQuery, GroupBy, Metric};

/// The month a budget view shows and how much of it the data covers: (first day, first day of the next month,
/// days with data).
async fn current_month(db: &DatabaseConnection) -> Result<(NaiveDate, NaiveDate, i64), CostError> {
    let latest = query::latest_day(db).await?.unwrap_or_else(|| Utc::now().date_naive());
    let (first, next) = query::month_bounds(latest);
    Ok((first, next, (latest - first).num_days() + 1))
}

/// The spend so far extended at its daily rate to the whole month.
pub fn forecast(spent: Amount, days_with_data: i64, days_in_month: i64) -> Amount {
    if days_with_data <= 0 || days_with_data >= days_in_month {
        return spent;
    }
    Amount(spent.0 * i128::from(days_in_month) / i128::from(days_with_data))
}

/// `ok`, `forecast_over`, `warning` or `over`.
pub fn status(spent: Amount, forecast: Amount, budget: Amount) -> &'static str {
    if budget.0 <= 0 {
        return "ok";
    }
    if spent >= budget {
        "over"
    } else if spent.0 * 10 >= budget.0 * 8 {
        "warning"
    } else if forecast > budget {
        "forecast_over"
    } else {
        "ok"
    }
}

async fn spent(
    db: &DatabaseConnection,
    scope: &str,
    currency: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Amount, CostError> {
    let is_team = scope.starts_with("group:");
    let q = CostQuery {
        group_by: GroupBy::Month,
        metric: Metric::Effective,
        from,
        to,
        component: (!is_team).then(|| scope.to_owned()),
        team: is_team.then(|| scope.to_owned()),
        currency: Some(currency.to_owned()),
    };
    let report = query::report(db, &q).await?;
    Ok(Amount::parse(&report.total).unwrap_or_default())
}

fn view(b: &cost_budgets::Model, month: NaiveDate, spent: Amount, forecast: Amount) -> BudgetView {
    let amount = Amount(i128::from(b.amount));
    BudgetView {
        scope: b.scope.clone(),
        amount: amount.to_cents_text(),
        currency: b.currency.clone(),
        month: month.format("%Y-%m").to_string(),
        spent: spent.to_cents_text(),
        forecast: forecast.to_cents_text(),
        spent_percent: query::percent(spent, amount),
        status: status(spent, forecast, amount).to_owned(),
        updated_by: b.updated_by.clone(),
    }
}

/// Every budget with the current month's spend and forecast, by scope.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<BudgetView>, CostError> {
    let (first, next, days) = current_month(db).await?;
    let days_in_month = (next - first).num_days();
    let budgets = cost_budgets::Entity::find()
        .order_by_asc(cost_budgets::Column::Scope)
        .order_by_asc(cost_budgets::Column::Currency)
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(budgets.len());
    for b in &budgets {
        let s = spent(db, &b.scope, &b.currency, first, next).await?;
        out.push(view(b, first, s, forecast(s, days, days_in_month)));
    }
    Ok(out)
}

/// A checked budget change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BudgetChange {
    /// Full entity ref of the team or component.
    pub scope: String,
    /// ISO currency.
    pub currency: String,
    /// `None` removes the budget.
    pub amount: Option<Amount>,
}

/// Checks a `PUT` body: the scope must be a team or a component of the catalog, the amount a positive decimal.
pub async fn validate(
    db: &DatabaseConnection,
    input: &portolan_types::cost::BudgetInput,
) -> Result<(BudgetChange, Option<String>), CostError> {
    use crate::catalog::entity::entities;
    let invalid = |field: &str, reason: &str| CostError::Invalid { field: field.to_owned(), reason: reason.to_owned() };
    let scope = super::rules::entity_ref("group", &input.scope);
    if !(scope.starts_with("group:") || scope.starts_with("component:")) {
        return Err(invalid("scope", "must be a team (group) or a component"));
    }
    let Some(entity) = entities::Entity::find().filter(entities::Column::EntityRef.eq(scope.as_str())).one(db).await?
    else {
        return Err(invalid("scope", "is not in the catalog"));
    };
    let currency = input.currency.as_deref().unwrap_or("USD").trim().to_ascii_uppercase();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(invalid("currency", "must be a three-letter currency code"));
    }
    let amount = match input.amount.as_deref() {
        None => None,
        Some(text) => {
            let a = Amount::parse(text).map_err(|e| invalid("amount", &e.to_string()))?;
            if a.0 <= 0 || a.to_db().is_none() {
                return Err(invalid("amount", "must be a positive amount"));
            }
            Some(a)
        }
    };
    // Who may change it: the team itself, or the component's owner.
    let owner = if scope.starts_with("group:") { Some(scope.clone()) } else { entity.owner_ref.clone() };
    Ok((BudgetChange { scope, currency, amount }, owner))
}

/// Stores a checked change.
pub async fn apply(db: &DatabaseConnection, change: &BudgetChange, by: &str) -> Result<(), CostError> {
    match change.amount {
        None => {
            cost_budgets::Entity::delete_many()
                .filter(cost_budgets::Column::Scope.eq(change.scope.as_str()))
                .filter(cost_budgets::Column::Currency.eq(change.currency.as_str()))
                .exec(db)
                .await?;
        }
        Some(amount) => {
            let row = cost_budgets::ActiveModel {
                scope: Set(change.scope.clone()),
                currency: Set(change.currency.clone()),
                amount: Set(amount.to_db().unwrap_or(i64::MAX)),
                updated_by: Set(by.to_owned()),
                updated_at: Set(Utc::now()),
                ..Default::default()
            };
            cost_budgets::Entity::insert(row)
                .on_conflict(
                    OnConflict::columns([cost_budgets::Column::Scope, cost_budgets::Column::Currency])
                        .update_columns([
                            cost_budgets::Column::Amount,
                            cost_budgets::Column::UpdatedBy,
                            cost_budgets::Column::UpdatedAt,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(db)
                .await?;
        }
    }
    Ok(())
}

/// Claims the thresholds the current month's spend has reached and not yet announced, and builds their messages.
/// A claim is a row (unique per budget, month and threshold), so each is sent once across replicas.
pub async fn due_notifications(
    db: &DatabaseConnection,
    config: &crate::Config,
) -> Result<Vec<crate::health::notify::Message>, CostError> {
    let (first, next, _) = current_month(db).await?;
    let mut messages = Vec::new();
    for b in cost_budgets::Entity::find().all(db).await? {
        let s = spent(db, &b.scope, &b.currency, first, next).await?;
        let budget = Amount(i128::from(b.amount));
        for threshold in [100, 80] {
            if s.0 * 100 < budget.0 * i128::from(threshold) {
                continue;
            }
            if !claim(db, b.id, first, threshold).await? {
                // Announced before (the 100 % message also stands for 80 %).
                break;
            }
            let base = config.public_url.as_str().trim_end_matches('/');
            let team = if b.scope.starts_with("group:") { Some(b.scope.clone()) } else { None };
            messages.push(crate::health::notify::Message {
                team,
                text: format!(
                    ":money_with_wings: *{}* has spent {} {} of its {} {} budget for {} ({}%). <{base}/cost?month={}|Cost>",
                    super::rules::short_name(&b.scope),
                    s.to_cents_text(),
                    b.currency,
                    budget.to_cents_text(),
                    b.currency,
                    first.format("%B %Y"),
                    query::percent(s, budget).unwrap_or_default(),
                    first.format("%Y-%m"),
                ),
            });
            // Reaching 100 % at once also claims 80 %, so it is not announced afterwards.
            if threshold == 100 {
                claim(db, b.id, first, 80).await?;
                break;
            }
        }
    }
    Ok(messages)
}

/// Claims the announcement of `threshold` for a budget and month; `false` when it was claimed before.
async fn claim(db: &DatabaseConnection, budget_id: i64, month: NaiveDate, threshold: i32) -> Result<bool, CostError> {
    let row = cost_budget_alerts::ActiveModel {
        budget_id: Set(budget_id),
        month: Set(month),
        threshold: Set(threshold),
        sent_at: Set(Utc::now()),
        ..Default::default()
    };
    let inserted = cost_budget_alerts::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                cost_budget_alerts::Column::BudgetId,
                cost_budget_alerts::Column::Month,
                cost_budget_alerts::Column::Threshold,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted > 0)
}

/// Sends what [`due_notifications`] claims (after an import); failures are logged, never fatal.
pub async fn notify(db: &DatabaseConnection, config: &crate::Config) {
    match due_notifications(db, config).await {
        Ok(messages) if !messages.is_empty() => {
            let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build();
            match http {
                Ok(http) => {
                    crate::health::notify::send(&http, config, &messages).await;
                }
                Err(e) => tracing::warn!(error = %e, "budget notifications: no HTTP client"),
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "budget notifications could not be evaluated"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forecast_extends_the_daily_rate_to_the_month() {
        let a = |s: &str| Amount::parse(s).unwrap();
        assert_eq!(forecast(a("100"), 10, 30), a("300"));
        assert_eq!(forecast(a("100"), 30, 30), a("100"));
        assert_eq!(forecast(a("100"), 0, 30), a("100"));
        assert_eq!(status(a("50"), a("90"), a("100")), "ok");
        assert_eq!(status(a("50"), a("150"), a("100")), "forecast_over");
        assert_eq!(status(a("80"), a("90"), a("100")), "warning");
        assert_eq!(status(a("100"), a("100"), a("100")), "over");
    }
}
