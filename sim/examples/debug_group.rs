//! Prints each consumer's processed offsets per partition, to debug the consumer-side checker.
use kafkascope_sim::{RunOptions, Scenario, Simulation};
fn main() {
    let path = std::env::args().nth(1).expect("scenario path");
    let scenario = Scenario::load(std::path::Path::new(&path)).unwrap();
    let mut sim = Simulation::new(scenario, RunOptions { check_invariants: true, ..RunOptions::default() });
    sim.run().unwrap();
    for c in &sim.consumers {
        println!(
            "{} state {:?} member {:?} gen {} coordinator {:?} busy? assigned {:?} commit_in_flight {:?}",
            c.name,
            c.state,
            c.member_id,
            c.generation,
            c.coordinator,
            c.assigned.keys().collect::<Vec<_>>(),
            c.commit_in_flight
        );
    }
    for c in 0..sim.consumers.len() as u32 {
        for p in 0..sim.topo.partitions.len() as u32 {
            let offs: Vec<u64> =
                sim.processed.iter().filter(|x| x.consumer == c && x.partition.0 == p).map(|x| x.offset).collect();
            if offs.is_empty() {
                continue;
            }
            let mut ranges = Vec::new();
            let mut start = offs[0];
            let mut prev = offs[0];
            for &o in &offs[1..] {
                if o != prev + 1 {
                    ranges.push((start, prev));
                    start = o;
                }
                prev = o;
            }
            ranges.push((start, prev));
            let bad = sim
                .processed
                .iter()
                .filter(|x| x.consumer == c && x.partition.0 == p)
                .filter(|x| {
                    let log = sim.reference_log(x.partition).unwrap();
                    log.entries().get(x.offset as usize).map(|e| e.record) != Some(x.record)
                })
                .count();
            println!("consumer {} partition {}: {:?} mismatched {}", sim.consumers[c as usize].name, p, ranges, bad);
        }
    }
}
