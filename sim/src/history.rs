//! The delivery history: every record handed to a producer, what became of it, and the checker's verdict on the
//! cluster's final logs (acked-but-lost, duplicates, reordering, replicas that diverge below the high watermark).

use crate::ids::{BrokerId, PartitionIdx, ProducerIdx, RecordId};
use crate::message::KafkaError;
use crate::time::Micros;
use serde::{Deserialize, Serialize};

/// A record's key as the producer sent it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyRef {
    None,
    /// `key-{n}` from a steady workload.
    Numbered(u32),
    /// A scripted record's key. Boxed twice so the variant is one pointer wide: every record's history entry holds a
    /// `KeyRef`, and most are `Numbered` or `None`.
    Text(Box<String>),
}

impl KeyRef {
    /// The key's length in bytes, as serialized.
    pub fn len(&self) -> usize {
        match self {
            KeyRef::None => 0,
            KeyRef::Numbered(n) => 4 + n.checked_ilog10().map(|d| d as usize + 1).unwrap_or(1),
            KeyRef::Text(text) => text.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn render(&self) -> Option<String> {
        match self {
            KeyRef::None => None,
            KeyRef::Numbered(n) => Some(format!("key-{n}")),
            KeyRef::Text(text) => Some(text.to_string()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordStatus {
    /// Not answered yet.
    Pending,
    /// The producer's callback reported success; `offset` is `None` for acks=0 (Kafka reports -1).
    Acked { offset: Option<u64>, at: Micros },
    /// The producer's callback reported this error.
    Failed { error: KafkaError, at: Micros },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RecordInfo {
    pub producer: ProducerIdx,
    pub partition: PartitionIdx,
    pub key: KeyRef,
    /// The value, or `None` for a generated `{producer}-{n}` value (one pointer wide, as `KeyRef::Text`).
    pub value: Option<Box<String>>,
    /// The n-th record of its producer.
    pub producer_seq: u32,
    pub created_at: Micros,
    pub status: RecordStatus,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct History {
    /// In chunks of 2^16 records: acks land on records written a moment ago, so with bigger chunks most land in
    /// the owned tail or the one chunk before it, not in a different shared chunk (and its reference count) each.
    pub records: crate::chunked::Chunked<RecordInfo, HISTORY_CHUNK_BITS>,
}

/// History chunks hold 65,536 records (4.7 MB); a clone copies at most one such open tail.
pub const HISTORY_CHUNK_BITS: u32 = 16;

impl History {
    pub fn push(&mut self, info: RecordInfo) -> RecordId {
        self.records.push(info);
        RecordId(self.records.len() as u32 - 1)
    }

    pub fn get(&self, id: RecordId) -> &RecordInfo {
        &self.records[id.index()]
    }

    pub fn set_status(&mut self, id: RecordId, status: RecordStatus) {
        if let Some(record) = self.records.get_mut(id.index()) {
            record.status = status;
        }
    }

    pub fn value(&self, id: RecordId, producer_names: &[String]) -> String {
        let info = self.get(id);
        match &info.value {
            Some(value) => value.to_string(),
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
        for key in [
            KeyRef::None,
            KeyRef::Numbered(0),
            KeyRef::Numbered(9),
            KeyRef::Numbered(10),
            KeyRef::Text(Box::new("order-1".into())),
        ] {
            assert_eq!(key.len(), key.render().map(|k| k.len()).unwrap_or(0), "{key:?}");
        }
    }

    /// The history keeps one entry per record produced, so its size is most of a large run's memory (with the
    /// three replicas' log entries): keep it from growing unnoticed.
    #[test]
    fn a_history_entry_stays_small() {
        assert_eq!(std::mem::size_of::<KeyRef>(), 16);
        assert!(std::mem::size_of::<RecordInfo>() <= 72, "RecordInfo is {} bytes", std::mem::size_of::<RecordInfo>());
    }
}
