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
        for p in 0..self.topo.partitions.len() {
            let partition = PartitionIdx(p as u32);
            let Some(log) = self.reference_log(partition) else {
                continue;
            };
            let mut latest_per_producer: Vec<Option<RecordId>> = vec![None; self.producers.len()];
            for entry in log.entries() {
                let id = entry.record;
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
            let reference = self.reference_replica(partition).expect("log exists");
            let reference_replica = self.replica(reference, partition).expect("hosted");
            for &broker in &self.topo.partition(partition).replicas {
                if broker == reference || self.net.status(broker.node()) == NodeStatus::Crashed {
                    continue;
                }
                let Some(replica) = self.replica(broker, partition) else {
                    continue;
                };
                let common = replica.high_watermark.min(reference_replica.high_watermark) as usize;
                let ours = &replica.log.entries()[..common.min(replica.log.entries().len())];
                let theirs = &log.entries()[..common.min(log.entries().len())];
                if let Some(offset) = ours.iter().zip(theirs).position(|(a, b)| a.record != b.record) {
                    verdict.divergent.push(Divergence {
                        partition,
                        leader: reference,
                        follower: broker,
                        offset: offset as u64,
                    });
                }
            }
        }
        for (index, info) in records.iter().enumerate() {
            match info.status {
                RecordStatus::Acked { .. } => {
                    verdict.acked += 1;
                    if copies[index] == 0 {
                        verdict.acked_lost.push(RecordId(index as u32));
                    }
                }
                RecordStatus::Failed { .. } => verdict.failed += 1,
                RecordStatus::Pending => verdict.pending += 1,
            }
            if copies[index] > 1 {
                verdict.duplicates.push((RecordId(index as u32), copies[index]));
            }
        }
        verdict
    }
}
