//! What a node's handler sees while it handles one event: the time, the cluster's static layout, and an outbox for
//! the messages, timers and trace events it produces. Handlers never touch the queue or the network directly.

use crate::config::BrokerConfig;
use crate::ids::{BrokerId, NodeId, PartitionIdx};
use crate::message::Message;
use crate::scenario::Topic;
use crate::time::Micros;
use crate::trace::{Trace, TraceKind};
use serde::{Deserialize, Serialize};

/// A timer a node set for itself. Timers of a node that crashed or restarted since are ignored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Timer {
    // Broker timers.
    /// The next heartbeat, due at `at` (a later schedule replaces it).
    BrokerHeartbeat {
        at: Micros,
    },
    /// A follower's fetch to `leader` got no answer within `replica.socket.timeout.ms`.
    FetchTimeout {
        leader: BrokerId,
    },
    /// A partition that got an error in a fetch response sits out `replica.fetch.backoff.ms` (`delayPartitions`).
    FetchBackoff {
        partition: PartitionIdx,
    },
    /// The connection to `leader` failed: its fetcher waits `replica.fetch.backoff.ms` before trying again.
    FetcherBackoff {
        leader: BrokerId,
    },
    /// The earliest held fetch reaches `replica.fetch.wait.max.ms` (one timer per broker, re-armed for the next).
    FetchWaitExpired {
        at: Micros,
    },
    /// The earliest acks=all produce waiting at this broker reaches its timeout (`DelayedProduce`).
    ProduceTimeout {
        at: Micros,
    },
    /// The leader's periodic ISR check (every `replica.lag.time.max.ms` / 2, as `ReplicaManager` schedules it).
    IsrCheck {
        partition: PartitionIdx,
        leader_epoch: u32,
    },
    ControlledShutdownTimeout,
    /// Write every replica's high watermark to the checkpoint file.
    HighWatermarkCheckpoint,
    // Controller timers.
    SessionCheck {
        broker: BrokerId,
    },
    // Producer timers.
    WorkloadTick {
        workload: usize,
    },
    /// The earliest open batch reaches `linger.ms` (one timer per producer, re-armed for the next).
    Linger {
        at: Micros,
    },
    /// The earliest front batch in the accumulator reaches `delivery.timeout.ms` (one timer per producer, re-armed).
    AccumulatorExpiry {
        at: Micros,
    },
    /// The earliest request in flight reaches `request.timeout.ms` (one timer per producer, re-armed).
    RequestTimeout {
        at: Micros,
    },
    /// `reconnect.backoff.ms` passed: the broker may be connected to again.
    Reconnect {
        broker: BrokerId,
    },
    /// A new connection's first packet had no answer: it is sent again (TCP's SYN retransmission).
    ConnectRetransmit {
        broker: BrokerId,
        request_id: u64,
        retransmits: u32,
    },
    /// A new connection's setup (its ApiVersions exchange) reaches `socket.connection.setup.timeout.ms`.
    ConnectTimeout {
        broker: BrokerId,
        request_id: u64,
    },
    RetryBackoff {
        partition: PartitionIdx,
    },
    MetadataTimeout {
        request_id: u64,
    },
    /// The commit before a rejoin tries again after a retriable failure (`token` names the rejoin's commit).
    ConsumerRevocationRetry {
        token: u64,
    },
    /// The commit before a rejoin reaches its time limit: the member rejoins without it.
    ConsumerRevocationDeadline {
        token: u64,
    },
    /// `retry.backoff.ms` since the last metadata answer passed: a refresh that was asked for may go out.
    MetadataBackoff,
    // Broker timers for consumer groups and consumer fetches.
    ConsumerFetchWait {
        at: Micros,
    },
    /// The earliest offset commit waiting for the offsets partition's high watermark reaches
    /// `offsets.commit.timeout.ms` (one timer per broker, re-armed for the next).
    OffsetCommitTimeout {
        at: Micros,
    },
    RebalanceDeadline {
        group: u32,
    },
    MemberSession {
        group: u32,
        member: crate::message::MemberId,
    },
    // Consumer timers.
    ConsumerHeartbeat,
    /// A heartbeat `retry.backoff.ms` after a failed one (`Heartbeat.failHeartbeat`), outside the regular ticks.
    ConsumerHeartbeatRetry,
    /// A coordinator lookup (`lookup` is its request id) timed out, or its backoff is over.
    ConsumerRetry {
        lookup: u64,
    },
    ConsumerPoll {
        token: u64,
    },
    ConsumerProcess,
    ConsumerFetchRetry {
        partition: PartitionIdx,
    },
    /// `commitSync()` tries its commit again after `retry.backoff.ms` (`token` names the commitSync call).
    ConsumerCommitRetry {
        token: u64,
    },
    /// `commitSync()` reaches `default.api.timeout.ms`.
    ConsumerCommitDeadline {
        token: u64,
    },
    /// `retry.backoff.ms` since the last metadata answer passed: the consumer's pending refresh may go out.
    ConsumerMetadataRetry,
    /// One of the consumer's timeouts (`max.poll.interval.ms`, `session.timeout.ms`, `request.timeout.ms`) is due
    /// before its next heartbeat tick.
    ConsumerDeadline,
}

/// Static facts about one partition.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PartitionInfo {
    pub topic: usize,
    pub partition: u32,
    pub replicas: Vec<BrokerId>,
    pub min_insync_replicas: u32,
    pub unclean_leader_election_enable: bool,
    pub flush_messages: u64,
}

impl PartitionInfo {
    /// `min.insync.replicas` as the leader applies it: capped at the replica count, so a topic with fewer replicas
    /// than the setting can still take acks=all writes once every replica is in sync.
    pub fn effective_min_insync_replicas(&self) -> usize {
        (self.min_insync_replicas as usize).min(self.replicas.len())
    }
}

/// The cluster's layout, fixed for a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Topology {
    pub brokers: u32,
    pub broker_config: BrokerConfig,
    pub topics: Vec<Topic>,
    /// Every topic-partition, topic by topic.
    pub partitions: Vec<PartitionInfo>,
    /// The index of each topic's partition 0 in `partitions`.
    pub topic_first_partition: Vec<u32>,
    pub node_names: Vec<String>,
    /// The `__consumer_offsets` topic, when the scenario has consumer groups.
    pub offsets_topic: Option<usize>,
    /// Group ids by group index.
    pub groups: Vec<String>,
}

impl Topology {
    pub fn partition(&self, p: PartitionIdx) -> &PartitionInfo {
        &self.partitions[p.index()]
    }

    /// A `__consumer_offsets` partition: its log holds the group coordinator's own records (commits, group
    /// metadata), and a `LogEntry::record` there indexes the internal records instead of the delivery history.
    pub fn is_internal(&self, p: PartitionIdx) -> bool {
        self.offsets_topic == Some(self.partition(p).topic)
    }

    pub fn partition_idx(&self, topic: usize, partition: u32) -> PartitionIdx {
        PartitionIdx(self.topic_first_partition[topic] + partition)
    }

    pub fn broker_ids(&self) -> impl Iterator<Item = BrokerId> {
        (1..=self.brokers).map(BrokerId)
    }

    /// `orders-0`, as Kafka names a topic-partition.
    pub fn partition_name(&self, p: PartitionIdx) -> String {
        let info = self.partition(p);
        format!("{}-{}", self.topics[info.topic].name, info.partition)
    }

    pub fn node_name(&self, node: NodeId) -> &str {
        &self.node_names[node.index()]
    }
}

/// What a handler produced.
#[derive(Clone, Debug, Default)]
pub struct Outbox {
    pub sends: Vec<(NodeId, Message)>,
    pub timers: Vec<(Micros, Timer)>,
    /// The broker asks to stop its own process (after a controlled shutdown).
    pub stop_self: bool,
    /// Partitions the handler changed beyond those its message names, for the invariant checks.
    pub touched: Vec<PartitionIdx>,
}

impl Outbox {
    pub fn clear(&mut self) {
        self.sends.clear();
        self.timers.clear();
        self.stop_self = false;
        self.touched.clear();
    }
}

pub struct Ctx<'a> {
    pub now: Micros,
    pub topo: &'a Topology,
    pub out: &'a mut Outbox,
    /// The run's trace: what a handler records goes straight into its hash (and, when kept, its list).
    pub trace: &'a mut Trace,
    /// Spare payload vectors (`buffers.rs`).
    pub buffers: &'a mut crate::buffers::Buffers,
    /// Payloads of the group coordinators' records in `__consumer_offsets`.
    pub internal: &'a mut crate::group::InternalRecords,
}

impl Ctx<'_> {
    pub fn send(&mut self, to: NodeId, message: Message) {
        self.out.sends.push((to, message));
    }

    pub fn timer_after(&mut self, delay: Micros, timer: Timer) {
        self.out.timers.push((self.now + delay, timer));
    }

    /// One timer standing for many deadlines (held fetches, waiting produces, requests in flight): it is set for
    /// the earliest deadline unless a timer at or before it is already set; the handler re-arms it after it fires.
    pub fn arm_coalesced(
        &mut self,
        armed_at: &mut Option<Micros>,
        earliest: Option<Micros>,
        timer: fn(Micros) -> Timer,
    ) {
        if let Some(deadline) = earliest {
            if armed_at.is_none_or(|at| deadline < at) {
                *armed_at = Some(deadline);
                self.out.timers.push((deadline, timer(deadline)));
            }
        }
    }

    pub fn trace(&mut self, kind: TraceKind) {
        self.trace.record(self.now, kind);
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.topo.broker_config
    }
}
