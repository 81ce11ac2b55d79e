//! Cost anomalies: what people decided about each one. Anomalies themselves are computed from the daily sums on
//! every read (so a restated month moves them); only a dismissal or a snooze is stored, one row per anomaly
//! (scope, currency, day).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CostAnomalyTriage::Table)
                    .col(big_pk_auto(CostAnomalyTriage::Id))
                    .col(string(CostAnomalyTriage::Scope))
                    .col(string(CostAnomalyTriage::Currency))
                    .col(date(CostAnomalyTriage::Day))
                    .col(string(CostAnomalyTriage::Status))
                    .col(date_null(CostAnomalyTriage::Until))
                    .col(text(CostAnomalyTriage::Reason))
                    .col(string(CostAnomalyTriage::DecidedBy))
                    .col(timestamp_with_time_zone(CostAnomalyTriage::DecidedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_cost_anomaly_triage_anomaly")
                    .table(CostAnomalyTriage::Table)
                    .col(CostAnomalyTriage::Scope)
                    .col(CostAnomalyTriage::Currency)
                    .col(CostAnomalyTriage::Day)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(CostAnomalyTriage::Table).to_owned()).await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum CostAnomalyTriage {
    Table,
    Id,
    Scope,
    Currency,
    Day,
    Status,
    Until,
    Reason,
    DecidedBy,
    DecidedAt,
}
