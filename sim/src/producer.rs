//! A Kafka producer client: the partitioner, the record accumulator (`batch.size`, `linger.ms`), the sender
//! (`max.in.flight.requests.per.connection`), retries with `retry.backoff.ms`, `request.timeout.ms`,
//! `delivery.timeout.ms`, metadata refresh on NOT_LEADER_OR_FOLLOWER, and the idempotent producer's sequences.
//!
//! The rules follow Kafka's `KafkaProducer`, `RecordAccumulator`, `Sender` and `BuiltInPartitioner`.

use crate::bits::IndexBits;
use crate::config::{Acks, Partitioner, ProducerConfig};
use crate::ctx::{Ctx, Timer};
use crate::deadlines::DeadlineSet;
use crate::history::{BatchOutcome, History, KeyRef, OutcomeId, RecordInfo, TextId};
use crate::ids::{BrokerId, NodeId, PartitionIdx, ProducerIdx, RecordId};
use crate::message::{BrokerSet, KafkaError, Message, ProduceBatch, RecordIds};
use crate::scenario::Workload;
use crate::time::{format_time, Micros, US_PER_SEC};
use crate::trace::{BatchTrigger, TraceKind};
use crate::vecmap::VecMap;
use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// `reconnect.backoff.ms` (default 50) and `reconnect.backoff.max.ms` (default 1000): after the n-th failed
/// connection in a row a node is left alone for 50 ms doubled n - 1 times, at most 1 s, with 20% jitter
/// (`ClusterConnectionStates`, KIP-144); a connection that answers resets the count.
pub(crate) const RECONNECT_BACKOFF: Micros = 50_000;

/// The largest epoch the packed producer id (`id | epoch << 20` in a `u32`) holds; Kafka's is `Short.MAX_VALUE`.
const MAX_PRODUCER_EPOCH: u32 = 0xFFF;
/// A producer that ran out of epochs takes id `1000 + index + stride * resets`, still below 2^20.
const PRODUCER_ID_RESET_STRIDE: u32 = 65_536;
pub(crate) const RECONNECT_BACKOFF_MAX: Micros = 1_000_000;

/// `socket.connection.setup.timeout.ms` (default 10 s) and `socket.connection.setup.timeout.max.ms` (default 30 s):
/// a new connection that is not ready in time is closed; the timeout doubles with each failure in a row, with 20%
/// jitter (KIP-601).
const CONNECTION_SETUP_TIMEOUT: Micros = 10_000_000;
const CONNECTION_SETUP_TIMEOUT_MAX: Micros = 30_000_000;

/// A connection attempt whose first packet got no answer sends it again after 1 s, then 2 s, 4 s, ... (Linux TCP's
/// SYN retransmission, initial RTO 1 s, RFC 6298), so a link that heals mid-attempt connects soon after.
const CONNECT_RETRANSMIT: Micros = 1_000_000;

/// The producer's connection to one broker, as `ClusterConnectionStates` tracks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Connection {
    /// Open and past its ApiVersions exchange: requests may go out (`NetworkClient.isReady`).
    Ready,
    /// Broken or refused: nothing goes out until `reconnect.backoff.ms` passes.
    Backoff,
    /// The backoff passed: the next request for this broker opens a new connection first.
    Disconnected,
    /// A new connection's ApiVersions request is out (KIP-35, KIP-511); requests wait for its answer.
    Connecting { request_id: u64 },
}

/// Kafka's `Utils.murmur2`, bit for bit (seed 0x9747b28c).
pub fn murmur2(data: &[u8]) -> i32 {
    let length = data.len() as i32;
    let m: i32 = 0x5bd1_e995;
    let r = 24;
    let mut h: i32 = 0x9747_b28c_u32 as i32 ^ length;
    let chunks = data.chunks_exact(4);
    let tail = chunks.remainder();
    for chunk in chunks {
        let mut k = i32::from_le_bytes(chunk.try_into().expect("4 bytes"));
        k = k.wrapping_mul(m);
        k ^= ((k as u32) >> r) as i32;
        k = k.wrapping_mul(m);
        h = h.wrapping_mul(m);
        h ^= k;
    }
    if tail.len() >= 3 {
        h ^= (tail[2] as i32) << 16;
    }
    if tail.len() >= 2 {
        h ^= (tail[1] as i32) << 8;
    }
    if !tail.is_empty() {
        h ^= tail[0] as i32;
        h = h.wrapping_mul(m);
    }
    h ^= ((h as u32) >> 13) as i32;
    h = h.wrapping_mul(m);
    h ^= ((h as u32) >> 15) as i32;
    h
}

/// The built-in partitioner for keyed records: `toPositive(murmur2(keyBytes)) % numPartitions`.
pub fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    ((murmur2(key) & 0x7fff_ffff) as u32) % partitions
}

/// At most this many record ids are reserved for a batch at once (a huge `batch.size` with tiny records).
const MAX_RECORDS_RESERVED: u64 = 1024;

/// Kafka's estimate of a record's size in a batch: the key and value plus the record framing.
fn record_size(key_len: usize, value_len: usize) -> u64 {
    (key_len + value_len + 14) as u64
}

/// The record batch header (`DefaultRecordBatch.RECORD_BATCH_OVERHEAD`, 61 bytes): a batch's estimated size starts
/// there (`MemoryRecordsBuilder.estimatedBytesWritten`), so it counts against `batch.size` and `max.request.size`.
const RECORD_BATCH_OVERHEAD: u64 = 61;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Batch {
    pub id: u64,
    /// The batch's slot in the history, where its answer is written once for all its records.
    pub outcome: OutcomeId,
    #[serde(with = "crate::message::small_vec_serde")]
    pub records: RecordIds,
    pub bytes: u64,
    pub created_at: Micros,
    /// The sum of its records' creation times, so that an ack adds their latencies without reading each record
    /// back from the history (at 1,000 partitions that read was a cache miss per record).
    pub records_created_at_total: Micros,
    pub attempts: u32,
    /// The sender has taken it once: its records are fixed, even if it comes back to the queue.
    pub drained: bool,
    /// The idempotent producer's first sequence number, fixed at the first send (-1 without idempotence).
    pub base_sequence: i32,
    /// The producer id (and epoch) the sequence was assigned under.
    pub sequenced_as: u32,
    /// Full, lingered long enough, or followed by another batch: the sender may take it.
    pub closed: bool,
    pub closed_by: BatchTrigger,
    /// A retried batch waits until this time (`retry.backoff.ms`), unless its partition's leader changed since.
    pub retry_at: Micros,
    /// The partition's leader epoch, as the producer knew it, when the batch was last sent.
    pub sent_leader_epoch: u32,
    /// `delivery.timeout.ms` ran out while the batch was in flight: its callback already got DELIVERY_TIMEOUT, and
    /// the request's answer, when it comes, only tells the idempotent producer whether the sequence landed.
    #[serde(default)]
    pub expired_in_flight: bool,
    /// An epoch bump renumbered the batch since it was last sent (`ProducerBatch.sequenceHasBeenReset`): an
    /// OUT_OF_ORDER_SEQUENCE_NUMBER answer to that older send is retried without another bump.
    #[serde(default)]
    pub sequence_reset: bool,
}

/// A produce request in flight: one batch per partition, all for one broker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InFlight {
    pub broker: BrokerId,
    pub batches: Vec<(PartitionIdx, Batch)>,
    /// When `request.timeout.ms` runs out for the request.
    pub deadline: Micros,
    /// When `delivery.timeout.ms` runs out for the earliest created of its batches not yet expired (`Micros::MAX`
    /// once all have).
    #[serde(default = "never")]
    pub expires_at: Micros,
}

fn never() -> Micros {
    Micros::MAX
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ProducerStats {
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub requests: u64,
    /// Batches sent for the first time.
    pub batches: u64,
    pub retries: u64,
    /// Errors seen in responses (retried or not), by Kafka's name.
    pub errors: BTreeMap<String, u64>,
    /// Sum of (ack time - send() time) over acked records, for mean latency.
    pub ack_latency_total: Micros,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Producer {
    pub idx: ProducerIdx,
    pub node: NodeId,
    pub name: String,
    pub config: ProducerConfig,
    /// The idempotent producer id and epoch packed in one number (`id + epoch << 20`), or 0 without idempotence.
    pub producer_id: u32,
    /// The first batch acknowledged later than `delivery.timeout.ms` after its creation, which Kafka never does
    /// ("an upper bound on the time to report success or failure after a call to send() returns"; batches in
    /// flight expire at it); the invariant checks report it.
    #[serde(default)]
    pub late_callback: Option<String>,
    pub producer_epoch: u32,
    /// Producer ids taken anew after the epoch ran out.
    producer_id_resets: u32,
    /// When the epoch was last bumped.
    last_bump_at: Option<Micros>,
    /// Leader and leader epoch per partition, as last learnt from metadata.
    pub leaders: Vec<(Option<BrokerId>, u32)>,
    metadata_in_flight: Option<u64>,
    /// The broker the metadata request in flight went to.
    metadata_target: Option<BrokerId>,
    /// The brokers the last metadata answer listed (`None` before the first answer).
    listed_brokers: Option<BrokerSet>,
    /// The earliest time of the next metadata request: `retry.backoff.ms` after the last answer.
    metadata_refresh_at: Micros,
    /// A `MetadataBackoff` timer is set for `metadata_refresh_at`.
    metadata_backoff_armed: bool,
    /// A metadata refresh is due but every broker is in reconnect backoff: it goes out at the next reconnect.
    metadata_wanted: bool,
    metadata_rotation: u32,
    pub accumulator: Vec<VecDeque<Batch>>,
    /// Partitions whose front batch is ready (full, lingered, or retried), by leader: a broker with one is ready.
    ready: ReadySet,
    /// Partitions with any batch queued, by leader (a superset, cleaned lazily): what a ready broker's request drains.
    queued: ReadySet,
    /// Per broker, the partition where the next drain starts (`RecordAccumulator`'s per-node drain index).
    drain_start: Vec<PartitionIdx>,
    /// When each open batch's `linger.ms` runs out: (deadline, partition, batch id). One timer stands for all of
    /// them, as the sender thread sleeps until the earliest (`RecordAccumulator.ready`'s next check delay).
    linger_deadlines: DeadlineSet<(PartitionIdx, u64)>,
    linger_timer_at: Option<Micros>,
    in_flight_per_broker: Vec<u32>,
    in_flight_per_partition: Vec<u32>,
    /// Of those, the batches that expired in flight: the sender still waits for their answer (the partition stays
    /// muted), but the transaction manager no longer counts them as in flight (`handleFailedBatch` ->
    /// `removeInFlightBatch`).
    expired_in_flight_per_partition: Vec<u32>,
    pub in_flight: VecMap<u64, InFlight>,
    request_timer_at: Option<Micros>,
    /// The one timer for `delivery.timeout.ms` of queued batches (see `arm_accumulator_expiry`).
    accumulator_expiry_at: Option<Micros>,
    /// The connection to each broker (indexed by broker id). All start ready: the producer begins as it is after
    /// its bootstrap, with metadata and connections in place.
    connections: Vec<Connection>,
    /// Failed connections in a row per broker (indexed by broker id), for the reconnect backoff.
    connect_failures: Vec<u32>,
    next_sequence: Vec<i32>,
    /// The producer id and epoch each partition's sequence numbers run under (`TxnPartitionEntry.producerIdAndEpoch`):
    /// after an epoch bump a partition keeps the old one until its batches sequenced under it are done.
    partition_producer_id: Vec<u32>,
    /// The last sequence the broker acknowledged per partition, under `partition_producer_id` (-1 for none).
    last_acked_sequence: Vec<i32>,
    /// Partitions where a batch with a sequence expired, so whether the broker wrote it is unknown
    /// (`partitionsWithUnresolvedSequences`): the sequence after the expired batch. New batches wait until the
    /// partition's outstanding batches settle it.
    unresolved_sequence: Vec<Option<i32>>,
    sticky_partition: Vec<Option<u32>>,
    /// Bytes sent to each topic's sticky partition since it was chosen.
    sticky_bytes: Vec<u64>,
    round_robin: Vec<u32>,
    next_request_id: u64,
    next_batch_id: u64,
    workloads: Vec<Workload>,
    workload_sent: Vec<u64>,
    /// Partition of `key-{n}` per workload, computed once.
    workload_key_partitions: Vec<Vec<u32>>,
    records_sent: u32,
    pub stats: ProducerStats,
    rng: ChaCha8Rng,
}

impl Producer {
    pub fn new(
        idx: ProducerIdx,
        node: NodeId,
        def: &crate::scenario::ProducerDef,
        topo: &crate::ctx::Topology,
        leaders: Vec<(Option<BrokerId>, u32)>,
        rng: ChaCha8Rng,
    ) -> Self {
        let partitions = topo.partitions.len();
        let workload_key_partitions = def
            .workloads
            .iter()
            .map(|w| {
                let count = topo.topics[w.topic].partitions;
                (0..w.keys.unwrap_or(0)).map(|k| partition_for_key(format!("key-{k}").as_bytes(), count)).collect()
            })
            .collect();
        Producer {
            idx,
            node,
            name: def.name.clone(),
            config: def.config.clone(),
            producer_id: if def.config.enable_idempotence { 1000 + idx.0 } else { 0 },
            late_callback: None,
            producer_epoch: 0,
            producer_id_resets: 0,
            last_bump_at: None,
            leaders,
            metadata_in_flight: None,
            metadata_target: None,
            listed_brokers: None,
            metadata_refresh_at: 0,
            metadata_backoff_armed: false,
            metadata_wanted: false,
            metadata_rotation: idx.0,
            accumulator: vec![VecDeque::new(); partitions],
            ready: ReadySet::new(topo.brokers, partitions),
            queued: ReadySet::new(topo.brokers, partitions),
            drain_start: vec![PartitionIdx(0); topo.brokers as usize],
            linger_deadlines: DeadlineSet::new(),
            linger_timer_at: None,
            in_flight_per_broker: vec![0; topo.brokers as usize + 1],
            in_flight_per_partition: vec![0; partitions],
            expired_in_flight_per_partition: vec![0; partitions],
            in_flight: VecMap::new(),
            request_timer_at: None,
            accumulator_expiry_at: None,
            connections: vec![Connection::Ready; topo.brokers as usize + 1],
            connect_failures: vec![0; topo.brokers as usize + 1],
            next_sequence: vec![0; partitions],
            partition_producer_id: vec![if def.config.enable_idempotence { 1000 + idx.0 } else { 0 }; partitions],
            last_acked_sequence: vec![-1; partitions],
            unresolved_sequence: vec![None; partitions],
            sticky_partition: vec![None; topo.topics.len()],
            sticky_bytes: vec![0; topo.topics.len()],
            round_robin: vec![0; topo.topics.len()],
            next_request_id: 0,
            next_batch_id: 0,
            workloads: def.workloads.clone(),
            workload_sent: vec![0; def.workloads.len()],
            workload_key_partitions,
            records_sent: 0,
            stats: ProducerStats::default(),
            rng,
        }
    }

    pub fn start(&mut self, ctx: &mut Ctx) {
        for (index, workload) in self.workloads.iter().enumerate() {
            if workload.start < workload.stop {
                ctx.out.timers.push((workload.start, Timer::WorkloadTick { workload: index }));
            }
        }
    }

    /// The total number of records the producer still holds (buffered or in flight).
    pub fn buffered_records(&self) -> usize {
        self.accumulator.iter().map(|d| d.iter().map(|b| b.records.len()).sum::<usize>()).sum::<usize>()
            + self.in_flight.values().flat_map(|f| &f.batches).map(|(_, b)| b.records.len()).sum::<usize>()
    }

    /// `KafkaProducer.send`: choose the partition, append to the accumulator, wake the sender.
    pub fn send(&mut self, ctx: &mut Ctx, history: &mut History, record: OutgoingRecord) -> RecordId {
        let OutgoingRecord { topic, key, value, partition: explicit_partition } = record;
        let key_bytes_len = history.key_len(key);
        let partition_count = ctx.topo.topics[topic].partitions;
        let sticky = explicit_partition.is_none() && key == KeyRef::None;
        // `KafkaProducer.partition`: an explicit partition wins; a configured partitioner class decides next, keys or
        // not (RoundRobinPartitioner never looks at the key); only then the key's murmur2 hash, else the built-in
        // sticky partitioner.
        let partition = match (explicit_partition, &key) {
            (Some(p), _) => p,
            (None, _) if self.config.partitioner == Partitioner::RoundRobin => {
                self.next_round_robin_partition(ctx, topic, partition_count)
            }
            (None, KeyRef::Text(text)) => partition_for_key(history.text(*text).as_bytes(), partition_count),
            (None, KeyRef::Numbered(n)) => self.workload_partition(topic, *n, partition_count),
            (None, KeyRef::None) => self.partition_without_key(ctx, topic, partition_count),
        };
        let partition = ctx.topo.partition_idx(topic, partition);
        let value_len = value.map(|v| history.text(v).len()).unwrap_or(self.name.len() + 6);
        let size = record_size(key_bytes_len, value_len);
        // The record joins its batch first, so that its history entry is written once, with its batch in it.
        let record = history.next_record_id();
        let (outcome, position_in_batch) = self.append(ctx, history, partition, record, size);
        // `RecordAppendResult.appendedBytes`: a record that opens a batch brings the batch header with it.
        let appended_bytes = if position_in_batch == 0 { RECORD_BATCH_OVERHEAD + size } else { size };
        let pushed = history.push(RecordInfo {
            producer: self.idx,
            partition,
            key,
            value,
            producer_seq: self.records_sent,
            created_at: ctx.now,
            outcome,
            position_in_batch,
        });
        debug_assert_eq!(pushed, record);
        self.records_sent += 1;
        self.stats.sent += 1;
        if sticky {
            self.update_sticky(ctx, topic, partition, appended_bytes);
        }
        self.drain(ctx, history);
        record
    }

    fn workload_partition(&mut self, topic: usize, key: u32, partition_count: u32) -> u32 {
        self.workloads
            .iter()
            .position(|w| w.topic == topic && w.keys.is_some_and(|k| key < k))
            .map(|w| self.workload_key_partitions[w][key as usize])
            .unwrap_or_else(|| partition_for_key(format!("key-{key}").as_bytes(), partition_count))
    }

    /// Null keys with the built-in partitioner (KIP-794): stick to one partition.
    fn partition_without_key(&mut self, ctx: &Ctx, topic: usize, partition_count: u32) -> u32 {
        // `RecordAccumulator.partitionChanged`: a switch held back while the sticky partition's last batch was
        // incomplete happens now if that batch has filled up or gone out.
        if let Some(current) = self.sticky_partition[topic] {
            let partition = ctx.topo.partition_idx(topic, current);
            if self.sticky_bytes[topic] >= self.config.batch_size.max(1) && self.all_batches_full(partition) {
                self.sticky_bytes[topic] = 0;
                self.sticky_partition[topic] = Some(self.next_sticky_partition(ctx, topic, partition_count));
            }
        }
        match self.sticky_partition[topic] {
            Some(p) => p,
            None => {
                let p = self.next_sticky_partition(ctx, topic, partition_count);
                self.sticky_partition[topic] = Some(p);
                p
            }
        }
    }

    /// The topic's partitions with a leader, as this producer's metadata knows them
    /// (`Cluster.availablePartitionsForTopic`), or every partition when none has one.
    fn available_partitions(&self, ctx: &Ctx, topic: usize, partition_count: u32) -> Vec<u32> {
        let first = ctx.topo.topic_first_partition[topic] as usize;
        let available: Vec<u32> =
            (0..partition_count).filter(|&p| self.leaders[first + p as usize].0.is_some()).collect();
        if available.is_empty() {
            (0..partition_count).collect()
        } else {
            available
        }
    }

    /// `RoundRobinPartitioner.partition`: the next of the topic's available partitions in turn.
    fn next_round_robin_partition(&mut self, ctx: &Ctx, topic: usize, partition_count: u32) -> u32 {
        let available = self.available_partitions(ctx, topic, partition_count);
        let turn = self.round_robin[topic];
        self.round_robin[topic] = turn.wrapping_add(1);
        available[turn as usize % available.len()]
    }

    /// `BuiltInPartitioner.nextPartition` with adaptive partitioning (the default): a random partition with a
    /// leader, weighted towards partitions with fewer batches queued (weight = longest queue + 1 - own queue); the
    /// load statistics only cover partitions whose leader is known (`RecordAccumulator.partitionReady`).
    fn next_sticky_partition(&mut self, ctx: &Ctx, topic: usize, partition_count: u32) -> u32 {
        let first = ctx.topo.topic_first_partition[topic] as usize;
        let candidates = self.available_partitions(ctx, topic, partition_count);
        let queues: Vec<u64> = candidates.iter().map(|&p| self.accumulator[first + p as usize].len() as u64).collect();
        let longest = queues.iter().copied().max().unwrap_or(0);
        let total: u64 = queues.iter().map(|q| longest + 1 - q).sum();
        let mut pick = self.rng.next_u64() % total;
        for (&p, q) in candidates.iter().zip(&queues) {
            let weight = longest + 1 - q;
            if pick < weight {
                return p;
            }
            pick -= weight;
        }
        *candidates.last().expect("a topic has partitions")
    }

    /// `BuiltInPartitioner.updatePartitionInfo`: after `batch.size` bytes went to the sticky partition, switch once
    /// the partition's last batch is full (`RecordAccumulator.allBatchesFull`), or at once after twice that.
    fn update_sticky(&mut self, ctx: &Ctx, topic: usize, partition: PartitionIdx, appended_bytes: u64) {
        if self.config.partitioner != Partitioner::Default || self.sticky_partition[topic].is_none() {
            return;
        }
        self.sticky_bytes[topic] += appended_bytes;
        let limit = self.config.batch_size.max(1);
        if (self.sticky_bytes[topic] >= limit && self.all_batches_full(partition))
            || self.sticky_bytes[topic] >= 2 * limit
        {
            self.sticky_bytes[topic] = 0;
            let count = ctx.topo.topics[topic].partitions;
            let next = self.next_sticky_partition(ctx, topic, count);
            self.sticky_partition[topic] = Some(next);
        }
    }

    /// `RecordAccumulator.allBatchesFull`: only the last batch of a partition may be incomplete, so the partition's
    /// batches are all full when it has none or its last one reached `batch.size`.
    fn all_batches_full(&self, partition: PartitionIdx) -> bool {
        self.accumulator[partition.index()].back().is_none_or(|last| last.bytes >= self.config.batch_size)
    }

    /// `RecordAccumulator.append`: the record joins the partition's open batch if it fits in `batch.size`, else
    /// opens a new one. Returns the batch's outcome slot and the record's place in the batch.
    fn append(
        &mut self,
        ctx: &mut Ctx,
        history: &mut History,
        partition: PartitionIdx,
        record: RecordId,
        size: u64,
    ) -> (OutcomeId, u32) {
        let batch_size = self.config.batch_size;
        let deque = &mut self.accumulator[partition.index()];
        if let Some(last) = deque.back_mut() {
            // `MemoryRecordsBuilder.hasRoomFor`: the record fits if the batch, header included, stays within
            // `batch.size` (a batch opened by a bigger record is full already).
            if !last.drained && last.bytes + size <= batch_size && !last.records.is_empty() {
                let placed = (last.outcome, last.records.len() as u32);
                if last.records.len() == last.records.capacity() {
                    // The accumulator gives a batch a whole `batch.size` buffer up front: once the record list
                    // outgrows its inline room, it takes room for a full batch of such records at once, rather than
                    // doubling (and copying) on the way.
                    let full_batch = (batch_size / size.max(1)).min(MAX_RECORDS_RESERVED) as usize;
                    last.records.reserve_exact(full_batch.saturating_sub(last.records.len()).max(1));
                }
                last.records.push(record);
                last.records_created_at_total += ctx.now;
                last.bytes += size;
                if last.bytes >= batch_size && !last.closed {
                    last.closed = true;
                    last.closed_by = BatchTrigger::BatchSize;
                    let (at, key) = linger_deadline(last, partition, self.config.linger);
                    self.linger_deadlines.remove(at, key);
                    self.ready.insert(partition, self.leaders[partition.index()].0);
                }
                return placed;
            }
            // The open batch is full: it is ready, and a new one starts behind it.
            if !last.closed {
                last.closed = true;
                last.closed_by = BatchTrigger::BatchSize;
                let (at, key) = linger_deadline(last, partition, self.config.linger);
                self.linger_deadlines.remove(at, key);
            }
            self.ready.insert(partition, self.leaders[partition.index()].0);
        }
        self.next_batch_id += 1;
        let id = self.next_batch_id;
        self.queued.insert(partition, self.leaders[partition.index()].0);
        let bytes = RECORD_BATCH_OVERHEAD + size;
        let closed = self.config.linger == 0 || bytes >= batch_size;
        let closed_by = if bytes >= batch_size { BatchTrigger::BatchSize } else { BatchTrigger::NoLinger };
        let outcome = history.open_batch();
        deque.push_back(Batch {
            id,
            outcome,
            records: smallvec::smallvec![record],
            bytes,
            created_at: ctx.now,
            records_created_at_total: ctx.now,
            attempts: 0,
            drained: false,
            base_sequence: -1,
            sequenced_as: 0,
            closed,
            closed_by,
            retry_at: 0,
            sent_leader_epoch: 0,
            expired_in_flight: false,
            sequence_reset: false,
        });
        if closed {
            self.ready.insert(partition, self.leaders[partition.index()].0);
        } else {
            let batch = deque.back().expect("just queued");
            let (at, key) = linger_deadline(batch, partition, self.config.linger);
            self.linger_deadlines.insert(at, key);
            let earliest = self.linger_deadlines.first().map(|(at, _)| at);
            ctx.arm_coalesced(&mut self.linger_timer_at, earliest, |at| Timer::Linger { at });
        }
        self.arm_accumulator_expiry(ctx, ctx.now + self.config.delivery_timeout);
        (outcome, 0)
    }

    /// The sender loop (`Sender.sendProducerData` / `RecordAccumulator.ready` and `drain`): every broker that leads
    /// a ready batch and has room under `max.in.flight.requests.per.connection` gets one request.
    fn drain(&mut self, ctx: &mut Ctx, history: &mut History) {
        if self.ready.is_empty() {
            return;
        }
        self.expire_due(ctx, history);
        let max_in_flight = self.config.max_in_flight_requests_per_connection;
        // Only brokers with a free request slot are looked at, so a backlog on a busy broker costs nothing here.
        for b in 0..self.drain_start.len() {
            let broker = BrokerId(b as u32 + 1);
            if !self.ready.broker_has_any(b) || self.in_flight_per_broker[broker.0 as usize] >= max_in_flight {
                continue;
            }
            if self.connection(broker) != Connection::Ready {
                // `NetworkClient.ready`: a node without a ready connection gets none of the batches (not even acks=0
                // ones); asking starts a connection when the reconnect backoff allows one.
                if self.connection(broker) == Connection::Disconnected {
                    self.connect(ctx, broker);
                }
                continue;
            }
            // `Sender.sendProducerData` runs again at once while a node has sendable data (its poll timeout is 0),
            // so a backlog goes out in back-to-back requests, up to `max.in.flight.requests.per.connection`.
            while self.drain_request(ctx, history, b)
                && self.ready.broker_has_any(b)
                && self.in_flight_per_broker[broker.0 as usize] < max_in_flight
                && self.connection(broker) == Connection::Ready
            {}
        }
        if !self.ready.no_leader.is_empty() {
            self.request_metadata(ctx);
        }
    }

    /// One produce request to the broker with index `b`, if any batch may go; `true` if one was sent.
    fn drain_request(&mut self, ctx: &mut Ctx, history: &mut History, b: usize) -> bool {
        let broker = BrokerId(b as u32 + 1);
        let max_in_flight = self.config.max_in_flight_requests_per_connection;
        // `RecordAccumulator.drainBatchesForOneNode`: the request takes the first batch of every partition the
        // broker leads, ready or not (so linger.ms holds back a broker, not each partition), up to
        // `max.request.size`, starting where the last drain stopped so that no partition starves.
        let mut batches = ctx.buffers.in_flight_batches.take(self.queued.count_of_broker(b));
        let mut request_bytes = 0;
        let start = self.drain_start[b].index();
        let partition_count = self.accumulator.len();
        // From `start` to the end, then from 0 to `start`. The loop only removes the partition it looks at, so
        // walking the live set visits what a copy taken first would.
        let mut wrapped = false;
        let mut cursor = start;
        loop {
            let end = if wrapped { start } else { partition_count };
            let Some(partition) = self.queued.next_of_broker(b, cursor, end) else {
                if wrapped {
                    break;
                }
                wrapped = true;
                cursor = 0;
                continue;
            };
            cursor = partition.index() + 1;
            let Some(front) = self.accumulator[partition.index()].front() else {
                self.queued.remove(partition);
                self.ready.remove(partition);
                continue;
            };
            // With max.in.flight=1 the sender mutes the partition while a batch is out (guaranteeMessageOrder);
            // the idempotent producer keeps order by sequence numbers, but a retried batch goes alone.
            let retrying = front.attempts > 0;
            // `RecordAccumulator.shouldStopDrainBatchesForPartition`: after an epoch bump no new batch (sequence 0
            // under the new epoch) goes out while batches sequenced under the old epoch are in flight.
            // Nor while an expired batch leaves the partition's sequence unresolved.
            let unsequenced = self.producer_id != 0 && front.base_sequence < 0;
            let stale_epoch = unsequenced && self.partition_producer_id[partition.index()] != self.producer_id;
            let unresolved = unsequenced && self.unresolved_sequence[partition.index()].is_some();
            let muted = unresolved
                || ((max_in_flight == 1 || (self.producer_id != 0 && retrying) || stale_epoch)
                    && self.in_flight_per_partition[partition.index()] > 0);
            // KIP-951 (`RecordAccumulator.shouldBackoff`): a retry skips its backoff once the partition has a
            // new leader.
            let backing_off = front.retry_at > ctx.now && front.sent_leader_epoch == self.leaders[partition.index()].1;
            if backing_off || muted {
                continue;
            }
            if request_bytes + front.bytes > self.config.max_request_size && !batches.is_empty() {
                self.drain_start[b] = partition;
                break;
            }
            let mut batch = self.accumulator[partition.index()].pop_front().expect("front exists");
            if !batch.closed {
                batch.closed = true;
                batch.closed_by = BatchTrigger::Drained;
                let (at, key) = linger_deadline(&batch, partition, self.config.linger);
                self.linger_deadlines.remove(at, key);
            }
            request_bytes += batch.bytes;
            batches.push((partition, batch));
            self.front_left(partition);
        }
        if batches.is_empty() {
            ctx.buffers.in_flight_batches.give(batches);
            return false;
        }
        self.send_request(ctx, history, broker, batches);
        true
    }

    /// The front batch of `partition` left its queue (sent or expired): the partition stays queued only if a batch
    /// is left, and ready only if the new front batch is.
    fn front_left(&mut self, partition: PartitionIdx) {
        match self.accumulator[partition.index()].front() {
            None => {
                self.queued.remove(partition);
                self.ready.remove(partition);
            }
            Some(next) if !next.closed => self.ready.remove(partition),
            Some(_) => {}
        }
    }

    /// Expiries whose timer is due but has not run yet (their timer is queued behind other events of this instant, or
    /// the producer was paused): run them now, as the sender loop would before sending or handling answers.
    fn expire_due(&mut self, ctx: &mut Ctx, history: &mut History) {
        if self.request_timer_at.is_some_and(|at| at <= ctx.now) {
            let expiring: Vec<u64> =
                self.in_flight.iter().filter(|(_, f)| f.expires_at <= ctx.now).map(|(&id, _)| id).collect();
            for request_id in expiring {
                self.expire_in_flight(ctx, history, request_id);
            }
        }
        if self.accumulator_expiry_at.is_some_and(|at| at <= ctx.now) {
            self.accumulator_expiry_at = None;
            self.expire_queued(ctx, history);
        }
    }

    /// A batch due to expire at `deadline` waits in the accumulator: the sender wakes up by then
    /// (`RecordAccumulator.nextExpiryTimeMs` bounds its poll timeout). One timer per producer stands for every queued
    /// batch; it only moves earlier here, and `expire_queued` sets it for the next front batch.
    fn arm_accumulator_expiry(&mut self, ctx: &mut Ctx, deadline: Micros) {
        let at = deadline.max(ctx.now);
        ctx.arm_coalesced(&mut self.accumulator_expiry_at, Some(at), |at| Timer::AccumulatorExpiry { at });
    }

    /// `RecordAccumulator.expiredBatches`: in every partition's queue, front batches that have reached
    /// `delivery.timeout.ms` since their creation fail with DELIVERY_TIMEOUT, in order, up to the first that has not;
    /// the earliest of those sets the next wake-up.
    fn expire_queued(&mut self, ctx: &mut Ctx, history: &mut History) {
        let mut next: Option<Micros> = None;
        for p in 0..self.accumulator.len() {
            let partition = PartitionIdx(p as u32);
            let mut expired_any = false;
            while let Some(front) = self.accumulator[p].front() {
                let deadline = front.created_at + self.config.delivery_timeout;
                if deadline > ctx.now {
                    next = Some(next.map_or(deadline, |n| n.min(deadline)));
                    break;
                }
                let batch = self.accumulator[p].pop_front().expect("front exists");
                if !batch.closed {
                    let (at, key) = linger_deadline(&batch, partition, self.config.linger);
                    self.linger_deadlines.remove(at, key);
                }
                expired_any = true;
                self.count_error(KafkaError::DeliveryTimeout);
                self.complete(ctx, history, partition, &batch, Err(KafkaError::DeliveryTimeout));
            }
            if expired_any {
                self.front_left(partition);
            }
        }
        if let Some(deadline) = next {
            self.arm_accumulator_expiry(ctx, deadline);
        }
    }

    fn send_request(
        &mut self,
        ctx: &mut Ctx,
        history: &mut History,
        leader: BrokerId,
        mut batches: Vec<(PartitionIdx, Batch)>,
    ) {
        for (partition, batch) in batches.iter_mut() {
            let partition = *partition;
            batch.attempts += 1;
            batch.drained = true;
            batch.sequence_reset = false;
            batch.sent_leader_epoch = self.leaders[partition.index()].1;
            if batch.attempts > 1 {
                self.stats.retries += 1;
            } else {
                self.stats.batches += 1;
            }
            // `RecordAccumulator.drain`: a batch gets its producer id, epoch and sequence at its first send and keeps
            // them on every retry, so the broker can recognise it; only an epoch bump on its own partition renumbers it.
            if self.producer_id != 0 && batch.base_sequence < 0 {
                let p = partition.index();
                if self.partition_producer_id[p] != self.producer_id {
                    // `TransactionManager.maybeUpdateProducerIdAndEpoch`: nothing of the old epoch is outstanding
                    // here any more, so the partition starts over at sequence 0 under the new epoch.
                    self.partition_producer_id[p] = self.producer_id;
                    self.next_sequence[p] = 0;
                    self.last_acked_sequence[p] = -1;
                }
                batch.sequenced_as = self.producer_id;
                batch.base_sequence = self.next_sequence[p];
                self.next_sequence[p] += batch.records.len() as i32;
            }
            ctx.trace(TraceKind::BatchSent {
                producer: self.idx,
                partition,
                records: batch.records.len() as u32,
                attempt: batch.attempts,
                to: leader,
                trigger: batch.closed_by,
            });
        }
        self.next_request_id += 1;
        let request_id = self.next_request_id;
        self.stats.requests += 1;
        let mut wire = ctx.buffers.produce_batches.take(batches.len());
        wire.extend(batches.iter().map(|(p, b)| {
            (
                *p,
                ProduceBatch {
                    records: b.records.clone(),
                    producer_id: b.sequenced_as,
                    base_sequence: b.base_sequence,
                },
            )
        }));
        ctx.send(
            leader.node(),
            Message::Produce {
                request_id,
                acks: self.config.acks,
                timeout: self.config.request_timeout,
                batches: wire,
            },
        );
        if self.config.acks == Acks::None {
            // acks=0: the send completes as soon as the request is written; the offset is unknown (-1).
            for (partition, batch) in &batches {
                self.complete(ctx, history, *partition, batch, Ok(None));
            }
            return;
        }
        self.in_flight_per_broker[leader.0 as usize] += 1;
        for (partition, _) in &batches {
            self.in_flight_per_partition[partition.index()] += 1;
        }
        let deadline = ctx.now + self.config.request_timeout;
        let expires_at = self.next_in_flight_expiry(&batches);
        self.in_flight.insert(request_id, InFlight { broker: leader, batches, deadline, expires_at });
        self.arm_request_timer(ctx);
    }

    /// When the first of `batches` not yet expired reaches `delivery.timeout.ms` (`ProducerBatch.hasReachedDeliveryTimeout`).
    fn next_in_flight_expiry(&self, batches: &[(PartitionIdx, Batch)]) -> Micros {
        let earliest = batches.iter().filter(|(_, b)| !b.expired_in_flight).map(|(_, b)| b.created_at).min();
        earliest.map_or(Micros::MAX, |created_at| created_at + self.config.delivery_timeout)
    }

    /// One timer per producer for all requests in flight, set for the earliest `request.timeout.ms` deadline or
    /// in-flight batch expiry (the sender's poll timeout includes `nextBatchExpiryTimeMs`).
    fn arm_request_timer(&mut self, ctx: &mut Ctx) {
        // A batch drained at the instant it expires is expired in flight at once: never a timer in the past.
        let earliest = self.in_flight.values().map(|f| f.deadline.min(f.expires_at).max(ctx.now)).min();
        ctx.arm_coalesced(&mut self.request_timer_at, earliest, |at| Timer::RequestTimeout { at });
    }

    fn complete(
        &mut self,
        ctx: &mut Ctx,
        history: &mut History,
        partition: PartitionIdx,
        batch: &Batch,
        result: Result<Option<u64>, KafkaError>,
    ) {
        let records = batch.records.len() as u32;
        // Kafka expires a batch in flight at its deadline, so no success is reported later. A failure can be: the
        // accumulator checks only each queue's front batch, and a retried newer batch put back in front of an older
        // one (`reenqueue` -> `addFirst`) holds that one back until the newer one expires too.
        let deadline = batch.created_at + self.config.delivery_timeout;
        if result.is_ok() && ctx.now > deadline && self.late_callback.is_none() {
            self.late_callback = Some(format!(
                "{}: a batch of {} record(s) for {} created at {} was acknowledged at {}, after delivery.timeout.ms \
                 (due at {})",
                self.name,
                records,
                ctx.topo.partition_name(partition),
                format_time(batch.created_at),
                format_time(ctx.now),
                format_time(deadline),
            ));
        }
        match result {
            Ok(base_offset) => {
                history.set_outcome(batch.outcome, BatchOutcome::Acked { base_offset, at: ctx.now });
                self.stats.ack_latency_total += ctx.now * records as u64 - batch.records_created_at_total;
                self.stats.acked += records as u64;
                ctx.trace(TraceKind::ProduceAcked { producer: self.idx, partition, base_offset, records });
                if self.producer_id != 0
                    && batch.base_sequence >= 0
                    && batch.sequenced_as == self.partition_producer_id[partition.index()]
                {
                    let last = &mut self.last_acked_sequence[partition.index()];
                    *last = (*last).max(batch.base_sequence + records as i32 - 1);
                }
            }
            Err(error) => {
                history.set_outcome(batch.outcome, BatchOutcome::Failed { error, at: ctx.now });
                if self.producer_id != 0
                    && batch.base_sequence >= 0
                    && batch.sequenced_as == self.partition_producer_id[partition.index()]
                {
                    if error == KafkaError::DeliveryTimeout {
                        // `Sender.sendProducerData` -> `markSequenceUnresolved` (only for a batch `inRetry`: one
                        // that expired on its first send marks nothing): the expired batch may or may not be in the
                        // log, so the later batches decide: if they are acknowledged in sequence it was.
                        let in_retry = !(batch.expired_in_flight && batch.attempts == 1);
                        if in_retry {
                            let next = batch.base_sequence + records as i32;
                            let unresolved = &mut self.unresolved_sequence[partition.index()];
                            *unresolved = Some(unresolved.map_or(next, |u| u.max(next)));
                        }
                    } else if error == KafkaError::OutOfOrderSequenceNumber || batch.attempts <= self.config.retries {
                        // The batch failed for good: its sequence numbers will never be filled in, so bump the
                        // epoch and start the partition over (`handleFailedBatch` ->
                        // `requestIdempotentEpochBumpForPartition`). `Sender.failBatch` asks for that only while the
                        // batch had retries left (`adjustSequenceNumbers = batch.attempts() < retries`); one that used
                        // them all up leaves the gap, and the later batches' OUT_OF_ORDER_SEQUENCE_NUMBER retries
                        // wait for their own delivery timeout.
                        self.bump_epoch(ctx, partition);
                    }
                }
                self.stats.failed += records as u64;
                ctx.trace(TraceKind::ProduceFailed { producer: self.idx, partition, error, records });
            }
        }
        self.maybe_resolve_sequences(ctx, partition);
    }

    /// `TransactionManager.maybeResolveSequences`: once nothing sequenced is outstanding on a partition whose
    /// sequence an expired batch left unresolved, either the acknowledged sequences run up to the next one (the later
    /// batches covered the gap) or the epoch is bumped and the partition starts over.
    fn maybe_resolve_sequences(&mut self, ctx: &mut Ctx, partition: PartitionIdx) {
        let p = partition.index();
        if self.unresolved_sequence[p].is_none()
            || self.in_flight_per_partition[p] > self.expired_in_flight_per_partition[p]
            || self.accumulator[p].front().is_some_and(|b| b.base_sequence >= 0)
        {
            return;
        }
        self.unresolved_sequence[p] = None;
        if self.next_sequence[p] != self.last_acked_sequence[p] + 1 {
            self.bump_epoch(ctx, partition);
        }
    }

    fn request_metadata(&mut self, ctx: &mut Ctx) {
        if self.metadata_in_flight.is_some() {
            return;
        }
        // `Metadata.timeToAllowUpdate`: refreshes are at least `retry.backoff.ms` apart, so a partition without a
        // leader is asked about a few times a second, not after every answer.
        if ctx.now < self.metadata_refresh_at {
            if !self.metadata_backoff_armed {
                self.metadata_backoff_armed = true;
                ctx.out.timers.push((self.metadata_refresh_at, Timer::MetadataBackoff));
            }
            return;
        }
        // NetworkClient.leastLoadedNode: among the brokers the last metadata listed, the ready one with the fewest
        // requests in flight, rotating among equals; else wait for a connection being set up; else open one to a
        // broker out of its reconnect backoff. With every broker backed off the refresh waits for the next reconnect.
        let brokers = ctx.topo.brokers;
        let start = self.metadata_rotation;
        let candidates = (0..brokers)
            .map(|i| BrokerId((start + i) % brokers + 1))
            .filter(|b| self.listed_brokers.is_none_or(|listed| listed.is_empty() || listed.contains(*b)));
        let ready = candidates
            .clone()
            .filter(|&b| self.connection(b) == Connection::Ready)
            .min_by_key(|b| self.in_flight_per_broker[b.0 as usize]);
        let Some(target) = ready else {
            self.metadata_wanted = true;
            let connecting = candidates.clone().any(|b| matches!(self.connection(b), Connection::Connecting { .. }));
            let connectable = candidates.into_iter().find(|&b| self.connection(b) == Connection::Disconnected);
            if let (false, Some(broker)) = (connecting, connectable) {
                self.metadata_rotation = self.metadata_rotation.wrapping_add(1);
                self.connect(ctx, broker);
            }
            return;
        };
        self.metadata_wanted = false;
        self.metadata_rotation = self.metadata_rotation.wrapping_add(1);
        self.next_request_id += 1;
        let request_id = self.next_request_id;
        self.metadata_in_flight = Some(request_id);
        self.metadata_target = Some(target);
        ctx.send(target.node(), Message::MetadataRequest { request_id });
        ctx.timer_after(self.config.request_timeout, Timer::MetadataTimeout { request_id });
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx, history: &mut History, timer: Timer) {
        match timer {
            Timer::WorkloadTick { workload } => self.workload_tick(ctx, history, workload),
            Timer::Linger { at } if self.linger_timer_at == Some(at) => {
                self.linger_timer_at = None;
                while let Some((deadline, (partition, batch_id))) = self.linger_deadlines.first() {
                    if deadline > ctx.now {
                        break;
                    }
                    self.linger_deadlines.pop_first();
                    if let Some(batch) =
                        self.accumulator[partition.index()].iter_mut().find(|b| b.id == batch_id && !b.closed)
                    {
                        batch.closed = true;
                        batch.closed_by = BatchTrigger::Linger;
                        self.ready.insert(partition, self.leaders[partition.index()].0);
                    }
                }
                self.drain(ctx, history);
                let earliest = self.linger_deadlines.first().map(|(at, _)| at);
                ctx.arm_coalesced(&mut self.linger_timer_at, earliest, |at| Timer::Linger { at });
            }
            Timer::Linger { .. } => {}
            Timer::AccumulatorExpiry { at } if self.accumulator_expiry_at == Some(at) => {
                self.accumulator_expiry_at = None;
                self.expire_queued(ctx, history);
                self.drain(ctx, history);
            }
            Timer::AccumulatorExpiry { .. } => {}
            Timer::RequestTimeout { at } if self.request_timer_at == Some(at) => {
                self.request_timer_at = None;
                // `Sender.sendProducerData` expires batches (`getExpiredInflightBatches`) before `client.poll`
                // times requests out.
                let expiring: Vec<u64> =
                    self.in_flight.iter().filter(|(_, f)| f.expires_at <= ctx.now).map(|(&id, _)| id).collect();
                let expired_any = !expiring.is_empty();
                for request_id in expiring {
                    self.expire_in_flight(ctx, history, request_id);
                }
                let expired: Vec<u64> =
                    self.in_flight.iter().filter(|(_, f)| f.deadline <= ctx.now).map(|(&id, _)| id).collect();
                for request_id in expired {
                    // NetworkClient.handleTimedOutRequests: a request timeout closes the connection, so every other
                    // request in flight to that broker fails with it as a disconnect.
                    let Some(broker) = self.in_flight.get(&request_id).map(|f| f.broker) else { continue };
                    self.fail_request(ctx, history, request_id, KafkaError::RequestTimedOut);
                    self.on_broker_disconnected(ctx, history, broker);
                }
                self.arm_request_timer(ctx);
                if expired_any {
                    // An expiry may have settled a sequence that held batches back: the sender loop runs again.
                    self.drain(ctx, history);
                }
            }
            Timer::RequestTimeout { .. } => {}
            Timer::RetryBackoff { .. } => self.drain(ctx, history),
            Timer::Reconnect { broker } => {
                // The reconnect backoff passed: the next request for the node opens a new connection.
                if self.connection(broker) == Connection::Backoff {
                    self.connections[broker.0 as usize] = Connection::Disconnected;
                }
                if self.metadata_wanted {
                    self.request_metadata(ctx);
                }
                self.drain(ctx, history);
            }
            Timer::ConnectRetransmit { broker, request_id, retransmits } => {
                if self.connection(broker) == (Connection::Connecting { request_id }) {
                    ctx.send(broker.node(), Message::ApiVersions { request_id });
                    let retransmits = retransmits + 1;
                    ctx.timer_after(
                        CONNECT_RETRANSMIT << retransmits.min(16),
                        Timer::ConnectRetransmit { broker, request_id, retransmits },
                    );
                }
            }
            Timer::ConnectTimeout { broker, request_id } => {
                // `NetworkClient.handleTimedOutConnections`: the connection is closed and metadata refreshed.
                if self.connection(broker) == (Connection::Connecting { request_id }) {
                    self.disconnect(ctx, broker);
                    self.request_metadata(ctx);
                }
            }
            Timer::MetadataBackoff => {
                self.metadata_backoff_armed = false;
                self.request_metadata(ctx);
            }
            Timer::MetadataTimeout { request_id } => {
                if self.metadata_in_flight == Some(request_id) {
                    self.metadata_in_flight = None;
                    // A request timeout closes the connection (`NetworkClient.handleTimedOutRequests`), with every
                    // request in flight on it.
                    if let Some(broker) = self.metadata_target.take() {
                        self.on_broker_disconnected(ctx, history, broker);
                    }
                    self.request_metadata(ctx);
                }
            }
            other => debug_assert!(false, "producer got a timer it never sets: {other:?}"),
        }
    }

    fn workload_tick(&mut self, ctx: &mut Ctx, history: &mut History, index: usize) {
        let workload = self.workloads[index].clone();
        let key = match workload.keys {
            Some(keys) => KeyRef::Numbered(self.rng.next_u32() % keys),
            None => KeyRef::None,
        };
        self.send(ctx, history, OutgoingRecord { topic: workload.topic, key, value: None, partition: None });
        self.workload_sent[index] += 1;
        // The n-th record is due at start + n / rate, in integer microseconds, so rates need not divide a second.
        let next = workload.start + self.workload_sent[index] * US_PER_SEC / workload.rate_per_sec as u64;
        if next < workload.stop {
            ctx.out.timers.push((next.max(ctx.now), Timer::WorkloadTick { workload: index }));
        }
    }

    pub fn on_message(&mut self, ctx: &mut Ctx, history: &mut History, message: Message) {
        match message {
            Message::ProduceResponse { request_id, results, current_leaders } => {
                if !current_leaders.is_empty() {
                    self.apply_current_leaders(&current_leaders);
                }
                // `Sender.runOnce` expires batches (`sendProducerData`) before `client.poll` hands it answers: an
                // answer handled at the same instant as a due expiry (after a pause) finds its batch already done.
                self.expire_due(ctx, history);
                if let Some(request) = self.in_flight.remove(&request_id) {
                    self.connect_failures[request.broker.0 as usize] = 0;
                    self.handle_response(ctx, history, request, results, false);
                }
            }
            Message::ProduceDisconnected { broker, request_id } => {
                // The connection is gone. Either the request reached a dead process, whose refused connection means
                // the node is not ready (no attempt is made and no error is seen), or a broker closed it after an
                // acks=0 request failed. Either way the node waits out the reconnect backoff and metadata is
                // refreshed. The batches of an acks=0 request were already done; the others go back to the
                // accumulator as they were. A refusal of a request whose connection is already known to be
                // broken (it was sent before the crash was noticed) changes nothing more.
                let still_open = match request_id {
                    Some(id) => match self.in_flight.remove(&id) {
                        Some(request) => {
                            self.unsend(ctx, request);
                            true
                        }
                        None => false,
                    },
                    None => self.connection(broker) == Connection::Ready,
                };
                if still_open {
                    self.disconnect(ctx, broker);
                    self.request_metadata(ctx);
                    self.drain(ctx, history);
                }
            }
            Message::ApiVersionsResponse { broker, request_id, error } => {
                // An answer to an attempt given up since (timed out, or the broker crashed meanwhile) is ignored.
                if self.connection(broker) != (Connection::Connecting { request_id }) {
                    return;
                }
                match error {
                    None => {
                        // `ClusterConnectionStates.ready`: the connection is ready and its reconnect backoff resets.
                        self.connections[broker.0 as usize] = Connection::Ready;
                        self.connect_failures[broker.0 as usize] = 0;
                        ctx.trace(TraceKind::ProducerConnected { producer: self.idx, broker });
                    }
                    Some(_) => self.disconnect(ctx, broker),
                }
                if self.metadata_wanted || error.is_some() {
                    self.request_metadata(ctx);
                }
                self.drain(ctx, history);
            }
            Message::MetadataResponse { request_id, leaders, brokers } => {
                if self.metadata_in_flight != Some(request_id) {
                    return;
                }
                self.metadata_in_flight = None;
                match self.metadata_target {
                    Some(broker) if !leaders.is_empty() => self.connect_failures[broker.0 as usize] = 0,
                    _ => {}
                }
                if !leaders.is_empty() {
                    self.metadata_refresh_at = ctx.now + self.config.retry_backoff;
                    // The brokers the cluster lists (fenced ones drop out): `leastLoadedNode` picks among these.
                    self.listed_brokers = Some(brokers);
                }
                if leaders.is_empty() {
                    // The broker refused the connection: it is in reconnect backoff, and the refresh goes to another
                    // one (`DefaultMetadataUpdater.handleServerDisconnect`, then `leastLoadedNode`).
                    if let Some(broker) = self.metadata_target.take() {
                        if self.connection(broker) == Connection::Ready {
                            self.disconnect(ctx, broker);
                        }
                    }
                    self.request_metadata(ctx);
                    return;
                }
                let mut still_unknown = false;
                for (known, fresh) in self.leaders.iter_mut().zip(leaders) {
                    // KIP-320: metadata with an older leader epoch than already known is ignored.
                    if fresh.1 >= known.1 {
                        *known = fresh;
                    }
                    still_unknown |= known.0.is_none();
                }
                self.ready.reindex(&self.leaders);
                self.queued.reindex(&self.leaders);
                if still_unknown && !self.ready.is_empty() {
                    self.request_metadata_later(ctx);
                }
                self.drain(ctx, history);
            }
            other => debug_assert!(false, "producer got a message it never expects: {:?}", other.kind()),
        }
    }

    /// KIP-951 (`Metadata.updatePartitionLeadership`): a leader named in a NOT_LEADER_OR_FOLLOWER answer with a
    /// newer leader epoch than the producer knows replaces the cached one at once.
    fn apply_current_leaders(&mut self, current_leaders: &[(PartitionIdx, Option<BrokerId>, u32)]) {
        let mut changed = false;
        for &(partition, leader, leader_epoch) in current_leaders {
            let known = &mut self.leaders[partition.index()];
            if leader.is_some() && leader_epoch > known.1 {
                *known = (leader, leader_epoch);
                changed = true;
            }
        }
        if changed {
            self.ready.reindex(&self.leaders);
            self.queued.reindex(&self.leaders);
        }
    }

    fn request_metadata_later(&mut self, ctx: &mut Ctx) {
        if let Some(partition) = self.ready.any() {
            ctx.timer_after(self.config.retry_backoff.max(1), Timer::RetryBackoff { partition });
        }
    }

    /// A broker's process died: requests in flight to it fail with a disconnect, as NetworkClient reports.
    pub fn on_broker_disconnected(&mut self, ctx: &mut Ctx, history: &mut History, broker: BrokerId) {
        // The node is not ready (NetworkClient.ready) until it can be reached again: nothing is sent to it, not even
        // acks=0 batches, which wait in the accumulator for fresher metadata.
        self.disconnect(ctx, broker);
        let failed: Vec<u64> = self.in_flight.iter().filter(|(_, f)| f.broker == broker).map(|(&id, _)| id).collect();
        for request_id in failed {
            self.fail_request(ctx, history, request_id, KafkaError::NetworkException);
        }
        self.request_metadata(ctx);
    }

    fn connection(&self, broker: BrokerId) -> Connection {
        self.connections[broker.0 as usize]
    }

    /// The connection to `broker` broke, was refused or timed out: it is not ready until the reconnect backoff passes.
    fn disconnect(&mut self, ctx: &mut Ctx, broker: BrokerId) {
        let connection = &mut self.connections[broker.0 as usize];
        if *connection != Connection::Backoff {
            *connection = Connection::Backoff;
            let failures = &mut self.connect_failures[broker.0 as usize];
            *failures += 1;
            let failures = *failures;
            let backoff = exponential_backoff(RECONNECT_BACKOFF, RECONNECT_BACKOFF_MAX, failures, &mut self.rng);
            ctx.timer_after(backoff.max(1), Timer::Reconnect { broker });
        }
    }

    /// `NetworkClient.initiateConnect`: open a new connection to `broker` and send its ApiVersions request. The TCP
    /// handshake and the ApiVersions exchange are one round trip here. A dead broker refuses it; over a cut link it is
    /// sent again as TCP resends a SYN, and given up after `socket.connection.setup.timeout.ms`.
    fn connect(&mut self, ctx: &mut Ctx, broker: BrokerId) {
        self.next_request_id += 1;
        let request_id = self.next_request_id;
        self.connections[broker.0 as usize] = Connection::Connecting { request_id };
        ctx.send(broker.node(), Message::ApiVersions { request_id });
        let failures = self.connect_failures[broker.0 as usize];
        let timeout =
            exponential_backoff(CONNECTION_SETUP_TIMEOUT, CONNECTION_SETUP_TIMEOUT_MAX, failures + 1, &mut self.rng);
        ctx.timer_after(timeout, Timer::ConnectTimeout { broker, request_id });
        ctx.timer_after(CONNECT_RETRANSMIT, Timer::ConnectRetransmit { broker, request_id, retransmits: 0 });
    }

    /// A request whose connection was refused never left: its batches return to the front of their partitions'
    /// queues as they were, without counting a try.
    fn unsend(&mut self, ctx: &mut Ctx, request: InFlight) {
        self.in_flight_per_broker[request.broker.0 as usize] -= 1;
        self.stats.requests -= 1;
        for (partition, mut batch) in request.batches {
            self.in_flight_per_partition[partition.index()] -= 1;
            if batch.expired_in_flight {
                // It never reached the broker and its callback already ran: nothing goes back to the queue.
                self.expired_in_flight_per_partition[partition.index()] -= 1;
                if batch.attempts == 1 {
                    self.stats.batches -= 1;
                } else {
                    self.stats.retries -= 1;
                }
                continue;
            }
            batch.attempts -= 1;
            if batch.attempts == 0 {
                self.stats.batches -= 1;
            } else {
                self.stats.retries -= 1;
            }
            self.arm_accumulator_expiry(ctx, batch.created_at + self.config.delivery_timeout);
            // Back where it was: ahead of every batch created after it (`Batch::id` counts up per producer).
            let deque = &mut self.accumulator[partition.index()];
            let position = deque.iter().position(|b| b.id > batch.id).unwrap_or(deque.len());
            deque.insert(position, batch);
            self.ready.insert(partition, self.leaders[partition.index()].0);
            self.queued.insert(partition, self.leaders[partition.index()].0);
        }
    }

    /// KIP-360: an idempotent producer whose sequence numbers on `partition` can no longer line up with the
    /// broker's (a batch expired or failed after getting its sequence, or the partition lost the producer's state in
    /// an unclean election) bumps its epoch (`TransactionManager.bumpIdempotentProducerEpoch`) and renumbers that
    /// partition's outstanding batches from 0 under it (`startSequencesAtBeginning`). Batches of other partitions
    /// keep their old epoch and sequence, so a retry there is still recognised as a duplicate; those partitions move
    /// to the new epoch once nothing of the old one is outstanding.
    fn bump_epoch(&mut self, ctx: &mut Ctx, partition: PartitionIdx) {
        // Kafka collects the partitions to rewrite and bumps once per sender loop (`partitionsToRewriteSequences`):
        // a partition that asks at the same instant as another, and never sent under the epoch just made, joins it.
        let joins_last_bump =
            self.last_bump_at == Some(ctx.now) && self.partition_producer_id[partition.index()] != self.producer_id;
        if !joins_last_bump {
            self.producer_epoch += 1;
            if self.producer_epoch > MAX_PRODUCER_EPOCH {
                // `bumpIdempotentProducerEpoch` at `Short.MAX_VALUE` takes a new producer id (here: the next free
                // one of this producer's) and starts again at epoch 0.
                self.producer_id_resets += 1;
                self.producer_epoch = 0;
                debug_assert!(self.producer_id_resets < 16, "the packed producer id has room for 15 resets");
            }
            self.last_bump_at = Some(ctx.now);
        }
        ctx.trace(TraceKind::ProducerEpochBumped {
            producer: self.idx,
            partition,
            producer_epoch: self.producer_epoch,
        });
        let base_id = 1000 + self.idx.0 + PRODUCER_ID_RESET_STRIDE * self.producer_id_resets;
        self.producer_id = base_id | (self.producer_epoch << crate::log::PRODUCER_EPOCH_SHIFT);
        let new_id = self.producer_id;
        let mut outstanding: Vec<&mut Batch> = self
            .in_flight
            .values_mut()
            .flat_map(|f| f.batches.iter_mut())
            .filter(|(p, b)| *p == partition && b.base_sequence >= 0 && !b.expired_in_flight)
            .map(|(_, b)| b)
            .chain(self.accumulator[partition.index()].iter_mut().filter(|b| b.base_sequence >= 0))
            .collect();
        outstanding.sort_by_key(|b| b.base_sequence);
        let mut next = 0;
        for batch in outstanding {
            batch.sequenced_as = new_id;
            batch.base_sequence = next;
            batch.sequence_reset = true;
            next += batch.records.len() as i32;
        }
        self.partition_producer_id[partition.index()] = new_id;
        self.next_sequence[partition.index()] = next;
        self.last_acked_sequence[partition.index()] = -1;
        self.unresolved_sequence[partition.index()] = None;
    }

    fn count_error(&mut self, error: KafkaError) {
        *self.stats.errors.entry(error.name().to_string()).or_default() += 1;
    }

    /// `Sender.getExpiredInflightBatches`: a batch in flight whose `delivery.timeout.ms` has passed since its creation
    /// fails with DELIVERY_TIMEOUT now, without waiting for its request's answer or timeout. The request stays in
    /// flight: its connection is not closed and `max.in.flight.requests.per.connection` still counts it.
    fn expire_in_flight(&mut self, ctx: &mut Ctx, history: &mut History, request_id: u64) {
        let Some(mut request) = self.in_flight.remove(&request_id) else { return };
        for (partition, batch) in request.batches.iter_mut() {
            if batch.expired_in_flight || ctx.now.saturating_sub(batch.created_at) < self.config.delivery_timeout {
                continue;
            }
            batch.expired_in_flight = true;
            self.expired_in_flight_per_partition[partition.index()] += 1;
            self.count_error(KafkaError::DeliveryTimeout);
            self.complete(ctx, history, *partition, batch, Err(KafkaError::DeliveryTimeout));
        }
        request.expires_at = self.next_in_flight_expiry(&request.batches);
        self.in_flight.insert(request_id, request);
    }

    /// The whole request failed on the client side (timeout or broken connection).
    fn fail_request(&mut self, ctx: &mut Ctx, history: &mut History, request_id: u64, error: KafkaError) {
        if let Some(request) = self.in_flight.remove(&request_id) {
            let results = request.batches.iter().map(|(p, _)| (*p, Err(error))).collect();
            self.handle_response(ctx, history, request, results, true);
        }
    }

    /// `Sender.handleProduceResponse` / `completeBatch`: per partition, ack, retry or fail the batch.
    fn handle_response(
        &mut self,
        ctx: &mut Ctx,
        history: &mut History,
        request: InFlight,
        mut results: Vec<(PartitionIdx, Result<u64, KafkaError>)>,
        client_side: bool,
    ) {
        self.in_flight_per_broker[request.broker.0 as usize] -= 1;
        let mut batches = request.batches;
        for ((partition, batch), (answered, result)) in batches.drain(..).zip(results.drain(..)) {
            debug_assert_eq!(partition, answered);
            self.in_flight_per_partition[partition.index()] -= 1;
            if batch.expired_in_flight {
                self.settle_expired(ctx, partition, &batch, result);
                continue;
            }
            self.complete_batch(ctx, history, partition, batch, result, client_side);
        }
        ctx.buffers.in_flight_batches.give(batches);
        ctx.buffers.produce_results.give(results);
        self.drain(ctx, history);
    }

    /// The answer for a batch that already expired in flight. `Sender.completeBatch` still lets the transaction
    /// manager see an acknowledged sequence (`handleCompletedBatch`), but the batch's callback ran at its expiry and
    /// does not run again; a failed answer changes nothing (`failBatch` finds the batch done).
    fn settle_expired(
        &mut self,
        ctx: &mut Ctx,
        partition: PartitionIdx,
        batch: &Batch,
        result: Result<u64, KafkaError>,
    ) {
        let p = partition.index();
        self.expired_in_flight_per_partition[p] -= 1;
        if result.is_ok()
            && self.producer_id != 0
            && batch.base_sequence >= 0
            && batch.sequenced_as == self.partition_producer_id[p]
        {
            let last = &mut self.last_acked_sequence[p];
            *last = (*last).max(batch.base_sequence + batch.records.len() as i32 - 1);
        }
        self.maybe_resolve_sequences(ctx, partition);
    }

    fn complete_batch(
        &mut self,
        ctx: &mut Ctx,
        history: &mut History,
        partition: PartitionIdx,
        batch: Batch,
        result: Result<u64, KafkaError>,
        client_side: bool,
    ) {
        let error = match result {
            Ok(offset) => return self.complete(ctx, history, partition, &batch, Ok(Some(offset))),
            Err(error) => error,
        };
        self.count_error(error);
        let expired = ctx.now.saturating_sub(batch.created_at) >= self.config.delivery_timeout;
        // The idempotent producer retries OUT_OF_ORDER_SEQUENCE_NUMBER: the gap closes once an earlier batch lands.
        let retriable =
            error.is_retriable() && (error != KafkaError::OutOfOrderSequenceNumber || self.producer_id != 0);
        if retriable && batch.attempts <= self.config.retries && !expired {
            let p = partition.index();
            let bump = error == KafkaError::OutOfOrderSequenceNumber
                && batch.sequenced_as == self.partition_producer_id[p]
                && sequence_gap_is_real(&batch, self.unresolved_sequence[p], self.last_acked_sequence[p]);
            ctx.trace(TraceKind::ProduceRetry {
                producer: self.idx,
                partition,
                error,
                records: batch.records.len() as u32,
            });
            self.reenqueue(ctx, partition, batch);
            if bump {
                // The retried batch is queued again, so the bump renumbers it with the rest of its partition.
                self.bump_epoch(ctx, partition);
            }
            // Invalid-metadata errors and disconnects refresh metadata; a broker-side REQUEST_TIMED_OUT does not.
            let client_side_timeout = error == KafkaError::RequestTimedOut && client_side;
            if client_side_timeout
                || matches!(
                    error,
                    KafkaError::NotLeaderOrFollower | KafkaError::NetworkException | KafkaError::FencedLeaderEpoch
                )
            {
                // Metadata.requestUpdate: the cached leader stays in use until fresher metadata replaces it.
                self.request_metadata(ctx);
            }
        } else {
            let error = if expired { KafkaError::DeliveryTimeout } else { error };
            if expired {
                self.count_error(KafkaError::DeliveryTimeout);
            }
            self.complete(ctx, history, partition, &batch, Err(error));
        }
    }

    /// `RecordAccumulator.reenqueue`: a retried batch goes back to the head of its partition's queue (in sequence
    /// order for the idempotent producer) and waits `retry.backoff.ms`.
    fn reenqueue(&mut self, ctx: &mut Ctx, partition: PartitionIdx, mut batch: Batch) {
        let backoff = self.retry_backoff(batch.attempts);
        batch.retry_at = ctx.now + backoff;
        batch.closed = true;
        self.arm_accumulator_expiry(ctx, batch.created_at + self.config.delivery_timeout);
        let deque = &mut self.accumulator[partition.index()];
        let position = if batch.base_sequence >= 0 {
            deque
                .iter()
                .position(|b| b.base_sequence < 0 || b.base_sequence > batch.base_sequence)
                .unwrap_or(deque.len())
        } else {
            0
        };
        deque.insert(position, batch);
        self.ready.insert(partition, self.leaders[partition.index()].0);
        self.queued.insert(partition, self.leaders[partition.index()].0);
        ctx.timer_after(backoff.max(1), Timer::RetryBackoff { partition });
    }

    /// KIP-580 (Kafka 3.7+): `retry.backoff.ms` doubles with each attempt up to `retry.backoff.max.ms`, with 20%
    /// random jitter either way (`ExponentialBackoff`).
    fn retry_backoff(&mut self, attempts: u32) -> Micros {
        exponential_backoff(self.config.retry_backoff, self.config.retry_backoff_max, attempts, &mut self.rng)
    }
}

/// KIP-580 (Kafka 3.7+, `ExponentialBackoff`): the wait before try number `attempts` + 1 is `retry.backoff.ms` doubled
/// per earlier failure, capped at `retry.backoff.max.ms`, with 20% random jitter either way. Clients use it for
/// every retried request (produce, FindCoordinator, OffsetCommit, ...).
pub(crate) fn exponential_backoff(base: Micros, max: Micros, attempts: u32, rng: &mut impl RngCore) -> Micros {
    // With no room to grow, `ExponentialBackoff` waits `min(retry.backoff.ms, retry.backoff.max.ms)` every time,
    // without jitter: the config docs say a `retry.backoff.ms` above the maximum makes the maximum a constant backoff.
    if max <= base {
        return max;
    }
    let exponential = base.saturating_mul(1u64 << attempts.saturating_sub(1).min(32)).min(max);
    if exponential == 0 {
        return 0;
    }
    // A jitter factor in [0.8, 1.2], in integer thousandths so runs stay exact.
    let jitter_permille = 800 + rng.next_u64() % 401;
    (exponential * jitter_permille / 1000).min(max)
}

/// Partitions whose first batch is ready to send, grouped by the broker that leads them (as this producer
/// believes), so the sender only looks at brokers with a free request slot. One bit per partition and broker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReadySet {
    by_broker: Vec<IndexBits>,
    /// Members per broker, so that a broker with none is skipped without looking at its bits.
    count_by_broker: Vec<u32>,
    no_leader: IndexBits,
    /// Where each partition is filed, indexed by partition: `None` when it is not in the set, else under
    /// `Some(broker)` or under no leader.
    filed: Vec<Option<Option<BrokerId>>>,
    len: usize,
}

impl ReadySet {
    fn new(brokers: u32, partitions: usize) -> Self {
        ReadySet {
            by_broker: vec![IndexBits::with_capacity(partitions); brokers as usize],
            count_by_broker: vec![0; brokers as usize],
            no_leader: IndexBits::with_capacity(partitions),
            filed: vec![None; partitions],
            len: 0,
        }
    }

    fn insert(&mut self, partition: PartitionIdx, leader: Option<BrokerId>) {
        if self.filed[partition.index()] == Some(leader) {
            return;
        }
        self.remove(partition);
        match leader {
            Some(b) => {
                self.by_broker[b.0 as usize - 1].insert(partition.index());
                self.count_by_broker[b.0 as usize - 1] += 1;
            }
            None => self.no_leader.insert(partition.index()),
        };
        self.filed[partition.index()] = Some(leader);
        self.len += 1;
    }

    fn remove(&mut self, partition: PartitionIdx) {
        match self.filed[partition.index()].take() {
            Some(Some(b)) => {
                self.by_broker[b.0 as usize - 1].remove(partition.index());
                self.count_by_broker[b.0 as usize - 1] -= 1;
            }
            Some(None) => self.no_leader.remove(partition.index()),
            None => return,
        };
        self.len -= 1;
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many partitions in the set the broker (0-based) leads.
    fn count_of_broker(&self, broker_index: usize) -> usize {
        self.count_by_broker[broker_index] as usize
    }

    /// Does the broker (0-based) lead any partition in the set?
    fn broker_has_any(&self, broker_index: usize) -> bool {
        self.count_by_broker[broker_index] > 0
    }

    /// The broker's (0-based) lowest partition in the set at or after `from`, before `end`.
    fn next_of_broker(&self, broker_index: usize, from: usize, end: usize) -> Option<PartitionIdx> {
        self.by_broker[broker_index].next_from(from, end).map(|p| PartitionIdx(p as u32))
    }

    /// The lowest partition in the set.
    fn any(&self) -> Option<PartitionIdx> {
        self.by_broker
            .iter()
            .chain([&self.no_leader])
            .filter_map(|set| set.first())
            .min()
            .map(|p| PartitionIdx(p as u32))
    }

    /// Files every partition again after the leaders changed.
    fn reindex(&mut self, leaders: &[(Option<BrokerId>, u32)]) {
        for (index, &(leader, _)) in leaders.iter().enumerate() {
            if self.filed[index].is_some() {
                self.insert(PartitionIdx(index as u32), leader);
            }
        }
    }
}

/// An open batch's entry in the producer's linger deadlines: when `linger.ms` runs out for it.
fn linger_deadline(batch: &Batch, partition: PartitionIdx, linger: Micros) -> (Micros, (PartitionIdx, u64)) {
    (batch.created_at + linger, (partition, batch.id))
}

/// A record handed to `producer.send()`: the topic, an optional key, the value (or `None` for a generated one) and
/// an optional explicit partition.
pub struct OutgoingRecord {
    pub topic: usize,
    pub key: KeyRef,
    pub value: Option<TextId>,
    pub partition: Option<u32>,
}

/// `TransactionManager.canRetry` on OUT_OF_ORDER_SEQUENCE_NUMBER for the idempotent producer: whether the gap the
/// broker saw before `batch` is real, so the epoch must be bumped (the batch is retried either way). With the
/// partition's sequence unresolved, only the batch right after the expired one shows a real gap
/// (`isNextSequenceForUnresolvedPartition`); otherwise the gap is real when the batch is the next sequence after the
/// last acknowledged one (`isNextSequence`), unless a bump renumbered it since the send being answered
/// (`sequenceHasBeenReset`): that answer is about its old numbers.
fn sequence_gap_is_real(batch: &Batch, unresolved_next: Option<i32>, last_acked: i32) -> bool {
    match unresolved_next {
        Some(next) => batch.base_sequence == next,
        None => !batch.sequence_reset && batch.base_sequence == last_acked + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases of `TransactionManager.canRetry` for OUT_OF_ORDER_SEQUENCE_NUMBER.
    #[test]
    fn an_out_of_order_answer_bumps_only_for_a_real_gap() {
        let batch = |base_sequence: i32, sequence_reset: bool| Batch {
            id: 1,
            outcome: OutcomeId(0),
            records: smallvec::smallvec![],
            bytes: 0,
            created_at: 0,
            records_created_at_total: 0,
            attempts: 1,
            drained: true,
            base_sequence,
            sequenced_as: 1000,
            closed: true,
            closed_by: BatchTrigger::BatchSize,
            retry_at: 0,
            sent_leader_epoch: 0,
            expired_in_flight: false,
            sequence_reset,
        };
        // The next sequence after the last acknowledged one, yet refused: whatever came before it is gone.
        assert!(sequence_gap_is_real(&batch(5, false), None, 4));
        // A later batch: the batch before it may still land, so it is retried without a bump.
        assert!(!sequence_gap_is_real(&batch(7, false), None, 4));
        // Renumbered by a bump after this send: the answer is about its old numbers.
        assert!(!sequence_gap_is_real(&batch(0, true), None, -1));
        assert!(sequence_gap_is_real(&batch(0, false), None, -1));
        // An expired batch left the sequence unresolved at 9: only the batch starting there shows the gap.
        assert!(sequence_gap_is_real(&batch(9, false), Some(9), 4));
        assert!(!sequence_gap_is_real(&batch(5, false), Some(9), 4));
        assert!(sequence_gap_is_real(&batch(9, true), Some(9), 4));
    }

    /// The cases of Kafka's `UtilsTest.testMurmur2`.
    #[test]
    fn murmur2_matches_kafka() {
        assert_eq!(murmur2(b"21"), -973932308);
        assert_eq!(murmur2(b"foobar"), -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1486304829);
        assert_eq!(murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
        assert_eq!(murmur2(b"abc"), 479470107);
    }

    /// KIP-580's `ExponentialBackoff`: doubling from `retry.backoff.ms` with 20% jitter up to `retry.backoff.max.ms`;
    /// a base above the maximum makes the maximum a constant backoff.
    #[test]
    fn exponential_backoff_doubles_up_to_the_maximum() {
        use rand_core::SeedableRng;
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let ms = 1000;
        for _ in 0..50 {
            let first = exponential_backoff(100 * ms, 1000 * ms, 1, &mut rng);
            assert!((80 * ms..=120 * ms).contains(&first), "{first}");
            let third = exponential_backoff(100 * ms, 1000 * ms, 3, &mut rng);
            assert!((320 * ms..=480 * ms).contains(&third), "{third}");
            let capped = exponential_backoff(100 * ms, 1000 * ms, 9, &mut rng);
            assert!((800 * ms..=1000 * ms).contains(&capped), "{capped}");
        }
        assert_eq!(exponential_backoff(2000 * ms, 1000 * ms, 1, &mut rng), 1000 * ms);
        assert_eq!(exponential_backoff(2000 * ms, 1000 * ms, 7, &mut rng), 1000 * ms);
        assert_eq!(exponential_backoff(100 * ms, 100 * ms, 4, &mut rng), 100 * ms);
    }
}
