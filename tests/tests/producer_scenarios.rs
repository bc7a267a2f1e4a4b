//! The producer scenarios in `scenarios/producer/`: batching, partitioners, retries, duplicates and ordering.

use kafkascope_sim::history::{KeyRef, RecordStatus};
use kafkascope_sim::message::{KafkaError, MessageKind};
use kafkascope_sim::producer::partition_for_key;
use kafkascope_sim::report::Report;
use kafkascope_sim::trace::TraceKind;
use kafkascope_sim::trace::TraceRetention;
use kafkascope_tests::{event_times, offsets, partition_state, run_to, simulate, simulate_text, simulate_with};

fn producer<'a>(report: &'a Report, name: &str) -> &'a kafkascope_sim::report::ProducerReport {
    report.producers.iter().find(|p| p.id == name).expect("producer exists")
}

#[test]
fn linger_trades_requests_for_latency_but_not_records() {
    let mut sim = simulate("producer/batching-linger.ron");
    run_to(&mut sim, 12.0);
    let report = Report::build(&sim, false);
    let (eager, patient) = (producer(&report, "eager"), producer(&report, "patient"));
    assert_eq!((eager.sent, eager.acked), (5000, 5000));
    assert_eq!((patient.sent, patient.acked), (5000, 5000), "the same records either way");
    assert!(
        eager.requests > 3 * patient.requests,
        "linger.ms=20 batches: {} vs {} requests",
        eager.requests,
        patient.requests
    );
    assert!(
        patient.mean_ack_latency_ms > eager.mean_ack_latency_ms + 5.0,
        "records wait for the batch: {:.1} ms vs {:.1} ms",
        patient.mean_ack_latency_ms,
        eager.mean_ack_latency_ms
    );
    assert!(report.checker.ok);
}

#[test]
fn the_trace_shows_a_batch_sent_appended_and_acked_as_one_unit() {
    let mut sim = simulate_with("producer/partitioners.ron", TraceRetention::Full);
    run_to(&mut sim, 3.0);
    let events = sim.trace.events();
    let sent =
        events.iter().position(|e| matches!(e.kind, TraceKind::BatchSent { records: 6, .. })).expect("one batch of 6");
    let appended = events.iter().position(|e| matches!(e.kind, TraceKind::Appended { records: 6, .. })).unwrap();
    let acked = events.iter().position(|e| matches!(e.kind, TraceKind::ProduceAcked { records: 6, .. })).unwrap();
    assert!(sent < appended && appended < acked);
}

/// Partitions computed independently from Kafka's documented algorithm (`Utils.murmur2`, `toPositive`, modulo the
/// partition count) with a separate Python port, for several keys and partition counts.
#[test]
fn keyed_records_land_where_kafka_puts_them() {
    let expected: &[(&str, [u32; 5])] = &[
        ("order-1", [0, 1, 4, 10, 26]),
        ("order-2", [1, 0, 3, 3, 43]),
        ("order-3", [1, 0, 3, 3, 49]),
        ("user-42", [0, 1, 4, 4, 10]),
        ("kafka", [0, 1, 4, 4, 30]),
        ("key-7", [1, 1, 1, 7, 25]),
        ("foobar", [0, 0, 0, 6, 16]),
    ];
    for (key, partitions) in expected {
        for (count, want) in [2, 3, 6, 12, 50].iter().zip(partitions) {
            assert_eq!(partition_for_key(key.as_bytes(), *count), *want, "{key} over {count} partitions");
        }
    }
}

#[test]
fn key_hash_round_robin_and_sticky_placement() {
    let mut sim = simulate("producer/partitioners.ron");
    run_to(&mut sim, 3.0);
    let placement = |producer: usize| -> Vec<(Option<String>, u32)> {
        sim.history
            .records
            .iter()
            .filter(|r| r.producer.index() == producer)
            .map(|r| (sim.history.render_key(r.key), sim.topo.partition(r.partition).partition))
            .collect()
    };
    let keyed = placement(0);
    assert_eq!(
        keyed,
        vec![
            (Some("order-1".into()), 4),
            (Some("order-2".into()), 3),
            (Some("order-3".into()), 3),
            (Some("user-42".into()), 4),
            (Some("order-1".into()), 4),
            (Some("order-1".into()), 5), // The explicit partition overrides the key.
        ]
    );
    let dealt: Vec<u32> = placement(1).iter().map(|(_, p)| *p).collect();
    assert_eq!(dealt, vec![0, 1, 2, 3, 4, 5], "RoundRobinPartitioner deals in turn");
    let stuck: Vec<u32> = placement(2).iter().map(|(_, p)| *p).collect();
    assert!(stuck.iter().all(|p| *p == stuck[0]), "the sticky partitioner keeps one partition: {stuck:?}");
    assert!(sim.history.records.iter().filter(|r| r.producer.index() == 2).all(|r| r.key == KeyRef::None));
    assert!(sim.verdict().is_clean());
}

/// B1 is down and offline: partition 0 of both topics has no leader once the producers refresh their metadata.
/// `RoundRobinPartitioner` deals only the partitions with a leader (`availablePartitionsForTopic`) and ignores keys;
/// the built-in sticky partitioner only sticks to partitions with a leader.
const PARTITIONERS_WITH_A_PARTITION_DOWN: &str = r#"Scenario(
    title: "partitioners skip a partition without a leader",
    description: "test",
    seed: 5,
    duration: "20s",
    cluster: (brokers: 3, config: { "broker.session.timeout.ms": 2000, "broker.heartbeat.interval.ms": 500 }),
    topics: [
        (name: "dealt", partitions: 3, replication_factor: 1, assignment: Some([[1], [2], [3]])),
        (name: "stuck", partitions: 3, replication_factor: 1, assignment: Some([[1], [2], [3]])),
    ],
    producers: [
        (name: "dealer", config: { "acks": "1", "partitioner.class": "org.apache.kafka.clients.producer.RoundRobinPartitioner" }),
        (name: "sticker", config: { "acks": "1", "batch.size": 110, "linger.ms": 1000 }),
    ],
    timeline: [
        (at: "1s", do: Crash(broker: 1)),
        (at: "5s", do: Produce(producer: "dealer", topic: "dealt", records: [(value: "probe", partition: Some(0))])),
        (at: "5s", do: Produce(producer: "sticker", topic: "stuck", records: [(value: "probe", partition: Some(0))])),
        (at: "8s", do: Produce(producer: "dealer", topic: "dealt", records: [(key: Some("k0"), value: "v"), (key: Some("k1"), value: "v"), (key: Some("k2"), value: "v"), (key: Some("k3"), value: "v"), (key: Some("k4"), value: "v"), (key: Some("k5"), value: "v")])),
        (at: "8s", do: Produce(producer: "sticker", topic: "stuck", records: [(value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789"), (value: "0123456789")])),
    ],
)"#;

#[test]
fn partitioners_only_pick_partitions_with_a_leader() {
    let mut sim = simulate_text(PARTITIONERS_WITH_A_PARTITION_DOWN, "partition-down.ron");
    run_to(&mut sim, 20.0);
    let placed = |producer: usize| -> Vec<u32> {
        let records = sim.history.records.iter().filter(|r| r.producer.index() == producer).skip(1);
        records.map(|r| sim.topo.partition(r.partition).partition).collect()
    };
    assert_eq!(placed(0), vec![1, 2, 1, 2, 1, 2], "keys are ignored and the leaderless partition 0 is skipped");
    let stuck = placed(1);
    assert_eq!(stuck.len(), 30);
    assert!(stuck.iter().all(|&p| p != 0), "never partition 0: {stuck:?}");
    assert!(stuck.contains(&1) && stuck.contains(&2), "batch.size=110 makes the sticky partition move on: {stuck:?}");
    // 24-byte records: a batch (61-byte header included) holds two, 109 bytes, so the last batch is never full after a
    // record and the switch waits for twice batch.size (`updatePartitionInfo` without `enableSwitch`), counting each
    // batch's header once: 85 + 24 + 85 + 24 + 85 bytes, runs of five records.
    let first_run = stuck.iter().take_while(|&&p| p == stuck[0]).count();
    assert_eq!(first_run % 5, 0, "{stuck:?}");
    // The probe to B1 is refused. B1 is fenced by then, so it has dropped out of the metadata's broker list and no
    // partition names it as leader: nothing, not even a metadata request, goes to it again.
    for producer in [4, 5] {
        let refused = sim
            .trace
            .events()
            .iter()
            .filter(|e| matches!(e.kind, TraceKind::Refused { from, to, .. } if from.0 == producer && to.0 == 1))
            .count();
        assert_eq!(refused, 1, "producer node {producer}");
        // Partition 0 has no leader and a record waiting, so the producer keeps asking for metadata, but at most
        // once per retry.backoff.ms (100 ms) after the last answer (`Metadata.timeToAllowUpdate`).
        let metadata_requests = sim
            .trace
            .events()
            .iter()
            .filter(|e| e.time >= 10_000_000 && e.time < 20_000_000)
            .filter(|e| {
                matches!(e.kind, TraceKind::Delivered { from, message: MessageKind::MetadataRequest, .. } if from.0 == producer)
            })
            .count();
        assert!((50..=100).contains(&metadata_requests), "{metadata_requests} metadata requests in 10 s");
    }
}

/// NetworkClient does not send on a connection that was refused: the node is not ready, so the probe records to
/// the dead B1 are not tries and get no error; they wait in the accumulator (for a new leader or
/// `delivery.timeout.ms`, 120 s here) while metadata is refreshed.
#[test]
fn a_refused_connection_is_not_a_try() {
    let mut sim = simulate_text(PARTITIONERS_WITH_A_PARTITION_DOWN, "partition-down.ron");
    run_to(&mut sim, 20.0);
    let report = Report::build(&sim, false);
    for name in ["dealer", "sticker"] {
        let producer = producer(&report, name);
        assert_eq!(producer.retries, 0, "{name}");
        assert!(producer.errors.is_empty(), "{name}: {:?}", producer.errors);
        assert_eq!(producer.pending, 1, "{name}: the probe to partition 0 still waits");
    }
    assert!(sim.trace.events().iter().any(|e| matches!(e.kind, TraceKind::Refused { to, .. } if to.0 == 1)));
}

/// `KafkaApis.handleProduceRequest`: an acks=0 request that fails (here NOT_LEADER_OR_FOLLOWER at the old leader)
/// gets no answer, so the broker closes the connection; the producer sees the disconnect and refreshes its
/// metadata. Without that, an acks=0 producer keeps writing to the old leader, which drops every record.
#[test]
fn acks_0_finds_the_new_leader_when_the_old_one_closes_the_connection() {
    let text = r#"Scenario(
    title: "acks=0 after a leader change",
    description: "B1 is cut off from the controller from 2s to 15s; B2 takes over; B1 learns it at 16s.",
    seed: 3,
    duration: "25s",
    cluster: (brokers: 3),
    topics: [(name: "metrics", partitions: 1, replication_factor: 3, assignment: Some([[1, 2, 3]]))],
    producers: [(name: "fire", config: { "acks": "0" }, workload: [Steady(topic: "metrics", rate_per_sec: 100, stop: Some("24s"))])],
    timeline: [
        (at: "2s", do: Cut(from: "B1", to: "controller", both_ways: true)),
        (at: "15s", do: HealAll),
    ],
)"#;
    let mut sim = simulate_text(text, "acks0-leader-change.ron");
    run_to(&mut sim, 25.0);
    assert_eq!(partition_state(&sim, "metrics", 0).0, Some(2));
    let verdict = sim.verdict();
    assert!(!verdict.acked_lost.is_empty(), "B1's writes as a zombie leader are truncated away");
    let lost_late =
        verdict.acked_lost.iter().filter(|&&r| sim.history.records[r.index()].created_at > 16_100_000).count();
    assert_eq!(lost_late, 0, "once B1 refuses, the producer writes to B2");
    assert!(verdict.acked_lost.len() < 710, "{}", verdict.acked_lost.len());
}

#[test]
fn lost_responses_duplicate_records_only_without_idempotence() {
    let mut sim = simulate("producer/retries-duplicate-without-idempotence.ron");
    run_to(&mut sim, 15.0);
    let report = Report::build(&sim, false);
    let (plain, safe) = (producer(&report, "plain"), producer(&report, "safe"));
    assert!(plain.duplicated > 0, "retrying an appended batch writes it again");
    assert_eq!(safe.duplicated, 0, "the broker recognised the producer id and sequence");
    assert!(safe.retries > 0, "the idempotent producer retried too");
    assert!(sim.trace.events().iter().any(|e| matches!(e.kind, TraceKind::DuplicateBatch { .. })));
    assert_eq!(plain.acked_lost + safe.acked_lost, 0);
}

/// KIP-360 with Kafka's per-partition bookkeeping (`TxnPartitionEntry`): the epoch bump forced by orders-0's
/// unresolved sequence renumbers only orders-0. The orders-1 batches B2 already appended are retried with their
/// old epoch and sequences, so B2 recognises them; renumbering them too would write them a second time.
#[test]
fn an_epoch_bump_renumbers_only_the_partition_that_needs_it() {
    let mut sim = simulate_with("producer/idempotent-epoch-bump.ron", TraceRetention::Full);
    run_to(&mut sim, 12.0);
    let events = sim.trace.events();
    let bumps: Vec<_> = events
        .iter()
        .filter_map(|e| match e.kind {
            TraceKind::ProducerEpochBumped { partition, producer_epoch, .. } => {
                Some((e.time, partition.index(), producer_epoch))
            }
            _ => None,
        })
        .collect();
    assert_eq!(bumps.len(), 1, "one bump, for orders-0: {bumps:?}");
    let (bumped_at, partition, epoch) = bumps[0];
    assert_eq!((partition, epoch), (0, 1));
    let recognised_after_bump = events
        .iter()
        .filter(|e| e.time >= bumped_at)
        .filter(|e| matches!(e.kind, TraceKind::DuplicateBatch { partition, .. } if partition.index() == 1))
        .count();
    assert!(recognised_after_bump >= 1, "orders-1 retries kept their sequences and were recognised");
    let report = Report::build(&sim, false);
    let safe = producer(&report, "safe");
    assert!(safe.errors.get("DELIVERY_TIMEOUT").is_some_and(|&n| n >= 2));
    assert_eq!((safe.duplicated, safe.reordered, safe.acked_lost), (0, 0, 0));
    // Both partitions end under epoch 1 (the packed id's high bits): orders-0 from the bump, orders-1 once its
    // old-epoch retries were answered (`maybeUpdateProducerIdAndEpoch`), each starting at sequence 0.
    let epochs_in_log = |partition: usize, broker: usize| -> Vec<u32> {
        let log = &sim.brokers[broker].replicas[partition].as_ref().expect("replica").log;
        let mut epochs: Vec<u32> = log.entries().iter().map(|e| e.producer_id >> 20).collect();
        epochs.dedup();
        epochs
    };
    assert_eq!(epochs_in_log(0, 0), vec![0, 1]);
    assert_eq!(epochs_in_log(1, 1), vec![0, 1]);
    let first_sequence_of_epoch_1 = |partition: usize, broker: usize| {
        let log = &sim.brokers[broker].replicas[partition].as_ref().expect("replica").log;
        log.entries().iter().find(|e| e.producer_id >> 20 == 1).map(|e| e.sequence)
    };
    assert_eq!(first_sequence_of_epoch_1(0, 0), Some(0));
    assert_eq!(first_sequence_of_epoch_1(1, 1), Some(0));
}

#[test]
fn retries_reorder_batches_only_without_idempotence() {
    let mut sim = simulate("producer/retries-reorder-in-flight.ron");
    run_to(&mut sim, 20.0);
    let report = Report::build(&sim, false);
    let (plain, safe) = (producer(&report, "plain"), producer(&report, "safe"));
    assert!(plain.errors.contains_key("NOT_ENOUGH_REPLICAS"));
    assert!(plain.reordered > 0, "batches that failed together came back in reverse order");
    assert_eq!(plain.duplicated, 0, "NOT_ENOUGH_REPLICAS is answered before appending");
    assert_eq!(safe.reordered, 0, "idempotence keeps the order");
    assert_eq!(safe.duplicated, 0);
    assert_eq!(plain.acked + safe.acked, 28_000);
}

/// `RecordAccumulator.drainBatchesForOneNode`: once one batch for a broker is ready, the request takes the first
/// batch of every other partition that broker leads, even one still lingering. Here partitions 0 and 3 both have B1
/// as leader; a record that fills `batch.size` on partition 0 makes B1 ready at 1 s, and the small record waiting on
/// partition 3 (linger.ms=500) goes in the same request instead of half a second later.
#[test]
fn a_ready_broker_drains_every_partition_it_leads() {
    let text = r#"Scenario(
    title: "drain",
    duration: "3s",
    cluster: (brokers: 3),
    topics: [(name: "t", partitions: 6, replication_factor: 3)],
    producers: [(name: "p", config: { "linger.ms": 500, "batch.size": 200 })],
    timeline: [
        (at: "900ms", do: Produce(producer: "p", topic: "t", records: [(value: "small", partition: Some(3))])),
        (at: "1s", do: Produce(producer: "p", topic: "t", records: [(value: "a value long enough to fill a batch of two hundred bytes by itself, which takes quite a few characters to reach: one hundred, one hundred and fifty, and then some more words to pass two hundred", partition: Some(0))])),
    ],
)"#;
    let scenario = kafkascope_sim::Scenario::parse(text, "drain.ron").expect("valid");
    let options = kafkascope_sim::RunOptions { retention: TraceRetention::Full, ..Default::default() };
    let mut sim = kafkascope_sim::Simulation::new(scenario, options);
    sim.run().expect("runs");
    let sent: Vec<_> = sim
        .trace
        .events()
        .iter()
        .filter_map(|e| match e.kind {
            TraceKind::BatchSent { partition, to, trigger, .. } => Some((e.time, partition.0, to.0, trigger)),
            _ => None,
        })
        .collect();
    use kafkascope_sim::trace::BatchTrigger;
    assert_eq!(
        sent,
        vec![(1_000_000, 0, 1, BatchTrigger::BatchSize), (1_000_000, 3, 1, BatchTrigger::Drained)],
        "both batches leave at 1 s in one request to B1"
    );
    let report = Report::build(&sim, false);
    assert_eq!(producer(&report, "p").requests, 1);
    assert_eq!(producer(&report, "p").acked, 2);
}

/// A producer adds up ack latencies per batch (from the sum of its records' creation times); the total must be
/// exactly what each acked record's own creation and ack times give, retries and linger included.
#[test]
fn ack_latency_is_the_sum_over_acked_records() {
    use kafkascope_sim::history::RecordStatus;
    for file in ["producer/batching-linger.ron", "producer/retries-duplicate-without-idempotence.ron"] {
        let mut sim = simulate(file);
        sim.run().expect("runs");
        for (index, producer) in sim.producers.iter().enumerate() {
            let from_records: u64 = sim
                .history
                .statuses()
                .filter(|(_, r, _)| r.producer.index() == index)
                .filter_map(|(_, r, status)| match status {
                    RecordStatus::Acked { at, .. } => Some(at - r.created_at),
                    _ => None,
                })
                .sum();
            assert!(producer.stats.acked > 0, "{file}: producer {index} had acks");
            assert_eq!(producer.stats.ack_latency_total, from_records, "{file}: producer {index}");
        }
    }
}

/// A batch's records share one outcome in the history; each record's own offset is the batch's base offset plus
/// its place in the batch. Checked against the logs: every acked record sits at the offset its callback reported,
/// in multi-record batches, with retries, and with duplicates (whose last copy is the one acknowledged).
#[test]
fn each_acked_record_sits_at_the_offset_its_callback_reported() {
    use kafkascope_sim::history::RecordStatus;
    for file in [
        "producer/batching-linger.ron",
        "producer/partitioners.ron",
        "producer/retries-duplicate-without-idempotence.ron",
        "producer/retries-reorder-in-flight.ron",
    ] {
        let mut sim = simulate(file);
        sim.run().expect("runs");
        let (mut checked, mut in_shared_batches) = (0, 0);
        for (id, info, status) in sim.history.statuses() {
            let RecordStatus::Acked { offset: Some(offset), .. } = status else { continue };
            let log = sim.reference_log(info.partition).expect("the partition has a log");
            let entry = log.entries().get(offset as usize).unwrap_or_else(|| panic!("{file}: {id:?} at {offset}"));
            assert_eq!(entry.record, id, "{file}: the record acked at offset {offset}");
            checked += 1;
            in_shared_batches += usize::from(info.position_in_batch > 0);
        }
        assert!(checked > 0, "{file}: records were acked");
        assert!(in_shared_batches > 0, "{file}: some batches held more than one record");
    }
}

/// `delivery.timeout.ms` bounds every record, also one whose request was refused by a dead broker while its expiry
/// timer was due: the batch comes back to the queue and expires there. (The leader B1 crashes and its only replica
/// goes with it, so nothing can be delivered; before the fix, 144 records stayed pending for good.)
#[test]
fn records_refused_by_a_dead_leader_still_expire() {
    let text = r#"Scenario(
    title: "expiry of refused batches",
    description: "B1, the only replica, crashes at 1s; the link to it is slow, so refusals come back late.",
    seed: 4,
    duration: "60s",
    cluster: (brokers: 2, network: (links: [(between: ("p", "B1"), latency: ("300ms", "500ms"))])),
    topics: [(name: "t", partitions: 1, replication_factor: 1, assignment: Some([[1]]))],
    producers: [
        (name: "p", config: { "acks": "all", "request.timeout.ms": 2000, "delivery.timeout.ms": 3000, "linger.ms": 0 }, workload: [Steady(topic: "t", rate_per_sec: 20, stop: Some("8s"))]),
    ],
    timeline: [(at: "1s", do: Crash(broker: 1))],
)"#;
    let mut sim = simulate_text(text, "expiry-of-refused-batches.ron");
    run_to(&mut sim, 12.0);
    let report = Report::build(&sim, false);
    let p = producer(&report, "p");
    assert_eq!(p.pending, 0, "every record was acked or failed by 8 s + delivery.timeout.ms: {p:?}");
    assert_eq!(p.acked + p.failed, 160);
    assert!(p.errors.get("DELIVERY_TIMEOUT").is_some_and(|&n| n > 0));
    // On time, too: `RecordAccumulator.expiredBatches` runs whenever the sender wakes, which is by the earliest
    // queued batch's deadline, whether or not its broker is ready.
    let late = failed_late(&sim, 3_000_000);
    assert!(
        late.is_empty(),
        "{} records failed after delivery.timeout.ms: {:?}",
        late.len(),
        &late[..late.len().min(3)]
    );
    // Fenced at 9 s, B1 drops out of the metadata's broker list, and `leastLoadedNode` stops picking it.
    run_to(&mut sim, 60.0);
    let asked_b1 =
        sim.trace.events().iter().filter(|e| e.time > 10_000_000).any(
            |e| matches!(e.kind, TraceKind::Refused { to, message: MessageKind::MetadataRequest, .. } if to.0 == 1),
        );
    assert!(!asked_b1, "a metadata request went to the fenced, dead B1");
}

/// The packed producer id holds epochs up to 4095. An outage on thousands of partitions bumps the epoch once per
/// partition (Kafka would bump at most once per sender loop, which the model does for partitions asking at the same
/// instant), so the epoch runs out; the producer then takes a new producer id, as Kafka's
/// `bumpIdempotentProducerEpoch` does at `Short.MAX_VALUE`. Before, the epoch wrapped to 0 and a partition that
/// started over at sequence 0 could match a batch the broker still remembered and be answered as a duplicate.
#[test]
fn an_exhausted_producer_epoch_takes_a_new_producer_id() {
    let text = r#"Scenario(
    title: "idempotent epoch wraps after 4096 per-partition bumps",
    description: "3000 partitions lose their answers three times, so the idempotent producer bumps its epoch more than 4095 times.",
    seed: 3,
    duration: "20s",
    cluster: (brokers: 1),
    topics: [
        (name: "t", partitions: 3000, replication_factor: 1),
    ],
    producers: [
        (name: "p", config: { "acks": "all", "enable.idempotence": true, "request.timeout.ms": 1000, "delivery.timeout.ms": 2000, "linger.ms": 0 }, workload: [Steady(topic: "t", rate_per_sec: 30000, keys: Some(3000), stop: Some("14s"))]),
    ],
    timeline: [
        (at: "1s", do: Cut(from: "B1", to: "p")),
        (at: "4s", do: HealAll),
        (at: "5s", do: Cut(from: "B1", to: "p")),
        (at: "8s", do: HealAll),
        (at: "9s", do: Cut(from: "B1", to: "p")),
        (at: "12s", do: HealAll),
    ],
)"#;
    let mut sim = simulate_text(text, "epoch-wrap.ron");
    run_to(&mut sim, 20.0);
    let bumps: Vec<u32> = sim
        .trace
        .events()
        .iter()
        .filter_map(|e| match e.kind {
            TraceKind::ProducerEpochBumped { producer_epoch, .. } => Some(producer_epoch),
            _ => None,
        })
        .collect();
    assert!(bumps.len() > 4096, "{} bumps", bumps.len());
    assert_eq!(bumps.iter().max(), Some(&4095));
    assert!(sim.verdict().acked_lost.is_empty() && sim.verdict().duplicates.is_empty());
}

/// KIP-144: after the leader B1 dies, the producer retries the connection after `reconnect.backoff.ms` (50 ms),
/// doubling per refusal up to `reconnect.backoff.max.ms` (1 s, 20% jitter), until the controller fences B1 (at 11 s)
/// and names a new leader. Each try is a new connection's ApiVersions request, which the dead B1 refuses; no
/// produce request goes to it after the crash.
#[test]
fn reconnects_to_a_dead_leader_back_off_exponentially() {
    let text = r#"Scenario(
    title: "reconnect backoff",
    description: "B1, the leader, crashes at 2s; the controller fences it only at 11s.",
    seed: 2,
    duration: "15s",
    cluster: (brokers: 3),
    topics: [(name: "t", partitions: 1, replication_factor: 3, assignment: Some([[1, 2, 3]]))],
    producers: [(name: "p", config: { "acks": "all" }, workload: [Steady(topic: "t", rate_per_sec: 100, stop: Some("14s"))])],
    timeline: [(at: "2s", do: Crash(broker: 1))],
)"#;
    let mut sim = simulate_text(text, "reconnect-backoff.ron");
    run_to(&mut sim, 15.0);
    let tries: Vec<u64> = sim
        .trace
        .events()
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::Refused { message: MessageKind::ApiVersions, .. }))
        .map(|e| e.time)
        .collect();
    let refused_produces = sim
        .trace
        .events()
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::Refused { message: MessageKind::Produce, .. }));
    assert_eq!(refused_produces.count(), 0, "produce requests only go out on a ready connection");
    let mut gaps: Vec<u64> = tries.windows(2).map(|w| w[1] - w[0]).filter(|&g| g > 10_000).collect();
    assert!(gaps.len() >= 8, "{gaps:?}");
    assert!(gaps.iter().take(3).all(|&g| g < 600_000), "the first tries come quickly: {gaps:?}");
    gaps.drain(..5);
    assert!(gaps.iter().all(|&g| (800_000..1_300_000).contains(&g)), "then about once a second: {gaps:?}");
    let report = Report::build(&sim, false);
    // Only the requests in flight when B1 died fail (NETWORK_EXCEPTION); the refused connections are no tries.
    let errors = &producer(&report, "p").errors;
    assert!(errors.keys().all(|e| e == "NETWORK_EXCEPTION"), "{errors:?}");
    assert!(errors.get("NETWORK_EXCEPTION").is_some_and(|&n| n <= 5), "{errors:?}");
}

/// `NetworkClient.ready`: after the leader B1 crashes, every new connection to it is refused, so no request goes to
/// it, and acks=0 batches wait in the accumulator for the new leader instead of being written to a dead socket and
/// counted as sent. Before connections were set up with an ApiVersions exchange, the producer sent a request after
/// each reconnect backoff and counted it done: 928 of these 3000 records were "acked" and lost.
#[test]
fn acks_0_sends_nothing_to_a_dead_leader() {
    let text = r#"Scenario(
    title: "acks=0 while the leader is dead",
    description: "B1, the leader, crashes at 2s; the controller fences it about 9s later and elects B2.",
    seed: 1,
    duration: "40s",
    cluster: (brokers: 3),
    topics: [(name: "t", partitions: 1, replication_factor: 3, assignment: Some([[1, 2, 3]]))],
    producers: [(name: "p0", config: { "acks": 0 }, workload: [Steady(topic: "t", rate_per_sec: 100, stop: Some("30s"))])],
    timeline: [(at: "2s", do: Crash(broker: 1))],
)"#;
    let mut sim = simulate_text(text, "acks0-dead-leader.ron");
    run_to(&mut sim, 40.0);
    let report = Report::build(&sim, false);
    let p0 = producer(&report, "p0");
    assert_eq!((p0.sent, p0.acked, p0.pending), (3000, 3000, 0));
    assert_eq!(sim.verdict().acked_lost.len(), 0, "records sent before the crash were replicated; later ones waited");
    assert_eq!(partition_state(&sim, "t", 0).0, Some(2));
    let events = sim.trace.events();
    let crash = 2_000_000;
    let produces_to_b1 = events.iter().filter(|e| {
        e.time > crash && matches!(e.kind, TraceKind::Refused { to, message: MessageKind::Produce, .. } if to.0 == 1)
    });
    assert_eq!(produces_to_b1.count(), 0);
    let connects_refused = events
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::Refused { to, message: MessageKind::ApiVersions, .. } if to.0 == 1));
    assert!(connects_refused.count() >= 5, "the producer kept trying to connect to B1");
}

/// A new connection over a cut link gets no answer: its first packet is sent again after 1, 2, 4 and 8 s (TCP's SYN
/// retransmission), and the attempt is given up after `socket.connection.setup.timeout.ms` (10 s, doubled per failure
/// in a row, 20% jitter; KIP-601). Then a new attempt starts after the reconnect backoff, and after the heal the
/// producer connects and delivers everything.
#[test]
fn a_connection_over_a_cut_link_retransmits_and_times_out() {
    let text = r#"Scenario(
    title: "connect over a cut link",
    description: "The producer is cut off from the leader B1 (both ways) from 2s to 50s.",
    seed: 1,
    duration: "60s",
    cluster: (brokers: 3),
    topics: [(name: "t", partitions: 1, replication_factor: 3, assignment: Some([[1, 2, 3]]))],
    producers: [(name: "p", config: { "acks": "all", "request.timeout.ms": 2000 }, workload: [Steady(topic: "t", rate_per_sec: 10, stop: Some("55s"))])],
    timeline: [(at: "2s", do: Cut(from: "p", to: "B1", both_ways: true)), (at: "50s", do: HealAll)],
)"#;
    let mut sim = simulate_text(text, "connect-over-a-cut-link.ron");
    run_to(&mut sim, 60.0);
    let events = sim.trace.events();
    let probes: Vec<u64> = events
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::Dropped { message: MessageKind::ApiVersions, .. }))
        .map(|e| e.time)
        .collect();
    assert!(probes.len() >= 6, "{probes:?}");
    let first = probes[0];
    assert!((4_000_000..4_500_000).contains(&first), "the request timed out at 4 s, then the connection: {first}");
    let gaps: Vec<u64> = probes.windows(2).take(4).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps, vec![1_000_000, 2_000_000, 4_000_000, 8_000_000], "SYN retransmissions");
    // The fifth probe is the next connection, after a 20 s setup timeout (one failure before) and the backoff.
    let next_attempt = probes[5] - first;
    assert!((16_000_000..24_500_000).contains(&next_attempt), "{next_attempt}");
    let connected_again = events
        .iter()
        .find(|e| e.time > 4_000_000 && matches!(e.kind, TraceKind::ProducerConnected { .. }))
        .map(|e| e.time)
        .expect("connected after the heal");
    assert!((50_000_000..58_000_000).contains(&connected_again), "{connected_again}");
    let report = Report::build(&sim, false);
    let p = producer(&report, "p");
    assert_eq!((p.sent, p.acked, p.pending), (550, 550, 0));
}

/// One acks=all record sent at 1 s while both followers of its partition are frozen (paused from 0.5 s to 18 s, with
/// session and lag timeouts long enough that nobody is fenced or dropped from the ISR): the leader cannot advance its
/// high watermark, so the record waits. `timeouts` are producer configs; `producer_pause` pauses p from/to.
fn one_record_while_followers_freeze(
    timeouts: &str,
    producer_pause: Option<(&str, &str)>,
    seconds: u32,
) -> kafkascope_sim::Simulation {
    let (pause, resume) = match producer_pause {
        Some((from, to)) => {
            (format!(r#"(at: "{from}", do: Pause(node: "p")),"#), format!(r#"(at: "{to}", do: Resume(node: "p")),"#))
        }
        None => (String::new(), String::new()),
    };
    let text = format!(
        r#"Scenario(
    title: "one record while the followers freeze",
    seed: 5,
    duration: "{seconds}s",
    cluster: (brokers: 3, config: {{ "replica.lag.time.max.ms": 60000, "broker.session.timeout.ms": 60000 }}),
    topics: [(name: "t", partitions: 1, replication_factor: 3, assignment: Some([[1, 2, 3]]), config: {{ "min.insync.replicas": 2 }})],
    producers: [(name: "p", config: {{ "acks": "all", "linger.ms": 0, {timeouts} }})],
    timeline: [
        (at: "500ms", do: Pause(node: "B2")),
        (at: "500ms", do: Pause(node: "B3")),
        (at: "1s", do: Produce(producer: "p", topic: "t", records: [(key: Some("k"), value: "v")])),
        {pause}
        (at: "18s", do: Resume(node: "B2")),
        (at: "18s", do: Resume(node: "B3")),
        {resume}
    ],
)"#
    );
    let mut sim = simulate_text(&text, "followers-freeze.ron");
    run_to(&mut sim, seconds as f64);
    sim
}

/// `delivery.timeout.ms` bounds the time to report success or failure after `send()`, also for a batch whose retry is
/// in flight (`Sender.getExpiredInflightBatches`): the callback gets DELIVERY_TIMEOUT at creation + 15 s, and the
/// answer that comes later does not call it again. The followers are frozen, so the leader cannot advance its high
/// watermark: attempt 1 times out on the client at 11 s, attempt 2 goes out at about 11.1 s and is still waiting at
/// 16 s. Before, the record was reported acked at 18.0 s, 17 s after `send()`. The record does land: a timeout is
/// not proof that nothing was written.
#[test]
fn a_batch_in_flight_expires_at_delivery_timeout() {
    let sim =
        one_record_while_followers_freeze(r#""request.timeout.ms": 10000, "delivery.timeout.ms": 15000"#, None, 30);
    let report = Report::build(&sim, false);
    let p = producer(&report, "p");
    assert_eq!((p.sent, p.acked, p.failed), (1, 0, 1), "{p:?}");
    assert_eq!(p.errors.get("DELIVERY_TIMEOUT"), Some(&1));
    let events = sim.trace.events();
    let failed: Vec<u64> =
        events.iter().filter(|e| matches!(e.kind, TraceKind::ProduceFailed { .. })).map(|e| e.time).collect();
    assert_eq!(failed, vec![16_000_000], "failed at creation (1 s) + delivery.timeout.ms (15 s)");
    let second_attempt_sent = events
        .iter()
        .find(|e| matches!(e.kind, TraceKind::BatchSent { attempt: 2, .. }))
        .map(|e| e.time)
        .expect("the batch was retried");
    assert!(
        second_attempt_sent + 10_000_000 > 16_000_000,
        "the retry's request.timeout.ms would run out later, at {second_attempt_sent} + 10 s"
    );
    assert!(!events.iter().any(|e| matches!(e.kind, TraceKind::ProduceAcked { .. })));
    // The record is in the log and committed all the same.
    for broker in 1..=3 {
        assert_eq!(offsets(&sim, "t", 0, broker), (1, 1), "B{broker}");
    }
}

/// Records failed later than `delivery.timeout.ms` after they were created (the accumulator's front-only check can
/// make a failure late only behind a retried newer batch, which this helper's callers avoid).
fn failed_late(sim: &kafkascope_sim::Simulation, delivery_timeout_us: u64) -> Vec<String> {
    sim.history
        .statuses()
        .filter_map(|(id, info, status)| match status {
            RecordStatus::Failed { at, .. } if at > info.created_at + delivery_timeout_us => {
                Some(format!("record {id:?} created at {} failed at {at}", info.created_at))
            }
            _ => None,
        })
        .collect()
}

/// Queued batches expire on time while their leader is frozen: the first request is stuck in flight (with
/// `max.in.flight.requests.per.connection=1` nothing else may go), then the connection is being set up again, and
/// all the while the batches behind it reach `delivery.timeout.ms` (`RecordAccumulator.expiredBatches` runs on every
/// wake-up of the sender, ready broker or not).
#[test]
fn queued_batches_expire_on_time_behind_a_stuck_request() {
    let text = r#"Scenario(
    title: "queued batches behind a stuck request",
    description: "The leader B1 is paused from 1s to 30s; the producer allows one request in flight.",
    seed: 11,
    duration: "40s",
    cluster: (brokers: 3, config: { "broker.session.timeout.ms": 60000 }),
    topics: [(name: "t", partitions: 1, replication_factor: 3, assignment: Some([[1, 2, 3]]))],
    producers: [
        (name: "p", config: { "acks": "all", "enable.idempotence": false, "max.in.flight.requests.per.connection": 1, "request.timeout.ms": 5000, "delivery.timeout.ms": 7000 }, workload: [Steady(topic: "t", rate_per_sec: 20, stop: Some("20s"))]),
    ],
    timeline: [(at: "1s", do: Pause(node: "B1")), (at: "30s", do: Resume(node: "B1"))],
)"#;
    let mut sim = simulate_text(text, "queued-behind-stuck-request.ron");
    run_to(&mut sim, 40.0);
    let report = Report::build(&sim, false);
    let p = producer(&report, "p");
    assert_eq!(p.acked + p.failed, 400, "{p:?}");
    assert!(p.failed > 300 && p.errors.contains_key("DELIVERY_TIMEOUT"), "{p:?}");
    let late = failed_late(&sim, 7_000_000);
    assert!(
        late.is_empty(),
        "{} records failed after delivery.timeout.ms: {:?}",
        late.len(),
        &late[..late.len().min(3)]
    );
}

/// `Sender.sendProducerData` runs again at once while a node has sendable data (its poll timeout is 0), so a backlog
/// goes out in back-to-back requests up to `max.in.flight.requests.per.connection`, not one request per answer. The
/// link to the leader is cut from 1 s to 4 s; once the new connection is ready, five requests leave at that instant.
/// (Before, one did, and each answer let out the next.)
#[test]
fn a_backlog_goes_out_in_back_to_back_requests() {
    let text = r#"Scenario(
    title: "a backlog goes out back to back",
    description: "The link between p and the leader B1 is cut from 1s to 4s; records pile up meanwhile.",
    seed: 3,
    duration: "30s",
    cluster: (brokers: 3),
    topics: [(name: "t", partitions: 1, replication_factor: 3, assignment: Some([[1, 2, 3]]))],
    producers: [
        (name: "p", config: { "acks": 1, "enable.idempotence": false, "linger.ms": 0, "batch.size": 200, "max.in.flight.requests.per.connection": 5, "request.timeout.ms": 2000, "delivery.timeout.ms": 20000 }, workload: [Steady(topic: "t", rate_per_sec: 200, stop: Some("2s"))]),
    ],
    timeline: [(at: "1s", do: Cut(from: "p", to: "B1", both_ways: true)), (at: "4s", do: HealAll)],
)"#;
    let mut sim = simulate_text(text, "backlog-back-to-back.ron");
    run_to(&mut sim, 30.0);
    let events = sim.trace.events();
    let connected = events
        .iter()
        .find(|e| e.time > 4_000_000 && matches!(e.kind, TraceKind::ProducerConnected { .. }))
        .map(|e| e.time)
        .expect("the producer connects after the heal");
    let sent_at_once =
        events.iter().filter(|e| e.time == connected && matches!(e.kind, TraceKind::BatchSent { .. })).count();
    assert_eq!(sent_at_once, 5, "max.in.flight.requests.per.connection requests leave together");
    let report = Report::build(&sim, false);
    let p = producer(&report, "p");
    assert_eq!((p.sent, p.acked), (400, 400), "{p:?}");
}

/// A batch's size counts the 61-byte record batch header (`DefaultRecordBatch.RECORD_BATCH_OVERHEAD`) besides its
/// records (key + value + 14 bytes each): ten 25-byte records make two batches of five under `batch.size` 186
/// (61 + 5 × 25), and batches of four under 185.
#[test]
fn batch_size_counts_the_batch_header() {
    let batches = |batch_size: u32| -> Vec<u32> {
        let text = format!(
            r#"Scenario(
    title: "batch header",
    seed: 1,
    duration: "5s",
    cluster: (brokers: 1),
    topics: [(name: "t", partitions: 1, replication_factor: 1)],
    producers: [(name: "p", config: {{ "acks": 1, "linger.ms": 1000, "batch.size": {batch_size} }})],
    timeline: [(at: "1s", do: Produce(producer: "p", topic: "t", records: [
        (key: Some("k"), value: "vvvvvvvvv0"), (key: Some("k"), value: "vvvvvvvvv1"), (key: Some("k"), value: "vvvvvvvvv2"),
        (key: Some("k"), value: "vvvvvvvvv3"), (key: Some("k"), value: "vvvvvvvvv4"), (key: Some("k"), value: "vvvvvvvvv5"),
        (key: Some("k"), value: "vvvvvvvvv6"), (key: Some("k"), value: "vvvvvvvvv7"), (key: Some("k"), value: "vvvvvvvvv8"),
        (key: Some("k"), value: "vvvvvvvvv9"),
    ]))],
)"#
        );
        let mut sim = simulate_text(&text, "batch-header.ron");
        run_to(&mut sim, 5.0);
        sim.trace
            .events()
            .iter()
            .filter_map(|e| match e.kind {
                TraceKind::BatchSent { records, .. } => Some(records),
                _ => None,
            })
            .collect()
    };
    assert_eq!(batches(186), vec![5, 5]);
    assert_eq!(batches(185), vec![4, 4, 2]);
}

/// A paused producer (a long GC pause) handles, when it resumes, what arrived meanwhile. `Sender.runOnce` expires
/// batches before `client.poll` hands it answers, so an answer that came in before the batch's deadline but is handled
/// after it finds the batch already failed with DELIVERY_TIMEOUT: no ack later than `delivery.timeout.ms` (the run's
/// invariant checks would stop it). The followers are frozen until 18 s, so the ack comes while p is paused (2 s to
/// 32 s), and the batch's deadline (1 s + 30.005 s) passes before p resumes.
#[test]
fn a_paused_producer_expires_before_it_reads_answers() {
    let sim = one_record_while_followers_freeze(
        r#""request.timeout.ms": 30000, "delivery.timeout.ms": 30005"#,
        Some(("2s", "32s")),
        40,
    );
    let report = Report::build(&sim, false);
    let p = producer(&report, "p");
    assert_eq!((p.sent, p.acked, p.failed), (1, 0, 1), "{p:?}");
    assert_eq!(p.errors.get("DELIVERY_TIMEOUT"), Some(&1));
}

/// `Sender.failBatch(batch, ..., adjustSequenceNumbers = batch.attempts() < retries)`: a batch of the idempotent
/// producer that fails for good with retries left (or with OUT_OF_ORDER_SEQUENCE_NUMBER) bumps the epoch; one that
/// used all its `retries` up on NOT_ENOUGH_REPLICAS does not, and the gap it leaves is found later.
#[test]
fn a_batch_that_used_up_its_retries_does_not_bump_the_epoch() {
    let text = r#"Scenario(
    title: "finite retries",
    seed: 4,
    duration: "60s",
    cluster: (brokers: 3),
    topics: [(name: "t", partitions: 1, replication_factor: 3, config: { "min.insync.replicas": 2 }, assignment: Some([[1, 2, 3]]))],
    producers: [(name: "p", config: { "acks": "all", "enable.idempotence": true, "retries": 3, "delivery.timeout.ms": 10000,
                                      "request.timeout.ms": 3000, "linger.ms": 5 },
                 workload: [Steady(topic: "t", rate_per_sec: 20, stop: Some("40s"))])],
    timeline: [(at: "5s", do: Crash(broker: 2)), (at: "5s", do: Crash(broker: 3)),
               (at: "20s", do: Restart(broker: 2)), (at: "20s", do: Restart(broker: 3))],
)"#;
    let mut sim = simulate_text(text, "finite-retries.ron");
    run_to(&mut sim, 60.0);
    let failed_with = |error: KafkaError| {
        event_times(&sim, |k| matches!(k, TraceKind::ProduceFailed { error: e, .. } if *e == error))
    };
    let bumps = event_times(&sim, |k| matches!(k, TraceKind::ProducerEpochBumped { .. }));
    let not_enough = failed_with(KafkaError::NotEnoughReplicas);
    assert!(not_enough.len() >= 5, "batches used their retries up while the ISR was [1]: {not_enough:?}");
    assert!(not_enough.iter().all(|t| !bumps.contains(t)), "no bump for them: {bumps:?} against {not_enough:?}");
    // The gap they leave shows once the ISR is back: the next batch is refused as out of order and, its retries
    // used up too, fails for good, which bumps the epoch.
    let out_of_order = failed_with(KafkaError::OutOfOrderSequenceNumber);
    assert!(!out_of_order.is_empty() && out_of_order.iter().all(|t| bumps.contains(t)));
    let verdict = sim.verdict();
    assert!(verdict.duplicates.is_empty() && verdict.acked_lost.is_empty() && verdict.reordered.is_empty());
    let acked_late = sim
        .history
        .statuses()
        .filter(|(_, info, status)| info.created_at > 25_000_000 && matches!(status, RecordStatus::Acked { .. }))
        .count();
    assert!(acked_late > 250, "the producer writes again after the bump: {acked_late}");
}
