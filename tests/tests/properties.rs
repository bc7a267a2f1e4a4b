//! Property-based delivery-guarantee tests: thousands of generated failure stories per configuration class.
//!
//! Classes that promise a guarantee (safe, idempotent, at-least-once) must keep it in every story, with every
//! invariant checked after every event and the cluster fully healed after the liveness phase. Classes that do not
//! promise it (acks=1, acks=0, unclean election, min ISR 1, commit before processing) must be *shown* not to: the
//! test asserts that proptest finds a violation, shrinks it, writes it out as a scenario file and replays it.
//!
//! `KAFKASCOPE_CASES` sets the cases per promising class (default 64 so `cargo test` stays quick in debug builds;
//! CI runs the release build with 3,400 per class, over 10,000 in all). The stories come from a fixed seed, so every
//! run checks the same ones; `KAFKASCOPE_SEED` picks another set.

use kafkascope_sim::explore::{counterexample_ron, run_story, Class, Episode, FaultKind, Story};
use kafkascope_sim::Scenario;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};

/// A fixed seed, so CI always checks the same stories; `KAFKASCOPE_SEED=n` explores others.
fn runner(cases: u32) -> TestRunner {
    let seed: u64 = std::env::var("KAFKASCOPE_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(2026);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

fn cases() -> u32 {
    std::env::var("KAFKASCOPE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64)
}

/// Stories of a class, "swarm" style: each case first picks which fault kinds it may use.
fn stories(class: Class) -> impl Strategy<Value = Story> {
    let kinds = class.fault_kinds().to_vec();
    proptest::sample::subsequence(kinds.clone(), 1..=kinds.len()).prop_flat_map(move |enabled| {
        let episode = (1_000u32..20_000, 500u32..10_000, proptest::sample::select(enabled), 0u32..8)
            .prop_map(|(start_ms, length_ms, kind, target)| Episode { start_ms, length_ms, kind, target });
        (0u64..1_000_000, 3u32..=4, 1u32..=2, 20u32..100, proptest::collection::vec(episode, 1..5)).prop_map(
            move |(seed, brokers, partitions, rate_per_sec, episodes)| {
                let mut story = Story {
                    seed,
                    brokers,
                    partitions,
                    replication_factor: 3,
                    min_insync_replicas: 2,
                    acks: "all".into(),
                    unclean: false,
                    idempotence: false,
                    rate_per_sec,
                    commit: None,
                    episodes,
                };
                class.shape(&mut story);
                story
            },
        )
    })
}

fn counterexample_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/counterexamples");
    std::fs::create_dir_all(&dir).expect("target/ is writable");
    dir
}

/// A promising class keeps its guarantee over `cases()` stories; a failure is written out for replay.
fn check_promise(class: Class) {
    let mut runner = runner(cases());
    let started = std::time::Instant::now();
    let result = runner.run(&stories(class), |story| match run_story(&story, class) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(why)) | Err(why) => Err(TestCaseError::fail(why)),
    });
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!("class {}: {} cases in {elapsed:.1}s ({:.0} cases/s)", class.name(), cases(), cases() as f64 / elapsed);
    if let Err(TestError::Fail(why, story)) = result {
        let path = counterexample_dir().join(format!("{}.ron", class.name()));
        std::fs::write(&path, counterexample_ron(&story, class, why.message())).expect("written");
        panic!("class {} broke its guarantee: {why}; shrunk story written to {}", class.name(), path.display());
    }
}

/// A class without the guarantee: proptest must find a violation, which replays from its written-out file.
fn find_violation(class: Class) {
    let mut runner = runner(512);
    let result = runner.run(&stories(class), |story| match run_story(&story, class) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(why)) => Err(TestCaseError::fail(why)),
        Err(error) => panic!("class {}: the run itself failed: {error}", class.name()),
    });
    let Err(TestError::Fail(why, story)) = result else {
        panic!("class {}: no violation found in 512 stories, but this class gives no guarantee", class.name());
    };
    let path = counterexample_dir().join(format!("{}.ron", class.name()));
    std::fs::write(&path, counterexample_ron(&story, class, why.message())).expect("written");
    // The written file is an ordinary scenario that replays the same violation.
    let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut sim = kafkascope_sim::Simulation::new(scenario, kafkascope_sim::RunOptions::default());
    sim.run().unwrap_or_else(|e| panic!("{e}"));
    assert!(class.check(&sim).is_err(), "the counterexample replays: {}", path.display());
    eprintln!("class {}: violation found and shrunk to {} episode(s): {why}", class.name(), story.episodes.len());
}

#[test]
fn safe_class_never_loses_an_acked_record() {
    check_promise(Class::Safe);
}

#[test]
fn idempotent_producer_never_duplicates_or_reorders() {
    check_promise(Class::Idempotent);
}

#[test]
fn commit_after_processing_never_skips_an_acked_record() {
    check_promise(Class::AtLeastOnce);
}

#[test]
fn acks_one_can_lose_acked_records() {
    find_violation(Class::UnsafeAcks1);
}

#[test]
fn acks_zero_can_lose_acked_records() {
    find_violation(Class::UnsafeAcks0);
}

#[test]
fn unclean_election_can_lose_committed_records() {
    find_violation(Class::UnsafeUnclean);
}

#[test]
fn min_isr_one_can_lose_acked_records() {
    find_violation(Class::UnsafeMinIsr1);
}

#[test]
fn commit_before_processing_can_skip_records() {
    find_violation(Class::UnsafeCommitBefore);
}

#[test]
fn stories_are_shaped_by_their_class() {
    let mut runner = TestRunner::default();
    for class in Class::ALL {
        for _ in 0..50 {
            let story = stories(class).new_tree(&mut runner).expect("a story").current();
            assert!(story.episodes.iter().all(|e| e.start_ms >= 1_000 && e.start_ms + e.length_ms <= 24_000));
            if class.one_fault_at_a_time() {
                for pair in story.episodes.windows(2) {
                    assert!(pair[1].start_ms >= pair[0].start_ms + pair[0].length_ms, "{class:?}: one fault at a time");
                }
                assert!(story.episodes.iter().all(|e| e.kind != FaultKind::PowerLoss));
            }
        }
    }
}
