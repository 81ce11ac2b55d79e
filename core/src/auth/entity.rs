//! sea-orm entities for people and their memberships. They never leave server-only code.

/// The `users` table.
pub mod users {
    use sea_orm::entity::prelude::*;

    /// A person who has signed in (or the local administrator).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// GitHub login (unique).
        #[sea_orm(unique)]
        pub login: String,
        /// Display name.
        pub name: String,
        /// Avatar URL.
        pub avatar_url: Option<String>,
        /// GitHub's numeric user id; stable across renames.
        #[sea_orm(unique)]
        pub github_id: Option<i64>,
        /// The zero-configuration administrator.
        pub is_local_admin: bool,
        /// Row creation.
        pub created_at: DateTimeUtc,
        /// Last change.
        pub updated_at: DateTimeUtc,
        /// Last successful login.
        pub last_login_at: Option<DateTimeUtc>,
    }

    /// Memberships.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        /// Team memberships.
        #[sea_orm(has_many = "super::team_members::Entity")]
        TeamMembers,
    }

    impl Related<super::team_members::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::TeamMembers.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `teams` table.
pub mod teams {
    use sea_orm::entity::prelude::*;

    /// A GitHub organisation team.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "teams")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// Organisation login.
        pub org: String,
        /// Team slug.
        pub slug: String,
        /// Team name.
        pub name: String,
        /// GitHub's numeric team id.
        pub github_id: Option<i64>,
        /// Row creation.
        pub created_at: DateTimeUtc,
        /// Last change.
        pub updated_at: DateTimeUtc,
    }

    /// Memberships.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        /// Team memberships.
        #[sea_orm(has_many = "super::team_members::Entity")]
        TeamMembers,
    }

    impl Related<super::team_members::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::TeamMembers.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `team_members` table.
pub mod team_members {
    use sea_orm::entity::prelude::*;

    /// A person's membership of a team.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "team_members")]
    pub struct Model {
        /// The team.
        #[sea_orm(primary_key, auto_increment = false)]
        pub team_id: i64,
        /// The person.
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: i64,
    }

    /// Both sides of the membership.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        /// The team.
        #[sea_orm(belongs_to = "super::teams::Entity", from = "Column::TeamId", to = "super::teams::Column::Id")]
        Team,
        /// The person.
        #[sea_orm(belongs_to = "super::users::Entity", from = "Column::UserId", to = "super::users::Column::Id")]
        User,
    }

    impl Related<super::teams::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Team.def()
        }
    }

    impl Related<super::users::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::User.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `org_members` table.
pub mod org_members {
    use sea_orm::entity::prelude::*;

    /// A person's membership of a GitHub organisation.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "org_members")]
    pub struct Model {
        /// The person.
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: i64,
        /// Organisation login.
        #[sea_orm(primary_key, auto_increment = false)]
        pub org: String,
    }

    /// No navigable relations needed yet.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `sessions` table (see [`super::session_store`]).
pub mod sessions {
    use sea_orm::entity::prelude::*;

    /// A stored HTTP session.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sessions")]
    pub struct Model {
        /// The session id (as in the cookie).
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// JSON-encoded session data.
        #[sea_orm(column_type = "Text")]
        pub data: String,
        /// Expiry, in Unix seconds.
        pub expires_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
