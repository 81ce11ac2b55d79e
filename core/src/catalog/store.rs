//! Storing and querying the catalog: applying what a location declared (added, updated, unchanged, orphaned) in
//! one transaction, and the queries behind the catalog table, the entity page and the JSON APIs.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use portolan_types::catalog::{
    EntityDetail, EntityPage, EntityQuery, EntitySummary, ImportReport, LinkView, LocationView, RelationView,
};

use super::entity::{entities, locations, relations};
use super::fields::{FIELD_CHARACTERS, FieldPath, placeholders};
use super::ingest::{ReadEntity, ReadOutcome};
use super::model::{Entity, EntityRef};
use super::relations::{RelationType, relations_of};
use super::visibility::Visibility;
use crate::config::Config;

/// How many rows one multi-row INSERT (or `IN` list) carries: well under SQLite's and PostgreSQL's parameter
/// limits.
const CHUNK: usize = 200;

/// Rows per multi-row INSERT of relations (5 parameters each; SQLite allows 32,766 per statement, PostgreSQL
/// 65,535). On PostgreSQL each statement costs a ~40 ms round-trip stall here (sqlx leaves Nagle's algorithm on
/// and the server delays its ACK), so an import is made of as few statements as the limits allow.
const RELATION_CHUNK: usize = 6_000;

/// Rows per multi-row INSERT of entities (23 parameters each), for the same reason.
const ENTITY_CHUNK: usize = 1_000;

/// After this many changed entities, the planner's statistics are refreshed: without them SQLite walks the
/// whole kind index for an owner filter instead of using the owner index.
const ANALYZE_AFTER: usize = 500;

/// Refreshes the planner's statistics of the catalog's tables. On SQLite only the per-index averages are kept
/// (`sqlite_stat1`): with per-value samples (`sqlite_stat4`) SQLite parses and plans a cached statement again
/// whenever one of its bound values changes, which took most of a search's time (migration 24).
async fn refresh_statistics(db: &DatabaseConnection) -> Result<(), DbErr> {
    match db.get_database_backend() {
        sea_orm::DbBackend::Sqlite => {
            db.execute_unprepared("ANALYZE entities").await?;
            db.execute_unprepared("ANALYZE relations").await?;
            let samples = db
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Sqlite,
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat4'",
                ))
                .await?;
            if samples.is_some() {
                db.execute_unprepared("DELETE FROM sqlite_stat4").await?;
            }
            // Loads what is left into this connection's planner; the others read it when they next load the schema.
            db.execute_unprepared("ANALYZE sqlite_schema").await.map(|_| ())
        }
        _ => {
            db.execute_unprepared("ANALYZE entities, relations").await?;
            // New rows wait in the trigram index's pending list until a vacuum merges them, and every search reads
            // that list from end to end: after an import of 10,000 entities a search took 2.2 ms in the index
            // instead of 0.2 ms until autovacuum came by. Merging it now takes a few tens of milliseconds. Only the
            // index's owner may; another role leaves it to autovacuum.
            let merged = db
                .execute_unprepared(
                    "SELECT gin_clean_pending_list(i) FROM (SELECT to_regclass('ix_entities_search_trgm') AS i) s \
                     WHERE i IS NOT NULL",
                )
                .await;
            if let Err(e) = merged {
                tracing::warn!(error = %e, "could not merge the catalog search index's pending entries");
            }
            Ok(())
        }
    }
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// New entities.
    pub added: usize,
    /// Entities whose content changed.
    pub updated: usize,
    /// Entities read again unchanged.
    pub unchanged: usize,
    /// Entities the location no longer declares, kept and marked orphaned.
    pub orphaned: usize,
    /// Entities the location no longer declares, deleted (`PORTOLAN_CATALOG_DELETE_ORPHANS`).
    pub removed: usize,
    /// Every problem, naming file, document and line or field.
    pub errors: Vec<String>,
    /// Each entity added, updated, orphaned or removed, for the audit log.
    pub changes: Vec<EntityChange>,
    /// Bytes of documents kept whole in `changes`.
    audited_bytes: usize,
}

/// An entity an import added, updated, orphaned or removed, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityChange {
    /// Its full reference.
    pub entity_ref: String,
    /// `added`, `updated`, `orphaned` or `removed`.
    pub change: &'static str,
    /// Its stored JSON before the import; kept for the first [`AUDITED_BODIES`] changes of an import.
    pub before: Option<String>,
    /// Its stored JSON after the import; kept for the first [`AUDITED_BODIES`] changes of an import.
    pub after: Option<String>,
}

/// How many of one import's changes the audit log keeps whole (before and after); the rest by reference only, so
/// that a first import of ten thousand entities writes kilobytes, not megabytes, to the log.
pub const AUDITED_BODIES: usize = 100;

/// How many bytes of documents one import's audit entry keeps at most (API definitions inlined with `$text` can
/// be large): a change that would pass it is recorded by reference only.
pub const AUDITED_BYTES: usize = 1 << 20;

impl ImportSummary {
    /// Notes a change; its before and after are kept while fewer than [`AUDITED_BODIES`] changes have been, and
    /// while they fit in [`AUDITED_BYTES`].
    fn note(
        &mut self,
        entity_ref: &str,
        change: &'static str,
        before: Option<&str>,
        after: impl FnOnce() -> Option<String>,
    ) {
        let (mut kept_before, mut kept_after) = (None, None);
        if self.changes.len() < AUDITED_BODIES {
            let after = after();
            let bytes = before.map_or(0, str::len) + after.as_ref().map_or(0, String::len);
            if self.audited_bytes + bytes <= AUDITED_BYTES {
                self.audited_bytes += bytes;
                (kept_before, kept_after) = (before.map(str::to_owned), after);
            }
        }
        let entity_ref = entity_ref.to_owned();
        self.changes.push(EntityChange { entity_ref, change, before: kept_before, after: kept_after });
    }

    /// The wire form, for the API and the UI.
    pub fn report(self, target: String) -> ImportReport {
        ImportReport {
            target,
            added: self.added,
            updated: self.updated,
            unchanged: self.unchanged,
            orphaned: self.orphaned,
            removed: self.removed,
            errors: self.errors,
        }
    }
}

/// Every location as the API and the locations page show them.
pub async fn location_views(db: &DatabaseConnection) -> Result<Vec<LocationView>, DbErr> {
    Ok(list_locations(db)
        .await?
        .into_iter()
        .map(|l| LocationView {
            id: l.id,
            target: l.target,
            status: l.status,
            last_error: l.last_error,
            last_refresh_at: l.last_refresh_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        })
        .collect())
}

/// Finds or registers a location by its normalized target.
pub async fn ensure_location<C: ConnectionTrait>(
    db: &C,
    target: &str,
    created_by: &str,
) -> Result<locations::Model, DbErr> {
    if let Some(l) = locations::Entity::find().filter(locations::Column::Target.eq(target)).one(db).await? {
        return Ok(l);
    }
    locations::ActiveModel {
        target: Set(target.to_owned()),
        status: Set("pending".to_owned()),
        last_error: Set(None),
        last_refresh_at: Set(None),
        created_by: Set(created_by.to_owned()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// The location registered for a target, if any.
pub async fn find_location<C: ConnectionTrait>(db: &C, target: &str) -> Result<Option<locations::Model>, DbErr> {
    locations::Entity::find().filter(locations::Column::Target.eq(target)).one(db).await
}

/// The reference of the first entity (components before other kinds) a location declares, if any.
pub async fn first_entity_of_location<C: ConnectionTrait>(db: &C, location_id: i64) -> Result<Option<String>, DbErr> {
    let rows = entities::Entity::find()
        .filter(entities::Column::LocationId.eq(location_id))
        .order_by_asc(entities::Column::CreatedAt)
        .all(db)
        .await?;
    let first = rows.iter().find(|r| r.kind == "component").or_else(|| rows.first());
    Ok(first.map(|r| r.entity_ref.clone()))
}

/// Every registered location, oldest first.
pub async fn list_locations(db: &DatabaseConnection) -> Result<Vec<locations::Model>, DbErr> {
    locations::Entity::find().order_by_asc(locations::Column::Id).all(db).await
}

fn new_uid() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

/// The serialized body of an entity as Backstage serves it, with our bookkeeping annotations.
fn body_of(read: &ReadEntity, origin: &str) -> Value {
    let mut raw = read.entity.raw.clone();
    if let Some(metadata) = raw.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.entry("namespace").or_insert_with(|| json!(read.entity.metadata.namespace));
        let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
        if let Some(a) = annotations.as_object_mut() {
            a.insert("backstage.io/managed-by-location".into(), json!(read.managed_by_location));
            a.insert("backstage.io/managed-by-origin-location".into(), json!(origin));
        }
    }
    raw
}

fn etag_of(body: &Value) -> String {
    hex::encode(&Sha256::digest(body.to_string().as_bytes())[..10])
}

fn ref_column(entity: &Entity, key: &str, default_kind: &str) -> Option<String> {
    let text = entity.spec_str(key)?;
    EntityRef::parse(text, Some(default_kind), &entity.metadata.namespace).ok().map(|r| r.to_string())
}

fn search_text(entity: &Entity) -> String {
    let m = &entity.metadata;
    format!("{} {} {}", m.name, m.title.as_deref().unwrap_or(""), m.description.as_deref().unwrap_or("")).to_lowercase()
}

fn tags_column(tags: &[String]) -> String {
    if tags.is_empty() { String::new() } else { format!(",{},", tags.join(",")) }
}

struct Row {
    model: entities::ActiveModel,
    relations: Vec<relations::ActiveModel>,
}

fn row_for(read: &ReadEntity, uid: &str, location_id: Option<i64>, managed_by: &str, body: Value, etag: String) -> Row {
    let e = &read.entity;
    let now = Utc::now();
    let entity_ref = e.entity_ref().to_string();
    let relations = relations_of(e)
        .into_iter()
        .map(|r| relations::ActiveModel {
            source_ref: Set(r.source.to_string()),
            relation_type: Set(r.kind.as_str().to_owned()),
            target_ref: Set(r.target.to_string()),
            origin_uid: Set(uid.to_owned()),
            ..Default::default()
        })
        .collect();
    let model = entities::ActiveModel {
        uid: Set(uid.to_owned()),
        entity_ref: Set(entity_ref),
        kind: Set(e.kind.lower().to_owned()),
        namespace: Set(e.metadata.namespace.clone()),
        name: Set(e.metadata.name.clone()),
        title: Set(e.metadata.title.clone()),
        description: Set(e.metadata.description.clone()),
        spec_type: Set(e.spec_str("type").map(str::to_owned)),
        lifecycle: Set(e.spec_str("lifecycle").map(str::to_owned)),
        owner_ref: Set(ref_column(e, "owner", "group")),
        system_ref: Set(ref_column(e, "system", "system")),
        tags: Set(tags_column(&e.metadata.tags)),
        search_text: Set(search_text(e)),
        body: Set(body.to_string()),
        source_yaml: Set(read.yaml.clone()),
        source_path: Set(Some(read.source_path.clone())),
        location_id: Set(location_id),
        managed_by: Set(managed_by.to_owned()),
        orphan: Set(false),
        etag: Set(etag),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Row { model, relations }
}

/// Applies what reading `location` produced: inserts new entities, updates changed ones (keeping their uid),
/// leaves unchanged ones alone and marks the ones it no longer declares as orphaned. A file that failed to parse
/// orphans nothing it used to declare, and a location that could not be read at all changes no entity. One
/// transaction: a failure leaves the catalog exactly as it was. With `delete_orphans` (an opt-in setting) they are
/// deleted instead.
pub async fn apply(
    db: &DatabaseConnection,
    location: &locations::Model,
    outcome: ReadOutcome,
    delete_orphans: bool,
) -> Result<ImportSummary, DbErr> {
    let mut summary = ImportSummary { errors: outcome.errors.clone(), ..Default::default() };
    let started = std::time::Instant::now();
    let txn = crate::db::begin_write(db).await?;
    let existing: HashMap<String, entities::Model> = entities::Entity::find()
        .filter(entities::Column::LocationId.eq(location.id))
        .all(&txn)
        .await?
        .into_iter()
        .map(|e| (e.entity_ref.clone(), e))
        .collect();

    // Entities this location declares but another location (or the portal) already manages are conflicts.
    let incoming_refs: Vec<String> = outcome.entities.iter().map(|r| r.entity.entity_ref().to_string()).collect();
    let mut taken: HashMap<String, String> = HashMap::new();
    for chunk in incoming_refs.iter().filter(|r| !existing.contains_key(*r)).collect::<Vec<_>>().chunks(CHUNK) {
        let rows = entities::Entity::find()
            .filter(entities::Column::EntityRef.is_in(chunk.iter().map(|s| s.as_str())))
            .all(&txn)
            .await?;
        for row in rows {
            let owner = match row.location_id {
                Some(id) => format!("location {id}"),
                None => "the portal".to_owned(),
            };
            taken.insert(row.entity_ref, owner);
        }
    }

    tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "import: conflicts checked");
    let mut seen = HashSet::new();
    let mut inserts = Vec::new();
    let mut insert_relations = Vec::new();
    let mut replaced_relation_origins = Vec::new();
    for read in &outcome.entities {
        let entity_ref = read.entity.entity_ref().to_string();
        if !seen.insert(entity_ref.clone()) {
            summary
                .errors
                .push(format!("{}: {entity_ref} is declared more than once in this location", read.source_path));
            continue;
        }
        if let Some(owner) = taken.get(&entity_ref) {
            summary.errors.push(format!("{}: {entity_ref} is already managed by {owner}", read.source_path));
            continue;
        }
        let body = body_of(read, &location.target);
        let etag = etag_of(&body);
        match existing.get(&entity_ref) {
            Some(old) if old.etag == etag && !old.orphan => summary.unchanged += 1,
            Some(old) => {
                summary.note(&entity_ref, "updated", Some(&old.body), || Some(body.to_string()));
                let Row { mut model, relations } = row_for(read, &old.uid, Some(location.id), "location", body, etag);
                model.created_at = sea_orm::ActiveValue::NotSet;
                model.update(&txn).await?;
                replaced_relation_origins.push(old.uid.clone());
                insert_relations.extend(relations);
                summary.updated += 1;
            }
            None => {
                summary.note(&entity_ref, "added", None, || Some(body.to_string()));
                let uid = new_uid();
                let Row { model, relations } = row_for(read, &uid, Some(location.id), "location", body, etag);
                inserts.push(model);
                insert_relations.extend(relations);
                summary.added += 1;
            }
        }
    }
    for chunk in replaced_relation_origins.chunks(CHUNK) {
        relations::Entity::delete_many()
            .filter(relations::Column::OriginUid.is_in(chunk.iter().map(String::as_str)))
            .exec(&txn)
            .await?;
    }
    let mut inserts = inserts.into_iter().peekable();
    while inserts.peek().is_some() {
        let chunk: Vec<_> = inserts.by_ref().take(ENTITY_CHUNK).collect();
        entities::Entity::insert_many(chunk).exec_without_returning(&txn).await?;
    }
    tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "import: entities written");
    let mut insert_relations = insert_relations.into_iter().peekable();
    while insert_relations.peek().is_some() {
        let chunk: Vec<_> = insert_relations.by_ref().take(RELATION_CHUNK).collect();
        relations::Entity::insert_many(chunk).exec_without_returning(&txn).await?;
    }

    tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "import: relations written");
    if !outcome.fatal {
        let mut gone_rows: Vec<&entities::Model> = existing
            .values()
            .filter(|e| !e.orphan && !seen.contains(&e.entity_ref))
            .filter(|e| {
                e.source_path.as_ref().is_none_or(|p| {
                    !outcome.failed_sources.contains(p) && !outcome.failed_prefixes.iter().any(|f| p.starts_with(f))
                })
            })
            .collect();
        gone_rows.sort_by(|a, b| a.entity_ref.cmp(&b.entity_ref));
        let change = if delete_orphans { "removed" } else { "orphaned" };
        for row in &gone_rows {
            // An orphan keeps its document; only its flag changes.
            summary.note(&row.entity_ref, change, Some(&row.body), || (!delete_orphans).then(|| row.body.clone()));
        }
        let gone: Vec<&str> = gone_rows.iter().map(|e| e.uid.as_str()).collect();
        if delete_orphans {
            summary.removed = gone.len();
        } else {
            summary.orphaned = gone.len();
        }
        for chunk in gone.chunks(CHUNK) {
            if delete_orphans {
                relations::Entity::delete_many()
                    .filter(relations::Column::OriginUid.is_in(chunk.iter().copied()))
                    .exec(&txn)
                    .await?;
                entities::Entity::delete_many()
                    .filter(entities::Column::Uid.is_in(chunk.iter().copied()))
                    .exec(&txn)
                    .await?;
                continue;
            }
            entities::Entity::update_many()
                .col_expr(entities::Column::Orphan, Expr::value(true))
                .col_expr(entities::Column::UpdatedAt, Expr::value(Utc::now()))
                .filter(entities::Column::Uid.is_in(chunk.iter().copied()))
                .exec(&txn)
                .await?;
        }
    }

    let mut loc: locations::ActiveModel = location.clone().into();
    loc.status = Set(if summary.errors.is_empty() { "ok" } else { "failed" }.to_owned());
    loc.last_error = Set((!summary.errors.is_empty()).then(|| summary.errors.join("\n")));
    loc.last_refresh_at = Set(Some(Utc::now()));
    loc.update(&txn).await?;
    let changed = summary.added + summary.updated + summary.orphaned + summary.removed;
    if changed > 0 {
        commit_catalog_change(txn).await?;
    } else {
        txn.commit().await?;
    }
    tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "import: committed");
    if changed >= ANALYZE_AFTER {
        refresh_statistics(db).await?;
    }
    Ok(summary)
}

fn summary_of(row: &entities::Model) -> EntitySummary {
    EntitySummary {
        entity_ref: row.entity_ref.clone(),
        kind: row.kind.clone(),
        namespace: row.namespace.clone(),
        name: row.name.clone(),
        title: row.title.clone(),
        description: row.description.clone(),
        spec_type: row.spec_type.clone(),
        lifecycle: row.lifecycle.clone(),
        owner_ref: row.owner_ref.clone(),
        system_ref: row.system_ref.clone(),
        tags: tag_list(&row.tags),
        orphan: row.orphan,
        managed_by: row.managed_by.clone(),
    }
}

fn tag_list(tags: &str) -> Vec<String> {
    tags.split(',').filter(|t| !t.is_empty()).map(str::to_owned).collect()
}

/// The columns of a table row ([`EntitySummary`]), without the entity's body, source and search text, which a
/// list has no use for and which are most of a row's bytes.
#[derive(Debug, sea_orm::FromQueryResult)]
struct SummaryRow {
    entity_ref: String,
    kind: String,
    namespace: String,
    name: String,
    title: Option<String>,
    description: Option<String>,
    spec_type: Option<String>,
    lifecycle: Option<String>,
    owner_ref: Option<String>,
    system_ref: Option<String>,
    tags: String,
    orphan: bool,
    managed_by: String,
}

impl From<SummaryRow> for EntitySummary {
    fn from(r: SummaryRow) -> EntitySummary {
        EntitySummary {
            tags: tag_list(&r.tags),
            entity_ref: r.entity_ref,
            kind: r.kind,
            namespace: r.namespace,
            name: r.name,
            title: r.title,
            description: r.description,
            spec_type: r.spec_type,
            lifecycle: r.lifecycle,
            owner_ref: r.owner_ref,
            system_ref: r.system_ref,
            orphan: r.orphan,
            managed_by: r.managed_by,
        }
    }
}

/// Reads only the summary columns of the rows `select` finds.
async fn summaries(
    select: sea_orm::Select<entities::Entity>,
    db: &DatabaseConnection,
) -> Result<Vec<EntitySummary>, DbErr> {
    use entities::Column as C;
    let rows = select
        .select_only()
        .columns([
            C::EntityRef,
            C::Kind,
            C::Namespace,
            C::Name,
            C::Title,
            C::Description,
            C::SpecType,
            C::Lifecycle,
            C::OwnerRef,
            C::SystemRef,
            C::Tags,
            C::Orphan,
            C::ManagedBy,
        ])
        .into_model::<SummaryRow>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(EntitySummary::from).collect())
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A bare name (`team-a`) becomes `kind:default/team-a`; a full reference is normalized.
fn normalize_ref(text: &str, default_kind: &str) -> String {
    EntityRef::parse(text, Some(default_kind), "default").map(|r| r.to_string()).unwrap_or_else(|_| text.to_lowercase())
}

/// The catalog table: filters, partial-word search, sorting and cursor paging.
pub async fn list(db: &DatabaseConnection, q: &EntityQuery, vis: &Visibility) -> Result<EntityPage, DbErr> {
    list_counted(db, None, q, vis).await
}

/// [`list`], taking the number of matches from `cache` when it knows it (and keeping it there when not).
pub async fn list_counted(
    db: &DatabaseConnection,
    cache: Option<&super::cache::EntityCache>,
    q: &EntityQuery,
    vis: &Visibility,
) -> Result<EntityPage, DbErr> {
    // The whole page, when this query was answered for this viewer since the catalog last changed.
    let kept = cache.map(|cache| (cache, format!("{q:?}|{vis:?}")));
    if let Some((cache, key)) = &kept
        && let Some(page) = cache.page(key)
    {
        return Ok(page);
    }
    let ticket = kept.as_ref().map(|(cache, _)| cache.ticket());
    let count = MatchCount::look_up(cache, || {
        format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{vis:?}",
            q.kind, q.spec_type, q.owner, q.lifecycle, q.namespace, q.tag, q.system, q.q
        )
    });
    let mut select = entities::Entity::find();
    if let Some(cond) = vis.condition() {
        select = select.filter(cond);
    }
    if let Some(kind) = non_empty(&q.kind) {
        select = select.filter(entities::Column::Kind.eq(kind.to_lowercase()));
    }
    if let Some(t) = non_empty(&q.spec_type) {
        select = select.filter(entities::Column::SpecType.eq(t));
    }
    if let Some(owner) = non_empty(&q.owner) {
        select = select.filter(entities::Column::OwnerRef.eq(normalize_ref(owner, "group")));
    }
    if let Some(l) = non_empty(&q.lifecycle) {
        select = select.filter(entities::Column::Lifecycle.eq(l));
    }
    if let Some(ns) = non_empty(&q.namespace) {
        select = select.filter(entities::Column::Namespace.eq(ns));
    }
    if let Some(tag) = non_empty(&q.tag) {
        select = select.filter(entities::Column::Tags.contains(format!(",{},", tag.to_lowercase())));
    }
    if let Some(system) = non_empty(&q.system) {
        select = select.filter(entities::Column::SystemRef.eq(normalize_ref(system, "system")));
    }
    if let Some(words) = non_empty(&q.q) {
        let found = match cache {
            Some(cache) => matches_in_memory(db, cache, words).await?,
            None => None,
        };
        select = match found {
            Some(uids) => select.filter(entities::Column::Uid.is_in(uids)),
            None => text_search(select, db.get_database_backend(), words),
        };
    }
    let filtered = select.clone();
    let sort = q.sort.as_deref().unwrap_or("name");
    let (desc, key) = sort.strip_prefix('-').map_or((false, sort), |k| (true, k));
    let column = match key {
        "kind" => entities::Column::Kind,
        "owner" => entities::Column::OwnerRef,
        "updated" => entities::Column::UpdatedAt,
        _ => entities::Column::Name,
    };
    select = if desc { select.order_by_desc(column) } else { select.order_by_asc(column) };
    select = select.order_by_asc(entities::Column::EntityRef);
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let offset = q.cursor.as_deref().and_then(decode_cursor).unwrap_or(0);
    let items = summaries(select.offset(offset).limit(limit), db).await?;
    let total = count.total(db, filtered, offset, limit, items.len() as u64).await?;
    let next = offset + items.len() as u64;
    let page = EntityPage { items, total, next_cursor: (next < total).then(|| encode_cursor(next)) };
    if let (Some((cache, key)), Some(ticket)) = (kept, ticket) {
        cache.put_page(ticket, key, &page);
    }
    Ok(page)
}

/// How many entities a list's filters match, for [`list_counted`] and [`by_query`]: the cache's count when it has
/// one, else what a page that is not full tells, else a count; what was not known is kept in the cache.
struct MatchCount<'a> {
    known: Option<u64>,
    /// Where to keep a new count: the ticket is taken before the page is read, so a change the page may have
    /// missed stops the count from being kept.
    keep: Option<(&'a super::cache::EntityCache, super::cache::Ticket, String)>,
}

impl<'a> MatchCount<'a> {
    /// Looks the count up before the page is read. `key` names the filters and the viewer's visibility.
    fn look_up(cache: Option<&'a super::cache::EntityCache>, key: impl FnOnce() -> String) -> MatchCount<'a> {
        let Some(cache) = cache else { return MatchCount { known: None, keep: None } };
        let key = key();
        match cache.count(&key) {
            Some(n) => MatchCount { known: Some(n), keep: None },
            None => MatchCount { known: None, keep: Some((cache, cache.ticket(), key)) },
        }
    }

    /// The total, once the page from `offset` (at most `limit`) showed `shown` entities of `filtered`.
    async fn total(
        self,
        db: &DatabaseConnection,
        filtered: sea_orm::Select<entities::Entity>,
        offset: u64,
        limit: u64,
        shown: u64,
    ) -> Result<u64, DbErr> {
        if let Some(n) = self.known {
            return Ok(n);
        }
        // A page that is not full, and not past the end, tells the total itself: no count needed (a search naming
        // a few entities costs one query, not two).
        let n = if shown < limit && (offset == 0 || shown > 0) { offset + shown } else { filtered.count(db).await? };
        if let Some((cache, ticket, key)) = self.keep {
            cache.put_count(ticket, key, n);
        }
        Ok(n)
    }
}

/// Entities matched in memory at most; a search matching more goes to the database's index.
const MATCHED_IN_MEMORY: usize = 500;

/// The uids of the entities whose search text holds every word (up to eight), from the cache's copy of every
/// entity's search text (read on the first search after the catalog changed); `None` when the cache cannot vouch
/// for it or more than [`MATCHED_IN_MEMORY`] match, and the database's index has to answer.
async fn matches_in_memory(
    db: &DatabaseConnection,
    cache: &super::cache::EntityCache,
    words: &str,
) -> Result<Option<Vec<String>>, DbErr> {
    use sea_orm::QuerySelect;
    let words = search_words(words);
    let read = || async {
        use futures_util::TryStreamExt;
        // Row by row into the compact texts: collecting first would hold two strings per entity beside them.
        let mut rows = entities::Entity::find()
            .select_only()
            .columns([entities::Column::Uid, entities::Column::SearchText])
            .into_tuple::<(String, String)>()
            .stream(db)
            .await?;
        let mut texts = super::cache::SearchTexts::default();
        while let Some((uid, text)) = rows.try_next().await? {
            texts.push(&uid, &text);
        }
        texts.shrink_to_fit();
        Ok::<_, DbErr>(texts)
    };
    let Some(texts) = cache.search_texts_or_read(read).await? else { return Ok(None) };
    Ok(texts.matching(&words, MATCHED_IN_MEMORY).map(|uids| uids.into_iter().map(str::to_owned).collect()))
}

/// The words a search matches: the first eight, lower-cased (as the stored search text is).
fn search_words(words: &str) -> Vec<String> {
    words.split_whitespace().take(8).map(str::to_lowercase).collect()
}

/// Partial-word search: every word (up to eight) must occur in the name, title or description. Words of three
/// characters or more go through the trigram index (FTS5 on SQLite; on PostgreSQL the `pg_trgm` index serves the
/// `LIKE` itself); shorter ones are matched by `LIKE`.
fn text_search(
    mut select: sea_orm::Select<entities::Entity>,
    backend: sea_orm::DbBackend,
    words: &str,
) -> sea_orm::Select<entities::Entity> {
    let mut phrases = Vec::new();
    for word in search_words(words) {
        match crate::search::trigram_phrase(&word).filter(|_| backend == sea_orm::DbBackend::Sqlite) {
            Some(phrase) => phrases.push(phrase),
            None => select = select.filter(entities::Column::SearchText.contains(word)),
        }
    }
    if !phrases.is_empty() {
        select = select.filter(Expr::cust_with_values(
            "\"entities\".\"rowid\" IN (SELECT rowid FROM entities_fts WHERE entities_fts MATCH ?)",
            [phrases.join(" AND ")],
        ));
    }
    select
}

fn encode_cursor(offset: u64) -> String {
    format!("o{offset:x}")
}

/// The offset a list cursor carries; `None` for anything else, or past what a database can skip.
fn decode_cursor(cursor: &str) -> Option<u64> {
    u64::from_str_radix(cursor.strip_prefix('o')?, 16).ok().filter(|o| *o <= MAX_OFFSET)
}

/// The largest offset a query takes: SQL's `OFFSET` is a signed 64-bit number.
const MAX_OFFSET: u64 = i64::MAX as u64;

/// One entity's row, by full reference.
pub async fn find(db: &DatabaseConnection, entity_ref: &EntityRef) -> Result<Option<entities::Model>, DbErr> {
    entities::Entity::find().filter(entities::Column::EntityRef.eq(entity_ref.to_string())).one(db).await
}

/// The relations whose source is this entity, de-duplicated and sorted.
pub async fn relations_from<C: ConnectionTrait>(db: &C, entity_ref: &str) -> Result<Vec<(String, String)>, DbErr> {
    let rows = relations::Entity::find().filter(relations::Column::SourceRef.eq(entity_ref)).all(db).await?;
    let mut pairs: Vec<(String, String)> = rows.into_iter().map(|r| (r.relation_type, r.target_ref)).collect();
    pairs.sort();
    pairs.dedup();
    Ok(pairs)
}

/// The entity page's highlighted definition and source document: the definition's language follows the API's
/// `spec.type` (OpenAPI and AsyncAPI in YAML or JSON, GraphQL, gRPC's protobuf, tRPC's TypeScript).
pub fn highlighted(detail: &EntityDetail) -> portolan_types::catalog::Highlighted {
    use crate::docs::highlight::highlight;
    let definition = detail.definition.as_deref().and_then(|d| {
        let json = d.trim_start().starts_with('{');
        let language = match detail.summary.spec_type.as_deref().unwrap_or_default() {
            "openapi" | "asyncapi" if json => "json",
            "openapi" | "asyncapi" => "yaml",
            "graphql" => "graphql",
            "grpc" => "proto",
            "trpc" => "ts",
            _ if json => "json",
            _ => return None,
        };
        highlight(language, d)
    });
    portolan_types::catalog::Highlighted { definition, source_yaml: highlight("yaml", &detail.source_yaml) }
}

/// Backstage's JSON for an entity: its body with `metadata.uid`, `metadata.etag` and `relations`.
pub async fn backstage_json(db: &DatabaseConnection, row: &entities::Model) -> Result<Value, DbErr> {
    Ok(backstage_value(row, relations_from(db, &row.entity_ref).await?))
}

/// [`backstage_json`] for a row whose relations (type, target) are read already.
fn backstage_value(row: &entities::Model, relations: Vec<(String, String)>) -> Value {
    let mut body: Value = serde_json::from_str(&row.body).unwrap_or_else(|_| json!({}));
    if let Some(m) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert("uid".into(), json!(row.uid));
        m.insert("etag".into(), json!(backstage_etag(row, &relations)));
        // As Backstage marks an entity its location no longer declares, so that its orphan filter finds it.
        if row.orphan {
            let annotations = m.entry("annotations").or_insert_with(|| json!({}));
            if let Some(a) = annotations.as_object_mut() {
                a.insert("backstage.io/orphan".into(), json!("true"));
            }
        }
    }
    let relations: Vec<Value> =
        relations.into_iter().map(|(t, target)| json!({"type": t, "targetRef": target})).collect();
    if let Some(o) = body.as_object_mut() {
        o.insert("relations".into(), Value::Array(relations));
    }
    body
}

/// Backstage's `metadata.etag`: like Backstage's, it changes whenever the entity served changes, its relations
/// (which other entities' documents give it) and orphan mark included. Portolan's own etag, of the document alone
/// (what an edit in the portal checks), seeds it. `relations` come sorted.
fn backstage_etag(row: &entities::Model, relations: &[(String, String)]) -> String {
    let mut hash = Sha256::new();
    hash.update(row.etag.as_bytes());
    hash.update([u8::from(row.orphan)]);
    for (relation_type, target) in relations {
        hash.update(relation_type.as_bytes());
        hash.update([0]);
        hash.update(target.as_bytes());
        hash.update([0]);
    }
    hex::encode(&hash.finalize()[..10])
}

/// Backstage's JSON text for each entity named (full references the caller may see), in order: from the by-name
/// cache where it has the answer, the rest read in two queries (rows, then all their relations) and kept there.
/// Entities that no longer exist are left out.
pub async fn backstage_texts(
    db: &DatabaseConnection,
    cache: Option<&super::cache::EntityCache>,
    refs: &[String],
) -> Result<Vec<String>, DbErr> {
    Ok(backstage_text_each(db, cache, refs).await?.into_iter().flatten().collect())
}

/// [`backstage_texts`], one answer for each reference in place: `None` for an entity that no longer exists.
pub async fn backstage_text_each(
    db: &DatabaseConnection,
    cache: Option<&super::cache::EntityCache>,
    refs: &[String],
) -> Result<Vec<Option<String>>, DbErr> {
    let mut texts: Vec<Option<String>> =
        refs.iter().map(|r| cache.and_then(|c| c.get(r)).and_then(|hit| hit.json())).collect();
    let missing: Vec<&str> = refs.iter().zip(&texts).filter(|(_, t)| t.is_none()).map(|(r, _)| r.as_str()).collect();
    if !missing.is_empty() {
        let ticket = cache.map(super::cache::EntityCache::ticket);
        let mut rows = Vec::with_capacity(missing.len());
        for chunk in missing.chunks(CHUNK) {
            let found = entities::Entity::find().filter(entities::Column::EntityRef.is_in(chunk.iter().copied()));
            rows.extend(found.all(db).await?);
        }
        let mut pairs: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for chunk in missing.chunks(CHUNK) {
            let found = relations::Entity::find()
                .filter(relations::Column::SourceRef.is_in(chunk.iter().copied()))
                .all(db)
                .await?;
            for r in found {
                pairs.entry(r.source_ref).or_default().push((r.relation_type, r.target_ref));
            }
        }
        let mut read: HashMap<String, String> = HashMap::with_capacity(rows.len());
        for row in rows {
            let mut relations = pairs.remove(&row.entity_ref).unwrap_or_default();
            relations.sort();
            relations.dedup();
            let text = backstage_value(&row, relations).to_string();
            if let (Some(cache), Some(ticket)) = (cache, ticket) {
                let cached = super::cache::Cached::new(&text, &row.namespace, row.owner_ref.as_deref());
                cache.put(ticket, row.entity_ref.clone(), cached);
            }
            read.insert(row.entity_ref, text);
        }
        for (r, text) in refs.iter().zip(texts.iter_mut()) {
            if text.is_none() {
                // `get`, not `remove`: a reference may be asked for twice.
                *text = read.get(r).cloned();
            }
        }
    }
    Ok(texts)
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|o| o.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned()))).collect())
        .unwrap_or_default()
}

/// Where to edit a file-managed entity: `backstage.io/edit-url`, else the GitHub file it was read from, else the
/// catalog file (`PORTOLAN_GITHUB_CATALOG_PATH`) of the repository its `github.com/project-slug` names, on the
/// configured GitHub (`PORTOLAN_GITHUB_URL`, so GitHub Enterprise links go to the company's server).
fn edit_url(annotations: &BTreeMap<String, String>, config: &Config) -> Option<String> {
    if let Some(u) = annotations.get("backstage.io/edit-url").filter(|u| portolan_types::catalog::is_http_url(u)) {
        return Some(u.clone());
    }
    if let Some(source) = annotations.get("backstage.io/managed-by-location").and_then(|l| l.strip_prefix("url:"))
        && source.contains("/blob/")
        && portolan_types::catalog::is_http_url(source)
    {
        return Some(source.replacen("/blob/", "/edit/", 1));
    }
    annotations.get("github.com/project-slug").filter(|slug| valid_slug(slug)).map(|slug| {
        let web = config.github_url.as_str().trim_end_matches('/');
        format!("{web}/{slug}/blob/HEAD/{}", config.github_catalog_path.trim_start_matches('/'))
    })
}

/// `owner/repo`, each part GitHub's characters only: a slug is user text that becomes part of a link.
fn valid_slug(slug: &str) -> bool {
    let ok = |p: &str| {
        !p.is_empty() && p != "." && p != ".." && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    matches!(slug.split_once('/'), Some((owner, repo)) if ok(owner) && ok(repo))
}

/// The editor's fields for a portal-managed entity.
fn form_of(row: &entities::Model, body: &Value) -> portolan_types::catalog::EntityForm {
    let spec = body.get("spec");
    let text = |key: &str| spec.and_then(|s| s.get(key)).and_then(Value::as_str).unwrap_or_default().to_owned();
    let list = |key: &str| {
        spec.and_then(|s| s.get(key))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    };
    portolan_types::catalog::EntityForm {
        kind: row.kind.clone(),
        namespace: row.namespace.clone(),
        name: row.name.clone(),
        title: row.title.clone().unwrap_or_default(),
        description: row.description.clone().unwrap_or_default(),
        owner: row.owner_ref.clone().unwrap_or_default(),
        spec_type: text("type"),
        lifecycle: text("lifecycle"),
        system: text("system"),
        domain: text("domain"),
        parent: text("parent"),
        member_of: list("memberOf"),
        tags: row.tags.split(',').filter(|t| !t.is_empty()).collect::<Vec<_>>().join(", "),
        definition: text("definition"),
    }
}

/// Everything the entity page shows (`config` says where "edit in repository" links go).
pub async fn detail(
    db: &DatabaseConnection,
    entity_ref: &EntityRef,
    vis: &Visibility,
    config: &Config,
) -> Result<Option<EntityDetail>, DbErr> {
    let Some(row) = find(db, entity_ref).await?.filter(|r| vis.allows(r)) else { return Ok(None) };
    let hidden = vis.hidden_refs(db).await?;
    let body: Value = serde_json::from_str(&row.body).unwrap_or_else(|_| json!({}));
    let metadata = body.get("metadata");
    let annotations = string_map(metadata.and_then(|m| m.get("annotations")));
    let labels = string_map(metadata.and_then(|m| m.get("labels")));
    let links = metadata
        .and_then(|m| m.get("links"))
        .and_then(Value::as_array)
        .map(|links| {
            links
                .iter()
                .filter_map(|l| {
                    Some(LinkView {
                        url: l.get("url")?.as_str()?.to_owned(),
                        title: l.get("title").and_then(Value::as_str).map(str::to_owned),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let pairs = relations_from(db, &row.entity_ref).await?;
    let targets: Vec<&str> = pairs.iter().map(|(_, t)| t.as_str()).collect();
    let mut known: HashMap<String, String> = HashMap::new();
    for chunk in targets.chunks(CHUNK) {
        let found =
            entities::Entity::find().filter(entities::Column::EntityRef.is_in(chunk.iter().copied())).all(db).await?;
        for f in found.into_iter().filter(|f| !hidden.contains(&f.entity_ref)) {
            known.insert(f.entity_ref.clone(), f.title.clone().unwrap_or(f.name.clone()));
        }
    }
    let mut relations: Vec<RelationView> = pairs
        .into_iter()
        .map(|(t, target)| RelationView {
            target_title: known.get(&target).cloned(),
            target_exists: known.contains_key(&target),
            relation_type: t,
            target_ref: target,
        })
        .collect();
    relations.sort_by_key(|r| {
        (RelationType::parse(&r.relation_type).map(|t| t as u8).unwrap_or(u8::MAX), r.target_ref.clone())
    });
    let location = annotations.get("backstage.io/managed-by-location").cloned();
    let definition = (row.kind == "api")
        .then(|| body.get("spec").and_then(|s| s.get("definition")))
        .flatten()
        .map(|d| d.as_str().map(str::to_owned).unwrap_or_else(|| d.to_string()));
    Ok(Some(EntityDetail {
        summary: summary_of(&row),
        uid: row.uid.clone(),
        etag: row.etag.clone(),
        edit_url: if row.managed_by == "location" { edit_url(&annotations, config) } else { None },
        labels,
        annotations,
        links,
        relations,
        source_yaml: row.source_yaml.clone(),
        location,
        updated_at: row.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        form: (row.managed_by == "portal").then(|| form_of(&row, &body)),
        api_operations: match (&definition, row.spec_type.as_deref()) {
            (Some(d), Some("openapi")) => super::openapi::operations(d),
            _ => Vec::new(),
        },
        definition,
        highlighted: None,
    }))
}

/// Counts per kind, for the catalog's kind filter.
pub async fn kind_counts(db: &DatabaseConnection) -> Result<Vec<(String, i64)>, DbErr> {
    let rows: Vec<(String, i64)> = entities::Entity::find()
        .select_only()
        .column(entities::Column::Kind)
        .column_as(Expr::col(entities::Column::Uid).count(), "n")
        .group_by(entities::Column::Kind)
        .order_by_asc(entities::Column::Kind)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows)
}

/// A condition of a Backstage `filter` query parameter: `key=value`, or `key` alone for "has the field".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterCondition {
    /// The field (`kind`, `spec.owner`, …).
    pub key: String,
    /// The value it must equal (case-insensitively), or `None` for "present".
    pub value: Option<String>,
}

/// Parses Backstage's `filter` parameters: each one is a comma-separated list of conditions that must all hold;
/// an entity matches when any parameter matches.
pub fn parse_filters(params: &[String]) -> Vec<Vec<FilterCondition>> {
    params
        .iter()
        .map(|p| {
            p.split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(|c| match c.split_once('=') {
                    Some((k, v)) => FilterCondition { key: k.trim().to_owned(), value: Some(v.trim().to_owned()) },
                    None => FilterCondition { key: c.to_owned(), value: None },
                })
                .collect()
        })
        .filter(|all: &Vec<FilterCondition>| !all.is_empty())
        .collect()
}

/// The column behind a filterable field, and the default kind when its value is a reference.
fn filter_column(key: &str) -> Option<(entities::Column, Option<&'static str>)> {
    Some(match key.to_ascii_lowercase().as_str() {
        "kind" => (entities::Column::Kind, None),
        "metadata.name" => (entities::Column::Name, None),
        "metadata.namespace" => (entities::Column::Namespace, None),
        "metadata.uid" => (entities::Column::Uid, None),
        "metadata.title" => (entities::Column::Title, None),
        "spec.type" => (entities::Column::SpecType, None),
        "spec.lifecycle" => (entities::Column::Lifecycle, None),
        "spec.owner" | "relations.ownedby" => (entities::Column::OwnerRef, Some("group")),
        "spec.system" => (entities::Column::SystemRef, Some("system")),
        "metadata.tags" => (entities::Column::Tags, None),
        _ => return None,
    })
}

/// Fields `filter`, `orderField` and `entity-facets` understand.
pub const FILTER_FIELDS: &str = "kind, metadata.name, metadata.namespace, metadata.uid, metadata.title, spec.type, spec.lifecycle, spec.owner, relations.ownedBy, spec.system, metadata.tags";

/// Filter keys beyond [`FILTER_FIELDS`], for `filter` only.
const MORE_FILTER_FIELDS: &str = "relations.<type> (any relation), or any other field of the entity (metadata.annotations.<key>, spec.profile.email, metadata.links.url)";

/// A condition on an annotation or label that is not in the document: the catalog adds
/// `backstage.io/orphan: "true"` to an orphan's JSON as Backstage does, from the `orphan` column.
fn orphan_condition(key: &str, value: Option<&str>) -> Option<sea_orm::Condition> {
    if !key.eq_ignore_ascii_case("metadata.annotations.backstage.io/orphan") {
        return None;
    }
    let orphan = entities::Column::Orphan.eq(true);
    Some(match value {
        Some(v) if !v.eq_ignore_ascii_case("true") => sea_orm::Condition::all().add(orphan).add(Expr::val(1).eq(0)),
        _ => sea_orm::Condition::all().add(orphan),
    })
}

/// A condition on any relation (`relations.memberOf=group:default/ops`): the entity is the source of such a
/// relation, to that target (a full reference) or, without a value, to any.
fn relation_condition(
    backend: sea_orm::DbBackend,
    key: &str,
    value: Option<&str>,
) -> Option<Result<sea_orm::Condition, String>> {
    let name = key.to_ascii_lowercase().strip_prefix("relations.")?.to_owned();
    let Some(t) = RelationType::ALL.into_iter().find(|t| t.as_str().eq_ignore_ascii_case(&name)) else {
        return Some(Err(format!("no relation type `{name}`")));
    };
    let [first, second] = placeholders(backend);
    let select = format!("entity_ref IN (SELECT source_ref FROM relations WHERE \"type\" = {first}");
    let cond = match value {
        None => Expr::cust_with_values(format!("{select})"), [t.as_str()]),
        Some(v) => Expr::cust_with_values(
            format!("{select} AND target_ref = {second})"),
            [t.as_str().to_owned(), v.trim().to_lowercase()],
        ),
    };
    Some(Ok(sea_orm::Condition::all().add(cond)))
}

fn condition_for(backend: sea_orm::DbBackend, c: &FilterCondition) -> Result<sea_orm::Condition, String> {
    use sea_orm::sea_query::Func;
    let Some((column, ref_kind)) = filter_column(&c.key) else {
        if let Some(relation) = relation_condition(backend, &c.key, c.value.as_deref()) {
            return relation;
        }
        if let Some(orphan) = orphan_condition(&c.key, c.value.as_deref()) {
            return Ok(orphan);
        }
        // Any other field of the document, as in Backstage: a field no entity has matches nothing.
        let path = FieldPath::parse(&c.key).ok_or_else(|| {
            format!("cannot filter on `{}`: a field is a dot path of {FIELD_CHARACTERS}, e.g. {FILTER_FIELDS}, {MORE_FILTER_FIELDS}", c.key)
        })?;
        let expr = match &c.value {
            None => path.exists(backend),
            Some(v) => path.equals(backend, v.trim()),
        };
        return Ok(sea_orm::Condition::all().add(expr));
    };
    let Some(value) = &c.value else {
        return Ok(sea_orm::Condition::all().add(column.is_not_null()));
    };
    let value = value.to_lowercase();
    let cond = match (column, ref_kind) {
        (entities::Column::Tags, _) => column.contains(format!(",{value},")),
        (_, Some(kind)) => column.eq(normalize_ref(&value, kind)),
        _ => ExprTrait::eq(Expr::expr(Func::lower(Expr::col(column))), value),
    };
    Ok(sea_orm::Condition::all().add(cond))
}

/// The SQL condition for Backstage `filter` parameters (any parameter, all conditions within one); `None` when
/// there are none, an error naming an unknown field.
fn filters_condition(
    backend: sea_orm::DbBackend,
    filters: &[Vec<FilterCondition>],
) -> Result<Option<sea_orm::Condition>, String> {
    if filters.is_empty() {
        return Ok(None);
    }
    let mut any = sea_orm::Condition::any();
    for all_of in filters {
        let mut all = sea_orm::Condition::all();
        for c in all_of {
            all = all.add(condition_for(backend, c)?);
        }
        any = any.add(all);
    }
    Ok(Some(any))
}

/// What a Backstage `by-query` request asks for. Its cursors carry it whole, with the offset: Backstage's catalog
/// client sends only `cursor` and `limit` for every page after the first, as Backstage's own catalog expects.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BackstageQuery {
    /// `filter` parameters as given (any of them; within one, all conditions).
    #[serde(rename = "f", default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<String>,
    /// `fullTextFilterTerm`.
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub full_text: Option<String>,
    /// `fullTextFilterFields`: the fields the term is looked for in (any of them, part of the value, in any case).
    /// Without them, the term's words are looked for in name, title and description, as everywhere in Portolan.
    #[serde(rename = "x", default, skip_serializing_if = "Vec::is_empty")]
    pub full_text_fields: Vec<String>,
    /// `orderField` (`field,asc|desc`).
    #[serde(rename = "o", default, skip_serializing_if = "Option::is_none")]
    pub order_field: Option<String>,
    /// `order` of `GET /entities` (`asc:metadata.name`, any number, first first); used instead of `order_field`
    /// when given.
    #[serde(rename = "r", default, skip_serializing_if = "Vec::is_empty")]
    pub order: Vec<String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct QueryCursor {
    #[serde(flatten)]
    query: BackstageQuery,
    #[serde(rename = "n")]
    offset: u64,
}

impl BackstageQuery {
    /// The cursor of the page starting at `offset` (URL-safe base64 of a small JSON object).
    pub fn cursor(&self, offset: u64) -> String {
        use base64::Engine as _;
        let json = serde_json::to_vec(&QueryCursor { query: self.clone(), offset }).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    /// The query and offset a cursor of [`BackstageQuery::cursor`] carries; `None` for anything else.
    pub fn from_cursor(cursor: &str) -> Option<(BackstageQuery, u64)> {
        use base64::Engine as _;
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor.trim()).ok()?;
        let c: QueryCursor = serde_json::from_slice(&json).ok()?;
        Some((c.query, c.offset))
    }
}

/// Backstage's `fields` selection: only the given dot paths of an entity (`kind`, `metadata.name`,
/// `metadata.annotations`), in their places; paths it does not have are left out.
pub fn select_fields(entity: &Value, fields: &[String]) -> Value {
    let mut out = json!({});
    'fields: for field in fields {
        let parts: Vec<&str> = field.split('.').filter(|p| !p.is_empty()).collect();
        let Some(found) = parts.iter().try_fold(entity, |v, p| v.get(*p)) else { continue };
        let Some((last, parents)) = parts.split_last() else { continue };
        let mut at = &mut out;
        for p in parents {
            let Value::Object(o) = at else { continue 'fields };
            at = o.entry(*p).or_insert_with(|| json!({}));
        }
        if let Value::Object(o) = at {
            o.insert((*last).to_owned(), found.clone());
        }
    }
    out
}

/// A page of Backstage's `by-query` endpoint.
#[derive(Debug)]
pub struct QueryPage {
    /// The entities' full references, in order.
    pub refs: Vec<String>,
    /// Entities matching in all.
    pub total: u64,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
    /// Cursor of the previous page.
    pub prev_cursor: Option<String>,
}

/// What one ordering sorts by.
#[derive(Debug, Clone)]
enum OrderKey {
    /// A column the catalog keeps.
    Column(entities::Column),
    /// Any other field of the document, by its smallest value in lower case.
    Field(FieldPath),
}

/// The key and direction (ascending: `true`) of each ordering a query asks for: `order` (`asc:field`) when
/// given, else `orderField` (`field,asc|desc`), else by name.
fn orderings(query: &BackstageQuery) -> Result<Vec<(OrderKey, bool)>, String> {
    let pairs: Vec<(&str, &str)> = if query.order.is_empty() {
        let o = query.order_field.as_deref().unwrap_or("metadata.name,asc");
        vec![o.split_once(',').map_or((o, "asc"), |(f, d)| (f, d))]
    } else {
        let parsed: Option<Vec<(&str, &str)>> =
            query.order.iter().map(|o| o.split_once(':').map(|(d, f)| (f, d))).collect();
        parsed.ok_or_else(|| "order is `asc:<field>` or `desc:<field>`, e.g. asc:metadata.name".to_owned())?
    };
    pairs
        .into_iter()
        .map(|(field, direction)| {
            let field = field.trim();
            let key = match filter_column(field) {
                Some((column, _)) => OrderKey::Column(column),
                None => OrderKey::Field(FieldPath::parse(field).ok_or_else(|| {
                    format!("cannot order by `{field}`: a field is a dot path of {FIELD_CHARACTERS}")
                })?),
            };
            match direction.trim() {
                "asc" => Ok((key, true)),
                "desc" => Ok((key, false)),
                other => Err(format!("order direction must be asc or desc, not `{other}`")),
            }
        })
        .collect()
}

/// Sorts by each ordering in turn. Entities without the field come last either way, as in Backstage (the
/// databases disagree on where NULL goes otherwise); columns the model declares NOT NULL keep a plain `ORDER BY`,
/// which their indexes serve.
fn order_by<S: QueryOrder>(mut select: S, backend: sea_orm::DbBackend, orderings: Vec<(OrderKey, bool)>) -> S {
    use sea_orm::sea_query::{NullOrdering, Order};
    for (key, ascending) in orderings {
        let order = if ascending { Order::Asc } else { Order::Desc };
        select = match key {
            OrderKey::Column(c) if !c.def().is_null() => select.order_by(c, order),
            OrderKey::Column(c) => select.order_by_with_nulls(c, order, NullOrdering::Last),
            OrderKey::Field(path) => select.order_by_with_nulls(path.sort_key(backend), order, NullOrdering::Last),
        };
    }
    select
}

/// Backstage's `fullTextFilterTerm` over `fullTextFilterFields`: the term, in any case, within the value of any
/// of the fields.
fn full_text_condition(
    backend: sea_orm::DbBackend,
    fields: &[String],
    term: &str,
) -> Result<sea_orm::Condition, String> {
    use sea_orm::sea_query::{Func, LikeExpr};
    let escaped: String = term
        .to_lowercase()
        .chars()
        .flat_map(|c| {
            let escape = matches!(c, '%' | '_' | '\\');
            escape.then_some('\\').into_iter().chain(std::iter::once(c))
        })
        .collect();
    let mut any = sea_orm::Condition::any();
    for field in fields.iter().map(|f| f.trim()).filter(|f| !f.is_empty()) {
        let pattern = format!("%{escaped}%");
        let column = match filter_column(field) {
            Some((column, _)) => column,
            None if field.eq_ignore_ascii_case("metadata.description") => entities::Column::Description,
            None => {
                let path = FieldPath::parse(field)
                    .ok_or_else(|| format!("cannot search `{field}`: a field is a dot path of {FIELD_CHARACTERS}"))?;
                any = any.add(path.like(backend, &pattern, '\\'));
                continue;
            }
        };
        any = any.add(Expr::expr(Func::lower(Expr::col(column))).like(LikeExpr::new(pattern).escape('\\')));
    }
    Ok(any)
}

/// Backstage's `GET /entities/by-query`: `filter` (OR of ANDs), `fullTextFilterTerm` (over
/// `fullTextFilterFields`), `orderField` (`field,asc|desc`), from `offset`, `limit` entities (all of them when
/// `None`). The match count comes from the cache's counts when it has it, as for [`list_counted`].
pub async fn by_query(
    db: &DatabaseConnection,
    cache: Option<&super::cache::EntityCache>,
    query: &BackstageQuery,
    limit: Option<u64>,
    offset: u64,
    vis: &Visibility,
) -> Result<Result<QueryPage, String>, DbErr> {
    let mut select = entities::Entity::find();
    if let Some(cond) = vis.condition() {
        select = select.filter(cond);
    }
    match filters_condition(db.get_database_backend(), &parse_filters(&query.filters)) {
        Ok(Some(cond)) => select = select.filter(cond),
        Ok(None) => {}
        Err(message) => return Ok(Err(message)),
    }
    if let Some(term) = query.full_text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        if query.full_text_fields.iter().all(|f| f.trim().is_empty()) {
            select = text_search(select, db.get_database_backend(), term);
        } else {
            match full_text_condition(db.get_database_backend(), &query.full_text_fields, term) {
                Ok(cond) => select = select.filter(cond),
                Err(message) => return Ok(Err(message)),
            }
        }
    }
    let orderings = match orderings(query) {
        Ok(o) => o,
        Err(message) => return Ok(Err(message)),
    };
    let filtered = select.clone();
    select = order_by(select, db.get_database_backend(), orderings).order_by_asc(entities::Column::EntityRef);
    if offset > MAX_OFFSET {
        return Ok(Err(format!("offset must be at most {MAX_OFFSET}")));
    }
    let count = MatchCount::look_up(cache, || {
        format!("by-query|{:?}|{:?}|{:?}|{vis:?}", query.filters, query.full_text, query.full_text_fields)
    });
    let refs: Vec<String> = select
        .select_only()
        .column(entities::Column::EntityRef)
        .offset(offset)
        // SQLite takes an OFFSET only after a LIMIT: "all of them" is the largest limit there is.
        .limit(limit.map_or(MAX_OFFSET, |l| Ord::min(l, MAX_OFFSET)))
        .into_tuple()
        .all(db)
        .await?;
    let shown = refs.len() as u64;
    let page_size = limit.unwrap_or(u64::MAX);
    let total = count.total(db, filtered, offset, page_size, shown).await?;
    let next = offset.saturating_add(shown);
    Ok(Ok(QueryPage {
        total,
        next_cursor: (next < total && shown > 0).then(|| query.cursor(next)),
        prev_cursor: (offset > 0).then(|| query.cursor(offset.saturating_sub(page_size))),
        refs,
    }))
}

/// Backstage's `POST /entities/by-refs`: for each reference, in the order given, its full reference when the
/// entity exists, the viewer may see it and it matches `filters`; `None` otherwise (also for a reference that
/// does not parse, or names no kind).
pub async fn by_refs(
    db: &DatabaseConnection,
    refs: &[String],
    filters: &[Vec<FilterCondition>],
    vis: &Visibility,
) -> Result<Result<Vec<Option<String>>, String>, DbErr> {
    let wanted: Vec<Option<String>> =
        refs.iter().map(|r| EntityRef::parse(r, None, "default").ok().map(|r| r.to_string())).collect();
    let keys: Vec<&str> = wanted.iter().flatten().map(String::as_str).collect::<BTreeSet<_>>().into_iter().collect();
    let filter = match filters_condition(db.get_database_backend(), filters) {
        Ok(f) => f,
        Err(message) => return Ok(Err(message)),
    };
    let found = existing_refs(db, &keys, vis, filter).await?;
    Ok(Ok(wanted.into_iter().map(|w| w.filter(|r| found.contains(r))).collect()))
}

/// Where a facet's values come from.
#[derive(Debug, Clone)]
enum FacetSource {
    /// A column: `metadata.namespace` and `metadata.uid`, which every entity has even when its document does not
    /// spell them out.
    Column(entities::Column),
    /// The targets of one relation type (`relations.ownedBy`): full references.
    Relation(RelationType),
    /// A path into the stored document (`spec.owner`, `metadata.tags`, `metadata.links.url`,
    /// `metadata.annotations.backstage.io/techdocs-ref`): the values as written, each element of a list.
    Document(FieldPath),
}

/// The source of a facet; `None` for a name that cannot be a field.
fn facet_source(facet: &str) -> Option<FacetSource> {
    let lower = facet.trim().to_ascii_lowercase();
    match lower.as_str() {
        "metadata.namespace" => return Some(FacetSource::Column(entities::Column::Namespace)),
        "metadata.uid" => return Some(FacetSource::Column(entities::Column::Uid)),
        _ => {}
    }
    if let Some(name) = lower.strip_prefix("relations.") {
        return RelationType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name))
            .map(FacetSource::Relation);
    }
    FieldPath::parse(facet).map(FacetSource::Document)
}

/// The references among `targets` the viewer may not see: in a namespace hidden from them and not an entity they
/// own (a reference to no entity in a hidden namespace is hidden too).
async fn hidden_targets<'a>(
    db: &DatabaseConnection,
    targets: impl Iterator<Item = &'a str>,
    vis: &Visibility,
) -> Result<HashSet<String>, DbErr> {
    let in_hidden: BTreeSet<&str> = targets
        .filter(|t| {
            t.split_once(':').and_then(|(_, rest)| rest.split_once('/')).is_some_and(|(ns, _)| vis.hides_namespace(ns))
        })
        .collect();
    let in_hidden: Vec<&str> = in_hidden.into_iter().collect();
    let visible = existing_refs(db, &in_hidden, vis, None).await?;
    let hidden = in_hidden.into_iter().filter(|t| !visible.contains(*t)).map(str::to_owned).collect();
    Ok(hidden)
}

/// Which of these full references name entities that exist, that the viewer may see and that meet `condition`.
async fn existing_refs(
    db: &DatabaseConnection,
    refs: &[&str],
    vis: &Visibility,
    condition: Option<sea_orm::Condition>,
) -> Result<HashSet<String>, DbErr> {
    let mut found = HashSet::new();
    for chunk in refs.chunks(CHUNK) {
        let mut select = entities::Entity::find()
            .select_only()
            .column(entities::Column::EntityRef)
            .filter(entities::Column::EntityRef.is_in(chunk.iter().copied()));
        if let Some(cond) = vis.condition() {
            select = select.filter(cond);
        }
        if let Some(cond) = condition.clone() {
            select = select.filter(cond);
        }
        let rows: Vec<String> = select.into_tuple().all(db).await?;
        found.extend(rows);
    }
    Ok(found)
}

/// The most facets one request asks for.
pub const MAX_FACETS: usize = 20;

/// Backstage's `GET /entity-facets`: for each facet, the values and how many entities (matching the filters)
/// have each, most frequent first. As in Backstage, document fields give their values as written (`Component`,
/// `group:platform`), any field can be a facet, and a field no entity has gives no values.
pub async fn facets(
    db: &DatabaseConnection,
    facet_names: &[String],
    filters: &[Vec<FilterCondition>],
    vis: &Visibility,
) -> Result<Result<BTreeMap<String, Vec<(String, u64)>>, String>, DbErr> {
    let mut names: Vec<&String> = Vec::new();
    for facet in facet_names {
        if !names.contains(&facet) {
            names.push(facet);
        }
    }
    if names.len() > MAX_FACETS {
        return Ok(Err(format!("at most {MAX_FACETS} facets in one request")));
    }
    let backend = db.get_database_backend();
    let mut matching = entities::Entity::find();
    if let Some(cond) = vis.condition() {
        matching = matching.filter(cond);
    }
    match filters_condition(backend, filters) {
        Ok(Some(cond)) => matching = matching.filter(cond),
        Ok(None) => {}
        Err(message) => return Ok(Err(message)),
    }
    let mut out = BTreeMap::new();
    for facet in names {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        match facet_source(facet) {
            None => {}
            Some(FacetSource::Column(column)) => {
                let values: Vec<Option<String>> =
                    matching.clone().select_only().column(column).into_tuple().all(db).await?;
                for v in values.into_iter().flatten() {
                    *counts.entry(v).or_default() += 1;
                }
            }
            Some(FacetSource::Relation(t)) => {
                let sources = matching.clone().select_only().column(entities::Column::EntityRef).into_query();
                let pairs: Vec<(String, String)> = relations::Entity::find()
                    .select_only()
                    .column(relations::Column::SourceRef)
                    .column(relations::Column::TargetRef)
                    .filter(relations::Column::RelationType.eq(t.as_str()))
                    .filter(relations::Column::SourceRef.in_subquery(sources))
                    .into_tuple()
                    .all(db)
                    .await?;
                // The same relation may be declared from both ends: count each entity once per target.
                let distinct: BTreeSet<(String, String)> = pairs.into_iter().collect();
                let hidden = hidden_targets(db, distinct.iter().map(|(_, t)| t.as_str()), vis).await?;
                for (_, target) in distinct.into_iter().filter(|(_, t)| !hidden.contains(t)) {
                    *counts.entry(target).or_default() += 1;
                }
            }
            Some(FacetSource::Document(path)) => {
                // Each entity's distinct values, as one JSON list: a list's elements each count once.
                let values: Vec<Option<String>> =
                    matching.clone().select_only().expr_as(path.values(backend), "v").into_tuple().all(db).await?;
                for value in values.iter().flat_map(|v| FieldPath::read_values(v.as_deref())) {
                    *counts.entry(value).or_default() += 1;
                }
            }
        }
        let mut list: Vec<(String, u64)> = counts.into_iter().collect();
        list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        out.insert(facet.clone(), list);
    }
    Ok(Ok(out))
}

/// Components, APIs, resources and systems owned by any of these owners, by name.
pub async fn owned_by(
    db: &DatabaseConnection,
    owners: &[String],
    limit: u64,
    vis: &Visibility,
) -> Result<Vec<EntitySummary>, DbErr> {
    if owners.is_empty() {
        return Ok(Vec::new());
    }
    let mut select = entities::Entity::find();
    if let Some(cond) = vis.condition() {
        select = select.filter(cond);
    }
    let select = select
        .filter(entities::Column::OwnerRef.is_in(owners.iter().map(String::as_str)))
        .filter(entities::Column::Kind.is_in(["component", "api", "resource", "system"]))
        .order_by_asc(entities::Column::Name)
        .limit(limit);
    summaries(select, db).await
}

/// The owners a person stands for: their catalog user, the catalog groups that list them as a member, and the
/// catalog groups named like their GitHub teams.
pub async fn owners_for(db: &DatabaseConnection, login: &str, team_slugs: &[String]) -> Result<Vec<String>, DbErr> {
    let me = EntityRef::new("user", "default", login).to_string();
    let mut owners: Vec<String> = relations_from(db, &me)
        .await?
        .into_iter()
        .filter(|(t, _)| t == RelationType::MemberOf.as_str())
        .map(|(_, target)| target)
        .collect();
    owners.extend(team_slugs.iter().map(|slug| EntityRef::new("group", "default", slug).to_string()));
    owners.push(me);
    owners.sort();
    owners.dedup();
    Ok(owners)
}

/// The relation graph around an entity, `depth` hops out (1 to 3), following the `allowed` relation types (all
/// when empty).
pub async fn graph(
    db: &DatabaseConnection,
    center: &EntityRef,
    depth: usize,
    allowed: &[RelationType],
    vis: &Visibility,
) -> Result<portolan_types::catalog::GraphView, DbErr> {
    use super::graph::{MAX_NODES, build};
    let hidden = vis.hidden_refs(db).await?;
    let depth = depth.clamp(1, 3);
    let allowed: std::collections::BTreeSet<RelationType> =
        if allowed.is_empty() { RelationType::ALL.into_iter().collect() } else { allowed.iter().copied().collect() };
    let center = center.to_string();
    let mut neighbours: BTreeMap<String, Vec<(RelationType, String)>> = BTreeMap::new();
    let mut seen: HashSet<String> = HashSet::from([center.clone()]);
    let mut frontier = vec![center.clone()];
    for _ in 0..depth {
        if frontier.is_empty() || seen.len() >= MAX_NODES {
            break;
        }
        let mut next = Vec::new();
        for chunk in frontier.chunks(CHUNK) {
            let rows = relations::Entity::find()
                .filter(relations::Column::SourceRef.is_in(chunk.iter().map(String::as_str)))
                .all(db)
                .await?;
            for r in rows {
                let Some(t) = RelationType::parse(&r.relation_type) else { continue };
                if !(allowed.contains(&t) || allowed.contains(&t.inverse())) || hidden.contains(&r.target_ref) {
                    continue;
                }
                let list = neighbours.entry(r.source_ref.clone()).or_default();
                if !list.contains(&(t, r.target_ref.clone())) {
                    list.push((t, r.target_ref.clone()));
                }
                if seen.len() < MAX_NODES && seen.insert(r.target_ref.clone()) {
                    next.push(r.target_ref);
                }
            }
        }
        frontier = next;
    }
    for list in neighbours.values_mut() {
        list.sort();
    }
    let refs: Vec<&String> = seen.iter().collect();
    let mut titles: HashMap<String, String> = HashMap::new();
    for chunk in refs.chunks(CHUNK) {
        for e in entities::Entity::find()
            .filter(entities::Column::EntityRef.is_in(chunk.iter().map(|s| s.as_str())))
            .all(db)
            .await?
        {
            titles.insert(e.entity_ref.clone(), e.title.clone().unwrap_or(e.name.clone()));
        }
    }
    Ok(build(&center, depth, &allowed, &neighbours, &|r| titles.get(r).cloned()))
}

/// Why a portal edit was refused (the catalog is unchanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditRefusal {
    /// The descriptor is invalid or the entity exists already; the text says why.
    Invalid(String),
    /// Someone changed the entity since the form was opened.
    Conflict,
    /// No such entity.
    NotFound,
    /// It is managed by a location: edit it in its repository.
    ManagedElsewhere,
}

fn portal_read(entity: Entity) -> Result<(ReadEntity, Value), EditRefusal> {
    let yaml = serde_yaml_ng::to_string(&entity.raw).map_err(|e| EditRefusal::Invalid(e.to_string()))?;
    let mut body = entity.raw.clone();
    if let Some(m) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert("namespace".into(), json!(entity.metadata.namespace));
    }
    Ok((ReadEntity { entity, source_path: String::new(), yaml, managed_by_location: String::new() }, body))
}

/// Commits a transaction that changed entities or relations: raises `catalog_generation` as its last write (other
/// processes' read caches follow it), then tells this process's caches.
async fn commit_catalog_change(txn: crate::db::WriteTxn) -> Result<(), DbErr> {
    super::cache::bump_generation(&txn).await?;
    txn.commit().await?;
    super::cache::note_local_write();
    Ok(())
}

fn audit_detail(before: Option<&entities::Model>, after: Option<&Value>) -> Value {
    json!({
        "before": before.and_then(|b| serde_json::from_str::<Value>(&b.body).ok()),
        "after": after,
    })
}

/// Creates an entity managed in the portal. Relations are computed as for imported ones; the change is audited
/// with the new body.
pub async fn create_portal_entity(
    db: &DatabaseConnection,
    entity: Entity,
    actor: &str,
) -> Result<Result<String, EditRefusal>, DbErr> {
    let entity_ref = entity.entity_ref();
    let (read, body) = match portal_read(entity) {
        Ok(x) => x,
        Err(r) => return Ok(Err(r)),
    };
    let txn = crate::db::begin_write(db).await?;
    if entities::Entity::find()
        .filter(entities::Column::EntityRef.eq(entity_ref.to_string()))
        .one(&txn)
        .await?
        .is_some()
    {
        return Ok(Err(EditRefusal::Invalid(format!("{entity_ref} already exists"))));
    }
    let etag = etag_of(&body);
    let uid = new_uid();
    let Row { model, relations } = row_for(&read, &uid, None, "portal", body.clone(), etag);
    let mut model = model;
    model.source_path = Set(None);
    model.insert(&txn).await?;
    if !relations.is_empty() {
        relations::Entity::insert_many(relations).exec_without_returning(&txn).await?;
    }
    let target = entity_ref.to_string();
    crate::audit::record(
        &txn,
        crate::audit::Entry {
            actor,
            action: "catalog.entity.create",
            target: Some(&target),
            detail: Some(audit_detail(None, Some(&body))),
            ..Default::default()
        },
    )
    .await?;
    commit_catalog_change(txn).await?;
    Ok(Ok(target))
}

async fn portal_row<C: ConnectionTrait>(
    db: &C,
    entity_ref: &EntityRef,
    expected_etag: &str,
) -> Result<Result<entities::Model, EditRefusal>, DbErr> {
    let Some(row) =
        entities::Entity::find().filter(entities::Column::EntityRef.eq(entity_ref.to_string())).one(db).await?
    else {
        return Ok(Err(EditRefusal::NotFound));
    };
    if row.managed_by != "portal" {
        return Ok(Err(EditRefusal::ManagedElsewhere));
    }
    if row.etag != expected_etag {
        return Ok(Err(EditRefusal::Conflict));
    }
    Ok(Ok(row))
}

/// Replaces a portal-managed entity, if it still has the etag the editor started from. Its reference (kind,
/// namespace, name) cannot change.
pub async fn update_portal_entity(
    db: &DatabaseConnection,
    entity_ref: &EntityRef,
    expected_etag: &str,
    entity: Entity,
    actor: &str,
) -> Result<Result<String, EditRefusal>, DbErr> {
    if &entity.entity_ref() != entity_ref {
        return Ok(Err(EditRefusal::Invalid("the kind, namespace and name of an entity cannot change".into())));
    }
    let (read, body) = match portal_read(entity) {
        Ok(x) => x,
        Err(r) => return Ok(Err(r)),
    };
    let txn = crate::db::begin_write(db).await?;
    let old = match portal_row(&txn, entity_ref, expected_etag).await? {
        Ok(row) => row,
        Err(r) => return Ok(Err(r)),
    };
    let etag = etag_of(&body);
    let Row { mut model, relations } = row_for(&read, &old.uid, None, "portal", body.clone(), etag);
    model.source_path = Set(None);
    model.created_at = sea_orm::ActiveValue::NotSet;
    // The etag check and the write happen in one statement, so two editors can never both win.
    let res = entities::Entity::update_many()
        .set(model)
        .filter(entities::Column::Uid.eq(old.uid.as_str()))
        .filter(entities::Column::Etag.eq(expected_etag))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        return Ok(Err(EditRefusal::Conflict));
    }
    relations::Entity::delete_many().filter(relations::Column::OriginUid.eq(old.uid.as_str())).exec(&txn).await?;
    if !relations.is_empty() {
        relations::Entity::insert_many(relations).exec_without_returning(&txn).await?;
    }
    let target = entity_ref.to_string();
    crate::audit::record(
        &txn,
        crate::audit::Entry {
            actor,
            action: "catalog.entity.update",
            target: Some(&target),
            detail: Some(audit_detail(Some(&old), Some(&body))),
            ..Default::default()
        },
    )
    .await?;
    commit_catalog_change(txn).await?;
    Ok(Ok(target))
}

/// Deletes an entity and the relations it declared, and records `action` with the entity as it was. The relations
/// go first and by this code: on PostgreSQL no foreign key removes them with the entity (migration 30).
async fn delete_audited<C: ConnectionTrait>(
    txn: &C,
    row: &entities::Model,
    actor: &str,
    action: &str,
) -> Result<(), DbErr> {
    relations::Entity::delete_many().filter(relations::Column::OriginUid.eq(row.uid.as_str())).exec(txn).await?;
    entities::Entity::delete_by_id(row.uid.clone()).exec(txn).await?;
    let entry = crate::audit::Entry {
        actor,
        action,
        target: Some(&row.entity_ref),
        detail: Some(audit_detail(Some(row), None)),
        ..Default::default()
    };
    crate::audit::record(txn, entry).await
}

/// Deletes a portal-managed entity (and the relations it declared), if it still has the expected etag.
pub async fn delete_portal_entity(
    db: &DatabaseConnection,
    entity_ref: &EntityRef,
    expected_etag: &str,
    actor: &str,
) -> Result<Result<(), EditRefusal>, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let old = match portal_row(&txn, entity_ref, expected_etag).await? {
        Ok(row) => row,
        Err(r) => return Ok(Err(r)),
    };
    delete_audited(&txn, &old, actor, "catalog.entity.delete").await?;
    commit_catalog_change(txn).await?;
    Ok(Ok(()))
}

/// Removes an orphaned entity (one its location no longer declares) and the relations it declared.
pub async fn remove_orphan(
    db: &DatabaseConnection,
    entity_ref: &EntityRef,
    actor: &str,
) -> Result<Result<(), EditRefusal>, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let Some(row) =
        entities::Entity::find().filter(entities::Column::EntityRef.eq(entity_ref.to_string())).one(&txn).await?
    else {
        return Ok(Err(EditRefusal::NotFound));
    };
    if !row.orphan {
        return Ok(Err(EditRefusal::Invalid(format!("{entity_ref} is still declared by its location"))));
    }
    delete_audited(&txn, &row, actor, "catalog.entity.remove_orphan").await?;
    commit_catalog_change(txn).await?;
    Ok(Ok(()))
}

/// Groups and users, for owner pickers: (reference, display name).
pub async fn owner_options(db: &DatabaseConnection) -> Result<Vec<(String, String)>, DbErr> {
    let rows = entities::Entity::find()
        .filter(entities::Column::Kind.is_in(["group", "user"]))
        .order_by_asc(entities::Column::Kind)
        .order_by_asc(entities::Column::Name)
        .limit(2000)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|e| (e.entity_ref, e.title.unwrap_or(e.name))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facets_read_columns_relations_or_the_document_as_written() {
        assert!(matches!(facet_source("metadata.namespace"), Some(FacetSource::Column(entities::Column::Namespace))));
        assert!(matches!(facet_source("Relations.OwnedBy"), Some(FacetSource::Relation(RelationType::OwnedBy))));
        assert!(facet_source("relations.likes").is_none());
        let path = |facet: &str| match facet_source(facet) {
            Some(FacetSource::Document(path)) => Some(path.segments().to_vec()),
            _ => None,
        };
        assert_eq!(
            path("metadata.annotations.backstage.io/techdocs-ref").unwrap(),
            ["metadata", "annotations", "backstage.io/techdocs-ref"]
        );
        assert_eq!(path("spec.profile.email").unwrap(), ["spec", "profile", "email"]);
        assert_eq!(path("kind").unwrap(), ["kind"]);
        assert!(path("spec..owner").is_none() && path("spec.\"owner").is_none() && path("spec.{a,b}").is_none());
    }

    #[test]
    fn orderings_put_nulls_last_only_on_columns_that_can_be_null() {
        // The plain `ORDER BY` on NOT NULL columns is what lets the (kind, name) and name indexes serve by-query's
        // default order; the nullable ones need NULLS LAST to agree across databases.
        for c in [entities::Column::Kind, entities::Column::Name, entities::Column::Namespace, entities::Column::Uid] {
            assert!(!c.def().is_null(), "{c:?}");
        }
        for c in [entities::Column::Title, entities::Column::Lifecycle, entities::Column::OwnerRef] {
            assert!(c.def().is_null(), "{c:?}");
        }
    }

    #[test]
    fn an_import_audits_every_change_and_keeps_only_the_first_ones_whole() {
        let mut summary = ImportSummary::default();
        for i in 0..AUDITED_BODIES + 2 {
            summary.note(&format!("component:default/c{i}"), "updated", Some("{\"a\":1}"), || Some("{}".to_owned()));
        }
        assert_eq!(summary.changes.len(), AUDITED_BODIES + 2);
        let last_whole = &summary.changes[AUDITED_BODIES - 1];
        assert_eq!((last_whole.before.as_deref(), last_whole.after.as_deref()), (Some("{\"a\":1}"), Some("{}")));
        let first_cut = &summary.changes[AUDITED_BODIES];
        assert_eq!(first_cut.entity_ref, format!("component:default/c{AUDITED_BODIES}"));
        assert_eq!((first_cut.before.as_deref(), first_cut.after.as_deref()), (None, None));
        // A large document (an inlined API definition) is kept by reference once the byte budget is spent.
        let mut summary = ImportSummary::default();
        let big = "x".repeat(AUDITED_BYTES / 2);
        summary.note("api:default/a", "added", None, || Some(big.clone()));
        summary.note("api:default/b", "updated", Some(&big), || Some(big.clone()));
        summary.note("api:default/c", "added", None, || Some("{}".to_owned()));
        let kept: Vec<bool> = summary.changes.iter().map(|c| c.after.is_some()).collect();
        assert_eq!(kept, [true, false, true]);
    }

    fn config(pairs: &[(&str, &str)]) -> Config {
        let map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        crate::config::load_from(figment::Figment::from(figment::providers::Serialized::defaults(map))).unwrap()
    }

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn fields_keep_only_the_named_paths_in_place() {
        let e = json!({"kind": "Component", "metadata": {"name": "a", "title": "A", "annotations": {"x/y": "1"}}, "spec": {"type": "service"}});
        let pick = |f: &[&str]| select_fields(&e, &f.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(pick(&["kind", "metadata.name"]), json!({"kind": "Component", "metadata": {"name": "a"}}));
        assert_eq!(pick(&["metadata.annotations"]), json!({"metadata": {"annotations": {"x/y": "1"}}}));
        assert_eq!(pick(&["spec.owner", "nothing"]), json!({}));
        assert_eq!(pick(&["metadata", "metadata.name"]), json!({"metadata": e["metadata"].clone()}));
    }

    #[test]
    fn edit_links_prefer_the_annotation_then_the_source_file_then_the_slug_on_the_configured_github() {
        let github = config(&[]);
        let edit = "https://git.example.com/edit/me.yaml";
        let source = "url:https://github.com/acme/pay/blob/main/catalog-info.yaml";
        let slug = ("github.com/project-slug", "acme/pay");
        let all = annotations(&[("backstage.io/edit-url", edit), ("backstage.io/managed-by-location", source), slug]);
        assert_eq!(edit_url(&all, &github).as_deref(), Some(edit));
        let no_edit = annotations(&[("backstage.io/managed-by-location", source), slug]);
        assert_eq!(
            edit_url(&no_edit, &github).as_deref(),
            Some("https://github.com/acme/pay/edit/main/catalog-info.yaml")
        );
        assert_eq!(
            edit_url(&annotations(&[slug]), &github).as_deref(),
            Some("https://github.com/acme/pay/blob/HEAD/catalog-info.yaml")
        );
        let enterprise =
            config(&[("github_url", "https://git.acme.internal/"), ("github_catalog_path", "/.catalog/info.yaml")]);
        assert_eq!(
            edit_url(&annotations(&[slug]), &enterprise).as_deref(),
            Some("https://git.acme.internal/acme/pay/blob/HEAD/.catalog/info.yaml")
        );
        // User text never makes a link anywhere but http(s) on the configured host.
        for bad in ["javascript:alert(1)", "../../evil", "acme", "acme/pay/../x", "a/b c", "/pay"] {
            let a = annotations(&[("backstage.io/edit-url", bad), ("github.com/project-slug", bad)]);
            assert_eq!(edit_url(&a, &github), None, "{bad}");
        }
        assert_eq!(edit_url(&annotations(&[]), &github), None);
    }

    async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
        let row = db.query_one_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Sqlite, sql)).await.unwrap();
        row.unwrap().try_get_by_index::<i64>(0).unwrap()
    }

    /// Per-value samples made SQLite re-plan cached statements on every new bound value; the refresh keeps the
    /// per-index averages and drops the samples, including those an earlier full `ANALYZE` wrote.
    #[tokio::test]
    async fn statistics_keep_index_averages_without_per_value_samples() {
        let dir = std::env::temp_dir().join(format!("portolan-stats-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let db = crate::db::open(&format!("sqlite://{}/p.db?mode=rwc", dir.display())).await.unwrap();
        db.execute_unprepared("CREATE TABLE t (v INTEGER)").await.unwrap();
        db.execute_unprepared("CREATE INDEX t_v ON t (v)").await.unwrap();
        db.execute_unprepared("INSERT INTO t VALUES (1), (2), (2), (3)").await.unwrap();
        db.execute_unprepared("ANALYZE").await.unwrap();
        assert!(count(&db, "SELECT COUNT(*) FROM sqlite_stat4").await > 0, "this SQLite keeps samples");
        refresh_statistics(&db).await.unwrap();
        assert_eq!(count(&db, "SELECT COUNT(*) FROM sqlite_stat4").await, 0);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 't'").await, 1, "averages stay");
        drop(db);
        let _ = std::fs::remove_dir_all(dir);
    }
}
