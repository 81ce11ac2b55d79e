//! Docs: when a page (a runbook, above all) was last reviewed and how often it should be, so stale runbooks can be
//! flagged before the night they are needed.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(DocPages::Table)
                    .add_column(timestamp_with_time_zone_null(DocPages::ReviewedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(Table::alter().table(DocPages::Table).add_column(string_null(DocPages::ReviewedBy)).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter().table(DocPages::Table).add_column(integer(DocPages::ReviewDays).default(90)).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(DocPages::Table).drop_column(DocPages::ReviewDays).to_owned()).await?;
        manager.alter_table(Table::alter().table(DocPages::Table).drop_column(DocPages::ReviewedBy).to_owned()).await?;
        manager.alter_table(Table::alter().table(DocPages::Table).drop_column(DocPages::ReviewedAt).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum DocPages {
    Table,
    ReviewedAt,
    ReviewedBy,
    ReviewDays,
}
