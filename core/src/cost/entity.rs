//! The cost tables (migration 19).

/// `cost_periods`: one billing period of one account of one provider, as last imported.
pub mod cost_periods {
    use sea_orm::entity::prelude::*;

    /// An imported billing period.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cost_periods")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// `AWS`, `Microsoft`, `Google Cloud`, ... as the file names it.
        pub provider: String,
        /// The billing (payer) account.
        pub account: String,
        /// First day of the billing period (UTC).
        pub period_start: Date,
        /// `focus`, `cur`, `cur2` or `opencost`.
        pub format: String,
        /// The files it was read from, JSON array of names.
        #[sea_orm(column_type = "Text")]
        pub files: String,
        /// Lines read.
        pub rows: i64,
        /// Billed and effective totals per currency, JSON.
        #[sea_orm(column_type = "Text")]
        pub totals: String,
        /// Who imported it.
        pub imported_by: String,
        /// When.
        pub imported_at: DateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cost_tagsets`: a distinct (provider, sub-account, tags) combination and where the allocation rules put it.
pub mod cost_tagsets {
    use sea_orm::entity::prelude::*;

    /// A tag set.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cost_tagsets")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// SHA-256 of provider, sub-account and the normalised tags.
        #[sea_orm(unique)]
        pub hash: String,
        /// Provider.
        pub provider: String,
        /// Usage (sub-)account.
        pub sub_account: String,
        /// Normalised tags (lower-case keys, trimmed values), a JSON object.
        #[sea_orm(column_type = "Text")]
        pub tags: String,
        /// `component`, `shared` or `unallocated`.
        pub allocation: String,
        /// The component, when allocated to one.
        pub component_ref: Option<String>,
        /// The team a tag or an account rule names (else the component's owner applies).
        pub team_ref: Option<String>,
        /// The environment a tag names.
        pub environment: Option<String>,
        /// Which rule decided, or why nothing did.
        pub reason: String,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cost_daily`: sums per billing period, day, tag set, cloud service, charge category and currency.
pub mod cost_daily {
    use sea_orm::entity::prelude::*;

    /// One daily sum.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cost_daily")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The billing period it belongs to (replaced with it).
        pub period_id: i64,
        /// The charge's day (UTC).
        pub day: Date,
        /// The tag set.
        pub tagset_id: i64,
        /// ISO currency code.
        pub currency: String,
        /// Cloud service (`Amazon Elastic Compute Cloud`, `AmazonS3`, ...).
        pub service: String,
        /// `usage`, `purchase`, `tax`, `credit`, `refund` or `adjustment`.
        pub category: String,
        /// Billed cost in nano-units.
        pub billed: i64,
        /// Effective (amortised) cost in nano-units.
        pub effective: i64,
        /// Lines summed.
        pub lines: i64,
    }

    /// Each sum belongs to a tag set.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        /// The tag set.
        #[sea_orm(
            belongs_to = "super::cost_tagsets::Entity",
            from = "Column::TagsetId",
            to = "super::cost_tagsets::Column::Id"
        )]
        Tagset,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cost_monthly`: sums per billing period, month, currency, tag set and cloud service, written with the period's
/// daily sums (migration 23), for reports over whole months.
pub mod cost_monthly {
    use sea_orm::entity::prelude::*;

    /// One monthly sum.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cost_monthly")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The billing period it belongs to (replaced with it).
        pub period_id: i64,
        /// The first day of the month the charges fell in (UTC).
        pub month: Date,
        /// ISO currency code.
        pub currency: String,
        /// The tag set.
        pub tagset_id: i64,
        /// Cloud service.
        pub service: String,
        /// Billed cost in nano-units.
        pub billed: i64,
        /// Effective (amortised) cost in nano-units.
        pub effective: i64,
    }

    /// Each sum belongs to a tag set.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        /// The tag set.
        #[sea_orm(
            belongs_to = "super::cost_tagsets::Entity",
            from = "Column::TagsetId",
            to = "super::cost_tagsets::Column::Id"
        )]
        Tagset,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cost_days`: each day's whole per billing period and currency (migration 23), for the organisation's chart.
pub mod cost_days {
    use sea_orm::entity::prelude::*;

    /// One day's whole.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cost_days")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The billing period it belongs to (replaced with it).
        pub period_id: i64,
        /// The day (UTC).
        pub day: Date,
        /// ISO currency code.
        pub currency: String,
        /// Billed cost in nano-units.
        pub billed: i64,
        /// Effective (amortised) cost in nano-units.
        pub effective: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cost_month_groups`: the organisation's month per allocation in one dimension (migration 23): `dim` is
/// `component` (`k1` the component, `k2` the team tag), `environment` (`k1`) or `service` (`k1`).
pub mod cost_month_groups {
    use sea_orm::entity::prelude::*;

    /// One group's month.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cost_month_groups")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The billing period it belongs to (replaced with it).
        pub period_id: i64,
        /// The first day of the month.
        pub month: Date,
        /// ISO currency code.
        pub currency: String,
        /// `component`, `environment` or `service`.
        pub dim: String,
        /// `component`, `shared` or `unallocated`.
        pub allocation: String,
        /// The group's first key.
        pub k1: Option<String>,
        /// The group's second key.
        pub k2: Option<String>,
        /// Billed cost in nano-units.
        pub billed: i64,
        /// Effective (amortised) cost in nano-units.
        pub effective: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cost_day_components`: each day per allocation and component (migration 23), for anomaly detection.
pub mod cost_day_components {
    use sea_orm::entity::prelude::*;

    /// One component's day.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cost_day_components")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The billing period it belongs to (replaced with it).
        pub period_id: i64,
        /// The day (UTC).
        pub day: Date,
        /// ISO currency code.
        pub currency: String,
        /// `component`, `shared` or `unallocated`.
        pub allocation: String,
        /// The component, when allocated.
        pub component_ref: Option<String>,
        /// Billed cost in nano-units.
        pub billed: i64,
        /// Effective (amortised) cost in nano-units.
        pub effective: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cost_rules`: the allocation rules (one row, id 1), JSON.
pub mod cost_rules {
    use sea_orm::entity::prelude::*;

    /// The rules as last saved.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cost_rules")]
    pub struct Model {
        /// Always 1.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        /// The rules, JSON.
        #[sea_orm(column_type = "Text")]
        pub body: String,
        /// Who saved them.
        pub updated_by: String,
        /// When.
        pub updated_at: DateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cost_budgets`: a monthly amount per team or component and currency.
pub mod cost_budgets {
    use sea_orm::entity::prelude::*;

    /// A budget.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cost_budgets")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// Team or component ref.
        pub scope: String,
        /// Currency.
        pub currency: String,
        /// Monthly amount in nano-units.
        pub amount: i64,
        /// Who set it.
        pub updated_by: String,
        /// When.
        pub updated_at: DateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cost_budget_alerts`: a notification sent (claimed) for a budget, a month and a threshold.
pub mod cost_budget_alerts {
    use sea_orm::entity::prelude::*;

    /// A sent notification.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cost_budget_alerts")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The budget.
        pub budget_id: i64,
        /// First day of the month.
        pub month: Date,
        /// 80 or 100.
        pub threshold: i32,
        /// When it was sent.
        pub sent_at: DateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cost_anomaly_triage`: a dismissal or a snooze of one anomaly (migration 21).
pub mod cost_anomaly_triage {
    use sea_orm::entity::prelude::*;

    /// What someone decided about an anomaly.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cost_anomaly_triage")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The component's entity ref, `shared` or `unallocated`.
        pub scope: String,
        /// ISO currency code.
        pub currency: String,
        /// The anomalous day (UTC).
        pub day: Date,
        /// `dismissed` or `snoozed`.
        pub status: String,
        /// For a snooze: the last day whose anomalies of the same scope it mutes.
        pub until: Option<Date>,
        /// Why.
        #[sea_orm(column_type = "Text")]
        pub reason: String,
        /// Who decided.
        pub decided_by: String,
        /// When.
        pub decided_at: DateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
