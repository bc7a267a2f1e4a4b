//! The delivery history: every record handed to a producer, what became of it, and the checker's verdict on the
//! cluster's final logs (acked-but-lost, duplicates, reordering, replicas that diverge below the high watermark).

use crate::ids::{BrokerId, PartitionIdx, ProducerIdx, RecordId};
use crate::message::KafkaError;
use crate::time::Micros;
use serde::{Deserialize, Serialize};
use std::num::NonZeroU32;

/// A scripted record's key or value, kept once in the history's text table so that a history entry stays small
/// (most records are a workload's, with a numbered key and a generated value, and hold no text at all).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextId(NonZeroU32);

/// A record's key as the producer sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyRef {
    None,
    /// `key-{n}` from a steady workload.
    Numbered(u32),
    /// A scripted record's key, in the history's text table.
    Text(TextId),
}

/// What became of one record, as its producer's callback saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordStatus {
    /// Not answered yet.
    Pending,
    /// The producer's callback reported success; `offset` is `None` for acks=0 (Kafka reports -1).
    Acked { offset: Option<u64>, at: Micros },
    /// The producer's callback reported this error.
    Failed { error: KafkaError, at: Micros },
}

/// What the producer's callback reported for one batch. A batch is appended, acknowledged or failed as one unit
/// (`ProducerBatch.done` completes every record's future with the same result), so its records share one outcome:
/// an ack writes it once, not once per record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BatchOutcome {
    /// Not answered yet.
    Pending,
    /// Acknowledged; `base_offset` is `None` for acks=0 (Kafka reports -1).
    Acked { base_offset: Option<u64>, at: Micros },
    /// Failed with this error.
    Failed { error: KafkaError, at: Micros },
}

/// A batch's slot in the history's outcome table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeId(pub u32);

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RecordInfo {
    pub producer: ProducerIdx,
    pub partition: PartitionIdx,
    pub key: KeyRef,
    /// The value, or `None` for a generated `{producer}-{n}` value.
    pub value: Option<TextId>,
    /// The n-th record of its producer.
    pub producer_seq: u32,
    pub created_at: Micros,
    /// The outcome of the batch the record rides in, and the record's place in that batch (its offset is the
    /// batch's base offset plus this).
    pub outcome: OutcomeId,
    pub position_in_batch: u32,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct History {
    /// In chunks of 2^16 records: acks land on records written a moment ago, so with bigger chunks most land in
    /// the owned tail or the one chunk before it, not in a different shared chunk (and its reference count) each.
    pub records: crate::chunked::Chunked<RecordInfo, HISTORY_CHUNK_BITS>,
    /// One outcome per batch, in the order the batches were opened.
    pub outcomes: crate::chunked::Chunked<BatchOutcome, HISTORY_CHUNK_BITS>,
    /// Scripted records' keys and values (a scenario's explicit records: bounded by the scenario's size).
    pub texts: Vec<String>,
}

/// History chunks hold 65,536 records (2.6 MB); a clone copies at most one such open tail.
pub const HISTORY_CHUNK_BITS: u32 = 16;

impl History {
    pub fn push(&mut self, info: RecordInfo) -> RecordId {
        self.records.push(info);
        RecordId(self.records.len() as u32 - 1)
    }

    pub fn get(&self, id: RecordId) -> &RecordInfo {
        &self.records[id.index()]
    }

    /// Keeps a scripted key or value, for records to refer to.
    pub fn add_text(&mut self, text: String) -> TextId {
        self.texts.push(text);
        TextId(NonZeroU32::new(self.texts.len() as u32).expect("one or more texts"))
    }

    pub fn text(&self, id: TextId) -> &str {
        &self.texts[id.0.get() as usize - 1]
    }

    /// The key's length in bytes, as serialized.
    pub fn key_len(&self, key: KeyRef) -> usize {
        match key {
            KeyRef::None => 0,
            KeyRef::Numbered(n) => 4 + n.checked_ilog10().map(|d| d as usize + 1).unwrap_or(1),
            KeyRef::Text(text) => self.text(text).len(),
        }
    }

    /// The key as the producer sent it: `key-{n}` for a workload's, `None` for a null key.
    pub fn render_key(&self, key: KeyRef) -> Option<String> {
        match key {
            KeyRef::None => None,
            KeyRef::Numbered(n) => Some(format!("key-{n}")),
            KeyRef::Text(text) => Some(self.text(text).to_string()),
        }
    }

    /// The id the next record pushed will get.
    pub fn next_record_id(&self) -> RecordId {
        RecordId(self.records.len() as u32)
    }

    /// A new batch's outcome slot, pending until the batch is answered.
    pub fn open_batch(&mut self) -> OutcomeId {
        self.outcomes.push(BatchOutcome::Pending);
        OutcomeId(self.outcomes.len() as u32 - 1)
    }

    pub fn set_outcome(&mut self, id: OutcomeId, outcome: BatchOutcome) {
        if let Some(slot) = self.outcomes.get_mut(id.0 as usize) {
            *slot = outcome;
        }
    }

    /// The record's status: its batch's outcome, with the record's own offset in it.
    pub fn status(&self, id: RecordId) -> RecordStatus {
        self.status_of(self.get(id))
    }

    fn status_of(&self, info: &RecordInfo) -> RecordStatus {
        match self.outcomes.get(info.outcome.0 as usize) {
            None | Some(BatchOutcome::Pending) => RecordStatus::Pending,
            Some(&BatchOutcome::Acked { base_offset, at }) => {
                RecordStatus::Acked { offset: base_offset.map(|base| base + info.position_in_batch as u64), at }
            }
            Some(&BatchOutcome::Failed { error, at }) => RecordStatus::Failed { error, at },
        }
    }

    /// Every record with its status, in creation order.
    pub fn statuses(&self) -> impl Iterator<Item = (RecordId, &RecordInfo, RecordStatus)> + '_ {
        self.records.iter().enumerate().map(|(index, info)| (RecordId(index as u32), info, self.status_of(info)))
    }

    pub fn value(&self, id: RecordId, producer_names: &[String]) -> String {
        let info = self.get(id);
        match info.value {
            Some(value) => self.text(value).to_string(),
            None => format!("{}-{}", producer_names[info.producer.index()], info.producer_seq),
        }
    }
}

/// Two replicas whose logs differ below both their high watermarks (committed data that disagrees).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Divergence {
    pub partition: PartitionIdx,
    pub leader: BrokerId,
    pub follower: BrokerId,
    pub offset: u64,
}

/// The checker's verdict for a whole run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Records whose producer callback reported success.
    pub acked: u64,
    /// Acked records that are not in their partition's log (leader, or best ISR member when offline).
    pub acked_lost: Vec<RecordId>,
    /// Records present at more than one offset, with how many copies.
    pub duplicates: Vec<(RecordId, u32)>,
    /// Records of one producer that appear in a partition after a record the producer sent later.
    pub reordered: Vec<RecordId>,
    /// Replicas that disagree below their common high watermark (must be none unless data was lost uncleanly).
    pub divergent: Vec<Divergence>,
    /// Records whose callback reported an error.
    pub failed: u64,
    /// Failed records that are committed all the same (below the high watermark of their partition's log of record):
    /// a failed send is not proof that nothing was written (KIP-91: an expired batch may have reached the broker), so
    /// an application that sends them again makes duplicates.
    pub failed_written: Vec<RecordId>,
    /// Records not answered yet when the run ended.
    pub pending: u64,
}

impl Verdict {
    pub fn is_clean(&self) -> bool {
        self.acked_lost.is_empty()
            && self.duplicates.is_empty()
            && self.reordered.is_empty()
            && self.divergent.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_lengths_match_their_rendering() {
        let mut history = History::default();
        let text = history.add_text("order-1".into());
        for key in [KeyRef::None, KeyRef::Numbered(0), KeyRef::Numbered(9), KeyRef::Numbered(10), KeyRef::Text(text)] {
            assert_eq!(history.key_len(key), history.render_key(key).map(|k| k.len()).unwrap_or(0), "{key:?}");
        }
        assert_eq!(history.render_key(KeyRef::Text(text)).as_deref(), Some("order-1"));
    }

    /// The history keeps one entry per record produced, so its size is most of a large run's memory (with the
    /// three replicas' log entries): keep it from growing unnoticed.
    #[test]
    fn a_history_entry_stays_small() {
        assert_eq!(std::mem::size_of::<KeyRef>(), 8);
        assert_eq!(std::mem::size_of::<Option<TextId>>(), 4);
        assert!(std::mem::size_of::<RecordInfo>() <= 40, "RecordInfo is {} bytes", std::mem::size_of::<RecordInfo>());
    }
}
