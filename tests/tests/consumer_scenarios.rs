//! The consumer-group scenarios in `scenarios/consumer/`: pub/sub versus queue, scaling out, commit order and
//! delivery semantics, poll timeouts, eager versus cooperative rebalancing, coordinator failover, and KIP-320.

use kafkascope_sim::ids::{BrokerId, NodeId};
use kafkascope_sim::message::MessageKind;
use kafkascope_sim::report::{GroupReport, Report};
use kafkascope_sim::trace::{TraceKind, TraceRetention};
use kafkascope_tests::{event_times, run_to, simulate, simulate_text, simulate_with};

fn group<'a>(report: &'a Report, name: &str) -> &'a GroupReport {
    report.groups.iter().find(|g| g.group == name).expect("group exists")
}

#[test]
fn every_group_gets_every_record_and_each_partition_has_one_owner() {
    let mut sim = simulate("consumer/pubsub-vs-queue.ron");
    run_to(&mut sim, 40.0);
    let report = Report::build(&sim, false);
    for name in ["billing", "shipping"] {
        let g = group(&report, name);
        assert_eq!(g.checker.processed, 600, "{name} processed the whole topic");
        assert!(g.checker.duplicates.is_empty() && g.checker.lost.is_empty());
        assert_eq!(g.state, "Stable");
        assert!(g.partitions.iter().all(|p| p.lag == Some(0)), "{name} caught up: {:?}", g.partitions);
    }
    let billing = group(&report, "billing");
    assert_eq!(billing.members.len(), 2);
    let mut owned: Vec<&String> = billing.members.iter().flat_map(|m| &m.partitions).collect();
    owned.sort();
    owned.dedup();
    assert_eq!(owned.len(), 3, "three partitions, each owned by exactly one member");
}

#[test]
fn scaling_out_past_the_partition_count_leaves_a_consumer_idle() {
    let mut sim = simulate_with("consumer/scale-out-idle-consumer.ron", TraceRetention::Notable);
    run_to(&mut sim, 12.0);
    let report = Report::build(&sim, false);
    assert_eq!(group(&report, "analytics").members.len(), 2);
    run_to(&mut sim, 40.0);
    let report = Report::build(&sim, false);
    let g = group(&report, "analytics");
    assert_eq!(g.generation, 4, "one rebalance per arrival");
    assert_eq!(g.members.len(), 4);
    assert_eq!(g.members.iter().filter(|m| m.partitions.is_empty()).count(), 1, "one idle member: {:?}", g.members);
    assert_eq!(g.checker.processed, 960);
    assert!(g.checker.lost.is_empty() && g.checker.duplicates.is_empty());
    assert!(sim.trace.events().iter().any(|e| matches!(e.kind, TraceKind::PartitionsAssigned { partitions: 0, .. })));
}

#[test]
fn commit_before_processing_loses_and_commit_after_processing_repeats() {
    let mut sim = simulate("consumer/commit-order-crash.ron");
    run_to(&mut sim, 60.0);
    let report = Report::build(&sim, false);
    let at_most_once = group(&report, "at-most-once");
    assert!(!at_most_once.checker.lost.is_empty(), "committed but never processed");
    assert!(at_most_once.checker.duplicates.is_empty(), "at-most-once never repeats");
    let at_least_once = group(&report, "at-least-once");
    assert!(at_least_once.checker.lost.is_empty(), "at-least-once never skips");
    assert!(!at_least_once.checker.duplicates.is_empty(), "processed but not committed, so processed again");
    assert!(report.checker.ok, "the producer side is clean: the difference is only the commit order");
}

#[test]
fn a_consumer_past_max_poll_interval_is_kicked_out_and_its_commit_fails() {
    let mut sim = simulate("consumer/max-poll-interval-exceeded.ron");
    run_to(&mut sim, 60.0);
    let events = sim.trace.events();
    let left = events.iter().find(|e| matches!(e.kind, TraceKind::PollTimeout { .. })).expect("a poll timeout").time;
    // slow's last poll was at 9.45s: the heartbeat thread (awake at least every retry.backoff.ms) notices
    // max.poll.interval.ms (8s) running out at 17.45s, not at its next heartbeat tick.
    assert!((17_440_000..17_460_000).contains(&left), "left at {left}us");
    // The zombie's client fails its late commit itself (it reset its generation when it left): no OffsetCommit goes
    // out between leaving and rejoining, and the coordinator has nothing to reject.
    let failed = events
        .iter()
        .find(|e| matches!(e.kind, TraceKind::CommitFailedNotInGroup { .. }))
        .expect("the zombie's late commit fails")
        .time;
    let slow = sim.consumers.iter().find(|c| c.name == "slow").expect("slow").node;
    assert!(!events.iter().any(|e| e.time > left
        && e.time <= failed
        && matches!(e.kind, TraceKind::Delivered { from, message: kafkascope_sim::message::MessageKind::OffsetCommit, .. } if from == slow)));
    assert!(!events.iter().any(|e| matches!(e.kind, TraceKind::CommitRejected { .. })));
    let report = Report::build(&sim, false);
    let g = group(&report, "reports");
    assert!(g.checker.lost.is_empty());
    assert!(!g.checker.duplicates.is_empty(), "the new owner redoes the work");
    assert!(g.checker.commits_failed > 0);
}

#[test]
fn eager_rebalancing_stops_everyone_cooperative_only_what_moves() {
    let mut sim = simulate("consumer/eager-vs-cooperative.ron");
    run_to(&mut sim, 30.0);
    let revoked = |group: u32| -> u32 {
        sim.trace
            .events()
            .iter()
            .filter_map(|e| match e.kind {
                TraceKind::PartitionsRevoked { group: g, partitions, .. } if g == group && e.time > 9_000_000 => {
                    Some(partitions)
                }
                _ => None,
            })
            .sum()
    };
    let eager = sim.topo.groups.iter().position(|g| g == "eager").unwrap() as u32;
    let cooperative = sim.topo.groups.iter().position(|g| g == "cooperative").unwrap() as u32;
    assert_eq!(revoked(eager), 4, "eager: every member gives up every partition");
    assert_eq!(revoked(cooperative), 1, "cooperative: only the partition that moves to the newcomer");
    // A cooperative member keeps processing during the rebalance, but has no stable generation to commit with: its
    // client fails an auto-commit then at once (RebalanceInProgressException). Eager members do not poll meanwhile.
    let failed_while_rebalancing = |group: u32| {
        sim.trace
            .events()
            .iter()
            .filter(|e| {
                matches!(e.kind, TraceKind::CommitFailedNotInGroup { group: g, rebalance_in_progress: true, .. }
                    if g == group)
            })
            .count()
    };
    assert!(failed_while_rebalancing(cooperative) > 0);
    assert_eq!(failed_while_rebalancing(eager), 0);
    let report = Report::build(&sim, false);
    assert_eq!(group(&report, "cooperative").generation, 3, "two rebalances: revoke, then assign");
    for name in ["eager", "cooperative"] {
        let g = group(&report, name);
        assert_eq!(g.checker.processed, 5000, "{name}");
        assert!(g.members.iter().all(|m| !m.partitions.is_empty()), "{name}: the newcomer got work");
    }
}

#[test]
fn the_group_follows_its_coordinator_to_the_new_leader() {
    let mut sim = simulate("consumer/coordinator-failover.ron");
    run_to(&mut sim, 50.0);
    assert!(sim.trace.events().iter().any(|e| matches!(e.kind, TraceKind::GroupLoaded { .. })));
    let report = Report::build(&sim, false);
    let g = group(&report, "billing");
    assert_ne!(g.coordinator, Some(2), "the crashed broker no longer coordinates");
    assert_eq!(g.generation, 1, "the members carried on without a rebalance");
    assert_eq!(g.checker.processed, 1200);
    assert!(g.checker.lost.is_empty() && g.checker.duplicates.is_empty());
}

/// A consumer leaves a dead broker alone for its reconnect backoff (`reconnect.backoff.ms` 50 ms doubling to
/// `reconnect.backoff.max.ms` 1 s, KIP-144): no fetch goes to the node while it backs off, and metadata and
/// coordinator lookups go to brokers it is connected to (`leastLoadedNode`). B2 crashes at 10 s and is fenced about
/// 9 s later; before, consumer b1 sent 234 fetches and 81 metadata requests to it in those seconds.
#[test]
fn a_consumer_backs_off_a_dead_broker() {
    let mut sim = simulate("consumer/coordinator-failover.ron");
    run_to(&mut sim, 35.0);
    let refused = |kind: MessageKind| -> Vec<u64> {
        sim.trace
            .events()
            .iter()
            .filter(|e| matches!(e.kind, TraceKind::Refused { to, message, .. } if to.0 == 2 && message == kind))
            .map(|e| e.time)
            .collect()
    };
    let fetches = refused(MessageKind::ConsumerFetch);
    assert!((3..=15).contains(&fetches.len()), "{} fetches refused by B2: {fetches:?}", fetches.len());
    let gaps: Vec<u64> = fetches.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.last().is_some_and(|&g| g >= 500_000), "the backoff grew toward 1 s: gaps {gaps:?}");
    assert!(refused(MessageKind::MetadataRequest).is_empty(), "metadata went to connected brokers");
}

/// `Heartbeat.failHeartbeat`: after a failed heartbeat the next one goes out `retry.backoff.ms` later, once a
/// coordinator is known again, not a whole `heartbeat.interval.ms` (3 s) later. While lookups still name the crashed
/// B2 (until the controller fences it at 17 s), each member's heartbeats to it are refused well under 3 s apart; once B3
/// has loaded the group, the first heartbeat reaches it within a second.
#[test]
fn a_failed_heartbeat_is_retried_after_the_retry_backoff() {
    let mut sim = simulate_with("consumer/coordinator-failover.ron", TraceRetention::Full);
    run_to(&mut sim, 30.0);
    let events = sim.trace.events();
    let loaded = events.iter().find(|e| matches!(e.kind, TraceKind::GroupLoaded { .. })).expect("B3 loaded").time;
    for name in ["b1", "b2"] {
        let node = sim.consumers.iter().find(|c| c.name == name).expect("consumer").node;
        let refused: Vec<u64> = events
            .iter()
            .filter(|e| matches!(e.kind, TraceKind::Refused { from, to, message: MessageKind::Heartbeat } if from == node && to.0 == 2))
            .map(|e| e.time)
            .collect();
        assert!(refused.len() >= 6, "{name}: heartbeats refused by B2: {refused:?}");
        let gaps: Vec<u64> = refused.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().filter(|&&g| g < 3_000_000).count() >= 4, "{name}: gaps {gaps:?}");
        let first_to_b3 = events
            .iter()
            .find(|e| {
                e.time > loaded
                    && matches!(e.kind, TraceKind::Delivered { from, to, message: MessageKind::Heartbeat } if from == node && to.0 == 3)
            })
            .expect("a heartbeat to B3")
            .time;
        assert!(
            first_to_b3 - loaded < 1_000_000,
            "{name}: first heartbeat to B3 {}us after the load",
            first_to_b3 - loaded
        );
    }
}

#[test]
fn a_consumer_detects_truncation_after_an_unclean_election() {
    let mut sim = simulate_with("consumer/unclean-truncation-detected.ron", TraceRetention::Full);
    run_to(&mut sim, 50.0);
    let detected = sim.trace.events().iter().find_map(|e| match e.kind {
        TraceKind::ConsumerTruncationDetected { from_offset, to_offset, .. } => Some((from_offset, to_offset)),
        _ => None,
    });
    let (from, to) = detected.expect("KIP-320 detection");
    assert!(from > to, "the consumer moved back from {from} to {to}");
    // The consumer found out by validating its position with the new leader (`OffsetsForLeaderEpoch`), as Kafka's
    // consumer does after a leader change; its fetches carry no last fetched epoch.
    let detected_at = event_times(&sim, |k| matches!(k, TraceKind::ConsumerTruncationDetected { .. }))[0];
    let answered_at = event_times(&sim, |k| {
        matches!(k, TraceKind::Delivered { message: MessageKind::OffsetsForLeaderEpochResponse, .. })
    });
    assert!(answered_at.contains(&detected_at), "detected at {detected_at} on an OffsetsForLeaderEpoch answer");
    assert!(sim.verdict().acked_lost.len() as u64 >= from - to - 1, "those records are gone from the log");
}

/// A group whose `__consumer_offsets` partition cannot replicate: its two followers become very slow at 10 s, so its
/// high watermark stops, until the controller fences them (their heartbeats are slow too) and the ISR is [1], below
/// the broker's `min.insync.replicas=2`.
const UNREPLICATED_OFFSETS: &str = r#"Scenario(
    title: "offset commits that cannot be replicated",
    seed: 5,
    duration: "40s",
    cluster: (brokers: 3, config: { "offsets.topic.num.partitions": 1, "min.insync.replicas": 2 }),
    topics: [(name: "orders", partitions: 1, replication_factor: 1, config: { "min.insync.replicas": 1 })],
    producers: [(name: "p", config: { "acks": 1 }, workload: [Steady(topic: "orders", rate_per_sec: 20)])],
    consumers: [(name: "c", group: "g", topics: ["orders"], commit: SyncAfterProcessing, processing: "5ms",
                 config: { "auto.offset.reset": "earliest" })],
    timeline: [
        (at: "10s", do: Slow(node: "B2", extra_latency: "20s")),
        (at: "10s", do: Slow(node: "B3", extra_latency: "20s")),
    ],
)"#;

#[test]
fn an_offset_commit_that_cannot_be_replicated_times_out_then_finds_no_coordinator() {
    use kafkascope_sim::message::KafkaError;
    let mut sim = simulate_text(UNREPLICATED_OFFSETS, "unreplicated.ron");
    run_to(&mut sim, 40.0);
    let at = |kind: &dyn Fn(&TraceKind) -> bool| event_times(&sim, kind);
    let us = |seconds: u64| seconds * 1_000_000;
    // offsets.commit.timeout.ms (5 s): a commit sent just after 10 s is answered REQUEST_TIMED_OUT 5 s later.
    let timed_out = at(&|k| matches!(k, TraceKind::CommitNotReplicated { error: KafkaError::RequestTimedOut, .. }));
    assert!(!timed_out.is_empty(), "a commit waited for the stalled high watermark and timed out");
    assert!(timed_out.iter().all(|&t| t >= us(15)), "not before 10 s + offsets.commit.timeout.ms: {timed_out:?}");
    // Once the controller fences the slow followers the ISR is [1], below min.insync.replicas=2: commits are refused
    // at once with COORDINATOR_NOT_AVAILABLE, and nothing is appended for them.
    let shrinks = at(&|k| matches!(k, TraceKind::IsrChanged { .. }));
    let fenced = shrinks.into_iter().find(|&t| t > us(10)).expect("the ISR shrinks");
    let refused =
        at(&|k| matches!(k, TraceKind::CommitNotReplicated { error: KafkaError::CoordinatorNotAvailable, .. }));
    assert!(!refused.is_empty() && refused.iter().all(|&t| t >= fenced), "refused after {fenced}: {refused:?}");
    // Both errors are retriable: commitSync tries again (looking for its coordinator first) instead of throwing, so
    // the application sees no failed commit, and stays blocked in commitSync: nothing is processed meanwhile.
    let retried =
        |error: KafkaError| at(&|k| matches!(k, TraceKind::CommitSyncRetry { error: e, .. } if *e == error)).len();
    assert!(retried(KafkaError::RequestTimedOut) > 0 && retried(KafkaError::CoordinatorNotAvailable) > 0);
    assert!(at(&|k| matches!(k, TraceKind::CommitFailed { .. })).is_empty(), "nothing reached the application");
    let committed = at(&|k| matches!(k, TraceKind::OffsetsCommitted { .. }));
    assert!(committed.iter().any(|&t| t < us(10)), "commits worked before");
    let first_retry = *at(&|k| matches!(k, TraceKind::CommitSyncRetry { .. })).first().expect("retried");
    let processed_after = sim.processed.iter().filter(|p| p.at > first_retry).count();
    assert_eq!(processed_after, 0, "blocked in commitSync from its first failed try on");
    let report = Report::build(&sim, false);
    let g = group(&report, "g");
    assert!(g.checker.lost.is_empty(), "at-least-once: a failed commit loses nothing");
    assert_eq!(g.checker.commits_failed, 0, "retried tries are not failed commits");
}

/// `default.api.timeout.ms` bounds a commitSync: it throws a TimeoutException after that long, and the application
/// goes on to its next poll without the commit (and blocks again in the next commitSync).
#[test]
fn a_commit_sync_that_cannot_succeed_times_out_after_default_api_timeout() {
    let text = UNREPLICATED_OFFSETS.replace(
        r#"config: { "auto.offset.reset": "earliest" }"#,
        r#"config: { "auto.offset.reset": "earliest", "default.api.timeout.ms": 8000 }"#,
    );
    let mut sim = simulate_text(&text, "short-api-timeout.ron");
    run_to(&mut sim, 40.0);
    let at = |kind: &dyn Fn(&TraceKind) -> bool| event_times(&sim, kind);
    let timeouts = at(&|k| matches!(k, TraceKind::CommitSyncTimedOut { .. }));
    let first_retry = *at(&|k| matches!(k, TraceKind::CommitSyncRetry { .. })).first().expect("retried");
    let first_timeout = *timeouts.first().expect("a commitSync timed out");
    // That commitSync's first try reached the coordinator just after it was called (one network hop); the
    // TimeoutException comes 8 s after the call.
    let delivered_commits =
        at(&|k| matches!(k, TraceKind::Delivered { message: kafkascope_sim::message::MessageKind::OffsetCommit, .. }));
    let call = *delivered_commits.iter().rfind(|&&t| t < first_retry).expect("the first try");
    let waited = first_timeout - call;
    assert!((7_990_000..=8_000_000).contains(&waited), "timed out {waited} us after the call");
    // The application goes on: it polls and processes again, then blocks in its next commitSync.
    let processed_between = sim.processed.iter().filter(|p| p.at > first_timeout).count();
    assert!(processed_between > 0, "processing resumed after the TimeoutException");
    assert!(timeouts.len() >= 2, "the next commitSync blocks and times out too: {timeouts:?}");
    let report = Report::build(&sim, false);
    assert_eq!(group(&report, "g").checker.commits_failed, timeouts.len() as u64);
}

#[test]
fn expectations_may_name_consumer_offsets_when_there_are_consumers() {
    let scenario = |consumers: &str, partition: u32| {
        format!(
            r#"Scenario(title: "t", duration: "10s", cluster: (brokers: 3),
            topics: [(name: "orders", partitions: 1, replication_factor: 3)],
            consumers: [{consumers}],
            expect: [(check: Isr(topic: "__consumer_offsets", partition: {partition}, isr: [1, 2, 3]))])"#
        )
    };
    let consumer = r#"(name: "c", group: "g", topics: ["orders"])"#;
    assert!(kafkascope_sim::Scenario::parse(&scenario(consumer, 2), "ok.ron").is_ok());
    let error =
        kafkascope_sim::Scenario::parse(&scenario(consumer, 3), "range.ron").expect_err("3 partitions by default");
    assert!(error.to_string().contains("has no partition 3"), "{error}");
    assert!(error.to_string().contains("offsets.topic.num.partitions = 3"), "{error}");
    let error = kafkascope_sim::Scenario::parse(&scenario("", 0), "none.ron").expect_err("no consumers, no topic");
    assert!(error.to_string().contains("unknown topic `__consumer_offsets`"), "{error}");
}

/// A commitSync called while no coordinator can be found still ends after `default.api.timeout.ms`: it waits for the
/// lookup, sends nothing, and throws a TimeoutException.
#[test]
fn a_commit_sync_without_a_coordinator_times_out_too() {
    let text = r#"Scenario(
        title: "every broker down while the consumer processes",
        seed: 3,
        duration: "40s",
        cluster: (brokers: 3),
        topics: [(name: "orders", partitions: 1, replication_factor: 3)],
        producers: [(name: "p", config: { "acks": 1 }, workload: [Steady(topic: "orders", rate_per_sec: 20, stop: Some("5s"))])],
        consumers: [(name: "c", group: "g", topics: ["orders"], commit: SyncAfterProcessing, processing: "1s",
                     config: { "auto.offset.reset": "earliest", "max.poll.records": 8, "default.api.timeout.ms": 5000 })],
        timeline: [
            (at: "9s", do: Crash(broker: 1)),
            (at: "9s", do: Crash(broker: 2)),
            (at: "9s", do: Crash(broker: 3)),
        ],
    )"#;
    let mut sim = simulate_text(text, "all-down.ron");
    run_to(&mut sim, 40.0);
    let at = |kind: &dyn Fn(&TraceKind) -> bool| event_times(&sim, kind);
    let timeouts = at(&|k| matches!(k, TraceKind::CommitSyncTimedOut { .. }));
    assert!(!timeouts.is_empty(), "the commitSync gave up although no coordinator was ever found again");
    // After the crash no OffsetCommit reached a broker: every try waited for a coordinator.
    let commits_after =
        at(&|k| matches!(k, TraceKind::Delivered { message: kafkascope_sim::message::MessageKind::OffsetCommit, .. }));
    assert!(commits_after.iter().all(|&t| t < 9_000_000), "{commits_after:?}");
    // The call came when the poll's last record was done, after the crash, and the TimeoutException 5 s later.
    let last_processed_before = sim.processed.iter().map(|p| p.at).filter(|&t| t < timeouts[0]).max().expect("some");
    assert!(last_processed_before > 9_000_000, "the batch was finished after the crash");
    assert_eq!(timeouts[0] - last_processed_before, 5_000_000, "default.api.timeout.ms after the call");
    let report = Report::build(&sim, false);
    assert_eq!(group(&report, "g").checker.commits_failed, timeouts.len() as u64);
}

/// A member that only lost its coordinator keeps consuming what it owns while it looks for the new one: the fetches
/// go to the partitions' leaders, not to the coordinator (KafkaConsumer.poll returns fetched records even when the
/// coordinator lookup does not finish within the poll).
#[test]
fn a_consumer_keeps_processing_while_its_coordinator_is_unknown() {
    let text = r#"Scenario(
        title: "the only replica of the offsets partition dies under an auto-committing consumer",
        seed: 11,
        duration: "40s",
        cluster: (brokers: 3, config: { "offsets.topic.num.partitions": 1, "offsets.topic.replication.factor": 1 }),
        topics: [(name: "orders", partitions: 1, replication_factor: 1, assignment: Some([[2]]))],
        producers: [(name: "p", config: { "acks": "all" }, workload: [Steady(topic: "orders", rate_per_sec: 50)])],
        consumers: [(name: "c", group: "g", topics: ["orders"], commit: Auto, processing: "5ms",
                     config: { "auto.offset.reset": "earliest" })],
        timeline: [(at: "10s", do: Crash(broker: 1))],
    )"#;
    let mut sim = simulate_text(text, "coordinator-lost.ron");
    run_to(&mut sim, 40.0);
    // B1 holds the only replica of __consumer_offsets-0: once the controller fences it (broker.session.timeout.ms)
    // that partition is offline and no broker can name a coordinator, while `orders`-0 lives on B2.
    let offline = sim
        .trace
        .events()
        .iter()
        .find(|e| matches!(e.kind, TraceKind::PartitionOffline { .. }))
        .map(|e| e.time)
        .expect("the offsets partition goes offline");
    let lookups = sim.trace.events().iter().filter(|e| {
        e.time > offline
            && matches!(
                e.kind,
                TraceKind::Delivered { message: kafkascope_sim::message::MessageKind::FindCoordinator, .. }
            )
    });
    assert!(lookups.count() > 5, "the consumer keeps looking for a coordinator");
    let processed_meanwhile = sim.processed.iter().filter(|p| p.at > offline + 2_000_000).count();
    assert!(processed_meanwhile > 500, "processing went on without a coordinator: {processed_meanwhile}");
    let report = Report::build(&sim, false);
    assert!(group(&report, "g").checker.lost.is_empty());
}

/// `leastLoadedNode` picks among the brokers the metadata lists, and prefers one it has a working connection to:
/// B2 and B3 crash at 10 s, their connections break, and while they are down (listed until the controller fences
/// them at 17 s, then not listed at all) commitSync's lookups go to B1 only, until the two restart at 35 s.
#[test]
fn coordinator_lookups_skip_brokers_the_metadata_no_longer_lists() {
    let mut sim = simulate_with("consumer/offsets-topic-below-min-isr.ron", TraceRetention::Full);
    run_to(&mut sim, 40.0);
    let lookups: Vec<(u64, NodeId)> = sim
        .trace
        .events()
        .iter()
        .filter_map(|e| match e.kind {
            TraceKind::Delivered { message: MessageKind::FindCoordinator, to, .. }
            | TraceKind::Dropped { message: MessageKind::FindCoordinator, to, .. } => Some((e.time, to)),
            _ => None,
        })
        .collect();
    let dead = |to: NodeId| to == BrokerId(2).node() || to == BrokerId(3).node();
    let while_down = lookups.iter().filter(|&&(t, _)| t > 10_000_000 && t < 35_000_000);
    assert!(while_down.clone().count() > 10, "commitSync kept looking");
    assert!(while_down.clone().all(|&(_, to)| !dead(to)), "{:?}", while_down.collect::<Vec<_>>());
}

/// A 3-broker cluster with topic `t` (RF 3) written at 10 records/s by an acks=all producer and read by
/// `consumers` (RON consumer entries), with `timeline` (RON timeline entries).
fn group_story(partitions: u32, duration: &str, consumers: &str, timeline: &str) -> String {
    format!(
        r#"Scenario(
            title: "a group story",
            seed: 5,
            duration: "{duration}",
            cluster: (brokers: 3),
            topics: [(name: "t", partitions: {partitions}, replication_factor: 3)],
            producers: [(name: "p", config: {{ "acks": "all" }}, workload: [Steady(topic: "t", rate_per_sec: 10)])],
            consumers: [{consumers}],
            timeline: [{timeline}],
        )"#
    )
}

#[test]
fn a_fetch_cut_off_from_its_leader_times_out_after_request_timeout_not_at_a_heartbeat_tick() {
    // 5s falls between two 3s heartbeat ticks; 1s is shorter than the tick interval itself.
    for request_timeout_ms in [5000u64, 1000] {
        let consumer = format!(
            r#"(name: "c", group: "g", topics: ["t"],
                config: {{ "auto.offset.reset": "earliest", "request.timeout.ms": {request_timeout_ms} }})"#
        );
        let text = group_story(1, "20s", &consumer, r#"(at: "10s", do: Cut(from: "B1", to: "c", both_ways: true))"#);
        let mut sim = simulate_text(&text, "fetch-timeout.ron");
        run_to(&mut sim, 20.0);
        let consumer = sim.consumers[0].node;
        let leader = BrokerId(1).node();
        let events = sim.trace.events();
        // The last fetch that reached B1 before the cut, and the first request the consumer then tried to send B1.
        let last_fetch = events
            .iter()
            .filter(|e| e.time < 10_000_000)
            .filter(|e| matches!(e.kind, TraceKind::Delivered { from, to, message: MessageKind::ConsumerFetch } if from == consumer && to == leader))
            .map(|e| e.time)
            .next_back()
            .expect("the consumer fetched from B1");
        let given_up = events
            .iter()
            .find(|e| e.time > 10_000_000 && matches!(e.kind, TraceKind::Dropped { from, .. } if from == consumer))
            .expect("the consumer tried B1 again")
            .time;
        // request.timeout.ms runs from the send (a link latency before the delivery): the fetch is given up, and
        // metadata refreshed, that long after it went out, not at a later heartbeat tick.
        let waited = given_up - last_fetch;
        let timeout = request_timeout_ms * 1000;
        assert!(
            (timeout - 10_000..timeout).contains(&waited),
            "{request_timeout_ms} ms: gave up {waited}us after the fetch reached B1"
        );
    }
}

/// When the first request of `kind` that `consumer` sent after `after` reached its broker.
fn first_from(sim: &kafkascope_sim::sim::Simulation, consumer: NodeId, kind: MessageKind, after: u64) -> u64 {
    sim.trace
        .events()
        .iter()
        .find(|e| {
            e.time > after
                && matches!(e.kind, TraceKind::Delivered { from, message, .. } if from == consumer && message == kind)
        })
        .unwrap_or_else(|| panic!("{kind:?} from the consumer after {after}us"))
        .time
}

#[test]
fn a_member_that_missed_its_sync_answer_rejoins_with_a_new_generation_and_rebalances() {
    // c1's SyncGroup answer for generation 1 is lost. Its SyncGroup times out request.timeout.ms after it went out,
    // the coordinator is marked unknown and found again, and c1 rejoins. It took generation 1 from its JoinGroup
    // answer, and the generation is part of its subscription (KIP-792), so its metadata changed: a rebalance
    // ("Updating metadata for member ... during Stable").
    let consumers = r#"
        (name: "c1", group: "g", topics: ["t"], config: { "auto.offset.reset": "earliest", "request.timeout.ms": 5000 }),
        (name: "c2", group: "g", topics: ["t"], config: { "auto.offset.reset": "earliest", "request.timeout.ms": 5000 }),"#;
    let text = group_story(
        2,
        "20s",
        consumers,
        r#"(at: "3.0085s", do: Cut(from: "B2", to: "c1")), (at: "3.5s", do: HealAll)"#,
    );
    let mut sim = simulate_text(&text, "sync-answer-lost.ron");
    run_to(&mut sim, 20.0);
    let c1 = sim.consumers.iter().find(|c| c.name == "c1").expect("c1").node;
    let sync = first_from(&sim, c1, MessageKind::SyncGroup, 0);
    let looked_up = first_from(&sim, c1, MessageKind::FindCoordinator, sync);
    // Both times are deliveries, a link latency (a few ms) after the sends, which are 5s apart.
    assert!(
        (4_990_000..5_010_000).contains(&(looked_up - sync)),
        "looked up {}us after the SyncGroup",
        looked_up - sync
    );
    let reasons: Vec<&str> = sim
        .trace
        .events()
        .iter()
        .filter_map(|e| match e.kind {
            TraceKind::RebalanceStarted { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, vec!["first member joined", "a member rejoined with new metadata"]);
    assert_eq!(event_times(&sim, |k| matches!(k, TraceKind::GenerationStarted { .. })).len(), 2);
}

/// Three members with an 11 s JoinGroup timeout; c3's arrival at 10s rebalances the group, and c1's JoinGroup answer
/// for generation 2 is lost on a cut link. `more_timeline` goes on the timeline after that.
fn join_answer_lost_story(more_timeline: &str) -> String {
    let member = |name: &str, start: &str| {
        format!(
            r#"(name: "{name}", group: "g", topics: ["t"],
                config: {{ "auto.offset.reset": "earliest", "max.poll.interval.ms": 6000, "request.timeout.ms": 5000 }}{start}),"#
        )
    };
    let consumers = [member("c1", ""), member("c2", ""), member("c3", r#", start: Some("10s")"#)].concat();
    let timeline =
        format!(r#"(at: "12.0145s", do: Cut(from: "B2", to: "c1")), (at: "12.5s", do: HealAll){more_timeline}"#);
    group_story(3, "40s", &consumers, &timeline)
}

/// The (generation, partition count) of each assignment `consumer` got after `after`.
fn assignments_after(sim: &kafkascope_sim::sim::Simulation, consumer: NodeId, after: u64) -> Vec<(u32, u32)> {
    sim.trace
        .events()
        .iter()
        .filter(|e| e.time > after)
        .filter_map(|e| match e.kind {
            TraceKind::PartitionsAssigned { consumer: c, generation, partitions, .. } if c == consumer => {
                Some((generation, partitions))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_member_that_missed_its_join_answer_gets_the_current_generation_without_a_rebalance() {
    // c3's arrival at 10s rebalances the group; c1's JoinGroup answer for generation 2 is lost. A JoinGroup waits
    // max(request.timeout.ms, max.poll.interval.ms + 5s) = 11s; then c1 finds its coordinator again and rejoins with
    // the same metadata (still generation 1, nothing owned): the coordinator answers with generation 2 as it stands,
    // and c1's SyncGroup gets the partition the leader assigned it (GroupCoordinator: "for followers with no actual
    // change to their metadata, just return group information for the current generation").
    let mut sim = simulate_text(&join_answer_lost_story(""), "join-answer-lost.ron");
    run_to(&mut sim, 40.0);
    let c1 = sim.consumers.iter().find(|c| c.name == "c1").expect("c1").node;
    let events = sim.trace.events();
    let dropped = events
        .iter()
        .find(|e| matches!(e.kind, TraceKind::Dropped { to, message: MessageKind::JoinGroupResponse, .. } if to == c1))
        .expect("the cut drops c1's JoinGroup answer")
        .time;
    let join = events
        .iter()
        .filter(|e| e.time < dropped)
        .filter(|e| matches!(e.kind, TraceKind::Delivered { from, message: MessageKind::JoinGroup, .. } if from == c1))
        .map(|e| e.time)
        .next_back()
        .expect("c1 rejoined");
    let looked_up = first_from(&sim, c1, MessageKind::FindCoordinator, dropped);
    assert!(
        (10_990_000..11_010_000).contains(&(looked_up - join)),
        "gave up {}us after the JoinGroup",
        looked_up - join
    );
    let generations = event_times(&sim, |k| matches!(k, TraceKind::GenerationStarted { .. }));
    assert_eq!(generations.len(), 2, "c3's join only: {generations:?}");
    let assigned = assignments_after(&sim, c1, dropped);
    assert_eq!(assigned, vec![(2, 1)], "c1 gets its generation-2 partition once its rejoin is answered");
}

#[test]
fn members_waiting_on_a_join_hear_not_coordinator_when_the_coordinator_moves() {
    // B2 coordinates group g and holds both JoinGroups through group.initial.rebalance.delay.ms (3s). Its controlled
    // shutdown at 1s moves the offsets partition away: the unloaded group answers the waiting JoinGroups
    // NOT_COORDINATOR (GroupCoordinator.onGroupUnloaded), so both members find B3 at once and the group forms there,
    // instead of waiting out the JoinGroup's timeout (max.poll.interval.ms + 5s).
    let consumers = r#"
        (name: "c1", group: "g", topics: ["t"], config: { "auto.offset.reset": "earliest" }),
        (name: "c2", group: "g", topics: ["t"], config: { "auto.offset.reset": "earliest" }),"#;
    let text = group_story(2, "20s", consumers, r#"(at: "1s", do: ControlledShutdown(broker: 2))"#);
    let mut sim = simulate_text(&text, "coordinator-moves.ron");
    run_to(&mut sim, 20.0);
    for consumer in ["c1", "c2"] {
        let node = sim.consumers.iter().find(|c| c.name == consumer).expect("consumer").node;
        let looked_up = first_from(&sim, node, MessageKind::FindCoordinator, 1_000_000);
        assert!(looked_up < 1_020_000, "{consumer} looked the coordinator up again at {looked_up}us");
    }
    let stable = event_times(&sim, |k| matches!(k, TraceKind::GroupStable { .. }));
    assert!(stable.first().is_some_and(|&t| t < 5_000_000), "the group formed on B3 by 5s: {stable:?}");
}

/// An eager member must commit before it rejoins, while `__consumer_offsets` cannot take commits (its ISR is below
/// `min.insync.replicas` from 10 s until the crashed brokers return at `restart`); a second member joins at 25 s.
/// `member` completes both members' settings: their commit mode and extra configs.
fn rejoin_commit_story(member: &str, restart: &str) -> String {
    format!(
        r#"Scenario(
            title: "the commit before a rejoin",
            seed: 3,
            duration: "60s",
            cluster: (brokers: 3, config: {{ "offsets.topic.num.partitions": 1, "min.insync.replicas": 2 }}),
            topics: [(name: "t", partitions: 2, replication_factor: 3, config: {{ "min.insync.replicas": 1 }})],
            producers: [(name: "p", config: {{ "acks": 1 }}, workload: [Steady(topic: "t", rate_per_sec: 20)])],
            consumers: [
                (name: "c1", group: "g", topics: ["t"], {member}),
                (name: "c2", group: "g", topics: ["t"], {member}, start: Some("25s")),
            ],
            timeline: [(at: "10s", do: Crash(broker: 2)), (at: "10s", do: Crash(broker: 3)),
                       (at: "{restart}", do: Restart(broker: 2)), (at: "{restart}", do: Restart(broker: 3))],
        )"#
    )
}

#[test]
fn an_eager_member_retries_its_commit_before_rejoining_until_the_rebalance_timeout() {
    // Kafka's `ConsumerCoordinator.onJoinPrepare`: a retriable failure of the auto-commit before a rejoin is repeated
    // after retry.backoff.ms until the rebalance timeout (max.poll.interval.ms); only then does the JoinGroup go out.
    let auto_commit = r#"config: { "auto.offset.reset": "earliest" }"#;
    let mut sim = simulate_text(&rejoin_commit_story(auto_commit, "35s"), "rejoin-commit.ron");
    run_to(&mut sim, 60.0);
    let c1 = sim.consumers[0].node;
    let events = sim.trace.events();
    let retries: Vec<u64> = events
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::RevocationCommitRetry { consumer, .. } if consumer == c1))
        .map(|e| e.time)
        .collect();
    assert!(retries.len() >= 10, "c1 kept trying its commit during the outage: {} retries", retries.len());
    assert!(retries.iter().all(|&t| (25_000_000..36_000_000).contains(&t)), "retries only while commits fail");
    let gave_up = event_times(&sim, |k| matches!(k, TraceKind::RevocationCommitGaveUp { .. }));
    assert!(gave_up.is_empty(), "300 s of rebalance timeout outlast the outage");
    // c1's JoinGroup for that rebalance leaves only after its commit succeeded, once the ISR is back.
    let rejoin = events
        .iter()
        .find(|e| {
            e.time > 25_000_000
                && matches!(e.kind, TraceKind::Delivered { from, message: MessageKind::JoinGroup, .. } if from == c1)
        })
        .expect("c1 rejoined")
        .time;
    assert!(rejoin > *retries.last().unwrap() && rejoin > 35_000_000, "rejoined at {rejoin} µs");
    let report = Report::build(&sim, false);
    let g = group(&report, "g");
    assert_eq!(g.members.len(), 2, "both members are in the group");
    assert!(g.checker.duplicates.is_empty(), "the next owner starts where c1 stopped: {:?}", g.checker.duplicates);
}

#[test]
fn a_member_whose_commit_before_rejoining_runs_out_of_time_rejoins_and_its_records_are_read_again() {
    // The application commits with commitSync in onPartitionsRevoked, which gives up after default.api.timeout.ms
    // (3 s here), long before the outage ends: c1 rejoins without the commit, and whoever owns its partitions next
    // reads again what c1 processed since its last commit.
    let manual = r#"commit: SyncAfterProcessing,
        config: { "auto.offset.reset": "earliest", "default.api.timeout.ms": 3000 }"#;
    let mut sim = simulate_text(&rejoin_commit_story(manual, "45s"), "rejoin-commit-gives-up.ron");
    run_to(&mut sim, 60.0);
    let c1 = sim.consumers[0].node;
    let of_c1 =
        |times: Vec<(u64, NodeId)>| times.into_iter().filter(|(_, c)| *c == c1).map(|(t, _)| t).collect::<Vec<_>>();
    let events = sim.trace.events();
    let gave_up = of_c1(
        events
            .iter()
            .filter_map(|e| match e.kind {
                TraceKind::RevocationCommitGaveUp { consumer, auto_commit: false, .. } => Some((e.time, consumer)),
                _ => None,
            })
            .collect(),
    );
    let retries = of_c1(
        events
            .iter()
            .filter_map(|e| match e.kind {
                TraceKind::RevocationCommitRetry { consumer, .. } => Some((e.time, consumer)),
                _ => None,
            })
            .collect(),
    );
    assert_eq!(gave_up.len(), 1, "c1 gave up once: {gave_up:?}");
    let first_retry = *retries.first().expect("c1 retried");
    // The limit counts from the first try, sent when c1 gave its partitions up.
    let revoked = events
        .iter()
        .filter(|e| e.time <= first_retry)
        .filter(|e| matches!(e.kind, TraceKind::PartitionsRevoked { consumer, .. } if consumer == c1))
        .map(|e| e.time)
        .next_back()
        .expect("c1 revoked before it retried");
    assert_eq!(gave_up[0] - revoked, 3_000_000, "default.api.timeout.ms after the first try");
    assert!(retries.iter().all(|&t| t < gave_up[0]), "no retry after giving up");
    let rejoin = events
        .iter()
        .find(|e| {
            e.time >= gave_up[0]
                && matches!(e.kind, TraceKind::Delivered { from, message: MessageKind::JoinGroup, .. } if from == c1)
        })
        .expect("c1 rejoined")
        .time;
    assert!(rejoin < 45_000_000, "c1 rejoined at {rejoin} µs, during the outage");
    let report = Report::build(&sim, false);
    let g = group(&report, "g");
    assert!(!g.checker.duplicates.is_empty(), "records processed by c1 since its last commit are processed again");
    assert!(g.checker.lost.is_empty());
}

#[test]
fn a_new_coordinator_knows_the_subscription_a_member_joined_with() {
    // The story of the test above, with the coordinator B2 shut down (controlled) at 16s, after generation 2 is
    // written to __consumer_offsets. c1's JoinGroup, whose answer was lost, ends when B2 stops, and c1 rejoins at B3.
    // B3 loaded the group from that record, which keeps each member's subscription as its JoinGroup sent it
    // (GroupMetadataValue), so c1's rejoin has the same metadata there too: generation 2 as it stands, no third
    // rebalance.
    let story = join_answer_lost_story(r#", (at: "16s", do: ControlledShutdown(broker: 2))"#);
    let mut sim = simulate_text(&story, "join-answer-lost-then-failover.ron");
    run_to(&mut sim, 40.0);
    let c1 = sim.consumers.iter().find(|c| c.name == "c1").expect("c1").node;
    let events = sim.trace.events();
    let loaded = events
        .iter()
        .find(|e| matches!(e.kind, TraceKind::GroupLoaded { broker, generation: 2, .. } if broker == BrokerId(3)))
        .expect("B3 loaded generation 2")
        .time;
    let rejoined = first_from(&sim, c1, MessageKind::JoinGroup, loaded);
    let to_b3 = events.iter().any(|e| {
        e.time == rejoined
            && matches!(e.kind, TraceKind::Delivered { from, to, message: MessageKind::JoinGroup } if from == c1 && to == BrokerId(3).node())
    });
    assert!(to_b3, "c1 rejoined at B3, at {rejoined}us");
    let generations = event_times(&sim, |k| matches!(k, TraceKind::GenerationStarted { .. }));
    assert_eq!(generations.len(), 2, "no rebalance for c1's rejoin: {generations:?}");
    let assigned = assignments_after(&sim, c1, rejoined);
    assert_eq!(assigned, vec![(2, 1)], "c1 gets its generation-2 partition from B3");
}

#[test]
fn a_busy_member_finds_the_new_coordinator_from_its_heartbeat_thread() {
    // c processes each poll of 20 records for 20 s. Its coordinator B2 crashes at 10s and is fenced at 17s, when B3
    // loads the group and gives c a session of 8s. The heartbeat thread keeps looking the coordinator up while the
    // application works (HeartbeatThread: "coordinatorUnknown() ... lookupCoordinator()"), so c's heartbeats reach B3
    // in time; waiting for the next poll (23s) would have let the session expire at 25s.
    let consumer = r#"(name: "c", group: "g", topics: ["t"], processing: "1s",
        config: { "auto.offset.reset": "earliest", "max.poll.records": 20, "session.timeout.ms": 8000, "max.poll.interval.ms": 60000 })"#;
    let story = group_story(1, "60s", consumer, r#"(at: "10s", do: Crash(broker: 2))"#);
    let mut sim = simulate_text(&story, "busy-member-failover.ron");
    run_to(&mut sim, 60.0);
    let c = sim.consumers[0].node;
    let loaded = *event_times(&sim, |k| matches!(k, TraceKind::GroupLoaded { broker, .. } if *broker == BrokerId(3)))
        .first()
        .expect("B3 took the group over");
    let heartbeat = sim
        .trace
        .events()
        .iter()
        .find(|e| {
            e.time > loaded
                && matches!(e.kind, TraceKind::Delivered { from, to, message: MessageKind::Heartbeat } if from == c && to == BrokerId(3).node())
        })
        .expect("c heartbeats to B3")
        .time;
    assert!(heartbeat < loaded + 8_000_000, "first heartbeat to B3 at {heartbeat}us, loaded at {loaded}us");
    assert!(event_times(&sim, |k| matches!(k, TraceKind::MemberRemoved { .. })).is_empty(), "c stays in the group");
    assert_eq!(event_times(&sim, |k| matches!(k, TraceKind::GenerationStarted { .. })).len(), 1);
}
