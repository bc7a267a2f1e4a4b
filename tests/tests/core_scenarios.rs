//! The replication and controller scenarios in `scenarios/core/`, run with invariants checked after every event,
//! with their outcomes asserted at the moments that matter.

use kafkascope_sim::report::Report;
use kafkascope_sim::trace::TraceKind;
use kafkascope_tests::{offsets, partition_state, run_to, simulate};

#[test]
fn follower_high_watermark_lags_the_leader_by_one_fetch_round() {
    let mut sim = simulate("core/hw-lags-one-fetch-round.ron");
    // The record is produced at 1s; a few milliseconds later every replica has it and the leader's HW passed it.
    run_to(&mut sim, 1.2);
    assert_eq!(offsets(&sim, "orders", 0, 1), (1, 1), "leader: LEO 1, HW 1");
    assert_eq!(offsets(&sim, "orders", 0, 2), (1, 0), "follower B2 has the record but not yet the new HW");
    assert_eq!(offsets(&sim, "orders", 0, 3), (1, 0), "follower B3 likewise");
    // The followers' next fetch is held by the leader for replica.fetch.wait.max.ms (500ms); its answer carries HW 1.
    run_to(&mut sim, 1.6);
    assert_eq!(offsets(&sim, "orders", 0, 2), (1, 1));
    assert_eq!(offsets(&sim, "orders", 0, 3), (1, 1));
    let report = Report::build(&sim, true);
    assert_eq!(report.producers[0].acked, 1);
    assert_eq!(report.partition("orders", 0).unwrap().replica_states[1].log[0].value, "pizza");
}

#[test]
fn acks_one_loses_acked_records_when_the_leader_crashes() {
    let mut sim = simulate("core/acks1-leader-crash-loses-acked.ron");
    run_to(&mut sim, 40.0);
    let verdict = sim.verdict();
    assert!(!verdict.acked_lost.is_empty(), "acks=1 + leader crash must lose acked records");
    assert!(verdict.divergent.is_empty(), "after B1 returns and truncates, replicas agree");
    let (leader, isr, epoch) = partition_state(&sim, "payments", 0);
    assert_ne!(leader, Some(1), "leadership moved away from the crashed B1");
    assert_eq!(isr, vec![1, 2, 3], "B1 caught up and rejoined the ISR");
    assert!(epoch >= 1);
    assert!(
        sim.trace.events().iter().any(|e| matches!(e.kind, TraceKind::Truncated { broker, .. } if broker.0 == 1)),
        "the returning B1 truncated its unreplicated suffix (diverging epoch)"
    );
}

#[test]
fn acks_all_with_min_isr_two_loses_nothing_acked_after_one_crash() {
    let mut sim = simulate("core/acks-all-min-isr-no-loss.ron");
    run_to(&mut sim, 40.0);
    let verdict = sim.verdict();
    assert_eq!(verdict.acked, 2000, "every record was eventually acked");
    assert!(verdict.acked_lost.is_empty(), "lost: {:?}", verdict.acked_lost);
    assert!(verdict.duplicates.is_empty(), "the idempotent producer wrote each record once");
    let (leader, _, epoch) = partition_state(&sim, "payments", 0);
    assert_ne!(leader, Some(1));
    assert_eq!(epoch, 1, "exactly one election");
}

#[test]
fn slow_followers_shrink_the_isr_then_not_enough_replicas() {
    let mut sim = simulate("core/slow-follower-isr-shrink.ron");
    run_to(&mut sim, 14.0);
    assert_eq!(
        partition_state(&sim, "orders", 0).1,
        vec![1, 2, 3],
        "B3 is slow but still within replica.lag.time.max.ms"
    );
    run_to(&mut sim, 20.0);
    assert_eq!(partition_state(&sim, "orders", 0).1, vec![1, 2], "B3 was removed after 10s without catching up");
    let acked_at_20s = sim.producers[0].stats.acked;
    run_to(&mut sim, 29.0);
    assert!(sim.producers[0].stats.acked > acked_at_20s + 100, "acks=all keeps succeeding with ISR [1,2] >= min ISR 2");
    run_to(&mut sim, 41.0);
    assert_eq!(partition_state(&sim, "orders", 0).1, vec![1], "B2 was removed too");
    let (leo, hw) = offsets(&sim, "orders", 0, 1);
    run_to(&mut sim, 41.9);
    assert_eq!(offsets(&sim, "orders", 0, 1).1, hw, "under min ISR the HW is frozen (KAFKA-15583) ...");
    assert!(offsets(&sim, "orders", 0, 1).0 <= leo + 1, "... and acks=all writes are refused before append");
    let errors = &sim.producers[0].stats.errors;
    assert!(errors.get("NOT_ENOUGH_REPLICAS").copied().unwrap_or(0) > 0, "errors: {errors:?}");
    assert!(
        sim.trace.events().iter().any(|e| matches!(e.kind, TraceKind::ProduceRejected { .. })),
        "the leader refused acks=all writes before appending them"
    );
    run_to(&mut sim, 60.0);
    assert!(sim.verdict().acked_lost.is_empty());
}

#[test]
fn unclean_election_loses_committed_records() {
    let mut sim = simulate("core/unclean-election-loses-committed.ron");
    run_to(&mut sim, 60.0);
    assert!(
        sim.trace.events().iter().any(|e| matches!(e.kind, TraceKind::LeaderElected { unclean: true, .. })),
        "an out-of-sync replica was elected"
    );
    let verdict = sim.verdict();
    assert!(
        verdict.acked_lost.len() >= 100,
        "committed records written by B1 alone are gone: {}",
        verdict.acked_lost.len()
    );
    assert_eq!(partition_state(&sim, "events", 0).0, Some(2));
}

#[test]
fn clean_election_keeps_the_partition_offline_until_an_isr_member_returns() {
    let mut sim = simulate("core/clean-election-stays-offline.ron");
    run_to(&mut sim, 35.0);
    let (leader, isr, _) = partition_state(&sim, "events", 0);
    assert_eq!(leader, None, "no in-sync replica is alive: offline");
    assert_eq!(isr, vec![1], "the ISR is never emptied: B1 stays as the last member");
    run_to(&mut sim, 60.0);
    assert_eq!(partition_state(&sim, "events", 0).0, Some(1), "B1 returned and was elected cleanly");
    assert!(!sim.trace.events().iter().any(|e| matches!(e.kind, TraceKind::LeaderElected { unclean: true, .. })));
    let verdict = sim.verdict();
    assert!(verdict.acked_lost.is_empty(), "nothing acked is lost: {:?}", verdict.acked_lost.len());
    assert!(verdict.acked >= 2000);
}

#[test]
fn zombie_leader_cannot_commit_acks_all_but_loses_acks_one() {
    let mut sim = simulate("core/zombie-leader.ron");
    run_to(&mut sim, 6.0);
    let (_, hw_at_6s) = offsets(&sim, "orders", 0, 1);
    run_to(&mut sim, 30.0);
    let (leader, _, epoch) = partition_state(&sim, "orders", 0);
    assert_eq!(leader, Some(2), "the controller fenced B1 and elected B2");
    assert_eq!(epoch, 1);
    let zombie = kafkascope_sim::ids::BrokerId(1);
    let partition = kafkascope_sim::report::find_partition(&sim, "orders", 0).unwrap();
    assert!(sim.acts_as_leader(zombie, partition), "B1 does not know it was replaced: a zombie");
    let (leo, hw) = offsets(&sim, "orders", 0, 1);
    assert_eq!(hw, hw_at_6s, "the zombie's HW is frozen: it cannot shrink the ISR without the controller");
    assert!(leo > hw + 100, "acks=1 writes pile up above the frozen HW");
    run_to(&mut sim, 90.0);
    let report = Report::build(&sim, false);
    let lost = &report.checker.lost;
    assert!(lost.iter().all(|v| v.starts_with("risky-")), "only acks=1 records are lost");
    assert!(lost.len() >= 100);
    let safe = report.producers.iter().find(|p| p.id == "safe").unwrap();
    assert_eq!(safe.acked, 1200, "every acks=all record was eventually acked by the real leader");
    assert!(safe.errors.contains_key("REQUEST_TIMED_OUT"), "acks=all writes to the zombie timed out");
}

#[test]
fn controlled_shutdown_moves_leadership_before_stopping() {
    let mut sim = simulate("core/controlled-shutdown.ron");
    run_to(&mut sim, 5.5);
    assert_eq!(partition_state(&sim, "orders", 0).0, Some(2), "B2 leads before B1 stops");
    run_to(&mut sim, 10.0);
    let report = Report::build(&sim, false);
    assert_eq!(report.brokers[0].status, "down", "B1 stopped after the handover");
    let errors = &report.producers[0].errors;
    assert!(!errors.contains_key("REQUEST_TIMED_OUT"), "no outage, only a leader change: {errors:?}");
    let elected = sim.trace.events().iter().position(|e| matches!(e.kind, TraceKind::LeaderElected { .. }));
    let stopped = sim.trace.events().iter().position(|e| matches!(e.kind, TraceKind::Stopped { .. }));
    assert!(elected < stopped && elected.is_some(), "election first, then the stop");
    run_to(&mut sim, 30.0);
    assert_eq!(partition_state(&sim, "orders", 0).1, vec![1, 2, 3], "B1 came back into the ISR");
    assert!(sim.verdict().acked_lost.is_empty());
}

#[test]
fn power_loss_drops_only_unflushed_records() {
    let mut sim = simulate("core/power-loss-unflushed.ron");
    run_to(&mut sim, 30.0);
    let report = Report::build(&sim, false);
    assert_eq!(report.checker.acked, 1000);
    assert_eq!(report.checker.acked_lost, 500, "everything `fast` wrote to the never-flushed topic");
    assert!(report.checker.lost.iter().all(|v| v.starts_with("fast-")), "flush.messages=1 kept `ledger` whole");
    assert_eq!(offsets(&sim, "ledger", 0, 1).0, 500);
    assert_eq!(offsets(&sim, "cache", 0, 1).0, 0);
}

#[test]
fn no_election_happens_while_the_controller_is_down() {
    let mut sim = simulate("core/controller-down.ron");
    run_to(&mut sim, 19.0);
    assert_eq!(partition_state(&sim, "orders", 0).0, Some(1), "the dead B1 is still leader: nobody noticed");
    run_to(&mut sim, 28.0);
    assert_eq!(partition_state(&sim, "orders", 0).0, Some(1), "the restarted controller gave B1 a fresh session");
    run_to(&mut sim, 30.0);
    assert_eq!(partition_state(&sim, "orders", 0).0, Some(2), "session expired at 29s: fenced and replaced");
    run_to(&mut sim, 45.0);
    assert!(sim.verdict().acked_lost.is_empty());
}

#[test]
fn a_paused_leader_becomes_a_zombie_then_truncates() {
    let mut sim = simulate("core/gc-pause-leader.ron");
    run_to(&mut sim, 15.0);
    assert_eq!(partition_state(&sim, "orders", 0).0, Some(2), "fenced during the pause and replaced");
    run_to(&mut sim, 40.0);
    assert!(sim.trace.events().iter().any(|e| matches!(e.kind, TraceKind::Truncated { broker, .. } if broker.0 == 1)));
    assert_eq!(partition_state(&sim, "orders", 0).1, vec![1, 2, 3]);
    let verdict = sim.verdict();
    assert!(verdict.is_clean(), "{verdict:?}");
}

#[test]
fn a_broken_invariant_stops_the_run_with_seed_and_event() {
    let mut sim = simulate("core/hw-lags-one-fetch-round.ron");
    run_to(&mut sim, 1.2);
    // Corrupt the state behind the simulation's back: a follower's HW above its log end offset.
    let partition = kafkascope_sim::report::find_partition(&sim, "orders", 0).unwrap();
    let replica = sim.brokers[1].replicas[partition.index()].as_mut().unwrap();
    replica.high_watermark = replica.log_end_offset() + 5;
    let error = sim.apply(kafkascope_sim::Command::HealAll).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("seed 1"), "{message}");
    assert!(message.contains("high watermark 6 above log end offset 1"), "{message}");
    assert!(message.contains("command HealAll"), "{message}");
    assert!(sim.step().is_err(), "a failed run stays failed");
}

/// `BrokerServer.shutdown` waits up to five minutes for the controller to approve a controlled shutdown: with the
/// controller down, the broker keeps serving, and stops only when that wait runs out.
#[test]
fn controlled_shutdown_waits_five_minutes_for_the_controller() {
    let text = r#"Scenario(
    title: "controlled shutdown without a controller",
    description: "The controller is down when B1 asks to shut down.",
    seed: 1,
    duration: "6m",
    cluster: (brokers: 3),
    topics: [(name: "orders", partitions: 1, replication_factor: 3)],
    timeline: [
        (at: "5s", do: CrashController),
        (at: "10s", do: ControlledShutdown(broker: 1)),
    ],
)"#;
    let mut sim = kafkascope_tests::simulate_text(text, "shutdown-without-controller.ron");
    let stopped = |sim: &kafkascope_sim::Simulation| {
        sim.trace.events().iter().find(|e| matches!(e.kind, TraceKind::Stopped { .. })).map(|e| e.time)
    };
    run_to(&mut sim, 300.0);
    assert_eq!(stopped(&sim), None, "still waiting for the controller after 290 s");
    run_to(&mut sim, 320.0);
    assert_eq!(stopped(&sim), Some(310_000_000), "stopped five minutes after asking");
}

/// KIP-951: once the network heals, the former zombie B1 answers NOT_LEADER_OR_FOLLOWER and names the new leader in
/// the answer, so the producer turns to B2 at once, without waiting for its metadata request (stuck on the cut link
/// until request.timeout.ms) or for the retry backoff.
#[test]
fn a_not_leader_answer_names_the_new_leader() {
    let mut sim =
        kafkascope_tests::simulate_with("core/zombie-leader.ron", kafkascope_sim::trace::TraceRetention::Full);
    run_to(&mut sim, 45.0);
    let safe = kafkascope_sim::ids::ProducerIdx(0);
    let events = sim.trace.events();
    let told = events
        .iter()
        .find(|e| {
            e.time >= 40_000_000
                && matches!(e.kind, TraceKind::ProduceRetry { producer, error: kafkascope_sim::message::KafkaError::NotLeaderOrFollower, .. } if producer == safe)
        })
        .map(|e| e.time)
        .expect("B1 says it is no longer the leader");
    let zombie = kafkascope_sim::ids::BrokerId(1);
    assert!(
        !events.iter().any(|e| e.time >= told
            && matches!(e.kind, TraceKind::BatchSent { producer, to, .. } if producer == safe && to == zombie)),
        "nothing goes to B1 after its answer"
    );
    let first_ack = events
        .iter()
        .find(|e| e.time >= told && matches!(e.kind, TraceKind::ProduceAcked { producer, .. } if producer == safe))
        .map(|e| e.time)
        .expect("B2 acknowledges");
    assert!(first_ack - told < 50_000, "acked by B2 {} us after B1's answer", first_ack - told);
}

/// `Replica.isCaughtUp`: a follower outside the ISR holds the leader's high watermark back only if it caught up
/// within `replica.lag.time.max.ms`. Kafka starts a replica outside the ISR at `lastCaughtUpTimeMs = 0`, which on its
/// wall clock is long ago. B1 restarts at 15s, 13 s after it crashed, with 300 ms of extra latency: while it catches
/// up, B2 and B3 (the ISR) keep committing. (Read as "caught up at 0 s" on the simulated clock, B1 froze the high
/// watermark from 15.6 s until it rejoined the ISR at 16.8 s.)
#[test]
fn a_restarted_replica_that_never_caught_up_does_not_hold_the_high_watermark() {
    let text = r#"Scenario(
    title: "restarted replica outside the ISR",
    seed: 2,
    duration: "20s",
    cluster: (brokers: 3),
    topics: [(name: "t", partitions: 1, replication_factor: 3, config: { "min.insync.replicas": 2 }, assignment: Some([[1, 2, 3]]))],
    producers: [(name: "p", config: { "acks": "all" }, workload: [Steady(topic: "t", rate_per_sec: 200)])],
    timeline: [(at: "2s", do: Crash(broker: 1)), (at: "15s", do: Restart(broker: 1)),
               (at: "15s", do: Slow(node: "B1", extra_latency: "300ms"))],
)"#;
    let mut sim = kafkascope_tests::simulate_text(text, "restarted-replica.ron");
    run_to(&mut sim, 20.0);
    let advances =
        kafkascope_tests::event_times(&sim, |k| matches!(k, TraceKind::HighWatermark { broker, .. } if broker.0 == 2));
    let in_window = advances.iter().filter(|&&t| (15_650_000..16_150_000).contains(&t)).count();
    assert!(in_window > 50, "B2's high watermark moved {in_window} times between 15.65 s and 16.15 s");
}
