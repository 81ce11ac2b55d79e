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
//! Memory is bounded by `PORTOLAN_CATALOG_CACHE_MB`; the oldest entries go first when it is full.

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

/// One cached answer: the JSON text, and what visibility checks need.
#[derive(Debug)]
pub struct Cached {
    /// Backstage's entity JSON, as sent.
    pub json: Box<str>,
    /// The entity's namespace.
    pub namespace: String,
    /// The entity's owner, as a full reference.
    pub owner_ref: Option<String>,
}

impl Cached {
    fn size(&self, key: &str) -> usize {
        key.len()
            + self.json.len()
            + self.namespace.len()
            + self.owner_ref.as_ref().map_or(0, String::len)
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
    map: HashMap<String, Arc<Cached>>,
    /// Keys, oldest first.
    order: VecDeque<String>,
    bytes: usize,
}

impl Inner {
    fn flush(&mut self) {
        self.map.clear();
        self.order.clear();
        self.bytes = 0;
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
        if self.budget == 0 {
            return None;
        }
        let mut inner = self.lock();
        inner.catch_up(self.writes);
        if !inner.trusted() {
            return None;
        }
        inner.map.get(entity_ref).cloned()
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
        if self.budget == 0 || size > self.budget {
            return;
        }
        let mut inner = self.lock();
        inner.catch_up(self.writes);
        if inner.epoch != ticket.0 || !inner.trusted() || inner.map.contains_key(&entity_ref) {
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
        Cached { json: json.into(), namespace: "default".into(), owner_ref: Some("group:default/a".into()) }
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
        assert_eq!(&*cache.get("component:default/a").expect("kept").json, "{\"a\":1}");
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
        assert_eq!(&*cache.get("component:default/b").expect("kept").json, "new");
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
        cache.put(t, "component:default/huge".into(), entry(&"y".repeat(one * 3)));
        assert!(cache.get("component:default/huge").is_none(), "an answer larger than the budget is not kept");
        assert!(cache.get("component:default/e4").is_some(), "and does not push the others out");
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
