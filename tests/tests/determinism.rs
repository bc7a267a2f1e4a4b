//! Same scenario + same seed = the same trace, byte for byte; a different seed changes the run.

use kafkascope_sim::Scenario;
use kafkascope_tests::{all_scenarios, trace_hash};

#[test]
fn every_bundled_scenario_replays_identically() {
    let scenarios = all_scenarios();
    assert!(scenarios.len() >= 7, "found {} scenarios", scenarios.len());
    for path in scenarios {
        let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let seed = scenario.seed;
        let first = trace_hash(scenario.clone(), seed);
        let second = trace_hash(scenario, seed);
        assert_eq!(first, second, "{} is not deterministic", path.display());
    }
}

#[test]
fn random_seeds_replay_identically_and_differ_from_each_other() {
    let scenario = kafkascope_tests::load("core/acks1-leader-crash-loses-acked.ron");
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..20 {
        let a = trace_hash(scenario.clone(), seed);
        assert_eq!(a, trace_hash(scenario.clone(), seed), "seed {seed}");
        seen.insert(a);
    }
    assert_eq!(seen.len(), 20, "latencies are drawn from the seed, so seeds give different runs");
}
