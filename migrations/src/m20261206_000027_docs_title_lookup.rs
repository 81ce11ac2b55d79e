//! Wiki links by title on PostgreSQL. Every page view resolves its `[[Page title]]` links with one statement that
//! finds pages by `lower(title) IN (…)`, meant for the btree index of migration 9. Since migration 26 there is also
//! a `pg_trgm` index on `lower(title)`, and `pg_trgm` answers `=` too: the planner took it (its estimate is the
//! lower one), and every title then matched the trigrams of nearly every page ("runbook 573" shares its trigrams with
//! all the other runbooks), so each view rechecked the whole table: 60 ms per view with 2,000 pages. The lookup now
//! compares under the "C" collation, which only this index has, so the trigram index cannot take it. Equality is
//! the same under either collation (both are deterministic). SQLite is unchanged: its title index is FTS5, which
//! plain comparisons never use.

const POSTGRES_UP: [&str; 2] = [
    "CREATE INDEX IF NOT EXISTS ix_doc_pages_lower_title_c ON doc_pages ((lower(title) COLLATE \"C\"))",
    "DROP INDEX IF EXISTS ix_doc_pages_lower_title",
];

const POSTGRES_DOWN: [&str; 2] = [
    "CREATE INDEX IF NOT EXISTS ix_doc_pages_lower_title ON doc_pages (lower(title))",
    "DROP INDEX IF EXISTS ix_doc_pages_lower_title_c",
];

pub(crate) const MIGRATION: crate::PerBackendSql =
    crate::PerBackendSql::postgres(file!(), &POSTGRES_UP, &POSTGRES_DOWN);
