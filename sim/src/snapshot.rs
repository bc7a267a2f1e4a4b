//! A snapshot of the whole simulated cluster at one moment: cloneable and serde-serializable, for the viz, for
//! tools that want JSON, and for tests that compare states.

use crate::broker::Broker;
use crate::controller::Controller;
use crate::history::{RecordInfo, Verdict};
use crate::ids::NodeId;
use crate::message::MessageKind;
use crate::net::NodeStatus;
use crate::producer::Producer;
use crate::sim::Simulation;
use crate::time::Micros;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum NodeKind {
    Controller,
    Broker,
    Producer,
    Consumer,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeView {
    pub id: NodeId,
    pub name: String,
    pub kind: NodeKind,
    pub status: NodeStatus,
    pub extra_latency: Micros,
}

/// A message on the wire: who sent it, to whom, and when it arrives.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InFlightMessage {
    pub from: NodeId,
    pub to: NodeId,
    pub kind: MessageKind,
    pub arrives_at: Micros,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Snapshot {
    pub time: Micros,
    pub events: u64,
    pub trace_hash: String,
    pub nodes: Vec<NodeView>,
    pub cut_links: Vec<(NodeId, NodeId)>,
    pub controller: Controller,
    pub brokers: Vec<Broker>,
    pub producers: Vec<Producer>,
    pub consumers: Vec<crate::consumer::Consumer>,
    pub records: Vec<RecordInfo>,
    /// Every record consumers processed.
    pub processed: Vec<crate::consumer::Processed>,
    pub in_flight: Vec<InFlightMessage>,
    pub verdict: Verdict,
}

impl Simulation {
    pub fn snapshot(&self) -> Snapshot {
        let brokers = self.topo.brokers;
        let producers = self.producers.len() as u32;
        let nodes = self
            .topo
            .node_names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let id = NodeId(i as u32);
                NodeView {
                    id,
                    name: name.clone(),
                    kind: match i as u32 {
                        0 => NodeKind::Controller,
                        b if b <= brokers => NodeKind::Broker,
                        p if p <= brokers + producers => NodeKind::Producer,
                        _ => NodeKind::Consumer,
                    },
                    status: self.net.status(id),
                    extra_latency: self.net.extra_latency(id),
                }
            })
            .collect();
        Snapshot {
            time: self.now(),
            events: self.events(),
            trace_hash: self.trace.hash_hex(),
            nodes,
            cut_links: self.net.cut_links(),
            controller: self.controller.clone(),
            brokers: self.brokers.clone(),
            producers: self.producers.clone(),
            consumers: self.consumers.clone(),
            records: self.history.records.iter().cloned().collect(),
            processed: self.processed.clone(),
            in_flight: self
                .in_flight()
                .into_iter()
                .map(|(from, to, kind, arrives_at)| InFlightMessage { from, to, kind, arrives_at })
                .collect(),
            verdict: self.verdict(),
        }
    }
}
