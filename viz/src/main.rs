//! Opens the KafkaScope visualizer: a window on the desktop, the page's canvas on the web.
//!
//! Desktop: `kafkascope-viz [--scenario NAME|FILE] [--seed N] [--set key=value]... [--compare key=value]...
//! [--at 30s] [--lang ko|en] [--play] [--predict] [--group NAME] [--link '?scenario=...'] [--screenshot FILE]
//! [--bench-frames N]`.
//! Web: the same options come from the page's URL query (`?scenario=...&seed=...&t=...`).

use bevy::prelude::*;
use bevy::window::WindowResolution;
use bevy_egui::{EguiPlugin, EguiStartupSet};
use kafkascope_viz::{LaunchOptions, VizCorePlugin};

fn main() -> AppExit {
    #[cfg(target_arch = "wasm32")]
    {
        let launch = LaunchOptions::from_link(&kafkascope_viz::web::page::query_string()).unwrap_or_default();
        let mut app = base_app(launch, None);
        app.add_plugins(kafkascope_viz::web::page::WebPlugin);
        app.run()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        desktop::main()
    }
}

fn base_app(launch: LaunchOptions, size: Option<(u32, u32)>) -> App {
    let (width, height) = size.unwrap_or((1280, 720));
    let mut app = App::new();
    app.add_plugins(DefaultPlugins.set(WindowPlugin {
        primary_window: Some(Window {
            title: "KafkaScope".into(),
            resolution: WindowResolution::new(width, height).with_scale_factor_override(1.0),
            canvas: Some("#kafkascope-canvas".into()),
            fit_canvas_to_parent: true,
            prevent_default_event_handling: false,
            ..default()
        }),
        ..default()
    }))
    .insert_resource(ClearColor(Color::srgb(0.07, 0.08, 0.1)))
    .add_plugins(EguiPlugin::default())
    .add_systems(PreStartup, spawn_camera.before(EguiStartupSet::InitContexts))
    .add_plugins(VizCorePlugin { launch })
    .add_plugins(kafkascope_viz::ui::VizUiPlugin);
    app
}

fn spawn_camera(mut commands: Commands) {
    commands.spawn(Camera2d);
}

#[cfg(not(target_arch = "wasm32"))]
mod desktop {
    use super::*;
    use clap::Parser;
    use kafkascope_sim::ids::{BrokerId, PartitionIdx, RecordId};
    use kafkascope_sim::scenario::{Action, Lang};
    use kafkascope_sim::time::{format_time, parse_duration};
    use kafkascope_viz::SideTab;
    use kafkascope_viz::{FrameCost, UiAction};

    /// KafkaScope: see what Kafka does (desktop visualizer).
    #[derive(Parser, Debug)]
    #[command(version)]
    struct Args {
        /// A built-in scenario (`core/zombie-leader`), a .ron file, or `generated:12x100x3`.
        #[arg(long)]
        scenario: Option<String>,
        /// The seed (default: the scenario's own).
        #[arg(long)]
        seed: Option<u64>,
        /// A config override, `key=value` (Kafka's keys, as the CLI's `--set`); repeatable.
        #[arg(long = "set")]
        set: Vec<String>,
        /// Compare mode: a second run with these overrides on top, side by side; repeatable.
        #[arg(long)]
        compare: Vec<String>,
        /// Start at this simulated time (e.g. `30s`).
        #[arg(long, value_parser = parse_duration)]
        at: Option<u64>,
        /// Language of the UI and the event feed.
        #[arg(long, default_value = "en")]
        lang: String,
        /// Start playing at once.
        #[arg(long)]
        play: bool,
        /// A shared link's query (`?scenario=...&seed=...`), as the web page takes it.
        #[arg(long)]
        link: Option<String>,
        /// Render one frame at `--at` to this PNG and exit (non-zero if it looks blank).
        #[arg(long)]
        screenshot: Option<std::path::PathBuf>,
        /// Play this many frames, print the CPU time of the sim and UI systems, and exit.
        #[arg(long)]
        bench_frames: Option<u32>,
        /// Playback speed for --bench-frames (simulated seconds per real second).
        #[arg(long, default_value_t = 1.0)]
        bench_speed: f64,
        /// Open this side tab: story, inspector, events, checker, groups or config.
        #[arg(long)]
        tab: Option<String>,
        /// Select a broker (`2`), or a replica (`2:0`, broker and partition index), as a click does.
        #[arg(long)]
        select: Option<String>,
        /// Select a record by its index in the delivery history, as a click on its cell does.
        #[arg(long)]
        record: Option<u32>,
        /// Select a consumer group by name, as a click in the Groups tab does (its lag chart).
        #[arg(long)]
        group: Option<String>,
        /// Show the keyboard-shortcut overlay.
        #[arg(long)]
        help_overlay: bool,
        /// Play up to the first prediction question at or after `--at`, as a study group would meet it.
        #[arg(long)]
        predict: bool,
        /// Window size, `WIDTHxHEIGHT`.
        #[arg(long, default_value = "1280x720")]
        window: String,
    }

    pub fn main() -> AppExit {
        let args = Args::parse();
        let mut launch = match &args.link {
            Some(link) => match LaunchOptions::from_link(link) {
                Ok(launch) => launch,
                Err(error) => {
                    eprintln!("--link: {error}");
                    return AppExit::error();
                }
            },
            None => LaunchOptions::default(),
        };
        if let Some(scenario) = args.scenario {
            launch.scenario = scenario;
        }
        launch.seed = args.seed.or(launch.seed);
        launch.set.extend(args.set);
        launch.compare.extend(args.compare);
        launch.at = args.at.or(launch.at);
        launch.lang = if args.lang == "ko" { Lang::Ko } else { Lang::En };
        launch.autoplay = args.play || args.bench_frames.is_some();
        let source = match launch.source() {
            Ok(source) => source,
            Err(error) => {
                eprintln!("{error}");
                return AppExit::error();
            }
        };
        if args.predict {
            // Start just before the question and play into it: playback stops there and asks, as it does live.
            let from = launch.at.unwrap_or(0);
            let question = kafkascope_sim::Scenario::parse(&source, &launch.scenario).ok().and_then(|scenario| {
                scenario
                    .timeline
                    .iter()
                    .find(|step| matches!(step.action, Some(Action::Predict { .. })) && step.at.0 >= from)
                    .map(|step| step.at.0)
            });
            let Some(at) = question else {
                eprintln!("--predict: no prediction question at or after {}", format_time(from));
                return AppExit::error();
            };
            launch.at = Some(at.saturating_sub(1_000));
            launch.autoplay = true;
        }
        let size = args.window.split_once('x').and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)));
        let mut app = base_app(launch, size);
        // A group is named on the command line and selected by its index in the loaded scenario.
        let mut select_group = None;
        if let Some(name) = &args.group {
            let groups = &app.world().resource::<kafkascope_viz::Runs>().a.sim().scenario.groups;
            match groups.iter().position(|g| g == name) {
                Some(index) => select_group = Some(UiAction::SelectGroup(Some(index as u32))),
                None => {
                    eprintln!("--group {name}: the scenario's groups are {groups:?}");
                    return AppExit::error();
                }
            }
        }
        app.add_systems(Update, kafkascope_viz::load_dropped_files.before(kafkascope_viz::VizCoreSet));
        let mut startup_actions = Vec::new();
        if let Some(select) = &args.select {
            let mut parts = select.split(':').map(|n| n.parse::<u32>());
            match (parts.next(), parts.next()) {
                (Some(Ok(broker)), None) => startup_actions.push(UiAction::SelectBroker(Some(BrokerId(broker)))),
                (Some(Ok(broker)), Some(Ok(partition))) => {
                    startup_actions.push(UiAction::SelectReplica(BrokerId(broker), PartitionIdx(partition)))
                }
                _ => {
                    eprintln!("--select {select}: expected BROKER or BROKER:PARTITION_INDEX");
                    return AppExit::error();
                }
            }
        }
        if let Some(record) = args.record {
            startup_actions.push(UiAction::SelectRecord(RecordId(record)));
        }
        startup_actions.extend(select_group);
        if args.help_overlay {
            startup_actions.push(UiAction::ToggleHelp);
        }
        let tab = match args.tab.as_deref() {
            None | Some("story") => SideTab::Story,
            Some("inspector") => SideTab::Inspector,
            Some("events") => SideTab::Events,
            Some("checker") => SideTab::Checker,
            Some("groups") => SideTab::Groups,
            Some("config") => SideTab::Config,
            Some(other) => {
                eprintln!("--tab {other}: expected story, inspector, events, checker, groups or config");
                return AppExit::error();
            }
        };
        app.insert_resource(tab);
        app.add_systems(Startup, move |mut actions: MessageWriter<UiAction>| {
            for action in &startup_actions {
                actions.write(action.clone());
            }
        });
        if let Some(path) = args.screenshot {
            app.add_plugins(kafkascope_viz::screenshot::ScreenshotPlugin { path });
        }
        if let Some(frames) = args.bench_frames {
            let exponent = args.bench_speed.max(0.01).log10();
            // Measure at a 60 Hz display's pace: each frame advances 1/60 s of real time, whatever Xvfb's software
            // rendering costs (the budget is the CPU of our systems, not the GPU's).
            app.insert_resource(bevy::time::TimeUpdateStrategy::ManualDuration(std::time::Duration::from_micros(
                16_667,
            )))
            .insert_resource(BenchFrames { left: frames, total: frames, exponent })
            .add_systems(Update, bench_frames.after(kafkascope_viz::VizCoreSet));
        }
        app.run()
    }

    #[derive(Resource)]
    struct BenchFrames {
        left: u32,
        total: u32,
        exponent: f64,
    }

    fn bench_frames(
        mut bench: ResMut<BenchFrames>,
        mut cost: ResMut<FrameCost>,
        mut actions: MessageWriter<UiAction>,
        runs: Res<kafkascope_viz::Runs>,
        views: Res<kafkascope_viz::Views>,
        mut exit: MessageWriter<AppExit>,
    ) {
        if bench.left == bench.total {
            actions.write(UiAction::SetSpeedExponent(bench.exponent));
            actions.write(UiAction::SetPlaying(true));
            // The first frames build fonts and pipelines: measure from here.
            *cost = FrameCost::default();
        }
        bench.left = bench.left.saturating_sub(1);
        if bench.left == 0 {
            let report = |name: &str, series: &[f64]| {
                let (mean, p95) = FrameCost::stats(series);
                println!("{name:<28} mean {mean:6.3} ms   p95 {p95:6.3} ms   ({} frames)", series.len());
            };
            let replicas: usize = views.a.brokers.iter().map(|b| b.replicas.len()).sum();
            println!(
                "frame budget: {} brokers, {} partitions shown, {replicas} replica rows, t = {}, {} events",
                views.a.brokers.len(),
                views.a.partitions.len(),
                kafkascope_sim::time::format_time(runs.a.now()),
                runs.a.sim().events()
            );
            report("advance (sim + horizon)", &cost.advance_ms);
            report("rebuild view model", &cost.rebuild_ms);
            report("egui UI pass (layout+paint)", &cost.ui_ms);
            let total: Vec<f64> =
                cost.advance_ms.iter().zip(&cost.rebuild_ms).zip(&cost.ui_ms).map(|((a, b), c)| a + b + c).collect();
            report("total sim + UI systems", &total);
            exit.write(AppExit::Success);
        }
    }
}
