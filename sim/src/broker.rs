//! A broker: its replicas, the leader's side of replication (fetch handling, high watermark, ISR proposals,
//! produce handling) and the follower's side (fetching, truncation by diverging epoch).
//!
//! The rules follow Kafka's `Partition.scala`, `ReplicaManager.scala` and `AbstractFetcherThread.scala`; each is
//! cited where it is modelled.

use crate::config::Acks;
use crate::ctx::{Ctx, Timer};
use crate::deadlines::DeadlineSet;
use crate::ids::{BrokerId, NodeId, PartitionIdx, CONTROLLER};
use crate::log::{Log, LogEntry};
use crate::message::{BrokerSet, FetchResult, KafkaError, Message, MetadataUpdate, PartitionState, ProduceBatch};
use crate::time::Micros;
use crate::trace::TraceKind;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Kafka keeps the metadata of the last 5 batches per producer (`ProducerStateEntry.NUM_BATCHES_TO_RETAIN`).
const BATCHES_TO_RETAIN: usize = 5;

/// An estimate of a record's size on the wire, for `replica.fetch.max.bytes`.
const RECORD_BYTES_ESTIMATE: u64 = 64;

/// What the leader knows of one follower (Kafka's `Replica` / `ReplicaState`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FollowerState {
    pub broker: BrokerId,
    /// The follower's log end offset, learnt from its last fetch offset; `None` until it fetches from this leader.
    pub log_end_offset: Option<u64>,
    pub last_caught_up_time: Micros,
    pub last_fetch_time: Micros,
    pub last_fetch_leader_log_end_offset: u64,
}

/// A proposed ISR change sent to the controller and not answered yet (`PendingExpandIsr` / `PendingShrinkIsr`).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct PendingIsr {
    pub proposed: BrokerSet,
    pub sent_at: Micros,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ParkedFetch {
    pub follower: BrokerId,
    pub fetch_id: u64,
    pub fetch_offset: u64,
    pub deadline: Micros,
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

/// The last batches of one idempotent producer (`ProducerStateEntry`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ProducerBatches {
    /// `(first sequence, last sequence, base offset)`, oldest first.
    pub batches: VecDeque<(i32, i32, u64)>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LeaderState {
    /// The ISR as the controller last confirmed it.
    pub isr: BrokerSet,
    pub pending_isr: Option<PendingIsr>,
    pub followers: Vec<FollowerState>,
    /// The log end offset when this replica became leader: a follower must reach it to join the ISR.
    pub epoch_start_offset: u64,
    pub parked_fetches: Vec<ParkedFetch>,
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
        fetch_in_flight: Option<u64>,
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
    /// When the fetch in flight gives up (`replica.socket.timeout.ms`), and whether a timer watches for it.
    pub fetch_deadline: Micros,
    pub fetch_timer_armed: bool,
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
    /// False after a restart until the controller accepts this incarnation's registration.
    pub registered: bool,
    next_fetch_id: u64,
    /// acks=all requests waiting for the high watermark, and their deadlines.
    delayed_produces: BTreeMap<RequestKey, DelayedProduce>,
    produce_deadlines: DeadlineSet<RequestKey>,
    produce_timer_at: Option<Micros>,
    /// Fetches held for `replica.fetch.wait.max.ms`, by deadline.
    fetch_deadlines: DeadlineSet<(PartitionIdx, u64)>,
    fetch_timer_at: Option<Micros>,
    /// Held consumer fetches, by deadline.
    consumer_fetch_deadlines: DeadlineSet<(PartitionIdx, u64)>,
    consumer_fetch_timer_at: Option<Micros>,
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
                    fetch_deadline: 0,
                    fetch_timer_armed: false,
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
            registered: true,
            next_fetch_id: 0,
            delayed_produces: BTreeMap::new(),
            produce_deadlines: DeadlineSet::new(),
            produce_timer_at: None,
            fetch_deadlines: DeadlineSet::new(),
            fetch_timer_at: None,
            consumer_fetch_deadlines: DeadlineSet::new(),
            consumer_fetch_timer_at: None,
            groups: BTreeMap::new(),
        }
    }

    /// Starts (or restarts) the broker process: roles are forgotten until metadata arrives, logs are kept.
    pub fn start(&mut self, ctx: &mut Ctx, fresh_metadata: bool) {
        self.want_shutdown = false;
        self.delayed_produces.clear();
        self.produce_deadlines.clear();
        self.produce_timer_at = None;
        self.fetch_deadlines.clear();
        self.fetch_timer_at = None;
        self.consumer_fetch_deadlines.clear();
        self.consumer_fetch_timer_at = None;
        self.groups.clear();
        for replica in self.replicas.iter_mut().flatten() {
            replica.role = Role::None;
            replica.fetch_timer_armed = false;
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
        ctx.timer_after(ctx.config().broker_heartbeat_interval, Timer::BrokerHeartbeat);
    }

    /// Controlled shutdown (KIP-631): ask the controller to move leadership away, then stop.
    pub fn begin_controlled_shutdown(&mut self, ctx: &mut Ctx) {
        self.want_shutdown = true;
        ctx.trace(TraceKind::ShutdownRequested { broker: self.id });
        self.send_heartbeat(ctx);
        ctx.timer_after(ctx.config().broker_session_timeout, Timer::ControlledShutdownTimeout);
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx, timer: Timer) {
        match timer {
            Timer::BrokerHeartbeat => self.send_heartbeat(ctx),
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
            Timer::FetchTimeout { partition } => {
                let Some(replica) = self.replicas[partition.index()].as_mut() else { return };
                replica.fetch_timer_armed = false;
                let deadline = replica.fetch_deadline;
                if let Role::Follower { fetch_in_flight: fetch_in_flight @ Some(_), .. } = &mut replica.role {
                    if ctx.now >= deadline {
                        *fetch_in_flight = None;
                        self.send_fetch(ctx, partition);
                    } else {
                        replica.fetch_timer_armed = true;
                        ctx.out.timers.push((deadline, Timer::FetchTimeout { partition }));
                    }
                }
            }
            Timer::FetchBackoff { partition } => self.send_fetch(ctx, partition),
            Timer::FetchWaitExpired { at } if self.fetch_timer_at == Some(at) => {
                self.fetch_timer_at = None;
                while let Some((deadline, (partition, fetch_id))) = self.fetch_deadlines.first() {
                    if deadline > ctx.now {
                        break;
                    }
                    self.expire_parked_fetch(ctx, partition, fetch_id);
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
                        send_produce_response(ctx, key, delayed);
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
            timer @ (Timer::RebalanceDeadline { .. } | Timer::MemberSession { .. }) => self.on_group_timer(ctx, timer),
            Timer::FetchWaitExpired { .. } | Timer::ProduceTimeout { .. } | Timer::ConsumerFetchWait { .. } => {}
            Timer::IsrCheck { partition, leader_epoch } => self.isr_check(ctx, partition, leader_epoch),
            other => debug_assert!(false, "broker got a timer it never sets: {other:?}"),
        }
    }

    pub fn on_message(&mut self, ctx: &mut Ctx, from: NodeId, message: Message) {
        match message {
            Message::Produce { request_id, acks, timeout, batches } => {
                self.handle_produce(ctx, (from, request_id), acks, timeout, batches)
            }
            Message::Fetch { fetch_id, partition, replica, fetch_offset, last_fetched_epoch, current_leader_epoch } => {
                self.handle_fetch(
                    ctx,
                    fetch_id,
                    partition,
                    replica,
                    fetch_offset,
                    last_fetched_epoch,
                    current_leader_epoch,
                )
            }
            Message::FetchResponse { fetch_id, partition, result } => {
                self.handle_fetch_response(ctx, fetch_id, partition, result)
            }
            Message::BrokerHeartbeatResponse { registered, fenced: _, update, shutdown_ok } => {
                if !registered {
                    return; // Refused: the old incarnation's session is still alive. Keep heartbeating.
                }
                self.registered = true;
                self.apply_metadata(ctx, &update, false);
                if shutdown_ok && self.want_shutdown {
                    ctx.out.stop_self = true;
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
            message @ (Message::FindCoordinator { .. }
            | Message::JoinGroup { .. }
            | Message::SyncGroup { .. }
            | Message::Heartbeat { .. }
            | Message::LeaveGroup { .. }
            | Message::OffsetCommit { .. }
            | Message::OffsetFetch { .. }) => self.handle_group_message(ctx, from, message),
            Message::MetadataRequest { request_id } => {
                let leaders = self.metadata.iter().map(|s| (s.leader, s.leader_epoch)).collect();
                ctx.send(from, Message::MetadataResponse { request_id, leaders });
            }
            other => debug_assert!(false, "broker got a message it never expects: {:?}", other.kind()),
        }
    }

    /// A peer's process died: fetches in flight to it fail at once, as a broken connection does.
    pub fn on_peer_disconnected(&mut self, ctx: &mut Ctx, peer: BrokerId) {
        for index in 0..self.replicas.len() {
            if let Some(Replica { role: Role::Follower { leader: Some(leader), fetch_in_flight }, .. }) =
                self.replicas[index].as_mut()
            {
                if *leader == peer && fetch_in_flight.is_some() {
                    *fetch_in_flight = None;
                    ctx.timer_after(
                        ctx.config().replica_fetch_backoff,
                        Timer::FetchBackoff { partition: PartitionIdx(index as u32) },
                    );
                }
            }
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
                last_caught_up_time: if state.isr.contains(b) { now } else { 0 },
                last_fetch_time: 0,
                last_fetch_leader_log_end_offset: 0,
            })
            .collect();
        let producers = rebuild_producer_state(&replica.log);
        replica.role = Role::Leader(Box::new(LeaderState {
            isr: state.isr,
            pending_isr: None,
            followers,
            epoch_start_offset: log_end_offset,
            parked_fetches: Vec::new(),
            waiting_produces: VecDeque::new(),
            producers,
            waiting_commits: VecDeque::new(),
            parked_consumer_fetches: Vec::new(),
        }));
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
        let old = std::mem::replace(&mut replica.role, Role::Follower { leader: state.leader, fetch_in_flight: None });
        if let Role::Leader(leader) = old {
            for waiting in leader.waiting_produces {
                self.complete_waiting(ctx, &waiting, partition, Err(KafkaError::NotLeaderOrFollower));
            }
            for commit in leader.waiting_commits {
                let result = Err(KafkaError::NotCoordinator);
                ctx.send(commit.node, Message::OffsetCommitResponse { request_id: commit.request_id, result });
            }
            for parked in leader.parked_consumer_fetches {
                self.consumer_fetch_deadlines.remove(parked.deadline, (partition, parked.fetch_id));
                let result = FetchResult::Error(KafkaError::NotLeaderOrFollower);
                ctx.send(parked.node, Message::ConsumerFetchResponse { fetch_id: parked.fetch_id, partition, result });
            }
            for parked in leader.parked_fetches {
                self.fetch_deadlines.remove(parked.deadline, (partition, parked.fetch_id));
                ctx.send(
                    parked.follower.node(),
                    Message::FetchResponse {
                        fetch_id: parked.fetch_id,
                        partition,
                        result: FetchResult::Error(KafkaError::NotLeaderOrFollower),
                    },
                );
            }
        }
        self.unload_groups(ctx, partition);
        ctx.trace(TraceKind::BecameFollower {
            broker: me,
            partition,
            leader: state.leader,
            leader_epoch: state.leader_epoch,
        });
        self.send_fetch(ctx, partition);
    }

    // ----- Follower side -----

    fn send_fetch(&mut self, ctx: &mut Ctx, partition: PartitionIdx) {
        let me = self.id;
        let Some(replica) = self.replicas[partition.index()].as_mut() else {
            return;
        };
        let Role::Follower { leader: Some(leader), fetch_in_flight } = &mut replica.role else {
            return;
        };
        if fetch_in_flight.is_some() || *leader == me {
            return;
        }
        self.next_fetch_id += 1;
        let fetch_id = self.next_fetch_id;
        *fetch_in_flight = Some(fetch_id);
        let leader = *leader;
        ctx.send(
            leader.node(),
            Message::Fetch {
                fetch_id,
                partition,
                replica: me,
                fetch_offset: replica.log.log_end_offset(),
                last_fetched_epoch: replica.log.latest_epoch(),
                current_leader_epoch: replica.leader_epoch,
            },
        );
        // One timeout timer per partition at a time: most fetches are answered long before it fires.
        replica.fetch_deadline = ctx.now + ctx.config().replica_socket_timeout;
        if !replica.fetch_timer_armed {
            replica.fetch_timer_armed = true;
            ctx.out.timers.push((replica.fetch_deadline, Timer::FetchTimeout { partition }));
        }
    }

    fn handle_fetch_response(&mut self, ctx: &mut Ctx, fetch_id: u64, partition: PartitionIdx, result: FetchResult) {
        let me = self.id;
        let Some(replica) = self.replicas[partition.index()].as_mut() else {
            return;
        };
        match &mut replica.role {
            Role::Follower { fetch_in_flight, .. } if *fetch_in_flight == Some(fetch_id) => *fetch_in_flight = None,
            _ => return, // A stale answer: we fetch elsewhere now, or lead.
        }
        match result {
            FetchResult::Records { entries, high_watermark } => {
                let base_offset = replica.log.log_end_offset();
                let count = entries.len() as u32;
                let flush_messages = ctx.topo.partition(partition).flush_messages;
                for entry in entries {
                    replica.log.append(entry);
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
                self.send_fetch(ctx, partition);
            }
            FetchResult::Diverging { leader_epoch, end_offset, high_watermark } => {
                // KIP-320: truncate to the end of the largest epoch both logs share; if this log lacks that exact
                // epoch, the next fetch (with the new last epoch) narrows it down further.
                let own_end = replica.log.end_offset_for_epoch(leader_epoch).map(|(_, end)| end).unwrap_or(0);
                let target = end_offset.min(own_end).min(replica.log.log_end_offset());
                let from_offset = replica.log.log_end_offset();
                replica.log.truncate_to(target);
                if target < from_offset {
                    ctx.trace(TraceKind::Truncated { broker: me, partition, from_offset, to_offset: target });
                }
                // A diverging response's HW is not applied (the follower's HW only comes down with its log).
                let _ = high_watermark;
                replica.high_watermark = replica.high_watermark.min(replica.log.log_end_offset());
                self.send_fetch(ctx, partition);
            }
            FetchResult::Error(_) => {
                ctx.timer_after(ctx.config().replica_fetch_backoff, Timer::FetchBackoff { partition });
            }
        }
    }

    // ----- Leader side: fetches -----

    #[allow(clippy::too_many_arguments)]
    fn handle_fetch(
        &mut self,
        ctx: &mut Ctx,
        fetch_id: u64,
        partition: PartitionIdx,
        follower: BrokerId,
        fetch_offset: u64,
        last_fetched_epoch: Option<u32>,
        current_leader_epoch: u32,
    ) {
        let now = ctx.now;
        let reply = |ctx: &mut Ctx, result: FetchResult| {
            ctx.send(follower.node(), Message::FetchResponse { fetch_id, partition, result });
        };
        let Some(replica) = self.replicas[partition.index()].as_mut() else {
            return reply(ctx, FetchResult::Error(KafkaError::NotLeaderOrFollower));
        };
        if let Err(error) = fence_leader_epoch(current_leader_epoch, replica.leader_epoch) {
            return reply(ctx, FetchResult::Error(error));
        }
        let leader_epoch = replica.leader_epoch;
        let log_end_offset = replica.log.log_end_offset();
        let high_watermark = replica.high_watermark;
        let Role::Leader(state) = &mut replica.role else {
            return reply(ctx, FetchResult::Error(KafkaError::NotLeaderOrFollower));
        };
        // Divergence (Partition.fetchRecords -> validateFetchOffsetAndMaybeGetDivergingEpoch): the follower's last
        // epoch must end, in the leader's log, at or after the fetch offset. An empty log cannot diverge.
        if let Some((epoch, end_offset)) = diverging_epoch(&replica.log, last_fetched_epoch, fetch_offset) {
            return reply(ctx, FetchResult::Diverging { leader_epoch: epoch, end_offset, high_watermark });
        }
        if fetch_offset > log_end_offset {
            // OFFSET_OUT_OF_RANGE in Kafka; the follower resolves it by truncating to the leader's end.
            return reply(ctx, FetchResult::Diverging { leader_epoch, end_offset: log_end_offset, high_watermark });
        }
        // updateFollowerFetchState: the fetch offset is the follower's LEO; lastCaughtUpTime moves when the follower
        // reached the leader's LEO now, or the LEO the leader had at its previous fetch.
        if let Some(f) = state.follower_mut(follower) {
            if fetch_offset >= log_end_offset {
                f.last_caught_up_time = f.last_caught_up_time.max(now);
            } else if fetch_offset >= f.last_fetch_leader_log_end_offset {
                f.last_caught_up_time = f.last_caught_up_time.max(f.last_fetch_time);
            }
            f.log_end_offset = Some(fetch_offset);
            f.last_fetch_leader_log_end_offset = log_end_offset;
            f.last_fetch_time = now;
        }
        self.maybe_expand_isr(ctx, partition, follower);
        self.maybe_increment_high_watermark(ctx, partition);
        let replica = self.replicas[partition.index()].as_mut().expect("hosted");
        // Partition.readRecords answers with the HW read before this fetch updated the follower's state
        // (initialHighWatermark): a follower learns the advance its own fetch caused one round later.
        if fetch_offset < log_end_offset {
            let entries = read_entries(&replica.log, fetch_offset, ctx.config().replica_fetch_max_bytes);
            reply(ctx, FetchResult::Records { entries, high_watermark });
        } else if let Role::Leader(state) = &mut replica.role {
            // Nothing new: hold the fetch until data arrives or replica.fetch.wait.max.ms passes (DelayedFetch).
            let deadline = now + ctx.config().replica_fetch_wait_max;
            if let Some(index) = state.parked_fetches.iter().position(|p| p.follower == follower) {
                let old = state.parked_fetches.swap_remove(index);
                self.fetch_deadlines.remove(old.deadline, (partition, old.fetch_id));
            }
            state.parked_fetches.push(ParkedFetch { follower, fetch_id, fetch_offset, deadline });
            self.fetch_deadlines.insert(deadline, (partition, fetch_id));
            self.arm_fetch_timer(ctx);
        }
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

    fn expire_parked_fetch(&mut self, ctx: &mut Ctx, partition: PartitionIdx, fetch_id: u64) {
        let Some(replica) = self.replicas[partition.index()].as_mut() else {
            return;
        };
        let high_watermark = replica.high_watermark;
        let Role::Leader(state) = &mut replica.role else {
            return;
        };
        if let Some(index) = state.parked_fetches.iter().position(|p| p.fetch_id == fetch_id) {
            let parked = state.parked_fetches.swap_remove(index);
            self.fetch_deadlines.remove(parked.deadline, (partition, fetch_id));
            ctx.send(
                parked.follower.node(),
                Message::FetchResponse {
                    fetch_id,
                    partition,
                    result: FetchResult::Records { entries: Vec::new(), high_watermark },
                },
            );
        }
    }

    /// New data at the leader completes every held fetch (DelayedFetch.tryComplete).
    fn complete_parked_fetches(&mut self, ctx: &mut Ctx, partition: PartitionIdx) {
        let replica = self.replicas[partition.index()].as_mut().expect("hosted");
        let Role::Leader(state) = &mut replica.role else {
            return;
        };
        if state.parked_fetches.is_empty() {
            return;
        }
        for parked in std::mem::take(&mut state.parked_fetches) {
            self.fetch_deadlines.remove(parked.deadline, (partition, parked.fetch_id));
            let entries = read_entries(&replica.log, parked.fetch_offset, ctx.config().replica_fetch_max_bytes);
            ctx.send(
                parked.follower.node(),
                Message::FetchResponse {
                    fetch_id: parked.fetch_id,
                    partition,
                    result: FetchResult::Records { entries, high_watermark: replica.high_watermark },
                },
            );
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
        let maximal_isr = state.maximal_isr();
        let info = ctx.topo.partition(partition);
        // KAFKA-15583 (Kafka 3.7+): while the ISR is smaller than min.insync.replicas (capped at the replica count),
        // the HW does not move, so nothing becomes visible to consumers that fewer replicas than promised hold.
        let effective_min_isr = (info.min_insync_replicas as usize).min(info.replicas.len());
        let mut new_hw = log_end_offset;
        if state.isr.len() < effective_min_isr {
            new_hw = replica.high_watermark;
        }
        for f in &state.followers {
            let follower_leo = f.log_end_offset.unwrap_or(0);
            let caught_up = follower_leo == log_end_offset || now.saturating_sub(f.last_caught_up_time) <= lag_max;
            let eligible = !fenced.contains(f.broker);
            if follower_leo < new_hw
                && (maximal_isr.contains(f.broker) || (caught_up && eligible && f.log_end_offset.is_some()))
            {
                new_hw = follower_leo;
            }
        }
        let hw_moved = new_hw > replica.high_watermark;
        if hw_moved {
            replica.high_watermark = new_hw;
            ctx.trace(TraceKind::HighWatermark { broker: me, partition, high_watermark: new_hw });
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

    /// New records at the leader: answer held follower fetches and see whether the HW moves.
    pub(crate) fn after_leader_append(&mut self, ctx: &mut Ctx, partition: PartitionIdx) {
        self.complete_parked_fetches(ctx, partition);
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
        if let Some((epoch, end_offset)) = diverging_epoch(&replica.log, last_fetched_epoch, offset) {
            return reply(ctx, FetchResult::Diverging { leader_epoch: epoch, end_offset, high_watermark });
        }
        if offset > replica.log.log_end_offset() {
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
            send_produce_response(ctx, waiting.request, delayed);
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
                && f.log_end_offset != Some(log_end_offset)
                && now.saturating_sub(f.last_caught_up_time) > lag_max
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
        self.maybe_increment_high_watermark(ctx, partition);
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
        batches: Vec<(PartitionIdx, ProduceBatch)>,
    ) {
        let mut results: Vec<(PartitionIdx, Option<Result<u64, KafkaError>>)> = Vec::with_capacity(batches.len());
        let mut waits: Vec<(usize, u64, u64)> =
            if acks == Acks::All { Vec::with_capacity(batches.len()) } else { Vec::new() };
        for (slot, (partition, batch)) in batches.into_iter().enumerate() {
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
        if acks == Acks::None {
            return;
        }
        if waits.is_empty() {
            let delayed = DelayedProduce { deadline: 0, remaining: 0, results };
            return send_produce_response(ctx, request, delayed);
        }
        for &(slot, base_offset, required_offset) in &waits {
            let partition = results[slot].0;
            if let Some(Replica { role: Role::Leader(state), .. }) = self.replicas[partition.index()].as_mut() {
                state.waiting_produces.push_back(WaitingProduce { request, slot, required_offset, base_offset });
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
        let min_isr = (info.min_insync_replicas as usize).min(info.replicas.len());
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
        let min_isr = (info.min_insync_replicas as usize).min(info.replicas.len());
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
        if batch.producer_id != 0 {
            // ProducerStateManager: a batch seen before is answered with its original offset and not appended; a
            // sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER.
            let last_sequence = batch.base_sequence + count - 1;
            if let Some(entry) = state.producers.get(&batch.producer_id) {
                if let Some(&(_, _, offset)) = entry
                    .batches
                    .iter()
                    .find(|(first, last, _)| *first == batch.base_sequence && *last == last_sequence)
                {
                    ctx.trace(TraceKind::DuplicateBatch { broker: me, partition, base_offset: offset });
                    return Ok((offset, offset + count as u64));
                }
                let expected = entry.batches.back().map(|(_, last, _)| last + 1).unwrap_or(0);
                if batch.base_sequence != expected {
                    let error = KafkaError::OutOfOrderSequenceNumber;
                    ctx.trace(TraceKind::ProduceRejected { broker: me, partition, error });
                    return Err(error);
                }
            }
        }
        let base_offset = replica.log.log_end_offset();
        for (i, &record) in batch.records.iter().enumerate() {
            replica.log.append(LogEntry {
                leader_epoch,
                record,
                producer_id: batch.producer_id,
                sequence: if batch.producer_id != 0 { batch.base_sequence + i as i32 } else { -1 },
                batch_start: i == 0,
                internal: false,
            });
        }
        replica.log.maybe_flush(flush_messages);
        if batch.producer_id != 0 {
            let entry = state.producers.entry(batch.producer_id).or_default();
            entry.batches.push_back((batch.base_sequence, batch.base_sequence + count - 1, base_offset));
            if entry.batches.len() > BATCHES_TO_RETAIN {
                entry.batches.pop_front();
            }
        }
        ctx.trace(TraceKind::Appended { broker: me, partition, base_offset, records: count as u32, leader_epoch });
        self.after_leader_append(ctx, partition);
        Ok((base_offset, base_offset + count as u64))
    }
}

fn send_produce_response(ctx: &mut Ctx, (producer, request_id): RequestKey, delayed: DelayedProduce) {
    let results = delayed.results.into_iter().map(|(p, r)| (p, r.expect("every partition answered"))).collect();
    ctx.send(producer, Message::ProduceResponse { request_id, results });
}

/// What a consumer may read from `offset`: records below the high watermark, at most `CONSUMER_FETCH_MAX_RECORDS`.
fn committed_entries(log: &Log, offset: u64, high_watermark: u64) -> Vec<LogEntry> {
    let end = (high_watermark as usize).min(offset as usize + CONSUMER_FETCH_MAX_RECORDS);
    let start = (offset as usize).min(end);
    log.entries().to_vec(start, end)
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
fn diverging_epoch(log: &Log, last_fetched_epoch: Option<u32>, fetch_offset: u64) -> Option<(u32, u64)> {
    let last_epoch = last_fetched_epoch.filter(|_| fetch_offset > 0)?;
    match log.end_offset_for_epoch(last_epoch) {
        Some((epoch, end)) if epoch < last_epoch || end < fetch_offset => Some((epoch, end)),
        Some(_) => None,
        None => Some((0, 0)),
    }
}

/// Reads records from `offset` up to `max_bytes` (at least one record, as Kafka always returns a whole batch).
fn read_entries(log: &Log, offset: u64, max_bytes: u64) -> Vec<LogEntry> {
    let max_records = (max_bytes / RECORD_BYTES_ESTIMATE).max(1) as usize;
    let start = offset as usize;
    log.entries().to_vec(start, start + max_records)
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
        while end < entries.len() && !entries[end].batch_start {
            end += 1;
        }
        if first.producer_id != 0 {
            let last = entries[end - 1];
            let batches = &mut producers.entry(first.producer_id).or_default().batches;
            batches.push_back((first.sequence, last.sequence, index as u64));
            if batches.len() > BATCHES_TO_RETAIN {
                batches.pop_front();
            }
        }
        index = end;
    }
    producers
}
