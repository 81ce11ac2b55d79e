//! Onboarding guides: a guide is a docs page of kind `guide`; its `##` sections are its steps. Each person ticks
//! steps off (progress is kept by step, so editing a guide keeps the ticks of the steps that still exist), and may
//! pick guides besides those assigned to their teams.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(GuideProgress::Table)
                    .col(big_pk_auto(GuideProgress::Id))
                    .col(big_integer(GuideProgress::PageId))
                    .col(string(GuideProgress::StepKey))
                    .col(string(GuideProgress::Login))
                    .col(timestamp_with_time_zone(GuideProgress::DoneAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_guide_progress_page")
                            .from(GuideProgress::Table, GuideProgress::PageId)
                            .to(DocPages::Table, DocPages::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_guide_progress_step_login")
                    .table(GuideProgress::Table)
                    .col(GuideProgress::PageId)
                    .col(GuideProgress::StepKey)
                    .col(GuideProgress::Login)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(GuidePicks::Table)
                    .col(big_pk_auto(GuidePicks::Id))
                    .col(big_integer(GuidePicks::PageId))
                    .col(string(GuidePicks::Login))
                    .col(timestamp_with_time_zone(GuidePicks::PickedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_guide_picks_page")
                            .from(GuidePicks::Table, GuidePicks::PageId)
                            .to(DocPages::Table, DocPages::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_guide_picks_page_login")
                    .table(GuidePicks::Table)
                    .col(GuidePicks::PageId)
                    .col(GuidePicks::Login)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(GuidePicks::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(GuideProgress::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum GuideProgress {
    Table,
    Id,
    PageId,
    StepKey,
    Login,
    DoneAt,
}

#[derive(DeriveIden)]
enum GuidePicks {
    Table,
    Id,
    PageId,
    Login,
    PickedAt,
}

#[derive(DeriveIden)]
enum DocPages {
    Table,
    Id,
}
