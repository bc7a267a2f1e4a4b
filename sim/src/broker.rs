//! A broker: its replicas, the leader's side of replication (fetch handling, high watermark, ISR proposals,
//! produce handling) and the follower's side (fetching, truncation by diverging epoch).
//!
//! The rules follow Kafka's `Partition.scala`, `ReplicaManager.scala` and `AbstractFetcherThread.scala`; each is
//! cited where it is modelled.

use crate::buffers::Pool;
use crate::config::Acks;
use crate::ctx::{Ctx, Timer};
use crate::deadlines::DeadlineSet;
use crate::ids::{BrokerId, NodeId, PartitionIdx, CONTROLLER};
use crate::log::{split_producer_id, Log, LogEntry};
use crate::message::{
    BrokerSet, FetchPartition, FetchResult, FetchedEntries, KafkaError, Message, MetadataUpdate, PartitionState,
    ProduceBatch,
};
use crate::time::Micros;
use crate::trace::TraceKind;
use crate::vecmap::VecMap;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::collections::{BTreeMap, VecDeque};

/// Kafka keeps the metadata of the last 5 batches per producer (`ProducerStateEntry.NUM_BATCHES_TO_RETAIN`).
const BATCHES_TO_RETAIN: usize = 5;

/// `BrokerLifecycleManager`: while it starts up (`STARTING`, the controller still fences it), a broker heartbeats
/// every 10 ms. A running broker that was fenced keeps its usual `broker.heartbeat.interval.ms`.
const STARTING_HEARTBEAT_INTERVAL: Micros = 10_000;

/// `BrokerLifecycleManager`: the first answer that does not yet let a broker in controlled shutdown go is followed by
/// a heartbeat after only 50 ms, "in the case where controlled shutdown completes quickly"; later ones by the usual
/// interval.
const FIRST_PENDING_SHUTDOWN_HEARTBEAT: Micros = 50_000;

/// How long a broker in controlled shutdown waits for the controller to let it go before it stops anyway
/// (`BrokerServer.shutdown`: `controlledShutdownFuture.get(5L, TimeUnit.MINUTES)`).
const CONTROLLED_SHUTDOWN_TIMEOUT: Micros = 5 * 60 * 1_000_000;

/// An estimate of a record's size on the wire, for `replica.fetch.max.bytes`.
const RECORD_BYTES_ESTIMATE: u64 = 64;

/// What the leader knows of one follower (Kafka's `Replica` / `ReplicaState`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FollowerState {
    pub broker: BrokerId,
    /// The follower's log end offset, learnt from its last fetch offset; `None` until it fetches from this leader.
    pub log_end_offset: Option<u64>,
    /// Kafka's `lastCaughtUpTimeMs`. `None` is "never": Kafka resets it to 0 for a replica outside the ISR
    /// (`resetReplicaState`), which on its wall clock is long ago, while the simulated clock starts at 0.
    pub last_caught_up_time: Option<Micros>,
    pub last_fetch_time: Micros,
    /// The leader's LEO at the follower's previous fetch; `None` before its first (Kafka's `UnknownOffset`).
    pub last_fetch_leader_log_end_offset: Option<u64>,
    /// The id of the follower's fetch session this partition is in (`FetchSession.id`); 0 when in none.
    pub session_id: u64,
    /// The high watermark last sent to this follower: an incremental response leaves out a partition whose high
    /// watermark did not change and that has no new records (KIP-227).
    pub sent_high_watermark: u64,
    /// Queued in the session's `pending` list.
    pub pending: bool,
    /// Queued in the session's `isr_candidates` list.
    pub isr_candidate: bool,
    /// While one fetch request is handled: the high watermark read before that fetch moved it
    /// (`Partition.readRecords`' `initialHighWatermark`).
    #[serde(skip)]
    pub read_high_watermark: Option<u64>,
}

impl FollowerState {
    /// Brings `lastCaughtUpTime` and the previous-fetch fields up to date with the session's latest fetch, which
    /// counted as a fetch of this partition at the same offset (`updateFollowerFetchState` runs for every partition
    /// of the session on every fetch). The leader's log has not grown since that fetch, or this is called from the
    /// append that grows it, with the log end offset from before it: so `leader_log_end_offset` is the leader's log
    /// end offset as of that fetch.
    fn catch_up_with_session(&mut self, session_fetch_time: Option<Micros>, leader_log_end_offset: u64) {
        let Some(fetch_time) = session_fetch_time else { return };
        if fetch_time <= self.last_fetch_time {
            return;
        }
        if self.log_end_offset.unwrap_or(0) >= leader_log_end_offset {
            self.last_caught_up_time = self.last_caught_up_time.max(Some(fetch_time));
        }
        self.last_fetch_time = fetch_time;
        self.last_fetch_leader_log_end_offset = Some(leader_log_end_offset);
    }

    /// `lastCaughtUpTime` as Kafka has it now, counting the session's fetches that did not name this partition.
    pub fn effective_last_caught_up_time(
        &self,
        session_fetch_time: Option<Micros>,
        leader_log_end_offset: u64,
    ) -> Option<Micros> {
        match session_fetch_time {
            Some(fetch_time)
                if fetch_time > self.last_fetch_time && self.log_end_offset.unwrap_or(0) >= leader_log_end_offset =>
            {
                self.last_caught_up_time.max(Some(fetch_time))
            }
            _ => self.last_caught_up_time,
        }
    }

    /// `Replica.isCaughtUp`: at the leader's log end offset, or caught up with it within `lag_max` of `now` (never,
    /// if it never caught up).
    fn is_caught_up(
        &self,
        session_fetch_time: Option<Micros>,
        leader_log_end_offset: u64,
        now: Micros,
        lag_max: Micros,
    ) -> bool {
        self.log_end_offset == Some(leader_log_end_offset)
            || self
                .effective_last_caught_up_time(session_fetch_time, leader_log_end_offset)
                .is_some_and(|t| now.saturating_sub(t) <= lag_max)
    }
}

/// The leader's side of one follower's fetch session (`FetchSession` in the `FetchSessionCache`, KIP-227).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FetchSession {
    pub id: u64,
    /// The epoch the follower's next request must carry.
    pub epoch: u32,
    /// When the follower last fetched in this session: each of the session's partitions counts as fetched then.
    pub last_fetch_time: Micros,
    /// Partitions with something the follower has not seen (records or a new high watermark), each once.
    pub pending: Vec<PartitionIdx>,
    /// Partitions this broker stopped leading, to be answered NOT_LEADER_OR_FOLLOWER.
    pub errors: Vec<PartitionIdx>,
    /// Partitions of the session whose follower is outside the ISR: every fetch of the session checks whether it
    /// may rejoin and whether the HW moves, as `updateFollowerFetchState` does for each partition of the session.
    pub isr_candidates: Vec<PartitionIdx>,
    /// A request with nothing to return yet, held until records arrive or `replica.fetch.wait.max.ms` passes:
    /// its fetch id and deadline (`DelayedFetch`).
    pub parked: Option<(u64, Micros)>,
    /// Records arrived for one of the session's partitions since the last response.
    pub has_new_records: bool,
}

/// The follower's side of its fetch session with one leader (`ReplicaFetcherThread` and `FetchSessionHandler`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Fetcher {
    /// The request in flight.
    pub in_flight: Option<u64>,
    /// When the request in flight gives up (`replica.socket.timeout.ms`), and whether a timer watches for it.
    pub deadline: Micros,
    pub timer_armed: bool,
    /// The epoch of the next request; 0 opens a new session with a full request.
    pub session_epoch: u32,
    /// How many partitions the session holds, as this side last told the leader.
    pub session_size: u32,
    /// Partitions whose fetch position may have changed: named in the next request if it did.
    pub dirty: Vec<PartitionIdx>,
    /// Partitions that left this session, to be forgotten in the next request.
    pub forgotten: Vec<PartitionIdx>,
    /// Waiting out `replica.fetch.backoff.ms` after the connection failed.
    pub backing_off: bool,
}

/// A proposed ISR change sent to the controller and not answered yet (`PendingExpandIsr` / `PendingShrinkIsr`).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct PendingIsr {
    pub proposed: BrokerSet,
    pub sent_at: Micros,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WaitingProduce {
    /// The request this batch belongs to, and the batch's position in it.
    pub request: RequestKey,
    pub slot: usize,
    /// The offset the high watermark must reach: the batch's last offset + 1.
    pub required_offset: u64,
    pub base_offset: u64,
}

/// A produce request: the producer's node and its request id.
pub type RequestKey = (NodeId, u64);

/// An acks=all produce request waiting for the high watermark of some of its partitions (`DelayedProduce`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DelayedProduce {
    pub deadline: Micros,
    pub results: Vec<(PartitionIdx, Option<Result<u64, KafkaError>>)>,
    pub remaining: usize,
}

/// The last batches of one idempotent producer (`ProducerStateEntry`), keyed by its producer id without the epoch.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ProducerBatches {
    /// The epoch the batches below were written in (`ProducerStateEntry.producerEpoch`).
    pub producer_epoch: u32,
    /// `(first sequence, last sequence, base offset)`, oldest first.
    pub batches: VecDeque<(i32, i32, u64)>,
}

impl ProducerBatches {
    /// `ProducerStateEntry.addBatch`: a batch of a new epoch first drops the old epoch's batches
    /// (`maybeUpdateProducerEpoch`); only the last 5 are kept.
    fn add_batch(&mut self, producer_epoch: u32, first: i32, last: i32, base_offset: u64) {
        if self.producer_epoch != producer_epoch {
            self.producer_epoch = producer_epoch;
            self.batches.clear();
        }
        self.batches.push_back((first, last, base_offset));
        if self.batches.len() > BATCHES_TO_RETAIN {
            self.batches.pop_front();
        }
    }
}

/// How the leader's producer state judges an idempotent batch before it is appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SequenceCheck {
    /// Append it.
    Append,
    /// The same batch was appended before, at this base offset: answer with it, append nothing.
    Duplicate(u64),
}

/// `UnifiedLog.analyzeAndValidateProducerState` for a client's batch, given the producer's entry (`None` for a
/// producer id the partition has never seen, which may start at any sequence).
/// - `ProducerStateEntry.findDuplicateBatch`: a batch of the entry's epoch matching one of its last 5 is a duplicate.
/// - `ProducerAppendInfo.checkProducerEpoch`: an older epoch is INVALID_PRODUCER_EPOCH.
/// - `ProducerAppendInfo.checkSequence`: a newer epoch must start at sequence 0; the same epoch must go on from the
///   last sequence; otherwise OUT_OF_ORDER_SEQUENCE_NUMBER.
fn check_sequence(
    entry: Option<&ProducerBatches>,
    producer_epoch: u32,
    first: i32,
    last: i32,
) -> Result<SequenceCheck, KafkaError> {
    let Some(entry) = entry else {
        return Ok(SequenceCheck::Append);
    };
    if producer_epoch == entry.producer_epoch {
        if let Some(&(_, _, offset)) = entry.batches.iter().find(|(f, l, _)| (*f, *l) == (first, last)) {
            return Ok(SequenceCheck::Duplicate(offset));
        }
    }
    if producer_epoch < entry.producer_epoch {
        return Err(KafkaError::InvalidProducerEpoch);
    }
    let in_sequence = if producer_epoch > entry.producer_epoch {
        first == 0
    } else {
        first == entry.batches.back().map(|(_, last, _)| last + 1).unwrap_or(0)
    };
    if in_sequence {
        Ok(SequenceCheck::Append)
    } else {
        Err(KafkaError::OutOfOrderSequenceNumber)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LeaderState {
    /// The ISR as the controller last confirmed it.
    pub isr: BrokerSet,
    pub pending_isr: Option<PendingIsr>,
    pub followers: Vec<FollowerState>,
    /// The log end offset when this replica became leader: a follower must reach it to join the ISR.
    pub epoch_start_offset: u64,
    pub waiting_produces: VecDeque<WaitingProduce>,
    pub producers: BTreeMap<u32, ProducerBatches>,
    /// Offset commits appended here (an offsets partition) and waiting for the high watermark.
    pub waiting_commits: VecDeque<crate::group::PendingCommit>,
    /// Consumer fetches with nothing below the high watermark yet, held for `fetch.max.wait.ms`.
    pub parked_consumer_fetches: Vec<ParkedConsumerFetch>,
}

/// A consumer's fetch the leader holds until the high watermark moves past its offset.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ParkedConsumerFetch {
    pub node: NodeId,
    pub fetch_id: u64,
    pub offset: u64,
    pub deadline: Micros,
}

/// A consumer's fetch, as the leader handles it.
struct ConsumerFetchRequest {
    fetch_id: u64,
    partition: PartitionIdx,
    offset: u64,
    current_leader_epoch: u32,
    last_fetched_epoch: Option<u32>,
    max_wait: Micros,
}

/// The most records one consumer fetch returns (a stand-in for `fetch.max.bytes`).
const CONSUMER_FETCH_MAX_RECORDS: usize = 1000;

impl LeaderState {
    /// The ISR plus replicas being added (`PartitionState.maximalIsr`): the HW waits for them too.
    pub fn maximal_isr(&self) -> BrokerSet {
        match self.pending_isr {
            Some(pending) => BrokerSet(self.isr.0 | pending.proposed.0),
            None => self.isr,
        }
    }

    fn follower_mut(&mut self, broker: BrokerId) -> Option<&mut FollowerState> {
        self.followers.iter_mut().find(|f| f.broker == broker)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Role {
    /// No leader known yet (just restarted), or the partition has no leader.
    None,
    Leader(Box<LeaderState>),
    Follower {
        leader: Option<BrokerId>,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Replica {
    pub partition: PartitionIdx,
    pub log: Log,
    pub high_watermark: u64,
    pub leader_epoch: u32,
    pub partition_epoch: u32,
    pub role: Role,
    /// The high watermark last written to `replication-offset-checkpoint`; a restart starts from it.
    pub checkpointed_high_watermark: u64,
    /// The leader and fetch position this follower last named for the partition in its fetch session.
    pub session_position: Option<(BrokerId, FetchPartition)>,
    /// Sitting out `replica.fetch.backoff.ms` after an error for this partition: left out of fetch requests.
    pub fetch_delayed: bool,
    /// The fetcher whose `dirty` list holds this partition.
    pub fetch_dirty: Option<BrokerId>,
}

impl Replica {
    pub fn log_end_offset(&self) -> u64 {
        self.log.log_end_offset()
    }

    pub fn leader_state(&self) -> Option<&LeaderState> {
        match &self.role {
            Role::Leader(state) => Some(state),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Broker {
    pub id: BrokerId,
    /// Bumped on every restart; the controller fences a broker whose incarnation changed.
    pub incarnation: u32,
    /// The last metadata change applied.
    pub metadata_offset: u64,
    /// The metadata cache: every partition's state as this broker last heard it.
    pub metadata: Vec<PartitionState>,
    /// Brokers that may not join an ISR now (fenced or shutting down), from metadata.
    pub ineligible: BrokerSet,
    /// The metadata the cluster was created with; a restarted broker starts from it and catches up.
    initial_metadata: Vec<PartitionState>,
    /// Set by a restart: the first catch-up from offset 0 re-applies every partition's state.
    awaiting_full_metadata: bool,
    /// Replicas hosted here, indexed by partition.
    pub replicas: Vec<Option<Replica>>,
    pub want_shutdown: bool,
    /// The controller answered a heartbeat of this controlled shutdown without letting the broker go yet.
    got_controlled_shutdown_response: bool,
    /// Since the (re)start, until the controller first unfences it (`BrokerState.STARTING` and `RECOVERY`).
    starting: bool,
    /// False after a restart until the controller accepts this incarnation's registration.
    pub registered: bool,
    /// When the next heartbeat is due; a `BrokerHeartbeat` timer for another time is stale.
    heartbeat_at: Micros,
    next_fetch_id: u64,
    /// acks=all requests waiting for the high watermark, and their deadlines.
    delayed_produces: VecMap<RequestKey, DelayedProduce>,
    produce_deadlines: DeadlineSet<RequestKey>,
    produce_timer_at: Option<Micros>,
    /// Follower side: one fetcher per leader broker, by broker id.
    pub fetchers: Vec<Fetcher>,
    /// Leader side: one fetch session per follower broker, by broker id.
    pub sessions: Vec<Option<FetchSession>>,
    next_session_id: u64,
    /// Leaders whose fetchers got partitions from the metadata being applied: they send once it is all applied.
    fetchers_to_start: BrokerSet,
    /// Session fetches held for `replica.fetch.wait.max.ms`: (deadline, (follower, fetch id)).
    fetch_deadlines: DeadlineSet<(BrokerId, u64)>,
    fetch_timer_at: Option<Micros>,
    /// Held consumer fetches, by deadline.
    consumer_fetch_deadlines: DeadlineSet<(PartitionIdx, u64)>,
    consumer_fetch_timer_at: Option<Micros>,
    /// The timer for the earliest offset commit waiting for `offsets.commit.timeout.ms`.
    pub(crate) commit_timer_at: Option<Micros>,
    /// The groups this broker coordinates (it leads their offsets partitions).
    pub groups: BTreeMap<u32, crate::group::Group>,
}

impl Broker {
    pub fn new(id: BrokerId, ctx_partitions: &[crate::ctx::PartitionInfo], initial: &[PartitionState]) -> Self {
        let replicas = ctx_partitions
            .iter()
            .enumerate()
            .map(|(index, info)| {
                info.replicas.contains(&id).then(|| Replica {
                    partition: PartitionIdx(index as u32),
                    log: Log::default(),
                    high_watermark: 0,
                    leader_epoch: 0,
                    partition_epoch: 0,
                    role: Role::None,
                    checkpointed_high_watermark: 0,
                    session_position: None,
                    fetch_delayed: false,
                    fetch_dirty: None,
                })
            })
            .collect();
        Broker {
            id,
            incarnation: 0,
            metadata_offset: 0,
            metadata: initial.to_vec(),
            initial_metadata: initial.to_vec(),
            awaiting_full_metadata: false,
            ineligible: BrokerSet::default(),
            replicas,
            want_shutdown: false,
            got_controlled_shutdown_response: false,
            starting: false,
            registered: true,
            heartbeat_at: 0,
            next_fetch_id: 0,
            delayed_produces: VecMap::new(),
            produce_deadlines: DeadlineSet::new(),
            produce_timer_at: None,
            fetchers: Vec::new(),
            sessions: Vec::new(),
            next_session_id: 0,
            fetchers_to_start: BrokerSet::default(),
            fetch_deadlines: DeadlineSet::new(),
            fetch_timer_at: None,
            consumer_fetch_deadlines: DeadlineSet::new(),
            consumer_fetch_timer_at: None,
            commit_timer_at: None,
            groups: BTreeMap::new(),
        }
    }

    /// Starts (or restarts) the broker process: roles are forgotten until metadata arrives, logs are kept.
    pub fn start(&mut self, ctx: &mut Ctx, fresh_metadata: bool) {
        self.want_shutdown = false;
        self.got_controlled_shutdown_response = false;
        self.starting = true;
        self.delayed_produces.clear();
        self.produce_deadlines.clear();
        self.produce_timer_at = None;
        self.fetch_deadlines.clear();
        self.fetch_timer_at = None;
        // Fetch sessions live in memory (FetchSessionCache), on both sides: a restart loses them.
        self.fetchers.clear();
        self.sessions.clear();
        self.consumer_fetch_deadlines.clear();
        self.consumer_fetch_timer_at = None;
        self.commit_timer_at = None;
        self.groups.clear();
        for replica in self.replicas.iter_mut().flatten() {
            replica.role = Role::None;
            replica.session_position = None;
            replica.fetch_delayed = false;
            replica.fetch_dirty = None;
            if !fresh_metadata {
                // The in-memory HW died with the process; the checkpoint file may be a few seconds older.
                replica.high_watermark = replica.checkpointed_high_watermark;
            }
            replica.high_watermark = replica.high_watermark.min(replica.log_end_offset());
        }
        self.metadata = self.initial_metadata.clone();
        self.metadata_offset = 0;
        self.registered = fresh_metadata;
        if fresh_metadata {
            // The very first start: the cluster was created with this metadata, all brokers in sync.
            let update = MetadataUpdate {
                from_offset: 0,
                to_offset: 0,
                partitions: Vec::new(),
                ineligible: BrokerSet::default(),
            };
            self.apply_metadata(ctx, &update, true);
        } else {
            self.awaiting_full_metadata = true;
        }
        self.send_heartbeat(ctx);
        ctx.timer_after(ctx.config().replica_high_watermark_checkpoint_interval, Timer::HighWatermarkCheckpoint);
    }

    fn send_heartbeat(&mut self, ctx: &mut Ctx) {
        ctx.send(
            CONTROLLER,
            Message::BrokerHeartbeat {
                broker: self.id,
                incarnation: self.incarnation,
                metadata_offset: self.metadata_offset,
                want_shutdown: self.want_shutdown,
            },
        );
        self.schedule_heartbeat(ctx, ctx.config().broker_heartbeat_interval);
    }

    fn schedule_heartbeat(&mut self, ctx: &mut Ctx, delay: Micros) {
        let at = ctx.now + delay;
        self.heartbeat_at = at;
        ctx.out.timers.push((at, Timer::BrokerHeartbeat { at }));
    }

    /// Controlled shutdown (KIP-631): ask the controller to move leadership away, then stop. `BrokerServer.shutdown`
    /// waits up to five minutes for the controller's approval before it stops anyway.
    pub fn begin_controlled_shutdown(&mut self, ctx: &mut Ctx) {
        self.want_shutdown = true;
        ctx.trace(TraceKind::ShutdownRequested { broker: self.id });
        self.send_heartbeat(ctx);
        ctx.timer_after(CONTROLLED_SHUTDOWN_TIMEOUT, Timer::ControlledShutdownTimeout);
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx, timer: Timer) {
        match timer {
            Timer::BrokerHeartbeat { at } if at == self.heartbeat_at => self.send_heartbeat(ctx),
            Timer::BrokerHeartbeat { .. } => {}
            Timer::ControlledShutdownTimeout => ctx.out.stop_self = true,
            Timer::HighWatermarkCheckpoint => {
                for replica in self.replicas.iter_mut().flatten() {
                    replica.checkpointed_high_watermark = replica.high_watermark;
                }
                ctx.timer_after(
                    ctx.config().replica_high_watermark_checkpoint_interval,
                    Timer::HighWatermarkCheckpoint,
                );
            }
            Timer::FetchTimeout { leader } => {
                let now = ctx.now;
                let fetcher = self.fetcher_mut(leader);
                fetcher.timer_armed = false;
                if fetcher.in_flight.is_some() {
                    if now >= fetcher.deadline {
                        // The request is given up, and with it the session: the next request is a full one
                        // (FetchSessionHandler.handleError).
                        fetcher.in_flight = None;
                        fetcher.session_epoch = 0;
                        self.send_fetch(ctx, leader);
                    } else {
                        fetcher.timer_armed = true;
                        let deadline = fetcher.deadline;
                        ctx.out.timers.push((deadline, Timer::FetchTimeout { leader }));
                    }
                }
            }
            Timer::FetchBackoff { partition } => {
                let Some(replica) = self.replicas[partition.index()].as_mut() else { return };
                replica.fetch_delayed = false;
                if let Some(leader) = self.mark_fetch_dirty(partition) {
                    self.send_fetch(ctx, leader);
                }
            }
            Timer::FetcherBackoff { leader } => {
                self.fetcher_mut(leader).backing_off = false;
                self.send_fetch(ctx, leader);
            }
            Timer::FetchWaitExpired { at } if self.fetch_timer_at == Some(at) => {
                self.fetch_timer_at = None;
                while let Some((deadline, (follower, fetch_id))) = self.fetch_deadlines.pop_first() {
                    if deadline > ctx.now {
                        self.fetch_deadlines.insert(deadline, (follower, fetch_id));
                        break;
                    }
                    self.expire_parked_fetch(ctx, follower, fetch_id);
                }
                self.arm_fetch_timer(ctx);
            }
            Timer::ProduceTimeout { at } if self.produce_timer_at == Some(at) => {
                self.produce_timer_at = None;
                while let Some((deadline, key)) = self.produce_deadlines.first() {
                    if deadline > ctx.now {
                        break;
                    }
                    self.produce_deadlines.pop_first();
                    // DelayedProduce.onExpiration: partitions still waiting answer REQUEST_TIMED_OUT.
                    if let Some(mut delayed) = self.delayed_produces.remove(&key) {
                        for (_, result) in delayed.results.iter_mut().filter(|(_, r)| r.is_none()) {
                            *result = Some(Err(KafkaError::RequestTimedOut));
                        }
                        send_produce_response(ctx, key, delayed, &self.metadata);
                    }
                }
                self.arm_produce_timer(ctx);
            }
            Timer::ConsumerFetchWait { at } if self.consumer_fetch_timer_at == Some(at) => {
                self.consumer_fetch_timer_at = None;
                while let Some((deadline, (partition, fetch_id))) = self.consumer_fetch_deadlines.first() {
                    if deadline > ctx.now {
                        break;
                    }
                    self.consumer_fetch_deadlines.pop_first();
                    self.answer_parked_consumer_fetch(ctx, partition, Some(fetch_id));
                }
                self.arm_consumer_fetch_timer(ctx);
            }
            Timer::OffsetCommitTimeout { at } if self.commit_timer_at == Some(at) => {
                self.commit_timer_at = None;
                self.expire_commits(ctx);
            }
            timer @ (Timer::RebalanceDeadline { .. } | Timer::MemberSession { .. }) => self.on_group_timer(ctx, timer),
            Timer::FetchWaitExpired { .. }
            | Timer::ProduceTimeout { .. }
            | Timer::ConsumerFetchWait { .. }
            | Timer::OffsetCommitTimeout { .. } => {}
            Timer::IsrCheck { partition, leader_epoch } => self.isr_check(ctx, partition, leader_epoch),
            other => debug_assert!(false, "broker got a timer it never sets: {other:?}"),
        }
    }

    pub fn on_message(&mut self, ctx: &mut Ctx, from: NodeId, message: Message) {
        match message {
            Message::Produce { request_id, acks, timeout, mut batches } => {
                self.handle_produce(ctx, (from, request_id), acks, timeout, &mut batches);
                ctx.buffers.produce_batches.give(batches);
            }
            Message::Fetch { fetch_id, replica, session_epoch, partitions, forgotten } => {
                self.handle_fetch(ctx, replica, fetch_id, session_epoch, &partitions, forgotten);
                ctx.buffers.fetch_partitions.give(partitions);
            }
            Message::FetchResponse { fetch_id, error, mut partitions } => {
                self.handle_fetch_response(ctx, BrokerId(from.0), fetch_id, error, &mut partitions);
                ctx.buffers.fetch_answers.give(partitions);
            }
            Message::BrokerHeartbeatResponse { registered, fenced, update, shutdown_ok } => {
                if !registered {
                    return; // Refused: the old incarnation's session is still alive. Keep heartbeating.
                }
                self.registered = true;
                self.apply_metadata(ctx, &update, false);
                if !fenced {
                    self.starting = false;
                }
                if self.want_shutdown {
                    if shutdown_ok {
                        ctx.out.stop_self = true;
                    } else if !self.got_controlled_shutdown_response {
                        self.got_controlled_shutdown_response = true;
                        self.schedule_heartbeat(ctx, FIRST_PENDING_SHUTDOWN_HEARTBEAT);
                    }
                } else if fenced && self.starting {
                    // BrokerLifecycleManager: a starting broker heartbeats again after only 10 ms, so that it is
                    // caught up and unfenced quickly, instead of after `broker.heartbeat.interval.ms`.
                    self.schedule_heartbeat(ctx, STARTING_HEARTBEAT_INTERVAL);
                }
            }
            Message::MetadataPush(update) if self.registered => self.apply_metadata(ctx, &update, false),
            Message::MetadataPush(_) => {}
            Message::AlterPartitionResponse { partition, result } => {
                self.handle_alter_partition_response(ctx, partition, result)
            }
            Message::ConsumerFetch {
                fetch_id,
                partition,
                offset,
                current_leader_epoch,
                last_fetched_epoch,
                max_wait,
            } => {
                let fetch = ConsumerFetchRequest {
                    fetch_id,
                    partition,
                    offset,
                    current_leader_epoch,
                    last_fetched_epoch,
                    max_wait,
                };
                self.handle_consumer_fetch(ctx, from, fetch)
            }
            Message::ListOffsets { request_id, partition, latest } => {
                let result = match self.replicas[partition.index()].as_ref() {
                    Some(Replica { role: Role::Leader(_), high_watermark, .. }) => {
                        Ok(if latest { *high_watermark } else { 0 })
                    }
                    _ => Err(KafkaError::NotLeaderOrFollower),
                };
                ctx.send(from, Message::ListOffsetsResponse { request_id, partition, result });
            }
            Message::OffsetsForLeaderEpoch { request_id, partition, current_leader_epoch, leader_epoch } => {
                // `Partition.lastOffsetForLeaderEpoch`: fenced like a fetch, answered by the leader only, from its
                // leader-epoch cache (`LeaderEpochFileCache.endOffsetFor`).
                let result = match self.replicas[partition.index()].as_ref() {
                    None => Err(KafkaError::NotLeaderOrFollower),
                    Some(replica) => fence_leader_epoch(current_leader_epoch, replica.leader_epoch).and_then(|()| {
                        match replica.role {
                            Role::Leader(_) => Ok(replica.log.end_offset_for_epoch(leader_epoch)),
                            _ => Err(KafkaError::NotLeaderOrFollower),
                        }
                    }),
                };
                ctx.send(from, Message::OffsetsForLeaderEpochResponse { request_id, partition, result });
            }
            message @ (Message::FindCoordinator { .. }
            | Message::JoinGroup { .. }
            | Message::SyncGroup { .. }
            | Message::Heartbeat { .. }
            | Message::LeaveGroup { .. }
            | Message::OffsetCommit { .. }
            | Message::OffsetFetch { .. }) => self.handle_group_message(ctx, from, message),
            Message::MetadataRequest { request_id } => {
                let leaders = self.metadata.iter().map(|s| (s.leader, s.leader_epoch)).collect();
                // Fenced brokers are not in the metadata's broker list (clients stop picking them).
                let brokers = (1..=ctx.topo.brokers)
                    .map(BrokerId)
                    .filter(|b| !self.ineligible.contains(*b))
                    .fold(BrokerSet::default(), |set, b| set.with(b));
                ctx.send(from, Message::MetadataResponse { request_id, leaders, brokers });
            }
            // Any live broker, fenced or not, accepts connections and answers ApiVersions.
            Message::ApiVersions { request_id } => {
                ctx.send(from, Message::ApiVersionsResponse { broker: self.id, request_id, error: None });
            }
            other => debug_assert!(false, "broker got a message it never expects: {:?}", other.kind()),
        }
    }

    /// A peer's process died: fetches in flight to it fail at once, as a broken connection does.
    pub fn on_peer_disconnected(&mut self, ctx: &mut Ctx, peer: BrokerId) {
        let fetcher = self.fetcher_mut(peer);
        if fetcher.in_flight.is_some() {
            fetcher.in_flight = None;
            self.fetcher_failed(ctx, peer);
        }
    }

    // ----- Metadata -----

    /// Applies metadata from the controller, making replicas leaders or followers (`ReplicaManager.applyDelta`).
    fn apply_metadata(&mut self, ctx: &mut Ctx, update: &MetadataUpdate, initial: bool) {
        if !initial && update.from_offset > self.metadata_offset {
            // A gap: an earlier update was lost. The next heartbeat response fills it.
            return;
        }
        let full = initial || (self.awaiting_full_metadata && update.from_offset == 0);
        self.ineligible = update.ineligible;
        self.metadata_offset = self.metadata_offset.max(update.to_offset);
        for &(partition, state) in &update.partitions {
            let known = self.metadata[partition.index()];
            if state.partition_epoch < known.partition_epoch && state.leader_epoch <= known.leader_epoch {
                continue;
            }
            self.metadata[partition.index()] = state;
            if !full && self.replicas[partition.index()].is_some() {
                self.apply_partition_state(ctx, partition, state, false);
            }
        }
        if full {
            self.awaiting_full_metadata = false;
            for index in 0..self.replicas.len() {
                if self.replicas[index].is_some() {
                    let state = self.metadata[index];
                    self.apply_partition_state(ctx, PartitionIdx(index as u32), state, initial);
                }
            }
        }
        self.start_fetchers(ctx);
    }

    fn apply_partition_state(&mut self, ctx: &mut Ctx, partition: PartitionIdx, state: PartitionState, initial: bool) {
        let me = self.id;
        let replica = self.replicas[partition.index()].as_mut().expect("hosted");
        if state.leader_epoch < replica.leader_epoch {
            return;
        }
        let new_epoch = state.leader_epoch > replica.leader_epoch || initial;
        if state.leader == Some(me) {
            match &mut replica.role {
                Role::Leader(leader) if !new_epoch => {
                    // Same epoch: an ISR change confirmed through metadata.
                    if state.partition_epoch > replica.partition_epoch {
                        replica.partition_epoch = state.partition_epoch;
                        leader.isr = state.isr;
                        leader.pending_isr = None;
                    }
                    self.queue_isr_candidates(partition);
                    self.maybe_increment_high_watermark(ctx, partition);
                }
                _ => self.become_leader(ctx, partition, state),
            }
        } else {
            let was_follower_of_same =
                matches!(&replica.role, Role::Follower { leader, .. } if *leader == state.leader);
            replica.partition_epoch = state.partition_epoch;
            if new_epoch || !was_follower_of_same {
                self.become_follower(ctx, partition, state);
            }
        }
    }

    /// `Partition.makeLeader`: record the epoch start, reset what is known of followers, keep the old HW.
    fn become_leader(&mut self, ctx: &mut Ctx, partition: PartitionIdx, state: PartitionState) {
        let me = self.id;
        let now = ctx.now;
        self.leave_fetch_session(partition);
        let replicas = &ctx.topo.partition(partition).replicas;
        let replica = self.replicas[partition.index()].as_mut().expect("hosted");
        replica.leader_epoch = state.leader_epoch;
        replica.partition_epoch = state.partition_epoch;
        replica.log.assign_epoch_start(state.leader_epoch);
        let log_end_offset = replica.log_end_offset();
        let followers = replicas
            .iter()
            .filter(|&&b| b != me)
            .map(|&b| FollowerState {
                broker: b,
                log_end_offset: None,
                // ISR members get a fresh lastCaughtUpTime so they are not dropped at once (resetReplicaState).
                last_caught_up_time: state.isr.contains(b).then_some(now),
                last_fetch_time: 0,
                last_fetch_leader_log_end_offset: None,
                session_id: 0,
                sent_high_watermark: 0,
                pending: false,
                isr_candidate: false,
                read_high_watermark: None,
            })
            .collect();
        let producers = rebuild_producer_state(&replica.log);
        let old = std::mem::replace(
            &mut replica.role,
            Role::Leader(Box::new(LeaderState {
                isr: state.isr,
                pending_isr: None,
                followers,
                epoch_start_offset: log_end_offset,
                waiting_produces: VecDeque::new(),
                producers,
                waiting_commits: VecDeque::new(),
                parked_consumer_fetches: Vec::new(),
            })),
        );
        if let Role::Leader(old) = old {
            // Re-elected with a new epoch: the sessions hold the partition under the old epoch, and their fetches
            // of it are fenced (FENCED_LEADER_EPOCH) until the followers name it again.
            self.fail_in_fetch_sessions(ctx, partition, &old);
        }
        ctx.trace(TraceKind::BecameLeader { broker: me, partition, leader_epoch: state.leader_epoch });
        self.load_groups(ctx, partition);
        let interval = (ctx.config().replica_lag_time_max / 2).max(1);
        ctx.timer_after(interval, Timer::IsrCheck { partition, leader_epoch: state.leader_epoch });
        self.maybe_increment_high_watermark(ctx, partition);
    }

    /// `Partition.makeFollower`: stop leading (failing what waits on it) and fetch from the new leader. There is no
    /// truncation here: divergence is found through fetches (KIP-595 style truncation on fetch).
    fn become_follower(&mut self, ctx: &mut Ctx, partition: PartitionIdx, state: PartitionState) {
        let me = self.id;
        let replica = self.replicas[partition.index()].as_mut().expect("hosted");
        replica.leader_epoch = state.leader_epoch;
        // ReplicaManager.makeFollowers re-adds the partition to a fetcher with a fresh fetch state: no backoff.
        replica.fetch_delayed = false;
        let old = std::mem::replace(&mut replica.role, Role::Follower { leader: state.leader });
        if replica.session_position.is_some_and(|(leader, _)| Some(leader) != state.leader) {
            self.leave_fetch_session(partition);
        }
        if let Role::Leader(leader) = old {
            for waiting in &leader.waiting_produces {
                self.complete_waiting(ctx, waiting, partition, Err(KafkaError::NotLeaderOrFollower));
            }
            for commit in &leader.waiting_commits {
                let result = Err(KafkaError::NotCoordinator);
                ctx.send(commit.node, Message::OffsetCommitResponse { request_id: commit.request_id, result });
            }
            for parked in &leader.parked_consumer_fetches {
                self.consumer_fetch_deadlines.remove(parked.deadline, (partition, parked.fetch_id));
                let result = FetchResult::Error(KafkaError::NotLeaderOrFollower);
                ctx.send(parked.node, Message::ConsumerFetchResponse { fetch_id: parked.fetch_id, partition, result });
            }
            self.fail_in_fetch_sessions(ctx, partition, &leader);
        }
        self.unload_groups(ctx, partition);
        ctx.trace(TraceKind::BecameFollower {
            broker: me,
            partition,
            leader: state.leader,
            leader_epoch: state.leader_epoch,
        });
        // ReplicaManager.applyDelta adds every partition of one metadata update to the fetchers at once, so the
        // request sent for it names them all.
        if let Some(leader) = self.mark_fetch_dirty(partition) {
            self.fetchers_to_start.insert(leader);
        }
    }

    /// Sends a request from every fetcher that got partitions in the metadata update just applied.
    fn start_fetchers(&mut self, ctx: &mut Ctx) {
        let leaders = std::mem::take(&mut self.fetchers_to_start);
        for leader in leaders.iter() {
            self.send_fetch(ctx, leader);
        }
    }

    /// This broker stopped leading `partition` (or leads it in a new epoch): every fetch session holding it answers
    /// NOT_LEADER_OR_FOLLOWER for it, at once if a request waits (`DelayedFetch` case A).
    fn fail_in_fetch_sessions(&mut self, ctx: &mut Ctx, partition: PartitionIdx, old: &LeaderState) {
        for f in &old.followers {
            let Some(session) = member_session(&mut self.sessions, f) else { continue };
            session.errors.push(partition);
            self.answer_held_fetch(ctx, f.broker);
        }
    }

    /// The leader's `lastCaughtUpTime` for `follower` on `partition` as Kafka has it now: every fetch of the
    /// follower's session counts, also those that did not name the partition. `None` if it never caught up (or
    /// this broker does not lead `partition` with that follower).
    pub fn last_caught_up_time(&self, partition: PartitionIdx, follower: BrokerId) -> Option<Micros> {
        let replica = self.replicas.get(partition.index())?.as_ref()?;
        let state = replica.leader_state()?;
        let f = state.followers.iter().find(|f| f.broker == follower)?;
        f.effective_last_caught_up_time(session_fetch_time(&self.sessions, f), replica.log_end_offset())
    }

    // ----- Follower side: one fetcher and one fetch session per leader (KIP-227) -----

    fn fetcher_mut(&mut self, leader: BrokerId) -> &mut Fetcher {
        let slot = leader.0 as usize;
        if self.fetchers.len() <= slot {
            self.fetchers.resize_with(slot + 1, Fetcher::default);
        }
        &mut self.fetchers[slot]
    }

    /// Queues a partition in its leader's fetcher, to be named in the next request if its fetch position changed.
    /// Returns the leader to fetch from, if there is one.
    fn mark_fetch_dirty(&mut self, partition: PartitionIdx) -> Option<BrokerId> {
        let me = self.id;
        let replica = self.replicas[partition.index()].as_mut()?;
        let Role::Follower { leader: Some(leader) } = replica.role else { return None };
        if leader == me {
            return None;
        }
        if replica.fetch_dirty != Some(leader) {
            replica.fetch_dirty = Some(leader);
            self.fetcher_mut(leader).dirty.push(partition);
        }
        Some(leader)
    }

    /// Takes a partition out of the fetch session it is in: the next request to that leader forgets it.
    fn leave_fetch_session(&mut self, partition: PartitionIdx) {
        let Some(replica) = self.replicas[partition.index()].as_mut() else { return };
        if let Some((leader, _)) = replica.session_position.take() {
            let fetcher = self.fetcher_mut(leader);
            fetcher.forgotten.push(partition);
            fetcher.session_size = fetcher.session_size.saturating_sub(1);
        }
    }

    /// The request failed as a whole (the connection broke): wait `replica.fetch.backoff.ms`, then open a new
    /// session (AbstractFetcherThread backs off; FetchSessionHandler.handleError makes the next request full).
    fn fetcher_failed(&mut self, ctx: &mut Ctx, leader: BrokerId) {
        let backoff = ctx.config().replica_fetch_backoff;
        let fetcher = self.fetcher_mut(leader);
        fetcher.session_epoch = 0;
        if !fetcher.backing_off {
            fetcher.backing_off = true;
            ctx.timer_after(backoff, Timer::FetcherBackoff { leader });
        }
    }

    /// `AbstractFetcherThread.maybeFetch` with `FetchSessionHandler.Builder`: one request to `leader` for every
    /// partition this broker follows there. A full request (session epoch 0) names them all; an incremental one
    /// names those added or whose position moved, and forgets those that left. Partitions backing off after an
    /// error are left out (and so forgotten) until their backoff ends.
    fn send_fetch(&mut self, ctx: &mut Ctx, leader: BrokerId) {
        let me = self.id;
        if leader == me {
            return;
        }
        let fetcher = self.fetcher_mut(leader);
        if fetcher.in_flight.is_some() || fetcher.backing_off {
            return;
        }
        let session_epoch = fetcher.session_epoch;
        // Sized for what the request will most likely name: the whole session, or the partitions marked dirty.
        let expected = if session_epoch == 0 { fetcher.session_size as usize } else { fetcher.dirty.len() };
        let mut partitions = ctx.buffers.fetch_partitions.take(expected);
        let mut forgotten = Vec::new();
        if session_epoch == 0 {
            fetcher.dirty.clear();
            fetcher.forgotten.clear();
            for replica in self.replicas.iter_mut().flatten() {
                if replica.fetch_dirty == Some(leader) {
                    replica.fetch_dirty = None;
                }
                if replica.session_position.is_some_and(|(l, _)| l == leader) {
                    replica.session_position = None;
                }
                if let Some(position) = wanted_fetch_position(replica, leader) {
                    replica.session_position = Some((leader, position));
                    partitions.push(position);
                }
            }
            self.fetchers[leader.0 as usize].session_size = partitions.len() as u32;
        } else {
            let mut dirty = std::mem::take(&mut fetcher.dirty);
            let mut added = 0;
            for &partition in &dirty {
                let Some(replica) = self.replicas[partition.index()].as_mut() else { continue };
                if replica.fetch_dirty != Some(leader) {
                    continue; // Queued here before it moved to another leader's fetcher.
                }
                replica.fetch_dirty = None;
                let Some(position) = wanted_fetch_position(replica, leader) else { continue };
                match replica.session_position {
                    Some((l, sent)) if l == leader && sent == position => {}
                    previous => {
                        if previous.is_none() {
                            added += 1;
                        }
                        replica.session_position = Some((leader, position));
                        partitions.push(position);
                    }
                }
            }
            dirty.clear();
            let fetcher = &mut self.fetchers[leader.0 as usize];
            fetcher.dirty = dirty;
            fetcher.session_size += added;
            for partition in fetcher.forgotten.drain(..) {
                let rejoined = self.replicas[partition.index()]
                    .as_ref()
                    .is_some_and(|r| r.session_position.is_some_and(|(l, _)| l == leader));
                if !rejoined {
                    forgotten.push(partition);
                }
            }
        }
        let now = ctx.now;
        let timeout = ctx.config().replica_socket_timeout;
        let fetcher = &mut self.fetchers[leader.0 as usize];
        if fetcher.session_size == 0 {
            // Nothing to fetch from this leader: no request; the next partition opens a new session.
            fetcher.session_epoch = 0;
            return;
        }
        self.next_fetch_id += 1;
        let fetch_id = self.next_fetch_id;
        fetcher.in_flight = Some(fetch_id);
        // One timeout timer per fetcher at a time: most requests are answered long before it fires.
        fetcher.deadline = now + timeout;
        if !fetcher.timer_armed {
            fetcher.timer_armed = true;
            ctx.out.timers.push((fetcher.deadline, Timer::FetchTimeout { leader }));
        }
        ctx.send(leader.node(), Message::Fetch { fetch_id, replica: me, session_epoch, partitions, forgotten });
    }

    fn handle_fetch_response(
        &mut self,
        ctx: &mut Ctx,
        leader: BrokerId,
        fetch_id: u64,
        error: Option<KafkaError>,
        partitions: &mut Vec<(PartitionIdx, FetchResult)>,
    ) {
        let me = self.id;
        let fetcher = self.fetcher_mut(leader);
        if fetcher.in_flight != Some(fetch_id) {
            return; // A stale answer: that request was given up.
        }
        fetcher.in_flight = None;
        match error {
            Some(KafkaError::NetworkException) => return self.fetcher_failed(ctx, leader),
            Some(_) => {
                // FETCH_SESSION_ID_NOT_FOUND or INVALID_FETCH_SESSION_EPOCH: open a new session at once.
                fetcher.session_epoch = 0;
                return self.send_fetch(ctx, leader);
            }
            None => fetcher.session_epoch += 1,
        }
        for (partition, result) in partitions.drain(..) {
            let Some(replica) = self.replicas[partition.index()].as_mut() else { continue };
            // AbstractFetcherThread.processFetchRequest: use the data only if the partition still fetches from this
            // leader, at the offset the session asked for.
            let current = matches!(replica.role, Role::Follower { leader: Some(l) } if l == leader)
                && replica
                    .session_position
                    .is_some_and(|(l, position)| l == leader && position.fetch_offset == replica.log.log_end_offset());
            if !current {
                continue;
            }
            match result {
                FetchResult::Records { entries, high_watermark } => {
                    let base_offset = replica.log.log_end_offset();
                    let count = entries.len() as u32;
                    let flush_messages = ctx.topo.partition(partition).flush_messages;
                    for &entry in entries.iter() {
                        replica.log.append(entry);
                    }
                    if entries.spilled() {
                        ctx.buffers.fetched_entries.give(entries.into_vec());
                    }
                    replica.log.maybe_flush(flush_messages);
                    if count > 0 {
                        ctx.trace(TraceKind::Replicated { broker: me, partition, base_offset, records: count });
                    }
                    // Follower HW = min(leader's HW in the response, own LEO) (Partition.scala, KIP-101).
                    let new_hw = high_watermark.min(replica.log.log_end_offset());
                    if new_hw != replica.high_watermark {
                        replica.high_watermark = new_hw;
                        ctx.trace(TraceKind::HighWatermark { broker: me, partition, high_watermark: new_hw });
                    }
                    if count > 0 {
                        self.mark_fetch_dirty(partition);
                    }
                }
                FetchResult::Diverging { leader_epoch, end_offset, high_watermark } => {
                    // KIP-320: truncate to the end of the largest epoch both logs share; if this log lacks that
                    // exact epoch, the next fetch (with the new last epoch) narrows it down further.
                    // `AbstractFetcherThread.getOffsetTruncationState`: where this log has no such epoch at all,
                    // the leader's end offset stands.
                    let own_end = replica.log.end_offset_for_epoch(leader_epoch).map_or(end_offset, |(_, end)| end);
                    let target = end_offset.min(own_end).min(replica.log.log_end_offset());
                    let from_offset = replica.log.log_end_offset();
                    replica.log.truncate_to(target);
                    if target < from_offset {
                        ctx.trace(TraceKind::Truncated { broker: me, partition, from_offset, to_offset: target });
                    }
                    // A diverging response's HW is not applied (the follower's HW only comes down with its log).
                    let _ = high_watermark;
                    replica.high_watermark = replica.high_watermark.min(replica.log.log_end_offset());
                    // Name the partition again in the next request, even where the truncation left the offset and
                    // epoch as they were (no real position has this offset).
                    replica.session_position = replica.session_position.map(|(l, mut position)| {
                        position.fetch_offset = u64::MAX;
                        (l, position)
                    });
                    self.mark_fetch_dirty(partition);
                }
                FetchResult::Error(_) => {
                    // AbstractFetcherThread.delayPartitions: the partition sits out replica.fetch.backoff.ms.
                    replica.fetch_delayed = true;
                    self.leave_fetch_session(partition);
                    self.mark_fetch_dirty(partition);
                    ctx.timer_after(ctx.config().replica_fetch_backoff, Timer::FetchBackoff { partition });
                }
            }
        }
        self.send_fetch(ctx, leader);
    }

    // ----- Leader side: fetch sessions -----

    /// `KafkaApis.handleFetch` for a follower with `FetchManager.newContext`: resolves the session, applies the
    /// named partitions (`Partition.fetchRecords`: fencing, divergence, `updateFollowerFetchState`), and answers at
    /// once if any of the session's partitions has records or an error; otherwise holds the request
    /// (`DelayedFetch`) until records arrive or `replica.fetch.wait.max.ms` passes.
    fn handle_fetch(
        &mut self,
        ctx: &mut Ctx,
        follower: BrokerId,
        fetch_id: u64,
        session_epoch: u32,
        partitions: &[FetchPartition],
        forgotten: Vec<PartitionIdx>,
    ) {
        let now = ctx.now;
        let slot = follower.0 as usize;
        if self.sessions.len() <= slot {
            self.sessions.resize_with(slot + 1, || None);
        }
        if session_epoch == 0 {
            self.close_fetch_session(follower);
            self.next_session_id += 1;
            self.sessions[slot] = Some(FetchSession {
                id: self.next_session_id,
                epoch: 1,
                last_fetch_time: now,
                pending: Vec::new(),
                errors: Vec::new(),
                isr_candidates: Vec::new(),
                parked: None,
                has_new_records: false,
            });
        } else {
            let error = match &mut self.sessions[slot] {
                None => Some(KafkaError::FetchSessionIdNotFound),
                Some(session) if session.epoch != session_epoch => Some(KafkaError::InvalidFetchSessionEpoch),
                Some(session) => {
                    session.epoch += 1;
                    None
                }
            };
            if let Some(error) = error {
                let response = Message::FetchResponse { fetch_id, error: Some(error), partitions: Vec::new() };
                return ctx.send(follower.node(), response);
            }
        }
        // A request still held was given up by the follower (it timed out there), which sent this one.
        self.release_held_fetch(follower);
        let session = self.sessions[slot].as_ref().expect("opened above");
        let (session_id, previous_fetch_time) = (session.id, session.last_fetch_time);
        for partition in forgotten {
            if let Some(Replica { role: Role::Leader(state), .. }) = self.replicas[partition.index()].as_mut() {
                if let Some(f) = state.follower_mut(follower).filter(|f| f.session_id == session_id) {
                    f.session_id = 0;
                }
            }
        }
        let mut answers = ctx.buffers.fetch_answers.take(0);
        let new_session = session_epoch == 0;
        for named in partitions {
            if let Some(answer) =
                self.fetch_partition(ctx, follower, session_id, previous_fetch_time, new_session, named)
            {
                answers.push((named.partition, answer));
            }
        }
        self.check_isr_candidates(ctx, follower, session_id);
        let session = self.sessions[slot].as_mut().expect("opened above");
        session.last_fetch_time = now;
        let mut answer_now = !answers.is_empty() || !session.errors.is_empty();
        if !answer_now {
            answer_now = session.pending.iter().any(|p| match &self.replicas[p.index()] {
                Some(Replica { role: Role::Leader(state), log, .. }) => state.followers.iter().any(|f| {
                    f.broker == follower && f.session_id == session_id && f.log_end_offset < Some(log.log_end_offset())
                }),
                _ => false,
            });
        }
        if answer_now {
            return self.answer_session_fetch(ctx, follower, fetch_id, answers);
        }
        // Held: when it completes it reads the high watermarks of that moment (DelayedFetch.onComplete).
        ctx.buffers.fetch_answers.give(answers);
        for named in partitions {
            if let Some(Replica { role: Role::Leader(state), .. }) = self.replicas[named.partition.index()].as_mut() {
                if let Some(f) = state.follower_mut(follower) {
                    f.read_high_watermark = None;
                }
            }
        }
        let deadline = now + ctx.config().replica_fetch_wait_max;
        let session = self.sessions[slot].as_mut().expect("opened above");
        session.parked = Some((fetch_id, deadline));
        session.has_new_records = false;
        self.fetch_deadlines.insert(deadline, (follower, fetch_id));
        self.arm_fetch_timer(ctx);
    }

    /// One partition named in a follower's fetch. Returns an answer that must go out at once (an error or a
    /// diverging epoch); otherwise the partition is in the session, queued to report its records and high watermark.
    fn fetch_partition(
        &mut self,
        ctx: &mut Ctx,
        follower: BrokerId,
        session_id: u64,
        previous_fetch_time: Micros,
        new_session: bool,
        named: &FetchPartition,
    ) -> Option<FetchResult> {
        let now = ctx.now;
        let partition = named.partition;
        let fetch_offset = named.fetch_offset;
        let Some(replica) = self.replicas[partition.index()].as_mut() else {
            return Some(FetchResult::Error(KafkaError::NotLeaderOrFollower));
        };
        if let Err(error) = fence_leader_epoch(named.current_leader_epoch, replica.leader_epoch) {
            return Some(FetchResult::Error(error));
        }
        let leader_epoch = replica.leader_epoch;
        let log_end_offset = replica.log.log_end_offset();
        let high_watermark = replica.high_watermark;
        let Role::Leader(state) = &mut replica.role else {
            return Some(FetchResult::Error(KafkaError::NotLeaderOrFollower));
        };
        let in_isr = state.isr.contains(follower);
        let Some(f) = state.follower_mut(follower) else {
            return Some(FetchResult::Error(KafkaError::NotLeaderOrFollower));
        };
        let was_member = f.session_id == session_id;
        f.session_id = session_id;
        if new_session {
            // A full request opens the session, and its response is a full one (KIP-227 `FullFetchContext`): every
            // partition is in it with its high watermark, even one with no new records, so a restarted follower
            // whose checkpointed high watermark is behind learns the leader's at once.
            f.sent_high_watermark = u64::MAX;
        }
        // Divergence (Partition.fetchRecords -> validateFetchOffsetAndMaybeGetDivergingEpoch): the follower's last
        // epoch must end, in the leader's log, at or after the fetch offset. An empty log cannot diverge.
        let divergence = diverging_epoch(&replica.log, named.last_fetched_epoch, fetch_offset);
        if let Ok(Some((epoch, end_offset))) = divergence {
            return Some(FetchResult::Diverging { leader_epoch: epoch, end_offset, high_watermark });
        }
        if divergence.is_err() || fetch_offset > log_end_offset {
            // OFFSET_OUT_OF_RANGE in Kafka; the follower resolves it by truncating to the leader's end.
            return Some(FetchResult::Diverging { leader_epoch, end_offset: log_end_offset, high_watermark });
        }
        // updateFollowerFetchState: the fetch offset is the follower's LEO; lastCaughtUpTime moves when the follower
        // reached the leader's LEO now, or the LEO the leader had at its previous fetch. That previous fetch may be
        // one of the session's that did not name this partition.
        f.catch_up_with_session(was_member.then_some(previous_fetch_time), log_end_offset);
        if fetch_offset >= log_end_offset {
            f.last_caught_up_time = f.last_caught_up_time.max(Some(now));
        } else if f.last_fetch_leader_log_end_offset.is_some_and(|previous| fetch_offset >= previous) {
            f.last_caught_up_time = f.last_caught_up_time.max(Some(f.last_fetch_time));
        }
        f.log_end_offset = Some(fetch_offset);
        f.last_fetch_leader_log_end_offset = Some(log_end_offset);
        f.last_fetch_time = now;
        // Partition.readRecords answers with the HW read before this fetch updated the follower's state
        // (initialHighWatermark): a follower learns the advance its own fetch caused one round later.
        f.read_high_watermark = Some(high_watermark);
        let session = self.sessions[follower.0 as usize].as_mut().expect("the fetch opened it");
        if !f.pending {
            f.pending = true;
            session.pending.push(partition);
        }
        if !in_isr && !f.isr_candidate {
            f.isr_candidate = true;
            session.isr_candidates.push(partition);
        }
        self.maybe_expand_isr(ctx, partition, follower);
        self.maybe_increment_high_watermark(ctx, partition);
        None
    }

    /// Each fetch of a session counts for all of its partitions: those whose follower is outside the ISR may rejoin
    /// now (it became eligible again, or an earlier proposal was settled), and their HW may move.
    fn check_isr_candidates(&mut self, ctx: &mut Ctx, follower: BrokerId, session_id: u64) {
        let slot = follower.0 as usize;
        let mut candidates = std::mem::take(&mut self.sessions[slot].as_mut().expect("open").isr_candidates);
        candidates.retain(|&partition| {
            let Some(Replica { role: Role::Leader(state), .. }) = self.replicas[partition.index()].as_mut() else {
                return false;
            };
            let in_isr = state.isr.contains(follower);
            let Some(f) = state.follower_mut(follower) else { return false };
            if f.session_id != session_id || in_isr {
                f.isr_candidate = false;
                return false;
            }
            self.maybe_expand_isr(ctx, partition, follower);
            self.maybe_increment_high_watermark(ctx, partition);
            ctx.out.touched.push(partition);
            true
        });
        self.sessions[slot].as_mut().expect("open").isr_candidates = candidates;
    }

    /// Drops a follower's session (a full request replaces it). Its partitions keep what its last fetch taught.
    fn close_fetch_session(&mut self, follower: BrokerId) {
        self.release_held_fetch(follower);
        let Some(Some(old)) = self.sessions.get_mut(follower.0 as usize).map(Option::take) else { return };
        for replica in self.replicas.iter_mut().flatten() {
            let log_end_offset = replica.log.log_end_offset();
            if let Role::Leader(state) = &mut replica.role {
                if let Some(f) = state.follower_mut(follower) {
                    if f.session_id == old.id {
                        f.catch_up_with_session(Some(old.last_fetch_time), log_end_offset);
                        f.session_id = 0;
                    }
                    f.pending = false;
                    f.isr_candidate = false;
                }
            }
        }
    }

    /// Answers a session's request: `answers` first, then partitions this broker stopped leading, then every
    /// pending partition with records or a high watermark the follower has not seen (`updateAndGenerateResponseData`).
    fn answer_session_fetch(
        &mut self,
        ctx: &mut Ctx,
        follower: BrokerId,
        fetch_id: u64,
        mut answers: Vec<(PartitionIdx, FetchResult)>,
    ) {
        let max_bytes = ctx.config().replica_fetch_max_bytes;
        let Some(session) = self.sessions.get_mut(follower.0 as usize).and_then(Option::as_mut) else { return };
        let session_id = session.id;
        answers.reserve(session.errors.len() + session.pending.len());
        answers.extend(session.errors.drain(..).map(|p| (p, FetchResult::Error(KafkaError::NotLeaderOrFollower))));
        let mut pending = std::mem::take(&mut session.pending);
        let mut still_pending = Vec::new();
        for &partition in &pending {
            let Some(Replica { role: Role::Leader(state), log, high_watermark, .. }) =
                self.replicas[partition.index()].as_mut()
            else {
                continue;
            };
            let Some(f) = state.follower_mut(follower) else { continue };
            f.pending = false;
            let read_high_watermark = f.read_high_watermark.take();
            if f.session_id != session_id {
                continue;
            }
            let fetch_offset = f.log_end_offset.unwrap_or(0);
            let entries = if fetch_offset < log.log_end_offset() {
                read_entries(log, fetch_offset, max_bytes, &mut ctx.buffers.fetched_entries)
            } else {
                FetchedEntries::new()
            };
            let sent = read_high_watermark.unwrap_or(*high_watermark);
            if !entries.is_empty() || sent != f.sent_high_watermark {
                f.sent_high_watermark = sent;
                answers.push((partition, FetchResult::Records { entries, high_watermark: sent }));
            }
            if *high_watermark != f.sent_high_watermark {
                // This fetch moved the high watermark past what it reports: the next response carries it.
                f.pending = true;
                still_pending.push(partition);
            }
        }
        pending.clear();
        pending.append(&mut still_pending);
        let session = self.sessions[follower.0 as usize].as_mut().expect("checked above");
        session.pending = pending;
        session.has_new_records = false;
        ctx.send(follower.node(), Message::FetchResponse { fetch_id, error: None, partitions: answers });
    }

    /// One timer per broker for all held fetches, set for the earliest deadline.
    fn arm_fetch_timer(&mut self, ctx: &mut Ctx) {
        let earliest = self.fetch_deadlines.first().map(|d| d.0);
        ctx.arm_coalesced(&mut self.fetch_timer_at, earliest, |at| Timer::FetchWaitExpired { at });
    }

    /// One timer per broker for all waiting acks=all produces, set for the earliest deadline.
    fn arm_produce_timer(&mut self, ctx: &mut Ctx) {
        let earliest = self.produce_deadlines.first().map(|d| d.0);
        ctx.arm_coalesced(&mut self.produce_timer_at, earliest, |at| Timer::ProduceTimeout { at });
    }

    /// A held request reached `replica.fetch.wait.max.ms`: answer with whatever high watermarks moved meanwhile.
    fn expire_parked_fetch(&mut self, ctx: &mut Ctx, follower: BrokerId, fetch_id: u64) {
        let held = self.sessions.get(follower.0 as usize).and_then(Option::as_ref).and_then(|s| s.parked);
        if held.is_some_and(|(id, _)| id == fetch_id) {
            self.answer_held_fetch(ctx, follower);
        }
    }

    /// Takes the follower's held request out of its session and out of the deadlines; returns its fetch id.
    fn release_held_fetch(&mut self, follower: BrokerId) -> Option<u64> {
        let session = self.sessions.get_mut(follower.0 as usize).and_then(Option::as_mut)?;
        let (fetch_id, deadline) = session.parked.take()?;
        self.fetch_deadlines.remove(deadline, (follower, fetch_id));
        Some(fetch_id)
    }

    /// Answers the follower's held request now, if there is one, with what its session has to report.
    fn answer_held_fetch(&mut self, ctx: &mut Ctx, follower: BrokerId) {
        if let Some(fetch_id) = self.release_held_fetch(follower) {
            let answers = ctx.buffers.fetch_answers.take(0);
            self.answer_session_fetch(ctx, follower, fetch_id, answers);
        }
    }

    /// Records were appended here (a produce request or an offset commit, all its partitions): held requests of
    /// the sessions they belong to complete now (`DelayedFetch.tryComplete`, run after the whole request).
    pub(crate) fn complete_fetches_with_new_records(&mut self, ctx: &mut Ctx) {
        for slot in 0..self.sessions.len() {
            if self.sessions[slot].as_ref().is_some_and(|s| s.has_new_records) {
                self.answer_held_fetch(ctx, BrokerId(slot as u32));
            }
        }
    }

    // ----- Leader side: high watermark and ISR -----

    /// `Partition.maybeIncrementLeaderHW`: the HW is the smallest LEO over the maximal ISR and over replicas that
    /// are caught up and eligible to join; it never moves back. Completes acks=all produces it satisfies.
    fn maybe_increment_high_watermark(&mut self, ctx: &mut Ctx, partition: PartitionIdx) {
        let me = self.id;
        let now = ctx.now;
        let lag_max = ctx.config().replica_lag_time_max;
        let fenced = self.ineligible;
        let replica = self.replicas[partition.index()].as_mut().expect("hosted");
        let log_end_offset = replica.log.log_end_offset();
        let Role::Leader(state) = &mut replica.role else {
            return;
        };
        let sessions = &mut self.sessions;
        let maximal_isr = state.maximal_isr();
        let info = ctx.topo.partition(partition);
        // KAFKA-15583 (Kafka 3.7+): while the ISR is smaller than min.insync.replicas (capped at the replica count),
        // the HW does not move, so nothing becomes visible to consumers that fewer replicas than promised hold.
        let effective_min_isr = info.effective_min_insync_replicas();
        let mut new_hw = log_end_offset;
        if state.isr.len() < effective_min_isr {
            new_hw = replica.high_watermark;
        }
        for f in &state.followers {
            let follower_leo = f.log_end_offset.unwrap_or(0);
            // Only a follower behind the candidate HW can hold it back; whether one outside the ISR is caught up
            // is worked out only then (it is the costly part, and most fetches come from ISR members).
            let caught_up = || f.is_caught_up(session_fetch_time(sessions, f), log_end_offset, now, lag_max);
            if follower_leo < new_hw
                && (maximal_isr.contains(f.broker)
                    || (f.log_end_offset.is_some() && !fenced.contains(f.broker) && caught_up()))
            {
                new_hw = follower_leo;
            }
        }
        let hw_moved = new_hw > replica.high_watermark;
        if hw_moved {
            replica.high_watermark = new_hw;
            ctx.trace(TraceKind::HighWatermark { broker: me, partition, high_watermark: new_hw });
            // The sessions' next responses carry the new high watermark (they do not answer for it alone).
            for f in state.followers.iter_mut().filter(|f| !f.pending) {
                if let Some(session) = member_session(sessions, f) {
                    f.pending = true;
                    session.pending.push(partition);
                }
            }
        }
        // checkEnoughReplicasReachOffset: done once the HW passed the batch; NOT_ENOUGH_REPLICAS_AFTER_APPEND if
        // the ISR fell below min.insync.replicas meanwhile.
        let min_isr = effective_min_isr;
        let enough_replicas = maximal_isr.len() >= min_isr;
        let high_watermark = replica.high_watermark;
        let done = state.waiting_produces.iter().take_while(|w| w.required_offset <= high_watermark).count();
        let consumers_waiting = !state.parked_consumer_fetches.is_empty();
        let commits_waiting = !state.waiting_commits.is_empty();
        // Completed one at a time, oldest first, without collecting them (this runs on nearly every fetch).
        for _ in 0..done {
            let Some(Replica { role: Role::Leader(state), .. }) = self.replicas[partition.index()].as_mut() else {
                break;
            };
            let waiting = state.waiting_produces.pop_front().expect("counted above");
            let result =
                if enough_replicas { Ok(waiting.base_offset) } else { Err(KafkaError::NotEnoughReplicasAfterAppend) };
            self.complete_waiting(ctx, &waiting, partition, result);
        }
        if hw_moved && commits_waiting {
            self.complete_commits(ctx, partition);
        }
        if hw_moved && consumers_waiting {
            self.answer_parked_consumer_fetch(ctx, partition, None);
        }
    }

    /// New records at the leader, appended at `previous_log_end_offset`: the sessions holding the partition queue
    /// them (their held requests complete once the whole request is appended, in
    /// `complete_fetches_with_new_records`), and the HW may move.
    pub(crate) fn after_leader_append(&mut self, ctx: &mut Ctx, partition: PartitionIdx, previous_log_end_offset: u64) {
        if let Some(Replica { role: Role::Leader(state), .. }) = self.replicas[partition.index()].as_mut() {
            for f in state.followers.iter_mut() {
                let Some(session) = member_session(&mut self.sessions, f) else { continue };
                // The session's last fetch counted for this partition too: settle what it taught before the log
                // grows past the follower's offset.
                f.catch_up_with_session(Some(session.last_fetch_time), previous_log_end_offset);
                if !f.pending {
                    f.pending = true;
                    session.pending.push(partition);
                }
                session.has_new_records = true;
            }
        }
        self.maybe_increment_high_watermark(ctx, partition);
    }

    /// A consumer's fetch (`Partition.fetchRecords` for a consumer): leader epoch fencing, divergence detection
    /// (KIP-320), and only records below the high watermark (read_uncommitted sees no further).
    fn handle_consumer_fetch(&mut self, ctx: &mut Ctx, from: NodeId, fetch: ConsumerFetchRequest) {
        let ConsumerFetchRequest { fetch_id, partition, offset, current_leader_epoch, last_fetched_epoch, max_wait } =
            fetch;
        let reply = |ctx: &mut Ctx, result: FetchResult| {
            ctx.send(from, Message::ConsumerFetchResponse { fetch_id, partition, result });
        };
        let Some(replica) = self.replicas[partition.index()].as_mut() else {
            return reply(ctx, FetchResult::Error(KafkaError::NotLeaderOrFollower));
        };
        if let Err(error) = fence_leader_epoch(current_leader_epoch, replica.leader_epoch) {
            return reply(ctx, FetchResult::Error(error));
        }
        let high_watermark = replica.high_watermark;
        let Role::Leader(state) = &mut replica.role else {
            return reply(ctx, FetchResult::Error(KafkaError::NotLeaderOrFollower));
        };
        let divergence = diverging_epoch(&replica.log, last_fetched_epoch, offset);
        if let Ok(Some((epoch, end_offset))) = divergence {
            return reply(ctx, FetchResult::Diverging { leader_epoch: epoch, end_offset, high_watermark });
        }
        if divergence.is_err() || offset > replica.log.log_end_offset() {
            return reply(ctx, FetchResult::Error(KafkaError::OffsetOutOfRange));
        }
        if offset < high_watermark {
            let entries = committed_entries(&replica.log, offset, high_watermark);
            return reply(ctx, FetchResult::Records { entries, high_watermark });
        }
        let deadline = ctx.now + max_wait;
        state.parked_consumer_fetches.push(ParkedConsumerFetch { node: from, fetch_id, offset, deadline });
        self.consumer_fetch_deadlines.insert(deadline, (partition, fetch_id));
        self.arm_consumer_fetch_timer(ctx);
    }

    fn arm_consumer_fetch_timer(&mut self, ctx: &mut Ctx) {
        let earliest = self.consumer_fetch_deadlines.first().map(|d| d.0);
        ctx.arm_coalesced(&mut self.consumer_fetch_timer_at, earliest, |at| Timer::ConsumerFetchWait { at });
    }

    /// Answers held consumer fetches of a partition: one (its wait expired) or all (the HW moved).
    fn answer_parked_consumer_fetch(&mut self, ctx: &mut Ctx, partition: PartitionIdx, only: Option<u64>) {
        let Some(replica) = self.replicas[partition.index()].as_mut() else { return };
        let high_watermark = replica.high_watermark;
        let Role::Leader(state) = &mut replica.role else { return };
        let mut answered = Vec::new();
        state.parked_consumer_fetches.retain(|p| {
            let take = only.is_none_or(|id| id == p.fetch_id) && (only.is_some() || p.offset < high_watermark);
            if take {
                answered.push(p.clone());
            }
            !take
        });
        for parked in answered {
            self.consumer_fetch_deadlines.remove(parked.deadline, (partition, parked.fetch_id));
            let entries = committed_entries(&replica.log, parked.offset, high_watermark);
            ctx.send(
                parked.node,
                Message::ConsumerFetchResponse {
                    fetch_id: parked.fetch_id,
                    partition,
                    result: FetchResult::Records { entries, high_watermark },
                },
            );
        }
    }

    /// Records one partition's outcome in its delayed produce; answers the request once every partition has one.
    fn complete_waiting(
        &mut self,
        ctx: &mut Ctx,
        waiting: &WaitingProduce,
        partition: PartitionIdx,
        result: Result<u64, KafkaError>,
    ) {
        let Some(delayed) = self.delayed_produces.get_mut(&waiting.request) else { return };
        let slot = &mut delayed.results[waiting.slot];
        debug_assert_eq!(slot.0, partition);
        if slot.1.is_none() {
            slot.1 = Some(result);
            delayed.remaining -= 1;
        }
        if delayed.remaining == 0 {
            let delayed = self.delayed_produces.remove(&waiting.request).expect("present");
            self.produce_deadlines.remove(delayed.deadline, waiting.request);
            send_produce_response(ctx, waiting.request, delayed, &self.metadata);
        }
    }

    /// `Partition.maybeExpandIsr` / `isFollowerInSync`: a follower rejoins when its LEO reached the HW and the start
    /// of the current leader epoch. The change is only proposed; the controller decides.
    fn maybe_expand_isr(&mut self, ctx: &mut Ctx, partition: PartitionIdx, follower: BrokerId) {
        let me = self.id;
        let fenced = self.ineligible;
        let replica = self.replicas[partition.index()].as_mut().expect("hosted");
        let high_watermark = replica.high_watermark;
        let (leader_epoch, partition_epoch) = (replica.leader_epoch, replica.partition_epoch);
        let Role::Leader(state) = &mut replica.role else {
            return;
        };
        if state.pending_isr.is_some() || state.isr.contains(follower) || fenced.contains(follower) {
            return;
        }
        let Some(f) = state.followers.iter().find(|f| f.broker == follower) else {
            return;
        };
        let leo = f.log_end_offset.unwrap_or(0);
        if leo >= high_watermark && leo >= state.epoch_start_offset {
            let proposed = state.isr.with(follower);
            state.pending_isr = Some(PendingIsr { proposed, sent_at: ctx.now });
            ctx.trace(TraceKind::IsrExpandProposed { broker: me, partition, added: follower });
            ctx.send(
                CONTROLLER,
                Message::AlterPartition { partition, leader: me, leader_epoch, partition_epoch, new_isr: proposed },
            );
        }
    }

    /// The periodic ISR check (`Partition.maybeShrinkIsr` / `getOutOfSyncReplicas`): a follower whose LEO differs
    /// from the leader's and that has not caught up for `replica.lag.time.max.ms` is proposed for removal.
    fn isr_check(&mut self, ctx: &mut Ctx, partition: PartitionIdx, timer_epoch: u32) {
        let me = self.id;
        let now = ctx.now;
        let lag_max = ctx.config().replica_lag_time_max;
        let Some(replica) = self.replicas[partition.index()].as_mut() else {
            return;
        };
        if replica.leader_epoch != timer_epoch {
            return;
        }
        let log_end_offset = replica.log.log_end_offset();
        let (leader_epoch, partition_epoch) = (replica.leader_epoch, replica.partition_epoch);
        let Role::Leader(state) = &mut replica.role else {
            return;
        };
        let sessions = &mut self.sessions;
        ctx.timer_after((lag_max / 2).max(1), Timer::IsrCheck { partition, leader_epoch });
        if let Some(pending) = state.pending_isr {
            // No answer from the controller yet: AlterPartitionManager keeps retrying the same proposal.
            if now.saturating_sub(pending.sent_at) >= lag_max / 2 {
                ctx.send(
                    CONTROLLER,
                    Message::AlterPartition {
                        partition,
                        leader: me,
                        leader_epoch,
                        partition_epoch,
                        new_isr: pending.proposed,
                    },
                );
            }
            return;
        }
        let mut out_of_sync = BrokerSet::default();
        for f in &state.followers {
            if state.isr.contains(f.broker)
                && !f.is_caught_up(session_fetch_time(sessions, f), log_end_offset, now, lag_max)
            {
                out_of_sync.insert(f.broker);
            }
        }
        if out_of_sync.is_empty() {
            return;
        }
        let proposed = BrokerSet(state.isr.0 & !out_of_sync.0);
        state.pending_isr = Some(PendingIsr { proposed, sent_at: now });
        ctx.trace(TraceKind::IsrShrinkProposed { broker: me, partition, removed: out_of_sync });
        ctx.send(
            CONTROLLER,
            Message::AlterPartition { partition, leader: me, leader_epoch, partition_epoch, new_isr: proposed },
        );
    }

    fn handle_alter_partition_response(
        &mut self,
        ctx: &mut Ctx,
        partition: PartitionIdx,
        result: Result<PartitionState, KafkaError>,
    ) {
        let Some(replica) = self.replicas[partition.index()].as_mut() else {
            return;
        };
        let leader_epoch = replica.leader_epoch;
        let Role::Leader(state) = &mut replica.role else {
            return;
        };
        match result {
            Ok(new_state) if new_state.leader_epoch == leader_epoch => {
                if new_state.partition_epoch >= replica.partition_epoch {
                    replica.partition_epoch = new_state.partition_epoch;
                    state.isr = new_state.isr;
                }
                state.pending_isr = None;
            }
            Ok(_) => state.pending_isr = None,
            // handleAlterPartitionError: only an ineligible replica resets the proposal at once; after other
            // errors the leader keeps the maximal ISR until new metadata for the partition arrives.
            Err(KafkaError::IneligibleReplica) => state.pending_isr = None,
            Err(_) => {}
        }
        self.queue_isr_candidates(partition);
        self.maybe_increment_high_watermark(ctx, partition);
    }

    /// After an ISR change: followers now outside the ISR are checked on each fetch of their session, whether or
    /// not the fetch names the partition, so that they can rejoin (as `updateFollowerFetchState` does).
    fn queue_isr_candidates(&mut self, partition: PartitionIdx) {
        let Some(Replica { role: Role::Leader(state), .. }) = self.replicas[partition.index()].as_mut() else {
            return;
        };
        let isr = state.isr;
        for f in state.followers.iter_mut().filter(|f| !f.isr_candidate && !isr.contains(f.broker)) {
            if let Some(session) = member_session(&mut self.sessions, f) {
                f.isr_candidate = true;
                session.isr_candidates.push(partition);
            }
        }
    }

    // ----- Leader side: produce -----

    /// `ReplicaManager.appendRecords`: append each partition's batch, answer at once for acks=0/1 or for errors, and
    /// hold acks=all requests until every partition's high watermark passed its batch (`DelayedProduce`).
    fn handle_produce(
        &mut self,
        ctx: &mut Ctx,
        request: RequestKey,
        acks: Acks,
        timeout: Micros,
        batches: &mut Vec<(PartitionIdx, ProduceBatch)>,
    ) {
        let mut results = ctx.buffers.produce_outcomes.take(batches.len());
        // (slot in `results`, base offset, offset the high watermark must reach)
        let mut waits: SmallVec<[(usize, u64, u64); 8]> = SmallVec::new();
        for (slot, (partition, batch)) in batches.drain(..).enumerate() {
            match self.append_batch(ctx, partition, acks, batch) {
                Ok((base_offset, required_offset)) => {
                    let done = acks != Acks::All || self.high_watermark_reached(ctx, partition, required_offset);
                    if done {
                        results.push((partition, Some(self.acks_all_outcome(ctx, partition, acks, base_offset))));
                    } else {
                        results.push((partition, None));
                        waits.push((slot, base_offset, required_offset));
                    }
                }
                Err(error) => results.push((partition, Some(Err(error)))),
            }
        }
        self.complete_fetches_with_new_records(ctx);
        if acks == Acks::None {
            // `KafkaApis.handleProduceRequest`: an acks=0 producer expects no answer, so on any partition error the
            // broker closes the connection, and the producer, seeing the disconnect, refreshes its metadata.
            if results.iter().any(|(_, r)| matches!(r, Some(Err(_)))) {
                ctx.send(request.0, Message::ProduceDisconnected { broker: self.id, request_id: None });
            }
            ctx.buffers.produce_outcomes.give(results);
            return;
        }
        if waits.is_empty() {
            let delayed = DelayedProduce { deadline: 0, remaining: 0, results };
            return send_produce_response(ctx, request, delayed, &self.metadata);
        }
        for &(slot, base_offset, required_offset) in &waits {
            let partition = results[slot].0;
            if let Some(Replica { role: Role::Leader(state), .. }) = self.replicas[partition.index()].as_mut() {
                // Kept in `required_offset` order, so that completing takes a prefix. A new append always goes last;
                // a duplicate batch, answered with its original offsets, may need an earlier place.
                let position = state.waiting_produces.partition_point(|w| w.required_offset <= required_offset);
                let waiting = WaitingProduce { request, slot, required_offset, base_offset };
                state.waiting_produces.insert(position, waiting);
            }
        }
        let deadline = ctx.now + timeout;
        self.delayed_produces.insert(request, DelayedProduce { deadline, remaining: waits.len(), results });
        self.produce_deadlines.insert(deadline, request);
        self.arm_produce_timer(ctx);
    }

    fn high_watermark_reached(&self, _ctx: &Ctx, partition: PartitionIdx, required_offset: u64) -> bool {
        self.replicas[partition.index()].as_ref().is_some_and(|r| r.high_watermark >= required_offset)
    }

    /// The answer for a batch whose records are below the high watermark (checkEnoughReplicasReachOffset).
    fn acks_all_outcome(
        &self,
        ctx: &Ctx,
        partition: PartitionIdx,
        acks: Acks,
        base_offset: u64,
    ) -> Result<u64, KafkaError> {
        if acks != Acks::All {
            return Ok(base_offset);
        }
        let info = ctx.topo.partition(partition);
        let min_isr = info.effective_min_insync_replicas();
        let replica = self.replicas[partition.index()].as_ref().expect("hosted");
        match &replica.role {
            Role::Leader(state) if state.maximal_isr().len() < min_isr => Err(KafkaError::NotEnoughReplicasAfterAppend),
            _ => Ok(base_offset),
        }
    }

    /// `Partition.appendRecordsToLeader` for one batch. Returns the base offset and the offset the high watermark
    /// must reach for the batch to count as committed.
    fn append_batch(
        &mut self,
        ctx: &mut Ctx,
        partition: PartitionIdx,
        acks: Acks,
        batch: ProduceBatch,
    ) -> Result<(u64, u64), KafkaError> {
        let me = self.id;
        let info = ctx.topo.partition(partition);
        let min_isr = info.effective_min_insync_replicas();
        let flush_messages = ctx.topo.partition(partition).flush_messages;
        let Some(replica) = self.replicas[partition.index()].as_mut() else {
            return Err(KafkaError::NotLeaderOrFollower);
        };
        let leader_epoch = replica.leader_epoch;
        let Role::Leader(state) = &mut replica.role else {
            return Err(KafkaError::NotLeaderOrFollower);
        };
        // acks=all with an ISR below min.insync.replicas is refused before anything is appended.
        if acks == Acks::All && state.isr.len() < min_isr {
            ctx.trace(TraceKind::ProduceRejected { broker: me, partition, error: KafkaError::NotEnoughReplicas });
            return Err(KafkaError::NotEnoughReplicas);
        }
        let count = batch.records.len() as i32;
        let (producer_id, producer_epoch) = split_producer_id(batch.producer_id);
        let last_sequence = batch.base_sequence + count - 1;
        if batch.producer_id != 0 {
            let entry = state.producers.get(&producer_id);
            match check_sequence(entry, producer_epoch, batch.base_sequence, last_sequence) {
                Ok(SequenceCheck::Append) => {}
                Ok(SequenceCheck::Duplicate(offset)) => {
                    ctx.trace(TraceKind::DuplicateBatch { broker: me, partition, base_offset: offset });
                    return Ok((offset, offset + count as u64));
                }
                Err(error) => {
                    ctx.trace(TraceKind::ProduceRejected { broker: me, partition, error });
                    return Err(error);
                }
            }
        }
        let base_offset = replica.log.log_end_offset();
        for (i, &record) in batch.records.iter().enumerate() {
            let sequence = if batch.producer_id != 0 { batch.base_sequence + i as i32 } else { -1 };
            replica.log.append(LogEntry::new(leader_epoch, record, batch.producer_id, sequence, i == 0));
        }
        replica.log.maybe_flush(flush_messages);
        if batch.producer_id != 0 {
            let entry = state.producers.entry(producer_id).or_default();
            entry.add_batch(producer_epoch, batch.base_sequence, last_sequence, base_offset);
        }
        ctx.trace(TraceKind::Appended { broker: me, partition, base_offset, records: count as u32, leader_epoch });
        self.after_leader_append(ctx, partition, base_offset);
        Ok((base_offset, base_offset + count as u64))
    }
}

/// Whether a follower's partition state belongs to `session` (the follower's current one).
fn in_session(session: &FetchSession, f: &FollowerState) -> bool {
    f.session_id != 0 && session.id == f.session_id
}

/// The session a follower's partition state belongs to, if it is still that follower's current one.
fn member_session<'a>(sessions: &'a mut [Option<FetchSession>], f: &FollowerState) -> Option<&'a mut FetchSession> {
    sessions.get_mut(f.broker.0 as usize).and_then(Option::as_mut).filter(|s| in_session(s, f))
}

/// When the session a follower's partition belongs to last fetched (`None` when it is in no current session).
fn session_fetch_time(sessions: &[Option<FetchSession>], f: &FollowerState) -> Option<Micros> {
    sessions.get(f.broker.0 as usize).and_then(Option::as_ref).filter(|s| in_session(s, f)).map(|s| s.last_fetch_time)
}

/// What a follower names for `replica` in a request to `leader`: its fetch position, if it fetches the partition
/// from that leader and is not backing off.
fn wanted_fetch_position(replica: &Replica, leader: BrokerId) -> Option<FetchPartition> {
    match replica.role {
        Role::Follower { leader: Some(l) } if l == leader && !replica.fetch_delayed => Some(FetchPartition {
            partition: replica.partition,
            fetch_offset: replica.log.log_end_offset(),
            last_fetched_epoch: replica.log.latest_epoch(),
            current_leader_epoch: replica.leader_epoch,
        }),
        _ => None,
    }
}

/// Answers a produce request. A partition answered NOT_LEADER_OR_FOLLOWER names the leader this broker's metadata
/// knows (KIP-951, `ReplicaManager.getCurrentLeader`).
fn send_produce_response(
    ctx: &mut Ctx,
    (producer, request_id): RequestKey,
    mut delayed: DelayedProduce,
    metadata: &[PartitionState],
) {
    let current_leaders = delayed
        .results
        .iter()
        .filter(|(_, r)| matches!(r, Some(Err(KafkaError::NotLeaderOrFollower))))
        .map(|(p, _)| (*p, metadata[p.index()].leader, metadata[p.index()].leader_epoch))
        .collect();
    let mut results = ctx.buffers.produce_results.take(delayed.results.len());
    results.extend(delayed.results.drain(..).map(|(p, r)| (p, r.expect("every partition answered"))));
    ctx.buffers.produce_outcomes.give(delayed.results);
    ctx.send(producer, Message::ProduceResponse { request_id, results, current_leaders });
}

/// What a consumer may read from `offset`: records below the high watermark, at most `CONSUMER_FETCH_MAX_RECORDS`.
fn committed_entries(log: &Log, offset: u64, high_watermark: u64) -> FetchedEntries {
    let end = (high_watermark as usize).min(offset as usize + CONSUMER_FETCH_MAX_RECORDS);
    let start = (offset as usize).min(end);
    // A consumer keeps what it fetched (it hands no vectors back), so there are no spares to draw on.
    copy_entries(log, start, end, &mut Pool::default())
}

/// Leader epoch fencing of a fetch (KIP-320): a stale `current_leader_epoch` is fenced, a newer one means
/// this replica has not yet heard of the new epoch.
fn fence_leader_epoch(current_leader_epoch: u32, replica_leader_epoch: u32) -> Result<(), KafkaError> {
    match current_leader_epoch.cmp(&replica_leader_epoch) {
        std::cmp::Ordering::Less => Err(KafkaError::FencedLeaderEpoch),
        std::cmp::Ordering::Greater => Err(KafkaError::UnknownLeaderEpoch),
        std::cmp::Ordering::Equal => Ok(()),
    }
}

/// `Partition.fetchRecords` -> `validateFetchOffsetAndMaybeGetDivergingEpoch` (KIP-320), for followers and
/// consumers alike: the fetcher's last epoch must end, in the leader's log, at or after the fetch offset; otherwise the
/// answer names the largest epoch both share and where it ends. An empty log cannot diverge.
///
/// An epoch the leader cannot place (newer than its cache) is OFFSET_OUT_OF_RANGE in Kafka ("Could not determine
/// the end offset of the last fetched epoch"); that answer is `Err`, and the fetcher resolves it against the leader's
/// log end offset.
fn diverging_epoch(log: &Log, last_fetched_epoch: Option<u32>, fetch_offset: u64) -> Result<Option<(u32, u64)>, ()> {
    let Some(last_epoch) = last_fetched_epoch.filter(|_| fetch_offset > 0) else { return Ok(None) };
    match log.end_offset_for_epoch(last_epoch) {
        Some((epoch, end)) if epoch < last_epoch || end < fetch_offset => Ok(Some((epoch, end))),
        Some(_) => Ok(None),
        None => Err(()),
    }
}

/// Reads records from `offset` up to `max_bytes` (at least one record, as Kafka always returns a whole batch).
fn read_entries(log: &Log, offset: u64, max_bytes: u64, spare: &mut Pool<LogEntry>) -> FetchedEntries {
    let max_records = (max_bytes / RECORD_BYTES_ESTIMATE).max(1) as usize;
    let start = offset as usize;
    copy_entries(log, start, start + max_records, spare)
}

/// The log's entries in `start..end` (clamped to its length).
///
/// Several entries go into a spare vector when there is one: the follower hands its answer's vectors back once it
/// has appended them, so the next answers write into memory still in the cache rather than into fresh allocations.
fn copy_entries(log: &Log, start: usize, end: usize, spare: &mut Pool<LogEntry>) -> FetchedEntries {
    let end = end.min(log.entries().len());
    if end == start + 1 {
        // Most answers carry one record.
        let entry = *log.entries().get(start).expect("below the log end");
        return smallvec::smallvec![entry];
    }
    let mut entries = spare.take(end.saturating_sub(start));
    log.entries().for_each_slice(start, end, |slice| entries.extend_from_slice(slice));
    FetchedEntries::from_vec(entries)
}

/// Rebuilds idempotent producers' last batches from the log, as a new leader does (`ProducerStateManager` loads its
/// state from the log's batches).
fn rebuild_producer_state(log: &Log) -> BTreeMap<u32, ProducerBatches> {
    let mut producers: BTreeMap<u32, ProducerBatches> = BTreeMap::new();
    let entries = log.entries();
    let mut index = 0;
    while index < entries.len() {
        let first = entries[index];
        let mut end = index + 1;
        while end < entries.len() && !entries[end].batch_start() {
            end += 1;
        }
        if first.producer_id != 0 {
            let last = entries[end - 1];
            let (producer_id, producer_epoch) = split_producer_id(first.producer_id);
            let entry = producers.entry(producer_id).or_default();
            entry.add_batch(producer_epoch, first.sequence, last.sequence, index as u64);
        }
        index = end;
    }
    producers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(producer_epoch: u32, batches: &[(i32, i32, u64)]) -> ProducerBatches {
        ProducerBatches { producer_epoch, batches: batches.iter().copied().collect() }
    }

    #[test]
    fn a_fetch_diverges_where_its_last_epoch_ends_in_the_leaders_log() {
        use crate::ids::RecordId;
        let mut log = Log::default();
        log.append(LogEntry::new(0, RecordId(0), 0, 0, true));
        log.append(LogEntry::new(0, RecordId(1), 0, 1, false));
        log.assign_epoch_start(2);
        log.append(LogEntry::new(2, RecordId(2), 0, 2, true));
        // No last epoch, or nothing fetched yet: nothing to check.
        assert_eq!(diverging_epoch(&log, None, 2), Ok(None));
        assert_eq!(diverging_epoch(&log, Some(0), 0), Ok(None));
        // Epoch 0 ends at 2 here: a follower at 2 is fine, one at 3 with epoch-0 records diverges there.
        assert_eq!(diverging_epoch(&log, Some(0), 2), Ok(None));
        assert_eq!(diverging_epoch(&log, Some(0), 3), Ok(Some((0, 2))));
        // Epoch 1 never led here: the answer is the largest epoch below it and where that ends.
        assert_eq!(diverging_epoch(&log, Some(1), 3), Ok(Some((0, 2))));
        assert_eq!(diverging_epoch(&log, Some(2), 3), Ok(None));
        // An epoch newer than the leader's cache cannot be placed: OFFSET_OUT_OF_RANGE.
        assert_eq!(diverging_epoch(&log, Some(3), 3), Err(()));
    }

    #[test]
    fn an_unknown_producer_may_start_at_any_sequence() {
        assert_eq!(check_sequence(None, 3, 17, 19), Ok(SequenceCheck::Append));
    }

    #[test]
    fn the_same_epoch_goes_on_from_the_last_sequence_or_repeats_a_recent_batch() {
        let known = entry(2, &[(0, 4, 10), (5, 9, 15)]);
        assert_eq!(check_sequence(Some(&known), 2, 10, 14), Ok(SequenceCheck::Append));
        assert_eq!(check_sequence(Some(&known), 2, 0, 4), Ok(SequenceCheck::Duplicate(10)));
        assert_eq!(check_sequence(Some(&known), 2, 15, 19), Err(KafkaError::OutOfOrderSequenceNumber));
    }

    #[test]
    fn an_older_epoch_is_fenced_even_when_its_batch_looks_like_a_duplicate() {
        let known = entry(2, &[(0, 4, 10)]);
        assert_eq!(check_sequence(Some(&known), 1, 5, 9), Err(KafkaError::InvalidProducerEpoch));
        assert_eq!(check_sequence(Some(&known), 1, 0, 4), Err(KafkaError::InvalidProducerEpoch));
    }

    #[test]
    fn a_newer_epoch_must_start_at_sequence_zero() {
        let known = entry(2, &[(0, 4, 10), (5, 9, 15)]);
        assert_eq!(check_sequence(Some(&known), 3, 0, 2), Ok(SequenceCheck::Append));
        // Sequence 10 would go on from the old epoch, but a new epoch starts over.
        assert_eq!(check_sequence(Some(&known), 3, 10, 12), Err(KafkaError::OutOfOrderSequenceNumber));
    }

    #[test]
    fn a_new_epoch_replaces_the_old_epochs_batches_in_the_producer_state() {
        let mut known = entry(2, &[(0, 4, 10), (5, 9, 15)]);
        known.add_batch(3, 0, 2, 20);
        assert_eq!(known.producer_epoch, 3);
        assert_eq!(known.batches, VecDeque::from([(0, 2, 20)]));
        for n in 1..=6 {
            known.add_batch(3, 3 * n, 3 * n + 2, 20 + 3 * n as u64);
        }
        assert_eq!(known.batches.len(), BATCHES_TO_RETAIN);
        assert_eq!(known.batches.front(), Some(&(6, 8, 26)));
    }

    #[test]
    fn a_rebuilt_producer_state_keys_producers_without_their_epoch() {
        let mut log = Log::default();
        let packed = |id: u32, epoch: u32| id | epoch << crate::log::PRODUCER_EPOCH_SHIFT;
        let mut offset = 0;
        let mut append = |log: &mut Log, producer: u32, sequences: std::ops::Range<i32>| {
            for (i, sequence) in sequences.enumerate() {
                log.append(LogEntry::new(1, crate::ids::RecordId(offset), producer, sequence, i == 0));
                offset += 1;
            }
        };
        append(&mut log, packed(1000, 0), 0..3);
        append(&mut log, packed(1001, 0), 0..2);
        append(&mut log, packed(1000, 1), 0..2);
        let producers = rebuild_producer_state(&log);
        assert_eq!(producers.keys().copied().collect::<Vec<_>>(), vec![1000, 1001]);
        assert_eq!(producers[&1000].producer_epoch, 1);
        assert_eq!(producers[&1000].batches, VecDeque::from([(0, 1, 5)]));
        assert_eq!(producers[&1001].batches, VecDeque::from([(0, 1, 3)]));
    }
}
