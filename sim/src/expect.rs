//! Scenario expectations: the outcomes a scenario promises (`expect: [...]`), checked at their times, with a
//! readable expected-versus-actual line for each.

use crate::report::{find_partition, Report};
use crate::scenario::{Check, Count};
use crate::sim::{SimError, Simulation};
use crate::time::format_time;
use serde::Serialize;

/// The result of one expectation.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub at: u64,
    pub what: String,
    pub expected: String,
    pub actual: String,
    pub passed: bool,
}

impl Outcome {
    pub fn line(&self) -> String {
        format!(
            "{} at {}: {} — expected {}, got {}",
            if self.passed { "ok  " } else { "FAIL" },
            format_time(self.at),
            self.what,
            self.expected,
            self.actual
        )
    }
}

/// Runs the simulation to the end, checking every expectation at its time.
pub fn check_expectations(sim: &mut Simulation) -> Result<Vec<Outcome>, SimError> {
    let mut expectations = sim.scenario.source.expect.clone();
    let end = sim.duration();
    expectations.sort_by_key(|e| e.at.map(|d| d.0).unwrap_or(end));
    let mut outcomes = Vec::new();
    for expectation in expectations {
        let at = expectation.at.map(|d| d.0).unwrap_or(end).min(end);
        sim.run_until(at)?;
        outcomes.push(evaluate(sim, at, &expectation.check));
    }
    sim.run()?;
    Ok(outcomes)
}

fn count(at: u64, what: String, expected: Count, actual: u64) -> Outcome {
    Outcome { at, what, expected: expected.to_string(), actual: actual.to_string(), passed: expected.accepts(actual) }
}

fn equal<T: std::fmt::Debug + PartialEq>(at: u64, what: String, expected: T, actual: T) -> Outcome {
    let passed = expected == actual;
    Outcome { at, what, expected: format!("{expected:?}"), actual: format!("{actual:?}"), passed }
}

fn evaluate(sim: &Simulation, at: u64, check: &Check) -> Outcome {
    let report = Report::build(sim, false);
    let verdict = sim.verdict();
    match check {
        Check::AckedLost(c) => count(at, "acked records lost".into(), *c, verdict.acked_lost.len() as u64),
        Check::Duplicates(c) => count(at, "duplicated records".into(), *c, verdict.duplicates.len() as u64),
        Check::Reordered(c) => count(at, "reordered records".into(), *c, verdict.reordered.len() as u64),
        Check::FailedWritten(c) => {
            count(at, "failed records committed anyway".into(), *c, verdict.failed_written.len() as u64)
        }
        Check::Leader { topic, partition, leader } => {
            let actual = report.partition(topic, *partition).and_then(|p| p.leader);
            equal(at, format!("leader of {topic}-{partition}"), *leader, actual)
        }
        Check::Isr { topic, partition, isr } => {
            let actual = report.partition(topic, *partition).map(|p| p.isr.clone()).unwrap_or_default();
            equal(at, format!("ISR of {topic}-{partition}"), isr.clone(), actual)
        }
        Check::HighWatermark { topic, partition, broker, value } => {
            let actual = replica_offsets(sim, topic, *partition, *broker).map(|(_, hw)| hw).unwrap_or(0);
            count(at, format!("high_watermark of {topic}-{partition} on B{broker}"), *value, actual)
        }
        Check::LogEndOffset { topic, partition, broker, value } => {
            let actual = replica_offsets(sim, topic, *partition, *broker).map(|(leo, _)| leo).unwrap_or(0);
            count(at, format!("log_end_offset of {topic}-{partition} on B{broker}"), *value, actual)
        }
        Check::ProducerError { producer, error, count: c } => {
            let actual = report
                .producers
                .iter()
                .find(|p| &p.id == producer)
                .and_then(|p| p.errors.get(error).copied())
                .unwrap_or(0);
            count(at, format!("{error} errors seen by {producer}"), *c, actual)
        }
        Check::ProducerAcked { producer, count: c } => {
            let actual = report.producers.iter().find(|p| &p.id == producer).map(|p| p.acked).unwrap_or(0);
            count(at, format!("records acked to {producer}"), *c, actual)
        }
        Check::IdleConsumers { group, count: c } => {
            let actual = report
                .groups
                .iter()
                .find(|g| &g.group == group)
                .map(|g| g.members.iter().filter(|m| m.partitions.is_empty()).count() as u64)
                .unwrap_or(0);
            count(at, format!("idle members of group {group}"), *c, actual)
        }
        Check::Assigned { consumer, count: c } => {
            let actual =
                sim.consumers.iter().find(|x| &x.name == consumer).map(|x| x.assigned.len() as u64).unwrap_or(0);
            count(at, format!("partitions assigned to {consumer}"), *c, actual)
        }
        Check::Lag { group, topic, partition, lag } => {
            let actual = report
                .groups
                .iter()
                .find(|g| &g.group == group)
                .and_then(|g| g.partitions.iter().find(|p| &p.topic == topic && p.partition == *partition))
                .and_then(|p| p.lag)
                .unwrap_or(u64::MAX);
            count(at, format!("lag of group {group} on {topic}-{partition}"), *lag, actual)
        }
        Check::GroupLost { group, count: c } => {
            let actual =
                report.groups.iter().find(|g| &g.group == group).map(|g| g.checker.lost.len() as u64).unwrap_or(0);
            count(at, format!("records group {group} skipped"), *c, actual)
        }
        Check::GroupDuplicates { group, count: c } => {
            let actual = report
                .groups
                .iter()
                .find(|g| &g.group == group)
                .map(|g| g.checker.duplicates.len() as u64)
                .unwrap_or(0);
            count(at, format!("records group {group} processed twice"), *c, actual)
        }
        Check::GroupProcessed { group, count: c } => {
            let actual = report.groups.iter().find(|g| &g.group == group).map(|g| g.checker.processed).unwrap_or(0);
            count(at, format!("records group {group} processed"), *c, actual)
        }
        Check::Events { key, count: c } => {
            let actual = sim.trace.events().iter().filter(|e| e.kind.key() == key).count() as u64;
            count(at, format!("`{key}` events"), *c, actual)
        }
    }
}

fn replica_offsets(sim: &Simulation, topic: &str, partition: u32, broker: u32) -> Option<(u64, u64)> {
    let p = find_partition(sim, topic, partition)?;
    let replica = sim.replica(crate::ids::BrokerId(broker), p)?;
    Some((replica.log_end_offset(), replica.high_watermark))
}
