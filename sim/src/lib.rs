//! KafkaScope's simulation core: a deterministic, sans-IO model of an Apache Kafka cluster.
//!
//! Load a [`scenario::Scenario`], build a [`sim::Simulation`], drive it with `step`, `run_until` and `apply`, and
//! read its state with `snapshot`, the trace and the checker's `verdict`. See `docs/ARCHITECTURE.md` for the
//! codemap and the invariants this crate keeps.

pub mod assignor;
pub mod bits;
pub mod broker;
pub mod buffers;
pub mod checker;
pub mod chunked;
pub mod config;
pub mod consumer;
pub mod controller;
pub mod ctx;
pub mod deadlines;
pub mod expect;
pub mod explain;
pub mod explain_ko;
pub mod explore;
pub mod group;
pub mod hash;
pub mod history;
pub mod ids;
pub mod invariants;
pub mod log;
pub mod message;
pub mod net;
pub mod producer;
pub mod queue;
pub mod report;
pub mod scenario;
pub mod sim;
pub mod snapshot;
pub mod time;
pub mod trace;
pub mod vecmap;

pub use scenario::{Scenario, ScenarioError};
pub use sim::{Command, RunOptions, SimError, Simulation};
