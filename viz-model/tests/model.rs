//! Tests of the visualizer's model without Bevy: seeking re-simulates exactly, interventions replay and fork,
//! the horizon's hash equals a plain run's, links round-trip, the view and inspectors report the simulation's state.

use kafkascope_sim::ids::{BrokerId, RecordId};
use kafkascope_sim::net::NodeStatus;
use kafkascope_sim::scenario::{Lang, Scenario};
use kafkascope_sim::sim::{Command, RunOptions, Simulation};
use kafkascope_sim::time::US_PER_SEC;
use kafkascope_viz_model::action::{BrokerAction, ConsumerAction, Intervene};
use kafkascope_viz_model::catalog;
use kafkascope_viz_model::chart::{chart, Chart, LineKind, Subject};
use kafkascope_viz_model::record::{record_path, RecordFate};
use kafkascope_viz_model::run::{RunSetup, SimRun};
use kafkascope_viz_model::url::LinkState;
use kafkascope_viz_model::view::{ClusterView, Filter};
use std::collections::BTreeSet;

fn setup(name: &str, overrides: &[&str]) -> RunSetup {
    let source = catalog::embedded(name).unwrap_or_else(|| panic!("{name} is embedded")).to_string();
    let seed = Scenario::parse(&source, name).expect("valid").seed;
    RunSetup { name: name.into(), source, seed, overrides: overrides.iter().map(|s| s.to_string()).collect() }
}

fn run(name: &str) -> SimRun {
    SimRun::with_options(setup(name, &[]), true).expect("loads")
}

/// The state that matters for "same run": every event so far hashed, and the clock.
fn fingerprint(run: &SimRun) -> (String, u64, u64) {
    (run.sim().trace.hash_hex(), run.sim().events(), run.now())
}

#[test]
fn every_scenario_is_embedded_and_the_default_exists() {
    let names: Vec<_> = catalog::names().collect();
    assert!(names.len() >= 35, "{names:?}");
    assert!(names.contains(&catalog::DEFAULT_SCENARIO));
    assert!(catalog::embedded("scenarios/core/zombie-leader.ron").is_some());
}

#[test]
fn seeking_back_and_forth_shows_exactly_what_a_straight_run_shows() {
    let mut straight = run("core/acks1-leader-crash-loses-acked");
    straight.seek(17 * US_PER_SEC).unwrap();
    let mut scrubbed = run("core/acks1-leader-crash-loses-acked");
    scrubbed.seek(25 * US_PER_SEC).unwrap();
    scrubbed.finish_horizon();
    assert!(scrubbed.checkpoint_count() > 2, "checkpoints are taken along the way");
    scrubbed.seek(3 * US_PER_SEC).unwrap();
    assert_eq!(scrubbed.now(), 3 * US_PER_SEC);
    scrubbed.seek(17 * US_PER_SEC).unwrap();
    assert_eq!(fingerprint(&scrubbed), fingerprint(&straight));
}

#[test]
fn step_back_returns_to_the_previous_event() {
    let mut r = run("core/zombie-leader");
    r.seek(2 * US_PER_SEC).unwrap();
    for _ in 0..5 {
        r.step_event().unwrap();
    }
    let before = fingerprint(&r);
    r.step_event().unwrap();
    assert_eq!(r.sim().events(), before.1 + 1);
    r.step_back().unwrap();
    assert_eq!(r.sim().events(), before.1);
    assert_eq!(r.sim().trace.hash_hex(), before.0);
}

#[test]
fn the_horizon_hash_equals_a_plain_run_of_the_same_scenario_and_seed() {
    for name in ["curriculum/01-pubsub-vs-queue", "core/zombie-leader", "producer/batching-linger"] {
        let mut r = SimRun::new(setup(name, &[])).unwrap();
        let outcome = r.finish_horizon().clone();
        let scenario = Scenario::parse(catalog::embedded(name).unwrap(), name).unwrap();
        let mut plain = Simulation::new(scenario, RunOptions::default());
        plain.run().unwrap();
        assert_eq!(outcome.trace_hash, plain.trace.hash_hex(), "{name}");
        assert_eq!(outcome.events, plain.events(), "{name}");
    }
}

#[test]
fn an_intervention_replays_exactly_after_scrubbing_back() {
    let mut r = run("core/acks-all-min-isr-no-loss");
    r.seek(4 * US_PER_SEC).unwrap();
    let leader = r.sim().leader_of(kafkascope_sim::ids::PartitionIdx(0)).expect("a leader");
    r.act(Intervene::Broker { broker: leader, action: BrokerAction::HardCrash }.to_command()).unwrap();
    r.seek(12 * US_PER_SEC).unwrap();
    let after = fingerprint(&r);
    r.seek(US_PER_SEC).unwrap();
    assert_eq!(r.sim().net.status(leader.node()), NodeStatus::Up, "before the click the broker is up");
    r.seek(12 * US_PER_SEC).unwrap();
    assert_eq!(fingerprint(&r), after, "the click is replayed at the same point");
    assert_eq!(r.sim().net.status(leader.node()), NodeStatus::Crashed);
}

#[test]
fn acting_in_the_past_forks_the_timeline() {
    let mut r = run("core/acks-all-min-isr-no-loss");
    r.seek(3 * US_PER_SEC).unwrap();
    r.act(Command::Crash { broker: BrokerId(3), lose_unflushed: false }).unwrap();
    r.seek(10 * US_PER_SEC).unwrap();
    r.seek(2 * US_PER_SEC).unwrap();
    assert!(r.is_in_past());
    r.act(Command::Crash { broker: BrokerId(2), lose_unflushed: false }).unwrap();
    assert_eq!(r.interventions().len(), 1, "the old future (crash of B3) is discarded");
    r.seek(10 * US_PER_SEC).unwrap();
    assert_eq!(r.sim().net.status(BrokerId(3).node()), NodeStatus::Up);
    assert_eq!(r.sim().net.status(BrokerId(2).node()), NodeStatus::Crashed);
    // The same story from scratch gives the same state.
    let mut again = run("core/acks-all-min-isr-no-loss");
    again.seek(2 * US_PER_SEC).unwrap();
    again.act(Command::Crash { broker: BrokerId(2), lose_unflushed: false }).unwrap();
    again.seek(10 * US_PER_SEC).unwrap();
    assert_eq!(fingerprint(&again), fingerprint(&r));
}

#[test]
fn links_round_trip_and_reproduce_the_run() {
    let mut r = run("core/zombie-leader");
    r.seek(5 * US_PER_SEC).unwrap();
    r.act(Command::Pause { node: BrokerId(3).node() }).unwrap();
    r.seek(9 * US_PER_SEC).unwrap();
    let link = LinkState {
        scenario: Some("core/zombie-leader".into()),
        seed: Some(r.setup.seed),
        time: Some(r.now()),
        set: vec!["acks=1".into()],
        compare: vec!["acks=all".into()],
        lang: Some(Lang::Ko),
        interventions: r.interventions().to_vec(),
    };
    let query = link.to_query();
    assert!(query.starts_with("?scenario=core/zombie-leader&seed="), "{query}");
    let parsed = LinkState::parse(&query).unwrap();
    assert_eq!(parsed, link);
    assert!(LinkState::parse("?seed=x").unwrap_err().contains("seed=x"));
    assert!(LinkState::parse("?t=3parsecs").is_err());
    // Replaying the link's interventions reaches the same state.
    let mut replay = run("core/zombie-leader");
    replay.replay_interventions(parsed.interventions.clone()).unwrap();
    replay.seek(parsed.time.unwrap()).unwrap();
    assert_eq!(fingerprint(&replay), fingerprint(&r));
    // A link whose click cannot happen in this run says so.
    let mut stray = parsed.interventions.clone();
    stray[0].events = 1;
    assert!(run("core/zombie-leader").replay_interventions(stray).unwrap_err().contains("does not fit"));
}

#[test]
fn overrides_change_the_run_and_bad_ones_say_why() {
    let ok = SimRun::new(setup("core/acks1-leader-crash-loses-acked", &["acks=all", "replication.factor=2"])).unwrap();
    assert!(ok.sim().topo.partitions.iter().all(|p| p.replicas.len() == 2));
    let bad = SimRun::new(setup("core/zombie-leader", &["acks.mode=all"])).err().expect("refused");
    assert!(bad.contains("acks.mode"), "{bad}");
    let too_many = SimRun::new(setup("core/zombie-leader", &["replication.factor=9"])).err().expect("refused");
    assert!(too_many.contains("replication_factor"), "{too_many}");
}

#[test]
fn the_view_shows_a_crashed_leader_down_and_the_new_leader() {
    let mut r = run("core/acks-all-min-isr-no-loss");
    r.seek(4 * US_PER_SEC).unwrap();
    let view = ClusterView::build(r.sim(), &Filter::default(), &BTreeSet::new());
    let p = &view.partitions[0];
    let old = p.leader.expect("a leader");
    assert!(p.isr.contains(&old));
    let leader_row = view.broker(old).unwrap().replicas.iter().find(|x| x.partition == p.idx).unwrap();
    assert!(leader_row.is_leader && leader_row.in_isr && leader_row.high_watermark <= leader_row.log_end_offset);
    r.act(Intervene::Broker { broker: old, action: BrokerAction::HardCrash }.to_command()).unwrap();
    r.seek(15 * US_PER_SEC).unwrap();
    let view = ClusterView::build(r.sim(), &Filter::default(), &BTreeSet::new());
    assert!(view.broker(old).unwrap().is_down());
    assert_eq!(view.down_brokers(), vec![old]);
    let p = view.partition_by_name(&p.name).unwrap();
    assert!(p.leader.is_some() && p.leader != Some(old), "a new leader is marked: {p:?}");
    assert!(p.under_replicated);
}

#[test]
fn the_zombie_leader_is_flagged() {
    let mut r = run("core/zombie-leader");
    r.seek(r.duration()).unwrap();
    let view = ClusterView::build(r.sim(), &Filter::default(), &BTreeSet::new());
    let zombies: Vec<_> = view.brokers.iter().flat_map(|b| &b.replicas).filter(|x| x.is_zombie_leader()).collect();
    let text = kafkascope_viz_model::inspect::describe_replica(r.sim(), BrokerId(1), view.partitions[0].idx, Lang::En);
    assert!(text.is_some());
    // The scenario isolates the leader; until it is fenced and learns of the new epoch it acts as a zombie.
    let mut seen_zombie = !zombies.is_empty();
    let mut probe = run("core/zombie-leader");
    for second in 1..=r.duration() / US_PER_SEC {
        probe.seek(second * US_PER_SEC).unwrap();
        let v = ClusterView::build(probe.sim(), &Filter::default(), &BTreeSet::new());
        seen_zombie |= v.brokers.iter().flat_map(|b| &b.replicas).any(|x| x.is_zombie_leader());
    }
    assert!(seen_zombie, "the zombie-leader scenario shows a zombie leader at some second");
}

#[test]
fn a_lost_record_has_a_path_ending_in_its_loss() {
    let mut r = run("core/acks1-leader-crash-loses-acked");
    r.seek(r.duration()).unwrap();
    let verdict = r.sim().verdict();
    let lost = *verdict.acked_lost.first().expect("this scenario loses acked records");
    let path = record_path(&r, lost, &verdict).unwrap();
    assert_eq!(path.fate, RecordFate::Lost);
    let text: Vec<_> = path.steps.iter().map(|s| s.text(Lang::En)).collect();
    assert!(text.iter().any(|s| s.starts_with("appended by leader")), "{text:#?}");
    assert!(text.iter().any(|s| s.starts_with("acked to")), "{text:#?}");
    assert!(text.iter().any(|s| s.starts_with("truncated away")), "{text:#?}");
    assert!(path.steps.windows(2).all(|w| w[0].time <= w[1].time), "{:#?}", path.steps);
    // The same path in Korean: every step in Korean words, with Kafka's names (offsets, brokers) as they are.
    let korean: Vec<_> = path.steps.iter().map(|s| s.text(Lang::Ko)).collect();
    let hangul = |s: &str| s.chars().any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c));
    assert!(korean.iter().all(|s| hangul(s)), "{korean:#?}");
    assert!(korean.iter().any(|s| s.starts_with("리더 B1이 offset")), "{korean:#?}");
    assert!(korean.iter().any(|s| s.contains("에서 잘려 나감")), "{korean:#?}");
    assert!(path.fate_text(Lang::Ko).starts_with("유실"), "{}", path.fate_text(Lang::Ko));
    // A record that survived says where it is.
    let survivor = (0..r.sim().history.records.len() as u32)
        .map(RecordId)
        .find(|id| !verdict.acked_lost.contains(id) && r.sim().history.get(*id).created_at < US_PER_SEC)
        .expect("an early record");
    let path = record_path(&r, survivor, &verdict).unwrap();
    assert!(matches!(path.fate, RecordFate::Survived { .. }), "{path:#?}");
    assert!(path.steps.iter().any(|s| s.text(Lang::En).starts_with("committed")), "{path:#?}");
    assert!(path.steps.iter().any(|s| s.text(Lang::Ko).starts_with("커밋됨")), "{path:#?}");
}

#[test]
fn a_failed_record_that_was_written_anyway_says_so() {
    // Lesson 08: orders-strict records 500-504 were appended before the ISR fell below min.insync.replicas, failed
    // with DELIVERY_TIMEOUT, and were committed once B2 and B3 came back.
    let mut r = run("curriculum/08-min-insync-replicas");
    r.seek(r.duration()).unwrap();
    let verdict = r.sim().verdict();
    assert_eq!(verdict.failed_written.len(), 5, "{:?}", verdict.failed_written);
    let path = record_path(&r, verdict.failed_written[0], &verdict).unwrap();
    assert_eq!(path.fate, RecordFate::Failed { error: "DELIVERY_TIMEOUT".into(), committed_at: Some(500) });
    assert!(
        path.fate_text(Lang::En).starts_with("failed, yet committed at offset 500"),
        "{}",
        path.fate_text(Lang::En)
    );
    assert!(path.fate_text(Lang::Ko).starts_with("실패했지만 오프셋 500에 커밋됨"), "{}", path.fate_text(Lang::Ko));
    // A failed record that never reached the log stays a plain failure.
    let failed_elsewhere = (0..r.sim().history.records.len() as u32)
        .map(RecordId)
        .find(|id| {
            matches!(r.sim().history.status(*id), kafkascope_sim::history::RecordStatus::Failed { .. })
                && !verdict.failed_written.contains(id)
        })
        .expect("most failed records were never written");
    let path = record_path(&r, failed_elsewhere, &verdict).unwrap();
    assert!(matches!(path.fate, RecordFate::Failed { committed_at: None, .. }), "{path:#?}");
}

#[test]
fn consumer_actions_map_to_their_commands() {
    assert_eq!(
        Intervene::Consumer { consumer: 1, action: ConsumerAction::Crash }.to_command(),
        Command::CrashConsumer { consumer: 1 }
    );
    assert_eq!(
        Intervene::Broker { broker: BrokerId(2), action: BrokerAction::PowerLoss }.to_command(),
        Command::Crash { broker: BrokerId(2), lose_unflushed: true }
    );
    assert_eq!(
        Intervene::Broker { broker: BrokerId(2), action: BrokerAction::ControlledShutdown }.to_command(),
        Command::ControlledShutdown { broker: BrokerId(2) }
    );
}

#[test]
fn the_horizon_marks_faults_elections_and_isr_changes_and_restarts_after_an_intervention() {
    let mut r = run("core/acks1-leader-crash-loses-acked");
    r.finish_horizon();
    let kinds: Vec<_> = r.markers().iter().map(|m| m.kind).collect();
    use kafkascope_viz_model::run::MarkerKind;
    assert!(kinds.contains(&MarkerKind::Fault) && kinds.contains(&MarkerKind::Election), "{kinds:?}");
    assert!(kinds.contains(&MarkerKind::Isr), "{kinds:?}");
    assert!(r.markers().windows(2).all(|w| w[0].time <= w[1].time));
    let before = r.markers().len();
    r.seek(2 * US_PER_SEC).unwrap();
    r.act(Command::Crash { broker: BrokerId(3), lose_unflushed: false }).unwrap();
    assert!(r.outcome().is_none(), "the old outcome belongs to the discarded future");
    r.finish_horizon();
    assert_ne!(r.markers().len(), before, "the new future has its own markers");
    assert!(r.markers().iter().any(|m| m.time == 2 * US_PER_SEC && m.kind == MarkerKind::Fault));
}

#[test]
fn the_inspector_shows_a_followers_fetch_session() {
    let mut r = run("core/hw-lags-one-fetch-round");
    r.seek(US_PER_SEC + US_PER_SEC / 5).unwrap();
    let view = ClusterView::build(r.sim(), &Filter::default(), &BTreeSet::new());
    let partition = view.partitions[0].idx;
    let text = kafkascope_viz_model::inspect::describe_replica(r.sim(), BrokerId(2), partition, Lang::En).unwrap();
    let line = text.iter().find(|l| l.starts_with("fetch session with B1")).unwrap_or_else(|| panic!("{text:#?}"));
    // B2 follows one partition of B1; after the full request and one round per record its epoch is past 0.
    assert!(line.contains("1 partition(s)") && line.contains("this partition is in it"), "{line}");
    assert!(!line.contains("epoch 0,"), "{line}");
    let ko = kafkascope_viz_model::inspect::describe_replica(r.sim(), BrokerId(2), partition, Lang::Ko).unwrap();
    assert!(ko.iter().any(|l| l.contains("fetch 세션")), "{ko:#?}");
    // The leader has no fetch session of its own for the partition it leads.
    let leader = kafkascope_viz_model::inspect::describe_replica(r.sim(), BrokerId(1), partition, Lang::En).unwrap();
    assert!(!leader.iter().any(|l| l.starts_with("fetch session")), "{leader:#?}");
}

/// The value a chart line holds at `time` (the last change at or before it).
fn value_at(line: &[(u64, u64)], time: u64) -> Option<u64> {
    line.iter().take_while(|(t, _)| *t <= time).last().map(|&(_, v)| v)
}

/// The points of one line of a chart.
fn line(chart: &Chart, kind: LineKind) -> &[(u64, u64)] {
    &chart.lines.iter().find(|l| l.kind == kind).unwrap_or_else(|| panic!("{kind:?} in {:?}", chart.subject)).points
}

#[test]
fn the_offsets_chart_shows_truncation_elections_and_hw_never_above_leo() {
    let mut r = run("core/acks1-leader-crash-loses-acked");
    r.seek(30 * US_PER_SEC).unwrap();
    let partition = kafkascope_sim::ids::PartitionIdx(0);
    let chart = chart(&r, Subject::Offsets(partition)).unwrap();
    assert_eq!((chart.from, chart.to), (0, 30 * US_PER_SEC));
    assert_eq!(chart.lines.len(), 6, "two lines for each of three replicas");
    // B1 led, crashed with records the others lacked, and truncated them when it came back as a follower.
    let b1 = line(&chart, LineKind::LogEndOffset(BrokerId(1)));
    let drop = b1.windows(2).find(|w| w[1].1 < w[0].1).expect("B1's log end offset falls once");
    assert_eq!((drop[0].1, drop[1].1), (600, 521), "{b1:?}");
    // The controller elected B2 in leader epoch 1 while B1 was down, before the truncation.
    let election = chart.marks.first().expect("an election in the window");
    assert_eq!((election.epoch, election.leader), (1, Some(BrokerId(2))));
    assert!(election.time < drop[1].0);
    // At every moment a line changes, no replica's high watermark is above its log end offset.
    for broker in [1, 2, 3].map(BrokerId) {
        let (hw, leo) = (line(&chart, LineKind::HighWatermark(broker)), line(&chart, LineKind::LogEndOffset(broker)));
        for &(time, _) in hw.iter().chain(leo) {
            let (hw, leo) = (value_at(hw, time), value_at(leo, time));
            assert!(hw <= leo, "{broker} at {time}: hw {hw:?} > leo {leo:?}");
        }
    }
}

#[test]
fn the_offsets_chart_shows_a_follower_learning_the_high_watermark_after_the_leader() {
    let mut r = run("core/hw-lags-one-fetch-round");
    r.seek(r.duration()).unwrap();
    let chart = chart(&r, Subject::Offsets(kafkascope_sim::ids::PartitionIdx(0))).unwrap();
    let leader = r.sim().controller.partitions[0].leader.expect("a leader");
    let first_time_at = |line: &[(u64, u64)], value: u64| line.iter().find(|(_, v)| *v >= value).map(|&(t, _)| t);
    let leader_hw = line(&chart, LineKind::HighWatermark(leader));
    let final_hw = leader_hw.last().expect("the leader has a high watermark").1;
    assert!(final_hw > 0);
    let leader_reached = first_time_at(leader_hw, final_hw).unwrap();
    for follower in r.sim().topo.partitions[0].replicas.iter().filter(|&&b| b != leader) {
        let reached =
            first_time_at(line(&chart, LineKind::HighWatermark(*follower)), final_hw).expect("the follower learns it");
        assert!(reached > leader_reached, "{follower}: {reached} after the leader's {leader_reached}");
    }
}

#[test]
fn the_lag_chart_grows_while_nobody_consumes_and_drains_after_the_rebalance() {
    // Lesson 04: worker-1 crashes at 8.5 s with the committed offset at 200; worker-2 gets the partition in
    // generation 2 at 15 s, and the lag of about 400 drains to 0.
    let mut r = run("curriculum/04-offsets-and-commits");
    r.seek(40 * US_PER_SEC).unwrap();
    let lag_chart = chart(&r, Subject::Lag { group: 0 }).unwrap();
    assert_eq!((lag_chart.from, lag_chart.to), (0, 40 * US_PER_SEC));
    let lag = line(&lag_chart, LineKind::Lag(kafkascope_sim::ids::PartitionIdx(0)));
    let at = |seconds: f64| value_at(lag, (seconds * US_PER_SEC as f64) as u64).expect("a lag by then");
    assert!(at(8.4) >= 100, "{}", at(8.4));
    assert!(at(14.5) >= 350 && at(14.5) > at(9.0), "the lag grows while nobody consumes: {}", at(14.5));
    assert_eq!(at(40.0), 0, "drained");
    let generation = lag_chart.marks.iter().find(|m| m.epoch == 2).expect("the rebalance to generation 2");
    assert!((14 * US_PER_SEC..16 * US_PER_SEC).contains(&generation.time), "at {}", generation.time);
    // A chart made at 30 s and then following the run to 40 s ends where the exact chart of 40 s ends.
    let mut early = run("curriculum/04-offsets-and-commits");
    early.seek(30 * US_PER_SEC).unwrap();
    let mut followed = chart(&early, Subject::Lag { group: 0 }).unwrap();
    followed.follow(r.sim());
    assert_eq!(followed.to, 40 * US_PER_SEC);
    assert_eq!(value_at(line(&followed, LineKind::Lag(kafkascope_sim::ids::PartitionIdx(0))), followed.to), Some(0));
}
