//! The KRaft controller: broker liveness by heartbeats, fencing, leader election (clean and unclean), ISR changes
//! through AlterPartition, controlled shutdown, and publishing metadata to brokers.
//!
//! The rules follow Kafka's `ReplicationControlManager`, `PartitionChangeBuilder` and `BrokerHeartbeatManager`.

use crate::ctx::{Ctx, Timer};
use crate::ids::{BrokerId, NodeId, PartitionIdx};
use crate::message::{BrokerSet, KafkaError, Message, MetadataUpdate, PartitionState};
use crate::time::Micros;
use crate::trace::TraceKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BrokerRegistration {
    pub fenced: bool,
    pub incarnation: u32,
    pub last_heartbeat: Micros,
    /// The metadata offset the broker last reported having applied.
    pub acked_offset: u64,
    pub shutting_down: bool,
    /// The metadata offset of this incarnation's registration: it is unfenced once it has caught up to it.
    pub registered_offset: u64,
    /// The metadata offset of the controlled-shutdown changes the others must see before it may stop.
    pub shutdown_offset: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Controller {
    pub brokers: Vec<BrokerRegistration>,
    pub partitions: Vec<PartitionState>,
    /// The metadata offset of each partition's latest change.
    change_offset: Vec<u64>,
    /// Partitions by the offset of their latest change, so a broker's catch-up is a range read.
    changes: BTreeMap<u64, PartitionIdx>,
    pub metadata_offset: u64,
}

/// The outcome of choosing a leader (`PartitionChangeBuilder.electLeader`).
enum Election {
    Clean(BrokerId),
    Unclean(BrokerId),
    None,
}

impl Controller {
    /// The cluster as created: every partition led by its first replica, all replicas in sync, leader epoch 0.
    pub fn new(topo: &crate::ctx::Topology) -> Self {
        let partitions = topo
            .partitions
            .iter()
            .map(|info| PartitionState {
                leader: Some(info.replicas[0]),
                leader_epoch: 0,
                partition_epoch: 0,
                isr: BrokerSet::of(&info.replicas),
            })
            .collect::<Vec<_>>();
        let brokers = (0..topo.brokers)
            .map(|_| BrokerRegistration {
                fenced: false,
                incarnation: 0,
                last_heartbeat: 0,
                acked_offset: 0,
                shutting_down: false,
                registered_offset: 0,
                shutdown_offset: 0,
            })
            .collect();
        Controller {
            brokers,
            change_offset: vec![0; partitions.len()],
            partitions,
            changes: BTreeMap::new(),
            metadata_offset: 0,
        }
    }

    fn registration(&mut self, b: BrokerId) -> &mut BrokerRegistration {
        &mut self.brokers[b.0 as usize - 1]
    }

    pub fn fenced_set(&self) -> BrokerSet {
        let mut set = BrokerSet::default();
        for (i, r) in self.brokers.iter().enumerate() {
            if r.fenced {
                set.insert(BrokerId(i as u32 + 1));
            }
        }
        set
    }

    /// Fenced brokers and brokers in controlled shutdown: neither may join an ISR.
    pub fn ineligible_set(&self) -> BrokerSet {
        let mut set = BrokerSet::default();
        for (i, r) in self.brokers.iter().enumerate() {
            if r.fenced || r.shutting_down {
                set.insert(BrokerId(i as u32 + 1));
            }
        }
        set
    }

    /// A restarted controller (KRaft keeps its state in the metadata log) gives every broker a fresh session, so
    /// that its own downtime fences nobody.
    pub fn restart(&mut self, ctx: &mut Ctx) {
        for (i, r) in self.brokers.iter_mut().enumerate() {
            r.last_heartbeat = ctx.now;
            r.acked_offset = 0;
            if !r.fenced {
                ctx.timer_after(
                    ctx.config().broker_session_timeout,
                    Timer::SessionCheck { broker: BrokerId(i as u32 + 1) },
                );
            }
        }
    }

    pub fn start(&mut self, ctx: &mut Ctx) {
        self.restart(ctx);
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx, timer: Timer) {
        if let Timer::SessionCheck { broker } = timer {
            let timeout = ctx.config().broker_session_timeout;
            let r = self.registration(broker);
            if !r.fenced && ctx.now.saturating_sub(r.last_heartbeat) >= timeout {
                self.fence(ctx, broker);
                self.publish(ctx);
            }
        }
    }

    pub fn on_message(&mut self, ctx: &mut Ctx, from: NodeId, message: Message) {
        match message {
            Message::BrokerHeartbeat { broker, incarnation, metadata_offset, want_shutdown } => {
                self.handle_heartbeat(ctx, from, broker, incarnation, metadata_offset, want_shutdown)
            }
            Message::AlterPartition { partition, leader, leader_epoch, partition_epoch, new_isr } => {
                let result =
                    self.handle_alter_partition(ctx, partition, leader, leader_epoch, partition_epoch, new_isr);
                if let Err(error) = result {
                    ctx.trace(TraceKind::AlterPartitionRejected { partition, error });
                }
                ctx.send(from, Message::AlterPartitionResponse { partition, result });
                self.publish(ctx);
            }
            other => debug_assert!(false, "controller got a message it never expects: {:?}", other.kind()),
        }
    }

    /// `BrokerHeartbeatManager` and `ClusterControlManager`: sessions, registration of a restarted broker,
    /// unfencing once caught up, and controlled shutdown.
    fn handle_heartbeat(
        &mut self,
        ctx: &mut Ctx,
        from: NodeId,
        broker: BrokerId,
        incarnation: u32,
        metadata_offset: u64,
        want_shutdown: bool,
    ) {
        let now = ctx.now;
        let session_timeout = ctx.config().broker_session_timeout;
        let offset_before = self.metadata_offset;
        let r = self.registration(broker).clone();
        if r.incarnation != incarnation {
            // ClusterControlManager.registerBroker: a new incarnation is refused (DuplicateBrokerRegistration)
            // while the old one's session is alive; the dead process keeps its leaderships until then.
            if !r.fenced && now.saturating_sub(r.last_heartbeat) < session_timeout {
                let update = MetadataUpdate {
                    from_offset: 0,
                    to_offset: 0,
                    partitions: Vec::new(),
                    ineligible: BrokerSet::default(),
                };
                ctx.send(
                    from,
                    Message::BrokerHeartbeatResponse { registered: false, fenced: true, update, shutdown_ok: false },
                );
                return;
            }
            if !r.fenced {
                self.fence(ctx, broker);
            }
            let registered_offset = self.metadata_offset;
            let reg = self.registration(broker);
            reg.incarnation = incarnation;
            reg.shutting_down = false;
            reg.registered_offset = registered_offset;
        }
        {
            let reg = self.registration(broker);
            reg.last_heartbeat = now;
            reg.acked_offset = metadata_offset;
        }
        ctx.timer_after(session_timeout, Timer::SessionCheck { broker });
        let r = self.registration(broker).clone();
        let mut shutdown_ok = false;
        if want_shutdown {
            if !r.shutting_down {
                // Controlled shutdown: leaderships move away and the broker leaves every ISR, but it stays
                // unfenced until the others have seen the change.
                self.registration(broker).shutting_down = true;
                self.remove_from_partitions(ctx, broker);
                let offset = self.metadata_offset;
                self.registration(broker).shutdown_offset = offset;
            }
            // calculateNextBrokerState: SHUTDOWN_NOW once it leads nothing and every active broker has replayed
            // the metadata up to the shutdown.
            let shutdown_offset = self.registration(broker).shutdown_offset;
            let leads_nothing = self.partitions.iter().all(|p| p.leader != Some(broker));
            let others_caught_up = self
                .brokers
                .iter()
                .enumerate()
                .filter(|(i, b)| *i as u32 + 1 != broker.0 && !b.fenced && !b.shutting_down)
                .all(|(_, b)| b.acked_offset >= shutdown_offset);
            if leads_nothing && others_caught_up {
                shutdown_ok = true;
                self.fence(ctx, broker);
            }
        } else if r.fenced && metadata_offset >= r.registered_offset {
            self.unfence(ctx, broker);
        }
        if self.metadata_offset != offset_before {
            self.publish_except(ctx, Some(broker));
        }
        let fenced = self.registration(broker).fenced;
        let update = self.update_since(metadata_offset);
        ctx.send(from, Message::BrokerHeartbeatResponse { registered: true, fenced, update, shutdown_ok });
    }

    /// `ReplicationControlManager.handleAlterPartitionRequest`, reduced to the checks that matter here.
    fn handle_alter_partition(
        &mut self,
        ctx: &mut Ctx,
        partition: PartitionIdx,
        leader: BrokerId,
        leader_epoch: u32,
        partition_epoch: u32,
        new_isr: BrokerSet,
    ) -> Result<PartitionState, KafkaError> {
        let state = self.partitions[partition.index()];
        if state.leader != Some(leader) || leader_epoch != state.leader_epoch {
            return Err(KafkaError::FencedLeaderEpoch);
        }
        if partition_epoch != state.partition_epoch {
            return Err(KafkaError::InvalidUpdateVersion);
        }
        let fenced = self.fenced_set();
        let added = BrokerSet(new_isr.0 & !state.isr.0);
        if added.iter().any(|b| fenced.contains(b) || self.brokers[b.0 as usize - 1].shutting_down) {
            return Err(KafkaError::IneligibleReplica);
        }
        if new_isr.is_empty() || !new_isr.contains(leader) {
            return Err(KafkaError::InvalidRequest);
        }
        let mut next = state;
        next.isr = new_isr;
        self.apply_change(ctx, partition, next, false);
        Ok(self.partitions[partition.index()])
    }

    /// Records a partition change: bumps the partition epoch (and the leader epoch on a leader change), indexes it
    /// for catch-up, and traces it.
    fn apply_change(&mut self, ctx: &mut Ctx, partition: PartitionIdx, mut next: PartitionState, unclean: bool) {
        let old = self.partitions[partition.index()];
        if next == old {
            return;
        }
        next.partition_epoch = old.partition_epoch + 1;
        if next.leader != old.leader {
            next.leader_epoch = old.leader_epoch + 1;
            match next.leader {
                Some(leader) => {
                    ctx.trace(TraceKind::LeaderElected { partition, leader, leader_epoch: next.leader_epoch, unclean })
                }
                None => ctx.trace(TraceKind::PartitionOffline { partition, leader_epoch: next.leader_epoch }),
            }
        }
        if next.isr != old.isr {
            ctx.trace(TraceKind::IsrChanged { partition, isr: next.isr, partition_epoch: next.partition_epoch });
        }
        self.partitions[partition.index()] = next;
        self.metadata_offset += 1;
        let previous = std::mem::replace(&mut self.change_offset[partition.index()], self.metadata_offset);
        self.changes.remove(&previous);
        self.changes.insert(self.metadata_offset, partition);
    }

    /// Chooses a leader from `isr` in assignment order among live brokers; failing that, and only if
    /// `unclean.leader.election.enable`, any live replica (PartitionChangeBuilder).
    fn elect(&self, replicas: &[BrokerId], isr: BrokerSet, unclean_allowed: bool) -> Election {
        let live = |b: BrokerId| {
            let r = &self.brokers[b.0 as usize - 1];
            !r.fenced && !r.shutting_down
        };
        if let Some(&b) = replicas.iter().find(|&&b| isr.contains(b) && live(b)) {
            return Election::Clean(b);
        }
        if unclean_allowed {
            if let Some(&b) = replicas.iter().find(|&&b| live(b)) {
                return Election::Unclean(b);
            }
        }
        Election::None
    }

    /// Fences a broker: its leaderships move to other ISR members, and it leaves every ISR it is in, except that an
    /// ISR is never emptied (the last member stays, so a clean election can pick it when it returns).
    fn fence(&mut self, ctx: &mut Ctx, broker: BrokerId) {
        let r = self.registration(broker);
        let was_fenced = r.fenced;
        r.fenced = true;
        if !was_fenced {
            ctx.trace(TraceKind::BrokerFenced { broker });
            // A `BrokerRegistrationChangeRecord` in the metadata log: every broker learns it with its next fetch.
            self.metadata_offset += 1;
        }
        self.remove_from_partitions(ctx, broker);
    }

    /// Moves a broker's leaderships to other ISR members and removes it from every ISR it is in, except that an ISR
    /// is never emptied: the last member stays, so that a clean election can pick it when it returns. (With ELR,
    /// KIP-966, on by default for new clusters since 4.1, the last member would move to the ELR instead; this
    /// model follows the classic rule.)
    fn remove_from_partitions(&mut self, ctx: &mut Ctx, broker: BrokerId) {
        for index in 0..self.partitions.len() {
            let partition = PartitionIdx(index as u32);
            let info = ctx.topo.partition(partition);
            if !info.replicas.contains(&broker) {
                continue;
            }
            let state = self.partitions[index];
            let isr = if state.isr.len() > 1 { state.isr.without(broker) } else { state.isr };
            let mut next = state;
            next.isr = isr;
            let mut unclean = false;
            if state.leader == Some(broker) {
                match self.elect(&info.replicas, isr, info.unclean_leader_election_enable) {
                    Election::Clean(leader) => next.leader = Some(leader),
                    Election::Unclean(leader) => {
                        next.leader = Some(leader);
                        next.isr = BrokerSet::default().with(leader);
                        unclean = true;
                    }
                    Election::None => next.leader = None,
                }
            }
            self.apply_change(ctx, partition, next, unclean);
        }
    }

    /// Unfences a broker and elects leaders for offline partitions it can lead.
    fn unfence(&mut self, ctx: &mut Ctx, broker: BrokerId) {
        self.registration(broker).fenced = false;
        ctx.trace(TraceKind::BrokerUnfenced { broker });
        // A `BrokerRegistrationChangeRecord`: leaders learn at once that the broker may rejoin ISRs (KIP-841).
        self.metadata_offset += 1;
        self.elect_offline_partitions(ctx);
    }

    fn elect_offline_partitions(&mut self, ctx: &mut Ctx) {
        for index in 0..self.partitions.len() {
            let state = self.partitions[index];
            if state.leader.is_some() {
                continue;
            }
            let partition = PartitionIdx(index as u32);
            let info = ctx.topo.partition(partition);
            let mut next = state;
            match self.elect(&info.replicas, state.isr, info.unclean_leader_election_enable) {
                Election::Clean(leader) => next.leader = Some(leader),
                Election::Unclean(leader) => {
                    next.leader = Some(leader);
                    next.isr = BrokerSet::default().with(leader);
                    self.apply_change(ctx, partition, next, true);
                    continue;
                }
                Election::None => continue,
            }
            self.apply_change(ctx, partition, next, false);
        }
    }

    /// Every partition changed after `offset`, with the current fenced set.
    fn update_since(&self, offset: u64) -> MetadataUpdate {
        let partitions = self.changes.range(offset + 1..).map(|(_, &p)| (p, self.partitions[p.index()])).collect();
        MetadataUpdate {
            from_offset: offset,
            to_offset: self.metadata_offset,
            partitions,
            ineligible: self.ineligible_set(),
        }
    }

    /// Sends each broker the changes it has not acknowledged (standing in for the brokers' metadata-log fetches).
    fn publish(&mut self, ctx: &mut Ctx) {
        self.publish_except(ctx, None);
    }

    fn publish_except(&mut self, ctx: &mut Ctx, skip: Option<BrokerId>) {
        for i in 0..self.brokers.len() {
            let b = BrokerId(i as u32 + 1);
            if Some(b) == skip {
                continue;
            }
            let acked = self.brokers[i].acked_offset;
            if acked < self.metadata_offset {
                let update = self.update_since(acked);
                ctx.send(b.node(), Message::MetadataPush(update));
            }
        }
    }
}
