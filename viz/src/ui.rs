//! The egui panels: transport bar, timeline with markers, the cluster view (two side by side in compare mode), and
//! the side tabs (inspector, event feed, checker, consumer groups, configs, story), plus the prediction, help and
//! error windows and the keyboard shortcuts.

use crate::cluster::{broker_action_label, broker_menu, draw_cluster};
use crate::{
    ChartView, DrawnLayout, FrameCost, LaunchOptions, Narration, Playback, Runs, Selection, SideTab, Stopwatch,
    UiAction, UiLang, Views,
};
use bevy::input::keyboard::KeyCode;
use bevy::prelude::*;
use bevy_egui::egui::{self, Color32, CornerRadius, FontId, Pos2, Rect, RichText, Sense, Stroke, Vec2};
use bevy_egui::{EguiContexts, EguiPrimaryContextPass};
use kafkascope_sim::ctx::Topology;
use kafkascope_sim::explain::explain;
use kafkascope_sim::explain_ko::explain_ko;
use kafkascope_sim::scenario::{Action, Lang};
use kafkascope_sim::sim::Simulation;
use kafkascope_sim::time::{format_time, Micros, US_PER_SEC};
use kafkascope_sim::trace::TraceEvent;
use kafkascope_viz_model::action::BrokerAction;
use kafkascope_viz_model::catalog;
use kafkascope_viz_model::chart::{LineKind, Subject};
use kafkascope_viz_model::inspect::describe_replica;
use kafkascope_viz_model::run::{MarkerKind, RunSetup, SimRun};

/// A subset of Noto Sans CJK KR (OFL-1.1), so that Hangul renders on desktop and web alike.
pub const KOREAN_FONT: &[u8] = include_bytes!("../assets/fonts/NotoSansKR-subset.otf");

/// The config panel's fields, edited before "Apply" restarts the run.
#[derive(Resource, Clone, Debug, Default)]
pub struct ConfigDraft {
    pub scenario: String,
    pub seed: u64,
    /// The key configs as edited, `(Kafka's key, value)`, in `KEY_CONFIGS` order.
    pub configs: Vec<(&'static str, String)>,
    pub compare: String,
    pub path: String,
    /// The setup the draft was filled from (refilled when the run changes).
    filled_from: Option<(String, u64, Vec<String>)>,
}

pub struct VizUiPlugin;

impl Plugin for VizUiPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<SideTab>()
            .init_resource::<ConfigDraft>()
            .init_resource::<DrawnLayout>()
            .init_resource::<TextInputFocused>()
            // Keys are read after the UI pass of the same frame, so that a click and a key of one frame reach
            // `apply_ui_actions` in that order (a broker clicked and crashed with `c` at once is crashed).
            .add_systems(
                EguiPrimaryContextPass,
                (install_fonts, ui_root, keyboard_shortcuts.run_if(shortcuts_allowed)).chain(),
            );
    }
}

/// Whether a text field has the keyboard (then keys type into it instead of acting as shortcuts).
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TextInputFocused(pub bool);

fn shortcuts_allowed(focus: Res<TextInputFocused>) -> bool {
    !focus.0
}

/// Adds the Korean font as the last fallback of both families: Latin keeps egui's own fonts.
fn install_fonts(mut contexts: EguiContexts, mut done: Local<bool>) -> Result {
    if *done {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    use egui::epaint::text::{FontInsert, FontPriority, InsertFontFamily};
    ctx.add_font(FontInsert::new(
        "noto-sans-kr",
        egui::FontData::from_static(KOREAN_FONT),
        vec![
            InsertFontFamily { family: egui::FontFamily::Proportional, priority: FontPriority::Lowest },
            InsertFontFamily { family: egui::FontFamily::Monospace, priority: FontPriority::Lowest },
        ],
    ));
    ctx.set_visuals(egui::Visuals::dark());
    *done = true;
    Ok(())
}

/// Space play/pause, arrows step, +/- speed, and broker shortcuts on the selected broker.
pub fn keyboard_shortcuts(keys: Res<ButtonInput<KeyCode>>, mut actions: MessageWriter<UiAction>) {
    let pressed = |k: KeyCode| keys.just_pressed(k);
    if pressed(KeyCode::Space) {
        actions.write(UiAction::TogglePlay);
    }
    if pressed(KeyCode::ArrowRight) {
        actions.write(UiAction::StepForward);
    }
    if pressed(KeyCode::ArrowLeft) {
        actions.write(UiAction::StepBack);
    }
    if pressed(KeyCode::Equal) || pressed(KeyCode::NumpadAdd) {
        actions.write(UiAction::Faster);
    }
    if pressed(KeyCode::Minus) || pressed(KeyCode::NumpadSubtract) {
        actions.write(UiAction::Slower);
    }
    if pressed(KeyCode::Slash) || pressed(KeyCode::F1) || pressed(KeyCode::KeyH) {
        actions.write(UiAction::ToggleHelp);
    }
    for (key, action) in [
        (KeyCode::KeyC, BrokerAction::HardCrash),
        (KeyCode::KeyR, BrokerAction::Restart),
        (KeyCode::KeyP, BrokerAction::Pause),
        (KeyCode::KeyU, BrokerAction::Resume),
        (KeyCode::KeyI, BrokerAction::Isolate),
        (KeyCode::KeyS, BrokerAction::Slow(200_000)),
    ] {
        if pressed(key) {
            actions.write(UiAction::OnSelectedBroker(action));
        }
    }
    if pressed(KeyCode::Escape) {
        actions.write(UiAction::SelectBroker(None));
    }
}

fn tr<'a>(lang: Lang, en: &'a str, ko: &'a str) -> &'a str {
    if lang == Lang::Ko {
        ko
    } else {
        en
    }
}

#[allow(clippy::too_many_arguments)]
fn ui_root(
    mut contexts: EguiContexts,
    runs: Res<Runs>,
    playback: Res<Playback>,
    selection: Res<Selection>,
    lang: Res<UiLang>,
    views: Res<Views>,
    narration: Res<Narration>,
    mut tab: ResMut<SideTab>,
    mut draft: ResMut<ConfigDraft>,
    mut drawn: ResMut<DrawnLayout>,
    mut cost: ResMut<FrameCost>,
    mut text_focus: ResMut<TextInputFocused>,
    mut writer: MessageWriter<UiAction>,
) -> Result {
    let started = Stopwatch::start();
    let ctx = contexts.ctx_mut()?.clone();
    let lang = lang.0;
    let mut actions: Vec<UiAction> = Vec::new();
    let mut root = egui::Ui::new(
        ctx.clone(),
        "root".into(),
        egui::UiBuilder::new().layer_id(egui::LayerId::background()).max_rect(ctx.viewport_rect()),
    );
    drawn.share_button = egui::Panel::top("transport")
        .show(&mut root, |ui| transport(ui, &runs, &playback, lang, &cost, &mut actions))
        .inner;
    egui::Panel::bottom("timeline")
        .exact_size(66.0)
        .show(&mut root, |ui| timeline(ui, &runs, &playback, lang, &mut actions));
    egui::Panel::right("side").default_size(390.0).show(&mut root, |ui| {
        side_tabs(ui, &mut tab, lang);
        ui.separator();
        egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| match *tab {
            SideTab::Story => story(ui, &runs.a, lang),
            SideTab::Inspector => inspector(ui, &runs, &views, &selection, lang, &mut actions),
            SideTab::Events => event_feed(ui, &runs.a, lang),
            SideTab::Checker => checker(ui, &runs, &views, lang, &mut actions),
            SideTab::Groups => groups(ui, &runs, &views, &selection, lang, &mut actions),
            SideTab::Config => config(ui, &runs, &mut draft, lang, &mut actions),
        });
    });
    egui::CentralPanel::default().show(&mut root, |ui| {
        egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
            if let Some(view_b) = &views.b {
                let mut layouts = Vec::new();
                ui.columns(2, |columns| {
                    // Measured before anything is drawn: a column's rect grows with what it holds.
                    let column_width = columns[0].available_width();
                    let label_a = run_label(&runs.a, "A", lang);
                    columns[0].label(RichText::new(label_a).strong());
                    verdict_line(&mut columns[0], &views.verdict_a, lang);
                    layouts.push(draw_cluster(&mut columns[0], &views.a, &selection, lang, "a", &mut actions));
                    columns[0].separator();
                    latest_events(&mut columns[0], &runs.a, lang, 10, column_width);
                    if let Some(b) = &runs.b {
                        columns[1].label(RichText::new(run_label(b, "B", lang)).strong());
                    }
                    if let Some(verdict) = &views.verdict_b {
                        verdict_line(&mut columns[1], verdict, lang);
                    }
                    draw_cluster(&mut columns[1], view_b, &selection, lang, "b", &mut actions);
                    if let Some(b) = &runs.b {
                        columns[1].separator();
                        latest_events(&mut columns[1], b, lang, 10, column_width);
                    }
                });
                if let Some(layout) = layouts.pop() {
                    drawn.brokers = layout.brokers;
                    drawn.cells_fit = layout.cells_fit;
                }
            } else {
                let layout = draw_cluster(ui, &views.a, &selection, lang, "a", &mut actions);
                drawn.brokers = layout.brokers;
                drawn.cells_fit = layout.cells_fit;
                ui.separator();
                let width = ui.available_width();
                latest_events(ui, &runs.a, lang, 12, width);
            }
        });
    });
    prediction_window(&ctx, &runs.a, &narration, lang, &mut actions);
    help_window(&ctx, &narration, lang, &mut actions);
    if let Some(error) = &runs.error {
        egui::Window::new(tr(lang, "Could not load", "불러오지 못함")).collapsible(false).show(&ctx, |ui| {
            ui.label(RichText::new(error).monospace().color(Color32::from_rgb(255, 140, 140)));
        });
    }
    // Only text fields keep the keyboard: a clicked button or broker gives it back at once, so that space and the
    // letter shortcuts act on the app (and space does not press the last button clicked again).
    let focused = ctx.memory(|m| m.focused());
    let typing = focused.is_some_and(|id| egui::text_edit::TextEditState::load(&ctx, id).is_some());
    if let (Some(id), false) = (focused, typing) {
        ctx.memory_mut(|m| m.surrender_focus(id));
    }
    text_focus.0 = typing;
    drawn.frames += 1;
    for action in actions {
        writer.write(action);
    }
    FrameCost::push(&mut cost.ui_ms, started.elapsed_ms());
    Ok(())
}

/// `A: acks=1, linger.ms=5`, or `A: scenario configs` (`A: 시나리오 설정`) when nothing is overridden.
fn run_label(run: &SimRun, name: &str, lang: Lang) -> String {
    let overrides = if run.setup.overrides.is_empty() {
        tr(lang, "scenario configs", "시나리오 설정").to_string()
    } else {
        run.setup.overrides.join(", ")
    };
    format!("{name}: {overrides}")
}

fn transport(
    ui: &mut egui::Ui,
    runs: &Runs,
    playback: &Playback,
    lang: Lang,
    cost: &FrameCost,
    actions: &mut Vec<UiAction>,
) -> Option<egui::Rect> {
    let mut share_button = None;
    ui.horizontal(|ui| {
        ui.label(RichText::new("KafkaScope").strong().size(16.0));
        ui.label(RichText::new(runs.a.sim().scenario.title.get(lang)).color(Color32::from_gray(200)));
    });
    ui.horizontal(|ui| {
        if ui.button("⏮").on_hover_text(tr(lang, "Previous event (←)", "이전 이벤트 (←)")).clicked() {
            actions.push(UiAction::StepBack);
        }
        let play = if playback.playing { "⏸" } else { "▶" };
        if ui.button(play).on_hover_text(tr(lang, "Play / pause (space)", "재생 / 일시정지 (스페이스)")).clicked()
        {
            actions.push(UiAction::TogglePlay);
        }
        if ui.button("⏭").on_hover_text(tr(lang, "Next event (→)", "다음 이벤트 (→)")).clicked() {
            actions.push(UiAction::StepForward);
        }
        let mut exponent = playback.speed_exponent;
        let slider = egui::Slider::new(&mut exponent, crate::SPEED_EXPONENT_RANGE.0..=crate::SPEED_EXPONENT_RANGE.1)
            .show_value(false)
            .text(format!("{:.2}x", playback.speed()));
        if ui.add(slider).changed() {
            actions.push(UiAction::SetSpeedExponent(exponent));
        }
        ui.separator();
        ui.label(
            RichText::new(format!("t = {} / {}", format_time(playback.display_time), format_time(runs.a.duration())))
                .monospace(),
        );
        ui.label(RichText::new(format!("#{}", runs.a.sim().events())).monospace().color(Color32::from_gray(160)));
        if runs.a.is_in_past() {
            ui.label(
                RichText::new(tr(lang, "in the past: acting forks", "과거 시점: 조작하면 분기"))
                    .color(Color32::from_rgb(240, 150, 60)),
            );
        }
        ui.separator();
        let other = if lang == Lang::Ko { Lang::En } else { Lang::Ko };
        if ui.button(if lang == Lang::Ko { "English" } else { "한국어" }).clicked() {
            actions.push(UiAction::SetLang(other));
        }
        let share = ui.button(tr(lang, "Share", "공유"));
        share_button = Some(share.rect);
        if share.clicked() {
            let query = LaunchOptions::link_of(runs, playback.display_time, lang).to_query();
            crate::web::share(&query, ui.ctx());
        }
        if ui.button("?").on_hover_text(tr(lang, "Keyboard shortcuts", "단축키")).clicked() {
            actions.push(UiAction::ToggleHelp);
        }
        let (mean, _) = FrameCost::stats(&cost.ui_ms);
        let (advance, _) = FrameCost::stats(&cost.advance_ms);
        ui.label(RichText::new(format!("cpu {:.1}+{:.1} ms", advance, mean)).small().color(Color32::from_gray(120)));
    });
    share_button
}

/// The scrubbable timeline: markers for faults, elections, ISR changes and rebalances; click or drag to seek.
fn timeline(ui: &mut egui::Ui, runs: &Runs, playback: &Playback, lang: Lang, actions: &mut Vec<UiAction>) {
    let (rect, response) = ui.allocate_exact_size(Vec2::new(ui.available_width(), 40.0), Sense::click_and_drag());
    let painter = ui.painter_at(rect);
    let duration = runs.a.duration().max(1);
    let x_of = |t: Micros| rect.left() + rect.width() * (t as f32 / duration as f32);
    painter.rect_filled(rect, CornerRadius::same(4), Color32::from_rgb(26, 28, 34));
    // What the horizon has computed so far.
    painter.rect_filled(
        Rect::from_min_max(
            rect.left_bottom() - Vec2::new(0.0, 4.0),
            Pos2::new(x_of(runs.a.horizon_time()), rect.bottom()),
        ),
        CornerRadius::ZERO,
        Color32::from_rgb(60, 70, 90),
    );
    for marker in runs.a.markers() {
        let lane = MARKER_KINDS.iter().position(|k| *k == marker.kind).unwrap_or(0) as f32 * 9.0;
        let x = x_of(marker.time);
        painter.vline(
            x,
            (rect.top() + lane + 2.0)..=(rect.top() + lane + 10.0),
            Stroke::new(2.0, marker_colour(marker.kind)),
        );
    }
    for step in &runs.a.sim().scenario.timeline {
        if matches!(step.action, Some(Action::Predict { .. })) {
            painter.text(
                Pos2::new(x_of(step.at.0), rect.top() + 2.0),
                egui::Align2::CENTER_TOP,
                "?",
                FontId::proportional(12.0),
                Color32::WHITE,
            );
        }
    }
    let x = x_of(playback.display_time);
    painter.vline(x, rect.y_range(), Stroke::new(2.5, Color32::WHITE));
    if let Some(pos) = response.interact_pointer_pos() {
        if response.clicked() || response.dragged() {
            let fraction = ((pos.x - rect.left()) / rect.width()).clamp(0.0, 1.0);
            actions.push(UiAction::Seek((fraction as f64 * duration as f64) as Micros));
        }
    }
    ui.horizontal(|ui| {
        for (kind, en, ko) in [
            (MarkerKind::Fault, "fault", "장애"),
            (MarkerKind::Election, "election", "선출"),
            (MarkerKind::Isr, "ISR change", "ISR 변경"),
            (MarkerKind::Rebalance, "rebalance", "리밸런스"),
        ] {
            ui.label(RichText::new("▮").color(marker_colour(kind)));
            ui.label(RichText::new(tr(lang, en, ko)).small());
        }
        ui.label(RichText::new(tr(lang, "· cells: colour = producer, faded = above the HW (not committed), red frame = acked then lost · markers: green = HW, white = LEO · L leader, F follower in ISR, × out of ISR, Z zombie leader",
            "· 셀: 색 = 프로듀서, 흐림 = HW 위 (미커밋), 빨간 테두리 = ack 후 유실 · 초록 = HW, 흰색 = LEO · L 리더, F ISR 팔로워, × ISR 밖, Z 좀비 리더")).small().color(Color32::from_gray(150)));
    });
}

fn side_tabs(ui: &mut egui::Ui, tab: &mut SideTab, lang: Lang) {
    ui.horizontal_wrapped(|ui| {
        for (value, en, ko) in [
            (SideTab::Story, "Story", "스토리"),
            (SideTab::Inspector, "Inspector", "인스펙터"),
            (SideTab::Events, "Events", "이벤트"),
            (SideTab::Checker, "Checker", "검사"),
            (SideTab::Groups, "Groups", "그룹"),
            (SideTab::Config, "Config", "설정"),
        ] {
            ui.selectable_value(tab, value, tr(lang, en, ko));
        }
    });
}

/// Narration of the scenario's timeline up to now, newest last.
fn story(ui: &mut egui::Ui, run: &SimRun, lang: Lang) {
    let sim = run.sim();
    ui.label(RichText::new(sim.scenario.title.get(lang)).strong());
    let description = sim.scenario.description.get(lang);
    if !description.is_empty() {
        prose(ui, description, Color32::from_gray(190));
    }
    ui.separator();
    let mut any = false;
    for step in sim.scenario.timeline.iter().filter(|s| s.at.0 <= run.now()) {
        if let Some(say) = &step.say {
            any = true;
            ui.label(RichText::new(format_time(step.at.0)).monospace().color(Color32::from_gray(150)));
            prose(ui, say.get(lang), ui.visuals().text_color());
            ui.add_space(4.0);
        }
    }
    if !any && run.now() == 0 {
        ui.label(tr(
            lang,
            "Press ▶ (space) to start. Right-click a broker to break things.",
            "▶(스페이스)로 시작하세요. 브로커를 우클릭하면 장애를 낼 수 있습니다.",
        ));
    }
}

/// Splits scenario prose at its backticks: the `code` spans (names of topics, groups and settings) and the words
/// between them, in order. An unmatched backtick is kept as it is, in the words.
fn code_spans(text: &str) -> Vec<(&str, bool)> {
    let mut spans = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('`') {
        let Some(close) = rest[open + 1..].find('`') else { break };
        if open > 0 {
            spans.push((&rest[..open], false));
        }
        spans.push((&rest[open + 1..open + 1 + close], true));
        rest = &rest[open + 2 + close..];
    }
    if !rest.is_empty() {
        spans.push((rest, false));
    }
    spans
}

/// A paragraph of scenario text (a description, a narration line), wrapped to the panel, with its `code` spans in
/// the monospace font on a faint background instead of showing the backticks.
fn prose(ui: &mut egui::Ui, text: &str, colour: Color32) {
    use egui::text::{LayoutJob, TextFormat};
    let body = egui::TextStyle::Body.resolve(ui.style());
    let mono = egui::TextStyle::Monospace.resolve(ui.style());
    let mut job = LayoutJob::default();
    job.wrap.max_width = ui.available_width();
    for (span, code) in code_spans(text) {
        let format = if code {
            TextFormat {
                font_id: mono.clone(),
                color: colour,
                background: Color32::from_gray(45),
                ..Default::default()
            }
        } else {
            TextFormat { font_id: body.clone(), color: colour, ..Default::default() }
        };
        job.append(span, 0.0, format);
    }
    ui.label(job);
}

/// Line colours of the charts, by broker (B1 first) or partition index: the distinct colours the log cells use for
/// producers. A broker keeps its colour in both of its lines.
const LINE_COLOURS: [Color32; 8] = crate::cluster::PRODUCER_COLOURS;

/// A chart of the last minute (`ChartView`): the selected replica's partition, each replica's `log_end_offset`
/// (solid) and `high_watermark` (dashed) in its broker's colour, with leader elections as vertical lines; or the
/// selected group's lag per partition, with its generations as vertical lines.
fn draw_chart(ui: &mut egui::Ui, view: &ChartView, topo: &Topology, lang: Lang) {
    use egui_plot::{Corner, Legend, Line, LineStyle, Plot, PlotPoints, VLine};
    let title = match view.subject {
        Subject::Offsets(_) => tr(
            lang,
            "log_end_offset (solid) and high_watermark (dashed), last 60 s",
            "최근 60초의 log_end_offset(실선)과 high_watermark(점선)",
        ),
        Subject::Lag { .. } => tr(
            lang,
            "lag per partition (high_watermark - committed offset), last 60 s",
            "최근 60초의 파티션별 랙(high_watermark - 커밋 오프셋)",
        ),
    };
    ui.add_space(4.0);
    ui.label(RichText::new(title).strong());
    let chart = match &view.chart {
        Ok(chart) => chart,
        Err(error) => {
            ui.label(error);
            return;
        }
    };
    if !view.exact {
        ui.label(
            RichText::new(tr(
                lang,
                "following the run, one sample a frame; pause to see every event",
                "실행을 따라가며 프레임마다 한 번 읽습니다. 일시정지하면 모든 이벤트를 보여 줍니다",
            ))
            .small()
            .color(Color32::from_gray(150)),
        );
    }
    let seconds = |time: Micros| time as f64 / US_PER_SEC as f64;
    let colour = |index: usize| LINE_COLOURS[index % LINE_COLOURS.len()];
    let y_label = match view.subject {
        Subject::Offsets(_) => "offset",
        Subject::Lag { .. } => tr(lang, "lag", "랙"),
    };
    Plot::new(("chart", view.subject))
        .height(220.0)
        // Offsets grow from the lower left, so the upper left corner is the one most often free.
        .legend(Legend::default().position(Corner::LeftTop))
        .include_y(view.top)
        // The whole window, even where the lines start late; the value axis fits the data, so a truncation of a
        // few records on a long log still shows.
        .include_x(seconds(chart.from))
        .include_x(seconds(chart.to))
        .allow_scroll(false)
        .x_axis_label(tr(lang, "time (s)", "시간 (초)"))
        .y_axis_label(y_label)
        .show(ui, |plot| {
            for (line, points) in chart.lines.iter().zip(&view.points) {
                let points = PlotPoints::Borrowed(points);
                // Both lines of a broker share its name, so the legend has one entry per broker for the pair.
                let drawn = match line.kind {
                    LineKind::LogEndOffset(b) => Line::new(b.to_string(), points).color(colour(b.0 as usize - 1)),
                    LineKind::HighWatermark(b) => Line::new(b.to_string(), points)
                        .color(colour(b.0 as usize - 1))
                        .style(LineStyle::dashed_loose()),
                    LineKind::Lag(p) => Line::new(topo.partition_name(p), points).color(colour(p.index())),
                };
                plot.line(drawn);
            }
            for mark in &chart.marks {
                let who = mark.leader.map(|b| b.to_string()).unwrap_or_else(|| "-".to_string());
                let label = match view.subject {
                    Subject::Offsets(_) => format!("leader_epoch {}: {who}", mark.epoch),
                    Subject::Lag { .. } => format!("generation {}", mark.epoch),
                };
                plot.vline(VLine::new(label, seconds(mark.time)).color(Color32::from_rgb(240, 200, 80)));
            }
        });
}

fn inspector(
    ui: &mut egui::Ui,
    runs: &Runs,
    views: &Views,
    selection: &Selection,
    lang: Lang,
    actions: &mut Vec<UiAction>,
) {
    let sim = runs.a.sim();
    if let Some(broker) = selection.broker {
        ui.heading(broker.to_string());
        ui.horizontal_wrapped(|ui| {
            for action in BrokerAction::MENU {
                if ui.small_button(broker_action_label(action, lang)).clicked() {
                    actions
                        .push(UiAction::Intervene(kafkascope_viz_model::action::Intervene::Broker { broker, action }));
                }
            }
        });
        ui.menu_button(tr(lang, "More…", "더 보기…"), |ui| broker_menu(ui, &views.a, broker, lang, actions));
        ui.separator();
    }
    if let Some((broker, partition)) = selection.replica {
        if let Some(lines) = describe_replica(sim, broker, partition, lang) {
            for line in lines {
                ui.label(RichText::new(line).monospace().size(11.5));
            }
        }
        if let Some(view) = views.offset_chart.as_ref().filter(|c| c.subject == Subject::Offsets(partition)) {
            draw_chart(ui, view, &sim.topo, lang);
        }
        ui.separator();
    }
    if let Some(record) = selection.record {
        ui.label(RichText::new(tr(lang, "Record path", "레코드 경로")).strong());
        match &views.record_path {
            Some((r, _, Ok(path))) if *r == record => {
                ui.label(RichText::new(&path.title).monospace());
                for step in &path.steps {
                    ui.label(
                        RichText::new(format!("{:>9}  {}", format_time(step.time), step.text(lang)))
                            .monospace()
                            .size(11.0),
                    );
                }
                let colour = match path.fate {
                    kafkascope_viz_model::record::RecordFate::Survived { .. } => Color32::from_rgb(120, 220, 140),
                    kafkascope_viz_model::record::RecordFate::Pending => Color32::from_gray(200),
                    _ => Color32::from_rgb(255, 120, 120),
                };
                ui.label(RichText::new(path.fate_text(lang)).strong().color(colour));
            }
            Some((_, _, Err(error))) => {
                ui.label(error);
            }
            _ => {
                ui.label(tr(lang, "(pause to trace the record)", "(일시정지하면 경로를 계산합니다)"));
            }
        }
    }
    if selection.broker.is_none() && selection.replica.is_none() && selection.record.is_none() {
        ui.label(tr(
            lang,
            "Click a broker, a replica row or a record cell. Right-click a broker, the controller or a consumer for faults.",
            "브로커, 복제본 행, 레코드 셀을 클릭하세요. 브로커/컨트롤러/컨슈머를 우클릭하면 장애를 넣을 수 있습니다.",
        ));
    }
}

/// The last few events under the cluster picture, so that what just happened is read next to what it did.
///
/// Lines wrap at `width` and are not justified: compare mode's columns are justified layouts, which spread a wrapped
/// Korean line's syllables apart, and their rects grow with the pictures, which let lines run into the next column.
fn latest_events(ui: &mut egui::Ui, run: &SimRun, lang: Lang, count: usize, width: f32) {
    let sim = run.sim();
    let events = sim.trace.events();
    ui.with_layout(egui::Layout::top_down(egui::Align::Min), |ui| {
        ui.set_max_width(width);
        ui.label(
            RichText::new(tr(lang, "What just happened", "방금 일어난 일")).strong().color(Color32::from_gray(200)),
        );
        for event in &events[events.len().saturating_sub(count)..] {
            event_line(ui, sim, event, lang, 11.5);
        }
    });
}

/// One trace event in plain words, coloured like its timeline marker.
fn event_line(ui: &mut egui::Ui, sim: &Simulation, event: &TraceEvent, lang: Lang, size: f32) {
    let text = if lang == Lang::Ko { explain_ko(event, &sim.topo) } else { explain(event, &sim.topo) };
    let colour = MarkerKind::of(event).map_or(Color32::from_gray(205), marker_colour);
    ui.label(RichText::new(text).size(size).color(colour));
}

/// The timeline's marker kinds, top lane first.
const MARKER_KINDS: [MarkerKind; 4] = [MarkerKind::Fault, MarkerKind::Election, MarkerKind::Isr, MarkerKind::Rebalance];

/// One colour per marker kind, for the timeline, its legend and the event lines.
fn marker_colour(kind: MarkerKind) -> Color32 {
    match kind {
        MarkerKind::Fault => Color32::from_rgb(240, 100, 100),
        MarkerKind::Election => Color32::from_rgb(240, 200, 80),
        MarkerKind::Isr => Color32::from_rgb(240, 160, 75),
        MarkerKind::Rebalance => Color32::from_rgb(130, 205, 165),
    }
}

/// Every notable event in plain language, newest at the bottom.
fn event_feed(ui: &mut egui::Ui, run: &SimRun, lang: Lang) {
    let sim = run.sim();
    let events = sim.trace.events();
    let row_height = 16.0;
    egui::ScrollArea::vertical()
        .stick_to_bottom(true)
        .auto_shrink([false, false])
        .max_height(ui.available_height())
        .show_rows(ui, row_height, events.len(), |ui, range| {
            for event in &events[range] {
                event_line(ui, sim, event, lang, 11.0);
            }
        });
}

fn verdict_line(ui: &mut egui::Ui, verdict: &kafkascope_sim::history::Verdict, lang: Lang) {
    let lost = verdict.acked_lost.len();
    let colour = if verdict.is_clean() { Color32::from_rgb(120, 220, 140) } else { Color32::from_rgb(255, 120, 120) };
    ui.label(
        RichText::new(format!(
            "{} {} · {} {lost} · {} {}",
            tr(lang, "acked", "ack"),
            verdict.acked,
            tr(lang, "lost", "유실"),
            tr(lang, "duplicated", "중복"),
            verdict.duplicates.len()
        ))
        .color(colour),
    );
}

fn checker(ui: &mut egui::Ui, runs: &Runs, views: &Views, lang: Lang, actions: &mut Vec<UiAction>) {
    for (name, run, verdict) in std::iter::once(("A", &runs.a, &views.verdict_a))
        .chain(runs.b.as_ref().zip(views.verdict_b.as_ref()).map(|(b, v)| ("B", b, v)))
    {
        if runs.b.is_some() {
            ui.label(RichText::new(run_label(run, name, lang)).strong());
        }
        let live = verdict.acked.saturating_sub(verdict.acked_lost.len() as u64);
        egui::Grid::new(("checker", name)).striped(true).show(ui, |ui| {
            for (label, value) in [
                (tr(lang, "acked to producers", "프로듀서가 받은 ack"), verdict.acked.to_string()),
                (tr(lang, "acked and still in the log (live)", "ack 후 로그에 남아 있음"), live.to_string()),
                (tr(lang, "acked, then LOST", "ack 후 유실"), verdict.acked_lost.len().to_string()),
                (tr(lang, "duplicated", "중복"), verdict.duplicates.len().to_string()),
                (tr(lang, "reordered", "순서 뒤바뀜"), verdict.reordered.len().to_string()),
                (tr(lang, "failed (producer told)", "실패 (프로듀서가 앎)"), verdict.failed.to_string()),
                (
                    tr(lang, "failed, yet committed (a resend duplicates)", "실패했지만 커밋됨 (재전송하면 중복)"),
                    verdict.failed_written.len().to_string(),
                ),
                (tr(lang, "pending", "대기 중"), verdict.pending.to_string()),
                (
                    tr(lang, "replicas diverging below the HW", "HW 아래에서 다른 복제본"),
                    verdict.divergent.len().to_string(),
                ),
            ] {
                ui.label(label);
                ui.label(RichText::new(value).monospace());
                ui.end_row();
            }
        });
        if !verdict.acked_lost.is_empty() {
            ui.label(tr(lang, "Lost records (click to trace):", "유실된 레코드 (클릭해서 추적):"));
            ui.horizontal_wrapped(|ui| {
                for record in verdict.acked_lost.iter().take(60) {
                    let value = run.sim().history.value(
                        *record,
                        &run.sim().scenario.producers.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
                    );
                    if ui.small_button(value).clicked() {
                        actions.push(UiAction::SelectRecord(*record));
                    }
                }
            });
        }
        ui.separator();
    }
}

fn groups(
    ui: &mut egui::Ui,
    runs: &Runs,
    views: &Views,
    selection: &Selection,
    lang: Lang,
    actions: &mut Vec<UiAction>,
) {
    let view = &views.a;
    if view.groups.is_empty() {
        ui.label(tr(lang, "This scenario has no consumer groups.", "이 시나리오에는 컨슈머 그룹이 없습니다."));
    } else if selection.group.is_none() {
        ui.label(
            RichText::new(tr(lang, "Click a group to chart its lag.", "그룹을 누르면 랙 그래프를 그립니다."))
                .color(Color32::from_gray(150)),
        );
    }
    for group in &view.groups {
        let selected = selection.group == Some(group.index);
        let header = format!("{} · {} · generation {}", group.name, group.state, group.generation);
        if ui.selectable_label(selected, RichText::new(header).strong()).clicked() {
            actions.push(UiAction::SelectGroup(if selected { None } else { Some(group.index) }));
        }
        ui.label(format!(
            "{}: {}",
            tr(lang, "coordinator", "코디네이터"),
            group.coordinator.map_or("-".into(), |b| b.to_string())
        ));
        for member in &group.members {
            ui.label(format!("  • {member}"));
        }
        egui::Grid::new(("offsets", group.index)).striped(true).show(ui, |ui| {
            ui.label(tr(lang, "partition", "파티션"));
            ui.label(tr(lang, "committed", "커밋 오프셋"));
            ui.label(tr(lang, "lag", "랙"));
            ui.end_row();
            for (partition, committed, lag) in &group.committed {
                ui.label(view.partitions.iter().find(|p| p.idx == *partition).map_or("?".into(), |p| p.name.clone()));
                ui.label(committed.to_string());
                ui.label(lag.to_string());
                ui.end_row();
            }
        });
        if let Some(chart) =
            views.lag_chart.as_ref().filter(|c| selected && c.subject == Subject::Lag { group: group.index })
        {
            draw_chart(ui, chart, &runs.a.sim().topo, lang);
        }
        ui.separator();
    }
    for consumer in &view.consumers {
        let assigned: Vec<String> = consumer
            .assigned
            .iter()
            .map(|(p, pos)| {
                let name = view.partitions.iter().find(|x| x.idx == *p).map_or("?".into(), |x| x.name.clone());
                format!("{name}@{}", pos.map_or("-".into(), |o| o.to_string()))
            })
            .collect();
        let blocked = consumer.commit_sync_tries.map_or(String::new(), |tries| match lang {
            Lang::Ko => format!(", commitSync 대기 중({tries}번째 시도)"),
            Lang::En => format!(", blocked in commitSync (try {tries})"),
        });
        ui.label(format!(
            "{} ({:?}, g{}{blocked}): {}",
            consumer.name,
            consumer.state,
            consumer.generation,
            assigned.join(", ")
        ));
    }
}

/// The configs the panel edits, with the run's current values (the first producer's and topic's).
fn key_configs(sim: &Simulation) -> Vec<(&'static str, String)> {
    let producer = sim.producers.first();
    let topic = sim.topo.partitions.first();
    vec![
        ("acks", producer.map_or(String::new(), |p| p.config.acks.name().to_string())),
        ("min.insync.replicas", topic.map_or(String::new(), |p| p.min_insync_replicas.to_string())),
        (
            "unclean.leader.election.enable",
            topic.map_or(String::new(), |p| p.unclean_leader_election_enable.to_string()),
        ),
        ("replication.factor", topic.map_or(String::new(), |p| p.replicas.len().to_string())),
        ("linger.ms", producer.map_or(String::new(), |p| (p.config.linger / 1000).to_string())),
    ]
}

/// Scenario picker, seed, key configs and compare mode; Apply restarts from t = 0 with the same seed.
fn config(ui: &mut egui::Ui, runs: &Runs, draft: &mut ConfigDraft, lang: Lang, actions: &mut Vec<UiAction>) {
    let setup = &runs.a.setup;
    let key = (setup.name.clone(), setup.seed, setup.overrides.clone());
    if draft.filled_from.as_ref() != Some(&key) {
        let sim = runs.a.sim();
        *draft = ConfigDraft {
            scenario: setup.name.clone(),
            seed: setup.seed,
            configs: key_configs(sim),
            compare: runs.compare.join(" "),
            path: draft.path.clone(),
            filled_from: Some(key),
        };
    }
    egui::Grid::new("config").num_columns(2).show(ui, |ui| {
        ui.label(tr(lang, "scenario", "시나리오"));
        egui::ComboBox::from_id_salt("scenario").selected_text(&draft.scenario).width(240.0).show_ui(ui, |ui| {
            for name in catalog::names() {
                ui.selectable_value(&mut draft.scenario, name.to_string(), name);
            }
        });
        ui.end_row();
        ui.label("seed");
        ui.add(egui::DragValue::new(&mut draft.seed));
        ui.end_row();
        for (key, value) in &mut draft.configs {
            ui.label(*key);
            match *key {
                "acks" => {
                    ui.horizontal(|ui| {
                        for choice in ["0", "1", "all"] {
                            ui.selectable_value(value, choice.to_string(), choice);
                        }
                    });
                }
                "unclean.leader.election.enable" => {
                    let mut enabled = value == "true";
                    if ui.checkbox(&mut enabled, "").changed() {
                        *value = enabled.to_string();
                    }
                }
                _ => {
                    ui.text_edit_singleline(value);
                }
            }
            ui.end_row();
        }
        ui.label(tr(lang, "compare with", "비교 설정"));
        ui.text_edit_singleline(&mut draft.compare).on_hover_text(tr(
            lang,
            "Runs the same scenario and seed a second time with these overrides, side by side, e.g. acks=all",
            "같은 시나리오와 시드를 이 설정으로 한 번 더 나란히 실행합니다. 예: acks=all",
        ));
        ui.end_row();
    });
    ui.label(
        RichText::new(tr(
            lang,
            "Apply restarts from t = 0 with the same seed.",
            "적용하면 같은 시드로 t = 0부터 다시 시작합니다.",
        ))
        .small(),
    );
    if ui.button(tr(lang, "Apply", "적용")).clicked() {
        let scenario_changed = draft.scenario != setup.name;
        let source = if scenario_changed {
            catalog::embedded(&draft.scenario).map(str::to_string).unwrap_or_else(|| setup.source.clone())
        } else {
            setup.source.clone()
        };
        let mut overrides = Vec::new();
        if !scenario_changed {
            for ((key, edited), (_, now)) in draft.configs.iter().zip(key_configs(runs.a.sim())) {
                if *edited != now && !edited.is_empty() {
                    overrides.push(format!("{key}={edited}"));
                }
            }
            // Keep earlier overrides whose key was not changed now.
            for earlier in &setup.overrides {
                let key = earlier.split('=').next().unwrap_or("");
                if !overrides.iter().any(|o| o.starts_with(&format!("{key}="))) {
                    overrides.insert(0, earlier.clone());
                }
            }
        }
        let compare: Vec<String> = draft.compare.split_whitespace().map(str::to_string).collect();
        let setup = RunSetup { name: draft.scenario.clone(), source, seed: draft.seed, overrides };
        actions.push(UiAction::Load { setup, compare });
    }
    ui.separator();
    ui.label(RichText::new(tr(lang, "Load your own scenario file", "내 시나리오 파일 불러오기")).strong());
    #[cfg(not(target_arch = "wasm32"))]
    ui.horizontal(|ui| {
        ui.text_edit_singleline(&mut draft.path);
        if ui.button(tr(lang, "Load", "불러오기")).clicked() {
            match std::fs::read_to_string(&draft.path) {
                Ok(text) => actions.push(UiAction::LoadFile { name: draft.path.clone(), text }),
                Err(error) => {
                    actions.push(UiAction::LoadFile { name: draft.path.clone(), text: format!("// {error}") })
                }
            }
        }
    });
    ui.label(
        RichText::new(tr(lang, "…or drop a .ron file on the window.", "…또는 .ron 파일을 창에 끌어다 놓으세요."))
            .small(),
    );
    ui.separator();
}

fn prediction_window(
    ctx: &egui::Context,
    run: &SimRun,
    narration: &Narration,
    lang: Lang,
    actions: &mut Vec<UiAction>,
) {
    let Some((index, answer)) = narration.open else { return };
    let Some(step) = run.sim().scenario.timeline.get(index) else { return };
    let Some(Action::Predict { question, choices, answer: right, reveal }) = &step.action else { return };
    egui::Window::new(tr(lang, "Predict", "예측해 보세요"))
        .collapsible(false)
        .anchor(egui::Align2::CENTER_CENTER, Vec2::ZERO)
        .default_width(460.0)
        .show(ctx, |ui| {
            ui.label(RichText::new(question.get(lang)).size(15.0));
            ui.add_space(6.0);
            match answer {
                None => {
                    for (i, choice) in choices.iter().enumerate() {
                        if ui.button(format!("{}. {}", (b'a' + i as u8) as char, choice.get(lang))).clicked() {
                            actions.push(UiAction::AnswerPrediction(Some(i)));
                        }
                    }
                    if ui.button(tr(lang, "Just show me", "그냥 보여 주세요")).clicked() {
                        actions.push(UiAction::AnswerPrediction(None));
                    }
                }
                Some(given) => {
                    if let (Some(given), Some(right)) = (given, right) {
                        let correct = given as u32 == *right;
                        ui.label(
                            RichText::new(if correct {
                                tr(lang, "Right!", "정답!")
                            } else {
                                tr(lang, "Not quite.", "아쉽네요.")
                            })
                            .strong()
                            .color(if correct {
                                Color32::from_rgb(120, 220, 140)
                            } else {
                                Color32::from_rgb(255, 150, 120)
                            }),
                        );
                    }
                    ui.label(reveal.get(lang));
                    if ui.button(tr(lang, "Continue ▶", "계속 ▶")).clicked() {
                        actions.push(UiAction::DismissPrediction);
                    }
                }
            }
        });
}

fn help_window(ctx: &egui::Context, narration: &Narration, lang: Lang, actions: &mut Vec<UiAction>) {
    if !narration.help_open {
        return;
    }
    egui::Window::new(tr(lang, "Keyboard shortcuts", "단축키")).collapsible(false).show(ctx, |ui| {
        egui::Grid::new("help").striped(true).show(ui, |ui| {
            for (key, en, ko) in [
                ("space", "play / pause", "재생 / 일시정지"),
                ("→ / ←", "next / previous event", "다음 / 이전 이벤트"),
                ("+ / -", "faster / slower (0.01x to 100x)", "빠르게 / 느리게 (0.01x ~ 100x)"),
                ("c", "hard-crash the selected broker", "선택한 브로커 하드 크래시"),
                ("r", "restart the selected broker", "선택한 브로커 재시작"),
                ("p / u", "pause / resume the selected broker", "선택한 브로커 일시정지 / 재개"),
                ("i", "isolate the selected broker", "선택한 브로커 격리"),
                ("s", "slow the selected broker (+200 ms)", "선택한 브로커 느리게 (+200ms)"),
                ("esc", "clear the selection", "선택 해제"),
                ("? / h", "this help", "이 도움말"),
                (
                    "right-click",
                    "fault menu of a broker, the controller or a consumer",
                    "브로커/컨트롤러/컨슈머 장애 메뉴",
                ),
                (
                    "timeline",
                    "click or drag to scrub; acting in the past forks",
                    "클릭/드래그로 이동; 과거에서 조작하면 분기",
                ),
            ] {
                ui.label(RichText::new(key).monospace());
                ui.label(tr(lang, en, ko));
                ui.end_row();
            }
        });
        if ui.button(tr(lang, "Close", "닫기")).clicked() {
            actions.push(UiAction::ToggleHelp);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::code_spans;

    #[test]
    fn backticks_mark_code_spans_and_an_unmatched_one_stays() {
        assert_eq!(
            code_spans("group `billing` reads `orders`."),
            vec![("group ", false), ("billing", true), (" reads ", false), ("orders", true), (".", false)]
        );
        assert_eq!(code_spans("`acks=1`"), vec![("acks=1", true)]);
        assert_eq!(code_spans("no code"), vec![("no code", false)]);
        assert_eq!(code_spans("a ` b"), vec![("a ` b", false)]);
    }
}
