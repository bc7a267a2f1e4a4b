//! An append-mostly vector stored in shared chunks, so that cloning a whole simulation (the visualizer's
//! checkpoints, every few seconds of a run) copies pointers, not logs: clones share every full chunk and copy only
//! the open tail (fewer than one chunk's 2^BITS entries, 1,024 by default), and the first write to a shared chunk
//! copies only that chunk.
//!
//! A persistent vector crate (`imbl`) would also share structure, but through a tree with a lookup per level; logs
//! here are appended at the end and read by offset in the event loop's hot path, where two array lookups are
//! cheaper. This is the minimal structure for that one access pattern. The tail is owned rather than shared so that
//! an append touches no reference count (`Arc::make_mut`'s atomic compare-and-swap cost 5-6% of a record-bound run).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::Arc;

/// Chunks of 2^10 entries unless a user picks another size: small enough that a clone copies little of an open
/// tail, large enough that lookups rarely cross chunks.
pub const DEFAULT_CHUNK_BITS: u32 = 10;

/// A first tail up to this many entries grows as a `Vec` does; past it, it takes a whole chunk.
const SMALL_TAIL: usize = 64;

#[derive(Clone, PartialEq, Eq)]
pub struct Chunked<T: Clone, const BITS: u32 = DEFAULT_CHUNK_BITS> {
    /// Full chunks of exactly `2^BITS` entries, shared between clones.
    full: Vec<Arc<Vec<T>>>,
    /// The entries after the full chunks: always fewer than `2^BITS`.
    tail: Vec<T>,
}

impl<T: Clone, const BITS: u32> Default for Chunked<T, BITS> {
    fn default() -> Self {
        Chunked { full: Vec::new(), tail: Vec::new() }
    }
}

impl<T: Clone, const BITS: u32> Chunked<T, BITS> {
    /// Entries per chunk.
    const CHUNK: usize = 1 << BITS;

    pub fn new() -> Self {
        Self::default()
    }

    fn full_len(&self) -> usize {
        self.full.len() * Self::CHUNK
    }

    pub fn len(&self) -> usize {
        self.full_len() + self.tail.len()
    }

    pub fn is_empty(&self) -> bool {
        self.full.is_empty() && self.tail.is_empty()
    }

    pub fn push(&mut self, value: T) {
        if self.tail.len() == self.tail.capacity() {
            self.grow_first_tail();
        }
        self.tail.push(value);
        if self.tail.len() == Self::CHUNK {
            // Later tails start at full size.
            let full = std::mem::replace(&mut self.tail, Vec::with_capacity(Self::CHUNK));
            self.full.push(Arc::new(full));
        }
    }

    pub fn get(&self, index: usize) -> Option<&T> {
        match index.checked_sub(self.full_len()) {
            Some(in_tail) => self.tail.get(in_tail),
            None => Some(&self.full[index >> BITS][index & (Self::CHUNK - 1)]),
        }
    }

    /// A mutable reference; copies the chunk first if a clone shares it.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        match index.checked_sub(self.full_len()) {
            Some(in_tail) => self.tail.get_mut(in_tail),
            None => Some(&mut Arc::make_mut(&mut self.full[index >> BITS])[index & (Self::CHUNK - 1)]),
        }
    }

    pub fn last(&self) -> Option<&T> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }

    /// A first tail grows as a Vec does while it is small (small logs stay small), then takes a whole chunk at
    /// once: doubling on to 2^BITS would copy the entries written so far, long out of the cache, four more times.
    #[cold]
    fn grow_first_tail(&mut self) {
        let len = self.tail.len();
        let wanted = if len < SMALL_TAIL { (len * 2).max(4) } else { Self::CHUNK };
        self.tail.reserve_exact(wanted.min(Self::CHUNK) - len);
    }

    /// Keeps the first `len` entries.
    pub fn truncate(&mut self, len: usize) {
        if let Some(in_tail) = len.checked_sub(self.full_len()) {
            self.tail.truncate(in_tail);
            return;
        }
        self.full.truncate(len.div_ceil(Self::CHUNK));
        let in_last = len % Self::CHUNK;
        self.tail = Vec::with_capacity(Self::CHUNK);
        if in_last != 0 {
            // The last kept chunk becomes the tail again; a shared one is copied only up to `len`.
            let last = self.full.pop().expect("len > 0 keeps a chunk");
            self.tail.extend_from_slice(&last[..in_last]);
        }
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.full.iter().flat_map(|chunk| chunk.iter()).chain(self.tail.iter())
    }

    /// The entries in `start..end` (clamped to the length).
    pub fn range(&self, start: usize, end: usize) -> impl Iterator<Item = &T> + '_ {
        let end = end.min(self.len());
        let start = start.min(end);
        let first_chunk = (start >> BITS).min(self.full.len());
        let skip = start - first_chunk * Self::CHUNK;
        self.full[first_chunk..]
            .iter()
            .flat_map(|chunk| chunk.iter())
            .chain(self.tail.iter())
            .skip(skip)
            .take(end - start)
    }

    /// Calls `f` with the entries in `start..end` (clamped to the length) as consecutive slices, one per chunk.
    pub fn for_each_slice(&self, start: usize, end: usize, mut f: impl FnMut(&[T])) {
        let end = end.min(self.len());
        let mut at = start.min(end);
        let full_len = self.full_len();
        while at < end {
            let (slice, offset) = match at.checked_sub(full_len) {
                Some(in_tail) => (&self.tail[..], in_tail),
                None => (&self.full[at >> BITS][..], at & (Self::CHUNK - 1)),
            };
            let take = (slice.len() - offset).min(end - at);
            f(&slice[offset..offset + take]);
            at += take;
        }
    }
}

impl<T: Clone, const BITS: u32> std::ops::Index<usize> for Chunked<T, BITS> {
    type Output = T;

    fn index(&self, index: usize) -> &T {
        self.get(index).unwrap_or_else(|| panic!("index {index} out of range for length {}", self.len()))
    }
}

impl<T: Clone, const BITS: u32> FromIterator<T> for Chunked<T, BITS> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut out = Self::new();
        for value in iter {
            out.push(value);
        }
        out
    }
}

impl<T: Clone + std::fmt::Debug, const BITS: u32> std::fmt::Debug for Chunked<T, BITS> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: Clone + Serialize, const BITS: u32> Serialize for Chunked<T, BITS> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de, T: Clone + Deserialize<'de>, const BITS: u32> Deserialize<'de> for Chunked<T, BITS> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Vec::<T>::deserialize(deserializer)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHUNK: usize = 1 << DEFAULT_CHUNK_BITS;

    #[test]
    fn behaves_like_a_vec_across_chunk_boundaries() {
        let mut chunked: Chunked<usize> = Chunked::new();
        let mut plain = Vec::new();
        for i in 0..(3 * CHUNK + 17) {
            chunked.push(i);
            plain.push(i);
        }
        assert_eq!(chunked.len(), plain.len());
        assert_eq!(chunked.iter().copied().collect::<Vec<_>>(), plain);
        let copy = |start, end| {
            let mut out = Vec::new();
            chunked.for_each_slice(start, end, |slice| out.extend_from_slice(slice));
            out
        };
        assert_eq!(copy(CHUNK - 3, CHUNK + 5), plain[CHUNK - 3..CHUNK + 5].to_vec());
        assert_eq!(copy(5, 1_000_000), plain[5..].to_vec());
        for len in [2 * CHUNK + 1, 2 * CHUNK, CHUNK - 1, 0] {
            chunked.truncate(len);
            plain.truncate(len);
            assert_eq!(chunked.iter().copied().collect::<Vec<_>>(), plain, "truncated to {len}");
            chunked.push(7);
            plain.push(7);
            assert_eq!(chunked.last(), plain.last());
        }
    }

    /// A small first tail stays small; past `SMALL_TAIL` entries it takes a whole chunk, and never grows (copies)
    /// again before the chunk is full.
    #[test]
    fn a_first_tail_grows_to_a_whole_chunk_once_past_small() {
        let mut chunked: Chunked<u32> = Chunked::new();
        (0..10).for_each(|i| chunked.push(i));
        assert!(chunked.tail.capacity() < SMALL_TAIL, "small logs stay small: {}", chunked.tail.capacity());
        (10..=SMALL_TAIL as u32).for_each(|i| chunked.push(i));
        assert_eq!(chunked.tail.capacity(), CHUNK);
        let buffer = chunked.tail.as_ptr();
        (SMALL_TAIL as u32 + 1..CHUNK as u32 - 1).for_each(|i| chunked.push(i));
        assert_eq!(chunked.tail.as_ptr(), buffer, "no reallocation until the chunk is full");
        assert_eq!(chunked.iter().copied().collect::<Vec<_>>(), (0..CHUNK as u32 - 1).collect::<Vec<_>>());
    }

    #[test]
    fn clones_share_chunks_and_writes_do_not_leak_between_them() {
        let mut a: Chunked<u32> = (0..(2 * CHUNK as u32 + 5)).collect();
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.full[0], &b.full[0]), "a clone shares the full chunks");
        *a.get_mut(3).unwrap() = 99;
        a.truncate(CHUNK + 1);
        a.push(42);
        assert_eq!(b[3], 3);
        assert_eq!(b.len(), 2 * CHUNK + 5);
        assert_eq!(a[3], 99);
        assert_eq!(a[CHUNK + 1], 42);
        assert_eq!(a.len(), CHUNK + 2);
        assert!(!Arc::ptr_eq(&a.full[0], &b.full[0]), "the written chunk was copied");
    }
}
