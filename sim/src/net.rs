//! The simulated network: per-link latency ranges, random drops, cut links, slow nodes, and node liveness.
//!
//! Every link is FIFO like the TCP connection it stands for: a message never overtakes an earlier one on the same
//! directed link. Latencies and drops come from the network's seed, one random stream per directed link, so that
//! the traffic on one link (a client sending more or fewer requests) never shifts the timing of another (the
//! brokers' heartbeats to the controller).

use crate::ids::NodeId;
use crate::time::Micros;
use petgraph::graphmap::DiGraphMap;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

/// Whether a node's process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NodeStatus {
    Up,
    /// The process is dead; connections to it are refused.
    Crashed,
    /// The process is frozen (a long GC pause): it handles nothing, but its connections stay open.
    Paused,
}

#[derive(Clone, Debug)]
pub struct Network {
    nodes: usize,
    status: Vec<NodeStatus>,
    cut: Vec<bool>,
    latency: Vec<(Micros, Micros)>,
    last_delivery: Vec<Micros>,
    extra_latency: Vec<Micros>,
    drop: (u32, u32),
    /// The network's seed; link `l` draws from ChaCha stream `l` of it.
    seed: u64,
    /// Each directed link's generator, made when the link first carries a message.
    link_rngs: Vec<Option<Box<ChaCha8Rng>>>,
}

/// What happens to a message handed to the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transit {
    /// It arrives at this time.
    Arrives(Micros),
    /// The link is cut: it silently disappears.
    Cut,
    /// The network lost it at random.
    Lost,
}

impl Network {
    pub fn new(nodes: usize, latency: (Micros, Micros), drop: (u32, u32), seed: u64) -> Self {
        Network {
            nodes,
            status: vec![NodeStatus::Up; nodes],
            cut: vec![false; nodes * nodes],
            latency: vec![latency; nodes * nodes],
            last_delivery: vec![0; nodes * nodes],
            extra_latency: vec![0; nodes],
            drop,
            seed,
            link_rngs: vec![None; nodes * nodes],
        }
    }

    /// The random stream of one directed link: ChaCha's stream number (its nonce) is the link's index, so the
    /// streams of a seed never overlap.
    fn link_rng(&mut self, link: usize) -> &mut ChaCha8Rng {
        let seed = self.seed;
        self.link_rngs[link].get_or_insert_with(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(link as u64);
            Box::new(rng)
        })
    }

    fn link(&self, from: NodeId, to: NodeId) -> usize {
        from.index() * self.nodes + to.index()
    }

    pub fn node_count(&self) -> usize {
        self.nodes
    }

    pub fn status(&self, node: NodeId) -> NodeStatus {
        self.status[node.index()]
    }

    pub fn set_status(&mut self, node: NodeId, status: NodeStatus) {
        self.status[node.index()] = status;
    }

    pub fn set_link_latency(&mut self, a: NodeId, b: NodeId, range: (Micros, Micros)) {
        let (ab, ba) = (self.link(a, b), self.link(b, a));
        self.latency[ab] = range;
        self.latency[ba] = range;
    }

    pub fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        self.cut[self.link(from, to)]
    }

    pub fn cut(&mut self, from: NodeId, to: NodeId) {
        let link = self.link(from, to);
        self.cut[link] = true;
    }

    pub fn isolate(&mut self, node: NodeId) {
        for other in 0..self.nodes as u32 {
            if other != node.0 {
                self.cut(node, NodeId(other));
                self.cut(NodeId(other), node);
            }
        }
    }

    /// Cuts every link between nodes of different groups; nodes in no group keep their links.
    pub fn partition(&mut self, groups: &[Vec<NodeId>]) {
        for (i, a) in groups.iter().enumerate() {
            for (j, b) in groups.iter().enumerate() {
                if i != j {
                    for &x in a {
                        for &y in b {
                            self.cut(x, y);
                        }
                    }
                }
            }
        }
    }

    pub fn heal_all(&mut self) {
        self.cut.iter_mut().for_each(|c| *c = false);
        self.extra_latency.iter_mut().for_each(|d| *d = 0);
    }

    pub fn set_extra_latency(&mut self, node: NodeId, extra: Micros) {
        self.extra_latency[node.index()] = extra;
    }

    pub fn extra_latency(&self, node: NodeId) -> Micros {
        self.extra_latency[node.index()]
    }

    /// Decides the fate of a message sent now. The draw order is fixed (drop first, then latency), so the same
    /// seed always gives the same network.
    pub fn send(&mut self, now: Micros, from: NodeId, to: NodeId) -> Transit {
        let link = self.link(from, to);
        if self.cut[link] {
            return Transit::Cut;
        }
        let (numerator, denominator) = self.drop;
        if numerator > 0 && (self.link_rng(link).next_u32() % denominator) < numerator {
            return Transit::Lost;
        }
        let (low, high) = self.latency[link];
        let latency = if high > low { low + self.link_rng(link).next_u64() % (high - low + 1) } else { low };
        let arrival = now + latency + self.extra_latency[from.index()] + self.extra_latency[to.index()];
        // FIFO per directed link, like a TCP connection.
        let arrival = arrival.max(self.last_delivery[link]);
        self.last_delivery[link] = arrival;
        Transit::Arrives(arrival)
    }

    /// The reachability graph the viz draws: an edge a -> b when a's messages can reach b now (both processes
    /// running or paused, link not cut).
    pub fn reachability(&self) -> DiGraphMap<u32, ()> {
        let mut graph = DiGraphMap::new();
        for a in 0..self.nodes as u32 {
            graph.add_node(a);
        }
        for a in 0..self.nodes as u32 {
            for b in 0..self.nodes as u32 {
                let (na, nb) = (NodeId(a), NodeId(b));
                if a != b
                    && !self.is_cut(na, nb)
                    && self.status(na) != NodeStatus::Crashed
                    && self.status(nb) != NodeStatus::Crashed
                {
                    graph.add_edge(a, b, ());
                }
            }
        }
        graph
    }

    /// The cut links, as (from, to) pairs.
    pub fn cut_links(&self) -> Vec<(NodeId, NodeId)> {
        let mut out = Vec::new();
        for a in 0..self.nodes as u32 {
            for b in 0..self.nodes as u32 {
                if a != b && self.is_cut(NodeId(a), NodeId(b)) {
                    out.push((NodeId(a), NodeId(b)));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One stream per link: how much one link carries never moves another link's latencies.
    #[test]
    fn traffic_on_one_link_leaves_the_others_alone() {
        let latencies = |net: &mut Network| -> Vec<Micros> {
            (0..20)
                .map(|t| match net.send(t * 10_000, NodeId(3), NodeId(0)) {
                    Transit::Arrives(at) => at - t * 10_000,
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        let mut busy = Network::new(4, (1_000, 9_000), (0, 1), 7);
        let mut quiet = Network::new(4, (1_000, 9_000), (0, 1), 7);
        for t in 0..50 {
            busy.send(t, NodeId(1), NodeId(2));
        }
        let (on_busy, on_quiet) = (latencies(&mut busy), latencies(&mut quiet));
        assert_eq!(on_busy, on_quiet);
        assert!(on_quiet.iter().any(|&l| l != on_quiet[0]), "latencies vary within the range: {on_quiet:?}");
    }

    #[test]
    fn links_are_fifo_and_cuts_drop() {
        let mut net = Network::new(3, (1_000, 9_000), (0, 1), 1);
        let mut last = 0;
        for t in 0..100 {
            match net.send(t, NodeId(1), NodeId(2)) {
                Transit::Arrives(at) => {
                    assert!(at >= last, "FIFO per link");
                    assert!(at >= t + 1_000);
                    last = at;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        net.cut(NodeId(1), NodeId(2));
        assert_eq!(net.send(200, NodeId(1), NodeId(2)), Transit::Cut);
        assert!(matches!(net.send(200, NodeId(2), NodeId(1)), Transit::Arrives(_)), "a one-way cut");
        let graph = net.reachability();
        assert!(!graph.contains_edge(1, 2));
        assert!(graph.contains_edge(2, 1));
    }

    #[test]
    fn partition_cuts_only_across_groups() {
        let mut net = Network::new(4, (1, 1), (0, 1), 1);
        net.partition(&[vec![NodeId(1)], vec![NodeId(2), NodeId(3)]]);
        assert!(net.is_cut(NodeId(1), NodeId(2)));
        assert!(!net.is_cut(NodeId(2), NodeId(3)));
        assert!(!net.is_cut(NodeId(0), NodeId(1)), "unlisted nodes keep their links");
        net.heal_all();
        assert!(net.cut_links().is_empty());
    }
}
