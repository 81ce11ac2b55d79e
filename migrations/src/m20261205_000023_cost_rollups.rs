//! Cost roll-ups for the organisation's reports. A month of daily sums is about a hundred thousand rows at a
//! thousand services; the organisation's cost page runs several reports over it. Two tables, each kept per billing
//! period (written with the period's daily sums and replaced with them), so a report over whole months reads a few
//! thousand rows:
//!
//! - `cost_monthly`: sums per (period, month, currency, tag set, cloud service). Keyed by tag set, not by where the
//!   tag set is allocated, so a change of the allocation rules leaves it valid.
//! - `cost_days`: the whole of each day per (period, currency), for the organisation's daily chart.
//! - `cost_month_groups`: the organisation's month per allocation in three dimensions (`component`: component and
//!   team; `environment`; `service`), a few thousand rows a month, for the organisation's reports.
//! - `cost_day_components`: each day per allocation and component, for anomaly detection over the organisation.
//!
//! The last two depend on where tag sets are allocated, so saving the rules rebuilds them.
//!
//! Existing daily sums are rolled up here once.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Creates the index `name` on `table`'s `cols`, in order.
async fn index<T: IntoIden, C: IntoIden>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    cols: impl IntoIterator<Item = C>,
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table);
    for c in cols {
        index.col(c);
    }
    manager.create_index(index.to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CostMonthly::Table)
                    .col(big_pk_auto(CostMonthly::Id))
                    .col(big_integer(CostMonthly::PeriodId))
                    .col(date(CostMonthly::Month))
                    .col(string(CostMonthly::Currency))
                    .col(big_integer(CostMonthly::TagsetId))
                    .col(string(CostMonthly::Service))
                    .col(big_integer(CostMonthly::Billed))
                    .col(big_integer(CostMonthly::Effective))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_cost_monthly_period")
                            .from(CostMonthly::Table, CostMonthly::PeriodId)
                            .to(CostPeriods::Table, CostPeriods::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_cost_monthly_tagset")
                            .from(CostMonthly::Table, CostMonthly::TagsetId)
                            .to(CostTagsets::Table, CostTagsets::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // Reports read a range of months: the index holds everything they read.
        let by_month = vec![
            CostMonthly::Month,
            CostMonthly::Currency,
            CostMonthly::TagsetId,
            CostMonthly::Service,
            CostMonthly::Effective,
            CostMonthly::Billed,
        ];
        index(manager, "ix_cost_monthly_period", CostMonthly::Table, [CostMonthly::PeriodId]).await?;
        index(manager, "ix_cost_monthly_month", CostMonthly::Table, by_month).await?;

        manager
            .create_table(
                Table::create()
                    .table(CostDays::Table)
                    .col(big_pk_auto(CostDays::Id))
                    .col(big_integer(CostDays::PeriodId))
                    .col(date(CostDays::Day))
                    .col(string(CostDays::Currency))
                    .col(big_integer(CostDays::Billed))
                    .col(big_integer(CostDays::Effective))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_cost_days_period")
                            .from(CostDays::Table, CostDays::PeriodId)
                            .to(CostPeriods::Table, CostPeriods::Id),
                    )
                    .to_owned(),
            )
            .await?;
        let by_day = vec![CostDays::Day, CostDays::Currency, CostDays::Effective, CostDays::Billed];
        index(manager, "ix_cost_days_period", CostDays::Table, [CostDays::PeriodId]).await?;
        index(manager, "ix_cost_days_day", CostDays::Table, by_day).await?;

        manager
            .create_table(
                Table::create()
                    .table(CostMonthGroups::Table)
                    .col(big_pk_auto(CostMonthGroups::Id))
                    .col(big_integer(CostMonthGroups::PeriodId))
                    .col(date(CostMonthGroups::Month))
                    .col(string(CostMonthGroups::Currency))
                    .col(string(CostMonthGroups::Dim))
                    .col(string(CostMonthGroups::Allocation))
                    .col(string_null(CostMonthGroups::K1))
                    .col(string_null(CostMonthGroups::K2))
                    .col(big_integer(CostMonthGroups::Billed))
                    .col(big_integer(CostMonthGroups::Effective))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_cost_month_groups_period")
                            .from(CostMonthGroups::Table, CostMonthGroups::PeriodId)
                            .to(CostPeriods::Table, CostPeriods::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CostDayComponents::Table)
                    .col(big_pk_auto(CostDayComponents::Id))
                    .col(big_integer(CostDayComponents::PeriodId))
                    .col(date(CostDayComponents::Day))
                    .col(string(CostDayComponents::Currency))
                    .col(string(CostDayComponents::Allocation))
                    .col(string_null(CostDayComponents::ComponentRef))
                    .col(big_integer(CostDayComponents::Billed))
                    .col(big_integer(CostDayComponents::Effective))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_cost_day_components_period")
                            .from(CostDayComponents::Table, CostDayComponents::PeriodId)
                            .to(CostPeriods::Table, CostPeriods::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_cost_month_groups_period", CostMonthGroups::Table, [CostMonthGroups::PeriodId]).await?;
        index(
            manager,
            "ix_cost_month_groups_month",
            CostMonthGroups::Table,
            [CostMonthGroups::Dim, CostMonthGroups::Month],
        )
        .await?;
        index(manager, "ix_cost_day_components_period", CostDayComponents::Table, [CostDayComponents::PeriodId])
            .await?;
        index(manager, "ix_cost_day_components_day", CostDayComponents::Table, [CostDayComponents::Day]).await?;

        // Roll up what is there (the same statements the import runs for the periods it writes).
        let db = manager.get_connection();
        let month = match db.get_database_backend() {
            DbBackend::Postgres => "CAST(date_trunc('month', day) AS DATE)",
            _ => "date(day, 'start of month')",
        };
        db.execute_unprepared(&format!(
            "INSERT INTO cost_monthly (period_id, month, currency, tagset_id, service, billed, effective) \
             SELECT period_id, {month}, currency, tagset_id, service, SUM(billed), SUM(effective) FROM cost_daily \
             GROUP BY period_id, {month}, currency, tagset_id, service"
        ))
        .await?;
        db.execute_unprepared(
            "INSERT INTO cost_days (period_id, day, currency, billed, effective) \
             SELECT period_id, day, currency, SUM(billed), SUM(effective) FROM cost_daily \
             GROUP BY period_id, day, currency",
        )
        .await?;
        for (dim, k1, k2) in [
            ("component", "t.component_ref", Some("t.team_ref")),
            ("environment", "t.environment", None),
            ("service", "m.service", None),
        ] {
            let group_k2 = k2.map(|k| format!(", {k}")).unwrap_or_default();
            let k2 = k2.unwrap_or("NULL");
            db.execute_unprepared(&format!(
                "INSERT INTO cost_month_groups (period_id, month, currency, dim, allocation, k1, k2, billed, effective) \
                 SELECT m.period_id, m.month, m.currency, '{dim}', t.allocation, {k1}, {k2}, SUM(m.billed), \
                 SUM(m.effective) FROM cost_monthly m JOIN cost_tagsets t ON t.id = m.tagset_id \
                 GROUP BY m.period_id, m.month, m.currency, t.allocation, {k1}{group_k2}"
            ))
            .await?;
        }
        db.execute_unprepared(
            "INSERT INTO cost_day_components (period_id, day, currency, allocation, component_ref, billed, effective) \
             SELECT d.period_id, d.day, d.currency, t.allocation, t.component_ref, SUM(d.billed), SUM(d.effective) \
             FROM cost_daily d JOIN cost_tagsets t ON t.id = d.tagset_id \
             GROUP BY d.period_id, d.day, d.currency, t.allocation, t.component_ref",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(CostDayComponents::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(CostMonthGroups::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(CostDays::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(CostMonthly::Table).to_owned()).await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum CostMonthly {
    Table,
    Id,
    PeriodId,
    Month,
    Currency,
    TagsetId,
    Service,
    Billed,
    Effective,
}

#[derive(DeriveIden)]
enum CostDays {
    Table,
    Id,
    PeriodId,
    Day,
    Currency,
    Billed,
    Effective,
}

#[derive(DeriveIden)]
enum CostMonthGroups {
    Table,
    Id,
    PeriodId,
    Month,
    Currency,
    Dim,
    Allocation,
    K1,
    K2,
    Billed,
    Effective,
}

#[derive(DeriveIden)]
enum CostDayComponents {
    Table,
    Id,
    PeriodId,
    Day,
    Currency,
    Allocation,
    ComponentRef,
    Billed,
    Effective,
}

#[derive(DeriveIden)]
enum CostPeriods {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum CostTagsets {
    Table,
    Id,
}
