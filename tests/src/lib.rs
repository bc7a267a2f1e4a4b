//! Helpers shared by the workspace-level tests: locating and running the bundled scenarios.

use kafkascope_sim::report::{find_partition, Report};
use kafkascope_sim::trace::TraceRetention;
use kafkascope_sim::{RunOptions, Scenario, Simulation};
use std::path::{Path, PathBuf};

/// The repository's `scenarios/` folder.
pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// Every `.ron` file under `scenarios/`, sorted, so tests see them in a stable order.
pub fn all_scenarios() -> Vec<PathBuf> {
    kafkascope_sim::scenario::scenario_files(&scenarios_dir())
}

/// Loads a bundled scenario by its path under `scenarios/`, e.g. `core/zombie-leader.ron`.
pub fn load(relative: &str) -> Scenario {
    let path = scenarios_dir().join(relative);
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// A simulation of a bundled scenario with invariant checks on and the notable trace kept.
pub fn simulate(relative: &str) -> Simulation {
    simulate_with(relative, TraceRetention::Notable)
}

/// Like [`simulate`], keeping the trace as asked (`Full` keeps every event).
pub fn simulate_with(relative: &str, retention: TraceRetention) -> Simulation {
    let options = RunOptions { retention, check_invariants: true, ..RunOptions::default() };
    Simulation::new(load(relative), options)
}

/// A simulation of a scenario written in the test itself, with invariant checks on and every trace event kept.
pub fn simulate_text(text: &str, name: &str) -> Simulation {
    let scenario = Scenario::parse(text, name).unwrap_or_else(|e| panic!("{e}"));
    let options = RunOptions { retention: TraceRetention::Full, check_invariants: true, ..RunOptions::default() };
    Simulation::new(scenario, options)
}

/// The times of the kept trace events whose kind matches.
pub fn event_times(sim: &Simulation, matches: impl Fn(&kafkascope_sim::trace::TraceKind) -> bool) -> Vec<u64> {
    sim.trace.events().iter().filter(|e| matches(&e.kind)).map(|e| e.time).collect()
}

/// Runs a simulation to `seconds` (simulated), failing the test on any invariant violation.
pub fn run_to(sim: &mut Simulation, seconds: f64) {
    sim.run_until((seconds * 1e6) as u64).unwrap_or_else(|e| panic!("{e}"));
}

/// The controller's view of one partition: (leader, ISR in assignment order, leader epoch).
pub fn partition_state(sim: &Simulation, topic: &str, partition: u32) -> (Option<u32>, Vec<u32>, u32) {
    let report = Report::build(sim, false);
    let p = report.partition(topic, partition).expect("partition exists");
    (p.leader, p.isr.clone(), p.leader_epoch)
}

/// `(log_end_offset, high_watermark)` of a partition's replica on `broker`.
pub fn offsets(sim: &Simulation, topic: &str, partition: u32, broker: u32) -> (u64, u64) {
    let p = find_partition(sim, topic, partition).expect("partition exists");
    let replica = sim.replica(kafkascope_sim::ids::BrokerId(broker), p).expect("hosted");
    (replica.log_end_offset(), replica.high_watermark)
}

/// Runs a scenario to its end with a given seed and returns its trace hash (no invariant checks: fast).
pub fn trace_hash(scenario: Scenario, seed: u64) -> String {
    let options = RunOptions { seed: Some(seed), retention: TraceRetention::HashOnly, ..RunOptions::default() };
    let mut sim = Simulation::new(scenario, options);
    sim.run().unwrap_or_else(|e| panic!("{e}"));
    sim.trace.hash_hex()
}
