//! The history index covers the revision's id on PostgreSQL too. Listing a page's revisions reads id, number,
//! title, summary, author and time; migration 15's index holds all of them but the id, which SQLite keeps in every
//! index (it is the rowid) and PostgreSQL does not. So on PostgreSQL the index could not answer alone and the
//! history read each revision's row, Markdown and all: for a page with 1,000 revisions the planner chose to scan the
//! whole table (2 ms of the database's time per listing in `EXPLAIN ANALYZE` on the docs benchmark's data) instead
//! of an index-only scan (0.5 ms). The key stays page and number; the listed columns ride along (`INCLUDE`).
//! SQLite is unchanged.

const POSTGRES_UP: [&str; 2] = [
    "DROP INDEX IF EXISTS ix_doc_revisions_history",
    "CREATE INDEX ix_doc_revisions_history ON doc_revisions (page_id, number) \
     INCLUDE (id, title, summary, author, created_at)",
];

const POSTGRES_DOWN: [&str; 2] = [
    "DROP INDEX IF EXISTS ix_doc_revisions_history",
    "CREATE INDEX ix_doc_revisions_history ON doc_revisions (page_id, number, title, summary, author, created_at)",
];

pub(crate) const MIGRATION: crate::PerBackendSql =
    crate::PerBackendSql::postgres(file!(), &POSTGRES_UP, &POSTGRES_DOWN);
