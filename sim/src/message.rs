//! The requests and responses that travel between simulated nodes, named after Kafka's RPCs.

use crate::config::Acks;
use crate::ids::{BrokerId, PartitionIdx, RecordId};
use crate::log::LogEntry;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

/// A batch's records: almost always a handful, so they live inline (as many bytes as a `Vec`'s header) and a batch
/// costs no allocation of its own.
pub type RecordIds = SmallVec<[RecordId; 4]>;

/// The log entries of one partition in a fetch response: most responses carry one record, kept inline.
pub type FetchedEntries = SmallVec<[LogEntry; 1]>;

/// Serde for `SmallVec` fields, as a plain sequence (the same format as a `Vec`), without smallvec's serde feature.
pub mod small_vec_serde {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use smallvec::{Array, SmallVec};

    pub fn serialize<A, S>(values: &SmallVec<A>, serializer: S) -> Result<S::Ok, S::Error>
    where
        A: Array,
        A::Item: Serialize,
        S: Serializer,
    {
        serializer.collect_seq(values.iter())
    }

    pub fn deserialize<'de, A, D>(deserializer: D) -> Result<SmallVec<A>, D::Error>
    where
        A: Array,
        A::Item: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Vec::<A::Item>::deserialize(deserializer).map(SmallVec::from_vec)
    }
}

/// Kafka's error codes that the simulation produces, by their protocol names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum KafkaError {
    NotLeaderOrFollower,
    NotEnoughReplicas,
    NotEnoughReplicasAfterAppend,
    RequestTimedOut,
    FencedLeaderEpoch,
    UnknownLeaderEpoch,
    OutOfOrderSequenceNumber,
    InvalidUpdateVersion,
    IneligibleReplica,
    InvalidRequest,
    /// The client's connection broke (the broker process died); Kafka's `NetworkException`.
    NetworkException,
    /// The producer gave up: `delivery.timeout.ms` passed (`TimeoutException`).
    DeliveryTimeout,
    OffsetOutOfRange,
    NotCoordinator,
    CoordinatorLoadInProgress,
    RebalanceInProgress,
    IllegalGeneration,
    UnknownMemberId,
    /// The leader has no fetch session for this follower (it restarted, or the session was replaced); KIP-227.
    FetchSessionIdNotFound,
    /// An incremental fetch request carried the wrong session epoch (KIP-227 `INVALID_FETCH_SESSION_EPOCH`).
    InvalidFetchSessionEpoch,
    /// The group coordinator could not write an offset commit: the offsets partition's ISR is below
    /// `min.insync.replicas` (`GroupMetadataManager.storeOffsets` maps NOT_ENOUGH_REPLICAS to this).
    CoordinatorNotAvailable,
    /// An idempotent producer's batch carried an older producer epoch than the partition's producer state holds
    /// (`ProducerAppendInfo.checkProducerEpoch`, `InvalidProducerEpochException`).
    InvalidProducerEpoch,
}

impl KafkaError {
    pub fn name(self) -> &'static str {
        match self {
            KafkaError::NotLeaderOrFollower => "NOT_LEADER_OR_FOLLOWER",
            KafkaError::NotEnoughReplicas => "NOT_ENOUGH_REPLICAS",
            KafkaError::NotEnoughReplicasAfterAppend => "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
            KafkaError::RequestTimedOut => "REQUEST_TIMED_OUT",
            KafkaError::FencedLeaderEpoch => "FENCED_LEADER_EPOCH",
            KafkaError::UnknownLeaderEpoch => "UNKNOWN_LEADER_EPOCH",
            KafkaError::OutOfOrderSequenceNumber => "OUT_OF_ORDER_SEQUENCE_NUMBER",
            KafkaError::InvalidUpdateVersion => "INVALID_UPDATE_VERSION",
            KafkaError::IneligibleReplica => "INELIGIBLE_REPLICA",
            KafkaError::InvalidRequest => "INVALID_REQUEST",
            KafkaError::NetworkException => "NETWORK_EXCEPTION",
            KafkaError::DeliveryTimeout => "DELIVERY_TIMEOUT",
            KafkaError::OffsetOutOfRange => "OFFSET_OUT_OF_RANGE",
            KafkaError::NotCoordinator => "NOT_COORDINATOR",
            KafkaError::CoordinatorLoadInProgress => "COORDINATOR_LOAD_IN_PROGRESS",
            KafkaError::RebalanceInProgress => "REBALANCE_IN_PROGRESS",
            KafkaError::IllegalGeneration => "ILLEGAL_GENERATION",
            KafkaError::UnknownMemberId => "UNKNOWN_MEMBER_ID",
            KafkaError::FetchSessionIdNotFound => "FETCH_SESSION_ID_NOT_FOUND",
            KafkaError::InvalidFetchSessionEpoch => "INVALID_FETCH_SESSION_EPOCH",
            KafkaError::CoordinatorNotAvailable => "COORDINATOR_NOT_AVAILABLE",
            KafkaError::InvalidProducerEpoch => "INVALID_PRODUCER_EPOCH",
        }
    }

    /// The exception a failed offset commit reaches the application as (`ConsumerCoordinator`'s
    /// `OffsetCommitResponseHandler`): the coordinator errors are retriable (the consumer looks for its coordinator
    /// again); `REBALANCE_IN_PROGRESS` asks the member to rejoin; the generation errors mean it lost its partitions.
    pub fn commit_exception(self) -> &'static str {
        match self {
            KafkaError::UnknownMemberId | KafkaError::IllegalGeneration => "CommitFailedException",
            KafkaError::RebalanceInProgress => "RebalanceInProgressException",
            other if other.commit_is_retriable() => "RetriableCommitFailedException",
            _ => "KafkaException",
        }
    }

    /// Whether `commitSync()` tries a commit that failed with this error again (`OffsetCommitResponseHandler`: the
    /// coordinator's errors and a lost connection are retriable; any other error ends the call).
    pub fn commit_is_retriable(self) -> bool {
        matches!(
            self,
            KafkaError::CoordinatorNotAvailable
                | KafkaError::NotCoordinator
                | KafkaError::RequestTimedOut
                | KafkaError::CoordinatorLoadInProgress
                | KafkaError::NetworkException
        )
    }

    /// Retriable errors make the producer refresh metadata and try again (`RetriableException`).
    pub fn is_retriable(self) -> bool {
        !matches!(
            self,
            KafkaError::DeliveryTimeout
                | KafkaError::InvalidUpdateVersion
                | KafkaError::IneligibleReplica
                | KafkaError::InvalidRequest
                | KafkaError::InvalidProducerEpoch
        )
    }
}

/// A set of brokers (ids 1..=63) as a bit mask: ISRs and fenced sets are small and copied often.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BrokerSet(pub u64);

impl BrokerSet {
    pub fn of(brokers: &[BrokerId]) -> Self {
        let mut set = BrokerSet::default();
        for &b in brokers {
            set.insert(b);
        }
        set
    }
    pub fn contains(self, b: BrokerId) -> bool {
        self.0 & (1 << b.0) != 0
    }
    pub fn insert(&mut self, b: BrokerId) {
        self.0 |= 1 << b.0;
    }
    pub fn remove(&mut self, b: BrokerId) {
        self.0 &= !(1 << b.0);
    }
    pub fn with(mut self, b: BrokerId) -> Self {
        self.insert(b);
        self
    }
    pub fn without(mut self, b: BrokerId) -> Self {
        self.remove(b);
        self
    }
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = BrokerId> {
        (1..64).filter(move |&i| self.0 & (1 << i) != 0).map(BrokerId)
    }
    /// The members in the order of `replicas` (how the describe output lists them).
    pub fn in_order(self, replicas: &[BrokerId]) -> Vec<BrokerId> {
        replicas.iter().copied().filter(|&b| self.contains(b)).collect()
    }
}

/// The controller's record of one partition (KRaft's `PartitionRecord` / `PartitionChangeRecord`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartitionState {
    pub leader: Option<BrokerId>,
    /// Bumped on every leader change.
    pub leader_epoch: u32,
    /// Bumped on every change, ISR changes included.
    pub partition_epoch: u32,
    pub isr: BrokerSet,
}

/// Metadata changes a broker has not seen yet: every partition changed in `(from_offset, to_offset]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetadataUpdate {
    pub from_offset: u64,
    pub to_offset: u64,
    pub partitions: Vec<(PartitionIdx, PartitionState)>,
    /// Brokers that may not join an ISR: fenced, or in controlled shutdown (`isReplicaIsrEligible`).
    pub ineligible: BrokerSet,
}

/// A group member's id, assigned by the coordinator (`consumer-<n>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MemberId(pub u32);

impl std::fmt::Display for MemberId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "member-{}", self.0)
    }
}

/// A member's JoinGroup: who it is and its subscription metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JoinRequest {
    pub request_id: u64,
    /// Empty for a new member; the coordinator assigns one.
    pub member_id: Option<MemberId>,
    /// The member's generation, part of its subscription metadata (`ConsumerProtocolSubscription` v2
    /// `generationId`, KIP-792); 0 before it has one.
    pub generation: u32,
    pub topics: Vec<u32>,
    pub owned: Vec<PartitionIdx>,
    pub session_timeout: u64,
    pub rebalance_timeout: u64,
    pub protocol: crate::assignor::AssignorKind,
}

/// The JoinGroup answer: the new generation, the member's id, the leader, and (for the leader only) every member's
/// subscription and owned partitions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JoinResult {
    pub generation: u32,
    pub member_id: MemberId,
    pub leader: MemberId,
    pub protocol: crate::assignor::AssignorKind,
    pub members: Vec<(MemberId, Vec<u32>, Vec<PartitionIdx>)>,
}

/// A producer batch on the wire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProduceBatch {
    #[serde(with = "small_vec_serde")]
    pub records: RecordIds,
    /// The idempotent producer's id, or 0.
    pub producer_id: u32,
    /// The sequence number of the first record, or -1 without idempotence.
    pub base_sequence: i32,
}

/// One partition of a follower's fetch request: where its log ends and the epoch of its last record.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FetchPartition {
    pub partition: PartitionIdx,
    pub fetch_offset: u64,
    pub last_fetched_epoch: Option<u32>,
    pub current_leader_epoch: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FetchResult {
    /// Records from the fetch offset (maybe none), and the leader's high watermark.
    Records {
        #[serde(with = "small_vec_serde")]
        entries: FetchedEntries,
        high_watermark: u64,
    },
    /// The follower's log diverges from the leader's (KIP-320 `DivergingEpoch`): truncate to at most `end_offset`.
    Diverging {
        leader_epoch: u32,
        end_offset: u64,
        high_watermark: u64,
    },
    Error(KafkaError),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// One request per broker carries one batch for each of its partitions that had one ready (`Sender`).
    Produce {
        request_id: u64,
        acks: Acks,
        timeout: u64,
        batches: Vec<(PartitionIdx, ProduceBatch)>,
    },
    /// The connection to a dead broker was refused while sending an acks=0 request (which has no response).
    /// The producer's connection to `broker` is gone: refused by a dead process, so the request never went out
    /// (`request_id` is the request the producer was waiting on, none for acks=0), or closed by the broker after an
    /// acks=0 request failed (`KafkaApis.handleProduceRequest`: the only way to tell an acks=0 producer).
    ProduceDisconnected {
        broker: BrokerId,
        request_id: Option<u64>,
    },
    /// Per partition, `Ok(base_offset)` or the error.
    ProduceResponse {
        request_id: u64,
        results: Vec<(PartitionIdx, Result<u64, KafkaError>)>,
        /// KIP-951: for each partition answered NOT_LEADER_OR_FOLLOWER, the leader and leader epoch the broker's
        /// metadata names (`CurrentLeader`), so the producer need not wait for a metadata refresh.
        current_leaders: Vec<(PartitionIdx, Option<BrokerId>, u32)>,
    },
    /// A follower's fetch from one leader, for every partition it follows there, in a fetch session (KIP-227):
    /// `session_epoch` 0 opens a new session and names every partition (a full request); later requests carry the
    /// session's next epoch and name only partitions added or whose fetch position moved, plus those forgotten.
    Fetch {
        fetch_id: u64,
        replica: BrokerId,
        session_epoch: u32,
        partitions: Vec<FetchPartition>,
        forgotten: Vec<PartitionIdx>,
    },
    /// Only the session's partitions with records, a high watermark the follower has not seen, or an error (an
    /// incremental response); `error` is a session-level failure, after which the follower opens a new session.
    FetchResponse {
        fetch_id: u64,
        error: Option<KafkaError>,
        partitions: Vec<(PartitionIdx, FetchResult)>,
    },
    BrokerHeartbeat {
        broker: BrokerId,
        incarnation: u32,
        metadata_offset: u64,
        want_shutdown: bool,
    },
    BrokerHeartbeatResponse {
        /// False when the controller refused this incarnation's registration (the old session is still alive).
        registered: bool,
        fenced: bool,
        update: MetadataUpdate,
        shutdown_ok: bool,
    },
    /// The controller publishes new metadata to a broker (standing in for the broker's metadata-log fetch).
    MetadataPush(MetadataUpdate),
    AlterPartition {
        partition: PartitionIdx,
        leader: BrokerId,
        leader_epoch: u32,
        partition_epoch: u32,
        new_isr: BrokerSet,
    },
    AlterPartitionResponse {
        partition: PartitionIdx,
        result: Result<PartitionState, KafkaError>,
    },
    MetadataRequest {
        request_id: u64,
    },
    /// The first request on a new connection (KIP-35, KIP-511): the client sends nothing else on it until the
    /// answer arrives (`NetworkClient` is `CHECKING_API_VERSIONS`, then `READY`).
    ApiVersions {
        request_id: u64,
    },
    /// The broker's answer; `NetworkException` when the connection was refused (the broker's process is down).
    ApiVersionsResponse {
        broker: BrokerId,
        request_id: u64,
        error: Option<KafkaError>,
    },
    FindCoordinator {
        request_id: u64,
        group: u32,
    },
    FindCoordinatorResponse {
        request_id: u64,
        coordinator: Option<BrokerId>,
        /// The broker asked was down: the answer is the client's own disconnect, not the broker's.
        #[serde(default)]
        refused: bool,
    },
    /// Classic group protocol (KIP-62 era): join, then the leader's SyncGroup distributes the assignment.
    JoinGroup {
        group: u32,
        join: JoinRequest,
    },
    JoinGroupResponse {
        request_id: u64,
        group: u32,
        result: Result<JoinResult, KafkaError>,
    },
    SyncGroup {
        request_id: u64,
        group: u32,
        generation: u32,
        member_id: MemberId,
        assignments: Vec<(MemberId, Vec<PartitionIdx>)>,
    },
    SyncGroupResponse {
        request_id: u64,
        group: u32,
        generation: u32,
        result: Result<Vec<PartitionIdx>, KafkaError>,
    },
    Heartbeat {
        group: u32,
        generation: u32,
        member_id: MemberId,
    },
    HeartbeatResponse {
        group: u32,
        error: Option<KafkaError>,
    },
    LeaveGroup {
        group: u32,
        member_id: MemberId,
    },
    OffsetCommit {
        request_id: u64,
        group: u32,
        generation: u32,
        member_id: MemberId,
        offsets: Vec<(PartitionIdx, u64)>,
    },
    OffsetCommitResponse {
        request_id: u64,
        result: Result<(), KafkaError>,
    },
    OffsetFetch {
        request_id: u64,
        group: u32,
        partitions: Vec<PartitionIdx>,
    },
    OffsetFetchResponse {
        request_id: u64,
        result: Result<Vec<(PartitionIdx, Option<u64>)>, KafkaError>,
    },
    /// A consumer's fetch: records from `offset`, below the high watermark only.
    ConsumerFetch {
        fetch_id: u64,
        partition: PartitionIdx,
        offset: u64,
        current_leader_epoch: u32,
        last_fetched_epoch: Option<u32>,
        /// `fetch.max.wait.ms`: how long the leader may hold the fetch when nothing is committed yet.
        max_wait: u64,
    },
    ConsumerFetchResponse {
        fetch_id: u64,
        partition: PartitionIdx,
        result: FetchResult,
    },
    /// `ListOffsets`: the earliest offset, or the latest (the high watermark).
    ListOffsets {
        request_id: u64,
        partition: PartitionIdx,
        latest: bool,
    },
    ListOffsetsResponse {
        request_id: u64,
        partition: PartitionIdx,
        result: Result<u64, KafkaError>,
    },
    /// KIP-320 (`OffsetsForLeaderEpoch`, as a consumer sends it to validate its position after a leader change): where
    /// `leader_epoch` ends in the leader's log, fenced by `current_leader_epoch` like a fetch.
    OffsetsForLeaderEpoch {
        request_id: u64,
        partition: PartitionIdx,
        current_leader_epoch: u32,
        leader_epoch: u32,
    },
    /// The largest epoch at or below the one asked about, and its end offset (the start of the next epoch, or the
    /// log end offset for the latest one); `None` is Kafka's `(UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)`.
    OffsetsForLeaderEpochResponse {
        request_id: u64,
        partition: PartitionIdx,
        result: Result<Option<(u32, u64)>, KafkaError>,
    },
    /// Leader and leader epoch of every partition, as the answering broker's metadata cache has them.
    MetadataResponse {
        request_id: u64,
        leaders: Vec<(Option<BrokerId>, u32)>,
        /// The brokers the metadata lists: registered and not fenced (a fenced broker drops out of
        /// `MetadataResponse.brokers`). Empty in a refused answer.
        brokers: BrokerSet,
    },
}

/// The kind of a message, for the trace and the viz.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MessageKind {
    Produce,
    ProduceResponse,
    Fetch,
    FetchResponse,
    BrokerHeartbeat,
    BrokerHeartbeatResponse,
    MetadataPush,
    AlterPartition,
    AlterPartitionResponse,
    MetadataRequest,
    MetadataResponse,
    FindCoordinator,
    FindCoordinatorResponse,
    JoinGroup,
    JoinGroupResponse,
    SyncGroup,
    SyncGroupResponse,
    Heartbeat,
    HeartbeatResponse,
    LeaveGroup,
    OffsetCommit,
    OffsetCommitResponse,
    OffsetFetch,
    OffsetFetchResponse,
    ConsumerFetch,
    ConsumerFetchResponse,
    ListOffsets,
    ListOffsetsResponse,
    ApiVersions,
    ApiVersionsResponse,
    OffsetsForLeaderEpoch,
    OffsetsForLeaderEpochResponse,
}

impl Message {
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Produce { .. } => MessageKind::Produce,
            Message::ProduceResponse { .. } | Message::ProduceDisconnected { .. } => MessageKind::ProduceResponse,
            Message::Fetch { .. } => MessageKind::Fetch,
            Message::FetchResponse { .. } => MessageKind::FetchResponse,
            Message::BrokerHeartbeat { .. } => MessageKind::BrokerHeartbeat,
            Message::BrokerHeartbeatResponse { .. } => MessageKind::BrokerHeartbeatResponse,
            Message::MetadataPush(_) => MessageKind::MetadataPush,
            Message::AlterPartition { .. } => MessageKind::AlterPartition,
            Message::AlterPartitionResponse { .. } => MessageKind::AlterPartitionResponse,
            Message::MetadataRequest { .. } => MessageKind::MetadataRequest,
            Message::MetadataResponse { .. } => MessageKind::MetadataResponse,
            Message::ApiVersions { .. } => MessageKind::ApiVersions,
            Message::ApiVersionsResponse { .. } => MessageKind::ApiVersionsResponse,
            Message::FindCoordinator { .. } => MessageKind::FindCoordinator,
            Message::FindCoordinatorResponse { .. } => MessageKind::FindCoordinatorResponse,
            Message::JoinGroup { .. } => MessageKind::JoinGroup,
            Message::JoinGroupResponse { .. } => MessageKind::JoinGroupResponse,
            Message::SyncGroup { .. } => MessageKind::SyncGroup,
            Message::SyncGroupResponse { .. } => MessageKind::SyncGroupResponse,
            Message::Heartbeat { .. } => MessageKind::Heartbeat,
            Message::HeartbeatResponse { .. } => MessageKind::HeartbeatResponse,
            Message::LeaveGroup { .. } => MessageKind::LeaveGroup,
            Message::OffsetCommit { .. } => MessageKind::OffsetCommit,
            Message::OffsetCommitResponse { .. } => MessageKind::OffsetCommitResponse,
            Message::OffsetFetch { .. } => MessageKind::OffsetFetch,
            Message::OffsetFetchResponse { .. } => MessageKind::OffsetFetchResponse,
            Message::ConsumerFetch { .. } => MessageKind::ConsumerFetch,
            Message::ConsumerFetchResponse { .. } => MessageKind::ConsumerFetchResponse,
            Message::ListOffsets { .. } => MessageKind::ListOffsets,
            Message::ListOffsetsResponse { .. } => MessageKind::ListOffsetsResponse,
            Message::OffsetsForLeaderEpoch { .. } => MessageKind::OffsetsForLeaderEpoch,
            Message::OffsetsForLeaderEpochResponse { .. } => MessageKind::OffsetsForLeaderEpochResponse,
        }
    }

    /// The partitions a message is about (for invariant checks after the event).
    pub fn partitions(&self) -> Vec<PartitionIdx> {
        match self {
            Message::Produce { batches, .. } => batches.iter().map(|(p, _)| *p).collect(),
            Message::ProduceResponse { results, .. } => results.iter().map(|(p, _)| *p).collect(),
            Message::Fetch { partitions, forgotten, .. } => {
                partitions.iter().map(|p| p.partition).chain(forgotten.iter().copied()).collect()
            }
            Message::FetchResponse { partitions, .. } => partitions.iter().map(|(p, _)| *p).collect(),
            Message::ConsumerFetch { partition, .. }
            | Message::ConsumerFetchResponse { partition, .. }
            | Message::OffsetsForLeaderEpoch { partition, .. }
            | Message::OffsetsForLeaderEpochResponse { partition, .. }
            | Message::AlterPartition { partition, .. }
            | Message::AlterPartitionResponse { partition, .. } => vec![*partition],
            _ => Vec::new(),
        }
    }

    /// What the sender sees when this request reaches a host whose process is dead: the connection is refused
    /// (TCP RST), which Kafka's NetworkClient reports as a disconnect (`NetworkException`).
    pub fn refused(&self, receiver: crate::ids::NodeId) -> Option<Message> {
        match self {
            Message::Produce { request_id, acks, .. } => Some(Message::ProduceDisconnected {
                broker: BrokerId(receiver.0),
                request_id: (*acks != Acks::None).then_some(*request_id),
            }),
            Message::Fetch { fetch_id, .. } => Some(Message::FetchResponse {
                fetch_id: *fetch_id,
                error: Some(KafkaError::NetworkException),
                partitions: Vec::new(),
            }),
            Message::ConsumerFetch { fetch_id, partition, .. } => Some(Message::ConsumerFetchResponse {
                fetch_id: *fetch_id,
                partition: *partition,
                result: FetchResult::Error(KafkaError::NetworkException),
            }),
            Message::FindCoordinator { request_id, .. } => {
                Some(Message::FindCoordinatorResponse { request_id: *request_id, coordinator: None, refused: true })
            }
            Message::JoinGroup { group, join } => Some(Message::JoinGroupResponse {
                request_id: join.request_id,
                group: *group,
                result: Err(KafkaError::NetworkException),
            }),
            Message::SyncGroup { request_id, group, generation, .. } => Some(Message::SyncGroupResponse {
                request_id: *request_id,
                group: *group,
                generation: *generation,
                result: Err(KafkaError::NetworkException),
            }),
            Message::Heartbeat { group, .. } => {
                Some(Message::HeartbeatResponse { group: *group, error: Some(KafkaError::NetworkException) })
            }
            Message::OffsetCommit { request_id, .. } => Some(Message::OffsetCommitResponse {
                request_id: *request_id,
                result: Err(KafkaError::NetworkException),
            }),
            Message::OffsetFetch { request_id, .. } => Some(Message::OffsetFetchResponse {
                request_id: *request_id,
                result: Err(KafkaError::NetworkException),
            }),
            Message::ListOffsets { request_id, partition, .. } => Some(Message::ListOffsetsResponse {
                request_id: *request_id,
                partition: *partition,
                result: Err(KafkaError::NetworkException),
            }),
            Message::OffsetsForLeaderEpoch { request_id, partition, .. } => {
                Some(Message::OffsetsForLeaderEpochResponse {
                    request_id: *request_id,
                    partition: *partition,
                    result: Err(KafkaError::NetworkException),
                })
            }
            Message::MetadataRequest { request_id } => Some(Message::MetadataResponse {
                request_id: *request_id,
                leaders: Vec::new(),
                brokers: BrokerSet::default(),
            }),
            Message::ApiVersions { request_id } => Some(Message::ApiVersionsResponse {
                broker: BrokerId(receiver.0),
                request_id: *request_id,
                error: Some(KafkaError::NetworkException),
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::KafkaError;

    /// `OffsetCommitResponseHandler`: the coordinator's errors and a lost connection are retried by commitSync;
    /// REBALANCE_IN_PROGRESS and the generation errors end it, and so does anything unexpected.
    #[test]
    fn commit_errors_are_retried_or_thrown_as_kafka_does() {
        for retried in [
            KafkaError::CoordinatorNotAvailable,
            KafkaError::NotCoordinator,
            KafkaError::RequestTimedOut,
            KafkaError::CoordinatorLoadInProgress,
            KafkaError::NetworkException,
        ] {
            assert!(retried.commit_is_retriable(), "{retried:?}");
            assert_eq!(retried.commit_exception(), "RetriableCommitFailedException");
        }
        for (thrown, exception) in [
            (KafkaError::UnknownMemberId, "CommitFailedException"),
            (KafkaError::IllegalGeneration, "CommitFailedException"),
            (KafkaError::RebalanceInProgress, "RebalanceInProgressException"),
            (KafkaError::NotEnoughReplicas, "KafkaException"),
        ] {
            assert!(!thrown.commit_is_retriable(), "{thrown:?}");
            assert_eq!(thrown.commit_exception(), exception);
        }
    }
}
