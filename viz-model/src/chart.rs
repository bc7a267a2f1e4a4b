//! The offsets chart of the replica inspector: every replica's `log_end_offset` and `high_watermark` of one
//! partition over the last minute of the run, and the controller's leader elections in that minute. Learners see the
//! high watermark follow the followers' fetches, stall while the ISR waits for a slow member, and a returning leader's
//! log end offset fall when it truncates.
//!
//! Built by re-simulating the window from the nearest checkpoint and reading the replicas after every event; the
//! numbers are the simulation's own, never interpolated.

use crate::run::SimRun;
use kafkascope_sim::ids::{BrokerId, PartitionIdx};
use kafkascope_sim::sim::{SimError, Simulation};
use kafkascope_sim::time::{Micros, US_PER_SEC};

/// How far back the chart looks from the shown time: long enough for a fault and its recovery, short enough that
/// re-simulating it stays quick on a large cluster.
pub const WINDOW: Micros = 60 * US_PER_SEC;

/// At most this many points per line; a longer line keeps the lowest and highest point of each stretch of time, so
/// a truncation still shows as a drop.
pub const MAX_POINTS: usize = 2000;

/// One replica's two offsets, as the times they changed and their new values (the value holds until the next one).
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicaLines {
    pub broker: BrokerId,
    pub log_end_offset: Vec<(Micros, u64)>,
    pub high_watermark: Vec<(Micros, u64)>,
}

/// The controller elected a leader (or left the partition without one) in a new leader epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct Election {
    pub time: Micros,
    pub leader_epoch: u32,
    pub leader: Option<BrokerId>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OffsetChart {
    pub partition: PartitionIdx,
    /// The window shown, `from..=to`.
    pub from: Micros,
    pub to: Micros,
    /// In the partition's replica order.
    pub replicas: Vec<ReplicaLines>,
    pub elections: Vec<Election>,
    /// The partition's leader epoch at `to`, so that following the run can tell a new election.
    pub leader_epoch: u32,
}

impl OffsetChart {
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

/// Thins a line to at most `MAX_POINTS` points: per stretch of time, the lowest and the highest value, in time order.
fn thin(line: Vec<(Micros, u64)>, from: Micros, to: Micros) -> Vec<(Micros, u64)> {
    if line.len() <= MAX_POINTS {
        return line;
    }
    let buckets = (MAX_POINTS / 2) as u64;
    let span = (to - from).max(1);
    let mut out: Vec<(Micros, u64)> = Vec::with_capacity(MAX_POINTS);
    let mut i = 0;
    while i < line.len() {
        let bucket = (line[i].0 - from) * buckets / span;
        let mut j = i;
        let (mut low, mut high) = (i, i);
        while j < line.len() && (line[j].0 - from) * buckets / span == bucket {
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

/// The chart of `partition` for the minute up to the run's shown time.
pub fn offset_chart(run: &SimRun, partition: PartitionIdx) -> Result<OffsetChart, SimError> {
    let to = run.sim().now();
    let from = to.saturating_sub(WINDOW);
    let replicas = run.sim().topo.partition(partition).replicas.clone();
    let mut lines: Vec<ReplicaLines> = replicas
        .iter()
        .map(|&broker| ReplicaLines { broker, log_end_offset: Vec::new(), high_watermark: Vec::new() })
        .collect();
    let mut elections = Vec::new();
    let mut leader_epoch = None;
    // Values are read at `max(time, from)`: what happened before the window shows as the line's starting value.
    let mut sample = |sim: &Simulation| {
        let time = sim.now().max(from);
        for line in &mut lines {
            if let Some(replica) = sim.replica(line.broker, partition) {
                push_change(&mut line.log_end_offset, time, replica.log_end_offset());
                push_change(&mut line.high_watermark, time, replica.high_watermark);
            }
        }
        let state = &sim.controller.partitions[partition.index()];
        if leader_epoch.is_some_and(|epoch| state.leader_epoch > epoch) && sim.now() >= from {
            elections.push(Election { time, leader_epoch: state.leader_epoch, leader: state.leader });
        }
        leader_epoch = Some(state.leader_epoch);
    };
    run.replay_with_full_trace(from, |sim, _events| sample(sim))?;
    for line in &mut lines {
        line.log_end_offset = thin(std::mem::take(&mut line.log_end_offset), from, to);
        line.high_watermark = thin(std::mem::take(&mut line.high_watermark), from, to);
    }
    let leader_epoch = run.sim().controller.partitions[partition.index()].leader_epoch;
    Ok(OffsetChart { partition, from, to, replicas: lines, elections, leader_epoch })
}

impl OffsetChart {
    /// Follows a playing run: samples the replicas as they are now (once per frame, so coarser than a replay) and
    /// slides the window, keeping what fell out of it as the lines' starting values. A run shown earlier than the
    /// chart's end needs a new chart instead.
    pub fn follow(&mut self, sim: &Simulation) {
        let now = sim.now();
        debug_assert!(now >= self.to, "a chart only follows a run forward");
        self.to = now;
        self.from = self.from.max(now.saturating_sub(WINDOW));
        let (from, to) = (self.from, self.to);
        for line in &mut self.replicas {
            if let Some(replica) = sim.replica(line.broker, self.partition) {
                push_change(&mut line.log_end_offset, now, replica.log_end_offset());
                push_change(&mut line.high_watermark, now, replica.high_watermark);
            }
            for values in [&mut line.log_end_offset, &mut line.high_watermark] {
                slide(values, from);
                if values.len() > MAX_POINTS {
                    *values = thin(std::mem::take(values), from, to);
                }
            }
        }
        let state = &sim.controller.partitions[self.partition.index()];
        if state.leader_epoch > self.leader_epoch {
            self.elections.push(Election { time: now, leader_epoch: state.leader_epoch, leader: state.leader });
            self.leader_epoch = state.leader_epoch;
        }
        self.elections.retain(|e| e.time >= from);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_hold_each_value_until_the_next_change() {
        let line = [(0, 0), (10, 5), (20, 3)];
        assert_eq!(OffsetChart::steps(&line, 30), vec![(0, 0), (10, 0), (10, 5), (20, 5), (20, 3), (30, 3)]);
        assert!(OffsetChart::steps(&[], 30).is_empty());
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
