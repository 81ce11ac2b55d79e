//! What GitHub's `push` and merged `pull_request` deliveries say about a repository's history: each push (the ref
//! moved from one sha to another, with the commits it brought) and each merged pull request (its merge commit and,
//! when known, its first commit). Deployments reported without their commits learn them from here. A deployment
//! also remembers when the commits reported for it were cut short (a compare or a push chain past its limits).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(GitPushes::Table)
                    .col(big_pk_auto(GitPushes::Id))
                    .col(string(GitPushes::Repository))
                    .col(string(GitPushes::GitRef))
                    .col(string(GitPushes::BeforeSha))
                    .col(string(GitPushes::AfterSha))
                    .col(text(GitPushes::Commits))
                    .col(boolean(GitPushes::Truncated))
                    .col(timestamp_with_time_zone(GitPushes::ReceivedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_git_pushes_repository_after_before")
                    .table(GitPushes::Table)
                    .col(GitPushes::Repository)
                    .col(GitPushes::AfterSha)
                    .col(GitPushes::BeforeSha)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PullRequests::Table)
                    .col(big_pk_auto(PullRequests::Id))
                    .col(string(PullRequests::Repository))
                    .col(integer(PullRequests::Number))
                    .col(string_null(PullRequests::MergeCommitSha))
                    .col(timestamp_with_time_zone_null(PullRequests::FirstCommitAt))
                    .col(timestamp_with_time_zone_null(PullRequests::OpenedAt))
                    .col(timestamp_with_time_zone_null(PullRequests::MergedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_pull_requests_repository_number")
                    .table(PullRequests::Table)
                    .col(PullRequests::Repository)
                    .col(PullRequests::Number)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_pull_requests_repository_merge_sha")
                    .table(PullRequests::Table)
                    .col(PullRequests::Repository)
                    .col(PullRequests::MergeCommitSha)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Deployments::Table)
                    .add_column(boolean(Deployments::CommitsCutShort).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Deployments::Table).drop_column(Deployments::CommitsCutShort).to_owned())
            .await?;
        manager.drop_table(Table::drop().table(PullRequests::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(GitPushes::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum GitPushes {
    Table,
    Id,
    Repository,
    GitRef,
    BeforeSha,
    AfterSha,
    Commits,
    Truncated,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum PullRequests {
    Table,
    Id,
    Repository,
    Number,
    MergeCommitSha,
    FirstCommitAt,
    OpenedAt,
    MergedAt,
}

#[derive(DeriveIden)]
enum Deployments {
    Table,
    CommitsCutShort,
}
