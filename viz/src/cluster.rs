//! The cluster picture, painted with egui: the controller, broker boxes with their replicas' logs (cells coloured by
//! producer, epoch boundaries, HW and LEO markers, leader and ISR marks), producers on the left, consumers on the
//! right, messages in flight as dots along their links, cut links in red, down nodes greyed.

use crate::{Selection, UiAction};
use bevy_egui::egui::{self, Align2, Color32, CornerRadius, FontId, Pos2, Rect, Sense, Stroke, StrokeKind, Vec2};
use kafkascope_sim::ids::{BrokerId, NodeId, CONTROLLER};
use kafkascope_sim::net::NodeStatus;
use kafkascope_sim::scenario::Lang;
use kafkascope_sim::time::US_PER_MS;
use kafkascope_viz_model::action::{BrokerAction, ConsumerAction, Intervene};
use kafkascope_viz_model::view::{message_family, ClusterView, MessageFamily, ReplicaView};

const HEADER_HEIGHT: f32 = 24.0;
const NAME_WIDTH: f32 = 116.0;
const LABEL_WIDTH: f32 = 112.0;
const GAP: f32 = 10.0;

pub const PRODUCER_COLOURS: [Color32; 8] = [
    Color32::from_rgb(86, 156, 214),
    Color32::from_rgb(206, 145, 80),
    Color32::from_rgb(152, 195, 121),
    Color32::from_rgb(198, 120, 221),
    Color32::from_rgb(229, 192, 123),
    Color32::from_rgb(86, 182, 194),
    Color32::from_rgb(224, 108, 117),
    Color32::from_rgb(171, 178, 191),
];
const INTERNAL_COLOUR: Color32 = Color32::from_rgb(95, 95, 110);
const LEADER_GOLD: Color32 = Color32::from_rgb(240, 200, 80);
const HW_GREEN: Color32 = Color32::from_rgb(90, 220, 120);
const LEO_WHITE: Color32 = Color32::from_rgb(235, 235, 235);
const WARN_ORANGE: Color32 = Color32::from_rgb(240, 150, 60);
const DANGER_RED: Color32 = Color32::from_rgb(235, 80, 80);

/// Where each node was drawn, for links, flights and the web page's click targets.
#[derive(Default, Clone, Debug)]
pub struct Layout {
    pub anchors: Vec<(NodeId, Rect)>,
    /// Broker boxes in screen points.
    pub brokers: Vec<(BrokerId, Rect)>,
    /// How many log cells a replica row shows.
    pub cells_fit: usize,
}

impl Layout {
    fn anchor(&self, node: NodeId) -> Option<Rect> {
        self.anchors.iter().find(|(n, _)| *n == node).map(|(_, r)| *r)
    }
}

fn tr<'a>(lang: Lang, en: &'a str, ko: &'a str) -> &'a str {
    if lang == Lang::Ko {
        ko
    } else {
        en
    }
}

/// Draws the whole cluster into `ui` and returns where the nodes are.
pub fn draw_cluster(
    ui: &mut egui::Ui,
    view: &ClusterView,
    selection: &Selection,
    lang: Lang,
    id_salt: &str,
    actions: &mut Vec<UiAction>,
) -> Layout {
    let mut layout = Layout::default();
    let full = ui.available_rect_before_wrap();
    let has_consumers = !view.consumers.is_empty();
    let left_w = 112.0;
    let right_w = if has_consumers { 150.0 } else { 0.0 };
    let middle = Rect::from_min_max(
        Pos2::new(full.left() + left_w + GAP, full.top()),
        Pos2::new(full.right() - right_w - if has_consumers { GAP } else { 0.0 }, full.bottom()),
    );
    let controller_rect =
        Rect::from_center_size(Pos2::new(middle.center().x, middle.top() + 18.0), Vec2::new(180.0, 30.0));
    let grid_top = controller_rect.bottom() + 26.0;
    // Broker grid: the fewest columns whose boxes fit the height (wider boxes show longer logs), at least 300
    // points wide.
    let n = view.brokers.len().max(1);
    let max_cols = ((middle.width() / 300.0).floor() as usize).clamp(1, n);
    let height_with = |cols: usize| -> f32 {
        view.brokers
            .chunks(cols)
            .map(|row| {
                HEADER_HEIGHT + 6.0 + GAP + 18.0 * row.iter().map(|b| b.replicas.len()).max().unwrap_or(0) as f32
            })
            .sum()
    };
    let cols = (1..=max_cols).find(|&c| grid_top + height_with(c) <= full.bottom()).unwrap_or(max_cols);
    let box_w = (middle.width() - GAP * (cols as f32 - 1.0)) / cols as f32;
    // Rows grow to use the height there is, within legible bounds.
    let grid_rows: Vec<usize> =
        view.brokers.chunks(cols).map(|row| row.iter().map(|b| b.replicas.len()).max().unwrap_or(0)).collect();
    let replica_rows: usize = grid_rows.iter().sum();
    let spare = full.bottom() - grid_top - (HEADER_HEIGHT + 6.0 + GAP) * grid_rows.len() as f32;
    let row_height = (spare / replica_rows.max(1) as f32).clamp(16.0, 30.0);
    // Each partition's first shown offset is shared by its replicas, so that their logs line up; as many cells as
    // fit at a legible width.
    let cells_w = box_w - 8.0 - NAME_WIDTH - LABEL_WIDTH;
    let have = view.brokers.iter().flat_map(|b| &b.replicas).map(|r| r.cells.len()).max().unwrap_or(1);
    let fit = ((cells_w / 9.0).floor() as usize).clamp(4, 96);
    layout.cells_fit = fit;
    let max_cells = fit.min(have.max(4));
    let mut starts = vec![0u64; view.partitions.iter().map(|p| p.idx.index() + 1).max().unwrap_or(0)];
    for p in &view.partitions {
        starts[p.idx.index()] = p.window_end.saturating_sub(max_cells as u64);
    }
    // Layout first, so that links are drawn under the boxes.
    let mut y = grid_top;
    let mut broker_rects = Vec::new();
    for (row, &rows) in view.brokers.chunks(cols).zip(&grid_rows) {
        let row_h = HEADER_HEIGHT + row_height * rows as f32 + 6.0;
        for (i, broker) in row.iter().enumerate() {
            let x = middle.left() + i as f32 * (box_w + GAP);
            let height = HEADER_HEIGHT + row_height * broker.replicas.len() as f32 + 6.0;
            let rect = Rect::from_min_size(Pos2::new(x, y), Vec2::new(box_w, height));
            layout.anchors.push((broker.id.node(), rect));
            layout.brokers.push((broker.id, rect));
            broker_rects.push((broker, rect));
        }
        y += row_h + GAP;
    }
    let mut content_bottom = y;
    layout.anchors.push((CONTROLLER, controller_rect));
    let client_h = 40.0;
    let producer_rects: Vec<Rect> = (0..view.producers.len())
        .map(|i| {
            Rect::from_min_size(
                Pos2::new(full.left(), grid_top + i as f32 * (client_h + GAP)),
                Vec2::new(left_w, client_h),
            )
        })
        .collect();
    let consumer_rects: Vec<Rect> = (0..view.consumers.len())
        .map(|i| {
            Rect::from_min_size(
                Pos2::new(full.right() - right_w, grid_top + i as f32 * (client_h + 8.0 + GAP)),
                Vec2::new(right_w, client_h + 8.0),
            )
        })
        .collect();
    for (producer, rect) in view.producers.iter().zip(&producer_rects) {
        layout.anchors.push((producer.node, *rect));
        content_bottom = content_bottom.max(rect.bottom() + GAP);
    }
    for (consumer, rect) in view.consumers.iter().zip(&consumer_rects) {
        layout.anchors.push((consumer.node, *rect));
        content_bottom = content_bottom.max(rect.bottom() + GAP);
    }
    draw_cut_links(ui, view, &layout);
    for (broker, rect) in broker_rects {
        draw_broker(ui, view, broker, rect, row_height, &starts, max_cells, selection, lang, id_salt, actions);
    }
    // The controller.
    let controller_down = view.controller_status != Some(NodeStatus::Up);
    let response = ui.interact(controller_rect, ui.id().with((id_salt, "controller")), Sense::CLICK);
    let painter = ui.painter();
    painter.rect_filled(
        controller_rect,
        CornerRadius::same(6),
        if controller_down { Color32::from_gray(50) } else { Color32::from_rgb(60, 48, 92) },
    );
    painter.rect_stroke(
        controller_rect,
        CornerRadius::same(6),
        Stroke::new(1.0, Color32::from_gray(170)),
        StrokeKind::Inside,
    );
    let label = if controller_down {
        tr(lang, "controller · DOWN", "컨트롤러 · 다운")
    } else {
        tr(lang, "controller (KRaft)", "컨트롤러 (KRaft)")
    };
    painter.text(controller_rect.center(), Align2::CENTER_CENTER, label, FontId::proportional(13.0), Color32::WHITE);
    response.context_menu(|ui| {
        if ui.button(tr(lang, "Crash the controller", "컨트롤러 크래시")).clicked() {
            actions.push(UiAction::Intervene(Intervene::CrashController));
            ui.close();
        }
        if ui.button(tr(lang, "Restart the controller", "컨트롤러 재시작")).clicked() {
            actions.push(UiAction::Intervene(Intervene::RestartController));
            ui.close();
        }
    });
    // Producers on the left, consumers on the right.
    for (i, (producer, rect)) in view.producers.iter().zip(&producer_rects).enumerate() {
        let colour = PRODUCER_COLOURS[i % PRODUCER_COLOURS.len()];
        draw_client(ui, *rect, &producer.name, &producer.detail, colour, producer.status, lang);
    }
    for (consumer, rect) in view.consumers.iter().zip(&consumer_rects) {
        let rect = *rect;
        let group = view.groups.get(consumer.group as usize).map_or("", |g| g.name.as_str());
        let parts: Vec<String> = consumer.assigned.iter().map(|(p, _)| short_partition(view, *p)).collect();
        // Blocked in commitSync says more than the member state (the Groups tab counts the tries).
        let state = match (consumer.commit_sync_tries, lang) {
            (Some(_), Lang::Ko) => "commitSync 대기".to_string(),
            (Some(_), Lang::En) => "in commitSync".to_string(),
            (None, _) => format!("{:?}", consumer.state),
        };
        let detail = format!("{group} g{} {state}\n[{}]", consumer.generation, parts.join(","));
        let response =
            draw_client(ui, rect, &consumer.name, &detail, Color32::from_rgb(120, 170, 140), consumer.status, lang);
        let index = consumer.index;
        response.context_menu(|ui| {
            for (label, action) in [
                (tr(lang, "Crash consumer", "컨슈머 크래시"), ConsumerAction::Crash),
                (tr(lang, "Close consumer (leave group)", "컨슈머 종료 (그룹 탈퇴)"), ConsumerAction::Close),
                (tr(lang, "Start consumer", "컨슈머 시작"), ConsumerAction::Start),
                (
                    tr(lang, "Make it slow (2 s per record)", "느리게 (레코드당 2초)"),
                    ConsumerAction::Slow(2_000 * US_PER_MS),
                ),
            ] {
                if ui.button(label).clicked() {
                    actions.push(UiAction::Intervene(Intervene::Consumer { consumer: index, action }));
                    ui.close();
                }
            }
        });
    }
    draw_flights(ui, view, &layout);
    ui.allocate_rect(Rect::from_min_max(full.min, Pos2::new(full.right(), content_bottom)), Sense::hover());
    layout
}

fn short_partition(view: &ClusterView, p: kafkascope_sim::ids::PartitionIdx) -> String {
    view.partitions.iter().find(|x| x.idx == p).map_or_else(|| format!("#{}", p.0), |x| x.name.clone())
}

fn draw_client(
    ui: &mut egui::Ui,
    rect: Rect,
    name: &str,
    detail: &str,
    colour: Color32,
    status: NodeStatus,
    lang: Lang,
) -> egui::Response {
    let response = ui.interact(rect, ui.id().with(("client", name)), Sense::CLICK);
    let painter = ui.painter();
    let down = status != NodeStatus::Up;
    painter.rect_filled(
        rect,
        CornerRadius::same(5),
        if down { Color32::from_gray(45) } else { Color32::from_rgb(32, 36, 44) },
    );
    painter.rect_stroke(rect, CornerRadius::same(5), Stroke::new(1.5, colour), StrokeKind::Inside);
    let title = match status {
        NodeStatus::Up => name.to_string(),
        NodeStatus::Crashed => format!("{name} · {}", tr(lang, "DOWN", "다운")),
        NodeStatus::Paused => format!("{name} · {}", tr(lang, "PAUSED", "일시정지")),
    };
    painter.text(
        rect.left_top() + Vec2::new(6.0, 4.0),
        Align2::LEFT_TOP,
        title,
        FontId::proportional(13.0),
        Color32::WHITE,
    );
    painter.text(
        rect.left_top() + Vec2::new(6.0, 20.0),
        Align2::LEFT_TOP,
        detail,
        FontId::proportional(10.5),
        Color32::from_gray(190),
    );
    response
}

#[allow(clippy::too_many_arguments)]
fn draw_broker(
    ui: &mut egui::Ui,
    view: &ClusterView,
    broker: &kafkascope_viz_model::view::BrokerView,
    rect: Rect,
    row_height: f32,
    starts: &[u64],
    max_cells: usize,
    selection: &Selection,
    lang: Lang,
    id_salt: &str,
    actions: &mut Vec<UiAction>,
) {
    let header = Rect::from_min_size(rect.min, Vec2::new(rect.width(), HEADER_HEIGHT));
    let response = ui.interact(header, ui.id().with((id_salt, "broker", broker.id.0)), Sense::CLICK);
    let selected = selection.broker == Some(broker.id);
    let (fill, status_text, status_colour) = match broker.status {
        NodeStatus::Crashed => (Color32::from_gray(58), tr(lang, "× DOWN", "× 다운"), DANGER_RED),
        NodeStatus::Paused => (Color32::from_rgb(62, 54, 24), tr(lang, "PAUSED (GC)", "일시정지 (GC)"), WARN_ORANGE),
        NodeStatus::Up if broker.fenced => (Color32::from_rgb(44, 36, 36), tr(lang, "fenced", "펜싱됨"), WARN_ORANGE),
        NodeStatus::Up => (Color32::from_rgb(28, 40, 60), "", Color32::WHITE),
    };
    let painter = ui.painter().clone();
    painter.rect_filled(rect, CornerRadius::same(6), fill);
    painter.rect_stroke(
        rect,
        CornerRadius::same(6),
        Stroke::new(
            if selected || response.hovered() { 2.5 } else { 1.0 },
            if selected { LEADER_GOLD } else { Color32::from_gray(150) },
        ),
        StrokeKind::Inside,
    );
    painter.text(
        header.left_center() + Vec2::new(8.0, 0.0),
        Align2::LEFT_CENTER,
        &broker.name,
        FontId::proportional(15.0),
        Color32::WHITE,
    );
    let mut badges = status_text.to_string();
    if broker.shutting_down {
        badges.push_str(tr(lang, "  shutting down", "  종료 중"));
    }
    if broker.extra_latency > 0 {
        badges.push_str(&format!("  {} +{}ms", tr(lang, "slow", "느림"), broker.extra_latency / US_PER_MS));
    }
    painter.text(
        header.right_center() - Vec2::new(8.0, 0.0),
        Align2::RIGHT_CENTER,
        badges,
        FontId::proportional(12.0),
        status_colour,
    );
    let broker_id = broker.id;
    response.context_menu(|ui| broker_menu(ui, view, broker_id, lang, actions));
    if response.clicked() {
        actions.push(UiAction::SelectBroker(Some(broker_id)));
    }
    let down = broker.is_down();
    for (i, replica) in broker.replicas.iter().enumerate() {
        let row = Rect::from_min_size(
            Pos2::new(rect.left() + 4.0, rect.top() + HEADER_HEIGHT + i as f32 * row_height),
            Vec2::new(rect.width() - 8.0, row_height - 2.0),
        );
        let start = starts.get(replica.partition.index()).copied().unwrap_or(0);
        draw_replica_row(ui, view, replica, row, start, max_cells, selection, down, id_salt, actions);
    }
}

/// The broker's menu: every fault the scenario timeline can inject, on this broker.
pub fn broker_menu(ui: &mut egui::Ui, view: &ClusterView, broker: BrokerId, lang: Lang, actions: &mut Vec<UiAction>) {
    ui.label(egui::RichText::new(broker.to_string()).strong());
    for action in BrokerAction::MENU {
        if ui.button(broker_action_label(action, lang)).clicked() {
            actions.push(UiAction::Intervene(Intervene::Broker { broker, action }));
            ui.close();
        }
    }
    ui.menu_button(tr(lang, "Cut link to…", "링크 끊기…"), |ui| {
        for (i, name) in view.node_names.iter().enumerate() {
            let other = NodeId(i as u32);
            if other == broker.node() {
                continue;
            }
            if ui.button(name).clicked() {
                actions.push(UiAction::Intervene(Intervene::CutLink {
                    from: broker.node(),
                    to: other,
                    both_ways: true,
                }));
                ui.close();
            }
        }
    });
    if ui.button(tr(lang, "Heal all links", "모든 링크 복구")).clicked() {
        actions.push(UiAction::Intervene(Intervene::HealAll));
        ui.close();
    }
}

pub fn broker_action_label(action: BrokerAction, lang: Lang) -> String {
    match action {
        BrokerAction::HardCrash => tr(lang, "Hard crash (kill -9)  [c]", "하드 크래시 (kill -9)  [c]").into(),
        BrokerAction::PowerLoss => tr(lang, "Power loss (lose unflushed)", "전원 차단 (flush 안 된 로그 유실)").into(),
        BrokerAction::ControlledShutdown => tr(lang, "Controlled shutdown", "정상 종료 (controlled shutdown)").into(),
        BrokerAction::Restart => tr(lang, "Restart  [r]", "재시작  [r]").into(),
        BrokerAction::Pause => tr(lang, "Pause (long GC)  [p]", "일시정지 (긴 GC)  [p]").into(),
        BrokerAction::Resume => tr(lang, "Resume", "재개").into(),
        BrokerAction::Isolate => tr(lang, "Isolate from the network  [i]", "네트워크에서 격리  [i]").into(),
        BrokerAction::Slow(extra) => format!("{} +{}ms  [s]", tr(lang, "Slow down", "느리게"), extra / US_PER_MS),
    }
}

#[allow(clippy::too_many_arguments)]
fn draw_replica_row(
    ui: &mut egui::Ui,
    view: &ClusterView,
    replica: &ReplicaView,
    row: Rect,
    start: u64,
    max_cells: usize,
    selection: &Selection,
    broker_down: bool,
    id_salt: &str,
    actions: &mut Vec<UiAction>,
) {
    if !ui.is_rect_visible(row) {
        return;
    }
    let partition = view.partitions.iter().find(|p| p.idx == replica.partition);
    let response =
        ui.interact(row, ui.id().with((id_salt, "replica", replica.broker.0, replica.partition.0)), Sense::CLICK);
    if response.clicked() {
        actions.push(UiAction::SelectReplica(replica.broker, replica.partition));
    }
    let painter = ui.painter_at(row.expand(1.0));
    let selected = selection.replica == Some((replica.broker, replica.partition));
    let dim = broker_down || !replica.in_isr;
    let background = if selected {
        Color32::from_rgb(58, 58, 30)
    } else if !replica.in_isr {
        Color32::from_rgb(48, 30, 30)
    } else {
        Color32::from_rgb(24, 32, 46)
    };
    painter.rect_filled(row, CornerRadius::same(3), background);
    // The name column: partition, leader mark, flags.
    let (mark, mark_colour) = if replica.is_zombie_leader() {
        ("Z", DANGER_RED)
    } else if replica.is_leader {
        ("L", LEADER_GOLD)
    } else if replica.in_isr {
        ("F", Color32::from_gray(190))
    } else {
        ("×", WARN_ORANGE)
    };
    let name = partition.map_or("?", |p| p.name.as_str());
    painter.text(
        row.left_center() + Vec2::new(3.0, 0.0),
        Align2::LEFT_CENTER,
        mark,
        FontId::monospace(12.0),
        mark_colour,
    );
    painter.text(
        row.left_center() + Vec2::new(14.0, 0.0),
        Align2::LEFT_CENTER,
        name,
        FontId::proportional(11.5),
        if dim { Color32::from_gray(150) } else { Color32::WHITE },
    );
    if let Some(p) = partition {
        let flag = if p.offline {
            Some(("OFFLINE", DANGER_RED))
        } else if p.under_min_isr {
            Some(("<minISR", DANGER_RED))
        } else if p.under_replicated {
            Some(("URP", WARN_ORANGE))
        } else {
            None
        };
        if let Some((text, colour)) = flag {
            if replica.is_leader || p.offline {
                painter.text(
                    row.left_center() + Vec2::new(NAME_WIDTH - 4.0, 0.0),
                    Align2::RIGHT_CENTER,
                    text,
                    FontId::proportional(9.5),
                    colour,
                );
            }
        }
    }
    // The log: one cell per record, aligned on the partition's shared start offset.
    let cells_left = row.left() + NAME_WIDTH;
    let cells_w = (row.width() - NAME_WIDTH - LABEL_WIDTH).max(20.0);
    let cell_w = (cells_w / max_cells as f32).clamp(3.0, 16.0);
    let x_of = |offset: u64| cells_left + (offset.saturating_sub(start)) as f32 * cell_w;
    for cell in &replica.cells {
        if cell.offset < start || cell.offset >= start + max_cells as u64 {
            continue;
        }
        let cell_rect = Rect::from_min_size(
            Pos2::new(x_of(cell.offset) + 0.5, row.top() + 3.0),
            Vec2::new(cell_w - 1.0, row.height() - 6.0),
        );
        let mut colour = match cell.producer {
            Some(p) => PRODUCER_COLOURS[p as usize % PRODUCER_COLOURS.len()],
            None => INTERNAL_COLOUR,
        };
        if cell.offset >= replica.high_watermark {
            // Not committed yet: consumers cannot read it (Kafka docs: consumers read only below the high watermark).
            colour = colour.gamma_multiply(0.45);
        }
        if dim {
            colour = colour.gamma_multiply(0.6);
        }
        painter.rect_filled(cell_rect, CornerRadius::same(1), colour);
        if cell.lost {
            painter.rect_stroke(cell_rect, CornerRadius::same(1), Stroke::new(2.0, DANGER_RED), StrokeKind::Outside);
        }
        if selection.record == Some(cell.record) {
            painter.rect_stroke(
                cell_rect,
                CornerRadius::same(1),
                Stroke::new(2.0, Color32::WHITE),
                StrokeKind::Outside,
            );
        }
        if cell.epoch_boundary {
            painter.vline(cell_rect.left() - 0.5, row.y_range(), Stroke::new(2.0, Color32::from_rgb(200, 120, 255)));
        }
        let cell_response = ui.interact(cell_rect, response.id.with(cell.offset), Sense::CLICK);
        if cell_response.clicked() {
            actions.push(UiAction::SelectRecord(cell.record));
        }
        cell_response.on_hover_text(format!("offset {} · leader_epoch {}", cell.offset, cell.leader_epoch));
    }
    // HW and LEO markers; an arrow when one lies outside the window shown.
    let end = start + max_cells as u64;
    let clamp_x = |offset: u64| x_of(offset.clamp(start, end));
    painter.vline(clamp_x(replica.high_watermark), row.top()..=row.bottom(), Stroke::new(2.0, HW_GREEN));
    painter.vline(
        clamp_x(replica.log_end_offset),
        (row.top() + 4.0)..=(row.bottom() - 4.0),
        Stroke::new(1.5, LEO_WHITE),
    );
    if replica.log_end_offset > end {
        painter.text(
            Pos2::new(x_of(end) + 2.0, row.center().y),
            Align2::LEFT_CENTER,
            "▶",
            FontId::proportional(10.0),
            LEO_WHITE,
        );
    } else if replica.log_end_offset < start {
        painter.text(
            Pos2::new(x_of(start) + 3.0, row.center().y),
            Align2::LEFT_CENTER,
            "◀",
            FontId::proportional(10.0),
            LEO_WHITE,
        );
    }
    painter.text(
        row.right_center() - Vec2::new(2.0, 0.0),
        Align2::RIGHT_CENTER,
        format!("HW {} · LEO {}", replica.high_watermark, replica.log_end_offset),
        FontId::monospace(9.5),
        if dim { Color32::from_gray(140) } else { Color32::from_gray(220) },
    );
}

/// Cut links as red dashed lines with a cross, under the boxes.
fn draw_cut_links(ui: &egui::Ui, view: &ClusterView, layout: &Layout) {
    let painter = ui.painter();
    for &(from, to) in &view.cut_links {
        let (Some(a), Some(b)) = (layout.anchor(from), layout.anchor(to)) else { continue };
        if from.0 > to.0 && view.cut_links.contains(&(to, from)) {
            continue;
        }
        let (pa, pb) = edge_points(a, b);
        painter.add(egui::Shape::dashed_line(&[pa, pb], Stroke::new(2.0, DANGER_RED), 6.0, 4.0));
        let mid = pa + (pb - pa) * 0.5;
        painter.line_segment([mid + Vec2::new(-5.0, -5.0), mid + Vec2::new(5.0, 5.0)], Stroke::new(2.5, DANGER_RED));
        painter.line_segment([mid + Vec2::new(-5.0, 5.0), mid + Vec2::new(5.0, -5.0)], Stroke::new(2.5, DANGER_RED));
    }
}

/// Messages in flight as dots moving from sender to receiver.
fn draw_flights(ui: &egui::Ui, view: &ClusterView, layout: &Layout) {
    let painter = ui.painter();
    let horizon = view.in_flight.iter().map(|f| f.arrives_at.saturating_sub(view.now)).max().unwrap_or(1).max(1);
    for flight in view.in_flight.iter().take(600) {
        let (Some(a), Some(b)) = (layout.anchor(flight.from), layout.anchor(flight.to)) else { continue };
        let (pa, pb) = edge_points(a, b);
        let remaining = flight.arrives_at.saturating_sub(view.now) as f32 / horizon as f32;
        let at = pa + (pb - pa) * (1.0 - remaining.clamp(0.0, 1.0));
        painter.line_segment([pa, pb], Stroke::new(0.6, Color32::from_white_alpha(18)));
        painter.circle_filled(at, 3.5, family_colour(message_family(flight.kind)));
    }
}

pub fn family_colour(family: MessageFamily) -> Color32 {
    match family {
        MessageFamily::Produce => Color32::from_rgb(86, 156, 214),
        MessageFamily::Fetch => Color32::from_rgb(152, 195, 121),
        MessageFamily::Heartbeat => Color32::from_rgb(200, 200, 200),
        MessageFamily::Metadata => Color32::from_rgb(198, 120, 221),
        MessageFamily::Group => Color32::from_rgb(229, 192, 123),
        MessageFamily::ConsumerFetch => Color32::from_rgb(86, 182, 194),
    }
}

/// The points where the segment between two boxes' centres leaves each box.
fn edge_points(a: Rect, b: Rect) -> (Pos2, Pos2) {
    let clip = |rect: Rect, from: Pos2, to: Pos2| -> Pos2 {
        let d = to - from;
        let tx = if d.x.abs() > 1e-3 { (rect.width() / 2.0) / d.x.abs() } else { f32::INFINITY };
        let ty = if d.y.abs() > 1e-3 { (rect.height() / 2.0) / d.y.abs() } else { f32::INFINITY };
        from + d * tx.min(ty).min(1.0)
    };
    (clip(a, a.center(), b.center()), clip(b, b.center(), a.center()))
}
