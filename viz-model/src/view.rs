//! The view model: what the cluster view draws, read from the simulation's public state. It interprets nothing:
//! leaders, ISRs, offsets and statuses are the simulation's own; this only gathers and flags them for drawing.

use kafkascope_sim::broker::Role;
use kafkascope_sim::consumer::MemberState;
use kafkascope_sim::ids::{BrokerId, NodeId, PartitionIdx, RecordId, CONTROLLER};
use kafkascope_sim::message::MessageKind;
use kafkascope_sim::net::NodeStatus;
use kafkascope_sim::sim::Simulation;
use kafkascope_sim::time::Micros;
use std::collections::BTreeSet;

/// Which partitions the view shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    /// Show `__consumer_offsets` too.
    pub internal_topics: bool,
    /// Only partitions that are under-replicated, offline or under `min.insync.replicas`.
    pub only_troubled: bool,
    /// How many of the newest records each replica row shows.
    pub max_cells: usize,
}

impl Default for Filter {
    fn default() -> Self {
        Filter { internal_topics: false, only_troubled: false, max_cells: 24 }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterView {
    pub now: Micros,
    pub events: u64,
    pub duration: Micros,
    pub controller_status: Option<NodeStatus>,
    pub brokers: Vec<BrokerView>,
    pub partitions: Vec<PartitionView>,
    pub producers: Vec<ClientView>,
    pub consumers: Vec<ConsumerView>,
    pub groups: Vec<GroupView>,
    /// Links cut one way (from, to).
    pub cut_links: Vec<(NodeId, NodeId)>,
    pub in_flight: Vec<FlightView>,
    pub node_names: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BrokerView {
    pub id: BrokerId,
    pub name: String,
    pub status: NodeStatus,
    /// Fenced by the controller (missed heartbeats, or not registered yet).
    pub fenced: bool,
    pub shutting_down: bool,
    /// Extra latency added to its links (a slow node).
    pub extra_latency: Micros,
    pub replicas: Vec<ReplicaView>,
}

impl BrokerView {
    pub fn is_down(&self) -> bool {
        self.status != NodeStatus::Up
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ReplicaView {
    pub partition: PartitionIdx,
    pub broker: BrokerId,
    /// The broker acts as this partition's leader (it may be a zombie the controller has replaced).
    pub acts_as_leader: bool,
    /// The controller's leader for the partition is this broker.
    pub is_leader: bool,
    /// In the controller's (committed) ISR.
    pub in_isr: bool,
    pub log_end_offset: u64,
    pub high_watermark: u64,
    pub leader_epoch: u32,
    /// Offset of the first cell shown.
    pub first_offset: u64,
    pub cells: Vec<Cell>,
}

impl ReplicaView {
    /// A broker that still acts as leader after the controller chose another one.
    pub fn is_zombie_leader(&self) -> bool {
        self.acts_as_leader && !self.is_leader
    }
}

/// One record in a replica's log.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub offset: u64,
    pub record: RecordId,
    /// The producer's index, or `None` for internal records (offset commits, group metadata).
    pub producer: Option<u32>,
    pub leader_epoch: u32,
    /// The first record of a new leader epoch in this log.
    pub epoch_boundary: bool,
    /// An acked record the checker found lost (highlighted).
    pub lost: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PartitionView {
    pub idx: PartitionIdx,
    pub name: String,
    pub internal: bool,
    pub leader: Option<BrokerId>,
    pub leader_epoch: u32,
    pub isr: Vec<BrokerId>,
    pub replicas: Vec<BrokerId>,
    pub min_insync_replicas: u32,
    pub unclean_leader_election_enable: bool,
    /// Fewer ISR members than replicas.
    pub under_replicated: bool,
    /// No leader.
    pub offline: bool,
    /// Fewer ISR members than `min.insync.replicas`: `acks=all` produces fail.
    pub under_min_isr: bool,
    /// The end (exclusive) of the offsets shown for every replica: the elected leader's log end offset, or the
    /// longest log when there is no leader. Replicas' cells cover the `Filter::max_cells` offsets before it, so
    /// that the replicas of a partition line up offset by offset.
    pub window_end: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ClientView {
    pub node: NodeId,
    pub name: String,
    pub status: NodeStatus,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConsumerView {
    pub index: u32,
    pub node: NodeId,
    pub name: String,
    pub group: u32,
    pub status: NodeStatus,
    pub state: MemberState,
    pub generation: u32,
    /// Assigned partitions with the consumer's position.
    pub assigned: Vec<(PartitionIdx, Option<u64>)>,
    /// Per-record processing time (a slow consumer has a large one).
    pub processing: Micros,
    /// While the application is blocked in `commitSync()`: the tries so far.
    pub commit_sync_tries: Option<u32>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GroupView {
    pub index: u32,
    pub name: String,
    pub coordinator: Option<BrokerId>,
    pub state: String,
    pub generation: u32,
    pub members: Vec<String>,
    /// Committed offset and lag (high watermark minus committed) per partition.
    pub committed: Vec<(PartitionIdx, u64, u64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FlightView {
    pub from: NodeId,
    pub to: NodeId,
    pub kind: MessageKind,
    pub arrives_at: Micros,
}

/// Which family a message belongs to, for its colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageFamily {
    Produce,
    Fetch,
    Heartbeat,
    Metadata,
    Group,
    ConsumerFetch,
}

pub fn message_family(kind: MessageKind) -> MessageFamily {
    use MessageKind::*;
    match kind {
        Produce | ProduceResponse => MessageFamily::Produce,
        Fetch | FetchResponse => MessageFamily::Fetch,
        BrokerHeartbeat | BrokerHeartbeatResponse | Heartbeat | HeartbeatResponse => MessageFamily::Heartbeat,
        MetadataPush
        | AlterPartition
        | AlterPartitionResponse
        | MetadataRequest
        | MetadataResponse
        | ApiVersions
        | ApiVersionsResponse => MessageFamily::Metadata,
        FindCoordinator
        | FindCoordinatorResponse
        | JoinGroup
        | JoinGroupResponse
        | SyncGroup
        | SyncGroupResponse
        | LeaveGroup
        | OffsetCommit
        | OffsetCommitResponse
        | OffsetFetch
        | OffsetFetchResponse => MessageFamily::Group,
        ConsumerFetch
        | ConsumerFetchResponse
        | ListOffsets
        | ListOffsetsResponse
        | OffsetsForLeaderEpoch
        | OffsetsForLeaderEpochResponse => MessageFamily::ConsumerFetch,
    }
}

impl ClusterView {
    /// Gathers what to draw. `lost` are the records the checker reports as acked and lost.
    pub fn build(sim: &Simulation, filter: &Filter, lost: &BTreeSet<RecordId>) -> ClusterView {
        let topo = &sim.topo;
        let partitions: Vec<PartitionView> = (0..topo.partitions.len())
            .map(|i| {
                let idx = PartitionIdx(i as u32);
                let info = topo.partition(idx);
                let state = &sim.controller.partitions[i];
                let isr = state.isr.in_order(&info.replicas);
                PartitionView {
                    idx,
                    name: topo.partition_name(idx),
                    internal: Some(info.topic) == topo.offsets_topic,
                    leader: state.leader,
                    leader_epoch: state.leader_epoch,
                    under_replicated: isr.len() < info.replicas.len(),
                    offline: state.leader.is_none(),
                    under_min_isr: (isr.len() as u32) < info.min_insync_replicas,
                    isr,
                    replicas: info.replicas.clone(),
                    min_insync_replicas: info.min_insync_replicas,
                    unclean_leader_election_enable: info.unclean_leader_election_enable,
                    window_end: 0,
                }
            })
            .collect();
        let mut partitions = partitions;
        for p in &mut partitions {
            let log_end = |b: BrokerId| sim.replica(b, p.idx).map(|r| r.log_end_offset());
            p.window_end = match p.leader.and_then(log_end) {
                Some(leo) => leo,
                None => p.replicas.iter().filter_map(|b| log_end(*b)).max().unwrap_or(0),
            };
        }
        let shown = |p: &PartitionView| {
            (filter.internal_topics || !p.internal)
                && (!filter.only_troubled || p.under_replicated || p.offline || p.under_min_isr)
        };
        let brokers = topo
            .broker_ids()
            .map(|id| {
                let broker = &sim.brokers[id.0 as usize - 1];
                let registration = &sim.controller.brokers[id.0 as usize - 1];
                let replicas = broker
                    .replicas
                    .iter()
                    .flatten()
                    .filter(|r| shown(&partitions[r.partition.index()]))
                    .map(|r| {
                        let p = &partitions[r.partition.index()];
                        let entries = r.log.entries();
                        let end = (p.window_end as usize).min(entries.len());
                        let first = (p.window_end as usize).saturating_sub(filter.max_cells).min(end);
                        let cells = entries
                            .range(first, end)
                            .enumerate()
                            .map(|(i, e)| {
                                let offset = (first + i) as u64;
                                let previous_epoch = offset.checked_sub(1).map(|o| entries[o as usize].leader_epoch());
                                Cell {
                                    offset,
                                    record: e.record,
                                    producer: (!p.internal).then_some(e.producer_id),
                                    leader_epoch: e.leader_epoch(),
                                    epoch_boundary: previous_epoch.is_some_and(|prev| prev != e.leader_epoch()),
                                    lost: lost.contains(&e.record),
                                }
                            })
                            .collect();
                        ReplicaView {
                            partition: r.partition,
                            broker: id,
                            acts_as_leader: matches!(r.role, Role::Leader(_)) && broker_up(sim, id),
                            is_leader: p.leader == Some(id),
                            in_isr: p.isr.contains(&id),
                            log_end_offset: r.log_end_offset(),
                            high_watermark: r.high_watermark,
                            leader_epoch: r.leader_epoch,
                            first_offset: first as u64,
                            cells,
                        }
                    })
                    .collect();
                BrokerView {
                    id,
                    name: id.to_string(),
                    status: sim.net.status(id.node()),
                    fenced: registration.fenced,
                    shutting_down: registration.shutting_down,
                    extra_latency: sim.net.extra_latency(id.node()),
                    replicas,
                }
            })
            .collect();
        let producers = sim
            .producers
            .iter()
            .map(|p| ClientView {
                node: p.node,
                name: p.name.clone(),
                status: sim.net.status(p.node),
                detail: format!("acks={}", p.config.acks.name()),
            })
            .collect();
        let consumers = sim
            .consumers
            .iter()
            .map(|c| ConsumerView {
                index: c.index,
                node: c.node,
                name: c.name.clone(),
                group: c.group,
                status: sim.net.status(c.node),
                state: c.state,
                generation: c.generation,
                assigned: c.assigned.iter().map(|(p, s)| (*p, s.position)).collect(),
                processing: c.processing,
                commit_sync_tries: c.commit_sync.as_ref().map(|s| s.tries),
            })
            .collect();
        let groups = topo.groups.iter().enumerate().map(|(g, name)| group_view(sim, g as u32, name)).collect();
        ClusterView {
            now: sim.now(),
            events: sim.events(),
            duration: sim.duration(),
            controller_status: Some(sim.net.status(CONTROLLER)),
            brokers,
            partitions: partitions.into_iter().filter(|p| shown(p)).collect(),
            producers,
            consumers,
            groups,
            cut_links: sim.net.cut_links(),
            in_flight: sim
                .in_flight()
                .into_iter()
                .map(|(from, to, kind, arrives_at)| FlightView { from, to, kind, arrives_at })
                .collect(),
            node_names: topo.node_names.clone(),
        }
    }

    pub fn broker(&self, id: BrokerId) -> Option<&BrokerView> {
        self.brokers.iter().find(|b| b.id == id)
    }

    pub fn partition_by_name(&self, name: &str) -> Option<&PartitionView> {
        self.partitions.iter().find(|p| p.name == name)
    }

    pub fn down_brokers(&self) -> Vec<BrokerId> {
        self.brokers.iter().filter(|b| b.is_down()).map(|b| b.id).collect()
    }

    pub fn node_name(&self, node: NodeId) -> &str {
        self.node_names.get(node.index()).map_or("?", |s| s.as_str())
    }
}

fn broker_up(sim: &Simulation, id: BrokerId) -> bool {
    sim.net.status(id.node()) != NodeStatus::Crashed
}

/// The group as its coordinator (the leader of its `__consumer_offsets` partition) sees it.
fn group_view(sim: &Simulation, group: u32, name: &str) -> GroupView {
    let committed = sim
        .committed_offsets(group)
        .iter()
        .map(|(&p, &offset)| (p, offset, sim.leader_high_watermark(p).unwrap_or(0).saturating_sub(offset)))
        .collect();
    match sim.group_coordinator(group) {
        Some((broker, g)) => GroupView {
            index: group,
            name: name.to_string(),
            coordinator: Some(broker),
            state: format!("{:?}", g.state),
            generation: g.generation,
            members: g
                .members
                .values()
                .map(|m| format!("{} ({})", sim.topo.node_names[m.node.index()], m.id))
                .collect(),
            committed,
        },
        None => GroupView {
            index: group,
            name: name.to_string(),
            coordinator: None,
            state: "no coordinator".into(),
            generation: 0,
            members: Vec::new(),
            committed,
        },
    }
}
