//! Cost: imported billing periods, the distinct tag sets their lines carry (each allocated to a component, shared
//! or unallocated by the allocation rules, re-allocated when the rules change), and daily sums per billing
//! period, tag set, cloud service, charge category and currency in nano-units of the currency.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CostPeriods::Table)
                    .col(big_pk_auto(CostPeriods::Id))
                    .col(string(CostPeriods::Provider))
                    .col(string(CostPeriods::Account))
                    .col(date(CostPeriods::PeriodStart))
                    .col(string(CostPeriods::Format))
                    .col(text(CostPeriods::Files))
                    .col(big_integer(CostPeriods::Rows))
                    .col(text(CostPeriods::Totals))
                    .col(string(CostPeriods::ImportedBy))
                    .col(timestamp_with_time_zone(CostPeriods::ImportedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_cost_periods_key")
                    .table(CostPeriods::Table)
                    .col(CostPeriods::Provider)
                    .col(CostPeriods::Account)
                    .col(CostPeriods::PeriodStart)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CostTagsets::Table)
                    .col(big_pk_auto(CostTagsets::Id))
                    .col(string(CostTagsets::Hash))
                    .col(string(CostTagsets::Provider))
                    .col(string(CostTagsets::SubAccount))
                    .col(text(CostTagsets::Tags))
                    .col(string(CostTagsets::Allocation))
                    .col(string_null(CostTagsets::ComponentRef))
                    .col(string_null(CostTagsets::TeamRef))
                    .col(string_null(CostTagsets::Environment))
                    .col(string(CostTagsets::Reason))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_cost_tagsets_hash")
                    .table(CostTagsets::Table)
                    .col(CostTagsets::Hash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_cost_tagsets_component")
                    .table(CostTagsets::Table)
                    .col(CostTagsets::ComponentRef)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CostDaily::Table)
                    .col(big_pk_auto(CostDaily::Id))
                    .col(big_integer(CostDaily::PeriodId))
                    .col(date(CostDaily::Day))
                    .col(big_integer(CostDaily::TagsetId))
                    .col(string(CostDaily::Currency))
                    .col(string(CostDaily::Service))
                    .col(string(CostDaily::Category))
                    .col(big_integer(CostDaily::Billed))
                    .col(big_integer(CostDaily::Effective))
                    .col(big_integer(CostDaily::Lines))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_cost_daily_period")
                            .from(CostDaily::Table, CostDaily::PeriodId)
                            .to(CostPeriods::Table, CostPeriods::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_cost_daily_tagset")
                            .from(CostDaily::Table, CostDaily::TagsetId)
                            .to(CostTagsets::Table, CostTagsets::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // The organisation's reports read a date range: that index also carries the currency, the tag set and
        // both amounts, so most reports never read the rows themselves (by cloud service does). A component's or
        // team's reports read a few tag sets' days, few enough rows that a plain index does. Each column more in
        // an index costs the import time.
        let by_day =
            vec![CostDaily::Day, CostDaily::Currency, CostDaily::TagsetId, CostDaily::Effective, CostDaily::Billed];
        for (name, cols) in [
            ("ix_cost_daily_period", vec![CostDaily::PeriodId]),
            ("ix_cost_daily_day", by_day),
            ("ix_cost_daily_tagset_day", vec![CostDaily::TagsetId, CostDaily::Day]),
        ] {
            let mut index = Index::create();
            index.name(name).table(CostDaily::Table);
            for c in cols {
                index.col(c);
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(CostRules::Table)
                    .col(integer(CostRules::Id).primary_key())
                    .col(text(CostRules::Body))
                    .col(string(CostRules::UpdatedBy))
                    .col(timestamp_with_time_zone(CostRules::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(CostRules::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(CostDaily::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(CostTagsets::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(CostPeriods::Table).to_owned()).await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum CostPeriods {
    Table,
    Id,
    Provider,
    Account,
    PeriodStart,
    Format,
    Files,
    Rows,
    Totals,
    ImportedBy,
    ImportedAt,
}

#[derive(DeriveIden)]
enum CostTagsets {
    Table,
    Id,
    Hash,
    Provider,
    SubAccount,
    Tags,
    Allocation,
    ComponentRef,
    TeamRef,
    Environment,
    Reason,
}

#[derive(DeriveIden)]
enum CostDaily {
    Table,
    Id,
    PeriodId,
    Day,
    TagsetId,
    Currency,
    Service,
    Category,
    Billed,
    Effective,
    Lines,
}

#[derive(DeriveIden)]
enum CostRules {
    Table,
    Id,
    Body,
    UpdatedBy,
    UpdatedAt,
}
