//! The throughput benchmark: how fast the simulation runs, in simulated events and records per wall-clock second.
//!
//! It lives outside `src/` because it is the only code of the crate that reads a wall clock, and only to time whole
//! runs from outside the simulation. Run it with `cargo bench -p kafkascope-sim --bench throughput`.
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
    batch_size: u32,
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
    producers: [(name: "p", config: {{ "acks": "all", "linger.ms": {linger}, "batch.size": {batch_size} }},
                 workload: [Steady(topic: "t", rate_per_sec: {rate}, keys: Some(10000))])],
    timeline: [{faults}],
)"#,
        name = case.name,
        seconds = case.seconds,
        partitions = case.partitions,
        linger = case.linger_ms,
        rate = case.rate_per_sec,
        batch_size = case.batch_size,
        faults = case.faults,
    );
    Scenario::parse(&text, case.name).expect("bench scenario is valid")
}

/// This process's user and system CPU seconds so far, from `/proc/self/stat` (in clock ticks of 1/100 s, Linux's
/// `USER_HZ`); `None` where there is no procfs. System time is almost all the kernel zeroing fresh pages for the
/// logs: on a virtual machine whose memory the host has not touched yet, that alone can take most of a large run.
fn cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (which is in parentheses and may contain spaces).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok().map(|t| t / 100.0);
    Some((ticks(11)?, ticks(12)?))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    // `--only TEXT` runs just the cases whose name contains TEXT.
    let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).cloned();
    let scale = if quick { 10 } else { 1 };
    let case = |name, partitions, rate_per_sec, seconds, linger_ms, batch_size, faults| Case {
        name,
        partitions,
        rate_per_sec,
        seconds,
        linger_ms,
        batch_size,
        faults,
    };
    let cases = [
        case("10 partitions, 20k records/s, acks=all", 10, 20_000, 60 / scale, 5, 16384, ""),
        case("1000 partitions, 20k records/s, acks=all", 1000, 20_000, 60 / scale, 5, 16384, ""),
        // batch.size 3000 bytes holds about 100 of these ~30-byte records, and linger.ms is long enough never to cut
        // a batch short, so both partition counts send the same ~100-record batches.
        // (Ten partitions cannot take a million records a simulated second: with five requests in flight per broker
        // the simulated producer saturates, as a real one would, so that case offers 300k records/s.)
        case("10 partitions, 300k records/s, ~100-record batches", 10, 300_000, 20 / scale, 500, 3000, ""),
        case("1000 partitions, 1M records/s, ~100-record batches", 1000, 1_000_000, 10 / scale, 500, 3000, ""),
        case(
            "10 min, 30 partitions, 1000 records/s, 3 failures",
            30,
            1000,
            600,
            5,
            16384,
            r#"(at: "60s", do: Crash(broker: 1)), (at: "120s", do: Restart(broker: 1)),
               (at: "200s", do: Isolate(node: "B2")), (at: "260s", do: HealAll),
               (at: "400s", do: Pause(node: "B3")), (at: "420s", do: Resume(node: "B3"))"#,
        ),
    ];
    println!(
        "{:<52} {:>12} {:>12} {:>14} {:>14} {:>12} {:>10} {:>8} {:>8}",
        "case", "events", "records", "events/s", "records/s", "ns/record", "wall", "user", "sys"
    );
    for case in cases.iter().filter(|c| only.as_ref().is_none_or(|o| c.name.contains(o.as_str()))) {
        let scenario = scenario(case);
        let options =
            RunOptions { retention: TraceRetention::HashOnly, check_invariants: false, ..RunOptions::default() };
        let cpu_before = cpu_seconds();
        let started = Instant::now();
        let mut sim = Simulation::new(scenario, options);
        sim.run().expect("bench run succeeds");
        let wall = started.elapsed().as_secs_f64();
        let (user, sys) = match (cpu_before, cpu_seconds()) {
            (Some((u0, s0)), Some((u1, s1))) => (format!("{:.2}s", u1 - u0), format!("{:.2}s", s1 - s0)),
            _ => ("-".to_string(), "-".to_string()),
        };
        // The checker runs after the clock stops: it is not part of simulating.
        let clean = sim.verdict().is_clean();
        let records: u64 = sim.producers.iter().map(|p| p.stats.acked).sum();
        let batches: u64 = sim.producers.iter().map(|p| p.stats.batches).sum();
        println!(
            "{:<52} {:>12} {:>12} {:>14.0} {:>14.0} {:>12.0} {:>9.3}s {:>8} {:>8}   ({:.0} records/batch, verdict clean: {})",
            case.name,
            sim.events(),
            records,
            sim.events() as f64 / wall,
            records as f64 / wall,
            wall * 1e9 / records.max(1) as f64,
            wall,
            user,
            sys,
            records as f64 / batches.max(1) as f64,
            clean,
        );
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM")) {
            println!("peak memory: {}", line.trim_start_matches("VmHWM:").trim());
        }
    }
}
