//! A fixed-size set of small indices (partition numbers) as one bit each: insert, remove and "the next member at or
//! after i" cost a few word operations, where a `BTreeSet` walks and allocates nodes.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexBits {
    words: Vec<u64>,
}

impl IndexBits {
    /// An empty set that can hold the indices `0..capacity`.
    pub fn with_capacity(capacity: usize) -> Self {
        IndexBits { words: vec![0; capacity.div_ceil(64)] }
    }

    /// The number of indices the set can hold (a multiple of 64).
    pub fn capacity(&self) -> usize {
        self.words.len() * 64
    }

    pub fn insert(&mut self, index: usize) {
        self.words[index / 64] |= 1 << (index % 64);
    }

    pub fn remove(&mut self, index: usize) {
        self.words[index / 64] &= !(1 << (index % 64));
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// The smallest member at or after `from` and before `end`.
    pub fn next_from(&self, from: usize, end: usize) -> Option<usize> {
        let end = end.min(self.capacity());
        let mut word_index = from / 64;
        if from >= end {
            return None;
        }
        let mut word = self.words[word_index] & (!0u64 << (from % 64));
        loop {
            if word != 0 {
                let found = word_index * 64 + word.trailing_zeros() as usize;
                return (found < end).then_some(found);
            }
            word_index += 1;
            if word_index * 64 >= end {
                return None;
            }
            word = self.words[word_index];
        }
    }

    pub fn first(&self) -> Option<usize> {
        self.next_from(0, self.capacity())
    }

    /// Every member in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        let mut next = 0;
        std::iter::from_fn(move || {
            let found = self.next_from(next, self.capacity())?;
            next = found + 1;
            Some(found)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Random inserts and removes against a `BTreeSet`: membership, order and `next_from` agree.
    #[test]
    fn agrees_with_a_btree_set() {
        let capacity = 300;
        let mut bits = IndexBits::with_capacity(capacity);
        let mut reference = BTreeSet::new();
        let mut state = 12345u64;
        for _ in 0..20_000 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let index = (state >> 33) as usize % capacity;
            if state & 1 == 0 {
                bits.insert(index);
                reference.insert(index);
            } else {
                bits.remove(index);
                reference.remove(&index);
            }
            let from = (state >> 20) as usize % (capacity + 10);
            let end = (state >> 40) as usize % (capacity + 70);
            assert_eq!(bits.next_from(from, end), reference.range(from..).next().copied().filter(|&i| i < end));
            assert_eq!(bits.next_from(index, index + 1).is_some(), reference.contains(&index));
            assert_eq!(bits.is_empty(), reference.is_empty());
        }
        assert_eq!(bits.iter().collect::<Vec<_>>(), reference.iter().copied().collect::<Vec<_>>());
        assert_eq!(bits.first(), reference.first().copied());
    }
}
