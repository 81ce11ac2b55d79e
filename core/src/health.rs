//! Environment health: checks declared in catalog annotations (or added in the portal), a probe engine with a
//! fixed-rate schedule and a lease per check (one probe per interval whatever the number of replicas), storage
//! that stays small (raw results for days, hourly and daily buckets for long windows, every state change) and the
//! uptime and SLO figures computed from it. Incidents go to the shared incidents table.

pub mod alerting;
pub mod engine;
pub mod maths;
pub mod notify;
pub mod probe;
pub mod prometheus;
pub mod query;
pub mod spec;
pub mod state;
pub mod sync;

/// Where a check came from.
pub const SOURCE_ANNOTATION: &str = "annotation";
/// Added in the portal (UI or API).
pub const SOURCE_PORTAL: &str = "portal";

/// The `health_checks` table.
pub mod checks {
    use sea_orm::entity::prelude::*;

    /// One check of one entity in one environment.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "health_checks")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The entity (`component:default/x` or `resource:default/y`).
        pub component_ref: String,
        /// Environment.
        pub environment: String,
        /// Short name, unique per entity, environment and source.
        pub name: String,
        /// `annotation` or `portal`.
        pub source: String,
        /// URL or `tcp://host:port`.
        #[sea_orm(column_type = "Text")]
        pub target: String,
        /// Interval in milliseconds.
        pub interval_ms: i64,
        /// Accepted status codes (`200-399`).
        pub expect_status: String,
        /// Substring the body must hold.
        #[sea_orm(column_type = "Text", nullable)]
        pub expect_body: Option<String>,
        /// Latency above which an answer is degraded.
        pub degraded_ms: Option<i32>,
        /// Objective in percent.
        pub slo_objective: f64,
        /// Probed or paused.
        pub enabled: bool,
        /// `up`, `degraded`, `down`, `unknown`.
        pub state: String,
        /// Since when.
        pub state_since: DateTimeUtc,
        /// Failures in a row.
        pub fail_streak: i32,
        /// Successes in a row.
        pub ok_streak: i32,
        /// The next slot.
        pub next_due_at: DateTimeUtc,
        /// Claimed by a replica until then.
        pub lease_until: Option<DateTimeUtc>,
        /// The replica holding the lease.
        pub lease_owner: Option<String>,
        /// The last slot probed.
        pub last_checked_at: Option<DateTimeUtc>,
        /// Its latency.
        pub last_latency_ms: Option<i32>,
        /// Its HTTP status.
        pub last_status_code: Option<i32>,
        /// Why it failed.
        #[sea_orm(column_type = "Text", nullable)]
        pub last_error: Option<String>,
        /// When the TLS certificate expires.
        pub tls_expires_at: Option<DateTimeUtc>,
        /// The incident this check opened and has not closed.
        pub open_incident_id: Option<i64>,
        /// The burn-rate alert last notified (`None`: none firing).
        pub burn_alert: Option<String>,
        /// Added.
        pub created_at: DateTimeUtc,
        /// Last changed.
        pub updated_at: DateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `health_results` table: raw results, kept for a short period.
pub mod results {
    use sea_orm::entity::prelude::*;

    /// One probe.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "health_results")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The check.
        pub check_id: i64,
        /// When it ran (the slot for scheduled probes), Unix milliseconds.
        pub at: i64,
        /// The probe's own verdict.
        pub outcome: String,
        /// For a scheduled slot: the state it counts as (after any re-check); `None` for a re-check.
        pub counted: Option<String>,
        /// Latency.
        pub latency_ms: Option<i32>,
        /// HTTP status.
        pub status_code: Option<i32>,
        /// Why it failed.
        #[sea_orm(column_type = "Text", nullable)]
        pub error: Option<String>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `health_buckets` table: counts per hour (`h`) and per UTC day (`d`).
pub mod buckets {
    use sea_orm::entity::prelude::*;

    /// One bucket.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "health_buckets")]
    pub struct Model {
        /// The check.
        #[sea_orm(primary_key, auto_increment = false)]
        pub check_id: i64,
        /// `h` or `d`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub period: String,
        /// Start of the hour or day.
        #[sea_orm(primary_key, auto_increment = false)]
        pub start: DateTimeUtc,
        /// Up slots.
        pub up: i32,
        /// Degraded slots.
        pub degraded: i32,
        /// Down slots.
        pub down: i32,
        /// Maintenance slots.
        pub maintenance: i32,
        /// Unknown slots.
        pub unknown: i32,
        /// Latency histogram ([`super::maths::Histogram`]).
        pub latency: String,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `health_state_changes` table: every change, kept.
pub mod state_changes {
    use sea_orm::entity::prelude::*;

    /// One change.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "health_state_changes")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The check.
        pub check_id: i64,
        /// When.
        pub at: DateTimeUtc,
        /// Before.
        pub from_state: String,
        /// After.
        pub to_state: String,
        /// Why (the failing probe's error).
        #[sea_orm(column_type = "Text", nullable)]
        pub reason: Option<String>,
        /// When notifications went out (`None`: not yet; a replica claims the row by setting it).
        pub notified_at: Option<DateTimeUtc>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `maintenance_windows` table.
pub mod maintenance {
    use sea_orm::entity::prelude::*;

    /// One window: probes go on, alerting pauses and the time is left out of uptime.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "maintenance_windows")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The entity.
        pub component_ref: String,
        /// One environment, or all when `None`.
        pub environment: Option<String>,
        /// Start.
        pub starts_at: DateTimeUtc,
        /// End.
        pub ends_at: DateTimeUtc,
        /// Why.
        #[sea_orm(column_type = "Text")]
        pub reason: String,
        /// Who planned it.
        pub created_by: String,
        /// When it was planned.
        pub created_at: DateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `health_alerts` table: alerts Alertmanager sent to the webhook receiver, kept once resolved.
pub mod alerts {
    use sea_orm::entity::prelude::*;

    /// One alert instance (a fingerprint from one start).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "health_alerts")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// Alertmanager's fingerprint of the label set.
        pub fingerprint: String,
        /// When it started firing.
        pub starts_at: DateTimeUtc,
        /// When it resolved.
        pub ends_at: Option<DateTimeUtc>,
        /// `alertname`.
        pub name: String,
        /// `firing` or `resolved`.
        pub status: String,
        /// `severity` label.
        pub severity: Option<String>,
        /// The entity it was matched to.
        pub component_ref: Option<String>,
        /// The environment it was matched to.
        pub environment: Option<String>,
        /// Labels, JSON.
        #[sea_orm(column_type = "Text")]
        pub labels: String,
        /// Annotations, JSON.
        #[sea_orm(column_type = "Text")]
        pub annotations: String,
        /// The incident it opened.
        pub incident_id: Option<i64>,
        /// Last report.
        pub updated_at: DateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Why a health request was refused.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// A field is wrong.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// Not found.
    #[error("{0}")]
    NotFound(String),
    /// The check is declared in a repository: edit it there.
    #[error("{0}")]
    Declared(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}
