//! A covering index for a page's history: listing revisions reads the index alone instead of each revision's row,
//! whose Markdown (before the listed columns) spills into overflow pages.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("ix_doc_revisions_history")
                    .table(DocRevisions::Table)
                    .col(DocRevisions::PageId)
                    .col(DocRevisions::Number)
                    .col(DocRevisions::Title)
                    .col(DocRevisions::Summary)
                    .col(DocRevisions::Author)
                    .col(DocRevisions::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("ix_doc_revisions_history").table(DocRevisions::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum DocRevisions {
    Table,
    PageId,
    Number,
    Title,
    Summary,
    Author,
    CreatedAt,
}
