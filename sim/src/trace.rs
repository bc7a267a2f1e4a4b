//! The trace: every event of a run, hashed as it happens, and kept in full only when asked for.
//!
//! Each event carries its time, its kind (with the numbers that matter), the nodes involved and an explanation key
//! (`"isr.shrink_proposed"`, ...) that a UI can translate; `explain.rs` renders events as English sentences.

use crate::hash::TraceHasher;
use crate::ids::{BrokerId, NodeId, PartitionIdx, ProducerIdx};
use crate::message::{BrokerSet, KafkaError, MemberId, MessageKind};
use crate::time::Micros;
use serde::Serialize;
use std::hash::{Hash, Hasher};

/// Why a producer batch stopped taking records and became ready to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub enum BatchTrigger {
    /// `batch.size` bytes were reached (or the next record did not fit).
    BatchSize,
    /// `linger.ms` expired.
    Linger,
    /// `linger.ms=0`: ready at once (records still join it while it waits for a free request slot).
    NoLinger,
    /// Not ready itself, but another batch for the same broker was: the request takes the first batch of every
    /// partition that broker leads (`RecordAccumulator.drain`).
    Drained,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum DropReason {
    /// The link was cut (a fault).
    LinkCut,
    /// The network dropped it at random (`drop` probability).
    Lost,
    /// The receiver's process is not running.
    NodeDown,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum TraceKind {
    Delivered {
        from: NodeId,
        to: NodeId,
        message: MessageKind,
    },
    Dropped {
        from: NodeId,
        to: NodeId,
        message: MessageKind,
        reason: DropReason,
    },
    Refused {
        from: NodeId,
        to: NodeId,
        message: MessageKind,
    },

    Crashed {
        broker: BrokerId,
        lost_unflushed: u64,
    },
    Restarted {
        broker: BrokerId,
    },
    ShutdownRequested {
        broker: BrokerId,
    },
    Stopped {
        broker: BrokerId,
    },
    ControllerCrashed,
    ControllerRestarted,
    Isolated {
        node: NodeId,
    },
    LinkCut {
        from: NodeId,
        to: NodeId,
    },
    Partitioned {
        groups: Vec<Vec<NodeId>>,
    },
    Healed,
    Slowed {
        node: NodeId,
        extra_latency: Micros,
    },
    Paused {
        node: NodeId,
    },
    Resumed {
        node: NodeId,
    },

    Appended {
        broker: BrokerId,
        partition: PartitionIdx,
        base_offset: u64,
        records: u32,
        leader_epoch: u32,
    },
    DuplicateBatch {
        broker: BrokerId,
        partition: PartitionIdx,
        base_offset: u64,
    },
    Replicated {
        broker: BrokerId,
        partition: PartitionIdx,
        base_offset: u64,
        records: u32,
    },
    HighWatermark {
        broker: BrokerId,
        partition: PartitionIdx,
        high_watermark: u64,
    },
    Truncated {
        broker: BrokerId,
        partition: PartitionIdx,
        from_offset: u64,
        to_offset: u64,
    },
    BecameLeader {
        broker: BrokerId,
        partition: PartitionIdx,
        leader_epoch: u32,
    },
    BecameFollower {
        broker: BrokerId,
        partition: PartitionIdx,
        leader: Option<BrokerId>,
        leader_epoch: u32,
    },
    IsrShrinkProposed {
        broker: BrokerId,
        partition: PartitionIdx,
        removed: BrokerSet,
    },
    IsrExpandProposed {
        broker: BrokerId,
        partition: PartitionIdx,
        added: BrokerId,
    },
    ProduceRejected {
        broker: BrokerId,
        partition: PartitionIdx,
        error: KafkaError,
    },

    BrokerFenced {
        broker: BrokerId,
    },
    BrokerUnfenced {
        broker: BrokerId,
    },
    IsrChanged {
        partition: PartitionIdx,
        isr: BrokerSet,
        partition_epoch: u32,
    },
    AlterPartitionRejected {
        partition: PartitionIdx,
        error: KafkaError,
    },
    LeaderElected {
        partition: PartitionIdx,
        leader: BrokerId,
        leader_epoch: u32,
        unclean: bool,
    },
    PartitionOffline {
        partition: PartitionIdx,
        leader_epoch: u32,
    },

    RebalanceStarted {
        group: u32,
        generation: u32,
        reason: &'static str,
    },
    GenerationStarted {
        group: u32,
        generation: u32,
        members: u32,
        leader: MemberId,
    },
    GroupStable {
        group: u32,
        generation: u32,
    },
    MemberRemoved {
        group: u32,
        member: MemberId,
        reason: &'static str,
    },
    CommitRejected {
        group: u32,
        member: MemberId,
        generation: u32,
        error: KafkaError,
    },
    OffsetsCommitted {
        group: u32,
        partitions: u32,
    },
    GroupLoaded {
        broker: BrokerId,
        group: u32,
        generation: u32,
    },
    PartitionsAssigned {
        consumer: NodeId,
        group: u32,
        generation: u32,
        partitions: u32,
        /// The member rebalances cooperatively (KIP-429), where an empty assignment may only mean "wait for the
        /// partitions' owners to give them up".
        cooperative: bool,
    },
    PartitionsRevoked {
        consumer: NodeId,
        group: u32,
        partitions: u32,
    },
    PollTimeout {
        consumer: NodeId,
        group: u32,
    },
    ConsumerStarted {
        consumer: NodeId,
    },
    ConsumerCrashed {
        consumer: NodeId,
    },
    ConsumerClosed {
        consumer: NodeId,
    },
    ConsumerSlowed {
        consumer: NodeId,
        processing: Micros,
    },
    CommitFailed {
        consumer: NodeId,
        group: u32,
        error: KafkaError,
    },
    ConsumerTruncationDetected {
        consumer: NodeId,
        partition: PartitionIdx,
        from_offset: u64,
        to_offset: u64,
    },

    BatchSent {
        producer: ProducerIdx,
        partition: PartitionIdx,
        records: u32,
        attempt: u32,
        to: BrokerId,
        trigger: BatchTrigger,
    },
    ProduceAcked {
        producer: ProducerIdx,
        partition: PartitionIdx,
        base_offset: Option<u64>,
        records: u32,
    },
    ProduceRetry {
        producer: ProducerIdx,
        partition: PartitionIdx,
        error: KafkaError,
        records: u32,
    },
    ProduceFailed {
        producer: ProducerIdx,
        partition: PartitionIdx,
        error: KafkaError,
        records: u32,
    },
    /// KIP-360: the idempotent producer bumped its epoch and renumbers `partition` from sequence 0.
    ProducerEpochBumped {
        producer: ProducerIdx,
        partition: PartitionIdx,
        producer_epoch: u32,
    },
    /// The coordinator could not replicate an offset commit in time, or at all (the offsets partition's ISR is below
    /// `min.insync.replicas`): the commit is answered with `error` and its offsets are not taken.
    CommitNotReplicated {
        group: u32,
        partitions: u32,
        error: KafkaError,
    },
    /// One try of a `commitSync()` failed with a retriable error: it tries again after `retry.backoff.ms` (finding
    /// the coordinator first when the error was the coordinator's), and the application stays blocked in it.
    CommitSyncRetry {
        consumer: NodeId,
        group: u32,
        error: KafkaError,
    },
    /// `commitSync()` did not succeed within `default.api.timeout.ms`: it throws a `TimeoutException` and the
    /// offsets are not committed; the application goes on.
    CommitSyncTimedOut {
        consumer: NodeId,
        group: u32,
    },
    /// A commit the client fails at once, without a request: the member left its group after
    /// `max.poll.interval.ms`, or was fenced out of it, and reset its generation
    /// (`ConsumerCoordinator.sendOffsetCommitRequest`: `CommitFailedException`, "it is likely that the consumer was
    /// kicked out of the group").
    /// With `rebalance_in_progress`, the member is in a rebalance instead (a cooperative member keeps processing
    /// during one): `RebalanceInProgressException`, the commit can be made again once the rebalance is done.
    CommitFailedNotInGroup {
        consumer: NodeId,
        group: u32,
        rebalance_in_progress: bool,
    },
    /// A new connection from the producer to `broker` answered its ApiVersions request: requests may go out on it.
    ProducerConnected {
        producer: ProducerIdx,
        broker: BrokerId,
    },
    /// The commit a member makes before it rejoins (`onJoinPrepare` for auto-commit, or the application's commitSync
    /// in `onPartitionsRevoked`) failed with a retriable error: it is tried again after the retry backoff, and the
    /// JoinGroup waits for it.
    RevocationCommitRetry {
        consumer: NodeId,
        group: u32,
        error: KafkaError,
    },
    /// The commit before the rejoin did not succeed in time (auto-commit: `max.poll.interval.ms`, the rebalance
    /// timeout; the application's commitSync: `default.api.timeout.ms`): the member rejoins without it, so the next
    /// owner of its partitions starts from the last commit that did land.
    RevocationCommitGaveUp {
        consumer: NodeId,
        group: u32,
        auto_commit: bool,
    },
}

impl TraceKind {
    /// The explanation key the UIs translate, e.g. `"isr.shrink_proposed"`.
    pub fn key(&self) -> &'static str {
        match self {
            TraceKind::Delivered { .. } => "net.delivered",
            TraceKind::Dropped { .. } => "net.dropped",
            TraceKind::Refused { .. } => "net.refused",
            TraceKind::Crashed { .. } => "fault.crash",
            TraceKind::Restarted { .. } => "fault.restart",
            TraceKind::ShutdownRequested { .. } => "fault.controlled_shutdown",
            TraceKind::Stopped { .. } => "broker.stopped",
            TraceKind::ControllerCrashed => "fault.controller_crash",
            TraceKind::ControllerRestarted => "fault.controller_restart",
            TraceKind::Isolated { .. } => "fault.isolate",
            TraceKind::LinkCut { .. } => "fault.cut",
            TraceKind::Partitioned { .. } => "fault.partition",
            TraceKind::Healed => "fault.heal",
            TraceKind::Slowed { .. } => "fault.slow",
            TraceKind::Paused { .. } => "fault.pause",
            TraceKind::Resumed { .. } => "fault.resume",
            TraceKind::Appended { .. } => "log.appended",
            TraceKind::DuplicateBatch { .. } => "log.duplicate_batch",
            TraceKind::Replicated { .. } => "log.replicated",
            TraceKind::HighWatermark { .. } => "hw.advanced",
            TraceKind::Truncated { .. } => "log.truncated",
            TraceKind::BecameLeader { .. } => "replica.became_leader",
            TraceKind::BecameFollower { .. } => "replica.became_follower",
            TraceKind::IsrShrinkProposed { .. } => "isr.shrink_proposed",
            TraceKind::IsrExpandProposed { .. } => "isr.expand_proposed",
            TraceKind::ProduceRejected { .. } => "produce.rejected",
            TraceKind::BrokerFenced { .. } => "controller.fenced",
            TraceKind::BrokerUnfenced { .. } => "controller.unfenced",
            TraceKind::IsrChanged { .. } => "isr.changed",
            TraceKind::AlterPartitionRejected { .. } => "isr.rejected",
            TraceKind::LeaderElected { unclean: false, .. } => "election.clean",
            TraceKind::LeaderElected { unclean: true, .. } => "election.unclean",
            TraceKind::PartitionOffline { .. } => "election.offline",
            TraceKind::RebalanceStarted { .. } => "group.rebalance_started",
            TraceKind::GenerationStarted { .. } => "group.generation",
            TraceKind::GroupStable { .. } => "group.stable",
            TraceKind::MemberRemoved { .. } => "group.member_removed",
            TraceKind::CommitRejected { .. } => "group.commit_rejected",
            TraceKind::OffsetsCommitted { .. } => "group.offsets_committed",
            TraceKind::GroupLoaded { .. } => "group.loaded",
            TraceKind::PartitionsAssigned { .. } => "consumer.assigned",
            TraceKind::PartitionsRevoked { .. } => "consumer.revoked",
            TraceKind::PollTimeout { .. } => "consumer.poll_timeout",
            TraceKind::ConsumerStarted { .. } => "consumer.started",
            TraceKind::ConsumerCrashed { .. } => "fault.consumer_crash",
            TraceKind::ConsumerClosed { .. } => "consumer.closed",
            TraceKind::ConsumerSlowed { .. } => "fault.consumer_slow",
            TraceKind::CommitFailed { .. } => "consumer.commit_failed",
            TraceKind::ConsumerTruncationDetected { .. } => "consumer.truncation_detected",
            TraceKind::BatchSent { .. } => "producer.batch_sent",
            TraceKind::ProduceAcked { .. } => "producer.acked",
            TraceKind::ProduceRetry { .. } => "producer.retry",
            TraceKind::ProducerEpochBumped { .. } => "producer.epoch_bumped",
            TraceKind::ProducerConnected { .. } => "producer.connected",
            TraceKind::ProduceFailed { .. } => "producer.failed",
            TraceKind::CommitNotReplicated { .. } => "group.commit_not_replicated",
            TraceKind::CommitSyncRetry { .. } => "consumer.commit_sync_retry",
            TraceKind::CommitSyncTimedOut { .. } => "consumer.commit_sync_timed_out",
            TraceKind::RevocationCommitRetry { .. } => "consumer.revocation_commit_retry",
            TraceKind::RevocationCommitGaveUp { .. } => "consumer.revocation_commit_gave_up",
            TraceKind::CommitFailedNotInGroup { .. } => "consumer.commit_not_in_group",
        }
    }

    /// Is this one of the events a learner should notice (faults, elections, ISR changes, errors), rather than
    /// routine message traffic?
    pub fn is_notable(&self) -> bool {
        !matches!(
            self,
            TraceKind::Delivered { .. }
                | TraceKind::Appended { .. }
                | TraceKind::Replicated { .. }
                | TraceKind::HighWatermark { .. }
                | TraceKind::BatchSent { .. }
                | TraceKind::ProduceAcked { .. }
                | TraceKind::OffsetsCommitted { .. }
        )
    }

    /// The nodes this event involves.
    pub fn nodes(&self) -> Vec<NodeId> {
        use TraceKind::*;
        match self {
            Delivered { from, to, .. } | Dropped { from, to, .. } | Refused { from, to, .. } | LinkCut { from, to } => {
                vec![*from, *to]
            }
            Crashed { broker, .. }
            | Restarted { broker }
            | ShutdownRequested { broker }
            | Stopped { broker }
            | Appended { broker, .. }
            | DuplicateBatch { broker, .. }
            | Replicated { broker, .. }
            | HighWatermark { broker, .. }
            | Truncated { broker, .. }
            | BecameLeader { broker, .. }
            | BecameFollower { broker, .. }
            | IsrShrinkProposed { broker, .. }
            | IsrExpandProposed { broker, .. }
            | ProduceRejected { broker, .. }
            | BrokerFenced { broker }
            | BrokerUnfenced { broker }
            | GroupLoaded { broker, .. } => vec![broker.node()],
            PartitionsAssigned { consumer, .. }
            | PartitionsRevoked { consumer, .. }
            | PollTimeout { consumer, .. }
            | ConsumerStarted { consumer }
            | ConsumerCrashed { consumer }
            | ConsumerClosed { consumer }
            | ConsumerSlowed { consumer, .. }
            | CommitFailed { consumer, .. }
            | CommitSyncRetry { consumer, .. }
            | CommitSyncTimedOut { consumer, .. }
            | RevocationCommitRetry { consumer, .. }
            | RevocationCommitGaveUp { consumer, .. }
            | CommitFailedNotInGroup { consumer, .. }
            | ConsumerTruncationDetected { consumer, .. } => vec![*consumer],
            RebalanceStarted { .. }
            | GenerationStarted { .. }
            | GroupStable { .. }
            | MemberRemoved { .. }
            | CommitRejected { .. }
            | CommitNotReplicated { .. }
            | OffsetsCommitted { .. } => Vec::new(),
            Isolated { node } | Slowed { node, .. } | Paused { node } | Resumed { node } => {
                vec![*node]
            }
            Partitioned { groups } => groups.iter().flatten().copied().collect(),
            LeaderElected { leader, .. } => vec![crate::ids::CONTROLLER, leader.node()],
            ControllerCrashed
            | ControllerRestarted
            | IsrChanged { .. }
            | AlterPartitionRejected { .. }
            | PartitionOffline { .. } => {
                vec![crate::ids::CONTROLLER]
            }
            Healed => Vec::new(),
            BatchSent { to, .. } | ProducerConnected { broker: to, .. } => vec![to.node()],
            ProduceAcked { .. } | ProduceRetry { .. } | ProduceFailed { .. } | ProducerEpochBumped { .. } => Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct TraceEvent {
    pub time: Micros,
    pub kind: TraceKind,
}

/// What of the trace a run keeps besides its hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum TraceRetention {
    /// Only the hash and the count (fastest; memory does not grow with time).
    HashOnly,
    /// Faults, elections, ISR changes and errors, without routine traffic.
    Notable,
    /// Everything.
    Full,
}

#[derive(Clone, Debug)]
pub struct Trace {
    hasher: TraceHasher,
    count: u64,
    retention: TraceRetention,
    events: Vec<TraceEvent>,
}

impl Trace {
    pub fn new(retention: TraceRetention) -> Self {
        Trace { hasher: TraceHasher::default(), count: 0, retention, events: Vec::new() }
    }

    pub fn record(&mut self, time: Micros, kind: TraceKind) {
        time.hash(&mut self.hasher);
        kind.hash(&mut self.hasher);
        self.count += 1;
        let keep = match self.retention {
            TraceRetention::HashOnly => false,
            TraceRetention::Notable => kind.is_notable(),
            TraceRetention::Full => true,
        };
        if keep {
            self.events.push(TraceEvent { time, kind });
        }
    }

    /// The hash of every event so far, as 16 hex digits.
    pub fn hash_hex(&self) -> String {
        format!("{:016x}", self.hasher.finish())
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn events(&self) -> &[TraceEvent] {
        &self.events
    }
}
