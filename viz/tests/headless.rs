//! Headless Bevy tests: the visualizer's core plugin in an `App` without a window or GPU, driven through the same
//! `UiAction` messages a click or a key sends, asserting on the view state the UI draws.

use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use kafkascope_sim::ids::{BrokerId, PartitionIdx};
use kafkascope_sim::time::US_PER_SEC;
use kafkascope_viz::{LaunchOptions, Playback, Runs, UiAction, Views, VizCorePlugin};
use kafkascope_viz_model::action::{BrokerAction, Intervene};
use kafkascope_viz_model::chart::{LineKind, Subject};

use kafkascope_viz_model::run::RunSetup;
use std::time::Duration;

fn app(launch: LaunchOptions) -> App {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(16)))
        .add_plugins(VizCorePlugin { launch });
    app.update();
    app
}

fn send(app: &mut App, action: UiAction) {
    app.world_mut().write_message(action);
    app.update();
}

fn views(app: &App) -> &Views {
    app.world().resource::<Views>()
}

#[test]
fn crashing_the_leader_by_click_shows_it_down_and_marks_a_new_leader() {
    let mut app = app(LaunchOptions::scenario("core/acks-all-min-isr-no-loss"));
    send(&mut app, UiAction::Seek(3 * US_PER_SEC));
    let partition = views(&app).a.partitions[0].clone();
    let old = partition.leader.expect("a leader at 3 s");
    assert!(!views(&app).a.broker(old).unwrap().is_down());
    // The broker menu's "Hard crash" sends exactly this.
    send(&mut app, UiAction::Intervene(Intervene::Broker { broker: old, action: BrokerAction::HardCrash }));
    assert!(views(&app).a.broker(old).unwrap().is_down(), "the crashed broker is shown down at once");
    send(&mut app, UiAction::Seek(15 * US_PER_SEC));
    let view = &views(&app).a;
    assert!(view.broker(old).unwrap().is_down());
    let now = view.partition_by_name(&partition.name).unwrap();
    assert!(now.leader.is_some() && now.leader != Some(old), "a new leader is marked: {now:?}");
    let leader_row =
        view.broker(now.leader.unwrap()).unwrap().replicas.iter().find(|r| r.partition == now.idx).unwrap();
    assert!(leader_row.is_leader);
}

fn press(app: &mut App, key: KeyCode) {
    app.world_mut().resource_mut::<ButtonInput<KeyCode>>().press(key);
    app.update();
    let mut keys = app.world_mut().resource_mut::<ButtonInput<KeyCode>>();
    keys.release(key);
    keys.clear();
    app.update();
}

#[test]
fn keys_c_and_r_crash_and_restart_the_selected_broker() {
    let mut app = app(LaunchOptions::scenario("core/zombie-leader"));
    app.init_resource::<ButtonInput<KeyCode>>()
        .add_systems(Update, kafkascope_viz::ui::keyboard_shortcuts.before(kafkascope_viz::VizCoreSet));
    send(&mut app, UiAction::Seek(2 * US_PER_SEC));
    press(&mut app, KeyCode::KeyC);
    assert!(views(&app).a.down_brokers().is_empty(), "no broker is selected: the key does nothing");
    send(&mut app, UiAction::SelectBroker(Some(BrokerId(3))));
    press(&mut app, KeyCode::KeyC);
    assert_eq!(views(&app).a.down_brokers(), vec![BrokerId(3)]);
    press(&mut app, KeyCode::Space);
    assert!(app.world().resource::<Playback>().playing, "space plays");
    press(&mut app, KeyCode::Space);
    press(&mut app, KeyCode::KeyR);
    send(&mut app, UiAction::Seek(4 * US_PER_SEC));
    assert!(views(&app).a.down_brokers().is_empty());
}

#[test]
fn playing_advances_time_and_scrubbing_back_re_simulates_the_same_state() {
    let mut app = app(LaunchOptions::scenario("core/slow-follower-isr-shrink"));
    send(&mut app, UiAction::SetSpeedExponent(2.0));
    send(&mut app, UiAction::SetPlaying(true));
    for _ in 0..30 {
        app.update();
    }
    let shown = app.world().resource::<Playback>().display_time;
    assert!(shown > US_PER_SEC, "30 frames of 16 ms at 100x move more than a second: {shown}");
    send(&mut app, UiAction::SetPlaying(false));
    let t = app.world().resource::<Playback>().display_time;
    let hash = app.world().resource::<Runs>().a.sim().trace.hash_hex();
    send(&mut app, UiAction::Seek(0));
    assert_eq!(app.world().resource::<Runs>().a.now(), 0);
    send(&mut app, UiAction::Seek(t));
    assert_eq!(app.world().resource::<Runs>().a.sim().trace.hash_hex(), hash);
}

#[test]
fn a_config_change_restarts_at_zero_with_the_same_seed_and_compare_mode_runs_both() {
    let mut app = app(LaunchOptions::scenario("core/acks1-leader-crash-loses-acked"));
    send(&mut app, UiAction::Seek(10 * US_PER_SEC));
    let setup = app.world().resource::<Runs>().a.setup.clone();
    let setup = RunSetup { overrides: vec!["acks=all".into()], ..setup };
    send(&mut app, UiAction::Load { setup: setup.clone(), compare: vec!["acks=1".into()] });
    let runs = app.world().resource::<Runs>();
    assert_eq!(runs.a.now(), 0);
    assert_eq!(runs.a.setup.seed, setup.seed);
    assert!(runs.b.is_some());
    send(&mut app, UiAction::Seek(40 * US_PER_SEC));
    let views = views(&app);
    assert!(views.verdict_a.acked_lost.is_empty(), "acks=all loses nothing acked");
    assert!(!views.verdict_b.as_ref().unwrap().acked_lost.is_empty(), "acks=1 in compare mode loses acked records");
}

#[test]
fn a_malformed_scenario_file_shows_the_cli_error_and_keeps_the_run() {
    let mut app = app(LaunchOptions::scenario("core/zombie-leader"));
    let bad = "Scenario(title: \"x\", duration: \"10s\", cluster: (brokers: 2), topics: [(name: \"t\", partitions: 1, replication_factor: 3)])";
    send(&mut app, UiAction::LoadFile { name: "mine.ron".into(), text: bad.into() });
    let runs = app.world().resource::<Runs>();
    let error = runs.error.as_deref().expect("an error is shown");
    assert!(error.contains("mine.ron:1:"), "file and line: {error}");
    assert!(error.contains("replication_factor"), "{error}");
    assert_eq!(runs.a.setup.name, "core/zombie-leader");
    let _ = PartitionIdx(0);
}

#[test]
fn a_lesson_stops_at_its_prediction_and_continues_after_the_reveal() {
    let mut app = app(LaunchOptions::scenario("curriculum/07-acks-0-1-all"));
    let first_question = app
        .world()
        .resource::<Runs>()
        .a
        .sim()
        .scenario
        .timeline
        .iter()
        .find(|s| matches!(s.action, Some(kafkascope_sim::scenario::Action::Predict { .. })))
        .map(|s| s.at.0)
        .expect("lesson 07 asks a question");
    send(&mut app, UiAction::SetSpeedExponent(2.0));
    send(&mut app, UiAction::SetPlaying(true));
    let mut frames = 0;
    while app.world().resource::<kafkascope_viz::Narration>().open.is_none() && frames < 5_000 {
        app.update();
        frames += 1;
    }
    assert!(frames < 5_000, "the question opens");
    // A slow machine may need a few more frames (each under its CPU budget) to reach the question's moment.
    for _ in 0..500 {
        if app.world().resource::<Playback>().display_time >= first_question {
            break;
        }
        app.update();
    }
    let playback = app.world().resource::<Playback>().clone();
    assert!(!playback.playing, "playback stops at the question");
    assert_eq!(playback.display_time, first_question, "exactly at the question's time");
    send(&mut app, UiAction::AnswerPrediction(Some(0)));
    let open = app.world().resource::<kafkascope_viz::Narration>().open;
    assert!(matches!(open, Some((_, Some(Some(0))))), "the answer is recorded: {open:?}");
    send(&mut app, UiAction::DismissPrediction);
    assert!(app.world().resource::<kafkascope_viz::Narration>().open.is_none());
    assert!(app.world().resource::<Playback>().playing, "continue plays on");
    for _ in 0..10 {
        app.update();
    }
    assert!(app.world().resource::<Playback>().display_time > first_question);
}

/// The simulation gets what the UI is expected to leave of the 4 ms frame budget, within its floor and ceiling, and
/// the expectation follows the costliest recent frame rather than the last one.
#[test]
fn the_simulation_gets_what_the_ui_leaves_of_the_frame_budget() {
    use kafkascope_viz::{FrameCost, FRAME_BUDGET_MS, MIN_SIM_BUDGET_PER_FRAME_MS, SIM_BUDGET_PER_FRAME_MS};
    let with_ui = |rebuild: &[f64], ui: &[f64]| FrameCost {
        advance_ms: Vec::new(),
        rebuild_ms: rebuild.to_vec(),
        ui_ms: ui.to_vec(),
    };
    assert_eq!(with_ui(&[], &[]).sim_budget_ms(), SIM_BUDGET_PER_FRAME_MS, "a cheap UI leaves the ceiling");
    assert_eq!(with_ui(&[1.0], &[3.5]).sim_budget_ms(), MIN_SIM_BUDGET_PER_FRAME_MS, "a dear UI leaves the floor");
    let middle = with_ui(&[0.5], &[1.5]).sim_budget_ms();
    assert!((middle - (FRAME_BUDGET_MS - 2.0 - 0.5)).abs() < 1e-9, "2 ms of UI leaves 1.5 ms, got {middle}");
    let spiky = with_ui(&[0.5, 0.5, 0.5], &[2.5, 1.0, 1.0]).sim_budget_ms();
    assert!(spiky < 1.0, "one costly frame among the last eight keeps the simulation's share down: {spiky}");
}

/// A file dropped on the desktop window goes through the same loader as the CLI: a good one replaces the run (same
/// trace hash as the CLI's for that file), one with a typo shows the CLI's message and keeps the run.
#[test]
fn a_file_dropped_on_the_window_loads_like_the_cli() {
    use bevy::window::FileDragAndDrop;
    let mut app = app(LaunchOptions::scenario("curriculum/01-pubsub-vs-queue"));
    app.add_message::<FileDragAndDrop>()
        .add_systems(Update, kafkascope_viz::load_dropped_files.before(kafkascope_viz::VizCoreSet));
    let dir = std::env::temp_dir().join(format!("kafkascope-drop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/core/zombie-leader.ron"),
    )
    .unwrap();
    let good = dir.join("zombie.ron");
    let typo = dir.join("typo.ron");
    std::fs::write(&good, &source).unwrap();
    std::fs::write(&typo, source.replacen("\"acks\"", "\"akcs\"", 1)).unwrap();
    let drop =
        |path: &std::path::Path| FileDragAndDrop::DroppedFile { window: Entity::PLACEHOLDER, path_buf: path.into() };

    app.world_mut().write_message(drop(&typo));
    app.update();
    let runs = app.world().resource::<Runs>();
    let error = runs.error.clone().expect("the typo is reported");
    let expected =
        kafkascope_sim::Scenario::parse(&std::fs::read_to_string(&typo).unwrap(), &typo.display().to_string())
            .expect_err("the typo does not load")
            .to_string();
    assert_eq!(error, expected, "the CLI's message, word for word");
    assert!(error.contains("did you mean `acks`?"), "{error}");
    assert_eq!(runs.a.setup.name, "curriculum/01-pubsub-vs-queue", "the run shown stays");

    app.world_mut().write_message(drop(&good));
    app.update();
    let runs = app.world_mut().resource_mut::<Runs>().into_inner();
    assert!(runs.error.is_none());
    assert_eq!(runs.a.setup.name, good.display().to_string());
    let scenario = kafkascope_sim::Scenario::parse(&source, "zombie.ron").unwrap();
    let expected_hash = kafkascope_tests_hash(scenario);
    assert_eq!(runs.a.finish_horizon().trace_hash, expected_hash, "the CLI's trace hash for the file");
    std::fs::remove_dir_all(&dir).ok();
}

/// The end-of-run trace hash, as `kafkascope run --json` computes it.
fn kafkascope_tests_hash(scenario: kafkascope_sim::Scenario) -> String {
    let options = kafkascope_sim::RunOptions {
        retention: kafkascope_sim::trace::TraceRetention::HashOnly,
        check_invariants: false,
        ..Default::default()
    };
    let mut sim = kafkascope_sim::Simulation::new(scenario, options);
    sim.run().expect("runs");
    sim.trace.hash_hex()
}

#[test]
fn selecting_a_replica_while_paused_charts_its_partition_and_the_chart_follows_the_run() {
    let mut app = app(LaunchOptions::scenario("core/acks-all-min-isr-no-loss"));
    send(&mut app, UiAction::Seek(3 * US_PER_SEC));
    assert!(views(&app).offset_chart.is_none(), "no replica is selected: no chart");
    let partition = views(&app).a.partitions[0].clone();
    let leader = partition.leader.expect("a leader at 3 s");
    send(&mut app, UiAction::SelectReplica(leader, partition.idx));
    let view = views(&app).offset_chart.as_ref().expect("a paused run charts the selection");
    assert_eq!((view.subject, view.exact), (Subject::Offsets(partition.idx), true));
    let chart = view.chart.as_ref().expect("the chart builds");
    assert_eq!((chart.from, chart.to), (0, 3 * US_PER_SEC));
    assert!(chart.marks.is_empty(), "no election yet: {:?}", chart.marks);
    let leader_line = chart.lines.iter().find(|l| l.kind == LineKind::LogEndOffset(leader)).expect("the leader's LEO");
    assert!(leader_line.points.last().is_some_and(|&(_, leo)| leo > 0), "records were appended by 3 s");
    // The leader crashes; at 15 s the chart has the election that followed.
    send(&mut app, UiAction::Intervene(Intervene::Broker { broker: leader, action: BrokerAction::HardCrash }));
    send(&mut app, UiAction::Seek(15 * US_PER_SEC));
    let chart = views(&app).offset_chart.as_ref().and_then(|c| c.chart.as_ref().ok()).expect("recharted");
    assert_eq!(chart.to, 15 * US_PER_SEC);
    let election = chart.marks.first().expect("the crash led to an election");
    assert!(election.leader.is_some() && election.leader != Some(leader), "{election:?}");
    // Playing, the chart follows the run a frame at a time; pausing makes it exact again.
    send(&mut app, UiAction::SetSpeedExponent(1.0));
    send(&mut app, UiAction::SetPlaying(true));
    for _ in 0..10 {
        app.update();
    }
    let now = app.world().resource::<Runs>().a.now();
    let view = views(&app).offset_chart.as_ref().expect("still charted");
    let chart = view.chart.as_ref().expect("followed");
    assert!(!view.exact && now > 15 * US_PER_SEC && chart.to == now, "to {} at {now}", chart.to);
    // The points drawn are made with the chart: one list per line, each ending at the chart's end.
    assert_eq!(view.points.len(), chart.lines.len());
    let end = now as f64 / US_PER_SEC as f64;
    assert!(view.points.iter().filter_map(|p| p.last()).all(|p| (p.x - end).abs() < 1e-9), "{end}");
    assert!(!chart.marks.is_empty(), "the election stays in the window");
    send(&mut app, UiAction::SetPlaying(false));
    assert!(views(&app).offset_chart.as_ref().is_some_and(|c| c.exact), "exact again once paused");
}

#[test]
fn selecting_a_group_charts_its_lag() {
    let mut app = app(LaunchOptions::scenario("curriculum/04-offsets-and-commits"));
    send(&mut app, UiAction::Seek(14 * US_PER_SEC));
    assert!(views(&app).lag_chart.is_none(), "no group is selected: no chart");
    send(&mut app, UiAction::SelectGroup(Some(0)));
    let view = views(&app).lag_chart.as_ref().expect("a paused run charts the selected group");
    assert_eq!(view.subject, Subject::Lag { group: 0 });
    let chart = view.chart.as_ref().expect("the chart builds");
    let lag = chart.lines.first().and_then(|l| l.points.last()).map(|&(_, lag)| lag);
    assert!(lag.is_some_and(|lag| lag >= 300), "nobody consumes after the crash at 8.5 s: lag {lag:?}");
    send(&mut app, UiAction::SelectGroup(None));
    send(&mut app, UiAction::Seek(20 * US_PER_SEC));
    assert!(views(&app).lag_chart.as_ref().is_some_and(|c| c.chart.as_ref().is_ok_and(|c| c.to == 14 * US_PER_SEC)));
}

#[test]
fn a_chart_is_kept_up_to_date_only_while_its_tab_is_shown() {
    let mut app = app(LaunchOptions::scenario("core/acks-all-min-isr-no-loss"));
    app.insert_resource(kafkascope_viz::SideTab::Story);
    send(&mut app, UiAction::Seek(3 * US_PER_SEC));
    send(&mut app, UiAction::SelectReplica(BrokerId(1), PartitionIdx(0)));
    assert!(views(&app).offset_chart.is_none(), "the Inspector is not shown: no re-simulation for it");
    app.insert_resource(kafkascope_viz::SideTab::Inspector);
    app.update();
    let chart = views(&app).offset_chart.as_ref().and_then(|c| c.chart.as_ref().ok()).expect("charted once shown");
    assert_eq!(chart.to, 3 * US_PER_SEC);
}
