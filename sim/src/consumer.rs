//! A Kafka consumer client in a group: finding the coordinator, joining and syncing (running the assignor when it
//! leads), heartbeats, fetching from partition leaders below the high watermark, the poll loop with per-record
//! processing time, and the commit modes that make at-most-once or at-least-once.
//!
//! The rules follow Kafka's `KafkaConsumer`, `ConsumerCoordinator`, `AbstractCoordinator` and `Fetcher`.

use crate::assignor::{assign, MemberSubscription};
use crate::config::{CommitMode, ConsumerConfig, OffsetReset};
use crate::ctx::{Ctx, Timer};
use crate::ids::{BrokerId, NodeId, PartitionIdx, RecordId};
use crate::log::LogEntry;
use crate::message::{BrokerSet, FetchResult, JoinRequest, JoinResult, KafkaError, MemberId, Message};
use crate::scenario::ConsumerDef;
use crate::time::Micros;
use crate::trace::TraceKind;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// One record a consumer processed: the raw material of the consumer-side delivery checker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Processed {
    pub consumer: u32,
    pub group: u32,
    pub partition: PartitionIdx,
    pub offset: u64,
    pub record: RecordId,
    pub generation: u32,
    pub at: Micros,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberState {
    /// Not started, crashed or closed.
    Stopped,
    FindingCoordinator,
    Joining,
    Syncing,
    Stable,
}

/// What the consumer knows of one assigned partition.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PartitionState {
    /// The next offset to hand to the application (`position`); `None` until fetched or reset.
    pub position: Option<u64>,
    /// The leader epoch of the last record returned, for divergence checks (KIP-320).
    pub last_epoch: Option<u32>,
    pub fetch_in_flight: Option<u64>,
    /// The offset the fetch in flight asked for: its records start there.
    pub fetch_offset: u64,
    /// Where the fetch in flight went and when it was sent.
    pub fetch_broker: BrokerId,
    pub fetch_sent_at: Micros,
    /// Fetched records not yet polled, with their offsets.
    pub buffer: VecDeque<(u64, LogEntry)>,
    /// The high watermark from the last fetch response (the LOG-END-OFFSET `kafka-consumer-groups` shows).
    pub high_watermark: u64,
    /// A fetch waits for its leader's reconnect backoff to pass, and a timer will try it then.
    #[serde(default)]
    pub fetch_waits_for_node: bool,
    /// KIP-320: the partition's leader epoch changed, so the position must be validated against the new leader's log
    /// (`SubscriptionState` is `AWAIT_VALIDATION`) before it is fetched from again.
    #[serde(default)]
    pub awaiting_validation: bool,
    /// The `OffsetsForLeaderEpoch` request in flight for that validation.
    #[serde(default)]
    pub validation_request: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Consumer {
    pub index: u32,
    pub node: NodeId,
    pub name: String,
    pub group: u32,
    pub topics: Vec<u32>,
    pub config: ConsumerConfig,
    pub commit: CommitMode,
    pub processing: Micros,
    pub state: MemberState,
    pub coordinator: Option<BrokerId>,
    pub member_id: Option<MemberId>,
    pub generation: u32,
    pub assigned: BTreeMap<PartitionIdx, PartitionState>,
    leaders: Vec<(Option<BrokerId>, u32)>,
    next_request: u64,
    /// Records handed out by the current poll, being processed one by one.
    processing_queue: VecDeque<(PartitionIdx, u64, LogEntry)>,
    busy: bool,
    /// When the heartbeat timer fires next, and the one-off deadline timer armed before it, if any.
    next_heartbeat_at: Micros,
    deadline_armed: Option<Micros>,
    last_poll: Micros,
    last_auto_commit: Micros,
    /// Positions as of the previous poll: what auto-commit commits (the records that poll returned are done).
    committable: BTreeMap<PartitionIdx, u64>,
    /// The application's `commitSync()` in progress: it blocks the poll loop until it succeeds, fails with a
    /// non-retriable error, or reaches `default.api.timeout.ms`.
    pub commit_sync: Option<CommitSync>,
    /// The OffsetCommit request of that commitSync's current try, while it waits for its answer.
    pub commit_in_flight: Option<u64>,
    /// Numbers the commitSync calls and the rejoins' commits, so that timers of a finished one are ignored.
    commit_calls: u64,
    /// After the poll: process (commit-before-processing waits for its commit first).
    process_after_commit: bool,
    /// Poll attempts to rejoin after an unexpected LeaveGroup from a poll timeout.
    pub poll_timeout_left: bool,
    /// The largest offset polled per partition in this generation, for the skip / non-monotonic checks.
    last_polled: BTreeMap<PartitionIdx, u64>,
    pub skips: u64,
    pub nonmonotonic: u64,
    pub commits_failed: u64,
    pub incarnation: u32,
    poll_token: u64,
    /// The group needs this member to (re)join: done at the next poll, never in the middle of processing, as in
    /// Kafka where rebalance callbacks run inside `poll()`.
    rejoin_needed: bool,
    /// The member was fenced out: its partitions are lost (not committed) at the next poll.
    partitions_lost: bool,
    /// A SyncGroup answer to apply at the next poll.
    pending_sync: Option<(u32, Vec<PartitionIdx>)>,
    /// The commit of a revocation in flight (its request id), which the JoinGroup waits for.
    revoke_commit: Option<u64>,
    /// The eager rejoin's commit, from its first try until it succeeds or is given up (also between tries).
    revocation: Option<CommitSync>,
    /// Looking for the coordinator only because the old one went away: resume without rejoining.
    resume_after_find: bool,
    /// The last answer from the coordinator (heartbeat, join, sync or commit).
    last_coordinator_answer: Micros,
    /// When the last heartbeat failed (the coordinator's connection broke, or it is not the coordinator): the next
    /// one goes out `retry.backoff.ms` after that (`Heartbeat.failHeartbeat`), once a coordinator is known again,
    /// instead of a whole `heartbeat.interval.ms` later. `None` after a heartbeat was answered.
    #[serde(default)]
    heartbeat_failed_at: Option<Micros>,
    /// When the pending commit, and the pending JoinGroup or SyncGroup, were sent (for `request.timeout.ms`).
    commit_sent_at: Micros,
    /// The JoinGroup or SyncGroup in flight (its request id), and when it is given up (its request timeout). An
    /// answer to one given up is ignored: its connection was closed.
    rebalance_request: Option<u64>,
    rebalance_deadline: Micros,
    /// The FindCoordinator request in flight and when it was sent: one lookup at a time
    /// (`AbstractCoordinator.lookupCoordinator` returns the pending one).
    lookup_in_flight: Option<(u64, Micros)>,
    /// Lookups in a row that found no coordinator, or one that could not be reached, for the next one's backoff.
    lookup_failures: u32,
    /// The latest lookup's request id and send time, and the wait before the next one.
    last_lookup: u64,
    last_lookup_sent: Micros,
    lookup_backoff: Micros,
    /// The jitter of retry backoffs.
    rng: ChaCha8Rng,
    /// The coordinator was marked unknown and no lookup has named one since (`coordinatorUnknown()`).
    coordinator_unknown: bool,
    /// Commits in flight with the generation they were sent in: a late group error from an older generation does
    /// not reset the member again (`generationUnchanged()`). Bounded: the oldest are forgotten.
    commits_in_flight: VecDeque<(u64, u32)>,
    /// Tries of a commitSync that were given up (timed out, or the call ended): their late answers are ignored, as a
    /// closed connection's would be.
    abandoned_commits: VecDeque<u64>,
    /// The brokers the latest metadata listed (empty until a metadata answer): lookups and metadata requests go to
    /// these (`leastLoadedNode` picks among the metadata's brokers).
    live_brokers: BrokerSet,
    /// Since when a poll has waited for the coordinator while this member owns partitions: `ensureCoordinatorReady`
    /// blocks the poll for its timeout before the poll returns what was fetched.
    waiting_for_coordinator_since: Option<Micros>,
    /// Per broker (indexed by broker id): connections that failed in a row, and until when the node is left alone
    /// (`ClusterConnectionStates`: `reconnect.backoff.ms` doubling to `reconnect.backoff.max.ms`, KIP-144). Nothing
    /// is sent to a node in backoff (`NetworkClient.isUnavailable`), and `leastLoadedNode` passes it over.
    #[serde(default)]
    node_failures: Vec<u32>,
    #[serde(default)]
    node_backoff_until: Vec<Micros>,
    /// The same for the coordinator connections, which are separate from the brokers' ordinary ones (Kafka gives the
    /// coordinator the connection id `Integer.MAX_VALUE - nodeId`, `AbstractCoordinator`'s FindCoordinator handler).
    #[serde(default)]
    coordinator_failures: Vec<u32>,
    #[serde(default)]
    coordinator_backoff_until: Vec<Micros>,
    /// The metadata request in flight: its id, the broker asked and when (`Metadata` keeps one refresh at a time).
    #[serde(default)]
    metadata_in_flight: Option<(u64, BrokerId, Micros)>,
    /// A refresh was asked for while one was in flight or not yet allowed: it goes out when it may.
    #[serde(default)]
    metadata_wanted: bool,
    /// `Metadata.timeToAllowUpdate`: refreshes are at least `retry.backoff.ms` apart (after the last answer).
    #[serde(default)]
    metadata_allowed_at: Micros,
    /// A `ConsumerMetadataRetry` timer is set for `metadata_allowed_at`.
    #[serde(default)]
    metadata_retry_armed: bool,
    /// Per broker: the connection is up (it answered since it last failed). All are at the start, as after the
    /// bootstrap; `leastLoadedNode` prefers these.
    #[serde(default)]
    node_connected: Vec<bool>,
    /// Where the latest FindCoordinator went.
    lookup_broker: BrokerId,
}

/// How many commits in flight, and abandoned commitSync tries, a consumer remembers.
const REMEMBERED_COMMITS: usize = 16;

/// A `commitSync()` call: the offsets it commits, until when it keeps trying, and which call it is.
/// A commit tried again on retriable failures until `deadline`: the application's `commitSync()`, or the commit a
/// member makes before it rejoins, which the JoinGroup waits for. Kafka's `onJoinPrepare` repeats the latter after
/// `retry.backoff.ms` until the rebalance timeout (`max.poll.interval.ms`) for auto-commit; the application's
/// commitSync in `onPartitionsRevoked` does the same until `default.api.timeout.ms`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CommitSync {
    pub offsets: Vec<(PartitionIdx, u64)>,
    pub deadline: Micros,
    pub token: u64,
    /// Tries so far (the first one included).
    pub tries: u32,
    /// Whether the timer at `deadline` is set: only once the call does not succeed at once, so that commits that
    /// work cost no timer.
    pub deadline_armed: bool,
    /// A rejoin's commit whose retry is due waits for the coordinator to be found again.
    #[serde(default)]
    pub awaiting_coordinator: bool,
}

/// Broker ids fit a `BrokerSet` (a 64-bit set), so per-broker tables have this many entries.
const MAX_NODE_IDS: usize = 65;

/// How long a FindCoordinator may go unanswered before the consumer asks again (a lost request or a silent broker).
const LOOKUP_TIMEOUT: Micros = 5_000_000;

/// `AbstractCoordinator.JOIN_GROUP_TIMEOUT_LAPSE`: a JoinGroup's timeout is the rebalance timeout plus this.
const JOIN_GROUP_TIMEOUT_LAPSE: Micros = 5_000_000;

/// How long the application's `poll(Duration)` waits when there is nothing to return (`poll(Duration.ofSeconds(1))`).
const EMPTY_POLL_WAIT: Micros = 1_000_000;

impl Consumer {
    pub fn new(
        index: u32,
        node: NodeId,
        def: &ConsumerDef,
        leaders: Vec<(Option<BrokerId>, u32)>,
        rng: ChaCha8Rng,
    ) -> Self {
        Consumer {
            index,
            node,
            name: def.name.clone(),
            group: def.group as u32,
            topics: def.topics.iter().map(|&t| t as u32).collect(),
            config: def.config.clone(),
            commit: def.commit,
            processing: def.processing,
            state: MemberState::Stopped,
            coordinator: None,
            member_id: None,
            generation: 0,
            assigned: BTreeMap::new(),
            leaders,
            next_request: 0,
            processing_queue: VecDeque::new(),
            busy: false,
            next_heartbeat_at: 0,
            deadline_armed: None,
            last_poll: 0,
            last_auto_commit: 0,
            committable: BTreeMap::new(),
            commit_sync: None,
            commit_in_flight: None,
            commit_calls: 0,
            process_after_commit: false,
            poll_timeout_left: false,
            last_polled: BTreeMap::new(),
            skips: 0,
            nonmonotonic: 0,
            commits_failed: 0,
            incarnation: 0,
            poll_token: 0,
            rejoin_needed: false,
            partitions_lost: false,
            pending_sync: None,
            revoke_commit: None,
            revocation: None,
            resume_after_find: false,
            last_coordinator_answer: 0,
            heartbeat_failed_at: None,
            commit_sent_at: 0,
            rebalance_request: None,
            rebalance_deadline: 0,
            lookup_in_flight: None,
            lookup_failures: 0,
            last_lookup: 0,
            last_lookup_sent: 0,
            lookup_backoff: 0,
            rng,
            coordinator_unknown: true,
            commits_in_flight: VecDeque::new(),
            abandoned_commits: VecDeque::new(),
            waiting_for_coordinator_since: None,
            live_brokers: BrokerSet::default(),
            node_failures: vec![0; MAX_NODE_IDS],
            node_backoff_until: vec![0; MAX_NODE_IDS],
            coordinator_failures: vec![0; MAX_NODE_IDS],
            coordinator_backoff_until: vec![0; MAX_NODE_IDS],
            metadata_in_flight: None,
            metadata_wanted: false,
            metadata_allowed_at: 0,
            metadata_retry_armed: false,
            node_connected: vec![true; MAX_NODE_IDS],
            lookup_broker: BrokerId(0),
        }
    }

    fn request_id(&mut self) -> u64 {
        self.next_request += 1;
        self.next_request
    }

    /// Starts (or restarts after a crash): a fresh member with no state but its configuration.
    pub fn start(&mut self, ctx: &mut Ctx) {
        self.state = MemberState::FindingCoordinator;
        self.member_id = None;
        self.generation = 0;
        self.assigned.clear();
        self.processing_queue.clear();
        self.busy = false;
        self.commit_sync = None;
        self.commit_in_flight = None;
        self.last_poll = ctx.now;
        self.last_auto_commit = ctx.now;
        self.committable.clear();
        self.last_polled.clear();
        self.rejoin_needed = false;
        self.partitions_lost = false;
        self.pending_sync = None;
        self.poll_timeout_left = false;
        self.revoke_commit = None;
        self.revocation = None;
        self.rebalance_request = None;
        self.resume_after_find = false;
        self.lookup_in_flight = None;
        self.coordinator_unknown = true;
        self.commits_in_flight.clear();
        self.abandoned_commits.clear();
        self.waiting_for_coordinator_since = None;
        self.live_brokers = BrokerSet::default();
        // A new process has new connections and no metadata request out (its old timers died with it).
        self.node_failures.iter_mut().for_each(|f| *f = 0);
        self.node_backoff_until.iter_mut().for_each(|t| *t = 0);
        self.coordinator_failures.iter_mut().for_each(|f| *f = 0);
        self.coordinator_backoff_until.iter_mut().for_each(|t| *t = 0);
        self.node_connected.iter_mut().for_each(|c| *c = true);
        self.metadata_in_flight = None;
        self.metadata_wanted = false;
        self.metadata_retry_armed = false;
        self.metadata_allowed_at = 0;
        self.last_coordinator_answer = ctx.now;
        self.find_coordinator(ctx);
        ctx.timer_after(self.config.heartbeat_interval, Timer::ConsumerHeartbeat);
        self.next_heartbeat_at = ctx.now + self.config.heartbeat_interval;
        self.deadline_armed = None;
    }

    /// The process died: nothing is sent, everything in memory is gone.
    pub fn crash(&mut self) {
        self.state = MemberState::Stopped;
        self.assigned.clear();
        self.processing_queue.clear();
        self.busy = false;
    }

    /// `KafkaConsumer.close()`: auto-commit commits what was consumed, then LeaveGroup.
    pub fn close(&mut self, ctx: &mut Ctx) {
        if self.state == MemberState::Stopped {
            return;
        }
        if self.commit == CommitMode::Auto {
            self.send_commit(ctx, self.positions());
        }
        if let (Some(coordinator), Some(member_id)) = (self.coordinator, self.member_id) {
            ctx.send(coordinator.node(), Message::LeaveGroup { group: self.group, member_id });
        }
        self.crash();
    }

    fn find_coordinator(&mut self, ctx: &mut Ctx) {
        if self.state != MemberState::FindingCoordinator {
            // A member that only lost its coordinator carries on with the same generation once it finds the new
            // one (AbstractCoordinator.ensureCoordinatorReady); it does not rejoin.
            self.resume_after_find = self.state == MemberState::Stable && self.member_id.is_some();
        }
        self.state = MemberState::FindingCoordinator;
        self.coordinator_unknown = true;
        // Marking the coordinator unknown closes its connection: a JoinGroup or SyncGroup out there is given up.
        self.rebalance_request = None;
        let heartbeat_thread = self.heartbeat_thread_looks_up();
        if let Some((_, sent_at)) = self.lookup_in_flight {
            if ctx.now < sent_at + self.lookup_give_up_after(heartbeat_thread) {
                return;
            }
            // Its answer never came (lost, or a silent broker): ask again.
            self.lookup_in_flight = None;
        }
        // AbstractCoordinator.ensureCoordinatorReady: after a lookup that found no coordinator, or one that cannot be
        // reached, the next lookup waits a backoff that grows with each such failure (KIP-580). The heartbeat thread
        // waits a flat `retry.backoff.ms` instead.
        if self.lookup_failures > 0 {
            let backoff = if heartbeat_thread { self.config.retry_backoff } else { self.lookup_backoff };
            let allowed_at = self.last_lookup_sent + backoff;
            if ctx.now < allowed_at {
                ctx.timer_after(allowed_at - ctx.now, Timer::ConsumerRetry { lookup: self.last_lookup });
                return;
            }
        }
        let request_id = self.request_id();
        self.lookup_in_flight = Some((request_id, ctx.now));
        self.last_lookup = request_id;
        self.last_lookup_sent = ctx.now;
        let broker = self.least_loaded_broker(ctx, request_id);
        self.lookup_broker = broker;
        ctx.send(broker.node(), Message::FindCoordinator { request_id, group: self.group });
        ctx.timer_after(self.lookup_give_up_after(heartbeat_thread), Timer::ConsumerRetry { lookup: request_id });
    }

    /// Whether the heartbeat thread is the one looking the coordinator up: a member of a stable group whose
    /// application works between polls. `HeartbeatThread.run` asks again every `retry.backoff.ms`, dropping a lookup
    /// still unanswered by then ("clearFindCoordinatorFuture") and asking anew, without the main thread's growing
    /// backoff.
    fn heartbeat_thread_looks_up(&self) -> bool {
        self.busy && self.resume_after_find && self.commit_sync.is_none()
    }

    /// How long a lookup waits for its answer before it is asked again.
    fn lookup_give_up_after(&self, heartbeat_thread: bool) -> Micros {
        if heartbeat_thread {
            self.config.retry_backoff.max(1)
        } else {
            self.lookup_timeout()
        }
    }

    /// `leastLoadedNode`, simplified: the brokers in turn, a different one each request, among those the metadata lists
    /// (all of them until a metadata answer came).
    /// Nodes in reconnect backoff are passed over (`leastLoadedNode` skips blacked-out nodes); if every listed broker
    /// is, the one whose backoff ends first is asked.
    fn least_loaded_broker(&self, ctx: &Ctx, request_id: u64) -> BrokerId {
        let listed: Vec<BrokerId> = self.listed_brokers(ctx).collect();
        let available: Vec<BrokerId> = listed.iter().copied().filter(|&b| !self.in_backoff(ctx, b)).collect();
        if available.is_empty() {
            return *listed.iter().min_by_key(|b| self.node_backoff_until[b.0 as usize]).expect("a broker is listed");
        }
        // A node with a working connection first; one that would need a new connection only when there is none.
        let connected: Vec<BrokerId> =
            available.iter().copied().filter(|b| self.node_connected[b.0 as usize]).collect();
        let pool = if connected.is_empty() { &available } else { &connected };
        pool[(request_id as usize + self.index as usize) % pool.len()]
    }

    /// The brokers the latest metadata listed (all of them before any metadata answer).
    fn listed_brokers<'a>(&'a self, ctx: &Ctx) -> impl Iterator<Item = BrokerId> + 'a {
        (1..=ctx.topo.brokers).map(BrokerId).filter(|b| self.live_brokers.is_empty() || self.live_brokers.contains(*b))
    }

    /// `NetworkClient.isUnavailable`: the last connection to `broker` failed and its reconnect backoff has not passed.
    fn in_backoff(&self, ctx: &Ctx, broker: BrokerId) -> bool {
        ctx.now < self.node_backoff_until[broker.0 as usize]
    }

    /// A connection to `broker` broke or was refused (`ClusterConnectionStates.disconnected`): the node is left alone
    /// for the reconnect backoff, which doubles with each failure in a row. Failures reported while the backoff runs
    /// (several requests on the one connection) count once.
    fn node_failed(&mut self, ctx: &mut Ctx, broker: BrokerId) {
        let b = broker.0 as usize;
        if reconnect_backoff(ctx.now, &mut self.node_failures[b], &mut self.node_backoff_until[b], &mut self.rng) {
            self.node_connected[b] = false;
        }
    }

    /// The connection to the coordinator on `broker` broke, was refused or timed out: its own reconnect backoff.
    fn coordinator_connection_failed(&mut self, ctx: &mut Ctx, broker: BrokerId) {
        let b = broker.0 as usize;
        reconnect_backoff(
            ctx.now,
            &mut self.coordinator_failures[b],
            &mut self.coordinator_backoff_until[b],
            &mut self.rng,
        );
    }

    /// `broker` answered: its connection works, and its reconnect backoff starts over.
    fn node_answered(&mut self, broker: BrokerId) {
        self.node_connected[broker.0 as usize] = true;
        self.node_failures[broker.0 as usize] = 0;
    }

    /// `Metadata.requestUpdate`: asks a broker for fresh metadata (partition leaders, and which brokers are listed),
    /// one request at a time and at most once per `retry.backoff.ms` after the last answer (`timeToAllowUpdate`).
    fn refresh_metadata(&mut self, ctx: &mut Ctx) {
        self.metadata_wanted = true;
        self.send_metadata_if_allowed(ctx);
    }

    fn send_metadata_if_allowed(&mut self, ctx: &mut Ctx) {
        if !self.metadata_wanted || self.metadata_in_flight.is_some() {
            return;
        }
        // `leastLoadedNode` finds no broker out of its reconnect backoff: the refresh waits for the first to be.
        let allowed_at = match self.listed_brokers(ctx).map(|b| self.node_backoff_until[b.0 as usize]).min() {
            Some(first_free) if first_free > ctx.now => self.metadata_allowed_at.max(first_free),
            _ => self.metadata_allowed_at,
        };
        if ctx.now < allowed_at {
            if !self.metadata_retry_armed {
                self.metadata_retry_armed = true;
                ctx.timer_after(allowed_at - ctx.now, Timer::ConsumerMetadataRetry);
            }
            return;
        }
        self.metadata_wanted = false;
        let request_id = self.request_id();
        let broker = self.least_loaded_broker(ctx, request_id);
        self.metadata_in_flight = Some((request_id, broker, ctx.now));
        ctx.send(broker.node(), Message::MetadataRequest { request_id });
        self.consider_deadline(ctx, ctx.now + self.config.request_timeout);
    }

    fn lookup_timeout(&self) -> Micros {
        LOOKUP_TIMEOUT.min(self.config.request_timeout)
    }

    /// The coordinator a lookup named cannot be reached (`client.isUnavailable(coordinator)` in
    /// `ensureCoordinatorReady`): the next lookup backs off.
    fn coordinator_unavailable(&mut self) {
        self.lookup_failures += 1;
        self.lookup_backoff = self.backoff(self.lookup_failures);
    }

    fn join(&mut self, ctx: &mut Ctx) {
        let Some(coordinator) = self.coordinator else { return self.find_coordinator(ctx) };
        self.state = MemberState::Joining;
        // Eager protocols revoke everything before rejoining (onPartitionsRevoked); cooperative keeps what it owns.
        if !self.config.assignor.is_cooperative() && !self.assigned.is_empty() {
            self.revoke(ctx, self.assigned.keys().copied().collect());
        }
        if self.revoke_commit.is_some() || self.revocation.is_some() {
            // The revocation's commit must finish first, so the next owner starts where this one stopped.
            return;
        }
        self.send_join_group(ctx, coordinator);
    }

    fn send_join_group(&mut self, ctx: &mut Ctx, coordinator: BrokerId) {
        // `AbstractCoordinator.sendJoinGroupRequest`: the coordinator may hold a JoinGroup for the whole rebalance, so
        // its timeout is the rebalance timeout (max.poll.interval.ms) plus 5 s (`JOIN_GROUP_TIMEOUT_LAPSE`), and at
        // least request.timeout.ms.
        self.rebalance_deadline =
            ctx.now + self.config.request_timeout.max(self.config.max_poll_interval + JOIN_GROUP_TIMEOUT_LAPSE);
        let request_id = self.request_id();
        self.rebalance_request = Some(request_id);
        self.consider_deadline(ctx, self.rebalance_deadline);
        ctx.send(
            coordinator.node(),
            Message::JoinGroup {
                group: self.group,
                join: JoinRequest {
                    request_id,
                    member_id: self.member_id,
                    generation: if self.member_id.is_some() { self.generation } else { 0 },
                    topics: self.topics.clone(),
                    owned: self.assigned.keys().copied().collect(),
                    session_timeout: self.config.session_timeout,
                    rebalance_timeout: self.config.max_poll_interval,
                    protocol: self.config.assignor,
                },
            },
        );
    }

    /// Gives partitions up: auto-commit and commit-after-processing commit what was processed first.
    fn revoke(&mut self, ctx: &mut Ctx, partitions: Vec<PartitionIdx>) {
        if partitions.is_empty() {
            return;
        }
        if self.commit != CommitMode::SyncBeforeProcessing && self.member_id.is_some() {
            let offsets: Vec<(PartitionIdx, u64)> =
                self.positions().into_iter().filter(|(p, _)| partitions.contains(p)).collect();
            self.revoke_commit = self.send_commit_request(ctx, offsets.clone());
            if self.revoke_commit.is_some() && self.state == MemberState::Joining {
                // The eager rejoin (`onJoinPrepare`) waits for this commit and repeats it on retriable failures.
                let limit = if self.commit == CommitMode::Auto {
                    self.config.max_poll_interval
                } else {
                    self.config.default_api_timeout
                };
                self.commit_calls += 1;
                self.revocation = Some(CommitSync {
                    offsets,
                    deadline: ctx.now + limit,
                    token: self.commit_calls,
                    tries: 1,
                    deadline_armed: false,
                    awaiting_coordinator: false,
                });
            }
        }
        for p in &partitions {
            self.assigned.remove(p);
            self.committable.remove(p);
        }
        self.processing_queue.retain(|(p, _, _)| !partitions.contains(p));
        ctx.trace(TraceKind::PartitionsRevoked {
            consumer: self.node,
            group: self.group,
            partitions: partitions.len() as u32,
        });
    }

    /// Positions of the records the application has finished with.
    fn positions(&self) -> Vec<(PartitionIdx, u64)> {
        self.assigned.iter().filter_map(|(p, s)| s.position.map(|o| (*p, o))).collect()
    }

    fn send_commit(&mut self, ctx: &mut Ctx, offsets: Vec<(PartitionIdx, u64)>) -> Option<u64> {
        if offsets.is_empty() || self.fails_without_stable_generation(ctx) {
            return None;
        }
        self.send_commit_request(ctx, offsets)
    }

    /// The OffsetCommit itself, without the client's checks: a revocation commits from its rebalance listener, before
    /// the member's state leaves `Stable` in Kafka (`onJoinPrepare`, or `onJoinComplete` for cooperative ones).
    fn send_commit_request(&mut self, ctx: &mut Ctx, offsets: Vec<(PartitionIdx, u64)>) -> Option<u64> {
        if offsets.is_empty() {
            return None;
        }
        let coordinator = self.coordinator?;
        let member_id = self.member_id.unwrap_or(MemberId(0));
        let request_id = self.request_id();
        if self.commits_in_flight.len() == REMEMBERED_COMMITS {
            self.commits_in_flight.pop_front();
        }
        self.commits_in_flight.push_back((request_id, self.generation));
        self.commit_sent_at = ctx.now;
        ctx.send(
            coordinator.node(),
            Message::OffsetCommit { request_id, group: self.group, generation: self.generation, member_id, offsets },
        );
        self.consider_deadline(ctx, ctx.now + self.config.request_timeout);
        Some(request_id)
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx, history: &mut Vec<Processed>, timer: Timer) {
        if self.state == MemberState::Stopped {
            return;
        }
        match timer {
            Timer::ConsumerDeadline => {
                if self.deadline_armed == Some(ctx.now) {
                    self.deadline_armed = None;
                }
                if !self.check_timeouts(ctx) {
                    self.arm_next_deadline(ctx);
                }
            }
            Timer::ConsumerHeartbeat => {
                ctx.timer_after(self.config.heartbeat_interval, Timer::ConsumerHeartbeat);
                self.next_heartbeat_at = ctx.now + self.config.heartbeat_interval;
                if self.check_timeouts(ctx) {
                    return;
                }
                self.arm_next_deadline(ctx);
                self.send_heartbeat(ctx);
            }
            // The heartbeat after a failed one, once the coordinator is known again.
            Timer::ConsumerHeartbeatRetry if self.heartbeat_failed_at.is_some() && !self.coordinator_unknown => {
                self.send_heartbeat(ctx)
            }
            Timer::ConsumerRetry { lookup } if lookup == self.last_lookup => {
                // A lookup still waiting for its answer keeps waiting until it times out; then it is given up,
                // whatever the member is doing meanwhile.
                let heartbeat_thread = self.heartbeat_thread_looks_up();
                if let Some((_, sent_at)) = self.lookup_in_flight {
                    if ctx.now < sent_at + self.lookup_give_up_after(heartbeat_thread) {
                        return;
                    }
                    self.lookup_in_flight = None;
                }
                if !self.coordinator_unknown || self.state != MemberState::FindingCoordinator {
                    return;
                }
                if self.commit_sync.is_some() {
                    // Blocked in commitSync, which looks for the coordinator itself (ensureCoordinatorReady).
                    self.find_coordinator(ctx);
                } else if heartbeat_thread {
                    // A member of a stable group that lost its coordinator while the application works: its
                    // heartbeat thread keeps looking the coordinator up (`HeartbeatThread.run`: "coordinatorUnknown()
                    // ... lookupCoordinator()"), so heartbeats resume before the next poll.
                    self.find_coordinator(ctx);
                } else {
                    self.schedule_poll(ctx);
                }
            }
            Timer::ConsumerPoll { token } if token == self.poll_token => self.poll(ctx),
            Timer::ConsumerProcess => self.process_next(ctx, history),
            Timer::ConsumerFetchRetry { partition } => {
                if let Some(state) = self.assigned.get_mut(&partition) {
                    state.fetch_waits_for_node = false;
                }
                self.fetch(ctx, partition)
            }
            Timer::ConsumerMetadataRetry => {
                self.metadata_retry_armed = false;
                self.send_metadata_if_allowed(ctx);
            }
            Timer::ConsumerCommitRetry { token } => self.try_commit_sync(ctx, token),
            Timer::ConsumerRevocationRetry { token } => self.try_revocation_commit(ctx, token),
            Timer::ConsumerRevocationDeadline { token }
                if self.revocation.as_ref().is_some_and(|r| r.token == token) =>
            {
                self.give_up_revocation_commit(ctx)
            }
            Timer::ConsumerCommitDeadline { token } if self.commit_sync.as_ref().is_some_and(|s| s.token == token) => {
                self.commits_failed += 1;
                ctx.trace(TraceKind::CommitSyncTimedOut { consumer: self.node, group: self.group });
                self.end_commit_sync(ctx, None);
            }
            _ => {}
        }
    }

    pub fn on_message(&mut self, ctx: &mut Ctx, history: &mut Vec<Processed>, message: Message) {
        if self.state == MemberState::Stopped {
            return;
        }
        // An answer to a JoinGroup or SyncGroup the client gave up never arrives in Kafka (its connection was closed).
        if let Message::JoinGroupResponse { request_id, .. } | Message::SyncGroupResponse { request_id, .. } = &message
        {
            if self.rebalance_request != Some(*request_id) {
                return;
            }
        }
        // A group request the coordinator's broker refused: the coordinator cannot be reached, and the next lookup
        // backs off (`client.isUnavailable(coordinator)` in `ensureCoordinatorReady`).
        if matches!(
            message,
            Message::JoinGroupResponse { result: Err(KafkaError::NetworkException), .. }
                | Message::SyncGroupResponse { result: Err(KafkaError::NetworkException), .. }
                | Message::HeartbeatResponse { error: Some(KafkaError::NetworkException), .. }
                | Message::OffsetCommitResponse { result: Err(KafkaError::NetworkException), .. }
        ) {
            self.coordinator_unavailable();
            if let Some(coordinator) = self.coordinator {
                self.coordinator_connection_failed(ctx, coordinator);
            }
        } else if matches!(
            message,
            Message::JoinGroupResponse { .. }
                | Message::SyncGroupResponse { .. }
                | Message::HeartbeatResponse { .. }
                | Message::OffsetCommitResponse { .. }
        ) {
            if let Some(coordinator) = self.coordinator {
                self.coordinator_failures[coordinator.0 as usize] = 0;
            }
        }
        match message {
            Message::FindCoordinatorResponse { request_id, coordinator, refused } => {
                if self.lookup_in_flight.map(|(id, _)| id) != Some(request_id) {
                    return;
                }
                self.lookup_in_flight = None;
                if refused {
                    self.node_failed(ctx, self.lookup_broker);
                } else {
                    self.node_answered(self.lookup_broker);
                }
                match coordinator {
                    Some(_) if self.state != MemberState::FindingCoordinator => self.lookup_failures = 0,
                    // `ensureCoordinatorReady`: found, but its connection failed and is still in reconnect backoff
                    // (`client.isUnavailable`): mark it unknown again and look it up after the retry backoff.
                    Some(coordinator) if ctx.now < self.coordinator_backoff_until[coordinator.0 as usize] => {
                        self.coordinator_unavailable();
                        self.find_coordinator(ctx);
                    }
                    Some(coordinator) => {
                        self.lookup_failures = 0;
                        self.coordinator = Some(coordinator);
                        self.coordinator_unknown = false;
                        self.waiting_for_coordinator_since = None;
                        if std::mem::take(&mut self.resume_after_find) {
                            self.state = MemberState::Stable;
                        } else {
                            self.rejoin_needed = true;
                        }
                        if let Some(revocation) = self.revocation.as_ref().filter(|r| r.awaiting_coordinator) {
                            self.try_revocation_commit(ctx, revocation.token);
                        }
                        if let Some(failed_at) = self.heartbeat_failed_at {
                            let due = (failed_at + self.config.retry_backoff).max(ctx.now);
                            ctx.timer_after(due - ctx.now, Timer::ConsumerHeartbeatRetry);
                        }
                        self.schedule_poll(ctx);
                    }
                    // COORDINATOR_NOT_AVAILABLE, or the broker asked was down: AbstractCoordinator.ensureCoordinatorReady
                    // refreshes the metadata ("Coordinator discovery failed, refreshing metadata") and asks again after
                    // the retry backoff.
                    None => {
                        self.coordinator_unavailable();
                        if self.state == MemberState::FindingCoordinator {
                            self.refresh_metadata(ctx);
                            self.find_coordinator(ctx);
                        }
                    }
                }
            }
            Message::JoinGroupResponse { request_id, result, .. } => {
                self.last_coordinator_answer = ctx.now;
                if self.rebalance_request.take_if(|id| *id == request_id).is_some() {
                    self.on_join(ctx, result)
                }
            }
            Message::SyncGroupResponse { request_id, generation, result, .. } => {
                self.last_coordinator_answer = ctx.now;
                if self.rebalance_request.take_if(|id| *id == request_id).is_some() {
                    self.on_sync(ctx, generation, result)
                }
            }
            Message::HeartbeatResponse { error, .. } => {
                if error != Some(KafkaError::NetworkException) {
                    self.last_coordinator_answer = ctx.now;
                }
                self.on_heartbeat_response(ctx, error)
            }

            Message::OffsetCommitResponse { request_id, result } => {
                if self.abandoned_commits.contains(&request_id) {
                    // A try the commitSync gave up on: its connection was closed, nobody waits for this answer.
                    return;
                }
                let sent_in = self
                    .commits_in_flight
                    .iter()
                    .position(|(id, _)| *id == request_id)
                    .and_then(|i| self.commits_in_flight.remove(i))
                    .map(|(_, generation)| generation);
                let sync_try = self.commit_in_flight == Some(request_id);
                let revocation = self.revoke_commit == Some(request_id);
                if let Err(error) = result {
                    // A commitSync, and a rejoin's commit, say below whether they try again; any other commit has
                    // failed for good.
                    let may_retry = sync_try || (revocation && self.revocation.is_some());
                    if !may_retry || !error.commit_is_retriable() {
                        self.commit_failed(ctx, error);
                    }
                    // OffsetCommitResponseHandler, only if the generation has not changed since the commit was sent:
                    // UNKNOWN_MEMBER_ID and ILLEGAL_GENERATION reset the generation (the member id only for the
                    // first), so the partitions are lost and the next poll rejoins; REBALANCE_IN_PROGRESS asks for a
                    // rejoin. A revocation's commit is already part of a rejoin.
                    if sent_in.is_none_or(|g| g == self.generation) && !revocation {
                        match error {
                            KafkaError::UnknownMemberId | KafkaError::IllegalGeneration => {
                                if error == KafkaError::UnknownMemberId {
                                    self.member_id = None;
                                }
                                self.partitions_lost = true;
                                self.rejoin_needed = true;
                            }
                            KafkaError::RebalanceInProgress => self.rejoin_needed = true,
                            _ => {}
                        }
                    } else if revocation && error == KafkaError::UnknownMemberId {
                        self.member_id = None;
                    }
                    // ConsumerCoordinator.OffsetCommitResponseHandler: these mark the coordinator unknown.
                    if matches!(
                        error,
                        KafkaError::NotCoordinator
                            | KafkaError::CoordinatorNotAvailable
                            | KafkaError::RequestTimedOut
                            | KafkaError::NetworkException
                    ) {
                        self.find_coordinator(ctx);
                    }
                }
                if revocation {
                    self.revoke_commit = None;
                    match result {
                        Err(error) if error.commit_is_retriable() => self.retry_revocation_commit(ctx, error),
                        _ => self.end_revocation_commit(ctx),
                    }
                }
                if sync_try {
                    self.commit_in_flight = None;
                    match result {
                        Err(error) if error.commit_is_retriable() => self.retry_commit_sync(ctx, error),
                        // Committed, or a CommitFailedException thrown to the application, which goes on.
                        _ => self.end_commit_sync(ctx, Some(history)),
                    }
                }
            }
            Message::OffsetFetchResponse { result, .. } => match result {
                Ok(offsets) => {
                    for (partition, committed) in offsets {
                        match committed {
                            Some(offset) => {
                                if let Some(state) = self.assigned.get_mut(&partition) {
                                    state.position = Some(offset);
                                }
                                self.fetch(ctx, partition);
                            }
                            None => self.reset_position(ctx, partition),
                        }
                    }
                }
                Err(_) => self.find_coordinator(ctx),
            },
            Message::ListOffsetsResponse { partition, result, .. } => match result {
                Ok(offset) => {
                    if let Some(state) = self.assigned.get_mut(&partition) {
                        if state.position.is_none() {
                            state.position = Some(offset);
                        }
                    }
                    self.fetch(ctx, partition);
                }
                Err(_) => self.refresh_metadata_and_retry(ctx, partition),
            },
            Message::MetadataResponse { request_id, leaders, brokers } => {
                if let Some((id, broker, _)) = self.metadata_in_flight {
                    if id == request_id {
                        self.metadata_in_flight = None;
                        if leaders.is_empty() {
                            // Refused: the refresh goes to another broker (`handleServerDisconnect` asks again),
                            // after the refresh backoff (`Metadata.failedUpdate` counts it as a refresh).
                            self.node_failed(ctx, broker);
                            self.metadata_wanted = true;
                            self.metadata_allowed_at = ctx.now + self.config.retry_backoff;
                        } else {
                            self.node_answered(broker);
                            self.metadata_allowed_at = ctx.now + self.config.retry_backoff;
                        }
                    }
                }
                // A refused request (no brokers) means a listed broker is gone: KIP-899's rebootstrap (the default
                // metadata.recovery.strategy since Kafka 4.0) falls back to the bootstrap servers, all of them here.
                self.live_brokers = brokers;
                let mut new_epochs = Vec::new();
                for (index, (known, fresh)) in self.leaders.iter_mut().zip(leaders).enumerate() {
                    if fresh.1 > known.1 {
                        new_epochs.push(PartitionIdx(index as u32));
                    }
                    if fresh.1 >= known.1 {
                        *known = fresh;
                    }
                }
                for partition in new_epochs {
                    self.validate_position(ctx, partition);
                }
                self.send_metadata_if_allowed(ctx);
            }
            Message::ConsumerFetchResponse { fetch_id, partition, result } => {
                self.on_fetch_response(ctx, fetch_id, partition, result)
            }
            Message::OffsetsForLeaderEpochResponse { request_id, partition, result } => {
                self.on_validation_response(ctx, request_id, partition, result)
            }
            _ => {}
        }
    }

    /// The client's timeouts, as its heartbeat thread and network client notice them. Returns whether the member left
    /// its group or lost its coordinator (then no heartbeat goes out).
    fn check_timeouts(&mut self, ctx: &mut Ctx) -> bool {
        // request.timeout.ms: a fetch or a position validation (OffsetsForLeaderEpoch) that was never answered is given
        // up and sent again.
        let stale: Vec<PartitionIdx> = self
            .assigned
            .iter()
            .filter(|(_, s)| self.fetch_deadline(s).is_some_and(|d| ctx.now >= d))
            .map(|(p, _)| *p)
            .collect();
        for partition in stale {
            let state = self.assigned.get_mut(&partition).expect("assigned");
            state.fetch_in_flight = None;
            state.validation_request = None;
            self.refresh_metadata_and_retry(ctx, partition);
        }
        // A metadata request unanswered for request.timeout.ms is given up (its connection closed) and the refresh
        // asks another broker.
        if let Some((_, broker, sent_at)) = self.metadata_in_flight {
            if ctx.now >= sent_at + self.config.request_timeout {
                self.metadata_in_flight = None;
                self.node_failed(ctx, broker);
                self.refresh_metadata(ctx);
            }
        }
        if self.check_poll_timeout(ctx) {
            return true;
        }
        // request.timeout.ms: a commit whose answer never came is given up (the connection is closed) and counts as
        // failed.
        if self.commit_deadline().is_some_and(|d| ctx.now >= d) {
            self.commit_timed_out(ctx);
        }
        // A JoinGroup or SyncGroup never answered in its timeout: the connection is closed, which fails the request
        // with a DisconnectException, and `CoordinatorResponseHandler.onFailure` marks the coordinator unknown; the
        // member looks for it again and then rejoins. A late answer to it is ignored.
        if self.rebalance_request_deadline().is_some_and(|d| ctx.now >= d) {
            self.rebalance_request = None;
            if let Some(coordinator) = self.coordinator {
                self.coordinator_connection_failed(ctx, coordinator);
            }
            self.find_coordinator(ctx);
            return true;
        }
        // AbstractCoordinator's heartbeat thread: no answer from the coordinator for session.timeout.ms means it is
        // gone (crashed, cut off): mark it unknown, fail what waits on it, and look for the new one. The thread is
        // off while a JoinGroup is out (`hasNotJoinedGroup`: PREPARING_REBALANCE); that request's own timeout applies.
        if let (Some(coordinator), true) = (self.coordinator, self.session_deadline().is_some_and(|d| ctx.now >= d)) {
            self.last_coordinator_answer = ctx.now;
            self.on_coordinator_lost(ctx, coordinator);
            return true;
        }
        false
    }

    // The deadlines `check_timeouts` acts on, each where it applies; `arm_next_deadline` arms the earliest.

    /// A fetch or position validation in flight is given up at `request.timeout.ms`.
    fn fetch_deadline(&self, state: &PartitionState) -> Option<Micros> {
        (state.fetch_in_flight.is_some() || state.validation_request.is_some())
            .then(|| state.fetch_sent_at + self.config.request_timeout)
    }

    /// A commit in flight (a commitSync's try, or the commit before a rejoin) is given up at `request.timeout.ms`.
    fn commit_deadline(&self) -> Option<Micros> {
        (self.commit_in_flight.is_some() || self.revoke_commit.is_some())
            .then(|| self.commit_sent_at + self.config.request_timeout)
    }

    /// The JoinGroup or SyncGroup in flight is given up at its own timeout.
    fn rebalance_request_deadline(&self) -> Option<Micros> {
        (matches!(self.state, MemberState::Joining | MemberState::Syncing) && self.rebalance_request.is_some())
            .then_some(self.rebalance_deadline)
    }

    /// `max.poll.interval.ms` is exceeded (`Heartbeat.pollTimeoutExpired`) while the application works.
    fn poll_deadline(&self) -> Option<Micros> {
        (self.state == MemberState::Stable && (self.busy || self.commit_sync.is_some()))
            .then(|| self.last_poll + self.config.max_poll_interval + 1)
    }

    /// No answer from the coordinator for `session.timeout.ms` (`Heartbeat.sessionTimeoutExpired`).
    fn session_deadline(&self) -> Option<Micros> {
        (self.heartbeat_thread_on() && self.coordinator.is_some())
            .then(|| self.last_coordinator_answer + self.config.session_timeout + 1)
    }

    fn send_heartbeat(&mut self, ctx: &mut Ctx) {
        if let (Some(coordinator), Some(member_id), true) =
            (self.coordinator, self.member_id, self.heartbeat_thread_on())
        {
            ctx.send(
                coordinator.node(),
                Message::Heartbeat { group: self.group, generation: self.generation, member_id },
            );
        }
    }

    /// Whether the heartbeat thread runs: not while a JoinGroup is out (`hasNotJoinedGroup`: PREPARING_REBALANCE),
    /// but still while the member commits before it rejoins (`onJoinPrepare` runs in STABLE).
    fn heartbeat_thread_on(&self) -> bool {
        match self.state {
            MemberState::Stable | MemberState::Syncing => true,
            MemberState::Joining => self.revoke_commit.is_some() || self.revocation.is_some(),
            _ => false,
        }
    }

    /// A request just sent whose timeout falls before the next heartbeat tick gets its own deadline timer.
    fn consider_deadline(&mut self, ctx: &mut Ctx, deadline: Micros) {
        if deadline > ctx.now
            && deadline < self.next_heartbeat_at
            && self.deadline_armed.is_none_or(|armed| deadline < armed)
        {
            self.deadline_armed = Some(deadline);
            ctx.timer_after(deadline - ctx.now, Timer::ConsumerDeadline);
        }
    }

    /// When the next of `check_timeouts`'s deadlines falls before the next heartbeat tick, a one-off timer checks
    /// them then: Kafka's heartbeat thread wakes at least every `retry.backoff.ms` and its network client checks
    /// request timeouts at every poll, so a timeout is noticed when it is due, not at the next tick.
    fn arm_next_deadline(&mut self, ctx: &mut Ctx) {
        let fetches = self.assigned.values().filter_map(|s| self.fetch_deadline(s));
        let metadata = self.metadata_in_flight.map(|(_, _, sent_at)| sent_at + self.config.request_timeout);
        let others = [
            metadata,
            self.poll_deadline(),
            self.commit_deadline(),
            self.rebalance_request_deadline(),
            self.session_deadline(),
        ];
        let Some(next) = fetches.chain(others.into_iter().flatten()).min() else {
            return;
        };
        self.consider_deadline(ctx, next);
    }

    /// `max.poll.interval.ms` (`Heartbeat.pollTimeoutExpired`): a consumer whose application has not polled for that
    /// long leaves the group from its heartbeat thread; it finds out (and rejoins) at its next poll. Returns whether
    /// it left.
    fn check_poll_timeout(&mut self, ctx: &mut Ctx) -> bool {
        if self.poll_deadline().is_none_or(|d| ctx.now < d) {
            return false;
        }
        if let (Some(coordinator), Some(member_id)) = (self.coordinator, self.member_id) {
            ctx.send(coordinator.node(), Message::LeaveGroup { group: self.group, member_id });
            ctx.trace(TraceKind::PollTimeout { consumer: self.node, group: self.group });
        }
        self.poll_timeout_left = true;
        self.state = MemberState::FindingCoordinator;
        true
    }

    fn on_heartbeat_response(&mut self, ctx: &mut Ctx, error: Option<KafkaError>) {
        // `HeartbeatThread`: an answer resets the heartbeat timer to the interval; a failure to `retry.backoff.ms`.
        self.heartbeat_failed_at = match error {
            Some(KafkaError::NotCoordinator | KafkaError::NetworkException | KafkaError::CoordinatorNotAvailable) => {
                Some(ctx.now)
            }
            _ => None,
        };
        match error {
            None => {}
            Some(KafkaError::RebalanceInProgress) if self.state == MemberState::Stable => {
                self.rejoin_needed = true;
                self.schedule_poll(ctx);
            }
            Some(KafkaError::IllegalGeneration) | Some(KafkaError::UnknownMemberId) => {
                // Fenced out of the group: rejoin as a new member (onPartitionsLost: nothing is committed).
                self.member_id = None;
                self.partitions_lost = true;
                self.rejoin_needed = true;
                self.schedule_poll(ctx);
            }
            // markCoordinatorUnknown: what waits on the old coordinator fails with it (the connection is closed).
            Some(KafkaError::NotCoordinator) | Some(KafkaError::NetworkException) => {
                if let Some(coordinator) = self.coordinator {
                    self.on_coordinator_lost(ctx, coordinator);
                } else {
                    self.find_coordinator(ctx);
                }
            }
            Some(_) => {}
        }
    }

    fn on_join(&mut self, ctx: &mut Ctx, result: Result<JoinResult, KafkaError>) {
        if self.state != MemberState::Joining {
            return;
        }
        let join = match result {
            Ok(join) => join,
            Err(KafkaError::UnknownMemberId) => {
                self.member_id = None;
                self.rejoin_needed = true;
                return self.schedule_poll(ctx);
            }
            Err(_) => return self.find_coordinator(ctx),
        };
        self.member_id = Some(join.member_id);
        self.generation = join.generation;
        self.state = MemberState::Syncing;
        self.last_polled.clear();
        let mut assignments = Vec::new();
        if join.leader == join.member_id {
            // The leader runs the assignor (ConsumerCoordinator.onLeaderElected).
            let topo = ctx.topo;
            let name_of = |p: PartitionIdx| {
                let info = topo.partition(p);
                (topo.topics[info.topic].name.clone(), info.partition)
            };
            let mut partitions_per_topic = BTreeMap::new();
            for (_, topics, _) in &join.members {
                for &t in topics {
                    partitions_per_topic
                        .insert(topo.topics[t as usize].name.clone(), topo.topics[t as usize].partitions);
                }
            }
            let members: Vec<MemberSubscription> = join
                .members
                .iter()
                .map(|(id, topics, owned)| MemberSubscription {
                    member_id: format!("{:010}", id.0),
                    topics: topics.iter().map(|&t| topo.topics[t as usize].name.clone()).collect(),
                    owned: owned.iter().map(|&p| name_of(p)).collect(),
                })
                .collect();
            let result = assign(join.protocol, &partitions_per_topic, &members);
            for (id, _, _) in &join.members {
                let tps = &result[&format!("{:010}", id.0)];
                let partitions = tps
                    .iter()
                    .map(|(topic, p)| {
                        let t = topo.topics.iter().position(|x| &x.name == topic).expect("known topic");
                        topo.partition_idx(t, *p)
                    })
                    .collect();
                assignments.push((*id, partitions));
            }
        }
        if let Some(coordinator) = self.coordinator {
            self.rebalance_deadline = ctx.now + self.config.request_timeout;
            let request_id = self.request_id();
            self.rebalance_request = Some(request_id);
            self.consider_deadline(ctx, self.rebalance_deadline);
            ctx.send(
                coordinator.node(),
                Message::SyncGroup {
                    request_id,
                    group: self.group,
                    generation: self.generation,
                    member_id: join.member_id,
                    assignments,
                },
            );
        }
    }

    fn on_sync(&mut self, ctx: &mut Ctx, generation: u32, result: Result<Vec<PartitionIdx>, KafkaError>) {
        if self.state != MemberState::Syncing || generation != self.generation {
            return;
        }
        match result {
            Ok(assignment) => self.pending_sync = Some((generation, assignment)),
            Err(KafkaError::RebalanceInProgress) => self.rejoin_needed = true,
            Err(KafkaError::UnknownMemberId) | Err(KafkaError::IllegalGeneration) => {
                self.member_id = None;
                self.rejoin_needed = true;
            }
            Err(_) => return self.find_coordinator(ctx),
        }
        self.schedule_poll(ctx);
    }

    /// Applies a SyncGroup assignment inside poll (onPartitionsRevoked / onPartitionsAssigned run there).
    fn apply_assignment(&mut self, ctx: &mut Ctx, generation: u32, assignment: Vec<PartitionIdx>) {
        self.state = MemberState::Stable;
        let revoked: Vec<PartitionIdx> = self.assigned.keys().copied().filter(|p| !assignment.contains(p)).collect();
        let added: Vec<PartitionIdx> = assignment.iter().copied().filter(|p| !self.assigned.contains_key(p)).collect();
        ctx.trace(TraceKind::PartitionsAssigned {
            consumer: self.node,
            group: self.group,
            generation,
            partitions: assignment.len() as u32,
            cooperative: self.config.assignor.is_cooperative(),
        });
        if !revoked.is_empty() {
            // Cooperative rebalancing: give up what moves, then rejoin so it can be handed over.
            self.revoke(ctx, revoked);
            self.rejoin_needed = true;
        }
        for p in &added {
            self.assigned.insert(
                *p,
                PartitionState {
                    position: None,
                    last_epoch: None,
                    fetch_in_flight: None,
                    fetch_offset: 0,
                    fetch_broker: BrokerId(0),
                    fetch_sent_at: 0,
                    buffer: VecDeque::new(),
                    high_watermark: 0,
                    fetch_waits_for_node: false,
                    awaiting_validation: false,
                    validation_request: None,
                },
            );
        }
        if !added.is_empty() {
            if let Some(coordinator) = self.coordinator {
                let request_id = self.request_id();
                ctx.send(coordinator.node(), Message::OffsetFetch { request_id, group: self.group, partitions: added });
            }
        }
        self.schedule_poll(ctx);
    }

    /// No committed offset: `auto.offset.reset` decides (ListOffsets earliest, or latest = the HW).
    fn reset_position(&mut self, ctx: &mut Ctx, partition: PartitionIdx) {
        let Some(leader) = self.leaders[partition.index()].0 else {
            return self.refresh_metadata_and_retry(ctx, partition);
        };
        let request_id = self.request_id();
        let latest = self.config.auto_offset_reset == OffsetReset::Latest;
        ctx.send(leader.node(), Message::ListOffsets { request_id, partition, latest });
    }

    fn refresh_metadata_and_retry(&mut self, ctx: &mut Ctx, partition: PartitionIdx) {
        self.refresh_metadata(ctx);
        ctx.timer_after(self.config.retry_backoff.max(1), Timer::ConsumerFetchRetry { partition });
    }

    /// Keeps one fetch in flight per assigned partition (the Fetcher pre-fetches while the application works).
    fn fetch(&mut self, ctx: &mut Ctx, partition: PartitionIdx) {
        let Some(state) = self.assigned.get(&partition) else { return };
        if state.fetch_in_flight.is_some() || state.buffer.len() >= self.config.max_poll_records as usize {
            return;
        }
        let Some(position) = state.position else {
            return self.reset_position(ctx, partition);
        };
        let (Some(leader), epoch) = self.leaders[partition.index()] else {
            return self.refresh_metadata_and_retry(ctx, partition);
        };
        // `AbstractFetch.prepareFetchRequests`: no fetch goes to a node awaiting its reconnect backoff; it is tried
        // once the backoff has passed.
        if self.in_backoff(ctx, leader) {
            let until = self.node_backoff_until[leader.0 as usize];
            let state = self.assigned.get_mut(&partition).expect("assigned");
            if !state.fetch_waits_for_node {
                state.fetch_waits_for_node = true;
                ctx.timer_after(until - ctx.now, Timer::ConsumerFetchRetry { partition });
            }
            return;
        }
        if state.awaiting_validation {
            if state.validation_request.is_none() {
                self.send_validation(ctx, partition, leader, epoch);
            }
            return;
        }
        let offset = position_after_buffer(state, position);
        let fetch_id = self.request_id();
        let state = self.assigned.get_mut(&partition).expect("assigned");
        state.fetch_in_flight = Some(fetch_id);
        state.fetch_offset = offset;
        state.fetch_broker = leader;
        state.fetch_sent_at = ctx.now;
        ctx.send(
            leader.node(),
            Message::ConsumerFetch {
                fetch_id,
                partition,
                offset,
                current_leader_epoch: epoch,
                // `AbstractFetch.prepareFetchRequests`: a consumer sends no last fetched epoch; it detects
                // truncation by validating its position after a leader change instead (below).
                last_fetched_epoch: None,
                max_wait: self.config.fetch_max_wait,
            },
        );
        self.consider_deadline(ctx, ctx.now + self.config.request_timeout);
    }

    /// KIP-320 (`SubscriptionState.maybeValidatePositionForCurrentLeader`): a new leader epoch for an assigned
    /// partition puts its position up for validation. Records fetched but not yet returned are dropped (the partition
    /// is not fetchable until validated), and so is the answer of a fetch still out. A position with no epoch (nothing
    /// read yet) needs no validation.
    fn validate_position(&mut self, ctx: &mut Ctx, partition: PartitionIdx) {
        let Some(state) = self.assigned.get_mut(&partition) else { return };
        if state.position.is_none() || state.last_epoch.is_none() {
            return;
        }
        state.awaiting_validation = true;
        state.validation_request = None;
        state.buffer.clear();
        state.fetch_in_flight = None;
        self.fetch(ctx, partition);
    }

    /// `OffsetsForLeaderEpochClient`: asks the leader where the epoch of the last record read ends in its log.
    fn send_validation(&mut self, ctx: &mut Ctx, partition: PartitionIdx, leader: BrokerId, current_leader_epoch: u32) {
        let request_id = self.request_id();
        let state = self.assigned.get_mut(&partition).expect("assigned");
        let Some(leader_epoch) = state.last_epoch else { return };
        state.validation_request = Some(request_id);
        state.fetch_broker = leader;
        state.fetch_sent_at = ctx.now;
        ctx.send(
            leader.node(),
            Message::OffsetsForLeaderEpoch { request_id, partition, current_leader_epoch, leader_epoch },
        );
        self.consider_deadline(ctx, ctx.now + self.config.request_timeout);
    }

    /// `SubscriptionState.maybeCompleteValidation`: if the epoch of the last record read ends in the leader's log
    /// below the position, the log was truncated under the consumer (an unclean election): with a reset policy it
    /// seeks back to that end offset and says how far it went back. Otherwise the position stands.
    fn on_validation_response(
        &mut self,
        ctx: &mut Ctx,
        request_id: u64,
        partition: PartitionIdx,
        result: Result<Option<(u32, u64)>, KafkaError>,
    ) {
        let Some(state) = self.assigned.get_mut(&partition) else { return };
        if state.validation_request != Some(request_id) {
            return;
        }
        state.validation_request = None;
        let broker = state.fetch_broker;
        match result {
            Ok(None) => {
                // `OffsetFetcher.validatePositionsAsync`: an undefined epoch or end offset means the leader cannot
                // place the position at all, so it is reset by `auto.offset.reset`
                // (`requestOffsetResetIfPartitionAssigned`).
                state.awaiting_validation = false;
                state.buffer.clear();
                state.position = None;
                state.last_epoch = None;
                self.node_answered(broker);
                self.fetch(ctx, partition);
            }
            Ok(Some((epoch, end_offset))) => {
                state.awaiting_validation = false;
                let position = state.position.unwrap_or(0);
                if end_offset < position {
                    state.buffer.clear();
                    state.position = Some(end_offset);
                    state.last_epoch = Some(epoch);
                    ctx.trace(TraceKind::ConsumerTruncationDetected {
                        consumer: self.node,
                        partition,
                        from_offset: position,
                        to_offset: end_offset,
                    });
                }
                self.node_answered(broker);
                self.fetch(ctx, partition);
            }
            Err(error) => {
                if error == KafkaError::NetworkException {
                    self.node_failed(ctx, broker);
                }
                self.refresh_metadata_and_retry(ctx, partition);
            }
        }
    }

    fn on_fetch_response(&mut self, ctx: &mut Ctx, fetch_id: u64, partition: PartitionIdx, result: FetchResult) {
        let Some(state) = self.assigned.get_mut(&partition) else { return };
        if state.fetch_in_flight != Some(fetch_id) {
            return;
        }
        state.fetch_in_flight = None;
        let broker = state.fetch_broker;
        if matches!(result, FetchResult::Error(KafkaError::NetworkException)) {
            self.node_failed(ctx, broker);
        } else {
            self.node_answered(broker);
        }
        let Some(state) = self.assigned.get_mut(&partition) else { return };
        match result {
            FetchResult::Records { entries, high_watermark } => {
                state.high_watermark = high_watermark;
                let start = state.fetch_offset;
                if start != position_after_buffer(state, state.position.unwrap_or(0)) {
                    // The position moved while the fetch was out (a seek or a reset): these records are stale.
                    self.fetch(ctx, partition);
                    return;
                }
                for (i, entry) in entries.into_iter().enumerate() {
                    state.buffer.push_back((start + i as u64, entry));
                }
                let had_data = !state.buffer.is_empty();
                self.fetch(ctx, partition);
                if had_data && !self.busy && self.commit_sync.is_none() {
                    self.schedule_poll(ctx);
                }
            }
            FetchResult::Diverging { end_offset, .. } => {
                // KIP-320: the log was truncated below our position (an unclean election). With a reset policy the
                // consumer seeks to the first offset known to diverge and says so.
                let position = state.position.unwrap_or(0);
                state.buffer.clear();
                state.position = Some(end_offset.min(position));
                state.last_epoch = None;
                ctx.trace(TraceKind::ConsumerTruncationDetected {
                    consumer: self.node,
                    partition,
                    from_offset: position,
                    to_offset: end_offset.min(position),
                });
                self.fetch(ctx, partition);
            }
            FetchResult::Error(KafkaError::OffsetOutOfRange) => {
                state.position = None;
                state.buffer.clear();
                self.reset_position(ctx, partition);
            }
            FetchResult::Error(_) => self.refresh_metadata_and_retry(ctx, partition),
        }
    }

    /// The application calls poll() again: at once, or after `delay` (an empty poll waits for data). A newer
    /// schedule replaces an older one, so there is only ever one poll pending.
    fn schedule_poll_after(&mut self, ctx: &mut Ctx, delay: Micros) {
        if !self.busy {
            self.poll_token += 1;
            ctx.timer_after(delay, Timer::ConsumerPoll { token: self.poll_token });
        }
    }

    fn schedule_poll(&mut self, ctx: &mut Ctx) {
        self.schedule_poll_after(ctx, 0);
    }

    /// `KafkaConsumer.poll`: up to `max.poll.records` records from the fetched buffers, then processing.
    fn poll(&mut self, ctx: &mut Ctx) {
        if self.busy || self.commit_sync.is_some() {
            return;
        }
        self.last_poll = ctx.now;
        if self.poll_timeout_left {
            // The heartbeat thread left the group; this poll rejoins it (as a new member).
            self.poll_timeout_left = false;
            self.member_id = None;
            self.assigned.clear();
            self.find_coordinator(ctx);
            return;
        }
        if let Some((generation, assignment)) = self.pending_sync.take() {
            if generation == self.generation {
                self.apply_assignment(ctx, generation, assignment);
            }
        }
        if self.partitions_lost {
            self.partitions_lost = false;
            self.assigned.clear();
            self.committable.clear();
            self.processing_queue.clear();
        }
        if self.rejoin_needed && self.coordinator.is_some() && !self.coordinator_unknown {
            self.rejoin_needed = false;
            self.join(ctx);
        }
        let cooperative_rebalance =
            self.config.assignor.is_cooperative() && matches!(self.state, MemberState::Joining | MemberState::Syncing);
        // A member that only lost its coordinator keeps its partitions: KafkaConsumer.poll looks for the coordinator
        // (ConsumerCoordinator.poll, bounded by the poll's own timeout) and still returns the records it fetched.
        let coordinator_lost_only = self.state == MemberState::FindingCoordinator && self.resume_after_find;
        if self.state != MemberState::Stable && !cooperative_rebalance && !coordinator_lost_only {
            // Joining or syncing (poll blocks in the rebalance), or looking for the coordinator before joining. Each
            // poll is a new `ensureCoordinatorReady` call, whose backoff starts again from `retry.backoff.ms`.
            if self.state == MemberState::FindingCoordinator {
                self.lookup_failures = 0;
                self.find_coordinator(ctx);
            }
            return self.schedule_poll_after(ctx, EMPTY_POLL_WAIT);
        }
        if coordinator_lost_only {
            // ensureCoordinatorReady holds the poll for the poll's own timeout while the lookup fails; only then does
            // the poll return what was fetched. A coordinator found sooner (or fetched records) wakes the poll early;
            // the wait is counted from its start, and its backoff starts again with it.
            if self.waiting_for_coordinator_since.is_none() {
                self.lookup_failures = 0;
            }
            self.find_coordinator(ctx);
            let since = *self.waiting_for_coordinator_since.get_or_insert(ctx.now);
            if ctx.now < since + EMPTY_POLL_WAIT {
                return self.schedule_poll_after(ctx, since + EMPTY_POLL_WAIT - ctx.now);
            }
            self.waiting_for_coordinator_since = None;
        }
        // Auto-commit at poll: commit what the previous poll returned, every auto.commit.interval.ms (only to a known
        // coordinator: maybeAutoCommitOffsetsAsync waits for the lookup).
        if self.commit == CommitMode::Auto
            && !coordinator_lost_only
            && ctx.now >= self.last_auto_commit + self.config.auto_commit_interval
        {
            self.last_auto_commit = ctx.now;
            let offsets: Vec<(PartitionIdx, u64)> = self.committable.iter().map(|(p, o)| (*p, *o)).collect();
            self.send_commit(ctx, offsets);
        }
        let mut taken = 0;
        let max = self.config.max_poll_records as usize;
        let partitions: Vec<PartitionIdx> = self.assigned.keys().copied().collect();
        for partition in &partitions {
            let state = self.assigned.get_mut(partition).expect("assigned");
            while taken < max {
                let Some((offset, entry)) = state.buffer.pop_front() else { break };
                // The consumer-side checks: a poll that jumps over offsets skips records; one that goes back
                // without a new assignment repeats them.
                if let Some(&last) = self.last_polled.get(partition) {
                    if offset > last + 1 {
                        self.skips += offset - last - 1;
                    } else if offset <= last {
                        self.nonmonotonic += 1;
                    }
                }
                self.last_polled.insert(*partition, offset);
                state.position = Some(offset + 1);
                state.last_epoch = Some(entry.leader_epoch());
                self.processing_queue.push_back((*partition, offset, entry));
                taken += 1;
            }
        }
        for partition in partitions {
            self.fetch(ctx, partition);
        }
        if taken == 0 {
            // Nothing fetched yet: the application's poll(Duration) waits; it returns early when data arrives.
            self.schedule_poll_after(ctx, EMPTY_POLL_WAIT);
            return;
        }
        self.busy = true;
        let positions = self.positions();
        match self.commit {
            CommitMode::SyncBeforeProcessing => {
                // At most once: the offsets are committed before the records are processed.
                // Set first: a commitSync that ends at once (nothing to commit, or failed by the client) takes it.
                self.process_after_commit = true;
                if !self.commit_sync(ctx, positions) && std::mem::take(&mut self.process_after_commit) {
                    ctx.timer_after(self.processing, Timer::ConsumerProcess);
                }
            }
            _ => ctx.timer_after(self.processing, Timer::ConsumerProcess),
        }
    }

    /// One record finished processing; after the last one, commit (per mode) and poll again.
    fn process_next(&mut self, ctx: &mut Ctx, history: &mut Vec<Processed>) {
        let Some((partition, offset, entry)) = self.processing_queue.pop_front() else {
            return self.finish_batch(ctx);
        };
        history.push(Processed {
            consumer: self.index,
            group: self.group,
            partition,
            offset,
            record: entry.record,
            generation: self.generation,
            at: ctx.now,
        });
        if self.processing_queue.is_empty() {
            self.finish_batch(ctx);
        } else {
            ctx.timer_after(self.processing, Timer::ConsumerProcess);
        }
    }

    fn finish_batch(&mut self, ctx: &mut Ctx) {
        self.busy = false;
        let positions = self.positions();
        self.committable = positions.iter().copied().collect();
        match self.commit {
            CommitMode::SyncAfterProcessing => {
                if !self.commit_sync(ctx, positions) {
                    self.schedule_poll(ctx);
                }
            }
            CommitMode::AsyncAfterProcessing => {
                self.send_commit(ctx, positions);
                self.schedule_poll(ctx);
            }
            _ => self.schedule_poll(ctx),
        }
    }

    /// A broker's process died: requests in flight to it fail at once (NetworkClient disconnect).
    pub fn on_broker_disconnected(&mut self, ctx: &mut Ctx, broker: BrokerId) {
        if self.state == MemberState::Stopped {
            return;
        }
        self.node_failed(ctx, broker);
        let broken: Vec<PartitionIdx> = self
            .assigned
            .iter()
            .filter(|(_, s)| s.fetch_in_flight.is_some() && s.fetch_broker == broker)
            .map(|(p, _)| *p)
            .collect();
        for partition in broken {
            self.assigned.get_mut(&partition).expect("assigned").fetch_in_flight = None;
            self.refresh_metadata_and_retry(ctx, partition);
        }
        if self.coordinator == Some(broker) {
            self.on_coordinator_lost(ctx, broker);
        }
    }

    /// A commit's answer never came within `request.timeout.ms`: the connection is closed. A revocation's commit
    /// counts as failed and the rebalance goes on; a commitSync tries again.
    fn commit_timed_out(&mut self, ctx: &mut Ctx) {
        // The connection is closed, which fails the request with a DisconnectException, and
        // `CoordinatorResponseHandler.onFailure` marks the coordinator unknown, as for a refused commit. A member
        // that was committing before it rejoins looks for the coordinator, then rejoins.
        let revocation = self.revoke_commit.take().is_some();
        let sync_try = self.commit_in_flight.take();
        if revocation && self.revocation.is_none() {
            self.commit_failed(ctx, KafkaError::RequestTimedOut);
        }
        if let Some(abandoned) = sync_try {
            self.abandon_commit(abandoned);
        }
        if let Some(coordinator) = self.coordinator {
            self.coordinator_connection_failed(ctx, coordinator);
        }
        self.find_coordinator(ctx);
        if sync_try.is_some() {
            self.retry_commit_sync(ctx, KafkaError::RequestTimedOut);
        }
        if revocation {
            self.retry_revocation_commit(ctx, KafkaError::RequestTimedOut);
        }
    }

    /// Forgets a commit request whose connection was closed: a late answer to it is ignored.
    fn abandon_commit(&mut self, request_id: u64) {
        if self.abandoned_commits.len() == REMEMBERED_COMMITS {
            self.abandoned_commits.pop_front();
        }
        self.abandoned_commits.push_back(request_id);
    }

    /// `ConsumerCoordinator.sendOffsetCommitRequest`: without a stable generation (`generationIfStable()` is null)
    /// the client fails a commit at once, without a request. That is a member that left its group after a poll
    /// timeout or was fenced out of it (`CommitFailedException`, until its next poll rejoins), or one in a rebalance,
    /// which a cooperative member keeps processing through (`RebalanceInProgressException`).
    fn fails_without_stable_generation(&mut self, ctx: &mut Ctx) -> bool {
        let reset = self.poll_timeout_left || self.member_id.is_none() || self.partitions_lost;
        let rebalancing = matches!(self.state, MemberState::Joining | MemberState::Syncing);
        if !reset && !rebalancing {
            return false;
        }
        self.fail_commit_without_request(ctx, !reset);
        true
    }

    fn fail_commit_without_request(&mut self, ctx: &mut Ctx, rebalance_in_progress: bool) {
        self.commits_failed += 1;
        let (consumer, group) = (self.node, self.group);
        ctx.trace(TraceKind::CommitFailedNotInGroup { consumer, group, rebalance_in_progress });
    }

    fn commit_failed(&mut self, ctx: &mut Ctx, error: KafkaError) {
        self.commits_failed += 1;
        ctx.trace(TraceKind::CommitFailed { consumer: self.node, group: self.group, error });
    }

    /// `commitSync()`: commits `offsets` and blocks the poll loop until the commit succeeds, fails with an error that
    /// is not retriable, or `default.api.timeout.ms` runs out (`ConsumerCoordinator.commitOffsetsSync`). False when
    /// it is not pending after its first try: nothing to commit, or failed at once by the client.
    fn commit_sync(&mut self, ctx: &mut Ctx, offsets: Vec<(PartitionIdx, u64)>) -> bool {
        if offsets.is_empty() {
            return false;
        }
        self.commit_calls += 1;
        let token = self.commit_calls;
        let deadline = ctx.now + self.config.default_api_timeout;
        self.commit_sync =
            Some(CommitSync { offsets, deadline, token, tries: 0, deadline_armed: false, awaiting_coordinator: false });
        self.try_commit_sync(ctx, token);
        self.commit_sync.is_some()
    }

    /// One try of commitSync `token`: once the coordinator is known (`ensureCoordinatorReady`), the OffsetCommit.
    fn try_commit_sync(&mut self, ctx: &mut Ctx, token: u64) {
        if self.commit_sync.as_ref().is_none_or(|sync| sync.token != token) || self.commit_in_flight.is_some() {
            return;
        }
        if self.fails_without_stable_generation(ctx) {
            return self.end_commit_sync(ctx, None);
        }
        let Some(sync) = self.commit_sync.as_mut() else { return };
        // Wait while the coordinator is being looked up (`coordinatorUnknownAndUnreadySync`).
        if self.coordinator_unknown || self.coordinator.is_none() {
            Self::arm_commit_deadline(ctx, sync, Timer::ConsumerCommitDeadline { token });
            ctx.timer_after(self.config.retry_backoff.max(1), Timer::ConsumerCommitRetry { token });
            return;
        }
        sync.tries += 1;
        let offsets = sync.offsets.clone();
        self.commit_in_flight = self.send_commit(ctx, offsets);
    }

    /// A try of the commitSync failed with a retriable error: it tries again after the retry backoff, as long as
    /// `default.api.timeout.ms` lasts (a timer at the deadline ends it).
    fn retry_commit_sync(&mut self, ctx: &mut Ctx, error: KafkaError) {
        let Some(sync) = self.commit_sync.as_mut() else { return };
        let token = sync.token;
        Self::arm_commit_deadline(ctx, sync, Timer::ConsumerCommitDeadline { token });
        let tries = sync.tries;
        ctx.trace(TraceKind::CommitSyncRetry { consumer: self.node, group: self.group, error });
        let backoff = self.backoff(tries);
        ctx.timer_after(backoff, Timer::ConsumerCommitRetry { token });
    }

    /// The rejoin's commit failed with a retriable error: `onJoinPrepare` tries it again after `retry.backoff.ms`
    /// (once the coordinator is known again), until its time limit, which a timer ends. Nothing else to try: rejoin.
    fn retry_revocation_commit(&mut self, ctx: &mut Ctx, error: KafkaError) {
        let Some(revocation) = self.revocation.as_mut() else { return self.end_revocation_commit(ctx) };
        if ctx.now >= revocation.deadline {
            return self.give_up_revocation_commit(ctx);
        }
        let token = revocation.token;
        Self::arm_commit_deadline(ctx, revocation, Timer::ConsumerRevocationDeadline { token });
        let tries = revocation.tries;
        ctx.trace(TraceKind::RevocationCommitRetry { consumer: self.node, group: self.group, error });
        // `ConsumerCoordinator.onJoinPrepare` sleeps `retry.backoff.ms`; the application's commitSync backs off as
        // commitSync does (KIP-580).
        let backoff =
            if self.commit == CommitMode::Auto { self.config.retry_backoff.max(1) } else { self.backoff(tries) };
        ctx.timer_after(backoff, Timer::ConsumerRevocationRetry { token });
    }

    /// A retry of the rejoin's commit is due: sent at once if the coordinator is known, else as soon as a lookup
    /// finds it (`joinGroupIfNeeded` calls `ensureCoordinatorReady` before `onJoinPrepare`).
    fn try_revocation_commit(&mut self, ctx: &mut Ctx, token: u64) {
        if self.revocation.as_ref().is_none_or(|r| r.token != token) || self.revoke_commit.is_some() {
            return;
        }
        if self.member_id.is_none() || self.partitions_lost {
            // Fenced meanwhile (a heartbeat answered UNKNOWN_MEMBER_ID or ILLEGAL_GENERATION): with no stable
            // generation the client fails the commit without a request (`sendOffsetCommitRequest`:
            // CommitFailedException), and the member joins without it.
            self.fail_commit_without_request(ctx, false);
            return self.end_revocation_commit(ctx);
        }
        let Some(revocation) = self.revocation.as_mut() else { return };
        if self.coordinator_unknown || self.coordinator.is_none() {
            revocation.awaiting_coordinator = true;
            return;
        }
        revocation.awaiting_coordinator = false;
        revocation.tries += 1;
        let offsets = revocation.offsets.clone();
        self.revoke_commit = self.send_commit_request(ctx, offsets);
    }

    /// The rejoin's commit reached its time limit (`joinPrepareTimer.isExpired()`, or commitSync's
    /// `TimeoutException`): the member rejoins without it.
    fn give_up_revocation_commit(&mut self, ctx: &mut Ctx) {
        if let Some(abandoned) = self.revoke_commit.take() {
            self.abandon_commit(abandoned);
        }
        self.commits_failed += 1;
        let auto_commit = self.commit == CommitMode::Auto;
        ctx.trace(TraceKind::RevocationCommitGaveUp { consumer: self.node, group: self.group, auto_commit });
        self.end_revocation_commit(ctx);
    }

    /// The rejoin's commit is done (committed, failed for good, or given up): the JoinGroup goes out.
    fn end_revocation_commit(&mut self, ctx: &mut Ctx) {
        self.revocation = None;
        if let (MemberState::Joining, Some(coordinator)) = (self.state, self.coordinator) {
            self.send_join_group(ctx, coordinator);
        }
    }

    /// Sets `timer` at the commit's deadline, once.
    fn arm_commit_deadline(ctx: &mut Ctx, commit: &mut CommitSync, timer: Timer) {
        if !std::mem::replace(&mut commit.deadline_armed, true) {
            ctx.timer_after(commit.deadline.saturating_sub(ctx.now), timer);
        }
    }

    /// The wait before retrying after `failures` failed tries in a row (KIP-580, as the producer's).
    fn backoff(&mut self, failures: u32) -> Micros {
        let wait = crate::producer::exponential_backoff(
            self.config.retry_backoff,
            self.config.retry_backoff_max,
            failures,
            &mut self.rng,
        );
        wait.max(1)
    }

    /// The commitSync returns (committed, or its exception reached the application, which goes on): the poll loop
    /// resumes, or commit-before-processing processes what it polled. Answered by the coordinator, the first record
    /// is taken at once; after a timeout, one processing time later.
    fn end_commit_sync(&mut self, ctx: &mut Ctx, answered: Option<&mut Vec<Processed>>) {
        self.commit_sync = None;
        if let Some(abandoned) = self.commit_in_flight.take() {
            // Ended by the deadline with a try still out (`client.poll(future, timer)` stops waiting for it).
            self.abandon_commit(abandoned);
        }
        if std::mem::take(&mut self.process_after_commit) {
            match answered {
                Some(history) => self.process_next(ctx, history),
                None => ctx.timer_after(self.processing, Timer::ConsumerProcess),
            }
        } else {
            self.schedule_poll(ctx);
        }
    }

    /// The coordinator is unreachable: requests waiting on it fail, and the consumer looks for the new one.
    fn on_coordinator_lost(&mut self, ctx: &mut Ctx, _broker: BrokerId) {
        {
            if let Some(abandoned) = self.commit_in_flight.take() {
                self.abandon_commit(abandoned);
                self.retry_commit_sync(ctx, KafkaError::NetworkException);
            }
            if self.revoke_commit.take().is_some() {
                if self.revocation.is_some() {
                    self.retry_revocation_commit(ctx, KafkaError::NetworkException);
                } else if let MemberState::Joining = self.state {
                    self.rejoin_needed = true;
                }
            }
            self.find_coordinator(ctx);
            self.schedule_poll(ctx);
        }
    }

    /// Lag per assigned partition: the HW last seen minus the position.
    pub fn lag(&self) -> Vec<(PartitionIdx, u64, u64)> {
        self.assigned
            .iter()
            .map(|(p, s)| (*p, s.position.unwrap_or(0), s.high_watermark.saturating_sub(s.position.unwrap_or(0))))
            .collect()
    }
}

/// One more failed connection in a row (unless its backoff still runs: several requests on the one connection count
/// once): the connection is left alone until `backoff_until`. Returns whether it counted.
fn reconnect_backoff(now: Micros, failures: &mut u32, backoff_until: &mut Micros, rng: &mut ChaCha8Rng) -> bool {
    if now < *backoff_until {
        return false;
    }
    *failures += 1;
    let backoff = crate::producer::exponential_backoff(
        crate::producer::RECONNECT_BACKOFF,
        crate::producer::RECONNECT_BACKOFF_MAX,
        *failures,
        rng,
    );
    *backoff_until = now + backoff.max(1);
    true
}

/// The offset after the records already buffered: where the next fetch continues.
fn position_after_buffer(state: &PartitionState, position: u64) -> u64 {
    state.buffer.back().map(|(offset, _)| offset + 1).unwrap_or(position)
}
