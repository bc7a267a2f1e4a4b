//! Spare vectors for the payloads that every fetch and produce carries: the node that consumed a message hands its
//! emptied vector back, and the next sender of that kind of message reuses it instead of allocating.
//!
//! This is memory management, not protocol: what a vector holds is always written afresh, so reuse changes no
//! outcome, and one run's order of takes and gives is as deterministic as the run. Bounded: at most `MAX_SPARE`
//! vectors per kind are kept, none larger than `MAX_CAPACITY` elements.

use crate::ids::PartitionIdx;
use crate::log::LogEntry;
use crate::message::{FetchPartition, FetchResult, KafkaError, ProduceBatch};
use crate::producer::Batch;

const MAX_SPARE: usize = 64;
const MAX_CAPACITY: usize = 4096;

/// Emptied vectors of one element type.
#[derive(Debug)]
pub struct Pool<T> {
    spare: Vec<Vec<T>>,
}

impl<T> Default for Pool<T> {
    fn default() -> Self {
        Pool { spare: Vec::new() }
    }
}

/// Spare vectors are not part of a simulation's state: a clone starts with none.
impl<T> Clone for Pool<T> {
    fn clone(&self) -> Self {
        Pool::default()
    }
}

impl<T> Pool<T> {
    /// An empty vector with room for at least `capacity` elements.
    pub fn take(&mut self, capacity: usize) -> Vec<T> {
        match self.spare.pop() {
            Some(mut vector) => {
                vector.reserve(capacity);
                vector
            }
            None => Vec::with_capacity(capacity),
        }
    }

    /// Takes back a vector whose contents are no longer needed (they are dropped here).
    pub fn give(&mut self, mut vector: Vec<T>) {
        if self.spare.len() < MAX_SPARE && vector.capacity() > 0 && vector.capacity() <= MAX_CAPACITY {
            vector.clear();
            self.spare.push(vector);
        }
    }
}

/// One pool per payload kind.
#[derive(Clone, Debug, Default)]
pub struct Buffers {
    /// A follower's `Fetch`: the partitions it names.
    pub fetch_partitions: Pool<FetchPartition>,
    /// A leader's `FetchResponse`: the partitions it answers for.
    pub fetch_answers: Pool<(PartitionIdx, FetchResult)>,
    /// A producer's `Produce`: one batch per partition.
    pub produce_batches: Pool<(PartitionIdx, ProduceBatch)>,
    /// A leader's `ProduceResponse`: one outcome per partition.
    pub produce_results: Pool<(PartitionIdx, Result<u64, KafkaError>)>,
    /// A leader's delayed produce: outcomes so far (`None` while a partition waits for its high watermark).
    pub produce_outcomes: Pool<(PartitionIdx, Option<Result<u64, KafkaError>>)>,
    /// A producer's request in flight: the batches it carries.
    pub in_flight_batches: Pool<(PartitionIdx, Batch)>,
    /// A leader's `FetchResponse`: one partition's records, when there are several.
    pub fetched_entries: Pool<LogEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_vector_comes_back_empty_with_its_capacity() {
        let mut pool: Pool<u32> = Pool::default();
        let mut vector = pool.take(10);
        vector.extend([1, 2, 3]);
        let capacity = vector.capacity();
        pool.give(vector);
        let again = pool.take(2);
        assert!(again.is_empty());
        assert_eq!(again.capacity(), capacity);
        // An empty pool allocates; huge vectors are not kept.
        assert!(pool.take(5).capacity() >= 5);
        pool.give(Vec::with_capacity(MAX_CAPACITY + 1));
        assert_eq!(pool.spare.len(), 0);
    }
}
