//! The sans-IO API the viz and tools drive: stepping, commands, snapshots and forking a run.

use kafkascope_sim::ids::BrokerId;
use kafkascope_sim::snapshot::Snapshot;
use kafkascope_sim::Command;
use kafkascope_tests::{partition_state, run_to, simulate};

#[test]
fn snapshots_round_trip_through_json() {
    let mut sim = simulate("core/acks1-leader-crash-loses-acked.ron");
    run_to(&mut sim, 7.0);
    let snapshot = sim.snapshot();
    assert_eq!(snapshot.time, 7_000_000);
    assert_eq!(snapshot.nodes.len(), 5, "controller, three brokers, one producer");
    let json = serde_json::to_string(&snapshot).unwrap();
    let back: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
    assert_eq!(back.trace_hash, sim.trace.hash_hex());
    assert!(back.records.len() > 100);
}

#[test]
fn a_cloned_simulation_replays_the_same_future() {
    let mut sim = simulate("core/zombie-leader.ron");
    run_to(&mut sim, 12.0);
    let mut fork = sim.clone();
    run_to(&mut sim, 90.0);
    run_to(&mut fork, 90.0);
    assert_eq!(sim.trace.hash_hex(), fork.trace.hash_hex());
}

#[test]
fn commands_applied_through_the_api_change_the_run() {
    let mut sim = simulate("core/hw-lags-one-fetch-round.ron");
    run_to(&mut sim, 0.5);
    sim.apply(Command::Crash { broker: BrokerId(1), lose_unflushed: false }).unwrap();
    let before = sim.trace.hash_hex();
    run_to(&mut sim, 2.0);
    assert_ne!(sim.trace.hash_hex(), before);
    let snapshot = sim.snapshot();
    assert_eq!(snapshot.nodes[1].status, kafkascope_sim::net::NodeStatus::Crashed);
    // The session (9s) has not expired yet, so B1 is still the leader on record, and the record produced at 1s to
    // the dead leader is not acked.
    assert_eq!(partition_state(&sim, "orders", 0).0, Some(1));
    assert_eq!(sim.producers[0].stats.acked, 0);
}

#[test]
fn stepping_moves_one_event_at_a_time_in_time_order() {
    let mut sim = simulate("core/controlled-shutdown.ron");
    let mut last = 0;
    for _ in 0..500 {
        assert!(sim.step().unwrap());
        assert!(sim.now() >= last);
        last = sim.now();
    }
    assert_eq!(sim.events(), 500);
}
