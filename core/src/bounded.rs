//! A map bounded in bytes whose oldest entries leave first: the shape of every in-memory cache here (the
//! catalog's by-name answers, the docs' search texts, histories and rendered pages). It takes no lock itself; each
//! cache keeps one inside its own lock, beside whatever else that lock guards.

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// Entries with the bytes each holds, kept until room is needed; then those kept longest go first.
#[derive(Debug)]
pub struct OldestFirst<K, V> {
    map: HashMap<K, (V, usize)>,
    /// Keys in the order they were kept.
    order: VecDeque<K>,
    bytes: usize,
}

impl<K, V> Default for OldestFirst<K, V> {
    fn default() -> Self {
        OldestFirst { map: HashMap::new(), order: VecDeque::new(), bytes: 0 }
    }
}

impl<K: Hash + Eq + Clone, V> OldestFirst<K, V> {
    /// The entry kept under `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(key).map(|(v, _)| v)
    }

    /// Whether something is kept under `key`.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.contains_key(key)
    }

    /// Entries kept.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Bytes held, as weighed by whoever kept the entries.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Keeps `value`, weighing `size` bytes, under `key` (replacing what was there), after dropping the entries
    /// kept longest until it fits in `budget`. A value larger than the whole budget is not kept, and drops
    /// nothing: the answer is whether it was kept.
    pub fn insert(&mut self, key: K, value: V, size: usize, budget: usize) -> bool {
        if size > budget {
            return false;
        }
        if let Some((_, old)) = self.map.remove(&key) {
            self.bytes -= old;
            self.order.retain(|k| k != &key);
        }
        self.make_room(size, budget);
        self.bytes += size;
        self.order.push_back(key.clone());
        self.map.insert(key, (value, size));
        true
    }

    /// Drops the entries kept longest until `size` more bytes fit in `budget` (or nothing is left).
    pub fn make_room(&mut self, size: usize, budget: usize) {
        while self.bytes + size > budget {
            let Some(oldest) = self.order.pop_front() else { break };
            if let Some((_, gone)) = self.map.remove(&oldest) {
                self.bytes -= gone;
            }
        }
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entries_kept_longest_leave_first_and_the_budget_holds() {
        let mut m = OldestFirst::default();
        for id in 1..=3 {
            assert!(m.insert(id, id * 10, 100, 300));
        }
        assert_eq!((m.len(), m.bytes()), (3, 300));
        assert!(m.insert(4, 40, 100, 300));
        assert_eq!(m.get(&1), None, "the first kept left first");
        assert_eq!([2, 3, 4].map(|k| m.get(&k).copied()), [Some(20), Some(30), Some(40)]);
        // A larger value drops as many as it needs.
        assert!(m.insert(5, 50, 200, 300));
        assert_eq!((m.len(), m.bytes()), (2, 300));
        assert!(m.contains_key(&4) && m.contains_key(&5));
        // Replacing counts only the new value and keeps the others.
        assert!(m.insert(4, 41, 10, 300));
        assert_eq!((m.get(&4).copied(), m.bytes()), (Some(41), 210));
        // Replaced, the key is the newest: it leaves last.
        m.make_room(250, 300);
        assert_eq!((m.get(&5), m.get(&4).copied(), m.bytes()), (None, Some(41), 10));
    }

    #[test]
    fn what_is_larger_than_the_budget_is_not_kept_and_drops_nothing() {
        let mut m = OldestFirst::default();
        assert!(m.insert("a".to_owned(), (), 100, 500));
        assert!(!m.insert("b".to_owned(), (), 501, 500));
        assert!(m.contains_key("a") && !m.contains_key("b"));
        assert!(!m.insert("c".to_owned(), (), 1, 0), "a zero budget keeps nothing");
        m.clear();
        assert!(m.is_empty() && m.bytes() == 0);
    }
}
