//! An append-mostly vector stored in shared chunks, so that cloning a whole simulation (the visualizer's
//! checkpoints, every few seconds of a run) copies pointers, not logs: clones share every full chunk, and the first
//! write to a shared chunk copies only that chunk.
//!
//! A persistent vector crate (`imbl`) would also share structure, but through a tree with a lookup per level; logs
//! here are appended at the end and read by offset in the event loop's hot path, where two array lookups are
//! cheaper. This is the minimal structure for that one access pattern.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::Arc;

const CHUNK_BITS: usize = 10;
/// Entries per chunk.
const CHUNK: usize = 1 << CHUNK_BITS;

#[derive(Clone, PartialEq, Eq)]
pub struct Chunked<T: Clone> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T: Clone> Default for Chunked<T> {
    fn default() -> Self {
        Chunked { chunks: Vec::new(), len: 0 }
    }
}

impl<T: Clone> Chunked<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, value: T) {
        if self.len % CHUNK == 0 {
            self.chunks.push(Arc::new(Vec::with_capacity(CHUNK)));
        }
        let last = self.chunks.last_mut().expect("a chunk with room");
        Arc::make_mut(last).push(value);
        self.len += 1;
    }

    pub fn get(&self, index: usize) -> Option<&T> {
        if index >= self.len {
            return None;
        }
        Some(&self.chunks[index >> CHUNK_BITS][index & (CHUNK - 1)])
    }

    /// A mutable reference; copies the chunk first if a clone shares it.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        if index >= self.len {
            return None;
        }
        Some(&mut Arc::make_mut(&mut self.chunks[index >> CHUNK_BITS])[index & (CHUNK - 1)])
    }

    pub fn last(&self) -> Option<&T> {
        self.len.checked_sub(1).and_then(|i| self.get(i))
    }

    /// Keeps the first `len` entries.
    pub fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        self.chunks.truncate(len.div_ceil(CHUNK));
        if len % CHUNK != 0 {
            let last = self.chunks.last_mut().expect("len > 0 keeps a chunk");
            Arc::make_mut(last).truncate(len % CHUNK);
        }
        self.len = len;
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.chunks.iter().flat_map(|chunk| chunk.iter())
    }

    /// The entries in `start..end` (clamped to the length).
    pub fn range(&self, start: usize, end: usize) -> impl Iterator<Item = &T> + '_ {
        let end = end.min(self.len);
        let start = start.min(end);
        let first_chunk = start >> CHUNK_BITS;
        let skip = start & (CHUNK - 1);
        self.chunks[first_chunk..].iter().flat_map(|chunk| chunk.iter()).skip(skip).take(end - start)
    }

    /// A copy of the entries in `start..end` (clamped to the length).
    pub fn to_vec(&self, start: usize, end: usize) -> Vec<T> {
        self.range(start, end).cloned().collect()
    }
}

impl<T: Clone> std::ops::Index<usize> for Chunked<T> {
    type Output = T;

    fn index(&self, index: usize) -> &T {
        self.get(index).unwrap_or_else(|| panic!("index {index} out of range for length {}", self.len))
    }
}

impl<T: Clone> FromIterator<T> for Chunked<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut out = Chunked::new();
        for value in iter {
            out.push(value);
        }
        out
    }
}

impl<T: Clone + std::fmt::Debug> std::fmt::Debug for Chunked<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: Clone + Serialize> Serialize for Chunked<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de, T: Clone + Deserialize<'de>> Deserialize<'de> for Chunked<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Vec::<T>::deserialize(deserializer)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_vec_across_chunk_boundaries() {
        let mut chunked = Chunked::new();
        let mut plain = Vec::new();
        for i in 0..(3 * CHUNK + 17) {
            chunked.push(i);
            plain.push(i);
        }
        assert_eq!(chunked.len(), plain.len());
        assert_eq!(chunked.iter().copied().collect::<Vec<_>>(), plain);
        assert_eq!(chunked.to_vec(CHUNK - 3, CHUNK + 5), plain[CHUNK - 3..CHUNK + 5].to_vec());
        assert_eq!(chunked.to_vec(5, 1_000_000), plain[5..].to_vec());
        for len in [2 * CHUNK + 1, 2 * CHUNK, CHUNK - 1, 0] {
            chunked.truncate(len);
            plain.truncate(len);
            assert_eq!(chunked.iter().copied().collect::<Vec<_>>(), plain, "truncated to {len}");
            chunked.push(7);
            plain.push(7);
            assert_eq!(chunked.last(), plain.last());
        }
    }

    #[test]
    fn clones_share_chunks_and_writes_do_not_leak_between_them() {
        let mut a: Chunked<u32> = (0..(2 * CHUNK as u32 + 5)).collect();
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.chunks[0], &b.chunks[0]), "a clone copies no entries");
        *a.get_mut(3).unwrap() = 99;
        a.truncate(CHUNK + 1);
        a.push(42);
        assert_eq!(b[3], 3);
        assert_eq!(b.len(), 2 * CHUNK + 5);
        assert_eq!(a[3], 99);
        assert_eq!(a[CHUNK + 1], 42);
        assert!(Arc::ptr_eq(&a.chunks[1], &a.chunks[1]));
        assert!(!Arc::ptr_eq(&a.chunks[0], &b.chunks[0]), "the written chunk was copied");
    }
}
