//! The group coordinator, as brokers run it for the groups whose `__consumer_offsets` partition they lead: the
//! classic protocol's JoinGroup, SyncGroup, Heartbeat and LeaveGroup, generations, session expiry, and offset
//! commits written to the offsets partition like any other record.
//!
//! The rules follow Kafka's `GroupCoordinator` / `GroupMetadata` (classic protocol): states Empty,
//! PreparingRebalance, CompletingRebalance, Stable and Dead; every completed join bumps the generation; commits and
//! heartbeats from another generation are rejected.

use crate::assignor::AssignorKind;
use crate::broker::{Broker, Role};
use crate::ctx::{Ctx, Timer};
use crate::ids::{NodeId, PartitionIdx, RecordId};
use crate::log::LogEntry;
use crate::message::{JoinRequest, JoinResult, KafkaError, MemberId, Message};
use crate::time::Micros;
use crate::trace::TraceKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `abs(groupId.hashCode()) % offsets.topic.num.partitions` with Java's `String.hashCode` and Kafka's `Utils.abs`
/// (which maps `Integer.MIN_VALUE` to 0).
pub fn offsets_partition_for(group_id: &str, partitions: u32) -> u32 {
    let mut h: i32 = 0;
    for unit in group_id.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(unit as i32);
    }
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs as u32 % partitions
}

/// A record the coordinator writes to `__consumer_offsets`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum InternalRecord {
    OffsetCommit {
        group: u32,
        partition: PartitionIdx,
        offset: u64,
    },
    /// The group as of a completed rebalance, so that a new coordinator can carry on without another one.
    GroupMetadata {
        group: u32,
        generation: u32,
        protocol: AssignorKind,
        leader: Option<MemberId>,
        next_member: u32,
        members: Vec<MemberRecord>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub id: MemberId,
    pub node: NodeId,
    pub topics: Vec<u32>,
    /// The rest of its subscription as its last JoinGroup sent it (`GroupMetadataValue` keeps the member's protocol
    /// metadata whole): the partitions it owned then, and its generation then (KIP-792).
    #[serde(default)]
    pub owned: Vec<PartitionIdx>,
    #[serde(default)]
    pub subscription_generation: u32,
    pub assignment: Vec<PartitionIdx>,
    pub session_timeout: Micros,
    pub rebalance_timeout: Micros,
}

/// The payloads of every internal record written so far; log entries point into it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct InternalRecords {
    pub records: Vec<InternalRecord>,
}

impl InternalRecords {
    pub fn push(&mut self, record: InternalRecord) -> RecordId {
        self.records.push(record);
        RecordId(self.records.len() as u32 - 1)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Member {
    pub id: MemberId,
    pub node: NodeId,
    pub topics: Vec<u32>,
    pub owned: Vec<PartitionIdx>,
    pub assignment: Vec<PartitionIdx>,
    pub session_timeout: Micros,
    pub rebalance_timeout: Micros,
    pub last_heartbeat: Micros,
    /// It has (re)joined in the current rebalance and waits for the JoinGroup answer.
    pub joined: bool,
    /// It waits for the SyncGroup answer.
    pub syncing: bool,
    /// The generation in its last JoinGroup's subscription metadata.
    pub subscription_generation: u32,
    /// The request ids of the JoinGroup and SyncGroup it waits on, which their answers carry back.
    pub join_request: u64,
    pub sync_request: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Group {
    pub state: GroupState,
    pub generation: u32,
    pub protocol: AssignorKind,
    pub leader: Option<MemberId>,
    pub members: BTreeMap<MemberId, Member>,
    pub committed: BTreeMap<PartitionIdx, u64>,
    /// When the current join phase ends even if some members have not rejoined.
    pub rebalance_deadline: Micros,
    /// The first rebalance of an empty group waits `group.initial.rebalance.delay.ms` for more members.
    pub initial_delay: bool,
    pub next_member: u32,
}

impl Group {
    fn new(protocol: AssignorKind) -> Self {
        Group {
            state: GroupState::Empty,
            generation: 0,
            protocol,
            leader: None,
            members: BTreeMap::new(),
            committed: BTreeMap::new(),
            rebalance_deadline: 0,
            initial_delay: false,
            next_member: 0,
        }
    }
}

/// An offset commit appended to the offsets log and waiting for its high watermark.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingCommit {
    pub node: NodeId,
    pub request_id: u64,
    pub group: u32,
    pub offsets: Vec<(PartitionIdx, u64)>,
    pub required_offset: u64,
    /// When `offsets.commit.timeout.ms` runs out for it (commits wait in arrival order, so deadlines only grow).
    pub deadline: Micros,
}

impl Broker {
    /// The offsets partition of a group.
    fn offsets_partition(ctx: &Ctx, group: u32) -> Option<PartitionIdx> {
        let topic = ctx.topo.offsets_topic?;
        let count = ctx.topo.topics[topic].partitions;
        Some(ctx.topo.partition_idx(topic, offsets_partition_for(&ctx.topo.groups[group as usize], count)))
    }

    /// Is this broker the group's coordinator now (leader of its offsets partition)?
    fn coordinates(&self, ctx: &Ctx, group: u32) -> bool {
        Self::offsets_partition(ctx, group)
            .is_some_and(|p| self.replicas[p.index()].as_ref().is_some_and(|r| matches!(r.role, Role::Leader(_))))
    }

    pub(crate) fn handle_group_message(&mut self, ctx: &mut Ctx, from: NodeId, message: Message) {
        match message {
            Message::FindCoordinator { request_id, group } => {
                let coordinator = Self::offsets_partition(ctx, group).and_then(|p| self.metadata[p.index()].leader);
                ctx.send(from, Message::FindCoordinatorResponse { request_id, coordinator, refused: false });
            }
            Message::JoinGroup { group, join } => {
                if !self.coordinates(ctx, group) {
                    let result = Err(KafkaError::NotCoordinator);
                    return ctx.send(from, Message::JoinGroupResponse { request_id: join.request_id, group, result });
                }
                self.join(ctx, from, group, join);
            }
            Message::SyncGroup { request_id, group, generation, member_id, assignments } => {
                if !self.coordinates(ctx, group) {
                    let result = Err(KafkaError::NotCoordinator);
                    return ctx.send(from, Message::SyncGroupResponse { request_id, group, generation, result });
                }
                self.sync(ctx, from, group, request_id, generation, member_id, assignments);
            }
            Message::Heartbeat { group, generation, member_id } => {
                let error = if !self.coordinates(ctx, group) {
                    Some(KafkaError::NotCoordinator)
                } else {
                    self.heartbeat(ctx, group, generation, member_id)
                };
                ctx.send(from, Message::HeartbeatResponse { group, error });
            }
            Message::LeaveGroup { group, member_id } if self.coordinates(ctx, group) => {
                self.remove_member(ctx, group, member_id, "left the group");
            }
            Message::OffsetCommit { request_id, group, generation, member_id, offsets } => {
                if !self.coordinates(ctx, group) {
                    return ctx.send(
                        from,
                        Message::OffsetCommitResponse { request_id, result: Err(KafkaError::NotCoordinator) },
                    );
                }
                self.commit(ctx, from, request_id, group, generation, member_id, offsets);
            }
            Message::OffsetFetch { request_id, group, partitions } => {
                let result = if !self.coordinates(ctx, group) {
                    Err(KafkaError::NotCoordinator)
                } else {
                    let committed = self.groups.get(&group).map(|g| &g.committed);
                    Ok(partitions.iter().map(|p| (*p, committed.and_then(|c| c.get(p).copied()))).collect())
                };
                ctx.send(from, Message::OffsetFetchResponse { request_id, result });
            }
            _ => {}
        }
    }

    fn join(&mut self, ctx: &mut Ctx, from: NodeId, group_idx: u32, request: JoinRequest) {
        let JoinRequest {
            request_id,
            member_id,
            generation,
            topics,
            owned,
            session_timeout,
            rebalance_timeout,
            protocol,
        } = request;
        let now = ctx.now;
        let delay = ctx.config().group_initial_rebalance_delay;
        let group = self.groups.entry(group_idx).or_insert_with(|| Group::new(protocol));
        let id = match member_id {
            Some(id) if !group.members.contains_key(&id) => {
                let result = Err(KafkaError::UnknownMemberId);
                return ctx.send(from, Message::JoinGroupResponse { request_id, group: group_idx, result });
            }
            Some(id) => id,
            None => {
                group.next_member += 1;
                MemberId(group.next_member)
            }
        };
        // `GroupCoordinator.updateMemberAndRebalance` vs. "just return group information": a known member that rejoins
        // a Stable or CompletingRebalance group with the same metadata (subscribed topics, owned partitions and its
        // generation: it missed its JoinGroup answer) gets the current generation back without a rebalance; the leader
        // rejoining a Stable group, or a member whose metadata changed (it took the generation from a JoinGroup answer
        // and missed the SyncGroup one, or gave partitions up cooperatively), starts one.
        let known = group.members.get(&id).map(|m| {
            let same = m.topics == topics && m.owned == owned && m.subscription_generation == generation;
            (same, Some(id) == group.leader)
        });
        let reason = match (group.state, known) {
            (GroupState::Stable, Some((_, true))) => "the leader rejoined",
            (GroupState::Stable | GroupState::CompletingRebalance, Some((true, is_leader))) => {
                let member = group.members.get_mut(&id).expect("known");
                member.node = from;
                let members = if is_leader {
                    group.members.values().map(|m| (m.id, m.topics.clone(), m.owned.clone())).collect()
                } else {
                    Vec::new()
                };
                let leader = group.leader.expect("a group with members has a leader");
                let result = Ok(JoinResult { generation: group.generation, member_id: id, leader, protocol, members });
                return ctx.send(from, Message::JoinGroupResponse { request_id, group: group_idx, result });
            }
            (_, Some((false, _))) => "a member rejoined with new metadata",
            (_, Some((true, _))) => "a member rejoined",
            (_, None) => "a member joined",
        };
        let member = group.members.entry(id).or_insert_with(|| Member {
            id,
            node: from,
            topics: Vec::new(),
            owned: Vec::new(),
            assignment: Vec::new(),
            session_timeout,
            rebalance_timeout,
            last_heartbeat: now,
            joined: false,
            syncing: false,
            subscription_generation: 0,
            join_request: 0,
            sync_request: 0,
        });
        member.node = from;
        member.subscription_generation = generation;
        member.join_request = request_id;
        member.topics = topics;
        member.owned = owned;
        member.session_timeout = session_timeout;
        member.rebalance_timeout = rebalance_timeout;
        member.last_heartbeat = now;
        member.joined = true;
        member.syncing = false;
        group.protocol = protocol;
        ctx.out.timers.push((now + session_timeout, Timer::MemberSession { group: group_idx, member: id }));
        match group.state {
            GroupState::Empty | GroupState::Dead => {
                // InitialDelayedJoin: an empty group waits group.initial.rebalance.delay.ms for more members.
                group.state = GroupState::PreparingRebalance;
                group.initial_delay = delay > 0;
                group.rebalance_deadline = now + delay.min(rebalance_timeout);
                ctx.trace(TraceKind::RebalanceStarted {
                    group: group_idx,
                    generation: group.generation,
                    reason: "first member joined",
                });
            }
            GroupState::Stable | GroupState::CompletingRebalance => {
                group.state = GroupState::PreparingRebalance;
                group.initial_delay = false;
                group.rebalance_deadline = now + group.members.values().map(|m| m.rebalance_timeout).max().unwrap_or(0);
                fail_waiting_syncs(ctx, group_idx, group, KafkaError::RebalanceInProgress);
                ctx.trace(TraceKind::RebalanceStarted { group: group_idx, generation: group.generation, reason });
            }
            GroupState::PreparingRebalance => {
                if group.initial_delay {
                    // Each new member during the initial delay extends it, up to the rebalance timeout.
                    group.rebalance_deadline = (now + delay).min(now + rebalance_timeout).max(group.rebalance_deadline);
                }
            }
        }
        let deadline = group.rebalance_deadline;
        ctx.out.timers.push((deadline, Timer::RebalanceDeadline { group: group_idx }));
        self.maybe_complete_join(ctx, group_idx);
    }

    /// Ends the join phase when every member has rejoined (and no initial delay runs), or at the deadline.
    fn maybe_complete_join(&mut self, ctx: &mut Ctx, group_idx: u32) {
        let now = ctx.now;
        let Some(group) = self.groups.get_mut(&group_idx) else { return };
        if group.state != GroupState::PreparingRebalance {
            return;
        }
        let all_joined = group.members.values().all(|m| m.joined);
        let deadline_passed = now >= group.rebalance_deadline;
        if !(deadline_passed || (all_joined && !group.initial_delay)) {
            return;
        }
        // Members that did not rejoin in time are removed (GroupCoordinator.onCompleteJoin).
        let gone: Vec<MemberId> = group.members.values().filter(|m| !m.joined).map(|m| m.id).collect();
        for id in gone {
            group.members.remove(&id);
            ctx.trace(TraceKind::MemberRemoved { group: group_idx, member: id, reason: "did not rejoin in time" });
        }
        group.generation += 1;
        group.initial_delay = false;
        if group.members.is_empty() {
            group.state = GroupState::Empty;
            group.leader = None;
            return;
        }
        if group.leader.is_none_or(|l| !group.members.contains_key(&l)) {
            group.leader = group.members.keys().next().copied();
        }
        group.state = GroupState::CompletingRebalance;
        let leader = group.leader.expect("a member leads");
        let everyone: Vec<(MemberId, Vec<u32>, Vec<PartitionIdx>)> =
            group.members.values().map(|m| (m.id, m.topics.clone(), m.owned.clone())).collect();
        ctx.trace(TraceKind::GenerationStarted {
            group: group_idx,
            generation: group.generation,
            members: group.members.len() as u32,
            leader,
        });
        for member in group.members.values_mut() {
            member.joined = false;
            let result = JoinResult {
                generation: group.generation,
                member_id: member.id,
                leader,
                protocol: group.protocol,
                members: if member.id == leader { everyone.clone() } else { Vec::new() },
            };
            let request_id = member.join_request;
            ctx.out
                .sends
                .push((member.node, Message::JoinGroupResponse { request_id, group: group_idx, result: Ok(result) }));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn sync(
        &mut self,
        ctx: &mut Ctx,
        from: NodeId,
        group_idx: u32,
        request_id: u64,
        generation: u32,
        member_id: MemberId,
        assignments: Vec<(MemberId, Vec<PartitionIdx>)>,
    ) {
        let Some(group) = self.groups.get_mut(&group_idx) else {
            let result = Err(KafkaError::UnknownMemberId);
            return ctx.send(from, Message::SyncGroupResponse { request_id, group: group_idx, generation, result });
        };
        let error = if !group.members.contains_key(&member_id) {
            Some(KafkaError::UnknownMemberId)
        } else if generation != group.generation {
            Some(KafkaError::IllegalGeneration)
        } else if group.state == GroupState::PreparingRebalance {
            Some(KafkaError::RebalanceInProgress)
        } else {
            None
        };
        if let Some(error) = error {
            let result = Err(error);
            return ctx.send(from, Message::SyncGroupResponse { request_id, group: group_idx, generation, result });
        }
        if group.state == GroupState::Stable {
            let result = Ok(group.members[&member_id].assignment.clone());
            return ctx.send(from, Message::SyncGroupResponse { request_id, group: group_idx, generation, result });
        }
        let member = group.members.get_mut(&member_id).expect("checked");
        member.syncing = true;
        member.sync_request = request_id;
        if Some(member_id) != group.leader {
            return;
        }
        // The leader's SyncGroup carries everyone's assignment: the group is Stable and every waiting member gets
        // its share.
        for member in group.members.values_mut() {
            member.assignment =
                assignments.iter().find(|(id, _)| *id == member.id).map(|(_, a)| a.clone()).unwrap_or_default();
        }
        group.state = GroupState::Stable;
        ctx.trace(TraceKind::GroupStable { group: group_idx, generation });
        for member in group.members.values_mut().filter(|m| m.syncing) {
            member.syncing = false;
            let result = Ok(member.assignment.clone());
            let request_id = member.sync_request;
            ctx.out
                .sends
                .push((member.node, Message::SyncGroupResponse { request_id, group: group_idx, generation, result }));
        }
        let record = InternalRecord::GroupMetadata {
            group: group_idx,
            generation,
            protocol: group.protocol,
            leader: group.leader,
            next_member: group.next_member,
            members: group
                .members
                .values()
                .map(|m| MemberRecord {
                    id: m.id,
                    node: m.node,
                    topics: m.topics.clone(),
                    owned: m.owned.clone(),
                    subscription_generation: m.subscription_generation,
                    assignment: m.assignment.clone(),
                    session_timeout: m.session_timeout,
                    rebalance_timeout: m.rebalance_timeout,
                })
                .collect(),
        };
        self.append_internal(ctx, group_idx, vec![record]);
    }

    fn heartbeat(&mut self, ctx: &mut Ctx, group_idx: u32, generation: u32, member_id: MemberId) -> Option<KafkaError> {
        let now = ctx.now;
        let Some(group) = self.groups.get_mut(&group_idx) else { return Some(KafkaError::UnknownMemberId) };
        let Some(member) = group.members.get_mut(&member_id) else { return Some(KafkaError::UnknownMemberId) };
        member.last_heartbeat = now;
        ctx.out
            .timers
            .push((now + member.session_timeout, Timer::MemberSession { group: group_idx, member: member_id }));
        if generation != group.generation {
            return Some(KafkaError::IllegalGeneration);
        }
        match group.state {
            GroupState::PreparingRebalance => Some(KafkaError::RebalanceInProgress),
            _ => None,
        }
    }

    /// A member leaves (LeaveGroup) or its session expired: the others must rebalance.
    pub(crate) fn remove_member(&mut self, ctx: &mut Ctx, group_idx: u32, member_id: MemberId, reason: &'static str) {
        let now = ctx.now;
        let Some(group) = self.groups.get_mut(&group_idx) else { return };
        if group.members.remove(&member_id).is_none() {
            return;
        }
        ctx.trace(TraceKind::MemberRemoved { group: group_idx, member: member_id, reason });
        match group.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                if group.members.is_empty() {
                    group.state = GroupState::Empty;
                    group.generation += 1;
                    group.leader = None;
                    return;
                }
                group.state = GroupState::PreparingRebalance;
                group.rebalance_deadline = now + group.members.values().map(|m| m.rebalance_timeout).max().unwrap_or(0);
                // `prepareRebalance` -> `resetAndPropagateAssignmentError`: followers waiting on SyncGroup learn now.
                fail_waiting_syncs(ctx, group_idx, group, KafkaError::RebalanceInProgress);
                for m in group.members.values_mut() {
                    m.joined = false;
                }
                ctx.trace(TraceKind::RebalanceStarted { group: group_idx, generation: group.generation, reason });
                let deadline = group.rebalance_deadline;
                ctx.out.timers.push((deadline, Timer::RebalanceDeadline { group: group_idx }));
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(ctx, group_idx),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    pub(crate) fn on_group_timer(&mut self, ctx: &mut Ctx, timer: Timer) {
        match timer {
            Timer::RebalanceDeadline { group } => self.maybe_complete_join(ctx, group),
            Timer::MemberSession { group, member } => {
                let expired = self
                    .groups
                    .get(&group)
                    .and_then(|g| g.members.get(&member))
                    .is_some_and(|m| ctx.now >= m.last_heartbeat + m.session_timeout);
                if expired && self.coordinates(ctx, group) {
                    self.remove_member(ctx, group, member, "session.timeout.ms expired");
                }
            }
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn commit(
        &mut self,
        ctx: &mut Ctx,
        from: NodeId,
        request_id: u64,
        group_idx: u32,
        generation: u32,
        member_id: MemberId,
        offsets: Vec<(PartitionIdx, u64)>,
    ) {
        let reject = |ctx: &mut Ctx, error: KafkaError| {
            ctx.trace(TraceKind::CommitRejected { group: group_idx, member: member_id, generation, error });
            ctx.send(from, Message::OffsetCommitResponse { request_id, result: Err(error) });
        };
        // GroupCoordinator.handleCommitOffsets: only the current generation's members may commit, and not while a
        // rebalance is in progress; a zombie's commit cannot overwrite the new owner's progress.
        let Some(group) = self.groups.get(&group_idx) else { return reject(ctx, KafkaError::UnknownMemberId) };
        if !group.members.contains_key(&member_id) {
            return reject(ctx, KafkaError::UnknownMemberId);
        }
        if generation != group.generation {
            return reject(ctx, KafkaError::IllegalGeneration);
        }
        // Commits are taken while Stable and while PreparingRebalance (members commit as they revoke); only
        // CompletingRebalance answers REBALANCE_IN_PROGRESS (GroupCoordinator.doCommitOffsets).
        if group.state == GroupState::CompletingRebalance {
            return reject(ctx, KafkaError::RebalanceInProgress);
        }
        // The commit is a produce with acks=all to the offsets partition (GroupMetadataManager.appendForGroup): with
        // fewer in-sync replicas than min.insync.replicas nothing is appended, and storeOffsets turns the
        // NOT_ENOUGH_REPLICAS into COORDINATOR_NOT_AVAILABLE.
        let partition = Self::offsets_partition(ctx, group_idx).expect("coordinates");
        let min_isr = ctx.topo.partition(partition).effective_min_insync_replicas();
        if let Some(crate::broker::Replica { role: Role::Leader(state), .. }) =
            self.replicas[partition.index()].as_ref()
        {
            if state.isr.len() < min_isr {
                let error = KafkaError::CoordinatorNotAvailable;
                ctx.trace(TraceKind::CommitNotReplicated { group: group_idx, partitions: offsets.len() as u32, error });
                return ctx.send(from, Message::OffsetCommitResponse { request_id, result: Err(error) });
            }
        }
        let records = offsets
            .iter()
            .map(|&(partition, offset)| InternalRecord::OffsetCommit { group: group_idx, partition, offset })
            .collect();
        let Some(required_offset) = self.append_internal(ctx, group_idx, records) else {
            return reject(ctx, KafkaError::NotCoordinator);
        };
        let deadline = ctx.now + ctx.config().offsets_commit_timeout;
        let pending = PendingCommit { node: from, request_id, group: group_idx, offsets, required_offset, deadline };
        if let Some(crate::broker::Replica { role: Role::Leader(state), .. }) =
            self.replicas[partition.index()].as_mut()
        {
            state.waiting_commits.push_back(pending);
        }
        // The offsets partition may be committed at once (a single in-sync replica).
        self.complete_commits(ctx, partition);
        self.arm_commit_timer(ctx);
    }

    /// The earliest deadline of the offset commits waiting in this broker's offsets partitions.
    fn earliest_commit_deadline(&self, ctx: &Ctx) -> Option<Micros> {
        let topic = ctx.topo.offsets_topic?;
        (0..ctx.topo.topics[topic].partitions)
            .filter_map(|p| match self.replicas[ctx.topo.partition_idx(topic, p).index()].as_ref() {
                Some(crate::broker::Replica { role: Role::Leader(state), .. }) => {
                    state.waiting_commits.front().map(|c| c.deadline)
                }
                _ => None,
            })
            .min()
    }

    /// One timer per broker for all waiting offset commits, set for the earliest deadline.
    pub(crate) fn arm_commit_timer(&mut self, ctx: &mut Ctx) {
        let earliest = self.earliest_commit_deadline(ctx);
        ctx.arm_coalesced(&mut self.commit_timer_at, earliest, |at| Timer::OffsetCommitTimeout { at });
    }

    /// `offsets.commit.timeout.ms` ran out for the commits still waiting for their offsets partition's high
    /// watermark: the delayed produce expires, and the commit is answered REQUEST_TIMED_OUT (which `storeOffsets`
    /// passes on as it is) without taking its offsets.
    pub(crate) fn expire_commits(&mut self, ctx: &mut Ctx) {
        let Some(topic) = ctx.topo.offsets_topic else { return };
        for p in 0..ctx.topo.topics[topic].partitions {
            let partition = ctx.topo.partition_idx(topic, p);
            let Some(crate::broker::Replica { role: Role::Leader(state), .. }) =
                self.replicas[partition.index()].as_mut()
            else {
                continue;
            };
            while state.waiting_commits.front().is_some_and(|c| c.deadline <= ctx.now) {
                let commit = state.waiting_commits.pop_front().expect("front exists");
                let error = KafkaError::RequestTimedOut;
                let partitions = commit.offsets.len() as u32;
                ctx.trace(TraceKind::CommitNotReplicated { group: commit.group, partitions, error });
                ctx.send(
                    commit.node,
                    Message::OffsetCommitResponse { request_id: commit.request_id, result: Err(error) },
                );
            }
        }
        self.arm_commit_timer(ctx);
    }

    /// Appends internal records to the group's offsets partition, as its leader; returns the offset the high
    /// watermark must reach for them to be committed.
    fn append_internal(&mut self, ctx: &mut Ctx, group: u32, records: Vec<InternalRecord>) -> Option<u64> {
        let partition = Self::offsets_partition(ctx, group)?;
        let me = self.id;
        let replica = self.replicas[partition.index()].as_mut()?;
        if !matches!(replica.role, Role::Leader(_)) {
            return None;
        }
        let leader_epoch = replica.leader_epoch;
        let base_offset = replica.log.log_end_offset();
        let count = records.len() as u32;
        for (i, record) in records.into_iter().enumerate() {
            let id = ctx.internal.push(record);
            replica.log.append(LogEntry::new(leader_epoch, id, 0, -1, i == 0));
        }
        ctx.trace(TraceKind::Appended { broker: me, partition, base_offset, records: count, leader_epoch });
        self.after_leader_append(ctx, partition, base_offset);
        self.complete_fetches_with_new_records(ctx);
        Some(base_offset + count as u64)
    }

    /// Answers commits whose records are now below the high watermark, and records their offsets.
    pub(crate) fn complete_commits(&mut self, ctx: &mut Ctx, partition: PartitionIdx) {
        let Some(replica) = self.replicas[partition.index()].as_mut() else { return };
        let high_watermark = replica.high_watermark;
        let Role::Leader(state) = &mut replica.role else { return };
        let mut done = Vec::new();
        while state.waiting_commits.front().is_some_and(|c| c.required_offset <= high_watermark) {
            done.push(state.waiting_commits.pop_front().expect("front exists"));
        }
        for commit in done {
            if let Some(group) = self.groups.get_mut(&commit.group) {
                for &(p, offset) in &commit.offsets {
                    group.committed.insert(p, offset);
                }
            }
            ctx.trace(TraceKind::OffsetsCommitted { group: commit.group, partitions: commit.offsets.len() as u32 });
            ctx.send(commit.node, Message::OffsetCommitResponse { request_id: commit.request_id, result: Ok(()) });
        }
    }

    /// A broker that becomes leader of an offsets partition loads its groups from the log (commits and the last
    /// group metadata per group), as `GroupMetadataManager.loadGroupsAndOffsets` does.
    pub(crate) fn load_groups(&mut self, ctx: &mut Ctx, partition: PartitionIdx) {
        let Some(topic) = ctx.topo.offsets_topic else { return };
        if ctx.topo.partition(partition).topic != topic {
            return;
        }
        let now = ctx.now;
        let replica = self.replicas[partition.index()].as_ref().expect("hosted");
        let mut loaded: BTreeMap<u32, Group> = BTreeMap::new();
        for entry in replica.log.entries().iter() {
            match &ctx.internal.records[entry.record.index()] {
                InternalRecord::OffsetCommit { group, partition, offset } => {
                    loaded
                        .entry(*group)
                        .or_insert_with(|| Group::new(AssignorKind::Range))
                        .committed
                        .insert(*partition, *offset);
                }
                InternalRecord::GroupMetadata { group, generation, protocol, leader, next_member, members } => {
                    let g = loaded.entry(*group).or_insert_with(|| Group::new(*protocol));
                    g.generation = *generation;
                    g.protocol = *protocol;
                    g.leader = *leader;
                    g.next_member = *next_member;
                    g.state = if members.is_empty() { GroupState::Empty } else { GroupState::Stable };
                    g.members = members
                        .iter()
                        .map(|m| {
                            (
                                m.id,
                                Member {
                                    id: m.id,
                                    node: m.node,
                                    topics: m.topics.clone(),
                                    owned: m.owned.clone(),
                                    assignment: m.assignment.clone(),
                                    session_timeout: m.session_timeout,
                                    rebalance_timeout: m.rebalance_timeout,
                                    last_heartbeat: now,
                                    joined: false,
                                    syncing: false,
                                    subscription_generation: m.subscription_generation,
                                    join_request: 0,
                                    sync_request: 0,
                                },
                            )
                        })
                        .collect();
                }
            }
        }
        for (group, state) in loaded {
            for member in state.members.values() {
                ctx.out.timers.push((now + member.session_timeout, Timer::MemberSession { group, member: member.id }));
            }
            ctx.trace(TraceKind::GroupLoaded { broker: self.id, group, generation: state.generation });
            self.groups.insert(group, state);
        }
    }

    /// A broker that stops leading an offsets partition drops its groups (they are Dead here now).
    ///
    /// `GroupCoordinator.onGroupUnloaded`: members waiting on a JoinGroup or a SyncGroup are answered
    /// NOT_COORDINATOR, so they look for the new coordinator at once.
    pub(crate) fn unload_groups(&mut self, ctx: &mut Ctx, partition: PartitionIdx) {
        let Some(topic) = ctx.topo.offsets_topic else { return };
        if ctx.topo.partition(partition).topic != topic {
            return;
        }
        let count = ctx.topo.topics[topic].partitions;
        let index = ctx.topo.partition(partition).partition;
        let unloaded: Vec<u32> = self
            .groups
            .keys()
            .copied()
            .filter(|&g| offsets_partition_for(&ctx.topo.groups[g as usize], count) == index)
            .collect();
        for group_idx in unloaded {
            let mut group = self.groups.remove(&group_idx).expect("listed");
            if group.state == GroupState::PreparingRebalance {
                for m in group.members.values().filter(|m| m.joined) {
                    let result = Err(KafkaError::NotCoordinator);
                    let response = Message::JoinGroupResponse { request_id: m.join_request, group: group_idx, result };
                    ctx.out.sends.push((m.node, response));
                }
            }
            fail_waiting_syncs(ctx, group_idx, &mut group, KafkaError::NotCoordinator);
        }
    }
}

/// Answers every member waiting on a SyncGroup with `error` (`resetAndPropagateAssignmentError`).
fn fail_waiting_syncs(ctx: &mut Ctx, group_idx: u32, group: &mut Group, error: KafkaError) {
    let generation = group.generation;
    for m in group.members.values_mut().filter(|m| m.syncing) {
        m.syncing = false;
        let response =
            Message::SyncGroupResponse { request_id: m.sync_request, group: group_idx, generation, result: Err(error) };
        ctx.out.sends.push((m.node, response));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Java's `"billing".hashCode()` is -109837454... computed independently: the values below come from
    /// `abs(s.hashCode()) % 50` as Kafka computes the coordinator partition.
    #[test]
    fn group_partition_follows_java_string_hash_code() {
        // "a".hashCode() = 97; "ab" = 97*31 + 98 = 3105.
        assert_eq!(offsets_partition_for("a", 50), 97 % 50);
        assert_eq!(offsets_partition_for("ab", 50), 3105 % 50);
        // "polygenelubricants".hashCode() == Integer.MIN_VALUE, which Utils.abs maps to 0.
        assert_eq!(offsets_partition_for("polygenelubricants", 50), 0);
    }
}
