//! Robustness and determinism: mutated scenario text never panics the loader and always gets a located error; a
//! few hundred random failure stories replay with identical trace hashes.

use kafkascope_sim::explore::{random_story, story_to_file, Class};
use kafkascope_sim::trace::TraceRetention;
use kafkascope_sim::{RunOptions, Scenario, Simulation};
use kafkascope_tests::all_scenarios;
use proptest::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

/// The bundled scenario texts, as seeds for mutation.
fn corpus() -> Vec<String> {
    all_scenarios().iter().map(|p| std::fs::read_to_string(p).expect("readable")).collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    Duplicate { at: usize, len: usize },
    Truncate { at: usize },
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    let token = prop_oneof![
        Just("(".to_string()),
        Just(")".to_string()),
        Just(",".to_string()),
        Just("\"".to_string()),
        Just("Some(".to_string()),
        Just("brokers: 0".to_string()),
        Just("replication_factor: 99".to_string()),
        Just("\"acks\": \"2\"".to_string()),
        Just("-1".to_string()),
        Just("999999999999999999999".to_string()),
        Just("ack".to_string()),
        "[a-z_]{1,8}".prop_map(|s| s),
        "[\\x00-\\x7f]{1,3}".prop_map(|s| s),
        Just("\u{d55c}\u{ae00}".to_string()),
    ];
    let mutation = prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), token).prop_map(|(at, text)| Mutation::Insert { at, text }),
        (any::<usize>(), 1usize..80).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ];
    proptest::collection::vec(mutation, 1..6)
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for m in mutations {
        let n = bytes.len().max(1);
        match m {
            Mutation::Delete { at, len } => {
                let start = at % n;
                let end = (start + len).min(bytes.len());
                bytes.drain(start.min(bytes.len())..end);
            }
            Mutation::Insert { at, text } => {
                let at = (at % n).min(bytes.len());
                bytes.splice(at..at, text.bytes());
            }
            Mutation::Duplicate { at, len } => {
                let start = (at % n).min(bytes.len());
                let end = (start + len).min(bytes.len());
                let copy = bytes[start..end].to_vec();
                bytes.splice(end..end, copy);
            }
            Mutation::Truncate { at } => bytes.truncate(at % n),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Never a panic; an error always names a line (1-based) and says something.
    #[test]
    fn mutated_scenarios_get_located_errors(pick in any::<usize>(), mutations in mutations()) {
        let corpus = corpus();
        let text = apply(&corpus[pick % corpus.len()], &mutations);
        match Scenario::parse(&text, "mutated.ron") {
            Ok(scenario) => {
                // A mutation that still loads must also simulate without a panic (a short slice of it).
                let mut sim = Simulation::new(scenario, RunOptions { max_events: 20_000, ..RunOptions::default() });
                let _ = sim.run_until(2_000_000);
            }
            Err(error) => {
                prop_assert!(error.line >= 1, "no line in {error}");
                prop_assert!(!error.message.is_empty());
                prop_assert!(error.to_string().starts_with("mutated.ron:"));
            }
        }
    }
}

#[test]
fn random_stories_replay_identically() {
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let mut hashes = std::collections::BTreeSet::new();
    for i in 0..300 {
        let class = Class::ALL[i % Class::ALL.len()];
        let story = random_story(class, &mut rng);
        let text = ron::ser::to_string(&story_to_file(&story, class, "story")).expect("serializable");
        let run = || {
            let scenario = Scenario::parse(&text, "story.ron").expect("a generated story loads");
            let options =
                RunOptions { retention: TraceRetention::HashOnly, check_invariants: false, ..RunOptions::default() };
            let mut sim = Simulation::new(scenario, options);
            sim.run().expect("runs");
            sim.trace.hash_hex()
        };
        let first = run();
        assert_eq!(first, run(), "story {i} ({class:?}) is not deterministic");
        hashes.insert(first);
    }
    assert!(hashes.len() > 290, "stories differ from each other: {} distinct hashes", hashes.len());
}
