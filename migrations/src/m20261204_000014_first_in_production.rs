//! Each change remembers whether its deployment was the first successful production deployment of that commit
//! (across every production environment, over the component's whole history), so the DORA report reads only the
//! period's changes instead of months before it. The flags depend on which environments are production: the
//! environments table is emptied here so the next start-up sees a changed list and computes them. Each change also
//! keeps its deployment's time (`deployed_at`), so the report finds a period's first shipments by index without
//! joining the deployments.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(DeploymentChanges::Table)
                    .add_column(boolean(DeploymentChanges::FirstInProduction).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(DeploymentChanges::Table)
                    .add_column(timestamp_with_time_zone_null(DeploymentChanges::DeployedAt))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "ix_deployment_changes_component_first_at",
                vec![
                    DeploymentChanges::ComponentRef,
                    DeploymentChanges::FirstInProduction,
                    DeploymentChanges::DeployedAt,
                ],
            ),
            (
                "ix_deployment_changes_first_at",
                vec![DeploymentChanges::FirstInProduction, DeploymentChanges::DeployedAt],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(DeploymentChanges::Table);
            for c in cols {
                index.col(c);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager.exec_stmt(Query::delete().from_table(Environments::Table).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["ix_deployment_changes_component_first_at", "ix_deployment_changes_first_at"] {
            manager.drop_index(Index::drop().name(name).table(DeploymentChanges::Table).to_owned()).await?;
        }
        manager
            .alter_table(
                Table::alter().table(DeploymentChanges::Table).drop_column(DeploymentChanges::DeployedAt).to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(DeploymentChanges::Table)
                    .drop_column(DeploymentChanges::FirstInProduction)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum DeploymentChanges {
    Table,
    ComponentRef,
    FirstInProduction,
    DeployedAt,
}

#[derive(DeriveIden)]
enum Environments {
    Table,
}
