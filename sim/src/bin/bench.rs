//! `kafkascope-bench`: measures how fast the simulation runs, in simulated events and records per wall-clock second.
//!
//! This binary is the only place in the crate that reads a wall clock, and only to time whole runs from outside the
//! simulation. Run it with `cargo run --release --bin kafkascope-bench`.
#![allow(clippy::disallowed_methods)]

use kafkascope_sim::trace::TraceRetention;
use kafkascope_sim::{RunOptions, Scenario, Simulation};
use std::time::Instant;

struct Case {
    name: &'static str,
    partitions: u32,
    rate_per_sec: u32,
    seconds: u32,
    linger_ms: u32,
    faults: &'static str,
}

fn scenario(case: &Case) -> Scenario {
    let text = format!(
        r#"Scenario(
    title: "{name}",
    seed: 42,
    duration: "{seconds}s",
    cluster: (brokers: 3),
    topics: [(name: "t", partitions: {partitions}, replication_factor: 3, config: {{ "min.insync.replicas": 2 }})],
    producers: [(name: "p", config: {{ "acks": "all", "linger.ms": {linger}, "batch.size": 1000000 }},
                 workload: [Steady(topic: "t", rate_per_sec: {rate}, keys: Some(10000))])],
    timeline: [{faults}],
)"#,
        name = case.name,
        seconds = case.seconds,
        partitions = case.partitions,
        linger = case.linger_ms,
        rate = case.rate_per_sec,
        faults = case.faults,
    );
    Scenario::parse(&text, case.name).expect("bench scenario is valid")
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick { 10 } else { 1 };
    let cases = [
        Case {
            name: "10 partitions, 20k records/s, acks=all",
            partitions: 10,
            rate_per_sec: 20_000,
            seconds: 60 / scale,
            linger_ms: 5,
            faults: "",
        },
        Case {
            name: "1000 partitions, 20k records/s, acks=all",
            partitions: 1000,
            rate_per_sec: 20_000,
            seconds: 60 / scale,
            linger_ms: 5,
            faults: "",
        },
        Case {
            name: "10 partitions, 1M records/s, ~100-record batches",
            partitions: 10,
            rate_per_sec: 1_000_000,
            seconds: 10 / scale,
            linger_ms: 1,
            faults: "",
        },
        Case {
            name: "1000 partitions, 1M records/s, ~100-record batches",
            partitions: 1000,
            rate_per_sec: 1_000_000,
            seconds: 10 / scale,
            linger_ms: 100,
            faults: "",
        },
        Case {
            name: "10 min, 30 partitions, 1000 records/s, 3 failures",
            partitions: 30,
            rate_per_sec: 1000,
            seconds: 600,
            linger_ms: 5,
            faults: r#"(at: "60s", do: Crash(broker: 1)), (at: "120s", do: Restart(broker: 1)),
                       (at: "200s", do: Isolate(node: "B2")), (at: "260s", do: HealAll),
                       (at: "400s", do: Pause(node: "B3")), (at: "420s", do: Resume(node: "B3"))"#,
        },
    ];
    println!(
        "{:<52} {:>12} {:>12} {:>14} {:>14} {:>12} {:>10}",
        "case", "events", "records", "events/s", "records/s", "ns/record", "wall"
    );
    for case in &cases {
        let scenario = scenario(case);
        let options =
            RunOptions { retention: TraceRetention::HashOnly, check_invariants: false, ..RunOptions::default() };
        let started = Instant::now();
        let mut sim = Simulation::new(scenario, options);
        sim.run().expect("bench run succeeds");
        let wall = started.elapsed().as_secs_f64();
        let records: u64 = sim.producers.iter().map(|p| p.stats.acked).sum();
        let batches: u64 = sim.producers.iter().map(|p| p.stats.requests).sum();
        println!(
            "{:<52} {:>12} {:>12} {:>14.0} {:>14.0} {:>12.0} {:>9.3}s   ({:.0} records/batch, verdict clean: {})",
            case.name,
            sim.events(),
            records,
            sim.events() as f64 / wall,
            records as f64 / wall,
            wall * 1e9 / records.max(1) as f64,
            wall,
            records as f64 / batches.max(1) as f64,
            sim.verdict().is_clean(),
        );
    }
}
