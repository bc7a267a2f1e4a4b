//! Identifier newtypes for the simulated cluster: nodes, brokers, partitions, producers and records.
//!
//! Every collection in the simulation is a `Vec` indexed by one of these ids (or a `BTreeMap` keyed by one), so that
//! iteration order never depends on hashing.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A node on the simulated network: the controller, a broker or a client.
///
/// Node 0 is the controller, nodes `1..=brokers` are the brokers (so a broker's node id equals its broker id), and
/// the producers follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u32);

/// A Kafka broker id (`node.id`); brokers are numbered from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BrokerId(pub u32);

/// A topic-partition, flattened over all topics into one index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PartitionIdx(pub u32);

/// A producer client, by its position in the scenario's `producers` list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProducerIdx(pub u32);

/// One record handed to `producer.send()`, by its position in the delivery history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RecordId(pub u32);

pub const CONTROLLER: NodeId = NodeId(0);

impl BrokerId {
    pub fn node(self) -> NodeId {
        NodeId(self.0)
    }
}

impl PartitionIdx {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl ProducerIdx {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl RecordId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for BrokerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "B{}", self.0)
    }
}
