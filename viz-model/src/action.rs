//! Every user action (a click, a key, a test's call) as one enum, and the one mapping from it to the simulation's
//! commands, so that clicks, shortcuts, headless tests and the browser test all take the same path.

use kafkascope_sim::ids::{BrokerId, NodeId};
use kafkascope_sim::sim::Command;
use kafkascope_sim::time::{Micros, US_PER_MS};

/// What can be done to a broker from its menu.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokerAction {
    /// The process dies at once (`kill -9`).
    HardCrash,
    /// The machine loses power: the log loses its unflushed suffix (`flush.messages`).
    PowerLoss,
    /// `kafka-server-stop`: leadership moves away first (controlled shutdown).
    ControlledShutdown,
    Restart,
    /// A long GC pause: the process freezes but keeps its connections.
    Pause,
    Resume,
    /// Cut every link to and from the broker.
    Isolate,
    /// Add this much latency to the broker's links (a slow follower).
    Slow(Micros),
}

impl BrokerAction {
    pub const MENU: [BrokerAction; 8] = [
        BrokerAction::HardCrash,
        BrokerAction::PowerLoss,
        BrokerAction::ControlledShutdown,
        BrokerAction::Restart,
        BrokerAction::Pause,
        BrokerAction::Resume,
        BrokerAction::Isolate,
        BrokerAction::Slow(200 * US_PER_MS),
    ];
}

/// What can be done to a consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumerAction {
    Crash,
    Close,
    Start,
    /// Each record now takes this long to process (it may exceed `max.poll.interval.ms`).
    Slow(Micros),
}

/// A change to the cluster; each maps to one simulation command.
#[derive(Clone, Debug, PartialEq)]
pub enum Intervene {
    Broker {
        broker: BrokerId,
        action: BrokerAction,
    },
    /// Cut (or cut both ways) the link between two nodes.
    CutLink {
        from: NodeId,
        to: NodeId,
        both_ways: bool,
    },
    HealAll,
    CrashController,
    RestartController,
    Consumer {
        consumer: u32,
        action: ConsumerAction,
    },
    Pause {
        node: NodeId,
    },
    Resume {
        node: NodeId,
    },
}

impl Intervene {
    /// The simulation command this stands for.
    pub fn to_command(&self) -> Command {
        match *self {
            Intervene::Broker { broker, action } => match action {
                BrokerAction::HardCrash => Command::Crash { broker, lose_unflushed: false },
                BrokerAction::PowerLoss => Command::Crash { broker, lose_unflushed: true },
                BrokerAction::ControlledShutdown => Command::ControlledShutdown { broker },
                BrokerAction::Restart => Command::Restart { broker },
                BrokerAction::Pause => Command::Pause { node: broker.node() },
                BrokerAction::Resume => Command::Resume { node: broker.node() },
                BrokerAction::Isolate => Command::Isolate { node: broker.node() },
                BrokerAction::Slow(extra_latency) => Command::Slow { node: broker.node(), extra_latency },
            },
            Intervene::CutLink { from, to, both_ways } => Command::Cut { from, to, both_ways },
            Intervene::HealAll => Command::HealAll,
            Intervene::CrashController => Command::CrashController,
            Intervene::RestartController => Command::RestartController,
            Intervene::Consumer { consumer, action } => match action {
                ConsumerAction::Crash => Command::CrashConsumer { consumer },
                ConsumerAction::Close => Command::CloseConsumer { consumer },
                ConsumerAction::Start => Command::StartConsumer { consumer },
                ConsumerAction::Slow(processing) => Command::SlowConsumer { consumer, processing },
            },
            Intervene::Pause { node } => Command::Pause { node },
            Intervene::Resume { node } => Command::Resume { node },
        }
    }
}
