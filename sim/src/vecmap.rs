//! A small map kept as a vector sorted by key: for the few requests a node has in flight at once, where a
//! `BTreeMap` spends more on allocating and balancing nodes than on finding anything. Iteration is in key order,
//! as a `BTreeMap`'s is; inserting keys in increasing order (request ids) appends.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VecMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap { entries: Vec::new() }
    }
}

impl<K: Ord + Copy, V> VecMap<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    fn search(&self, key: &K) -> Result<usize, usize> {
        // Most lookups are for the oldest entry (answers mostly come back in order): try it before a binary search.
        match self.entries.first() {
            Some((first, _)) if first == key => return Ok(0),
            _ => {}
        }
        self.entries.binary_search_by(|(k, _)| k.cmp(key))
    }

    /// Inserts or replaces; returns the value replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        if self.entries.last().is_none_or(|(last, _)| *last < key) {
            self.entries.push((key, value));
            return None;
        }
        match self.search(&key) {
            Ok(at) => Some(std::mem::replace(&mut self.entries[at].1, value)),
            Err(at) => {
                self.entries.insert(at, (key, value));
                None
            }
        }
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let at = self.search(key).ok()?;
        Some(self.entries.remove(at).1)
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.search(key).ok().map(|at| &self.entries[at].1)
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.search(key).ok().map(|at| &mut self.entries[at].1)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.iter_mut().map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Random inserts, replacements and removals against a `BTreeMap`: the same answers and the same order.
    #[test]
    fn agrees_with_a_btree_map() {
        let mut map = VecMap::new();
        let mut reference = BTreeMap::new();
        let mut state = 99u64;
        for step in 0..20_000u32 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let key = (state >> 40) % 40;
            match state % 3 {
                0 | 1 => assert_eq!(map.insert(key, step), reference.insert(key, step)),
                _ => assert_eq!(map.remove(&key), reference.remove(&key)),
            }
            assert_eq!(map.get(&key), reference.get(&key));
            assert_eq!(map.len(), reference.len());
        }
        assert!(map.iter().eq(reference.iter()));
        if let (Some(v), Some(r)) = (map.get_mut(&3), reference.get_mut(&3)) {
            (*v, *r) = (7, 7);
        }
        assert!(map.values().eq(reference.values()));
    }
}
