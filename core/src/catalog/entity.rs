//! sea-orm entities for the catalog. They never leave server-only code.

/// The `locations` table.
pub mod locations {
    use sea_orm::entity::prelude::*;

    /// A place descriptors are read from: a file, a directory or a URL.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "locations")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// `file:/abs/path` or `url:https://…`.
        #[sea_orm(unique)]
        pub target: String,
        /// `pending`, `ok` or `failed`.
        pub status: String,
        /// What went wrong at the last refresh, one problem per line.
        #[sea_orm(column_type = "Text", nullable)]
        pub last_error: Option<String>,
        /// When it was last read.
        pub last_refresh_at: Option<DateTimeUtc>,
        /// Who registered it.
        pub created_by: String,
        /// When it was registered.
        pub created_at: DateTimeUtc,
    }

    /// No navigable relations needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `entities` table.
pub mod entities {
    use sea_orm::entity::prelude::*;

    /// One catalog entity, with the columns the catalog filters on pulled out of its body.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "entities")]
    pub struct Model {
        /// Stable id, kept across refreshes.
        #[sea_orm(primary_key, auto_increment = false)]
        pub uid: String,
        /// `kind:namespace/name`, lower case.
        #[sea_orm(unique)]
        pub entity_ref: String,
        /// Lower-case kind.
        pub kind: String,
        /// Namespace as written.
        pub namespace: String,
        /// Name as written.
        pub name: String,
        /// `metadata.title`.
        pub title: Option<String>,
        /// `metadata.description`.
        #[sea_orm(column_type = "Text", nullable)]
        pub description: Option<String>,
        /// `spec.type`.
        pub spec_type: Option<String>,
        /// `spec.lifecycle`.
        pub lifecycle: Option<String>,
        /// The owner as a full reference.
        pub owner_ref: Option<String>,
        /// The system as a full reference.
        pub system_ref: Option<String>,
        /// Tags as `,a,b,` so one LIKE finds a whole tag.
        #[sea_orm(column_type = "Text")]
        pub tags: String,
        /// Lower-case name, title and description, for partial-word search.
        #[sea_orm(column_type = "Text")]
        pub search_text: String,
        /// The entity as Backstage serves it (without relations), JSON.
        #[sea_orm(column_type = "Text")]
        pub body: String,
        /// The YAML document it was read from (or generated for portal-managed entities).
        #[sea_orm(column_type = "Text")]
        pub source_yaml: String,
        /// The file it was read from.
        pub source_path: Option<String>,
        /// The location that manages it (none for portal-managed entities).
        pub location_id: Option<i64>,
        /// `location` or `portal`.
        pub managed_by: String,
        /// Its source stopped declaring it.
        pub orphan: bool,
        /// Changes whenever the entity changes.
        pub etag: String,
        /// First seen.
        pub created_at: DateTimeUtc,
        /// Last changed.
        pub updated_at: DateTimeUtc,
    }

    /// No navigable relations needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `relations` table.
pub mod relations {
    use sea_orm::entity::prelude::*;

    /// One directed relation; every declared relation is stored in both directions.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "relations")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// Full reference of the source.
        pub source_ref: String,
        /// Backstage relation name (`ownedBy`, …).
        #[sea_orm(column_name = "type")]
        pub relation_type: String,
        /// Full reference of the target (which may not exist).
        pub target_ref: String,
        /// The entity whose spec declared it; its relations are replaced when it changes.
        pub origin_uid: String,
    }

    /// No navigable relations needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
