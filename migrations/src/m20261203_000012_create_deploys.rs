//! Environments, deployments and incidents: the list of environments every capability shares (deploys, health and
//! cost), each deployment as reported (by the CD API or GitHub) with the commits it said it carried, the changes the
//! portal computed for it, and one incidents table that health checks, alerts and other tools all write to.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Environments::Table)
                    .col(string(Environments::Name).primary_key())
                    .col(integer(Environments::DisplayOrder))
                    .col(boolean(Environments::Production))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Deployments::Table)
                    .col(big_pk_auto(Deployments::Id))
                    .col(string(Deployments::ComponentRef))
                    .col(string(Deployments::Environment))
                    .col(string_null(Deployments::Version))
                    .col(string_null(Deployments::CommitSha))
                    .col(string(Deployments::Status))
                    .col(timestamp_with_time_zone_null(Deployments::StartedAt))
                    .col(timestamp_with_time_zone_null(Deployments::FinishedAt))
                    .col(timestamp_with_time_zone(Deployments::At))
                    .col(string_null(Deployments::Url))
                    .col(string_null(Deployments::Actor))
                    .col(string(Deployments::Source))
                    .col(string(Deployments::ExternalId))
                    .col(string_null(Deployments::RollbackOf))
                    .col(string_null(Deployments::Fixes))
                    .col(boolean(Deployments::FirstDeployment))
                    .col(boolean(Deployments::ChangesTruncated))
                    .col(integer(Deployments::ChangeCount))
                    .col(timestamp_with_time_zone(Deployments::CreatedAt))
                    .col(timestamp_with_time_zone(Deployments::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            ("ux_deployments_external_id", vec![Deployments::ExternalId], true),
            (
                "ix_deployments_component_env_at",
                vec![Deployments::ComponentRef, Deployments::Environment, Deployments::At],
                false,
            ),
            (
                "ix_deployments_env_status_at",
                vec![Deployments::Environment, Deployments::Status, Deployments::At],
                false,
            ),
            ("ix_deployments_at", vec![Deployments::At], false),
        ] {
            let mut index = Index::create();
            index.name(name).table(Deployments::Table);
            for c in cols {
                index.col(c);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }

        for (table, name) in
            [(DeploymentCommits::Table, "deployment_commits"), (DeploymentCommits::ChangesTable, "deployment_changes")]
        {
            manager
                .create_table(
                    Table::create()
                        .table(table.clone())
                        .col(big_pk_auto(DeploymentCommits::Id))
                        .col(big_integer(DeploymentCommits::DeploymentId))
                        .col(string(DeploymentCommits::ComponentRef))
                        .col(string(DeploymentCommits::Sha))
                        .col(timestamp_with_time_zone_null(DeploymentCommits::CommittedAt))
                        .col(integer_null(DeploymentCommits::PrNumber))
                        .col(timestamp_with_time_zone_null(DeploymentCommits::PrFirstCommitAt))
                        .foreign_key(
                            ForeignKey::create()
                                .name(format!("fk_{name}_deployment"))
                                .from(table.clone(), DeploymentCommits::DeploymentId)
                                .to(Deployments::Table, Deployments::Id)
                                .on_delete(ForeignKeyAction::Cascade),
                        )
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name(format!("ux_{name}_deployment_sha"))
                        .table(table.clone())
                        .col(DeploymentCommits::DeploymentId)
                        .col(DeploymentCommits::Sha)
                        .unique()
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name(format!("ix_{name}_component_sha"))
                        .table(table)
                        .col(DeploymentCommits::ComponentRef)
                        .col(DeploymentCommits::Sha)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Incidents::Table)
                    .col(big_pk_auto(Incidents::Id))
                    .col(string(Incidents::ComponentRef))
                    .col(string(Incidents::Environment))
                    .col(string(Incidents::Title))
                    .col(string(Incidents::Severity))
                    .col(timestamp_with_time_zone(Incidents::StartedAt))
                    .col(timestamp_with_time_zone_null(Incidents::ResolvedAt))
                    .col(string(Incidents::ExternalId))
                    .col(string_null(Incidents::Deployment))
                    .col(string(Incidents::Source))
                    .col(timestamp_with_time_zone(Incidents::CreatedAt))
                    .col(timestamp_with_time_zone(Incidents::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_incidents_external_id")
                    .table(Incidents::Table)
                    .col(Incidents::ExternalId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_incidents_component_env_started")
                    .table(Incidents::Table)
                    .col(Incidents::ComponentRef)
                    .col(Incidents::Environment)
                    .col(Incidents::StartedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Incidents::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(DeploymentCommits::ChangesTable).to_owned()).await?;
        manager.drop_table(Table::drop().table(DeploymentCommits::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Deployments::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Environments::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Environments {
    Table,
    Name,
    DisplayOrder,
    Production,
}

#[derive(DeriveIden)]
enum Deployments {
    Table,
    Id,
    ComponentRef,
    Environment,
    Version,
    CommitSha,
    Status,
    StartedAt,
    FinishedAt,
    At,
    Url,
    Actor,
    Source,
    ExternalId,
    RollbackOf,
    Fixes,
    FirstDeployment,
    ChangesTruncated,
    ChangeCount,
    CreatedAt,
    UpdatedAt,
}

/// `deployment_commits` (what a deployment said it carried) and `deployment_changes` (what the portal computed)
/// share their columns.
#[derive(DeriveIden, Clone)]
enum DeploymentCommits {
    Table,
    #[sea_orm(iden = "deployment_changes")]
    ChangesTable,
    Id,
    DeploymentId,
    ComponentRef,
    Sha,
    CommittedAt,
    PrNumber,
    PrFirstCommitAt,
}

#[derive(DeriveIden)]
enum Incidents {
    Table,
    Id,
    ComponentRef,
    Environment,
    Title,
    Severity,
    StartedAt,
    ResolvedAt,
    ExternalId,
    Deployment,
    Source,
    CreatedAt,
    UpdatedAt,
}
