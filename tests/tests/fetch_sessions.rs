//! Followers replicate through fetch sessions (KIP-227): one request at a time per follower and leader, a full
//! request that opens the session, incremental requests that name only partitions whose position moved, and a
//! leader that counts every fetch of the session for all of its partitions (`lastCaughtUpTime`, ISR).

use kafkascope_sim::ids::{BrokerId, PartitionIdx};
use kafkascope_sim::message::Message;
use kafkascope_sim::scenario::Scenario;
use kafkascope_sim::sim::{RunOptions, Simulation};
use kafkascope_sim::trace::{TraceKind, TraceRetention};
use kafkascope_tests::{partition_state, run_to};
use std::collections::BTreeMap;

/// Three brokers, six partitions (each broker leads two and follows four), `replica.lag.time.max.ms` 5 s, and a
/// producer writing `rate_per_sec` records of one key (so that a single partition gets them), or none at all.
/// `timeline` is spliced into the scenario.
fn scenario(rate_per_sec: u32, timeline: &str) -> Scenario {
    let workload = if rate_per_sec == 0 {
        String::new()
    } else {
        format!(
            r#"Steady(topic: "t", rate_per_sec: {rate_per_sec}, keys: Some(1), start: Some("1s"), stop: Some("25s"))"#
        )
    };
    let text = format!(
        r#"Scenario(
    title: "fetch sessions",
    description: "one keyed producer, six partitions",
    seed: 7,
    duration: "30s",
    cluster: (brokers: 3, network: (latency: ("1ms", "2ms")), config: {{ "replica.lag.time.max.ms": 5000 }}),
    topics: [(name: "t", partitions: 6, replication_factor: 3, config: {{ "min.insync.replicas": 2 }})],
    producers: [(name: "p1", config: {{ "acks": "all" }},
        workload: [{workload}])],
    timeline: [{timeline}],
)"#
    );
    Scenario::parse(&text, "fetch_sessions.ron").unwrap_or_else(|e| panic!("{e}"))
}

fn simulation(scenario: Scenario, retention: TraceRetention) -> Simulation {
    Simulation::new(scenario, RunOptions { retention, check_invariants: true, ..RunOptions::default() })
}

/// One follower-side fetch request as it left the follower.
#[derive(Debug)]
struct SentFetch {
    follower: u32,
    leader: u32,
    session_epoch: u32,
    named: Vec<u32>,
}

/// Steps the simulation to `seconds`, collecting every fetch request once, when it first shows up on the wire.
fn collect_fetches(sim: &mut Simulation, seconds: f64) -> Vec<SentFetch> {
    let until = (seconds * 1e6) as u64;
    let mut seen = BTreeMap::new();
    let mut out = Vec::new();
    loop {
        for (from, to, message) in sim.messages_in_flight() {
            if let Message::Fetch { fetch_id, session_epoch, partitions, .. } = message {
                if seen.insert((from, *fetch_id), ()).is_none() {
                    out.push(SentFetch {
                        follower: from.0,
                        leader: to.0,
                        session_epoch: *session_epoch,
                        named: partitions.iter().map(|p| p.partition.0).collect(),
                    });
                }
            }
        }
        if sim.next_event_time().is_none_or(|t| t > until) {
            return out;
        }
        sim.step().unwrap_or_else(|e| panic!("{e}"));
    }
}

/// The partitions `follower` follows on `leader`, from the controller's metadata.
fn followed(sim: &Simulation, follower: u32, leader: u32) -> Vec<u32> {
    (0..6)
        .filter(|&p| {
            let partition = PartitionIdx(p);
            sim.leader_of(partition) == Some(BrokerId(leader)) && sim.replica(BrokerId(follower), partition).is_some()
        })
        .collect()
}

/// The one partition the single-key producer writes to.
fn written_partition(sim: &Simulation) -> u32 {
    let written: Vec<u32> = (0..6)
        .filter(|&p| {
            sim.leader_of(PartitionIdx(p))
                .is_some_and(|l| sim.replica(l, PartitionIdx(p)).unwrap().log_end_offset() > 0)
        })
        .collect();
    assert_eq!(written.len(), 1, "one key, one partition: {written:?}");
    written[0]
}

#[test]
fn each_follower_sends_one_request_per_leader_not_one_per_partition() {
    // No records at all: every session's request is held for replica.fetch.wait.max.ms (500 ms) and renewed.
    let mut sim = simulation(scenario(0, ""), TraceRetention::Full);
    run_to(&mut sim, 10.0);
    let fetches = sim
        .trace
        .events()
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::Delivered { message: kafkascope_sim::message::MessageKind::Fetch, .. }))
        .count();
    eprintln!("{fetches} fetch requests in 10 s of an idle cluster");
    // 6 (follower, leader) pairs x 20 rounds of 500 ms; per-partition fetching would be 12 fetchers x 20 = 240.
    assert!((110..=130).contains(&fetches), "{fetches} fetch requests in 10 s");
}

#[test]
fn a_full_request_opens_the_session_and_incremental_ones_name_only_moved_partitions() {
    let mut sim = simulation(scenario(20, ""), TraceRetention::Notable);
    let fetches = collect_fetches(&mut sim, 20.0);
    let written = written_partition(&sim);
    let mut epochs: BTreeMap<(u32, u32), u32> = BTreeMap::new();
    for fetch in &fetches {
        let pair = (fetch.follower, fetch.leader);
        match epochs.get(&pair) {
            None => {
                assert_eq!(fetch.session_epoch, 0, "the first request opens a session: {fetch:?}");
                assert_eq!(fetch.named, followed(&sim, fetch.follower, fetch.leader), "a full request names all");
            }
            Some(&previous) => {
                assert_eq!(fetch.session_epoch, previous + 1, "one epoch per request: {fetch:?}");
                assert!(
                    fetch.named.iter().all(|&p| p == written),
                    "only the partition with new records moves: {fetch:?} (written: {written})"
                );
            }
        }
        epochs.insert(pair, fetch.session_epoch);
    }
    assert_eq!(epochs.len(), 6, "every follower has a session with each other broker");
    let naming_written = fetches.iter().filter(|f| f.session_epoch > 0 && f.named == [written]).count();
    eprintln!("{} requests, {naming_written} of them name only partition {written}", fetches.len());
    assert!(naming_written > 300, "the written partition is named after each of its ~380 records: {naming_written}");
}

#[test]
fn partitions_left_out_of_requests_stay_caught_up_and_in_the_isr() {
    let mut sim = simulation(scenario(20, ""), TraceRetention::Notable);
    run_to(&mut sim, 24.0);
    let written = written_partition(&sim);
    let now = sim.now();
    for p in 0..6 {
        let (leader, isr, _) = partition_state(&sim, "t", p);
        assert_eq!(isr.len(), 3, "partition {p} kept its ISR (replica.lag.time.max.ms is 5 s, idle for 23 s)");
        let leader = BrokerId(leader.expect("led"));
        for follower in (1..=3).map(BrokerId).filter(|&b| b != leader) {
            let caught_up = sim.last_caught_up_time(leader, PartitionIdx(p), follower).expect("a follower");
            // Every fetch of the session counts: at most one held request (500 ms) plus latency ago.
            assert!(now - caught_up < 600_000, "partition {p} (written: {written}), {follower}: {caught_up} at {now}");
        }
    }
}

#[test]
fn a_restarted_leader_has_no_sessions_and_its_followers_open_new_ones() {
    let timeline = r#"(at: "10s", do: Crash(broker: 1)), (at: "12s", do: Restart(broker: 1))"#;
    let mut sim = simulation(scenario(20, timeline), TraceRetention::Notable);
    run_to(&mut sim, 12.0);
    assert!(sim.brokers[0].sessions.iter().all(Option::is_none), "the crash took B1's fetch sessions with it");
    let fetches = collect_fetches(&mut sim, 25.0);
    for follower in [2, 3] {
        let first_from_b1 = fetches.iter().find(|f| f.follower == 1 && f.leader == follower);
        assert_eq!(
            first_from_b1.map(|f| f.session_epoch),
            Some(0),
            "B1 restarted: it opens a session with B{follower}"
        );
    }
    run_to(&mut sim, 30.0);
    for p in 0..6 {
        assert_eq!(partition_state(&sim, "t", p).1.len(), 3, "partition {p}: B1 caught up and rejoined the ISR");
    }
    assert!(sim.verdict().acked_lost.is_empty());
}

/// A full request's response is a full one (KIP-227 `FullFetchContext`): a follower that restarts with a
/// checkpointed high watermark behind the leader's, and with nothing left to fetch, still learns the leader's high
/// watermark from its new session's first answer, without waiting for new records.
#[test]
fn a_restarted_follower_learns_the_high_watermark_from_its_new_sessions_first_answer() {
    let mut sim = kafkascope_tests::simulate("consumer/offsets-topic-below-min-isr.ron");
    // The producer stops at 8 s with 1600 records; B2 and B3 crash at 10 s, before their high watermark was
    // checkpointed past 998, and restart at 35 s with every record already in their logs.
    run_to(&mut sim, 35.001);
    assert_eq!(kafkascope_tests::offsets(&sim, "payments", 0, 1), (1600, 1600));
    let (log_end_offset, high_watermark) = kafkascope_tests::offsets(&sim, "payments", 0, 2);
    assert!(log_end_offset == 1600 && high_watermark < 1600, "B2 restarted from its checkpoint: {high_watermark}");
    run_to(&mut sim, 37.0);
    for broker in [2, 3] {
        assert_eq!(kafkascope_tests::offsets(&sim, "payments", 0, broker), (1600, 1600), "B{broker} after its restart");
    }
}
