//! Cost budgets: a monthly amount per team or component and currency, and the notifications sent for each month
//! at 80 % and 100 % (one row each, so several replicas send each once).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CostBudgets::Table)
                    .col(big_pk_auto(CostBudgets::Id))
                    .col(string(CostBudgets::Scope))
                    .col(string(CostBudgets::Currency))
                    .col(big_integer(CostBudgets::Amount))
                    .col(string(CostBudgets::UpdatedBy))
                    .col(timestamp_with_time_zone(CostBudgets::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_cost_budgets_scope")
                    .table(CostBudgets::Table)
                    .col(CostBudgets::Scope)
                    .col(CostBudgets::Currency)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CostBudgetAlerts::Table)
                    .col(big_pk_auto(CostBudgetAlerts::Id))
                    .col(big_integer(CostBudgetAlerts::BudgetId))
                    .col(date(CostBudgetAlerts::Month))
                    .col(integer(CostBudgetAlerts::Threshold))
                    .col(timestamp_with_time_zone(CostBudgetAlerts::SentAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_cost_budget_alerts_budget")
                            .from(CostBudgetAlerts::Table, CostBudgetAlerts::BudgetId)
                            .to(CostBudgets::Table, CostBudgets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_cost_budget_alerts_once")
                    .table(CostBudgetAlerts::Table)
                    .col(CostBudgetAlerts::BudgetId)
                    .col(CostBudgetAlerts::Month)
                    .col(CostBudgetAlerts::Threshold)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(CostBudgetAlerts::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(CostBudgets::Table).to_owned()).await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum CostBudgets {
    Table,
    Id,
    Scope,
    Currency,
    Amount,
    UpdatedBy,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CostBudgetAlerts {
    Table,
    Id,
    BudgetId,
    Month,
    Threshold,
    SentAt,
}
