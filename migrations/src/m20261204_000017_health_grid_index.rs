//! A covering index for the health grid: it adds up every check's buckets of one period from a time, and this index
//! holds every column that sum reads, so the table's rows (with their latency histograms) are never visited.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("ix_health_buckets_grid")
                    .table(HealthBuckets::Table)
                    .col(HealthBuckets::Period)
                    .col(HealthBuckets::Start)
                    .col(HealthBuckets::CheckId)
                    .col(HealthBuckets::Up)
                    .col(HealthBuckets::Degraded)
                    .col(HealthBuckets::Down)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("ix_health_buckets_grid").table(HealthBuckets::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum HealthBuckets {
    Table,
    CheckId,
    Period,
    Start,
    Up,
    Degraded,
    Down,
}
