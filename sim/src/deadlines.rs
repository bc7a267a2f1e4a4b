//! A set of timeouts ordered by (deadline, key), for the held fetches, produces and open batches that each node
//! expires with one coalesced timer.
//!
//! It behaves exactly like a `BTreeSet<(Micros, K)>` (same order, same first element), but is built for how
//! timeouts are used: almost every deadline is `now + a fixed timeout`, so inserts land at the back of a sorted
//! deque; most entries are removed long before they expire (the fetch was answered, the batch was sent), so removal
//! only marks the entry by binary search and the front sheds marked entries as it is read. A `BTreeSet` spent a
//! fifth of a fetch-bound run rebalancing nodes for entries that never expired.

use crate::time::Micros;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::VecDeque;

#[derive(Clone, Debug)]
pub struct DeadlineSet<K> {
    /// Sorted by `(deadline, key)`; `removed` marks entries that are no longer in the set.
    entries: VecDeque<Entry<K>>,
    live: usize,
}

#[derive(Clone, Copy, Debug)]
struct Entry<K> {
    deadline: Micros,
    key: K,
    removed: bool,
}

impl<K> Default for DeadlineSet<K> {
    fn default() -> Self {
        DeadlineSet { entries: VecDeque::new(), live: 0 }
    }
}

impl<K: Ord + Copy> DeadlineSet<K> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.live = 0;
    }

    fn search(&self, deadline: Micros, key: K) -> Result<usize, usize> {
        // Timeouts are mostly removed oldest first (a batch drained, a held fetch answered) or newest first: look
        // at the ends before searching.
        let wanted = (deadline, key);
        if self.entries.front().is_some_and(|e| (e.deadline, e.key) == wanted) {
            return Ok(0);
        }
        if self.entries.back().is_some_and(|e| (e.deadline, e.key) == wanted) {
            return Ok(self.entries.len() - 1);
        }
        self.entries.binary_search_by(|e| (e.deadline, e.key).cmp(&wanted))
    }

    /// Adds `(deadline, key)`; returns false when it was already in the set.
    pub fn insert(&mut self, deadline: Micros, key: K) -> bool {
        let entry = Entry { deadline, key, removed: false };
        match self.entries.back() {
            Some(last) if (last.deadline, last.key) >= (deadline, key) => match self.search(deadline, key) {
                Ok(at) if !self.entries[at].removed => return false,
                Ok(at) => self.entries[at].removed = false,
                Err(at) => self.entries.insert(at, entry),
            },
            _ => self.entries.push_back(entry),
        }
        self.live += 1;
        true
    }

    /// Removes `(deadline, key)`; returns false when it was not in the set.
    pub fn remove(&mut self, deadline: Micros, key: K) -> bool {
        let Ok(at) = self.search(deadline, key) else { return false };
        if self.entries[at].removed {
            return false;
        }
        self.entries[at].removed = true;
        self.live -= 1;
        self.shed();
        true
    }

    /// Drops marked entries at the front, and compacts when marked entries outnumber the live ones.
    fn shed(&mut self) {
        while self.entries.front().is_some_and(|e| e.removed) {
            self.entries.pop_front();
        }
        if self.entries.len() > 2 * self.live + 64 {
            self.entries.retain(|e| !e.removed);
        }
    }

    /// The earliest `(deadline, key)`.
    pub fn first(&self) -> Option<(Micros, K)> {
        // `shed` runs after every removal, so the front is always live.
        self.entries.front().map(|e| (e.deadline, e.key))
    }

    pub fn pop_first(&mut self) -> Option<(Micros, K)> {
        let first = self.entries.pop_front()?;
        self.live -= 1;
        self.shed();
        Some((first.deadline, first.key))
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (Micros, K)> + '_ {
        self.entries.iter().filter(|e| !e.removed).map(|e| (e.deadline, e.key))
    }
}

impl<K: Ord + Copy + Serialize> Serialize for DeadlineSet<K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de, K: Ord + Copy + Deserialize<'de>> Deserialize<'de> for DeadlineSet<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut set = DeadlineSet::new();
        for (deadline, key) in Vec::<(Micros, K)>::deserialize(deserializer)? {
            set.insert(deadline, key);
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::{RngCore, SeedableRng};
    use std::collections::BTreeSet;

    /// Random inserts (mostly at the back, some earlier), removals of present and absent entries and pops, checked
    /// against a `BTreeSet` after every step.
    #[test]
    fn behaves_like_a_btree_set() {
        let mut set = DeadlineSet::new();
        let mut reference: BTreeSet<(Micros, u32)> = BTreeSet::new();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut next = |bound: u64| rng.next_u64() % bound;
        let mut now = 0;
        for step in 0..50_000u32 {
            now += next(3);
            match next(10) {
                0..=4 => {
                    // Mostly `now + timeout`; sometimes a shorter timeout, which lands before the back.
                    let deadline = if next(8) == 0 { now + next(50) } else { now + 100 };
                    let key = next(40) as u32;
                    assert_eq!(set.insert(deadline, key), reference.insert((deadline, key)), "step {step}");
                }
                5..=7 => {
                    let probe = reference.iter().nth(next(reference.len() as u64 + 1) as usize).copied();
                    let (deadline, key) = probe.unwrap_or((now + 100, 999));
                    assert_eq!(set.remove(deadline, key), reference.remove(&(deadline, key)), "step {step}");
                }
                _ => assert_eq!(set.pop_first(), reference.pop_first(), "step {step}"),
            }
            assert_eq!(set.len(), reference.len());
            assert_eq!(set.first(), reference.first().copied(), "step {step}");
        }
        assert!(set.iter().eq(reference.iter().copied()));
        assert!(set.entries.len() <= 2 * set.live + 64, "marked entries are compacted");
    }

    #[test]
    fn serializes_as_its_live_entries() {
        let mut set = DeadlineSet::new();
        set.insert(5, 1u32);
        set.insert(7, 2);
        set.insert(9, 3);
        set.remove(7, 2);
        let text = serde_json::to_string(&set).unwrap();
        assert_eq!(text, "[[5,1],[9,3]]");
        let back: DeadlineSet<u32> = serde_json::from_str(&text).unwrap();
        assert!(back.iter().eq(set.iter()));
    }
}
