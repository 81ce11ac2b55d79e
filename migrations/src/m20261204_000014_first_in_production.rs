//! Each change remembers whether its deployment was the first successful production deployment of that commit
//! (across every production environment, over the component's whole history), so the DORA report reads only the
//! period's changes instead of months before it. The flags depend on which environments are production: the
//! environments table is emptied here so the next start-up sees a changed list and computes them.

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
        manager.exec_stmt(Query::delete().from_table(Environments::Table).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
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
    FirstInProduction,
}

#[derive(DeriveIden)]
enum Environments {
    Table,
}
