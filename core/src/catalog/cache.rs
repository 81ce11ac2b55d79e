//! A read cache of Backstage's entity JSON, the answer of `/api/catalog/entities/by-name/…`: tools that mirror
//! the catalog (and Backstage plugins pointed at Portolan) ask for entities by name over and over, and answering
//! from memory takes a fraction of the two queries a lookup otherwise costs.
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

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbErr, Statement};

/// How often [`EntityCache::poll`] is meant to run.
pub const POLL_EVERY: Duration = Duration::from_secs(1);

/// The cache answers only while its last successful poll is at most this old.
const TRUST_FOR: Duration = Duration::from_secs(5);

/// Rough bookkeeping cost of one entry beyond its strings (map slot, queue slot, `Arc`, lengths).
const ENTRY_OVERHEAD: usize = 160;

/// Counts of lists kept at most (a few hundred bytes each).
const MAX_COUNTS: usize = 2048;

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
        let json = match &self.json {
            Packed::Zstd { bytes, .. } => bytes.len(),
            Packed::Plain(text) => text.len(),
        };
        key.len() * 2 + json + self.namespace.len() + self.owner_ref.as_ref().map_or(0, |o| o.len()) + ENTRY_OVERHEAD
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
    map: HashMap<String, Arc<Cached>>,
    /// Keys, oldest first.
    order: VecDeque<String>,
    bytes: usize,
    /// How many entities a list's filters match, by filters and viewer ([`EntityCache::count`]).
    counts: HashMap<String, u64>,
}

impl Inner {
    fn flush(&mut self) {
        self.map.clear();
        self.order.clear();
        self.bytes = 0;
        self.counts.clear();
        self.epoch += 1;
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
        self.readable()?.map.get(entity_ref).cloned()
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
        if inner.map.contains_key(&entity_ref) {
            return;
        }
        while inner.bytes + size > self.budget {
            let Some(oldest) = inner.order.pop_front() else { break };
            if let Some(gone) = inner.map.remove(&oldest) {
                inner.bytes -= gone.size(&oldest);
            }
        }
        inner.bytes += size;
        inner.order.push_back(entity_ref.clone());
        inner.map.insert(entity_ref, Arc::new(cached));
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

    /// Entries and bytes held (for `/metrics` and tests).
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.map.len(), inner.bytes)
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
