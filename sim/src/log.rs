//! A replica's log: records with their leader epochs, the leader-epoch cache, and truncation.
//!
//! Offsets are positions in `entries` (the simulation keeps the whole log, so the log start offset is 0). The
//! leader-epoch cache maps each epoch to the first offset written in it, as Kafka's `LeaderEpochFileCache` does.

use crate::chunked::Chunked;
use crate::ids::RecordId;
use serde::{Deserialize, Serialize};

/// One record in a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LogEntry {
    /// The leader epoch the record was appended in (`partitionLeaderEpoch` of its batch).
    pub leader_epoch: u32,
    /// The produced record this entry holds; its key, value and timestamp are in the delivery history.
    pub record: RecordId,
    /// The idempotent producer id (0 when the producer is not idempotent).
    pub producer_id: u32,
    /// The record's sequence number for the idempotent producer (-1 when none).
    pub sequence: i32,
    /// True for the first record of a produce batch, so batch boundaries survive replication.
    pub batch_start: bool,
    /// True for the group coordinator's own records in `__consumer_offsets` (commits, group metadata): `record` then
    /// indexes the internal records instead of the delivery history.
    pub internal: bool,
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
        if self.latest_epoch().is_none_or(|latest| entry.leader_epoch > latest) {
            self.epochs.push(EpochStart { leader_epoch: entry.leader_epoch, start_offset: self.log_end_offset() });
        }
        debug_assert!(self.latest_epoch() >= Some(entry.leader_epoch), "epochs in a log never go back");
        self.entries.push(entry);
    }

    /// A new leader records where its epoch starts (`Partition.makeLeader` -> `maybeAssignEpochStartOffset`).
    pub fn assign_epoch_start(&mut self, leader_epoch: u32) {
        if self.latest_epoch().is_none_or(|latest| leader_epoch > latest) {
            self.epochs.push(EpochStart { leader_epoch, start_offset: self.log_end_offset() });
        }
    }

    /// `LeaderEpochFileCache.endOffsetFor`: the largest epoch <= `requested` that this log has, and the offset where
    /// that epoch ends (the start of the next epoch, or the log end offset for the latest epoch). `None` when the log
    /// has no epoch that old, which means the whole log diverges.
    pub fn end_offset_for_epoch(&self, requested: u32) -> Option<(u32, u64)> {
        let index = self.epochs.partition_point(|e| e.leader_epoch <= requested);
        if index == 0 {
            return None;
        }
        let found = self.epochs[index - 1];
        let end = self.epochs.get(index).map(|next| next.start_offset).unwrap_or(self.log_end_offset());
        Some((found.leader_epoch, end))
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
        LogEntry {
            leader_epoch,
            record: RecordId(record),
            producer_id: 0,
            sequence: -1,
            batch_start: true,
            internal: false,
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
