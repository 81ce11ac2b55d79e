//! A read cache of Backstage's entity JSON, the answer of `/api/catalog/entities/by-name/…`: tools that mirror
//! the catalog (and Backstage plugins pointed at Portolan) ask for entities by name over and over, and answering
//! from memory takes a fraction of the two queries a lookup otherwise costs. Beside them it keeps, per query and
//! viewer, list pages and their counts, and every entity's search text.
//!
//! The cache never answers with data older than a change it could know of:
//! - every catalog write of this process, once committed, empties every cache of the process at once
//!   ([`note_local_write`]); so whoever saves an entity reads their own change;
//! - changes of other processes (a `portolan catalog import` beside the server, other replicas on one
//!   PostgreSQL) raise `catalog_generation`, which [`EntityCache::poll`] reads every second; the cache empties
//!   when it moves, so they show within about a second;
//! - a lookup that read the database before a change and finishes after it is not kept (each fill carries the
//!   cache's epoch from before its read, and emptying raises the epoch);
//! - the cache answers nothing until a poll succeeded, nor when the last success is older than a few intervals
//!   (the poller stopped, or the database does not answer), so a process without the poller never serves from it.
//!
//! Memory is bounded by `PORTOLAN_CATALOG_CACHE_MB`; the oldest entries go first when it is full. Answers are kept
//! compressed (zstd against a dictionary of the keys and values every Backstage entity repeats), a quarter of
//! their size: 10,000 Components take about 3 MiB of JSON instead of 11, and unpacking one takes microseconds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portolan_types::catalog::EntityPage;
use sea_orm::{ConnectionTrait, DbErr, Statement};

use crate::bounded::OldestFirst;

/// How often [`EntityCache::poll`] is meant to run.
pub const POLL_EVERY: Duration = Duration::from_secs(1);

/// The cache answers only while its last successful poll is at most this old.
const TRUST_FOR: Duration = Duration::from_secs(5);

/// Rough bookkeeping cost of one entry beyond its strings (map slot, queue slot, `Arc`, lengths).
const ENTRY_OVERHEAD: usize = 160;

/// Counts of lists kept at most (a few hundred bytes each).
const MAX_COUNTS: usize = 2048;

/// The share of the budget list pages may take: one part in this many (a page of 20 is 6-8 KiB of JSON, kept
/// compressed in a fifth of that or less, so the default 16 MiB holds several hundred).
const PAGES_SHARE: usize = 16;

/// Raised after every committed catalog write of this process.
static LOCAL_WRITES: AtomicU64 = AtomicU64::new(0);

/// Tells every cache of this process that the catalog changed. Call it after the change committed.
pub fn note_local_write() {
    LOCAL_WRITES.fetch_add(1, Ordering::SeqCst);
}

/// Raises `catalog_generation`, so the caches of other processes learn of this transaction's change. Call it in the
/// writing transaction, as its last statement before the commit (the row is then locked only briefly, and always
/// after the catalog rows the transaction changed, so two writers cannot wait on each other).
pub async fn bump_generation<C: ConnectionTrait>(txn: &C) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_string(
        txn.get_database_backend(),
        "UPDATE catalog_generation SET value = value + 1 WHERE id = 1",
    ))
    .await?;
    Ok(())
}

/// The current `catalog_generation`.
pub async fn generation<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT value FROM catalog_generation WHERE id = 1",
        ))
        .await?;
    match row {
        Some(row) => row.try_get_by_index::<i64>(0),
        None => Ok(0),
    }
}

/// What the answers are compressed against: the keys, relation types and reference prefixes of Backstage's entity
/// JSON as Portolan writes it (sorted keys), so that even a short entity finds most of its text here. It is raw
/// content (not a trained dictionary), and changing it only changes how well new entries compress: entries live
/// no longer than the process.
const DICTIONARY: &str = concat!(
    r#"{"apiVersion":"backstage.io/v1alpha1","kind":"Component","metadata":{"annotations":{"#,
    r#""backstage.io/managed-by-location":"file:/catalog-info.yaml","#,
    r#""backstage.io/managed-by-origin-location":"url:https://github.com/","#,
    r#""backstage.io/source-location":"url:https://github.com/","backstage.io/techdocs-ref":"dir:.","#,
    r#""github.com/project-slug":"","backstage.io/edit-url":"https://github.com/"},"description":"","etag":"","#,
    r#""labels":{},"links":[{"url":"https://","title":""}],"name":"","namespace":"default","tags":["",""],"#,
    r#""title":"","uid":""},"relations":[{"targetRef":"api:default/","type":"apiProvidedBy"},"#,
    r#"{"targetRef":"component:default/","type":"dependencyOf"},{"targetRef":"component:default/","type":"dependsOn"},"#,
    r#"{"targetRef":"resource:default/","type":"dependsOn"},{"targetRef":"group:default/","type":"ownedBy"},"#,
    r#"{"targetRef":"user:default/","type":"ownedBy"},{"targetRef":"system:default/","type":"partOf"},"#,
    r#"{"targetRef":"domain:default/","type":"partOf"},{"targetRef":"api:default/","type":"providesApi"},"#,
    r#"{"targetRef":"api:default/","type":"consumesApi"},{"targetRef":"component:default/","type":"ownerOf"},"#,
    r#"{"targetRef":"group:default/","type":"childOf"},{"targetRef":"group:default/","type":"parentOf"},"#,
    r#"{"targetRef":"user:default/","type":"hasMember"},{"targetRef":"group:default/","type":"memberOf"},"#,
    r#"{"targetRef":"component:default/","type":"hasPart"}],"spec":{"dependsOn":["component:","resource:"],"#,
    r#""providesApis":[],"consumesApis":[],"lifecycle":"production","owner":"group:","system":"","#,
    r#""subcomponentOf":"","type":"service","definition":"","profile":{"displayName":"","email":""},"#,
    r#""memberOf":[],"children":[],"parent":"","domain":""}}"#,
);

/// zstd's fastest level: answers are packed on a miss, while the client waits.
const LEVEL: i32 = 1;

thread_local! {
    static PACKER: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        std::cell::RefCell::new(zstd::bulk::Compressor::with_dictionary(LEVEL, DICTIONARY.as_bytes()).ok());
    static UNPACKER: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        std::cell::RefCell::new(zstd::bulk::Decompressor::with_dictionary(DICTIONARY.as_bytes()).ok());
}

/// An answer's JSON as kept: compressed, or as is when it did not compress.
#[derive(Debug)]
enum Packed {
    Zstd { bytes: Box<[u8]>, len: usize },
    Plain(Box<str>),
}

impl Packed {
    /// Bytes held.
    fn len(&self) -> usize {
        match self {
            Packed::Zstd { bytes, .. } => bytes.len(),
            Packed::Plain(text) => text.len(),
        }
    }
}

fn pack(json: &str) -> Packed {
    let packed = PACKER.with(|p| p.borrow_mut().as_mut().and_then(|c| c.compress(json.as_bytes()).ok()));
    match packed {
        Some(bytes) if bytes.len() < json.len() => Packed::Zstd { bytes: bytes.into_boxed_slice(), len: json.len() },
        _ => Packed::Plain(json.into()),
    }
}

fn unpack(packed: &Packed) -> Option<String> {
    match packed {
        Packed::Plain(text) => Some(text.to_string()),
        Packed::Zstd { bytes, len } => {
            let raw = UNPACKER.with(|d| d.borrow_mut().as_mut().and_then(|d| d.decompress(bytes, *len).ok()))?;
            String::from_utf8(raw).ok()
        }
    }
}

/// One cached answer: the JSON text (kept compressed), and what visibility checks need.
#[derive(Debug)]
pub struct Cached {
    json: Packed,
    /// The entity's namespace.
    pub namespace: Box<str>,
    /// The entity's owner, as a full reference.
    pub owner_ref: Option<Box<str>>,
}

impl Cached {
    /// An answer to keep: Backstage's entity JSON as sent, with the entity's namespace and owner.
    pub fn new(json: &str, namespace: &str, owner_ref: Option<&str>) -> Cached {
        Cached { json: pack(json), namespace: namespace.into(), owner_ref: owner_ref.map(Into::into) }
    }

    /// The JSON text as it was given; `None` only if unpacking failed (then treat it as a miss).
    pub fn json(&self) -> Option<String> {
        unpack(&self.json)
    }

    fn size(&self, key: &str) -> usize {
        key.len() * 2
            + self.json.len()
            + self.namespace.len()
            + self.owner_ref.as_ref().map_or(0, |o| o.len())
            + ENTRY_OVERHEAD
    }
}

/// What a lookup noted before reading the database; [`EntityCache::put`] keeps its answer only if nothing changed
/// since.
#[derive(Clone, Copy, Debug)]
pub struct Ticket(u64);

#[derive(Debug, Default)]
struct Inner {
    /// [`LOCAL_WRITES`] when the contents were read.
    local: u64,
    /// `catalog_generation` at the last successful poll.
    remote: Option<i64>,
    /// When that poll was.
    polled_at: Option<Instant>,
    /// Raised whenever the contents are dropped.
    epoch: u64,
    /// By-name answers by full entity reference.
    answers: OldestFirst<String, Arc<Cached>>,
    /// How many entities a list's filters match, by filters and viewer ([`EntityCache::count`]).
    counts: HashMap<String, u64>,
    /// Pages of the catalog's list, by query and viewer ([`EntityCache::page`]).
    pages: OldestFirst<String, Arc<Packed>>,
    /// Every entity's search text ([`EntityCache::search_texts`]).
    search: Search,
}

/// What the cache holds of the entities' search texts.
#[derive(Debug, Default, Clone)]
enum Search {
    /// Not read since the cache was last emptied.
    #[default]
    Unread,
    /// Read, and kept.
    Kept(Arc<SearchTexts>),
    /// Read, and larger than half the budget: not kept, and not read again until the catalog changes.
    TooLarge,
}

/// Every entity's search text (name, title and description, lower-cased), for partial-word search in memory: on
/// PostgreSQL the trigram index answers a search naming one entity only after decoding the posting lists of the
/// trigrams every name shares (`service-1234` holds those of "service", which all 10,000 Components of the
/// benchmark have), and scanning a megabyte of text in the process costs less.
///
/// The texts are kept end to end in one string, a newline after each (a search word never holds whitespace, so a
/// match never spans two entities), and the uids likewise: 10,000 entities take four allocations, not 20,000.
#[derive(Debug, Default)]
pub struct SearchTexts {
    /// Every text, each followed by a newline.
    texts: String,
    /// Where each text's newline is.
    ends: Vec<usize>,
    /// Every uid, end to end.
    uids: String,
    /// Where each uid ends.
    uid_ends: Vec<usize>,
}

impl SearchTexts {
    /// Room for `n` entities.
    pub fn with_capacity(n: usize) -> SearchTexts {
        SearchTexts {
            texts: String::with_capacity(n * 64),
            ends: Vec::with_capacity(n),
            uids: String::with_capacity(n * 36),
            uid_ends: Vec::with_capacity(n),
        }
    }

    /// Adds an entity's text (lower-cased already, as stored).
    pub fn push(&mut self, uid: &str, text: &str) {
        // A newline inside a text only separates words, like a space; kept, it would end the entity's text early.
        self.texts.extend(text.chars().map(|c| if c == '\n' { ' ' } else { c }));
        self.ends.push(self.texts.len());
        self.texts.push('\n');
        self.uids.push_str(uid);
        self.uid_ends.push(self.uids.len());
    }

    /// Gives back the room reserved and not used.
    pub fn shrink_to_fit(&mut self) {
        self.texts.shrink_to_fit();
        self.ends.shrink_to_fit();
        self.uids.shrink_to_fit();
        self.uid_ends.shrink_to_fit();
    }

    /// Bytes held.
    pub fn size(&self) -> usize {
        self.texts.capacity()
            + self.uids.capacity()
            + (self.ends.capacity() + self.uid_ends.capacity()) * std::mem::size_of::<usize>()
    }

    fn uid(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.uid_ends[i - 1] };
        &self.uids[start..self.uid_ends[i]]
    }

    fn text(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] + 1 };
        &self.texts[start..self.ends[i]]
    }

    /// The uids of the entities whose text holds every word (lower-cased, taken literally), in the order they were
    /// added; `None` when more than `cap` do. The longest word is looked for through all the texts at once, and
    /// only the texts it occurs in are checked for the others.
    pub fn matching(&self, words: &[String], cap: usize) -> Option<Vec<&str>> {
        let mut found = Vec::new();
        let Some(longest) = words.iter().max_by_key(|w| w.len()) else { return Some(found) };
        let finder = memchr::memmem::Finder::new(longest.as_bytes());
        let mut from = 0;
        while let Some(at) = finder.find(&self.texts.as_bytes()[from..]).map(|i| from + i) {
            let i = self.ends.partition_point(|&end| end <= at);
            if i == self.ends.len() {
                break;
            }
            let text = self.text(i);
            if words.iter().all(|w| text.contains(w.as_str())) {
                if found.len() == cap {
                    return None;
                }
                found.push(self.uid(i));
            }
            from = self.ends[i] + 1;
        }
        Some(found)
    }
}

/// What [`EntityCache::search_texts`] answers.
#[derive(Debug)]
pub enum SearchState {
    /// The texts, as of the cache's contents.
    Kept(Arc<SearchTexts>),
    /// Not kept yet: read them and offer them with [`EntityCache::put_search_texts`].
    Unread,
    /// Search the database: the cache is off, cannot vouch for itself, or the texts do not fit.
    Unavailable,
}

impl Inner {
    fn flush(&mut self) {
        self.answers.clear();
        self.counts.clear();
        self.pages.clear();
        self.search = Search::Unread;
        self.epoch += 1;
    }

    /// What the by-name answers may hold of `budget`: what the search texts and the pages, which stay, leave.
    fn answers_room(&self, budget: usize) -> usize {
        budget.saturating_sub(self.search_bytes() + self.pages.bytes())
    }

    /// Bytes the search texts hold.
    fn search_bytes(&self) -> usize {
        match &self.search {
            Search::Kept(texts) => texts.size(),
            Search::Unread | Search::TooLarge => 0,
        }
    }

    /// Empties the cache if this process wrote to the catalog since it was filled.
    fn catch_up(&mut self, writes: &AtomicU64) {
        let now = writes.load(Ordering::SeqCst);
        if now != self.local {
            self.flush();
            self.local = now;
        }
    }

    fn trusted(&self) -> bool {
        self.remote.is_some() && self.polled_at.is_some_and(|t| t.elapsed() <= TRUST_FOR)
    }
}

/// The read cache; one per process, shared by every request.
#[derive(Debug)]
pub struct EntityCache {
    budget: usize,
    /// The count of local writes it follows ([`LOCAL_WRITES`]; tests use their own).
    writes: &'static AtomicU64,
    inner: Mutex<Inner>,
    /// Held while the search texts are read ([`EntityCache::search_texts_or_read`]).
    reading: tokio::sync::Mutex<()>,
}

impl EntityCache {
    /// A cache that keeps at most `budget` bytes of answers; `0` keeps nothing.
    pub fn new(budget: usize) -> EntityCache {
        EntityCache::following(budget, &LOCAL_WRITES)
    }

    fn following(budget: usize, writes: &'static AtomicU64) -> EntityCache {
        EntityCache {
            budget,
            writes,
            inner: Mutex::new(Inner { local: writes.load(Ordering::SeqCst), ..Inner::default() }),
            reading: tokio::sync::Mutex::new(()),
        }
    }

    /// A cache of `PORTOLAN_CATALOG_CACHE_MB` mebibytes.
    pub fn with_megabytes(mb: u32) -> EntityCache {
        EntityCache::new(usize::try_from(mb).unwrap_or(usize::MAX).saturating_mul(1 << 20))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached answer for a full entity reference, if there is one the cache can vouch for.
    pub fn get(&self, entity_ref: &str) -> Option<Arc<Cached>> {
        self.readable()?.answers.get(entity_ref).cloned()
    }

    /// The contents, caught up with this process's writes, if the cache is on and can vouch for them.
    fn readable(&self) -> Option<std::sync::MutexGuard<'_, Inner>> {
        if self.budget == 0 {
            return None;
        }
        let mut inner = self.lock();
        inner.catch_up(self.writes);
        inner.trusted().then_some(inner)
    }

    /// The contents, to keep something read after `ticket` was taken: `None` when the cache is off, cannot vouch
    /// for itself, or the catalog changed since the ticket.
    fn writable(&self, ticket: Ticket) -> Option<std::sync::MutexGuard<'_, Inner>> {
        self.readable().filter(|inner| inner.epoch == ticket.0)
    }

    /// Notes the state of the cache before a lookup reads the database.
    pub fn ticket(&self) -> Ticket {
        let mut inner = self.lock();
        inner.catch_up(self.writes);
        Ticket(inner.epoch)
    }

    /// Keeps an answer read after `ticket` was taken, unless the catalog changed in between or it does not fit.
    pub fn put(&self, ticket: Ticket, entity_ref: String, cached: Cached) {
        let size = cached.size(&entity_ref);
        if size > self.budget {
            return;
        }
        let Some(mut inner) = self.writable(ticket) else { return };
        if inner.answers.contains_key(&entity_ref) {
            return;
        }
        let room = inner.answers_room(self.budget);
        inner.answers.insert(entity_ref, Arc::new(cached), size, room);
    }

    /// A page of the catalog's list, if kept: `key` names the query (filters, order, cursor, limit) and the
    /// viewer's visibility. The catalog page and `/api/v1/entities` are asked for the same few pages over and over
    /// (the first page of each kind, a team's services), and the answer changes only when the catalog does.
    pub fn page(&self, key: &str) -> Option<EntityPage> {
        let packed = self.readable()?.pages.get(key).cloned()?;
        serde_json::from_str(&unpack(&packed)?).ok()
    }

    /// Keeps a page read after `ticket` was taken, unless the catalog changed in between. Pages are kept as
    /// compressed JSON (a fifth of its size or less) and take at most a sixteenth
    /// of the budget, the oldest leaving first; the by-name answers make room for them.
    pub fn put_page(&self, ticket: Ticket, key: String, page: &EntityPage) {
        // Not encoded for nothing when the cache is off or cannot vouch for itself; encoded outside the lock.
        if self.readable().is_none() {
            return;
        }
        let Ok(json) = serde_json::to_string(page) else { return };
        let packed = Arc::new(pack(&json));
        let size = packed.len() + key.len() * 2 + ENTRY_OVERHEAD;
        let Some(mut inner) = self.writable(ticket) else { return };
        if !inner.pages.insert(key, packed, size, self.budget / PAGES_SHARE) {
            return;
        }
        let room = inner.answers_room(self.budget);
        inner.answers.make_room(0, room);
    }

    /// The number of entities a list's filters match, if known: `key` names the filters and the viewer's
    /// visibility. Counting every match of a broad filter is most of a list's time on PostgreSQL (10,000 Components
    /// read from the index on every page), and the answer changes only when the catalog does.
    pub fn count(&self, key: &str) -> Option<u64> {
        self.readable()?.counts.get(key).copied()
    }

    /// Keeps a count made after `ticket` was taken, unless the catalog changed in between. At most
    /// [`MAX_COUNTS`] are kept; the lot is dropped when that is reached.
    pub fn put_count(&self, ticket: Ticket, key: String, n: u64) {
        let Some(mut inner) = self.writable(ticket) else { return };
        if inner.counts.len() >= MAX_COUNTS {
            inner.counts.clear();
        }
        inner.counts.insert(key, n);
    }

    /// Reads `catalog_generation` and empties the cache when it moved. A failed read empties it too, and it
    /// answers nothing until a read succeeds again.
    pub async fn poll<C: ConnectionTrait>(&self, db: &C) -> Result<(), DbErr> {
        if self.budget == 0 {
            return Ok(());
        }
        match generation(db).await {
            Ok(value) => {
                let mut inner = self.lock();
                if inner.remote != Some(value) {
                    inner.flush();
                    inner.remote = Some(value);
                }
                inner.polled_at = Some(Instant::now());
                Ok(())
            }
            Err(e) => {
                let mut inner = self.lock();
                inner.flush();
                inner.remote = None;
                Err(e)
            }
        }
    }

    /// Every entity's search text, if the cache holds it and can vouch for it.
    pub fn search_texts(&self) -> SearchState {
        match self.readable().map(|inner| inner.search.clone()) {
            Some(Search::Kept(texts)) => SearchState::Kept(texts),
            Some(Search::Unread) => SearchState::Unread,
            Some(Search::TooLarge) | None => SearchState::Unavailable,
        }
    }

    /// Every entity's search text: as kept, or else read with `read` and kept. One caller reads at a time; the
    /// others wait and take what it kept, so the first searches after a change read the texts once, not once per
    /// connection. `None` when the database has to answer: the cache is off or cannot vouch for itself, or the
    /// texts are larger than half its budget.
    pub async fn search_texts_or_read<F, Fut, E>(&self, read: F) -> Result<Option<Arc<SearchTexts>>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<SearchTexts, E>>,
    {
        match self.search_texts() {
            SearchState::Kept(texts) => return Ok(Some(texts)),
            SearchState::Unavailable => return Ok(None),
            SearchState::Unread => {}
        }
        let _one = self.reading.lock().await;
        match self.search_texts() {
            SearchState::Kept(texts) => return Ok(Some(texts)),
            SearchState::Unavailable => return Ok(None),
            SearchState::Unread => {}
        }
        let ticket = self.ticket();
        let texts = Arc::new(read().await?);
        self.put_search_texts(ticket, texts.clone());
        // Read after the ticket, so as fresh as the database's own answer, even when not kept.
        Ok(Some(texts))
    }

    /// Keeps every entity's search text, read after `ticket` was taken, unless the catalog changed in between. They
    /// count against the budget (older answers leave to make room); texts larger than half the budget are not kept,
    /// and not asked for again until the catalog changes.
    pub fn put_search_texts(&self, ticket: Ticket, texts: Arc<SearchTexts>) {
        let size = texts.size();
        let Some(mut inner) = self.writable(ticket) else { return };
        if !matches!(inner.search, Search::Unread) {
            return;
        }
        if size > self.budget / 2 {
            inner.search = Search::TooLarge;
            return;
        }
        inner.search = Search::Kept(texts);
        let room = inner.answers_room(self.budget);
        inner.answers.make_room(0, room);
    }

    /// Entries and bytes held (for `/metrics` and tests).
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.answers.len() + inner.pages.len(), inner.answers.bytes() + inner.search_bytes() + inner.pages.bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(json: &str) -> Cached {
        Cached::new(json, "default", Some("group:default/a"))
    }

    /// A cache as after a successful poll (without a database), following its own count of writes so that
    /// writes of tests running beside it leave it alone.
    fn trusted(budget: usize, writes: &'static AtomicU64) -> EntityCache {
        let cache = EntityCache::following(budget, writes);
        {
            let mut inner = cache.lock();
            inner.remote = Some(7);
            inner.polled_at = Some(Instant::now());
        }
        cache
    }

    #[test]
    fn answers_only_after_a_successful_poll_and_while_polls_are_recent() {
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let cache = EntityCache::following(1 << 20, &WRITES);
        let t = cache.ticket();
        cache.put(t, "component:default/a".into(), entry("{}"));
        assert!(cache.get("component:default/a").is_none(), "nothing is kept before the first poll");

        let cache = trusted(1 << 20, &WRITES);
        let t = cache.ticket();
        cache.put(t, "component:default/a".into(), entry("{\"a\":1}"));
        assert_eq!(cache.get("component:default/a").expect("kept").json().unwrap(), "{\"a\":1}");
        cache.lock().polled_at = Some(Instant::now() - TRUST_FOR - Duration::from_secs(1));
        assert!(cache.get("component:default/a").is_none(), "a cache whose poller stopped answers nothing");
    }

    fn texts(rows: &[(&str, &str)]) -> SearchTexts {
        let mut texts = SearchTexts::with_capacity(rows.len());
        for (uid, text) in rows {
            texts.push(uid, text);
        }
        texts
    }

    #[test]
    fn search_texts_match_every_word_literally_within_one_entity() {
        let texts = texts(&[
            ("u1", "payments-api the payments api"),
            ("u2", "payroll handles pay_slips"),
            ("u3", "search"),
            ("u4", "two\nlines"),
            ("u5", ""),
            ("u6", "api api api"),
        ]);
        let words = |w: &[&str]| w.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert_eq!(texts.matching(&words(&["pay"]), 10).unwrap(), ["u1", "u2"]);
        assert_eq!(texts.matching(&words(&["pay", "api"]), 10).unwrap(), ["u1"], "every word, in one entity");
        assert_eq!(texts.matching(&words(&["api"]), 10).unwrap(), ["u1", "u6"], "each entity once");
        assert_eq!(texts.matching(&words(&["pay_s"]), 10).unwrap(), ["u2"]);
        assert!(texts.matching(&words(&["pay%"]), 10).unwrap().is_empty(), "no wildcards");
        assert!(texts.matching(&words(&["pay"]), 1).is_none(), "more than the cap: the database answers");
        assert_eq!(texts.matching(&words(&["search"]), 10).unwrap(), ["u3"], "the first and the last letters");
        assert!(texts.matching(&words(&["searchtwo"]), 10).unwrap().is_empty(), "no match across two entities");
        assert_eq!(texts.matching(&words(&["lines", "two"]), 10).unwrap(), ["u4"], "a newline in a text is kept in it");
        assert!(SearchTexts::default().matching(&words(&["a"]), 10).unwrap().is_empty());
    }

    #[test]
    fn search_texts_follow_the_cache_and_count_against_its_budget() {
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let cache = trusted(1 << 20, &WRITES);
        assert!(matches!(cache.search_texts(), SearchState::Unread));
        let before = cache.ticket();
        WRITES.fetch_add(1, Ordering::SeqCst);
        cache.put_search_texts(before, Arc::new(texts(&[("u1", "old")])));
        assert!(matches!(cache.search_texts(), SearchState::Unread), "read before a write: not kept");
        let t = cache.ticket();
        let kept = Arc::new(texts(&[("u1", "new")]));
        cache.put_search_texts(t, kept.clone());
        assert!(matches!(cache.search_texts(), SearchState::Kept(_)));
        assert_eq!(cache.usage().1, kept.size(), "counted against the budget");
        WRITES.fetch_add(1, Ordering::SeqCst);
        assert!(matches!(cache.search_texts(), SearchState::Unread), "a write empties it");
        assert_eq!(cache.usage().1, 0);

        let small = trusted(64, &WRITES);
        let t = small.ticket();
        small.put_search_texts(t, Arc::new(texts(&[("u1", &"x".repeat(100))])));
        assert!(matches!(small.search_texts(), SearchState::Unavailable), "too large: the database answers");
        assert!(matches!(EntityCache::following(0, &WRITES).search_texts(), SearchState::Unavailable));

        // Room for the texts is made by dropping the oldest answers.
        let one = entry("x").size("component:default/e0");
        let cache = trusted(one * 4, &WRITES);
        for i in 0..4 {
            let t = cache.ticket();
            cache.put(t, format!("component:default/e{i}"), entry("x"));
        }
        let texts = Arc::new(texts(&[("u1", "y")]));
        let t = cache.ticket();
        cache.put_search_texts(t, texts.clone());
        let (entries, bytes) = cache.usage();
        assert!(entries < 4 && bytes <= one * 4, "{entries} entries, {bytes} bytes");
        assert!(cache.get("component:default/e0").is_none() && cache.get("component:default/e3").is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_first_searches_read_the_texts_once() {
        static WRITES: AtomicU64 = AtomicU64::new(0);
        static READS: AtomicU64 = AtomicU64::new(0);
        let cache = Arc::new(trusted(1 << 20, &WRITES));
        let searches: Vec<_> = (0..16)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move {
                    let read = || async {
                        READS.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok::<_, ()>(texts(&[("u1", "shop")]))
                    };
                    cache.search_texts_or_read(read).await.unwrap().expect("texts").matching(&["sho".into()], 9)
                        == Some(vec!["u1"])
                })
            })
            .collect();
        for search in searches {
            assert!(search.await.unwrap(), "every search got the texts");
        }
        assert_eq!(READS.load(Ordering::SeqCst), 1, "one read for sixteen searches");

        // After a write, the next search reads them again; one that cannot be vouched for reads nothing.
        WRITES.fetch_add(1, Ordering::SeqCst);
        let read = || async { Ok::<_, ()>(texts(&[("u1", "shop2")])) };
        assert!(cache.search_texts_or_read(read).await.unwrap().is_some());
        cache.lock().polled_at = None;
        let read = || async { Err::<SearchTexts, _>("not read") };
        assert_eq!(cache.search_texts_or_read(read).await.unwrap().map(|t| t.size()), None);
    }

    #[test]
    fn a_local_write_empties_the_cache_and_refuses_answers_read_before_it() {
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let cache = trusted(1 << 20, &WRITES);
        let t = cache.ticket();
        cache.put(t, "component:default/a".into(), entry("old"));
        let before = cache.ticket();
        WRITES.fetch_add(1, Ordering::SeqCst);
        assert!(cache.get("component:default/a").is_none(), "the write emptied the cache");
        cache.put(before, "component:default/b".into(), entry("read before the write"));
        assert!(cache.get("component:default/b").is_none(), "an answer read before the write is not kept");
        let after = cache.ticket();
        cache.put(after, "component:default/b".into(), entry("new"));
        assert_eq!(cache.get("component:default/b").expect("kept").json().unwrap(), "new");
    }

    fn page(names: &[&str]) -> EntityPage {
        let items = names
            .iter()
            .map(|n| portolan_types::catalog::EntitySummary {
                entity_ref: format!("component:default/{n}"),
                kind: "component".into(),
                namespace: "default".into(),
                name: (*n).into(),
                title: None,
                description: Some("a service".into()),
                spec_type: Some("service".into()),
                lifecycle: Some("production".into()),
                owner_ref: Some("group:default/team".into()),
                system_ref: None,
                tags: vec!["rust".into()],
                orphan: false,
                managed_by: "location".into(),
            })
            .collect();
        EntityPage { items, total: names.len() as u64, next_cursor: None }
    }

    #[test]
    fn list_pages_follow_writes_and_take_a_sixteenth_of_the_budget_at_most() {
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let one = pack(&serde_json::to_string(&page(&["a"])).unwrap()).len() + "k0".len() * 2 + ENTRY_OVERHEAD;
        let cache = trusted(one * 16 * 2, &WRITES);
        let t = cache.ticket();
        cache.put_page(t, "k0".into(), &page(&["a"]));
        assert_eq!(cache.page("k0"), Some(page(&["a"])), "comes back as it was");
        assert!(cache.page("k1").is_none(), "another query");

        // Read before a write: not kept; the write emptied what was.
        let before = cache.ticket();
        WRITES.fetch_add(1, Ordering::SeqCst);
        cache.put_page(before, "k1".into(), &page(&["stale"]));
        assert!(cache.page("k1").is_none() && cache.page("k0").is_none());

        // Two pages fit in a sixteenth of this budget: the oldest leaves for a third.
        for i in 0..3 {
            let t = cache.ticket();
            cache.put_page(t, format!("k{i}"), &page(&["a"]));
        }
        assert!(cache.page("k0").is_none());
        assert!(cache.page("k1").is_some() && cache.page("k2").is_some());
        assert_eq!(cache.usage(), (2, one * 2));

        // By-name answers leave room for the pages: the whole stays within the budget.
        let answer = entry("x").size("component:default/e0");
        for i in 0..(one * 32 / answer + 4) {
            let t = cache.ticket();
            cache.put(t, format!("component:default/e{i}"), entry("x"));
        }
        let (_, bytes) = cache.usage();
        assert!(bytes <= one * 32, "{bytes} bytes of {}", one * 32);
        assert!(cache.page("k2").is_some(), "answers do not push pages out");
        let t = cache.ticket();
        cache.put_page(t, "k3".into(), &page(&["a"]));
        assert!(cache.usage().1 <= one * 32, "nor a page the answers");
        let t = cache.ticket();
        cache.put_search_texts(t, Arc::new(texts(&[("u1", &"y".repeat(one * 4))])));
        assert!(matches!(cache.search_texts(), SearchState::Kept(_)));
        assert!(cache.usage().1 <= one * 32, "nor the search texts the pages and answers");
        assert!(cache.page("k3").is_some(), "and the pages stay");

        // A page of 20 keeps in a fraction of its JSON.
        let names: Vec<String> = (0..20).map(|i| format!("payments-service-{i}")).collect();
        let twenty = page(&names.iter().map(String::as_str).collect::<Vec<_>>());
        let json = serde_json::to_string(&twenty).unwrap();
        let packed = pack(&json).len();
        assert!(packed * 5 < json.len(), "{packed} bytes packed from {}", json.len());

        // A cache that cannot vouch for itself answers no page.
        cache.lock().polled_at = None;
        assert!(cache.page("k3").is_none());
    }

    #[test]
    fn the_oldest_entries_leave_when_the_budget_is_spent() {
        let one = entry("x").size("component:default/e0");
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let cache = trusted(one * 3, &WRITES);
        for i in 0..5 {
            let t = cache.ticket();
            cache.put(t, format!("component:default/e{i}"), entry("x"));
        }
        let (entries, bytes) = cache.usage();
        assert_eq!(entries, 3);
        assert!(bytes <= one * 3);
        assert!(cache.get("component:default/e0").is_none());
        assert!(cache.get("component:default/e1").is_none());
        assert!(cache.get("component:default/e4").is_some());
        let t = cache.ticket();
        // Letters from a generator, which compress little: still more than the budget once packed.
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let noise: String = (0..one * 6)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"[(x % 64) as usize])
            })
            .collect();
        cache.put(t, "component:default/huge".into(), entry(&noise));
        assert!(cache.get("component:default/huge").is_none(), "an answer larger than the budget is not kept");
        assert!(cache.get("component:default/e4").is_some(), "and does not push the others out");
    }

    #[test]
    fn answers_are_kept_compressed_and_come_back_byte_for_byte() {
        let relations: Vec<String> =
            (0..6).map(|i| format!(r#"{{"targetRef":"component:default/payments-{i}","type":"dependsOn"}}"#)).collect();
        let json = format!(
            r#"{{"apiVersion":"backstage.io/v1alpha1","kind":"Component","metadata":{{"annotations":{{"backstage.io/managed-by-location":"file:/srv/catalog/payments.yaml","backstage.io/managed-by-origin-location":"file:/srv/catalog"}},"description":"Takes payments, in € and £","etag":"cd9cadc6acf6a4939baa","name":"payments","namespace":"default","title":"Payments","uid":"5a08db1e-bc6a-4e9c-a05c-cf1580f7f149"}},"relations":[{}],"spec":{{"lifecycle":"production","owner":"group:payments","type":"service"}}}}"#,
            relations.join(",")
        );
        let kept = Cached::new(&json, "default", Some("group:default/payments"));
        assert_eq!(kept.json().as_deref(), Some(json.as_str()));
        let Packed::Zstd { bytes, .. } = &kept.json else { panic!("an entity's JSON compresses") };
        assert!(bytes.len() * 3 < json.len(), "{} bytes packed from {}", bytes.len(), json.len());
        // Text that does not compress is kept as it is.
        let short = Cached::new("{}", "default", None);
        assert!(matches!(short.json, Packed::Plain(_)));
        assert_eq!(short.json().as_deref(), Some("{}"));
    }

    #[test]
    fn counts_are_kept_until_the_catalog_changes() {
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let cache = trusted(1 << 20, &WRITES);
        let t = cache.ticket();
        cache.put_count(t, "kind=component".into(), 42);
        assert_eq!(cache.count("kind=component"), Some(42));
        assert_eq!(cache.count("kind=api"), None);
        let before = cache.ticket();
        WRITES.fetch_add(1, Ordering::SeqCst);
        assert_eq!(cache.count("kind=component"), None, "a write forgets every count");
        cache.put_count(before, "kind=component".into(), 42);
        assert_eq!(cache.count("kind=component"), None, "a count made before the write is not kept");
        for i in 0..MAX_COUNTS + 1 {
            let t = cache.ticket();
            cache.put_count(t, format!("owner=group-{i}"), 1);
        }
        assert!(cache.lock().counts.len() <= MAX_COUNTS, "the number of counts is bounded");
        cache.lock().polled_at = None;
        assert_eq!(cache.count(&format!("owner=group-{MAX_COUNTS}")), None, "an untrusted cache answers nothing");
    }

    #[test]
    fn a_cache_of_zero_bytes_keeps_nothing() {
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let cache = trusted(0, &WRITES);
        let t = cache.ticket();
        cache.put(t, "component:default/a".into(), entry("{}"));
        assert!(cache.get("component:default/a").is_none());
    }
}
