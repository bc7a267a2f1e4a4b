//! Safety invariants checked after every event in debug and test builds, as Kafka's own simulation tests do.
//!
//! Cheap checks run for the partitions an event touched: 0 <= HW <= LEO on every replica, the leader in the ISR,
//! the ISR never empty, leader epochs never going back, at most one leader per epoch, the leader's HW never going
//! back within its epoch, and in-sync replicas holding everything below the leader's HW. Every event also checks that
//! no batch was acknowledged later than `delivery.timeout.ms` after its creation. The whole-log comparison
//! (replicas identical below their common HW) runs in the checker at the end of a run.

use crate::broker::Role;
use crate::controller::Controller;
use crate::ids::{BrokerId, PartitionIdx};
use crate::net::NodeStatus;
use crate::sim::Simulation;

#[derive(Clone, Debug, Default)]
pub struct Invariants {
    /// Per partition: the highest leader epoch the controller has had, and its leader.
    epoch_leader: Vec<(u32, Option<BrokerId>)>,
    /// Per partition: the epoch and HW of the last leader HW seen.
    leader_high_watermark: Vec<(u32, u64)>,
    touched: Vec<PartitionIdx>,
    all_touched: bool,
    /// A power loss lost records: an in-sync replica may then hold less than the HW until it is fenced.
    pub lossy_restart_happened: bool,
    /// A consumer was handed records at or above the high watermark (noted when the fetch answer is delivered).
    pub consumer_read_violation: Option<String>,
}

impl Invariants {
    pub fn new(controller: &Controller) -> Self {
        Invariants {
            epoch_leader: controller.partitions.iter().map(|s| (s.leader_epoch, s.leader)).collect(),
            leader_high_watermark: vec![(0, 0); controller.partitions.len()],
            touched: Vec::new(),
            all_touched: true,
            lossy_restart_happened: false,
            consumer_read_violation: None,
        }
    }

    pub fn touch(&mut self, partition: Option<PartitionIdx>) {
        if let Some(p) = partition {
            self.touched.push(p);
        }
    }

    /// Partitions touched and not checked yet.
    #[cfg(test)]
    pub fn unchecked_touches(&self) -> usize {
        self.touched.len()
    }

    pub fn touch_all(&mut self) {
        self.all_touched = true;
    }

    pub fn check(&mut self, sim: &Simulation) -> Result<(), String> {
        if let Some(what) = self.consumer_read_violation.take() {
            return Err(what);
        }
        if let Some(what) = sim.producers.iter().find_map(|p| p.late_callback.clone()) {
            return Err(what);
        }
        let touched = if std::mem::take(&mut self.all_touched) {
            self.touched.clear();
            check_groups(sim)?;
            (0..sim.topo.partitions.len() as u32).map(PartitionIdx).collect()
        } else {
            std::mem::take(&mut self.touched)
        };
        for p in touched {
            self.check_partition(sim, p)?;
        }
        Ok(())
    }

    fn check_partition(&mut self, sim: &Simulation, p: PartitionIdx) -> Result<(), String> {
        let name = sim.topo.partition_name(p);
        let state = sim.controller.partitions[p.index()];
        if state.isr.is_empty() {
            return Err(format!("{name}: the ISR is empty"));
        }
        if let Some(leader) = state.leader {
            if !state.isr.contains(leader) {
                return Err(format!("{name}: leader {leader} is not in the ISR"));
            }
        }
        let (last_epoch, last_leader) = self.epoch_leader[p.index()];
        if state.leader_epoch < last_epoch {
            return Err(format!("{name}: leader epoch went back from {last_epoch} to {}", state.leader_epoch));
        }
        if state.leader_epoch == last_epoch && state.leader != last_leader {
            return Err(format!("{name}: two leaders in epoch {last_epoch}: {last_leader:?} and {:?}", state.leader));
        }
        self.epoch_leader[p.index()] = (state.leader_epoch, state.leader);

        let mut leader_claims: Vec<(u32, BrokerId)> = Vec::new();
        // Leader epochs never go back in a log: the epoch cache grows in epoch and in start offset.
        for broker in sim.topo.broker_ids() {
            let Some(replica) = sim.replica(broker, p) else { continue };
            let epochs = replica.log.epochs();
            if epochs
                .windows(2)
                .any(|w| w[1].leader_epoch <= w[0].leader_epoch || w[1].start_offset < w[0].start_offset)
            {
                return Err(format!("{name} on {broker}: leader epochs go back in the log: {epochs:?}"));
            }
        }
        for broker in sim.topo.broker_ids() {
            let Some(replica) = sim.replica(broker, p) else {
                continue;
            };
            if replica.high_watermark > replica.log_end_offset() {
                return Err(format!(
                    "{name} on {broker}: high watermark {} above log end offset {}",
                    replica.high_watermark,
                    replica.log_end_offset()
                ));
            }
            if matches!(replica.role, Role::Leader(_)) && sim.net.status(broker.node()) != NodeStatus::Crashed {
                if let Some(&(_, other)) = leader_claims.iter().find(|(epoch, _)| *epoch == replica.leader_epoch) {
                    return Err(format!("{name}: {other} and {broker} both lead epoch {}", replica.leader_epoch));
                }
                leader_claims.push((replica.leader_epoch, broker));
            }
        }

        // The current leader's HW never goes back within its epoch.
        if let Some(leader) = state.leader {
            if let Some(replica) = sim.replica(leader, p).filter(|_| sim.acts_as_leader(leader, p)) {
                if replica.leader_epoch == state.leader_epoch {
                    let (epoch, hw) = self.leader_high_watermark[p.index()];
                    if epoch == replica.leader_epoch && replica.high_watermark < hw {
                        return Err(format!(
                            "{name}: leader {leader} high watermark went back from {hw} to {} in epoch {epoch}",
                            replica.high_watermark
                        ));
                    }
                    self.leader_high_watermark[p.index()] = (replica.leader_epoch, replica.high_watermark);
                    // Every live in-sync replica holds at least what the leader has committed.
                    if !self.lossy_restart_happened {
                        for member in state.isr.iter() {
                            if sim.net.status(member.node()) == NodeStatus::Crashed {
                                continue;
                            }
                            if let Some(r) = sim.replica(member, p) {
                                if r.log_end_offset() < replica.high_watermark {
                                    return Err(format!(
                                        "{name}: in-sync replica {member} has log end offset {} below leader {leader}'s high watermark {}",
                                        r.log_end_offset(),
                                        replica.high_watermark
                                    ));
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// In every group a coordinator holds, a partition has at most one owner in the current generation.
fn check_groups(sim: &Simulation) -> Result<(), String> {
    for broker in &sim.brokers {
        for (g, group) in &broker.groups {
            let mut seen = std::collections::BTreeSet::new();
            for member in group.members.values() {
                for p in &member.assignment {
                    if group.state == crate::group::GroupState::Stable && !seen.insert(*p) {
                        return Err(format!(
                            "group {} generation {}: {} has two owners",
                            sim.topo.groups[*g as usize],
                            group.generation,
                            sim.topo.partition_name(*p)
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}
