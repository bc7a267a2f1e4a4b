//! Prints how many events are queued over a run and which kinds of trace events dominate (a benchmark aid).
use kafkascope_sim::trace::TraceRetention;
use kafkascope_sim::{RunOptions, Scenario, Simulation};
use std::collections::BTreeMap;
fn main() {
    let path = std::env::args().nth(1).expect("scenario path");
    let scenario = Scenario::load(std::path::Path::new(&path)).unwrap();
    let options = RunOptions { check_invariants: false, retention: TraceRetention::Full, ..RunOptions::default() };
    let mut sim = Simulation::new(scenario, options);
    for t in 1..=10 {
        sim.run_until(t * 1_000_000).unwrap();
        println!("t={t}s queued={} events={}", sim.queued_events(), sim.events());
    }
    println!("{:?}", sim.queued_by_kind());
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    for event in sim.trace.events() {
        let name = match &event.kind {
            kafkascope_sim::trace::TraceKind::Delivered { message, .. } => format!("Delivered {message:?}"),
            other => other.key().to_string(),
        };
        *kinds.entry(name).or_default() += 1;
    }
    for (k, v) in kinds {
        println!("{v:>8} {k}");
    }
}
