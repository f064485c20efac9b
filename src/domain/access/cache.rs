//! A small time-bounded cache, one per isolate, that keeps KV reads off most requests.
//!
//! It caches every outcome of a read, a missing key and an invalid record included, so a flood
//! of well-formed but unknown tokens costs one KV read per token per TTL, not one per request.

use std::collections::HashMap;

use crate::domain::time::clock::UnixMillis;

#[derive(Debug)]
pub struct TtlCache<V> {
    ttl_ms: u64,
    capacity: usize,
    entries: HashMap<String, (UnixMillis, V)>,
}

impl<V: Clone> TtlCache<V> {
    #[must_use]
    pub fn new(ttl_ms: u64, capacity: usize) -> Self {
        Self { ttl_ms, capacity: capacity.max(1), entries: HashMap::new() }
    }

    /// The value stored under `key` if it is younger than the TTL.
    #[must_use]
    pub fn get(&self, key: &str, now: UnixMillis) -> Option<V> {
        let (stored_at, value) = self.entries.get(key)?;
        (now.0.saturating_sub(stored_at.0) < self.ttl_ms).then(|| value.clone())
    }

    pub fn put(&mut self, key: String, value: V, now: UnixMillis) {
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            let ttl = self.ttl_ms;
            self.entries.retain(|_, (at, _)| now.0.saturating_sub(at.0) < ttl);
            if self.entries.len() >= self.capacity {
                // Still full of live entries: start over rather than grow without bound.
                self.entries.clear();
            }
        }
        self.entries.insert(key, (now, value));
    }

    pub fn remove(&mut self, key: &str) {
        self.entries.remove(key);
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_until_the_ttl_then_misses() {
        let mut c = TtlCache::new(1000, 10);
        c.put("a".into(), 1, UnixMillis(0));
        assert_eq!(c.get("a", UnixMillis(999)), Some(1));
        assert_eq!(c.get("a", UnixMillis(1000)), None);
        assert_eq!(c.get("b", UnixMillis(0)), None);
    }

    #[test]
    fn stays_within_capacity() {
        let mut c = TtlCache::new(1000, 3);
        for i in 0..3 {
            c.put(format!("k{i}"), i, UnixMillis(0));
        }
        // Expired entries are dropped first.
        c.put("late".into(), 9, UnixMillis(5000));
        assert_eq!(c.len(), 1);
        for i in 0..10 {
            c.put(format!("n{i}"), i, UnixMillis(5000));
            assert!(c.len() <= 3);
        }
    }

    #[test]
    fn remove_forgets_a_key() {
        let mut c = TtlCache::new(1000, 3);
        c.put("a".into(), 1, UnixMillis(0));
        c.remove("a");
        assert!(c.is_empty());
    }
}
