//! The simulation engine: one event queue ordered by (time, sequence), the network, the nodes, faults and
//! commands, and invariant checks after every event.
//!
//! It is sans-IO like quinn-proto: the caller loads a scenario, then drives it with [`Simulation::step`],
//! [`Simulation::run_until`] and [`Simulation::apply`], and reads state with [`Simulation::snapshot`] and the
//! trace. Nothing here reads a clock or the OS's randomness: the same scenario and seed give the same trace.

use crate::broker::{Broker, Role};
use crate::buffers::Buffers;
use crate::consumer::{Consumer, Processed};
use crate::controller::Controller;
use crate::ctx::{Ctx, Outbox, PartitionInfo, Timer, Topology};
use crate::group::InternalRecords;
use crate::history::{History, KeyRef};
use crate::ids::{BrokerId, NodeId, PartitionIdx, ProducerIdx, CONTROLLER};
use crate::invariants::Invariants;
use crate::message::Message;
use crate::net::{Network, NodeStatus, Transit};
use crate::producer::{OutgoingRecord, Producer};
use crate::queue::EventQueue;
use crate::scenario::{limits, Action, RecordSpec, Scenario};
use crate::time::{format_time, Micros};
use crate::trace::{DropReason, Trace, TraceKind, TraceRetention};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Something that can go wrong with a run (as opposed to Kafka outcomes, which are data).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    #[error("invariant violated at {time} (seed {seed}, event #{event}: {during}): {what}")]
    Invariant { seed: u64, time: String, event: u64, during: String, what: String },
    #[error("event budget exhausted: {events} events by {time} (seed {seed}); raise it with --max-events or shorten the scenario")]
    EventBudget { seed: u64, events: u64, time: String },
}

/// A command from the viz, a test or the scenario's timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Command {
    Crash { broker: BrokerId, lose_unflushed: bool },
    Restart { broker: BrokerId },
    ControlledShutdown { broker: BrokerId },
    Isolate { node: NodeId },
    Cut { from: NodeId, to: NodeId, both_ways: bool },
    Partition { groups: Vec<Vec<NodeId>> },
    HealAll,
    Slow { node: NodeId, extra_latency: Micros },
    Pause { node: NodeId },
    Resume { node: NodeId },
    CrashController,
    RestartController,
    Produce { producer: ProducerIdx, topic: usize, records: Vec<RecordSpec> },
    StartConsumer { consumer: u32 },
    CrashConsumer { consumer: u32 },
    CloseConsumer { consumer: u32 },
    SlowConsumer { consumer: u32, processing: Micros },
}

/// A handler's `Ctx` over the simulation's own fields. A macro rather than a method, so that its borrows stay
/// disjoint from the node whose handler runs (`self.brokers[i]` and the like).
macro_rules! handler_ctx {
    ($sim:expr, $now:expr) => {
        Ctx {
            now: $now,
            topo: &$sim.topo,
            out: &mut $sim.outbox,
            internal: &mut $sim.internal,
            trace: &mut $sim.trace,
            buffers: &mut $sim.buffers,
        }
    };
}

#[derive(Clone, Debug)]
enum Event {
    Deliver { from: NodeId, to: NodeId, message: Message },
    Timer { node: NodeId, incarnation: u32, timer: Timer },
    Command(Command),
}

/// Options for a run that are not part of the scenario.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub seed: Option<u64>,
    pub retention: TraceRetention,
    pub max_events: u64,
    /// Check invariants after every event (on by default in debug and test builds).
    pub check_invariants: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            seed: None,
            retention: TraceRetention::Notable,
            max_events: limits::MAX_EVENTS_DEFAULT,
            check_invariants: cfg!(debug_assertions),
        }
    }
}

/// Sub-seeds per subsystem, so that adding a fault kind never changes the network or workload of a seed.
fn sub_seed(seed: u64, subsystem: u64) -> u64 {
    let mut z = seed ^ subsystem.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
const SUBSYSTEM_NETWORK: u64 = 1;
const SUBSYSTEM_WORKLOAD: u64 = 2;
/// Consumers draw only the jitter of their retry backoffs.
const SUBSYSTEM_CONSUMER: u64 = 3;

#[derive(Clone)]
pub struct Simulation {
    pub scenario: Arc<Scenario>,
    pub topo: Arc<Topology>,
    pub seed: u64,
    now: Micros,
    queue: EventQueue<Event>,
    pub net: Network,
    pub controller: Controller,
    pub brokers: Vec<Broker>,
    pub producers: Vec<Producer>,
    pub consumers: Vec<Consumer>,
    pub history: History,
    /// Payloads of the group coordinators' records in `__consumer_offsets`.
    pub internal: InternalRecords,
    /// Every record a consumer processed, in order.
    pub processed: Vec<Processed>,
    pub trace: Trace,
    incarnation: Vec<u32>,
    paused_inbox: Vec<Vec<Event>>,
    events: u64,
    max_events: u64,
    check_invariants: bool,
    invariants: Invariants,
    failure: Option<SimError>,
    /// Reused by every handler call, so its buffers are allocated once.
    outbox: Outbox,
    /// Spare payload vectors, reused from message to message.
    buffers: Buffers,
    /// Brokers asked to restart while still shutting down: restarted when they stop.
    restart_after_stop: Vec<bool>,
}

impl Simulation {
    pub fn new(scenario: Scenario, options: RunOptions) -> Simulation {
        let seed = options.seed.unwrap_or(scenario.seed);
        let mut partitions = Vec::new();
        let mut topic_first_partition = Vec::new();
        for (topic_index, topic) in scenario.topics.iter().enumerate() {
            topic_first_partition.push(partitions.len() as u32);
            for (p, replicas) in topic.assignment.iter().enumerate() {
                partitions.push(PartitionInfo {
                    topic: topic_index,
                    partition: p as u32,
                    replicas: replicas.clone(),
                    min_insync_replicas: topic.config.min_insync_replicas,
                    unclean_leader_election_enable: topic.config.unclean_leader_election_enable,
                    flush_messages: topic.config.flush_messages,
                });
            }
        }
        // Groups need the internal `__consumer_offsets` topic, replicated like any other (GroupMetadataManager).
        let mut topics = scenario.topics.clone();
        let offsets_topic = (!scenario.groups.is_empty()).then(|| {
            let config = &scenario.broker_config;
            let replication_factor = config.offsets_topic_replication_factor.min(scenario.brokers);
            let count = config.offsets_topic_num_partitions;
            let assignment = crate::scenario::default_assignment(scenario.brokers, count, replication_factor);
            let topic_index = topics.len();
            topic_first_partition.push(partitions.len() as u32);
            for (p, replicas) in assignment.iter().enumerate() {
                partitions.push(PartitionInfo {
                    topic: topic_index,
                    partition: p as u32,
                    replicas: replicas.clone(),
                    min_insync_replicas: config.min_insync_replicas,
                    unclean_leader_election_enable: config.unclean_leader_election_enable,
                    flush_messages: config.log_flush_interval_messages,
                });
            }
            topics.push(crate::scenario::Topic {
                name: "__consumer_offsets".into(),
                partitions: count,
                replication_factor,
                config: crate::config::TopicConfig::from_map(&Default::default(), config).expect("defaults are valid"),
                assignment,
            });
            topic_index
        });
        let node_names = scenario.node_names();
        let topo = Arc::new(Topology {
            brokers: scenario.brokers,
            broker_config: scenario.broker_config.clone(),
            topics,
            partitions,
            topic_first_partition,
            node_names: node_names.clone(),
            offsets_topic,
            groups: scenario.groups.clone(),
        });
        let nodes = node_names.len();
        let mut net =
            Network::new(nodes, scenario.network.latency, scenario.network.drop, sub_seed(seed, SUBSYSTEM_NETWORK));
        for (a, b, range) in &scenario.network.links {
            let find = |name: &str| NodeId(node_names.iter().position(|n| n == name).expect("validated") as u32);
            net.set_link_latency(find(a), find(b), *range);
        }
        let controller = Controller::new(&topo);
        let brokers = topo.broker_ids().map(|b| Broker::new(b, &topo.partitions, &controller.partitions)).collect();
        let leaders: Vec<_> = controller.partitions.iter().map(|s| (s.leader, s.leader_epoch)).collect();
        let producers = scenario
            .producers
            .iter()
            .enumerate()
            .map(|(i, def)| {
                let rng = ChaCha8Rng::seed_from_u64(sub_seed(seed, SUBSYSTEM_WORKLOAD + 16 * (i as u64 + 1)));
                let node = NodeId(1 + scenario.brokers + i as u32);
                Producer::new(ProducerIdx(i as u32), node, def, &topo, leaders.clone(), rng)
            })
            .collect();
        let first_consumer = 1 + scenario.brokers + scenario.producers.len() as u32;
        let consumers = scenario
            .consumers
            .iter()
            .enumerate()
            .map(|(i, def)| {
                let rng = ChaCha8Rng::seed_from_u64(sub_seed(seed, SUBSYSTEM_CONSUMER + 16 * (i as u64 + 1)));
                Consumer::new(i as u32, NodeId(first_consumer + i as u32), def, leaders.clone(), rng)
            })
            .collect();
        let invariants = Invariants::new(&controller);
        let scenario_brokers = scenario.brokers;
        let mut sim = Simulation {
            scenario: Arc::new(scenario),
            topo,
            seed,
            now: 0,
            queue: EventQueue::default(),
            net,
            controller,
            brokers,
            producers,
            consumers,
            history: History::default(),
            internal: InternalRecords::default(),
            processed: Vec::new(),
            trace: Trace::new(options.retention),
            incarnation: vec![0; nodes],
            paused_inbox: vec![Vec::new(); nodes],
            events: 0,
            max_events: options.max_events,
            check_invariants: options.check_invariants,
            invariants,
            failure: None,
            outbox: Outbox::default(),
            buffers: Buffers::default(),
            restart_after_stop: vec![false; scenario_brokers as usize],
        };
        sim.boot();
        sim
    }

    /// Starts every node at t=0 and schedules the scenario's timeline.
    fn boot(&mut self) {
        {
            let mut ctx = handler_ctx!(self, 0);
            self.controller.start(&mut ctx);
        }
        self.flush(CONTROLLER);
        for i in 0..self.brokers.len() {
            {
                let mut ctx = handler_ctx!(self, 0);
                self.brokers[i].start(&mut ctx, true);
            }
            self.flush(NodeId(i as u32 + 1));
        }
        for i in 0..self.producers.len() {
            {
                let mut ctx = handler_ctx!(self, 0);
                self.producers[i].start(&mut ctx);
            }
            let node = self.producers[i].node;
            self.flush(node);
        }
        for i in 0..self.consumers.len() {
            let start = self.scenario.consumers[i].start;
            self.push(start, Event::Command(Command::StartConsumer { consumer: i as u32 }));
        }
        let timeline = self.scenario.timeline.clone();
        for step in timeline {
            if let Some(action) = &step.action {
                if let Some(command) = self.command_for(action) {
                    self.push(step.at.0, Event::Command(command));
                }
            }
        }
    }

    /// Resolves a scenario action's names to ids (the scenario was validated, so every name exists).
    /// The command a timeline action stands for; `None` for actions that only concern the audience (`Predict`).
    pub fn command_for(&self, action: &Action) -> Option<Command> {
        match action {
            Action::Predict { .. } => None,
            other => Some(self.command_for_inner(other)),
        }
    }

    fn command_for_inner(&self, action: &Action) -> Command {
        let node = |name: &str| NodeId(self.topo.node_names.iter().position(|n| n == name).expect("validated") as u32);
        match action {
            Action::Crash { broker, lose_unflushed } => {
                Command::Crash { broker: BrokerId(*broker), lose_unflushed: *lose_unflushed }
            }
            Action::Restart { broker } => Command::Restart { broker: BrokerId(*broker) },
            Action::ControlledShutdown { broker } => Command::ControlledShutdown { broker: BrokerId(*broker) },
            Action::Isolate { node: name } => Command::Isolate { node: node(name) },
            Action::Cut { from, to, both_ways } => {
                Command::Cut { from: node(from), to: node(to), both_ways: *both_ways }
            }
            Action::Partition { groups } => {
                Command::Partition { groups: groups.iter().map(|g| g.iter().map(|n| node(n)).collect()).collect() }
            }
            Action::HealAll => Command::HealAll,
            Action::Slow { node: name, extra_latency } => {
                Command::Slow { node: node(name), extra_latency: extra_latency.0 }
            }
            Action::Pause { node: name } => Command::Pause { node: node(name) },
            Action::Resume { node: name } => Command::Resume { node: node(name) },
            Action::CrashController => Command::CrashController,
            Action::RestartController => Command::RestartController,
            Action::CrashConsumer { consumer } => Command::CrashConsumer { consumer: self.consumer_index(consumer) },
            Action::StartConsumer { consumer } => Command::StartConsumer { consumer: self.consumer_index(consumer) },
            Action::CloseConsumer { consumer } => Command::CloseConsumer { consumer: self.consumer_index(consumer) },
            Action::SlowConsumer { consumer, processing } => {
                Command::SlowConsumer { consumer: self.consumer_index(consumer), processing: processing.0 }
            }
            Action::Predict { .. } => unreachable!("command_for handles Predict"),
            Action::Produce { producer, topic, records } => Command::Produce {
                producer: ProducerIdx(
                    self.scenario.producers.iter().position(|p| &p.name == producer).expect("validated") as u32,
                ),
                topic: self.scenario.topic_index(topic).expect("validated"),
                records: records.clone(),
            },
        }
    }

    fn consumer_index(&self, name: &str) -> u32 {
        self.scenario.consumers.iter().position(|c| c.name == name).expect("validated") as u32
    }

    fn push(&mut self, time: Micros, event: Event) {
        self.queue.push(time, event);
    }

    /// How many events are queued (timers and messages on the wire).
    pub fn queued_events(&self) -> usize {
        self.queue.len()
    }

    /// Queued events by kind, for debugging the queue's size.
    pub fn queued_by_kind(&self) -> std::collections::BTreeMap<String, usize> {
        let mut out = std::collections::BTreeMap::new();
        for (_, event) in self.queue.iter() {
            let name = match event {
                Event::Deliver { message, .. } => format!("{:?}", message.kind()),
                Event::Timer { timer, .. } => format!("{timer:?}").split([' ', '{']).next().unwrap_or("").to_string(),
                Event::Command(_) => "Command".to_string(),
            };
            *out.entry(name).or_insert(0) += 1;
        }
        out
    }

    pub fn now(&self) -> Micros {
        self.now
    }

    pub fn events(&self) -> u64 {
        self.events
    }

    pub fn duration(&self) -> Micros {
        self.scenario.duration
    }

    pub fn failure(&self) -> Option<&SimError> {
        self.failure.as_ref()
    }

    /// The time of the next event, if any.
    pub fn next_event_time(&self) -> Option<Micros> {
        self.queue.peek_time()
    }

    /// Messages on the wire now: (from, to, kind, arrival time), for the viz to animate.
    pub fn in_flight(&self) -> Vec<(NodeId, NodeId, crate::message::MessageKind, Micros)> {
        let mut out: Vec<_> = self
            .queue
            .iter()
            .filter_map(|(time, event)| match event {
                Event::Deliver { from, to, message } => Some((*from, *to, message.kind(), time)),
                _ => None,
            })
            .collect();
        out.sort_by_key(|&(from, to, _, time)| (time, from, to));
        out
    }

    /// The messages on the wire now, in the queue's order: (from, to, message).
    pub fn messages_in_flight(&self) -> Vec<(NodeId, NodeId, &Message)> {
        self.queue
            .iter()
            .filter_map(|(_, event)| match event {
                Event::Deliver { from, to, message } => Some((*from, *to, message)),
                _ => None,
            })
            .collect()
    }

    /// Applies a command now, as a click in the viz does.
    pub fn apply(&mut self, command: Command) -> Result<(), SimError> {
        let during = format!("command {command:?}");
        self.execute(command);
        self.after_event(&during)
    }

    /// Handles the next event. Returns `Ok(false)` when nothing is left to do before the scenario's end.
    pub fn step(&mut self) -> Result<bool, SimError> {
        self.step_until(self.scenario.duration)
    }

    /// Handles the next event if it is due at or before `until` (at most the scenario's duration). The queue is
    /// looked at once per event: this is the event loop's only check of what comes next.
    fn step_until(&mut self, until: Micros) -> Result<bool, SimError> {
        if let Some(failure) = &self.failure {
            return Err(failure.clone());
        }
        match self.queue.peek_time() {
            Some(time) if time <= until => {}
            _ => return Ok(false),
        }
        let (time, event) = self.queue.pop().expect("peeked");
        debug_assert!(time >= self.now, "time never goes back");
        self.now = time;
        self.events += 1;
        if self.events > self.max_events {
            let error = SimError::EventBudget { seed: self.seed, events: self.events, time: format_time(self.now) };
            self.failure = Some(error.clone());
            return Err(error);
        }
        if self.check_invariants {
            let during = describe(&event);
            self.dispatch(event);
            self.after_event(&during)?;
        } else {
            self.dispatch(event);
        }
        Ok(true)
    }

    /// Runs every event up to and including time `until` (capped at the scenario's duration).
    pub fn run_until(&mut self, until: Micros) -> Result<(), SimError> {
        let until = until.min(self.scenario.duration);
        while self.step_until(until)? {}
        self.now = self.now.max(until);
        Ok(())
    }

    /// Runs the whole scenario.
    pub fn run(&mut self) -> Result<(), SimError> {
        self.run_until(self.scenario.duration)
    }

    fn after_event(&mut self, during: &str) -> Result<(), SimError> {
        if self.check_invariants {
            let mut invariants = std::mem::take(&mut self.invariants);
            let result = invariants.check(self);
            self.invariants = invariants;
            if let Err(what) = result {
                let error = SimError::Invariant {
                    seed: self.seed,
                    time: format_time(self.now),
                    event: self.events,
                    during: during.to_string(),
                    what,
                };
                self.failure = Some(error.clone());
                return Err(error);
            }
        }
        Ok(())
    }

    fn dispatch(&mut self, event: Event) {
        match event {
            Event::Deliver { from, to, message } => {
                match self.net.status(to) {
                    NodeStatus::Crashed => {
                        self.trace.record(
                            self.now,
                            TraceKind::Dropped { from, to, message: message.kind(), reason: DropReason::NodeDown },
                        );
                        if let Some(refusal) = message.refused(to) {
                            self.trace.record(self.now, TraceKind::Refused { from, to, message: message.kind() });
                            self.outbox.sends.push((from, refusal));
                            self.flush(to);
                        }
                        return;
                    }
                    NodeStatus::Paused => {
                        self.paused_inbox[to.index()].push(Event::Deliver { from, to, message });
                        return;
                    }
                    NodeStatus::Up => {}
                }
                if self.net.is_cut(from, to) {
                    self.trace.record(
                        self.now,
                        TraceKind::Dropped { from, to, message: message.kind(), reason: DropReason::LinkCut },
                    );
                    return;
                }
                self.trace.record(self.now, TraceKind::Delivered { from, to, message: message.kind() });
                if self.check_invariants {
                    self.check_consumer_read(to, &message);
                }
                match &message {
                    Message::MetadataPush(_) | Message::BrokerHeartbeatResponse { .. } => self.invariants.touch_all(),
                    _ if to == CONTROLLER => self.invariants.touch_all(),
                    other if self.check_invariants => {
                        for p in other.partitions() {
                            self.invariants.touch(Some(p));
                        }
                    }
                    _ => {}
                }
                {
                    let mut ctx = handler_ctx!(self, self.now);
                    match to {
                        CONTROLLER => self.controller.on_message(&mut ctx, from, message),
                        node if (node.0 as usize) <= self.brokers.len() => {
                            self.brokers[node.index() - 1].on_message(&mut ctx, from, message)
                        }
                        node if node.index() - 1 - self.brokers.len() < self.producers.len() => {
                            let p = node.index() - 1 - self.brokers.len();
                            self.producers[p].on_message(&mut ctx, &mut self.history, message)
                        }
                        node => {
                            let c = node.index() - 1 - self.brokers.len() - self.producers.len();
                            self.consumers[c].on_message(&mut ctx, &mut self.processed, message)
                        }
                    }
                }
                self.flush(to);
            }
            Event::Timer { node, incarnation, timer } => {
                if incarnation != self.incarnation[node.index()] {
                    return;
                }
                match self.net.status(node) {
                    NodeStatus::Crashed => return,
                    NodeStatus::Paused => {
                        self.paused_inbox[node.index()].push(Event::Timer { node, incarnation, timer });
                        return;
                    }
                    NodeStatus::Up => {}
                }
                // Without invariant checks nobody drains the touched list: it would grow with time.
                if node == CONTROLLER {
                    self.invariants.touch_all();
                } else if self.check_invariants {
                    self.invariants.touch(timer_partition(&timer));
                }
                {
                    let mut ctx = handler_ctx!(self, self.now);
                    match node {
                        CONTROLLER => self.controller.on_timer(&mut ctx, timer),
                        node if (node.0 as usize) <= self.brokers.len() => {
                            self.brokers[node.index() - 1].on_timer(&mut ctx, timer)
                        }
                        node if node.index() - 1 - self.brokers.len() < self.producers.len() => {
                            let p = node.index() - 1 - self.brokers.len();
                            self.producers[p].on_timer(&mut ctx, &mut self.history, timer)
                        }
                        node => {
                            let c = node.index() - 1 - self.brokers.len() - self.producers.len();
                            self.consumers[c].on_timer(&mut ctx, &mut self.processed, timer)
                        }
                    }
                }
                self.flush(node);
            }
            Event::Command(command) => self.execute(command),
        }
    }

    /// Hands a handler's output (in `self.outbox`, which handlers fill in place) to the network, the queue and the
    /// trace, leaving the outbox empty with its capacity for the next handler.
    fn flush(&mut self, from: NodeId) {
        let out = &mut self.outbox;
        if self.check_invariants {
            for &partition in &out.touched {
                self.invariants.touch(Some(partition));
            }
        }
        out.touched.clear();
        // Many events send nothing and set no timer.
        if out.sends.is_empty() && out.timers.is_empty() && !out.stop_self {
            return;
        }
        for (to, message) in out.sends.drain(..) {
            match self.net.send(self.now, from, to) {
                Transit::Arrives(at) => {
                    self.queue.push(at, Event::Deliver { from, to, message });
                }
                Transit::Cut => self.trace.record(
                    self.now,
                    TraceKind::Dropped { from, to, message: message.kind(), reason: DropReason::LinkCut },
                ),
                Transit::Lost => self.trace.record(
                    self.now,
                    TraceKind::Dropped { from, to, message: message.kind(), reason: DropReason::Lost },
                ),
            }
        }
        let incarnation = self.incarnation[from.index()];
        for (at, timer) in out.timers.drain(..) {
            self.queue.push(at, Event::Timer { node: from, incarnation, timer });
        }
        if std::mem::take(&mut self.outbox.stop_self) {
            let broker = BrokerId(from.0);
            self.stop_broker(broker);
            self.trace.record(self.now, TraceKind::Stopped { broker });
            if std::mem::take(&mut self.restart_after_stop[broker.0 as usize - 1]) {
                self.push(self.now, Event::Command(Command::Restart { broker }));
            }
        }
    }

    /// Runs `f` as node `node`'s handler and flushes what it produced.
    fn as_node(&mut self, node: NodeId, f: impl FnOnce(&mut Simulation, &mut Ctx)) {
        let mut out = std::mem::take(&mut self.outbox);
        let mut internal = std::mem::take(&mut self.internal);
        // The handler's records go into the run's trace, taken out while `f` borrows the simulation (which
        // calls handlers only, and never records into `self.trace` itself).
        let mut trace = std::mem::replace(&mut self.trace, Trace::new(TraceRetention::HashOnly));
        let mut buffers = std::mem::take(&mut self.buffers);
        let topo = self.topo.clone();
        {
            let mut ctx = Ctx {
                now: self.now,
                topo: &topo,
                out: &mut out,
                internal: &mut internal,
                trace: &mut trace,
                buffers: &mut buffers,
            };
            f(self, &mut ctx);
        }
        self.trace = trace;
        self.buffers = buffers;
        self.internal = internal;
        self.outbox = out;
        self.flush(node);
    }

    /// The broker's process stops: its timers die with it, and every client's connection to it breaks.
    fn stop_broker(&mut self, broker: BrokerId) {
        let node = broker.node();
        self.net.set_status(node, NodeStatus::Crashed);
        self.incarnation[node.index()] += 1;
        self.paused_inbox[node.index()].clear();
        self.invariants.touch_all();
        for i in 0..self.producers.len() {
            let producer_node = self.producers[i].node;
            if self.net.status(producer_node) == NodeStatus::Up {
                self.as_node(producer_node, |sim, ctx| {
                    sim.producers[i].on_broker_disconnected(ctx, &mut sim.history, broker)
                });
            }
        }
        for i in 0..self.consumers.len() {
            let consumer_node = self.consumers[i].node;
            if self.net.status(consumer_node) == NodeStatus::Up {
                self.as_node(consumer_node, |sim, ctx| sim.consumers[i].on_broker_disconnected(ctx, broker));
            }
        }
        for i in 0..self.brokers.len() {
            let peer = NodeId(i as u32 + 1);
            if peer != node && self.net.status(peer) == NodeStatus::Up {
                self.as_node(peer, |sim, ctx| sim.brokers[i].on_peer_disconnected(ctx, broker));
            }
        }
    }

    fn execute(&mut self, command: Command) {
        self.invariants.touch_all();
        match command {
            Command::Crash { broker, lose_unflushed } => {
                if self.net.status(broker.node()) == NodeStatus::Crashed {
                    return;
                }
                let mut lost_unflushed = 0;
                if lose_unflushed {
                    for replica in self.brokers[broker.0 as usize - 1].replicas.iter_mut().flatten() {
                        lost_unflushed += replica.log.lose_unflushed();
                        replica.high_watermark = replica.high_watermark.min(replica.log.log_end_offset());
                    }
                    if lost_unflushed > 0 {
                        self.invariants.lossy_restart_happened = true;
                    }
                }
                self.trace.record(self.now, TraceKind::Crashed { broker, lost_unflushed });
                self.stop_broker(broker);
            }
            Command::Restart { broker } => {
                let node = broker.node();
                if self.net.status(node) != NodeStatus::Crashed {
                    // A broker still in controlled shutdown is restarted as soon as it has stopped.
                    if self.brokers[broker.0 as usize - 1].want_shutdown {
                        self.restart_after_stop[broker.0 as usize - 1] = true;
                    }
                    return;
                }
                self.net.set_status(node, NodeStatus::Up);
                self.incarnation[node.index()] += 1;
                let b = broker.0 as usize - 1;
                self.brokers[b].incarnation += 1;
                self.trace.record(self.now, TraceKind::Restarted { broker });
                self.as_node(node, |sim, ctx| sim.brokers[b].start(ctx, false));
            }
            Command::ControlledShutdown { broker } => {
                if self.net.status(broker.node()) != NodeStatus::Up {
                    return;
                }
                let b = broker.0 as usize - 1;
                self.as_node(broker.node(), |sim, ctx| sim.brokers[b].begin_controlled_shutdown(ctx));
            }
            Command::Isolate { node } => {
                self.net.isolate(node);
                self.trace.record(self.now, TraceKind::Isolated { node });
            }
            Command::Cut { from, to, both_ways } => {
                self.net.cut(from, to);
                self.trace.record(self.now, TraceKind::LinkCut { from, to });
                if both_ways {
                    self.net.cut(to, from);
                    self.trace.record(self.now, TraceKind::LinkCut { from: to, to: from });
                }
            }
            Command::Partition { groups } => {
                self.net.partition(&groups);
                self.trace.record(self.now, TraceKind::Partitioned { groups });
            }
            Command::HealAll => {
                self.net.heal_all();
                self.trace.record(self.now, TraceKind::Healed);
            }
            Command::Slow { node, extra_latency } => {
                self.net.set_extra_latency(node, extra_latency);
                self.trace.record(self.now, TraceKind::Slowed { node, extra_latency });
            }
            Command::Pause { node } => {
                if self.net.status(node) == NodeStatus::Up {
                    self.net.set_status(node, NodeStatus::Paused);
                    self.trace.record(self.now, TraceKind::Paused { node });
                }
            }
            Command::Resume { node } => {
                if self.net.status(node) == NodeStatus::Paused {
                    self.net.set_status(node, NodeStatus::Up);
                    self.trace.record(self.now, TraceKind::Resumed { node });
                    // Everything that arrived or fell due during the pause is handled now, in order.
                    for event in std::mem::take(&mut self.paused_inbox[node.index()]) {
                        self.push(self.now, event);
                    }
                }
            }
            Command::CrashController => {
                if self.net.status(CONTROLLER) != NodeStatus::Crashed {
                    self.net.set_status(CONTROLLER, NodeStatus::Crashed);
                    self.incarnation[CONTROLLER.index()] += 1;
                    self.paused_inbox[CONTROLLER.index()].clear();
                    self.trace.record(self.now, TraceKind::ControllerCrashed);
                }
            }
            Command::RestartController => {
                if self.net.status(CONTROLLER) == NodeStatus::Crashed {
                    self.net.set_status(CONTROLLER, NodeStatus::Up);
                    self.incarnation[CONTROLLER.index()] += 1;
                    self.trace.record(self.now, TraceKind::ControllerRestarted);
                    self.as_node(CONTROLLER, |sim, ctx| sim.controller.restart(ctx));
                }
            }
            Command::StartConsumer { consumer } => {
                let node = self.consumers[consumer as usize].node;
                if self.consumers[consumer as usize].state != crate::consumer::MemberState::Stopped {
                    return;
                }
                self.net.set_status(node, NodeStatus::Up);
                self.incarnation[node.index()] += 1;
                self.trace.record(self.now, TraceKind::ConsumerStarted { consumer: node });
                self.as_node(node, |sim, ctx| sim.consumers[consumer as usize].start(ctx));
            }
            Command::CrashConsumer { consumer } => {
                let node = self.consumers[consumer as usize].node;
                if self.consumers[consumer as usize].state == crate::consumer::MemberState::Stopped {
                    return;
                }
                self.consumers[consumer as usize].crash();
                self.net.set_status(node, NodeStatus::Crashed);
                self.incarnation[node.index()] += 1;
                self.paused_inbox[node.index()].clear();
                self.trace.record(self.now, TraceKind::ConsumerCrashed { consumer: node });
            }
            Command::CloseConsumer { consumer } => {
                let node = self.consumers[consumer as usize].node;
                if self.net.status(node) != NodeStatus::Up {
                    return;
                }
                self.as_node(node, |sim, ctx| sim.consumers[consumer as usize].close(ctx));
                self.net.set_status(node, NodeStatus::Crashed);
                self.incarnation[node.index()] += 1;
                self.trace.record(self.now, TraceKind::ConsumerClosed { consumer: node });
            }
            Command::SlowConsumer { consumer, processing } => {
                self.consumers[consumer as usize].processing = processing;
                let node = self.consumers[consumer as usize].node;
                self.trace.record(self.now, TraceKind::ConsumerSlowed { consumer: node, processing });
            }
            Command::Produce { producer, topic, records } => {
                let node = self.producers[producer.index()].node;
                if self.net.status(node) != NodeStatus::Up {
                    return;
                }
                self.as_node(node, |sim, ctx| {
                    for record in records {
                        let key = match record.key {
                            Some(k) => KeyRef::Text(sim.history.add_text(k)),
                            None => KeyRef::None,
                        };
                        let outgoing = OutgoingRecord {
                            topic,
                            key,
                            value: Some(sim.history.add_text(record.value)),
                            partition: record.partition,
                        };
                        sim.producers[producer.index()].send(ctx, &mut sim.history, outgoing);
                    }
                });
            }
        }
    }

    /// Consumers read only below the high watermark: the records of a fetch answer must end at or below the HW the
    /// answer carries (read_uncommitted never sees further).
    fn check_consumer_read(&mut self, to: NodeId, message: &Message) {
        let Message::ConsumerFetchResponse {
            fetch_id,
            partition,
            result: crate::message::FetchResult::Records { entries, high_watermark },
        } = message
        else {
            return;
        };
        let first_consumer = 1 + self.brokers.len() + self.producers.len();
        let Some(consumer) = to.index().checked_sub(first_consumer).and_then(|c| self.consumers.get(c)) else { return };
        let Some(state) = consumer.assigned.get(partition).filter(|s| s.fetch_in_flight == Some(*fetch_id)) else {
            return;
        };
        let end = state.fetch_offset + entries.len() as u64;
        if !entries.is_empty() && end > *high_watermark {
            self.invariants.consumer_read_violation = Some(format!(
                "{} was handed {} up to offset {} at or above the high watermark {high_watermark}",
                consumer.name,
                self.topo.partition_name(*partition),
                end - 1
            ));
        }
    }

    /// The replica of `partition` on `broker`, if hosted there.
    pub fn replica(&self, broker: BrokerId, partition: PartitionIdx) -> Option<&crate::broker::Replica> {
        self.brokers[broker.0 as usize - 1].replicas[partition.index()].as_ref()
    }

    /// What `leader` knows as `follower`'s `lastCaughtUpTime` on `partition` (see `Broker::last_caught_up_time`).
    pub fn last_caught_up_time(&self, leader: BrokerId, partition: PartitionIdx, follower: BrokerId) -> Option<Micros> {
        self.brokers.get(leader.0 as usize - 1)?.last_caught_up_time(partition, follower)
    }

    /// The broker that leads `partition` according to the controller.
    pub fn leader_of(&self, partition: PartitionIdx) -> Option<BrokerId> {
        self.controller.partitions[partition.index()].leader
    }

    /// Whether a broker currently acts as leader of `partition` (a zombie may, after the controller moved on).
    pub fn acts_as_leader(&self, broker: BrokerId, partition: PartitionIdx) -> bool {
        self.net.status(broker.node()) != NodeStatus::Crashed
            && self.replica(broker, partition).is_some_and(|r| matches!(r.role, Role::Leader(_)))
    }
}

fn timer_partition(timer: &Timer) -> Option<PartitionIdx> {
    match timer {
        Timer::FetchBackoff { partition } | Timer::IsrCheck { partition, .. } | Timer::RetryBackoff { partition } => {
            Some(*partition)
        }
        _ => None,
    }
}

fn describe(event: &Event) -> String {
    match event {
        Event::Deliver { from, to, message } => {
            format!("{:?} from node {} to node {}", message.kind(), from.0, to.0)
        }
        Event::Timer { node, timer, .. } => format!("timer {timer:?} on node {}", node.0),
        Event::Command(command) => format!("command {command:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without invariant checks, nothing may pile up for them: a long run's memory is bounded by its data.
    #[test]
    fn unchecked_runs_keep_no_touched_partitions() {
        let text = include_str!("../../scenarios/core/slow-follower-isr-shrink.ron");
        let scenario = Scenario::parse(text, "slow-follower-isr-shrink.ron").expect("valid");
        let options = RunOptions { check_invariants: false, ..RunOptions::default() };
        let mut sim = Simulation::new(scenario, options);
        sim.run().expect("runs");
        assert!(sim.events() > 1000, "the scenario ran ({} events)", sim.events());
        assert_eq!(sim.invariants.unchecked_touches(), 0);
    }
}
