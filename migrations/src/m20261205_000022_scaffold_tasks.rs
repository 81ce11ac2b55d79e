//! Scaffolder tasks: one row per run of a template (its frozen spec, the values with secrets left out, the state of
//! each step and the result) and the ordered events each run writes (log lines, step status changes, the end).
//! Events are append-only, so a page opened on any replica, or reloaded, replays the whole log.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ScaffoldTasks::Table)
                    .col(string(ScaffoldTasks::Id).primary_key())
                    .col(string(ScaffoldTasks::TemplateRef))
                    .col(text(ScaffoldTasks::Spec))
                    .col(text(ScaffoldTasks::Values))
                    .col(text(ScaffoldTasks::Steps))
                    .col(string(ScaffoldTasks::Status))
                    .col(text_null(ScaffoldTasks::Output))
                    .col(text_null(ScaffoldTasks::Error))
                    .col(boolean(ScaffoldTasks::CancelRequested).default(false))
                    .col(string(ScaffoldTasks::CreatedBy))
                    .col(timestamp_with_time_zone(ScaffoldTasks::CreatedAt))
                    .col(timestamp_with_time_zone_null(ScaffoldTasks::HeartbeatAt))
                    .col(timestamp_with_time_zone_null(ScaffoldTasks::FinishedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_scaffold_tasks_created")
                    .table(ScaffoldTasks::Table)
                    .col(ScaffoldTasks::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ScaffoldEvents::Table)
                    .col(big_pk_auto(ScaffoldEvents::Id))
                    .col(string(ScaffoldEvents::TaskId))
                    .col(string(ScaffoldEvents::Kind))
                    .col(string_null(ScaffoldEvents::StepId))
                    .col(string_null(ScaffoldEvents::Status))
                    .col(text(ScaffoldEvents::Message))
                    .col(timestamp_with_time_zone(ScaffoldEvents::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ScaffoldEvents::Table, ScaffoldEvents::TaskId)
                            .to(ScaffoldTasks::Table, ScaffoldTasks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_scaffold_events_task")
                    .table(ScaffoldEvents::Table)
                    .col(ScaffoldEvents::TaskId)
                    .col(ScaffoldEvents::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ScaffoldEvents::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(ScaffoldTasks::Table).to_owned()).await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ScaffoldTasks {
    Table,
    Id,
    TemplateRef,
    Spec,
    Values,
    Steps,
    Status,
    Output,
    Error,
    CancelRequested,
    CreatedBy,
    CreatedAt,
    HeartbeatAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum ScaffoldEvents {
    Table,
    Id,
    TaskId,
    Kind,
    StepId,
    Status,
    Message,
    CreatedAt,
}
