//! The delivery checker: compares what producers were told with what the cluster's logs hold at the end.
//!
//! A partition's log of record is its leader's log; when the partition is offline, the log of the ISR member a
//! clean election would pick (the first live one in assignment order, else the first ISR member). An acked record
//! missing from it is lost; a record at two offsets is duplicated; a producer's records out of send order are
//! reordered. Replicas of live brokers must agree with that log below both their high watermarks.

use crate::history::Divergence;
use crate::history::{RecordStatus, Verdict};
use crate::ids::{BrokerId, PartitionIdx, RecordId};
use crate::log::Log;
use crate::net::NodeStatus;
use crate::sim::Simulation;

impl Simulation {
    /// The broker whose log counts as the partition's content now.
    pub fn reference_replica(&self, p: PartitionIdx) -> Option<BrokerId> {
        let state = self.controller.partitions[p.index()];
        if let Some(leader) = state.leader {
            return Some(leader);
        }
        let replicas = &self.topo.partition(p).replicas;
        replicas
            .iter()
            .copied()
            .find(|&b| state.isr.contains(b) && self.net.status(b.node()) != NodeStatus::Crashed)
            .or_else(|| replicas.iter().copied().find(|&b| state.isr.contains(b)))
    }

    pub fn reference_log(&self, p: PartitionIdx) -> Option<&Log> {
        self.reference_replica(p).and_then(|b| self.replica(b, p)).map(|r| &r.log)
    }

    pub fn verdict(&self) -> Verdict {
        let mut verdict = Verdict::default();
        let records = &self.history.records;
        // How many times each record appears in its partition's log of record.
        let mut copies = vec![0u32; records.len()];
        // Whether a copy of each record is below its log of record's high watermark.
        let mut committed = vec![false; records.len()];
        for p in 0..self.topo.partitions.len() {
            let partition = PartitionIdx(p as u32);
            let Some(log) = self.reference_log(partition) else {
                continue;
            };
            // `__consumer_offsets` logs hold the coordinator's records, not produced ones (their divergence is checked).
            let produced = if self.topo.is_internal(partition) { 0 } else { log.entries().len() };
            let reference = self.reference_replica(partition).expect("log exists");
            let reference_replica = self.replica(reference, partition).expect("hosted");
            let high_watermark = reference_replica.high_watermark as usize;
            let mut latest_per_producer: Vec<Option<RecordId>> = vec![None; self.producers.len()];
            for (offset, entry) in log.entries().range(0, produced).enumerate() {
                let id = entry.record;
                committed[id.index()] |= offset < high_watermark;
                copies[id.index()] += 1;
                if copies[id.index()] > 1 {
                    continue;
                }
                let producer = records[id.index()].producer.index();
                match latest_per_producer[producer] {
                    Some(latest) if latest > id => verdict.reordered.push(id),
                    _ => latest_per_producer[producer] = Some(id),
                }
            }
            for &broker in &self.topo.partition(partition).replicas {
                if broker == reference || self.net.status(broker.node()) == NodeStatus::Crashed {
                    continue;
                }
                let Some(replica) = self.replica(broker, partition) else {
                    continue;
                };
                let common = replica.high_watermark.min(reference_replica.high_watermark) as usize;
                let ours = replica.log.entries().range(0, common);
                let theirs = log.entries().range(0, common);
                if let Some(offset) = ours.zip(theirs).position(|(a, b)| a.record != b.record) {
                    verdict.divergent.push(Divergence {
                        partition,
                        leader: reference,
                        follower: broker,
                        offset: offset as u64,
                    });
                }
            }
        }
        for (id, _, status) in self.history.statuses() {
            let index = id.index();
            match status {
                RecordStatus::Acked { .. } => {
                    verdict.acked += 1;
                    if copies[index] == 0 {
                        verdict.acked_lost.push(RecordId(index as u32));
                    }
                }
                RecordStatus::Failed { .. } => {
                    verdict.failed += 1;
                    if committed[index] {
                        verdict.failed_written.push(RecordId(index as u32));
                    }
                }
                RecordStatus::Pending => verdict.pending += 1,
            }
            if copies[index] > 1 {
                verdict.duplicates.push((RecordId(index as u32), copies[index]));
            }
        }
        verdict
    }
}

/// The consumer-side verdict for one group, in Jepsen's terms.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupVerdict {
    pub group: String,
    /// Records processed, counting repeats.
    pub processed: u64,
    /// Acked records the group moved past (by commit or by processing later offsets) without ever processing.
    pub lost: Vec<RecordId>,
    /// Acked records the group has not reached yet (lag, not loss).
    pub unconsumed: u64,
    /// Records processed more than once, with how many times.
    pub duplicates: Vec<(RecordId, u32)>,
    /// Offsets a consumer's polls jumped over.
    pub skips: u64,
    /// Polls that went back without a new assignment.
    pub nonmonotonic: u64,
}

impl Simulation {
    /// The broker coordinating a group now and the group as it holds it: the live broker that loaded it (it leads
    /// the group's `__consumer_offsets` partition), if any.
    pub fn group_coordinator(&self, group: u32) -> Option<(BrokerId, &crate::group::Group)> {
        self.brokers
            .iter()
            .filter(|b| self.net.status(b.id.node()) != NodeStatus::Crashed)
            .find_map(|b| b.groups.get(&group).map(|g| (b.id, g)))
    }

    /// A partition's high watermark on its elected leader: what `kafka-consumer-groups` shows as LOG-END-OFFSET and
    /// subtracts the committed offset from for LAG. `None` while the partition has no leader.
    pub fn leader_high_watermark(&self, partition: PartitionIdx) -> Option<u64> {
        self.leader_of(partition).and_then(|b| self.replica(b, partition)).map(|r| r.high_watermark)
    }

    /// A group's committed offsets, from its coordinator (or, if none is up, from the offsets log).
    pub fn committed_offsets(&self, group: u32) -> std::collections::BTreeMap<PartitionIdx, u64> {
        if let Some((_, g)) = self.group_coordinator(group) {
            return g.committed.clone();
        }
        let mut out = std::collections::BTreeMap::new();
        if let Some(topic) = self.topo.offsets_topic {
            for p in 0..self.topo.topics[topic].partitions {
                let partition = self.topo.partition_idx(topic, p);
                let Some(log) = self.reference_log(partition) else { continue };
                for entry in log.entries().iter() {
                    if let crate::group::InternalRecord::OffsetCommit { group: g, partition, offset } =
                        &self.internal.records[entry.record.index()]
                    {
                        if *g == group {
                            out.insert(*partition, *offset);
                        }
                    }
                }
            }
        }
        out
    }

    pub fn group_verdicts(&self) -> Vec<GroupVerdict> {
        (0..self.topo.groups.len() as u32).map(|g| self.group_verdict(g)).collect()
    }

    fn group_verdict(&self, group: u32) -> GroupVerdict {
        let mut verdict = GroupVerdict { group: self.topo.groups[group as usize].clone(), ..GroupVerdict::default() };
        let mut times: std::collections::BTreeMap<RecordId, u32> = std::collections::BTreeMap::new();
        let mut furthest: std::collections::BTreeMap<PartitionIdx, u64> = std::collections::BTreeMap::new();
        for p in self.processed.iter().filter(|p| p.group == group) {
            verdict.processed += 1;
            *times.entry(p.record).or_insert(0) += 1;
            let f = furthest.entry(p.partition).or_insert(0);
            *f = (*f).max(p.offset + 1);
        }
        for (partition, offset) in self.committed_offsets(group) {
            let f = furthest.entry(partition).or_insert(0);
            *f = (*f).max(offset);
        }
        verdict.duplicates = times.iter().filter(|(_, n)| **n > 1).map(|(id, n)| (*id, *n)).collect();
        let topics: Vec<usize> = self
            .consumers
            .iter()
            .filter(|c| c.group == group)
            .flat_map(|c| c.topics.iter().map(|&t| t as usize))
            .collect();
        for (index, info) in self.topo.partitions.iter().enumerate() {
            let partition = PartitionIdx(index as u32);
            if !topics.contains(&info.topic) || self.topo.is_internal(partition) {
                continue;
            }
            let Some(log) = self.reference_log(partition) else { continue };
            let reached = furthest.get(&partition).copied().unwrap_or(0);
            for (offset, entry) in log.entries().iter().enumerate() {
                if !matches!(self.history.status(entry.record), RecordStatus::Acked { .. }) {
                    continue;
                }
                if times.contains_key(&entry.record) {
                    continue;
                }
                if (offset as u64) < reached {
                    verdict.lost.push(entry.record);
                } else {
                    verdict.unconsumed += 1;
                }
            }
        }
        for consumer in self.consumers.iter().filter(|c| c.group == group) {
            verdict.skips += consumer.skips;
            verdict.nonmonotonic += consumer.nonmonotonic;
        }
        verdict
    }
}
