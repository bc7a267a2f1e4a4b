//! A replica's log: records with their leader epochs, the leader-epoch cache, and truncation.
//!
//! Offsets are positions in `entries` (the simulation keeps the whole log, so the log start offset is 0). The
//! leader-epoch cache maps each epoch to the first offset written in it, as Kafka's `LeaderEpochFileCache` does.

use crate::chunked::Chunked;
use crate::ids::RecordId;
use serde::{Deserialize, Serialize};

/// One record in a log: 16 bytes, as every replica keeps one per record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LogEntry {
    /// The leader epoch the record was appended in (`partitionLeaderEpoch` of its batch: an int32 in Kafka, never
    /// negative, so 31 bits), and in the top bit whether the record starts a produce batch (so that batch boundaries
    /// survive replication).
    epoch_and_batch_start: u32,
    /// The record this entry holds: in the delivery history (its key, value and timestamp are there), or in
    /// `__consumer_offsets` logs (`Topology::is_internal`) the group coordinator's internal records.
    pub record: RecordId,
    /// The idempotent producer id (0 when the producer is not idempotent).
    pub producer_id: u32,
    /// The record's sequence number for the idempotent producer (-1 when none).
    pub sequence: i32,
}

const BATCH_START: u32 = 1 << 31;

/// The idempotent producer's id and epoch travel packed in one `u32` (`id | epoch << 20`), in batches and in log
/// entries; Kafka's batch header carries them as separate fields (`producerId`, `producerEpoch`).
pub const PRODUCER_EPOCH_SHIFT: u32 = 20;

/// Splits a packed producer id into `(producer id, producer epoch)`.
pub fn split_producer_id(packed: u32) -> (u32, u32) {
    (packed & ((1 << PRODUCER_EPOCH_SHIFT) - 1), packed >> PRODUCER_EPOCH_SHIFT)
}

impl LogEntry {
    pub fn new(leader_epoch: u32, record: RecordId, producer_id: u32, sequence: i32, batch_start: bool) -> Self {
        // Kafka's leader epochs are int32: the controller never goes past i32::MAX.
        debug_assert!(leader_epoch < BATCH_START, "leader epoch {leader_epoch} beyond int32");
        let flag = if batch_start { BATCH_START } else { 0 };
        LogEntry { epoch_and_batch_start: (leader_epoch & !BATCH_START) | flag, record, producer_id, sequence }
    }

    pub fn leader_epoch(&self) -> u32 {
        self.epoch_and_batch_start & !BATCH_START
    }

    /// The record is the first of a produce batch.
    pub fn batch_start(&self) -> bool {
        self.epoch_and_batch_start & BATCH_START != 0
    }
}

/// One entry of the leader-epoch cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochStart {
    pub leader_epoch: u32,
    pub start_offset: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Log {
    entries: Chunked<LogEntry>,
    epochs: Vec<EpochStart>,
    /// Records below this offset have been flushed (fsynced) to disk.
    flushed_offset: u64,
}

impl Log {
    pub fn log_end_offset(&self) -> u64 {
        self.entries.len() as u64
    }

    pub fn entries(&self) -> &Chunked<LogEntry> {
        &self.entries
    }

    pub fn epochs(&self) -> &[EpochStart] {
        &self.epochs
    }

    pub fn flushed_offset(&self) -> u64 {
        self.flushed_offset
    }

    /// The latest epoch in the leader-epoch cache (`UnifiedLog.latestEpoch`), which followers send as
    /// `last_fetched_epoch`.
    pub fn latest_epoch(&self) -> Option<u32> {
        self.epochs.last().map(|e| e.leader_epoch)
    }

    /// Appends one record, extending the epoch cache when the record starts a new epoch.
    pub fn append(&mut self, entry: LogEntry) {
        let leader_epoch = entry.leader_epoch();
        if self.latest_epoch().is_none_or(|latest| leader_epoch > latest) {
            self.push_epoch(leader_epoch);
        }
        debug_assert!(self.latest_epoch() >= Some(leader_epoch), "epochs in a log never go back");
        self.entries.push(entry);
    }

    /// A new leader records where its epoch starts (`Partition.makeLeader` -> `maybeAssignEpochStartOffset`).
    pub fn assign_epoch_start(&mut self, leader_epoch: u32) {
        if self.latest_epoch().is_none_or(|latest| leader_epoch > latest) {
            self.push_epoch(leader_epoch);
        }
    }

    /// `LeaderEpochFileCache.assign`: a newer epoch starting at the log end offset; an epoch that started there too
    /// (it never got a record) is dropped (`maybeTruncateNonMonotonicEntries`).
    fn push_epoch(&mut self, leader_epoch: u32) {
        let start_offset = self.log_end_offset();
        while self.epochs.last().is_some_and(|e| e.start_offset >= start_offset) {
            self.epochs.pop();
        }
        self.epochs.push(EpochStart { leader_epoch, start_offset });
    }

    /// `LeaderEpochFileCache.endOffsetFor` (through `UnifiedLog.endOffsetForEpoch`): the largest epoch <= `requested`
    /// that this log has, and the offset where that epoch ends (the start of the next epoch, or the log end offset for
    /// the latest epoch). An epoch older than every cached one is answered with itself and the start of the first
    /// cached epoch (the data before it is gone, so the whole older history diverges). `None` is Kafka's
    /// `(UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)`: the cache is empty or knows no epoch as new as `requested`.
    pub fn end_offset_for_epoch(&self, requested: u32) -> Option<(u32, u64)> {
        let latest = self.latest_epoch()?;
        if requested == latest {
            // "For the leader, the latest epoch is always the current leader epoch that is still being written to."
            return Some((requested, self.log_end_offset()));
        }
        // The first cached epoch above `requested`; without one, `requested` is newer than anything cached.
        let higher = self.epochs.partition_point(|e| e.leader_epoch <= requested);
        let next_start = self.epochs.get(higher)?.start_offset;
        match higher.checked_sub(1) {
            Some(floor) => Some((self.epochs[floor].leader_epoch, next_start)),
            None => Some((requested, next_start)),
        }
    }

    /// Removes every record at or above `offset` and the epochs that start there (`truncateFromEnd`).
    pub fn truncate_to(&mut self, offset: u64) {
        if offset > self.log_end_offset() {
            return;
        }
        self.entries.truncate(offset as usize);
        // An epoch that starts at the new end (even one with no records yet) goes too.
        self.epochs.retain(|e| e.start_offset < offset);
        self.flushed_offset = self.flushed_offset.min(offset);
    }

    /// Marks everything up to the log end offset as flushed when `flush_messages` unflushed records have piled up.
    pub fn maybe_flush(&mut self, flush_messages: u64) {
        if self.log_end_offset() - self.flushed_offset >= flush_messages {
            self.flushed_offset = self.log_end_offset();
        }
    }

    /// A power loss: the records after the last flush are gone. Returns how many were lost.
    pub fn lose_unflushed(&mut self) -> u64 {
        let lost = self.log_end_offset() - self.flushed_offset;
        self.truncate_to(self.flushed_offset);
        lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(leader_epoch: u32, record: u32) -> LogEntry {
        LogEntry::new(leader_epoch, RecordId(record), 0, -1, true)
    }

    /// Every replica keeps one entry per record, so the entry's size is a third of a large run's memory.
    #[test]
    fn an_entry_is_16_bytes_and_keeps_its_epoch_and_batch_start() {
        assert_eq!(std::mem::size_of::<LogEntry>(), 16);
        for (epoch, start) in [(0, false), (0, true), (7, true), (i32::MAX as u32, false), (i32::MAX as u32, true)] {
            let entry = LogEntry::new(epoch, RecordId(3), 9, 4, start);
            assert_eq!((entry.leader_epoch(), entry.batch_start()), (epoch, start));
            assert_eq!((entry.record, entry.producer_id, entry.sequence), (RecordId(3), 9, 4));
        }
    }

    #[test]
    fn epoch_cache_tracks_first_offsets_and_end_offsets() {
        let mut log = Log::default();
        log.append(entry(0, 0));
        log.append(entry(0, 1));
        log.assign_epoch_start(2);
        log.append(entry(2, 2));
        assert_eq!(log.epochs().len(), 2);
        assert_eq!(log.end_offset_for_epoch(0), Some((0, 2)));
        // Epoch 1 never existed here: the answer is the largest epoch below it, ending where epoch 2 starts.
        assert_eq!(log.end_offset_for_epoch(1), Some((0, 2)));
        assert_eq!(log.end_offset_for_epoch(2), Some((2, 3)));
    }

    #[test]
    fn epoch_end_offsets_answer_like_leader_epoch_file_cache() {
        // An empty cache knows no epoch at all.
        assert_eq!(Log::default().end_offset_for_epoch(0), None);
        // A leader elected in epoch 3 on an empty log, then written to, then a new leader epoch 5.
        let mut log = Log::default();
        log.assign_epoch_start(3);
        log.append(entry(3, 0));
        log.append(entry(3, 1));
        log.assign_epoch_start(5);
        log.append(entry(5, 2));
        // Older than every cached epoch: the requested epoch itself, ending where the first cached epoch starts.
        assert_eq!(log.end_offset_for_epoch(1), Some((1, 0)));
        assert_eq!(log.end_offset_for_epoch(3), Some((3, 2)));
        assert_eq!(log.end_offset_for_epoch(4), Some((3, 2)));
        // The latest epoch ends at the log end offset.
        assert_eq!(log.end_offset_for_epoch(5), Some((5, 3)));
        // Newer than anything cached: undefined.
        assert_eq!(log.end_offset_for_epoch(6), None);
        // An epoch that never got a record is replaced by the next one starting at the same offset.
        log.assign_epoch_start(7);
        log.assign_epoch_start(8);
        assert_eq!(
            log.epochs().iter().map(|e| (e.leader_epoch, e.start_offset)).collect::<Vec<_>>(),
            [(3, 0), (5, 2), (8, 3)]
        );
        assert_eq!(log.end_offset_for_epoch(7), Some((5, 3)));
    }

    #[test]
    fn truncation_drops_records_and_later_epochs() {
        let mut log = Log::default();
        log.append(entry(0, 0));
        log.append(entry(1, 1));
        log.append(entry(1, 2));
        log.truncate_to(1);
        assert_eq!(log.log_end_offset(), 1);
        assert_eq!(log.latest_epoch(), Some(0));
    }

    #[test]
    fn power_loss_keeps_only_flushed_records() {
        let mut log = Log::default();
        for i in 0..5 {
            log.append(entry(0, i));
            log.maybe_flush(2);
        }
        assert_eq!(log.flushed_offset(), 4);
        assert_eq!(log.lose_unflushed(), 1);
        assert_eq!(log.log_end_offset(), 4);
    }
}
