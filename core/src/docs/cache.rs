//! In-memory caches of what the docs derive from revisions, which never change once written (a restore writes a
//! new one): what search reads of a revision ([`RevisionTexts`], by revision id), a page's history up to a given
//! revision ([`Histories`], checked against the page's current revision on every read) and rendered pages
//! ([`rendered`], by the source and the targets of its wiki links). None ever holds anything a write elsewhere
//! could make wrong, so none needs invalidating, on one process or on replicas sharing a database.
//!
//! They share `PORTOLAN_DOCS_CACHE_MB` (7/16 search texts, 7/16 rendered pages, 1/8 histories), each bounded in
//! bytes; the entries kept longest go first when one is full.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, LazyLock, Mutex};

use portolan_types::docs::RevisionView;

use super::markdown::Rendered;
use crate::bounded::OldestFirst;

/// `PORTOLAN_DOCS_CACHE_MB` when it is not set.
pub const DEFAULT_MB: u32 = 64;

/// The bytes each cache may hold out of `mb` mebibytes: 7/16 search texts, 7/16 rendered pages, 1/8 histories.
struct Shares {
    texts: usize,
    rendered: usize,
    histories: usize,
}

fn shares(mb: u32) -> Shares {
    let total = usize::try_from(mb).unwrap_or(usize::MAX).saturating_mul(1 << 20);
    Shares { texts: total / 16 * 7, rendered: total / 16 * 7, histories: total / 8 }
}

/// Rough bookkeeping cost of one entry beyond what [`Weighed::weight`] counts (map and queue slots, `Arc`).
const ENTRY_OVERHEAD: usize = 96;

/// Something kept, with the bytes it holds.
pub trait Weighed {
    /// Bytes held on the heap and inline.
    fn weight(&self) -> usize;
}

/// A map bounded in bytes, emptied oldest first.
pub struct Bounded<K, V> {
    budget: usize,
    inner: Mutex<OldestFirst<K, Arc<V>>>,
}

impl<K: Hash + Eq + Clone, V: Weighed> Bounded<K, V> {
    /// A cache of at most `budget` bytes; `0` keeps nothing.
    pub fn new(budget: usize) -> Self {
        Bounded { budget, inner: Mutex::new(OldestFirst::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OldestFirst<K, Arc<V>>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The entry kept under `key`.
    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        if self.budget == 0 {
            return None;
        }
        self.lock().get(key).cloned()
    }

    /// The entries kept under these keys (the others are missing from the answer).
    pub fn get_many(&self, keys: impl IntoIterator<Item = K>) -> HashMap<K, Arc<V>> {
        if self.budget == 0 {
            return HashMap::new();
        }
        let inner = self.lock();
        keys.into_iter().filter_map(|k| inner.get(&k).map(|v| (k, v.clone()))).collect()
    }

    /// Keeps `value` under `key` (replacing what was there), making room by dropping the entries kept longest. A
    /// value larger than the whole budget is not kept.
    pub fn put(&self, key: K, value: Arc<V>) {
        let size = value.weight() + ENTRY_OVERHEAD;
        if size <= self.budget {
            self.lock().insert(key, value, size, self.budget);
        }
    }

    /// Bytes held (values and bookkeeping).
    pub fn bytes(&self) -> usize {
        self.lock().bytes()
    }
}

/// One revision's text as search reads it.
#[derive(Debug, PartialEq, Eq)]
pub struct RevisionText {
    /// The Markdown source, lower-cased (ranking, and checking that every word occurs).
    pub lower: Box<str>,
    /// The source as reading text: markup characters dropped, whitespace collapsed (snippets).
    pub plain: Box<str>,
}

impl RevisionText {
    /// The text of a revision with this Markdown source.
    pub fn of(markdown: &str) -> RevisionText {
        RevisionText { lower: markdown.to_lowercase().into(), plain: crate::search::plain_text(markdown).into() }
    }
}

impl Weighed for RevisionText {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>() + self.lower.len() + self.plain.len()
    }
}

/// What search reads of revisions, by revision id; one per database (`AppState::docs_cache`), since ids name
/// rows of one database. Ids are never given twice: both backends number revisions with a sequence that does not
/// reuse the ids of deleted rows.
pub type RevisionTexts = Bounded<i64, RevisionText>;

/// A page's history: its revisions up to `until` (a revision id), newest first.
#[derive(Debug)]
pub struct History {
    /// The newest revision listed.
    pub until: i64,
    /// The revisions.
    pub revisions: Vec<RevisionView>,
}

impl Weighed for History {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>()
            + self
                .revisions
                .iter()
                .map(|r| {
                    std::mem::size_of_val(r) + r.title.len() + r.summary.len() + r.author.len() + r.created_at.len()
                })
                .sum::<usize>()
    }
}

/// Page histories by page id. An entry answers only a read that found the page's current revision to be its
/// `until`; revisions of a page only ever get added after it, so the list is then exactly right.
pub type Histories = Bounded<i64, History>;

/// The per-database caches (`AppState::docs_cache`).
pub struct DocsCache {
    /// What search reads of revisions.
    pub texts: RevisionTexts,
    /// Page histories.
    pub histories: Histories,
}

impl DocsCache {
    /// The caches, sharing `mb` mebibytes with the process's rendered pages (see the module's documentation).
    pub fn with_megabytes(mb: u32) -> DocsCache {
        let shares = shares(mb);
        DocsCache { texts: Bounded::new(shares.texts), histories: Bounded::new(shares.histories) }
    }
}

impl Weighed for Rendered {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.html.len()
            + self.toc.iter().map(|t| std::mem::size_of_val(t) + t.id.len() + t.text.len()).sum::<usize>()
            + self.broken.iter().map(|b| std::mem::size_of_val(b) + b.len()).sum::<usize>()
    }
}

/// Rendered pages by a SHA-256 digest of their source and link targets. The key is the content itself, so one
/// cache serves the whole process, whatever database a page came from.
pub type Renderings = Bounded<[u8; 32], Rendered>;

static RENDERED: LazyLock<Mutex<Arc<Renderings>>> =
    LazyLock::new(|| Mutex::new(Arc::new(Bounded::new(shares(DEFAULT_MB).rendered))));

/// Sets the budget of the rendered-page cache from `PORTOLAN_DOCS_CACHE_MB` (7/16 of it), emptying the cache if the
/// budget changes.
pub fn set_render_budget(mb: u32) {
    let mut cache = RENDERED.lock().unwrap_or_else(|e| e.into_inner());
    let budget = shares(mb).rendered;
    if cache.budget != budget {
        *cache = Arc::new(Bounded::new(budget));
    }
}

/// The key of a rendering: a digest of the source and the link targets, each length-prefixed, links in order.
pub fn render_key(source: &str, links: &HashMap<String, String>) -> [u8; 32] {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    let mut part = |s: &str| {
        hash.update((s.len() as u64).to_le_bytes());
        hash.update(s.as_bytes());
    };
    part(source);
    let mut sorted: Vec<(&String, &String)> = links.iter().collect();
    sorted.sort();
    for (written, target) in sorted {
        part(written);
        part(target);
    }
    hash.finalize().into()
}

/// The rendered-page cache.
pub fn rendered() -> Arc<Renderings> {
    RENDERED.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Blob(usize);

    impl Weighed for Blob {
        fn weight(&self) -> usize {
            self.0
        }
    }

    #[test]
    fn a_revision_reads_as_lower_case_source_and_plain_text() {
        let t = RevisionText::of("# Restart the **Payments** API\n\n| a | b |");
        assert_eq!(&*t.lower, "# restart the **payments** api\n\n| a | b |");
        assert_eq!(&*t.plain, "Restart the Payments API a b");
    }

    #[test]
    fn kept_entries_are_found_by_key() {
        let cache: RevisionTexts = Bounded::new(10_000);
        cache.put(7, Arc::new(RevisionText::of("Payments")));
        let found = cache.get_many([7, 8]);
        assert_eq!(found.len(), 1);
        assert_eq!(&*found[&7].lower, "payments");
        assert!(cache.get(&8).is_none());
    }

    #[test]
    fn the_entries_kept_longest_go_first_and_the_budget_holds() {
        let each = 1000 + ENTRY_OVERHEAD;
        let cache = Bounded::new(3 * each);
        for id in 1..=3 {
            cache.put(id, Arc::new(Blob(1000)));
        }
        assert_eq!(cache.get_many(1..=3).len(), 3);
        cache.put(4, Arc::new(Blob(1000)));
        let found = cache.get_many(1..=4);
        assert!(!found.contains_key(&1), "the first kept went first");
        assert!([2, 3, 4].iter().all(|id| found.contains_key(id)));
        assert_eq!(cache.bytes(), 3 * each);
        // A larger value makes room for itself by dropping as many as it needs.
        cache.put(5, Arc::new(Blob(2000)));
        let found = cache.get_many(1..=5);
        assert_eq!(found.keys().copied().collect::<std::collections::BTreeSet<_>>(), [4, 5].into());
        assert!(cache.bytes() <= 3 * each);
        // Replacing an entry counts only the new one.
        cache.put(4, Arc::new(Blob(10)));
        assert_eq!(cache.bytes(), 2000 + 10 + 2 * ENTRY_OVERHEAD);
        assert_eq!(cache.get(&4).map(|b| b.0), Some(10));
    }

    #[test]
    fn a_rendering_is_keyed_by_its_source_and_every_link_target() {
        let links = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
        };
        let base = render_key("See [[Deploy]] and [[Rollback]].", &links(&[("Deploy", "/docs/a/deploy")]));
        let same = render_key("See [[Deploy]] and [[Rollback]].", &links(&[("Deploy", "/docs/a/deploy")]));
        assert_eq!(base, same);
        let others = [
            render_key("See [[Deploy]] and [[Rollback]]!", &links(&[("Deploy", "/docs/a/deploy")])),
            render_key("See [[Deploy]] and [[Rollback]].", &links(&[])),
            render_key("See [[Deploy]] and [[Rollback]].", &links(&[("Deploy", "/docs/b/deploy")])),
            render_key(
                "See [[Deploy]] and [[Rollback]].",
                &links(&[("Deploy", "/docs/a/deploy"), ("Rollback", "/docs/a/rollback")]),
            ),
            // Lengths keep the parts apart: the same bytes cut elsewhere are another key.
            render_key("See [[Deploy]] and [[Rollback]].", &links(&[("Deplo", "y/docs/a/deploy")])),
        ];
        for (n, other) in others.iter().enumerate() {
            assert_ne!(&base, other, "change {n}");
        }
    }

    #[test]
    fn a_zero_budget_keeps_nothing_and_an_oversized_value_is_not_kept() {
        let off = Bounded::new(0);
        off.put(1, Arc::new(Blob(10)));
        assert!(off.get_many([1]).is_empty());
        let small = Bounded::new(500);
        small.put(1, Arc::new(Blob(100)));
        small.put(2, Arc::new(Blob(1000)));
        assert_eq!(small.get_many([1, 2]).keys().copied().collect::<Vec<_>>(), [1], "the big one did not evict");
    }
}
