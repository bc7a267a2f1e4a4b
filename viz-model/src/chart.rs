//! Charts of the last minute of a run, for the inspector and the groups tab:
//! - one partition's replicas: each replica's `log_end_offset` and `high_watermark`, with the controller's leader
//!   elections. Learners see the high watermark follow the followers' fetches, stall while the ISR waits for a slow
//!   member, and a returning leader's log end offset fall when it truncates.
//! - one consumer group: its lag per partition (`high_watermark` minus the committed offset, the LAG column of
//!   `kafka-consumer-groups`), with the group's generations. Learners see lag grow while nobody consumes (a crashed
//!   member before `session.timeout.ms`) and drain after the rebalance.
//!
//! Built by re-simulating the window from the nearest checkpoint and reading the simulation as it goes; the numbers
//! are the simulation's own, never interpolated. While the run plays, a chart follows it one sample a frame.

use crate::run::SimRun;
use kafkascope_sim::ids::{BrokerId, PartitionIdx};
use kafkascope_sim::sim::{SimError, Simulation};
use kafkascope_sim::time::{Micros, US_PER_SEC};

/// How far back a chart looks from the shown time: long enough for a fault and its recovery, short enough that
/// re-simulating it stays quick on a large cluster.
pub const WINDOW: Micros = 60 * US_PER_SEC;

/// At most this many points per line; a longer line keeps the lowest and highest point of each stretch of time, so
/// a truncation still shows as a drop.
pub const MAX_POINTS: usize = 2000;

/// A group's lag is read at most this often during a re-simulation (reading it looks up the committed offsets);
/// every commit and high watermark move still lands within this much of its time.
const LAG_SAMPLE_INTERVAL: Micros = 10_000;

/// What a chart follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    /// Each replica's `log_end_offset` and `high_watermark`; marks are leader elections.
    Offsets(PartitionIdx),
    /// A consumer group's lag per partition of its topics; marks are the group's generations.
    Lag { group: u32 },
}

/// What one line shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    LogEndOffset(BrokerId),
    HighWatermark(BrokerId),
    Lag(PartitionIdx),
}

/// One line: the times its value changed and the new values (a value holds until the next one).
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub kind: LineKind,
    pub points: Vec<(Micros, u64)>,
}

/// A new leader epoch (a leader election) or a new group generation (a rebalance), and who leads it: the elected
/// broker, or the group's coordinator.
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    pub time: Micros,
    pub epoch: u32,
    pub leader: Option<BrokerId>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    pub subject: Subject,
    /// The window shown, `from..=to`.
    pub from: Micros,
    pub to: Micros,
    pub lines: Vec<Line>,
    pub marks: Vec<Mark>,
    /// The epoch or generation at `to`, so that following the run can tell a new one.
    pub epoch: u32,
}

impl Subject {
    /// The lines this subject draws: two per replica in replica order, or one per partition of the topics the
    /// group's members subscribe to.
    fn lines(self, sim: &Simulation) -> Vec<LineKind> {
        match self {
            Subject::Offsets(partition) => sim
                .topo
                .partition(partition)
                .replicas
                .iter()
                .flat_map(|&b| [LineKind::LogEndOffset(b), LineKind::HighWatermark(b)])
                .collect(),
            Subject::Lag { group } => {
                let mut topics: Vec<usize> = sim
                    .scenario
                    .consumers
                    .iter()
                    .filter(|c| c.group == group as usize)
                    .flat_map(|c| c.topics.iter().copied())
                    .collect();
                topics.sort_unstable();
                topics.dedup();
                topics
                    .into_iter()
                    .flat_map(|t| {
                        (0..sim.topo.topics[t].partitions).map(move |p| LineKind::Lag(sim.topo.partition_idx(t, p)))
                    })
                    .collect()
            }
        }
    }

    /// The epoch or generation now, and who leads it.
    fn epoch(self, sim: &Simulation) -> (u32, Option<BrokerId>) {
        match self {
            Subject::Offsets(partition) => {
                let state = &sim.controller.partitions[partition.index()];
                (state.leader_epoch, state.leader)
            }
            Subject::Lag { group } => {
                sim.group_coordinator(group).map(|(broker, g)| (g.generation, Some(broker))).unwrap_or((0, None))
            }
        }
    }
}

/// A group's lag on a partition: the leader's high watermark minus the committed offset (`kafka-consumer-groups`'
/// LAG); `None` before the group's first commit there.
fn lag(
    sim: &Simulation,
    committed: &std::collections::BTreeMap<PartitionIdx, u64>,
    partition: PartitionIdx,
) -> Option<u64> {
    Some(sim.leader_high_watermark(partition)?.saturating_sub(*committed.get(&partition)?))
}

impl Chart {
    /// A line as points to draw: a step for every change, held until the end of the window.
    pub fn steps(line: &[(Micros, u64)], to: Micros) -> Vec<(Micros, u64)> {
        let mut points = Vec::with_capacity(line.len() * 2 + 1);
        for (i, &(time, value)) in line.iter().enumerate() {
            if i > 0 {
                points.push((time, line[i - 1].1));
            }
            points.push((time, value));
        }
        if let Some(&(time, value)) = line.last() {
            if time < to {
                points.push((to, value));
            }
        }
        points
    }

    fn empty(subject: Subject, sim: &Simulation, from: Micros) -> Chart {
        let lines = subject.lines(sim).into_iter().map(|kind| Line { kind, points: Vec::new() }).collect();
        Chart { subject, from, to: sim.now(), lines, marks: Vec::new(), epoch: subject.epoch(sim).0 }
    }

    /// Reads every line at `max(now, from)` (what happened before the window becomes the lines' starting values) and
    /// marks a new epoch or generation inside the window.
    fn sample(&mut self, sim: &Simulation) {
        let time = sim.now().max(self.from);
        let committed = match self.subject {
            Subject::Lag { group } => sim.committed_offsets(group),
            Subject::Offsets(_) => Default::default(),
        };
        for line in &mut self.lines {
            let value = match (self.subject, line.kind) {
                (Subject::Offsets(p), LineKind::LogEndOffset(b)) => sim.replica(b, p).map(|r| r.log_end_offset()),
                (Subject::Offsets(p), LineKind::HighWatermark(b)) => sim.replica(b, p).map(|r| r.high_watermark),
                (Subject::Lag { .. }, LineKind::Lag(partition)) => lag(sim, &committed, partition),
                _ => None,
            };
            if let Some(value) = value {
                push_change(&mut line.points, time, value);
            }
        }
        let (epoch, leader) = self.subject.epoch(sim);
        if epoch > self.epoch && sim.now() >= self.from {
            self.marks.push(Mark { time, epoch, leader });
        }
        // A group without a coordinator reads as generation 0 for a moment: keep the last one known.
        self.epoch = self.epoch.max(epoch);
    }

    /// Follows a playing run: samples it as it is now (once per frame, so coarser than a replay) and slides the
    /// window, keeping what fell out of it as the lines' starting values. A run shown earlier than the chart's end
    /// needs a new chart instead.
    pub fn follow(&mut self, sim: &Simulation) {
        let now = sim.now();
        debug_assert!(now >= self.to, "a chart only follows a run forward");
        self.to = now;
        self.from = self.from.max(now.saturating_sub(WINDOW));
        self.sample(sim);
        let (from, to) = (self.from, self.to);
        for line in &mut self.lines {
            slide(&mut line.points, from);
            if line.points.len() > MAX_POINTS {
                line.points = thin(std::mem::take(&mut line.points), from, to);
            }
        }
        self.marks.retain(|m| m.time >= from);
    }
}

/// The chart of `subject` for the minute up to the run's shown time.
pub fn chart(run: &SimRun, subject: Subject) -> Result<Chart, SimError> {
    let to = run.sim().now();
    let from = to.saturating_sub(WINDOW);
    let mut chart = Chart::empty(subject, run.sim(), from);
    let interval = match subject {
        Subject::Offsets(_) => 0,
        Subject::Lag { .. } => LAG_SAMPLE_INTERVAL,
    };
    let mut next_sample = 0;
    let mut first = true;
    let end = run.replay_with_full_trace(from, |sim, _events| {
        if first {
            // The epoch the replay starts from, so that only elections inside the replay are marked.
            chart.epoch = subject.epoch(sim).0;
            first = false;
        }
        if sim.now() >= next_sample {
            chart.sample(sim);
            next_sample = sim.now() + interval;
        }
    })?;
    // The state as shown, whatever the sampling interval skipped at the end.
    chart.sample(&end);
    chart.to = to;
    for line in &mut chart.lines {
        line.points = thin(std::mem::take(&mut line.points), from, to);
    }
    Ok(chart)
}

/// Records `value` at `time` if it differs from the line's last value (several changes in one microsecond keep the
/// last one).
fn push_change(line: &mut Vec<(Micros, u64)>, time: Micros, value: u64) {
    match line.last_mut() {
        Some(last) if last.1 == value => {}
        Some(last) if last.0 == time => last.1 = value,
        _ => line.push((time, value)),
    }
}

/// Drops the changes before `from`, except the last of them, which moves to `from` as the line's starting value.
fn slide(line: &mut Vec<(Micros, u64)>, from: Micros) {
    let before = line.iter().take_while(|(time, _)| *time < from).count();
    if before > 0 {
        let start = line[before - 1].1;
        line.drain(..before);
        if line.first().is_none_or(|&(time, _)| time > from) {
            line.insert(0, (from, start));
        }
    }
}

/// Thins a line to at most `MAX_POINTS` points: per stretch of time, the lowest and the highest value, in time order.
fn thin(line: Vec<(Micros, u64)>, from: Micros, to: Micros) -> Vec<(Micros, u64)> {
    if line.len() <= MAX_POINTS {
        return line;
    }
    let buckets = (MAX_POINTS / 2) as u64;
    let span = (to - from).max(1);
    let bucket_of = |time: Micros| (time - from) * buckets / span;
    let mut out: Vec<(Micros, u64)> = Vec::with_capacity(MAX_POINTS);
    let mut i = 0;
    while i < line.len() {
        let bucket = bucket_of(line[i].0);
        let (mut low, mut high, mut j) = (i, i, i);
        while j < line.len() && bucket_of(line[j].0) == bucket {
            if line[j].1 < line[low].1 {
                low = j;
            }
            if line[j].1 > line[high].1 {
                high = j;
            }
            j += 1;
        }
        for k in if low <= high { [low, high] } else { [high, low] } {
            if out.last() != Some(&line[k]) {
                out.push(line[k]);
            }
        }
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_hold_each_value_until_the_next_change() {
        let line = [(0, 0), (10, 5), (20, 3)];
        assert_eq!(Chart::steps(&line, 30), vec![(0, 0), (10, 0), (10, 5), (20, 5), (20, 3), (30, 3)]);
        assert!(Chart::steps(&[], 30).is_empty());
    }

    #[test]
    fn sliding_keeps_the_value_at_the_start_of_the_window() {
        let mut line = vec![(0, 1), (10, 2), (20, 3), (30, 4)];
        slide(&mut line, 15);
        assert_eq!(line, vec![(15, 2), (20, 3), (30, 4)]);
        slide(&mut line, 20);
        assert_eq!(line, vec![(20, 3), (30, 4)]);
    }

    #[test]
    fn thinning_keeps_drops_and_the_order_of_time() {
        // A log end offset that climbs by one each microsecond and falls once (a truncation) in the middle.
        let mut line: Vec<(Micros, u64)> = (0..10_000).map(|t| (t, t)).collect();
        line.push((10_000, 4_000));
        line.extend((10_001..20_000).map(|t| (t, t - 6_000)));
        let thinned = thin(line, 0, 20_000);
        assert!(thinned.len() <= MAX_POINTS, "{} points", thinned.len());
        assert!(thinned.windows(2).all(|w| w[0].0 <= w[1].0), "time order");
        assert!(thinned.iter().any(|&(_, v)| v == 4_000), "the drop to 4000 is kept");
        assert!(thinned.iter().any(|&(_, v)| v == 9_999), "the peak before it is kept");
    }
}
