//! Environment health: the checks (declared in catalog annotations or added in the portal), raw probe results kept
//! for a short period, hourly and daily buckets kept long, every state change, maintenance windows, and the alerts
//! Alertmanager reported (kept as history once resolved).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HealthChecks::Table)
                    .col(big_pk_auto(HealthChecks::Id))
                    .col(string(HealthChecks::ComponentRef))
                    .col(string(HealthChecks::Environment))
                    .col(string(HealthChecks::Name))
                    .col(string(HealthChecks::Source))
                    .col(text(HealthChecks::Target))
                    .col(big_integer(HealthChecks::IntervalMs))
                    .col(string(HealthChecks::ExpectStatus))
                    .col(text_null(HealthChecks::ExpectBody))
                    .col(integer_null(HealthChecks::DegradedMs))
                    .col(double(HealthChecks::SloObjective))
                    .col(boolean(HealthChecks::Enabled))
                    .col(string(HealthChecks::State))
                    .col(timestamp_with_time_zone(HealthChecks::StateSince))
                    .col(integer(HealthChecks::FailStreak))
                    .col(integer(HealthChecks::OkStreak))
                    .col(timestamp_with_time_zone(HealthChecks::NextDueAt))
                    .col(timestamp_with_time_zone_null(HealthChecks::LeaseUntil))
                    .col(string_null(HealthChecks::LeaseOwner))
                    .col(timestamp_with_time_zone_null(HealthChecks::LastCheckedAt))
                    .col(integer_null(HealthChecks::LastLatencyMs))
                    .col(integer_null(HealthChecks::LastStatusCode))
                    .col(text_null(HealthChecks::LastError))
                    .col(timestamp_with_time_zone_null(HealthChecks::TlsExpiresAt))
                    .col(big_integer_null(HealthChecks::OpenIncidentId))
                    .col(string_null(HealthChecks::BurnAlert))
                    .col(timestamp_with_time_zone(HealthChecks::CreatedAt))
                    .col(timestamp_with_time_zone(HealthChecks::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            (
                "ux_health_checks_identity",
                vec![HealthChecks::ComponentRef, HealthChecks::Environment, HealthChecks::Source, HealthChecks::Name],
                true,
            ),
            ("ix_health_checks_due", vec![HealthChecks::NextDueAt], false),
        ] {
            let mut idx = Index::create().name(name).table(HealthChecks::Table).to_owned();
            for c in cols {
                idx.col(c);
            }
            if unique {
                idx.unique();
            }
            manager.create_index(idx).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(HealthResults::Table)
                    .col(big_pk_auto(HealthResults::Id))
                    .col(big_integer(HealthResults::CheckId))
                    // Unix milliseconds: a raw row is written every slot of every check, so it is kept small.
                    .col(big_integer(HealthResults::At))
                    .col(string(HealthResults::Outcome))
                    .col(string_null(HealthResults::Counted))
                    .col(integer_null(HealthResults::LatencyMs))
                    .col(integer_null(HealthResults::StatusCode))
                    .col(text_null(HealthResults::Error))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_health_results_check_at")
                    .table(HealthResults::Table)
                    .col(HealthResults::CheckId)
                    .col(HealthResults::At)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(HealthBuckets::Table)
                    .col(big_integer(HealthBuckets::CheckId))
                    .col(string_len(HealthBuckets::Period, 1))
                    .col(timestamp_with_time_zone(HealthBuckets::Start))
                    .col(integer(HealthBuckets::Up))
                    .col(integer(HealthBuckets::Degraded))
                    .col(integer(HealthBuckets::Down))
                    .col(integer(HealthBuckets::Maintenance))
                    .col(integer(HealthBuckets::Unknown))
                    .col(string(HealthBuckets::Latency))
                    .primary_key(
                        Index::create()
                            .col(HealthBuckets::CheckId)
                            .col(HealthBuckets::Period)
                            .col(HealthBuckets::Start),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(HealthStateChanges::Table)
                    .col(big_pk_auto(HealthStateChanges::Id))
                    .col(big_integer(HealthStateChanges::CheckId))
                    .col(timestamp_with_time_zone(HealthStateChanges::At))
                    .col(string(HealthStateChanges::FromState))
                    .col(string(HealthStateChanges::ToState))
                    .col(text_null(HealthStateChanges::Reason))
                    .col(timestamp_with_time_zone_null(HealthStateChanges::NotifiedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_health_state_changes_check_at")
                    .table(HealthStateChanges::Table)
                    .col(HealthStateChanges::CheckId)
                    .col(HealthStateChanges::At)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MaintenanceWindows::Table)
                    .col(big_pk_auto(MaintenanceWindows::Id))
                    .col(string(MaintenanceWindows::ComponentRef))
                    .col(string_null(MaintenanceWindows::Environment))
                    .col(timestamp_with_time_zone(MaintenanceWindows::StartsAt))
                    .col(timestamp_with_time_zone(MaintenanceWindows::EndsAt))
                    .col(text(MaintenanceWindows::Reason))
                    .col(string(MaintenanceWindows::CreatedBy))
                    .col(timestamp_with_time_zone(MaintenanceWindows::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(HealthAlerts::Table)
                    .col(big_pk_auto(HealthAlerts::Id))
                    .col(string(HealthAlerts::Fingerprint))
                    .col(timestamp_with_time_zone(HealthAlerts::StartsAt))
                    .col(timestamp_with_time_zone_null(HealthAlerts::EndsAt))
                    .col(string(HealthAlerts::Name))
                    .col(string(HealthAlerts::Status))
                    .col(string_null(HealthAlerts::Severity))
                    .col(string_null(HealthAlerts::ComponentRef))
                    .col(string_null(HealthAlerts::Environment))
                    .col(text(HealthAlerts::Labels))
                    .col(text(HealthAlerts::Annotations))
                    .col(big_integer_null(HealthAlerts::IncidentId))
                    .col(timestamp_with_time_zone(HealthAlerts::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_health_alerts_fingerprint_start")
                    .table(HealthAlerts::Table)
                    .col(HealthAlerts::Fingerprint)
                    .col(HealthAlerts::StartsAt)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_health_alerts_component")
                    .table(HealthAlerts::Table)
                    .col(HealthAlerts::ComponentRef)
                    .col(HealthAlerts::StartsAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(
                Index::create()
                    .name("ix_maintenance_windows_component")
                    .table(MaintenanceWindows::Table)
                    .col(MaintenanceWindows::ComponentRef)
                    .col(MaintenanceWindows::EndsAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            HealthAlerts::Table.into_iden(),
            MaintenanceWindows::Table.into_iden(),
            HealthStateChanges::Table.into_iden(),
            HealthBuckets::Table.into_iden(),
            HealthResults::Table.into_iden(),
            HealthChecks::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum HealthChecks {
    Table,
    Id,
    ComponentRef,
    Environment,
    Name,
    Source,
    Target,
    IntervalMs,
    ExpectStatus,
    ExpectBody,
    DegradedMs,
    SloObjective,
    Enabled,
    State,
    StateSince,
    FailStreak,
    OkStreak,
    NextDueAt,
    LeaseUntil,
    LeaseOwner,
    LastCheckedAt,
    LastLatencyMs,
    LastStatusCode,
    LastError,
    TlsExpiresAt,
    OpenIncidentId,
    BurnAlert,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum HealthResults {
    Table,
    Id,
    CheckId,
    At,
    Outcome,
    Counted,
    LatencyMs,
    StatusCode,
    Error,
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
    Maintenance,
    Unknown,
    Latency,
}

#[derive(DeriveIden)]
enum HealthStateChanges {
    Table,
    Id,
    CheckId,
    At,
    FromState,
    ToState,
    Reason,
    NotifiedAt,
}

#[derive(DeriveIden)]
enum MaintenanceWindows {
    Table,
    Id,
    ComponentRef,
    Environment,
    StartsAt,
    EndsAt,
    Reason,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum HealthAlerts {
    Table,
    Id,
    Fingerprint,
    StartsAt,
    EndsAt,
    Name,
    Status,
    Severity,
    ComponentRef,
    Environment,
    Labels,
    Annotations,
    IncidentId,
    UpdatedAt,
}
