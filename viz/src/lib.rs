//! KafkaScope's visualizer: Bevy plugins that drive a simulation run (play, step, scrub, fork), gather a view of it
//! each frame and draw it with egui. It holds no protocol logic: every Kafka fact comes from `kafkascope-sim`, and
//! every user action becomes a simulation command through `kafkascope-viz-model`.
//!
//! [`VizCorePlugin`] has no egui and no window, so headless tests drive it with `App::update()`; [`VizUiPlugin`]
//! draws; [`screenshot`] renders one frame to a PNG; [`web`] talks to the page on wasm.

pub mod cluster;
pub mod launch;
pub mod ui;
pub mod web;

#[cfg(not(target_arch = "wasm32"))]
pub mod screenshot;

use bevy::platform::time::Instant;
use bevy::prelude::*;
use egui_plot::PlotPoint;
use kafkascope_sim::history::Verdict;
use kafkascope_sim::ids::{BrokerId, PartitionIdx, RecordId};
use kafkascope_sim::scenario::{Action, Lang};
use kafkascope_sim::time::{Micros, US_PER_SEC};
use kafkascope_viz_model::action::{BrokerAction, Intervene};
use kafkascope_viz_model::chart::{self as charts, Chart, Subject};
use kafkascope_viz_model::record::{record_path, RecordPath};
use kafkascope_viz_model::run::{RunSetup, SimRun};
use kafkascope_viz_model::view::{ClusterView, Filter};
use std::collections::BTreeSet;

pub use launch::LaunchOptions;

/// Simulated time per real second is `10^speed_exponent`: from 0.01x to 100x.
pub const SPEED_EXPONENT_RANGE: (f64, f64) = (-2.0, 2.0);
/// CPU time per frame for all of the visualizer's systems together (issue 6: sim + UI <= 4 ms per frame, a quarter
/// of a 60 Hz frame). The simulation gets what the UI leaves of it, so playback slows down before the UI stutters.
pub const FRAME_BUDGET_MS: f64 = 4.0;
/// The most CPU time per frame the simulation may use, however little the UI costs.
pub const SIM_BUDGET_PER_FRAME_MS: f64 = 2.0;
/// The least it gets, so that playback always moves even when the UI alone takes the whole frame budget. In the
/// browser egui's pass alone often costs more than 4 ms (wasm, software WebGL in tests), so the floor is higher there.
pub const MIN_SIM_BUDGET_PER_FRAME_MS: f64 = if cfg!(target_arch = "wasm32") { 1.0 } else { 0.25 };
/// The horizon (background run to the end) gets at most this much per frame, out of what the catching-up left.
pub const HORIZON_BUDGET_PER_FRAME_MS: f64 = 1.0;
/// Headroom kept for the UI pass's frame-to-frame variation (its cost is estimated from recent frames) and for the
/// last chunk of events, which may end past the budget.
const UI_COST_HEADROOM_MS: f64 = 0.5;
/// Events simulated between two looks at the clock (about 30-100 µs of work).
const EVENTS_PER_CHUNK: u64 = 100;

/// Everything a user (or a test) can do. Clicks, keys, the web page and tests all send these.
#[derive(Message, Clone, Debug, PartialEq)]
pub enum UiAction {
    Intervene(Intervene),
    TogglePlay,
    SetPlaying(bool),
    StepForward,
    StepBack,
    Seek(Micros),
    SetSpeedExponent(f64),
    Faster,
    Slower,
    SelectBroker(Option<BrokerId>),
    SelectReplica(BrokerId, PartitionIdx),
    SelectRecord(RecordId),
    /// Select a consumer group (its index), to chart its lag.
    SelectGroup(Option<u32>),
    /// Act on the selected broker (keyboard shortcuts).
    OnSelectedBroker(BrokerAction),
    /// Start a new run from t = 0 (scenario picker, seed, configs, compare mode, a loaded file).
    Load {
        setup: RunSetup,
        compare: Vec<String>,
    },
    /// A scenario file's text from the file picker, drag-and-drop or the page.
    LoadFile {
        name: String,
        text: String,
    },
    SetLang(Lang),
    AnswerPrediction(Option<usize>),
    DismissPrediction,
    ToggleHelp,
}

/// The run shown, and in compare mode a second run of the same scenario and seed under other configs.
#[derive(Resource)]
pub struct Runs {
    pub a: SimRun,
    pub b: Option<SimRun>,
    /// The overrides of run b.
    pub compare: Vec<String>,
    /// The last load error (a malformed scenario or override), shown in the UI with the CLI's message.
    pub error: Option<String>,
}

impl Runs {
    fn each(&mut self, mut f: impl FnMut(&mut SimRun)) {
        f(&mut self.a);
        if let Some(b) = self.b.as_mut() {
            f(b);
        }
    }
}

#[derive(Resource, Clone, Debug)]
pub struct Playback {
    pub playing: bool,
    pub speed_exponent: f64,
    /// The time shown (the runs catch up to it under a per-frame budget).
    pub display_time: Micros,
    /// Carried fraction of a microsecond between frames.
    carry: f64,
}

impl Playback {
    pub fn speed(&self) -> f64 {
        10f64.powf(self.speed_exponent)
    }
}

impl Default for Playback {
    fn default() -> Self {
        Playback { playing: false, speed_exponent: 0.0, display_time: 0, carry: 0.0 }
    }
}

#[derive(Resource, Clone, Debug, Default, PartialEq)]
pub struct Selection {
    pub broker: Option<BrokerId>,
    pub replica: Option<(BrokerId, PartitionIdx)>,
    pub record: Option<RecordId>,
    pub group: Option<u32>,
}

#[derive(Resource, Clone, Copy, Debug, PartialEq, Eq)]
pub struct UiLang(pub Lang);

/// The side tab shown. The UI switches it; the core reads it to keep only a shown tab's chart up to date.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SideTab {
    #[default]
    Story,
    Inspector,
    Events,
    Checker,
    Groups,
    Config,
}

/// What the UI draws this frame: rebuilt when a run moved.
#[derive(Resource, Default)]
pub struct Views {
    pub a: ClusterView,
    pub b: Option<ClusterView>,
    pub verdict_a: Verdict,
    pub verdict_b: Option<Verdict>,
    pub filter: Filter,
    /// (events, now, interventions) of each run when last rebuilt.
    stamp: Vec<(u64, Micros, usize)>,
    verdict_stamp: Vec<(u64, Micros, usize)>,
    last_verdict_at: Option<Instant>,
    /// The selected record's path, computed once per selection and state.
    pub record_path: Option<(RecordId, u64, Result<RecordPath, String>)>,
    /// The selected replica's partition: its offsets over the last minute, computed once per partition and state.
    pub offset_chart: Option<ChartView>,
    /// The selected group's lag per partition over the last minute, the same way.
    pub lag_chart: Option<ChartView>,
}

/// A chart of the last minute (the selected replica's offsets, the selected group's lag), and the state of the run
/// it was made for.
pub struct ChartView {
    pub subject: Subject,
    /// The run's event count when the chart was last brought up to date.
    pub events: u64,
    /// Re-simulated with every event (paused), or followed a frame at a time (playing).
    pub exact: bool,
    pub chart: Result<Chart, String>,
    /// Each line of the chart as the points drawn (its steps, in seconds), made when the chart changes rather than
    /// in every frame that draws it.
    pub points: Vec<Vec<PlotPoint>>,
    /// The value axis's top: half the plotted range above the highest value, so that the legend in the upper left
    /// does not hide the lines (a lag flat at its maximum ran right under it).
    pub top: f64,
    /// The UI frame in which it was last brought up to date.
    pub frame: u64,
}

impl ChartView {
    fn new(subject: Subject, events: u64, exact: bool, chart: Result<Chart, String>, frame: u64) -> Self {
        let mut view = ChartView { subject, events, exact, chart, points: Vec::new(), top: 1.0, frame };
        view.redraw();
        view
    }

    fn redraw(&mut self) {
        let Ok(chart) = &self.chart else { return };
        let seconds = |time: Micros| time as f64 / US_PER_SEC as f64;
        self.points = chart
            .lines
            .iter()
            .map(|line| {
                Chart::steps(&line.points, chart.to)
                    .into_iter()
                    .map(|(t, v)| PlotPoint::new(seconds(t), v as f64))
                    .collect()
            })
            .collect();
        let (low, high) = self
            .points
            .iter()
            .flatten()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), p| (low.min(p.y), high.max(p.y)));
        self.top = if high.is_finite() { high + (high - low).max(1.0) * 0.5 } else { 1.0 };
    }
}

/// Where the UI drew things last frame: broker boxes (CSS pixels on the web, for the page's click targets) and how
/// many log cells fit in a replica row (the view model gathers no more than that).
#[derive(Resource, Clone, Debug, Default)]
pub struct DrawnLayout {
    pub brokers: Vec<(BrokerId, bevy_egui::egui::Rect)>,
    /// The Share button (the page's browser test clicks it).
    pub share_button: Option<bevy_egui::egui::Rect>,
    pub cells_fit: usize,
    pub frames: u64,
}

/// A prediction question the run stopped for (curriculum's predict-then-reveal).
#[derive(Resource, Default, Clone, Debug)]
pub struct Narration {
    /// Timeline steps already asked (by index), so that a question is asked once per pass.
    pub asked: BTreeSet<usize>,
    /// The step now asked, and the answer given (`Some(None)` = "show me").
    pub open: Option<(usize, Option<Option<usize>>)>,
    pub help_open: bool,
}

/// CPU cost of the visualizer's systems, for the frame budget (issue 6: <= 4 ms per frame).
#[derive(Resource, Default, Clone, Debug)]
pub struct FrameCost {
    pub advance_ms: Vec<f64>,
    pub rebuild_ms: Vec<f64>,
    pub ui_ms: Vec<f64>,
}

impl FrameCost {
    const KEEP: usize = 600;

    /// What the view-model rebuild and the UI pass will likely cost this frame: the largest of the last few
    /// frames, so that one cheap frame does not hand the simulation time the UI needs next.
    pub fn expected_ui_ms(&self) -> f64 {
        let recent = |series: &[f64]| series.iter().rev().take(8).copied().fold(0.0, f64::max);
        recent(&self.rebuild_ms) + recent(&self.ui_ms)
    }

    /// The simulation's share of this frame: what the UI is expected to leave of [`FRAME_BUDGET_MS`].
    pub fn sim_budget_ms(&self) -> f64 {
        (FRAME_BUDGET_MS - self.expected_ui_ms() - UI_COST_HEADROOM_MS)
            .clamp(MIN_SIM_BUDGET_PER_FRAME_MS, SIM_BUDGET_PER_FRAME_MS)
    }

    pub fn push(series: &mut Vec<f64>, value: f64) {
        if series.len() == Self::KEEP {
            series.remove(0);
        }
        series.push(value);
    }

    /// (mean, p95) of a series in milliseconds.
    pub fn stats(series: &[f64]) -> (f64, f64) {
        if series.is_empty() {
            return (0.0, 0.0);
        }
        let mut sorted = series.to_vec();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let mean = sorted.iter().sum::<f64>() / sorted.len() as f64;
        (mean, sorted[(sorted.len() * 95 / 100).min(sorted.len() - 1)])
    }
}

/// The simulation, playback and view model; no egui, no window.
pub struct VizCorePlugin {
    pub launch: LaunchOptions,
}

impl Plugin for VizCorePlugin {
    fn build(&self, app: &mut App) {
        let launch = &self.launch;
        let (runs, error) = launch.start_runs();
        let mut playback = Playback { playing: launch.autoplay, ..Playback::default() };
        let mut runs = runs;
        if let Some(at) = launch.at {
            runs.each(|run| {
                let _ = run.seek(at);
            });
            playback.display_time = runs.a.now();
        }
        runs.error = error;
        app.add_message::<UiAction>()
            .insert_resource(runs)
            .insert_resource(playback)
            .insert_resource(UiLang(launch.lang))
            .init_resource::<Selection>()
            .init_resource::<Views>()
            .init_resource::<Narration>()
            .init_resource::<FrameCost>()
            .init_resource::<DrawnLayout>()
            .add_systems(Update, (apply_ui_actions, advance_playback, rebuild_views).chain().in_set(VizCoreSet));
    }
}

/// The core systems, so that other systems (keyboard, screenshot) can order against them.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct VizCoreSet;

/// Applies every action of the frame (and of the previous frame's UI pass).
#[allow(clippy::too_many_arguments)]
pub fn apply_ui_actions(
    mut actions: MessageReader<UiAction>,
    mut runs: ResMut<Runs>,
    mut playback: ResMut<Playback>,
    mut selection: ResMut<Selection>,
    mut lang: ResMut<UiLang>,
    mut narration: ResMut<Narration>,
    mut views: ResMut<Views>,
) {
    for action in actions.read() {
        match action.clone() {
            UiAction::Intervene(intervene) => act(&mut runs, &mut playback, &intervene),
            UiAction::OnSelectedBroker(broker_action) => {
                if let Some(broker) = selection.broker {
                    act(&mut runs, &mut playback, &Intervene::Broker { broker, action: broker_action });
                }
            }
            UiAction::TogglePlay => playback.playing = !playback.playing,
            UiAction::SetPlaying(playing) => playback.playing = playing,
            UiAction::StepForward | UiAction::StepBack => {
                // Steps follow run a's events; run b (compare mode) is shown at the same time. Moving away from an
                // open question closes it.
                playback.playing = false;
                narration.open = None;
                catch_up(&mut runs, &playback);
                let _ =
                    if action == &UiAction::StepForward { runs.a.step_event().map(|_| ()) } else { runs.a.step_back() };
                playback.display_time = runs.a.now();
                let t = playback.display_time;
                if let Some(b) = runs.b.as_mut() {
                    let _ = b.seek(t);
                }
            }
            UiAction::Seek(t) => {
                narration.open = None;
                let t = t.min(runs.a.duration());
                runs.each(|run| {
                    let _ = run.seek(t);
                });
                playback.display_time = t;
                narration.asked.retain(|&i| step_time(&runs.a, i).is_some_and(|at| at < t));
            }
            UiAction::SetSpeedExponent(e) => {
                playback.speed_exponent = e.clamp(SPEED_EXPONENT_RANGE.0, SPEED_EXPONENT_RANGE.1)
            }
            UiAction::Faster => playback.speed_exponent = (playback.speed_exponent + 0.25).min(SPEED_EXPONENT_RANGE.1),
            UiAction::Slower => playback.speed_exponent = (playback.speed_exponent - 0.25).max(SPEED_EXPONENT_RANGE.0),
            UiAction::SelectBroker(broker) => {
                selection.broker = broker;
                selection.replica = None;
            }
            UiAction::SelectReplica(broker, partition) => {
                selection.broker = Some(broker);
                selection.replica = Some((broker, partition));
            }
            UiAction::SelectRecord(record) => {
                selection.record = Some(record);
                views.record_path = None;
            }
            UiAction::SelectGroup(group) => selection.group = group,
            UiAction::Load { setup, compare } => {
                load(&mut runs, &mut playback, &mut narration, &mut views, setup, compare);
            }
            UiAction::LoadFile { name, text } => {
                let seed = kafkascope_sim::scenario::Scenario::parse(&text, &name).map(|s| s.seed);
                match seed {
                    Ok(seed) => {
                        let setup = RunSetup { name, source: text, seed, overrides: Vec::new() };
                        let compare = runs.compare.clone();
                        load(&mut runs, &mut playback, &mut narration, &mut views, setup, compare);
                    }
                    Err(error) => runs.error = Some(error.to_string()),
                }
            }
            UiAction::SetLang(l) => lang.0 = l,
            UiAction::AnswerPrediction(choice) => {
                if let Some((step, _)) = narration.open {
                    narration.open = Some((step, Some(choice)));
                }
            }
            UiAction::DismissPrediction => {
                narration.open = None;
                playback.playing = true;
            }
            UiAction::ToggleHelp => narration.help_open = !narration.help_open,
        }
    }
}

/// A `.ron` file dropped on the desktop window is loaded like the CLI loads it (the web page reads dropped files
/// itself and hands them to `web::page::load_scenario`).
#[cfg(not(target_arch = "wasm32"))]
pub fn load_dropped_files(
    mut drops: MessageReader<bevy::window::FileDragAndDrop>,
    mut actions: MessageWriter<UiAction>,
) {
    for drop in drops.read() {
        if let bevy::window::FileDragAndDrop::DroppedFile { path_buf, .. } = drop {
            let name = path_buf.display().to_string();
            match std::fs::read_to_string(path_buf) {
                Ok(text) => actions.write(UiAction::LoadFile { name, text }),
                Err(error) => actions.write(UiAction::LoadFile { name, text: format!("// {error}") }),
            };
        }
    }
}

/// Makes the runs stand exactly at the displayed time before a step (playback may have been held back).
fn catch_up(runs: &mut Runs, playback: &Playback) {
    let t = playback.display_time;
    runs.each(|run| {
        if run.now() < t {
            let _ = run.advance_to(t, u64::MAX);
        }
    });
}

/// Applies an intervention to every run (compare mode keeps one failure story), at the displayed time.
fn act(runs: &mut Runs, playback: &mut Playback, intervene: &Intervene) {
    catch_up(runs, playback);
    let command = intervene.to_command();
    runs.each(|run| {
        let _ = run.act(command.clone());
    });
    playback.display_time = runs.a.now();
}

fn load(
    runs: &mut Runs,
    playback: &mut Playback,
    narration: &mut Narration,
    views: &mut Views,
    setup: RunSetup,
    compare: Vec<String>,
) {
    match LaunchOptions::make_runs(setup, compare) {
        Ok(new_runs) => {
            *runs = new_runs;
            playback.display_time = 0;
            playback.playing = false;
            narration.asked.clear();
            narration.open = None;
            views.stamp.clear();
            views.verdict_stamp.clear();
            views.record_path = None;
            views.offset_chart = None;
            views.lag_chart = None;
        }
        Err(error) => runs.error = Some(error),
    }
}

fn step_time(run: &SimRun, index: usize) -> Option<Micros> {
    run.sim().scenario.timeline.get(index).map(|s| s.at.0)
}

/// Moves the displayed time by real time x speed and runs the simulations to it under a CPU budget; stops at
/// prediction steps of the curriculum; pumps the horizon.
pub fn advance_playback(
    time: Res<Time>,
    mut runs: ResMut<Runs>,
    mut playback: ResMut<Playback>,
    mut narration: ResMut<Narration>,
    mut cost: ResMut<FrameCost>,
) {
    let started = Stopwatch::start();
    let duration = runs.a.duration();
    if playback.playing && narration.open.is_none() {
        let advance = time.delta_secs_f64() * US_PER_SEC as f64 * playback.speed() + playback.carry;
        let whole = advance.floor();
        playback.carry = advance - whole;
        let mut target = (playback.display_time + whole as Micros).min(duration);
        // Predict-then-reveal: stop at the first question crossed.
        let from = playback.display_time;
        let timeline = &runs.a.sim().scenario.timeline;
        if let Some((index, step)) = timeline.iter().enumerate().find(|(i, s)| {
            matches!(s.action, Some(Action::Predict { .. }))
                && s.at.0 > from
                && s.at.0 <= target
                && !narration.asked.contains(i)
        }) {
            target = step.at.0;
            narration.asked.insert(index);
            narration.open = Some((index, None));
            playback.playing = false;
        }
        playback.display_time = target;
        if target >= duration {
            playback.playing = false;
        }
    }
    // Catch up under the budget; if it runs out, hold the displayed time where the run is. An open question still
    // pulls the run to its own time, over as many frames as that takes, so the question is seen at its moment.
    let question_time = narration.open.and_then(|(index, _)| step_time(&runs.a, index));
    let target = question_time.map_or(playback.display_time, |at| at.max(playback.display_time));
    let budget_ms = cost.sim_budget_ms();
    let mut all_caught_up = true;
    runs.each(|run| loop {
        match run.advance_to(target, EVENTS_PER_CHUNK) {
            Ok(true) => break,
            Ok(false) if started.elapsed_ms() < budget_ms => continue,
            _ => {
                all_caught_up = false;
                break;
            }
        }
    });
    playback.display_time =
        if all_caught_up { target } else { runs.a.now().min(runs.b.as_ref().map_or(Micros::MAX, |b| b.now())) };
    // The horizon runs on what the catching-up left of the simulation's share.
    let horizon_budget_ms = (budget_ms - started.elapsed_ms()).min(HORIZON_BUDGET_PER_FRAME_MS);
    let horizon_started = Stopwatch::start();
    runs.each(|run| while horizon_started.elapsed_ms() < horizon_budget_ms && !run.pump_horizon(EVENTS_PER_CHUNK) {});
    FrameCost::push(&mut cost.advance_ms, started.elapsed_ms());
}

/// Measures the frame budget: the calling thread's CPU time where the OS keeps it, so that a renderer thread
/// preempting ours (Mesa's llvmpipe under Xvfb) is not counted as our cost (issue 6: CPU time of the systems, not
/// GPU); wall time on the web, which runs one thread. A Bevy system runs on one thread from start to end.
#[derive(Clone, Copy, Debug)]
pub struct Stopwatch {
    started_ms: f64,
}

impl Stopwatch {
    pub fn start() -> Self {
        Stopwatch { started_ms: cpu_clock_ms() }
    }

    pub fn elapsed_ms(&self) -> f64 {
        cpu_clock_ms() - self.started_ms
    }
}

#[cfg(all(unix, not(target_arch = "wasm32")))]
fn cpu_clock_ms() -> f64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes the timespec it is handed, which lives on this stack frame.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    now.tv_sec as f64 * 1000.0 + now.tv_nsec as f64 / 1_000_000.0
}

#[cfg(not(all(unix, not(target_arch = "wasm32"))))]
fn cpu_clock_ms() -> f64 {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_secs_f64() * 1000.0
}

/// Wall time since `since`, in milliseconds.
pub fn elapsed_ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Rebuilds the view model when a run moved, and the checker's verdict at most once a second while playing (it
/// reads every log), or at once when paused.
pub fn rebuild_views(
    runs: Res<Runs>,
    playback: Res<Playback>,
    selection: Res<Selection>,
    drawn: Res<DrawnLayout>,
    tab: Option<Res<SideTab>>,
    mut views: ResMut<Views>,
    mut cost: ResMut<FrameCost>,
) {
    let started = Stopwatch::start();
    if drawn.cells_fit > 0 && drawn.cells_fit != views.filter.max_cells {
        views.filter.max_cells = drawn.cells_fit;
        views.stamp.clear();
    }
    let stamp = |run: &SimRun| (run.sim().events(), run.now(), run.interventions().len());
    let stamps: Vec<_> = std::iter::once(&runs.a).chain(runs.b.as_ref()).map(stamp).collect();
    let verdict_due = views.verdict_stamp != stamps
        && (!playback.playing || views.last_verdict_at.is_none_or(|at| elapsed_ms(at) > 1000.0));
    if verdict_due {
        views.verdict_a = runs.a.sim().verdict();
        views.verdict_b = runs.b.as_ref().map(|b| b.sim().verdict());
        views.verdict_stamp = stamps.clone();
        views.last_verdict_at = Some(Instant::now());
        views.stamp.clear();
    }
    if views.stamp != stamps {
        let lost_a: BTreeSet<RecordId> = views.verdict_a.acked_lost.iter().copied().collect();
        views.a = ClusterView::build(runs.a.sim(), &views.filter, &lost_a);
        views.b = runs.b.as_ref().map(|b| {
            let lost: BTreeSet<RecordId> =
                views.verdict_b.as_ref().map(|v| v.acked_lost.iter().copied().collect()).unwrap_or_default();
            ClusterView::build(b.sim(), &views.filter, &lost)
        });
        views.stamp = stamps;
    }
    // The record inspector's path, once per selection and state (it re-simulates with the full trace).
    if let Some(record) = selection.record {
        let events = runs.a.sim().events();
        let fresh = views.record_path.as_ref().is_some_and(|(r, e, _)| *r == record && *e == events);
        let exists = (record.index()) < runs.a.sim().history.records.len();
        if !fresh && exists && !playback.playing {
            let path = record_path(&runs.a, record, &views.verdict_a).map_err(|e| e.to_string());
            views.record_path = Some((record, events, path));
        }
    }
    // The charts of the last minute: the selected replica's partition (Inspector), the selected group (Groups). Each
    // is kept up to date only while its tab is shown (or where there is no UI, as in the headless tests), so stepping
    // through events on a large cluster does not re-simulate a minute for a chart nobody sees.
    let shown = |wanted: SideTab| tab.as_ref().is_none_or(|tab| **tab == wanted);
    if shown(SideTab::Inspector) {
        let replica_subject = selection.replica.map(|(_, partition)| Subject::Offsets(partition));
        refresh_chart(&mut views.offset_chart, replica_subject, &runs.a, playback.playing, drawn.frames);
    }
    if shown(SideTab::Groups) {
        let group_subject = selection.group.map(|group| Subject::Lag { group });
        refresh_chart(&mut views.lag_chart, group_subject, &runs.a, playback.playing, drawn.frames);
    }
    FrameCost::push(&mut cost.rebuild_ms, started.elapsed_ms());
}

/// Keeps a chart up to date with the run: re-simulated exactly when paused (every event of the last minute); while
/// playing it follows the run one sample a frame, and pausing makes it exact again. A newly chosen subject (or a run
/// moved back, or a chart left behind while its tab was hidden) gets the exact last minute first, once. `frame` counts
/// the UI's frames: a chart follows the run only from the frame before.
fn refresh_chart(slot: &mut Option<ChartView>, subject: Option<Subject>, run: &SimRun, playing: bool, frame: u64) {
    let Some(subject) = subject else { return };
    let sim = run.sim();
    let events = sim.events();
    let view = slot.as_mut().filter(|view| view.subject == subject);
    match view {
        // Up to date; a followed chart is not, once paused: the exact one replaces it.
        Some(view) if view.events == events && (view.exact || playing) => view.frame = frame,
        // A chart that failed is not retried every frame while playing.
        Some(view) if playing && view.chart.is_err() => {}
        // Playing on from the chart's end, drawn in the frame before: one more sample.
        Some(view)
            if playing && view.frame + 1 >= frame && view.chart.as_ref().is_ok_and(|chart| chart.to <= sim.now()) =>
        {
            if let Ok(chart) = &mut view.chart {
                chart.follow(sim);
            }
            (view.events, view.exact, view.frame) = (events, false, frame);
            view.redraw();
        }
        _ => {
            let chart = charts::chart(run, subject).map_err(|e| e.to_string());
            *slot = Some(ChartView::new(subject, events, true, chart, frame));
        }
    }
}
