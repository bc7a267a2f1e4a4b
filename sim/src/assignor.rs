//! Partition assignors, as the group leader runs them during SyncGroup: `range`, `roundrobin`, `sticky` and
//! `cooperative-sticky`, giving the same assignments as Kafka's classes for the same members and partitions.
//!
//! Members and partitions are sorted before assigning (Kafka sorts member ids and topic-partitions), so the result
//! depends only on who is in the group and what they own, never on arrival order.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `partition.assignment.strategy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AssignorKind {
    /// `RangeAssignor`: per topic, consecutive ranges of partitions to sorted members.
    Range,
    /// `RoundRobinAssignor`: all partitions, sorted, dealt to members in turn.
    RoundRobin,
    /// `StickyAssignor`: balanced, keeping as much of the previous assignment as possible (eager protocol).
    Sticky,
    /// `CooperativeStickyAssignor`: the sticky target, but moved partitions are first revoked, then assigned in a
    /// second rebalance.
    CooperativeSticky,
}

impl AssignorKind {
    pub fn name(self) -> &'static str {
        match self {
            AssignorKind::Range => "range",
            AssignorKind::RoundRobin => "roundrobin",
            AssignorKind::Sticky => "sticky",
            AssignorKind::CooperativeSticky => "cooperative-sticky",
        }
    }

    pub fn parse(text: &str) -> Option<AssignorKind> {
        let short = text.trim().rsplit('.').next().unwrap_or("");
        match short {
            "range" | "RangeAssignor" => Some(AssignorKind::Range),
            "roundrobin" | "RoundRobinAssignor" => Some(AssignorKind::RoundRobin),
            "sticky" | "StickyAssignor" => Some(AssignorKind::Sticky),
            "cooperative-sticky" | "CooperativeStickyAssignor" => Some(AssignorKind::CooperativeSticky),
            _ => None,
        }
    }

    pub fn is_cooperative(self) -> bool {
        self == AssignorKind::CooperativeSticky
    }
}

/// A topic-partition by topic name and number, as assignors see it.
pub type TopicPartition = (String, u32);

/// One member as the leader sees it in the JoinGroup response: its id, subscribed topics and owned partitions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSubscription {
    pub member_id: String,
    pub topics: Vec<String>,
    pub owned: Vec<TopicPartition>,
}

/// Computes the assignment: member id -> partitions, every member present (possibly with nothing).
pub fn assign(
    kind: AssignorKind,
    partitions_per_topic: &BTreeMap<String, u32>,
    members: &[MemberSubscription],
) -> BTreeMap<String, Vec<TopicPartition>> {
    let mut sorted: Vec<&MemberSubscription> = members.iter().collect();
    sorted.sort_by(|a, b| a.member_id.cmp(&b.member_id));
    let mut out: BTreeMap<String, Vec<TopicPartition>> =
        sorted.iter().map(|m| (m.member_id.clone(), Vec::new())).collect();
    match kind {
        AssignorKind::Range => {
            for (topic, &count) in partitions_per_topic {
                let subscribed: Vec<&&MemberSubscription> =
                    sorted.iter().filter(|m| m.topics.contains(topic)).collect();
                if subscribed.is_empty() {
                    continue;
                }
                let per_member = count as usize / subscribed.len();
                let extra = count as usize % subscribed.len();
                let mut next = 0u32;
                for (i, member) in subscribed.iter().enumerate() {
                    let take = per_member + usize::from(i < extra);
                    for _ in 0..take {
                        out.get_mut(&member.member_id).expect("present").push((topic.clone(), next));
                        next += 1;
                    }
                }
            }
        }
        AssignorKind::RoundRobin => {
            // A circular iterator over sorted members; each partition goes to the next member subscribed to it.
            let mut cursor = 0usize;
            for (topic, &count) in partitions_per_topic {
                for p in 0..count {
                    for step in 0..sorted.len() {
                        let member = sorted[(cursor + step) % sorted.len()];
                        if member.topics.contains(topic) {
                            out.get_mut(&member.member_id).expect("present").push((topic.clone(), p));
                            cursor = (cursor + step + 1) % sorted.len();
                            break;
                        }
                    }
                }
            }
        }
        AssignorKind::Sticky | AssignorKind::CooperativeSticky => {
            sticky(partitions_per_topic, &sorted, &mut out);
            if kind == AssignorKind::CooperativeSticky {
                // CooperativeStickyAssignor: a partition moving to a new owner is left unassigned this round, so its
                // current owner revokes it first; the owner then rejoins and the next round hands it over.
                let owner: BTreeMap<&TopicPartition, &str> =
                    sorted.iter().flat_map(|m| m.owned.iter().map(move |tp| (tp, m.member_id.as_str()))).collect();
                for (member, assigned) in out.iter_mut() {
                    assigned.retain(|tp| owner.get(tp).is_none_or(|o| *o == member.as_str()));
                }
            }
        }
    }
    for assigned in out.values_mut() {
        assigned.sort();
    }
    out
}

/// The sticky algorithm: keep every still-valid owned partition, take extras from members above the balanced
/// share, then give every free partition to the least-loaded subscribed member (ties to the first in member order).
fn sticky(
    partitions_per_topic: &BTreeMap<String, u32>,
    members: &[&MemberSubscription],
    out: &mut BTreeMap<String, Vec<TopicPartition>>,
) {
    let all: Vec<TopicPartition> =
        partitions_per_topic.iter().flat_map(|(t, &n)| (0..n).map(move |p| (t.clone(), p))).collect();
    let mut taken: BTreeMap<TopicPartition, String> = BTreeMap::new();
    for member in members {
        for tp in &member.owned {
            let valid = partitions_per_topic.get(&tp.0).is_some_and(|&n| tp.1 < n) && member.topics.contains(&tp.0);
            if valid && !taken.contains_key(tp) {
                taken.insert(tp.clone(), member.member_id.clone());
                out.get_mut(&member.member_id).expect("present").push(tp.clone());
            }
        }
    }
    // The balanced share: with n partitions over m members, nobody keeps more than ceil(n/m).
    let n = all.iter().filter(|tp| members.iter().any(|m| m.topics.contains(&tp.0))).count();
    let m = members.len().max(1);
    let ceiling = n.div_ceil(m);
    let mut free: Vec<TopicPartition> = all.iter().filter(|tp| !taken.contains_key(*tp)).cloned().collect();
    let mut ceiling_slots = n % m;
    if ceiling_slots == 0 {
        ceiling_slots = m;
    }
    for member in members {
        let assigned = out.get_mut(&member.member_id).expect("present");
        let allowed = if assigned.len() >= ceiling && ceiling_slots > 0 {
            ceiling_slots -= 1;
            ceiling
        } else {
            n / m
        };
        while assigned.len() > allowed.max(n / m) {
            let released = assigned.pop().expect("non-empty");
            free.push(released);
        }
    }
    free.sort();
    for tp in free {
        let candidate = members
            .iter()
            .filter(|m| m.topics.contains(&tp.0))
            .min_by_key(|m| out[&m.member_id].len())
            .map(|m| m.member_id.clone());
        if let Some(member) = candidate {
            out.get_mut(&member).expect("present").push(tp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(list: &[(&str, u32)]) -> BTreeMap<String, u32> {
        list.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    fn member(id: &str, subscribed: &[&str], owned: &[(&str, u32)]) -> MemberSubscription {
        MemberSubscription {
            member_id: id.into(),
            topics: subscribed.iter().map(|s| s.to_string()).collect(),
            owned: owned.iter().map(|(t, p)| (t.to_string(), *p)).collect(),
        }
    }

    fn tps(list: &[(&str, u32)]) -> Vec<TopicPartition> {
        list.iter().map(|(t, p)| (t.to_string(), *p)).collect()
    }

    /// RangeAssignor javadoc: two consumers, two topics of three partitions.
    #[test]
    fn range_matches_the_javadoc() {
        let members = [member("C0", &["t0", "t1"], &[]), member("C1", &["t0", "t1"], &[])];
        let out = assign(AssignorKind::Range, &topics(&[("t0", 3), ("t1", 3)]), &members);
        assert_eq!(out["C0"], tps(&[("t0", 0), ("t0", 1), ("t1", 0), ("t1", 1)]));
        assert_eq!(out["C1"], tps(&[("t0", 2), ("t1", 2)]));
    }

    /// RoundRobinAssignor javadoc: the same consumers and topics, then unequal subscriptions.
    #[test]
    fn round_robin_matches_the_javadoc() {
        let members = [member("C0", &["t0", "t1"], &[]), member("C1", &["t0", "t1"], &[])];
        let out = assign(AssignorKind::RoundRobin, &topics(&[("t0", 3), ("t1", 3)]), &members);
        assert_eq!(out["C0"], tps(&[("t0", 0), ("t0", 2), ("t1", 1)]));
        assert_eq!(out["C1"], tps(&[("t0", 1), ("t1", 0), ("t1", 2)]));

        let members =
            [member("C0", &["t0"], &[]), member("C1", &["t0", "t1"], &[]), member("C2", &["t0", "t1", "t2"], &[])];
        let out = assign(AssignorKind::RoundRobin, &topics(&[("t0", 1), ("t1", 2), ("t2", 3)]), &members);
        assert_eq!(out["C0"], tps(&[("t0", 0)]));
        assert_eq!(out["C1"], tps(&[("t1", 0)]));
        assert_eq!(out["C2"], tps(&[("t1", 1), ("t2", 0), ("t2", 1), ("t2", 2)]));
    }

    /// StickyAssignor javadoc: three consumers, four topics of two partitions; then C1 leaves and only its
    /// partitions move.
    #[test]
    fn sticky_matches_the_javadoc() {
        let four = topics(&[("t0", 2), ("t1", 2), ("t2", 2), ("t3", 2)]);
        let all = ["t0", "t1", "t2", "t3"];
        let members = [member("C0", &all, &[]), member("C1", &all, &[]), member("C2", &all, &[])];
        let out = assign(AssignorKind::Sticky, &four, &members);
        assert_eq!(out["C0"], tps(&[("t0", 0), ("t1", 1), ("t3", 0)]));
        assert_eq!(out["C1"], tps(&[("t0", 1), ("t2", 0), ("t3", 1)]));
        assert_eq!(out["C2"], tps(&[("t1", 0), ("t2", 1)]));

        let members =
            [member("C0", &all, &[("t0", 0), ("t1", 1), ("t3", 0)]), member("C2", &all, &[("t1", 0), ("t2", 1)])];
        let out = assign(AssignorKind::Sticky, &four, &members);
        assert_eq!(out["C0"], tps(&[("t0", 0), ("t1", 1), ("t2", 0), ("t3", 0)]));
        assert_eq!(out["C2"], tps(&[("t0", 1), ("t1", 0), ("t2", 1), ("t3", 1)]));
    }

    /// A new member joins a cooperative group: partitions that move are withheld for one round.
    #[test]
    fn cooperative_sticky_revokes_before_it_reassigns() {
        let t = topics(&[("t0", 4)]);
        let first = [member("C0", &["t0"], &[("t0", 0), ("t0", 1), ("t0", 2), ("t0", 3)]), member("C1", &["t0"], &[])];
        let out = assign(AssignorKind::CooperativeSticky, &t, &first);
        assert_eq!(out["C0"], tps(&[("t0", 0), ("t0", 1)]), "C0 keeps half");
        assert!(out["C1"].is_empty(), "nothing moves to C1 until C0 has revoked it");
        let second = [member("C0", &["t0"], &[("t0", 0), ("t0", 1)]), member("C1", &["t0"], &[])];
        let out = assign(AssignorKind::CooperativeSticky, &t, &second);
        assert_eq!(out["C1"], tps(&[("t0", 2), ("t0", 3)]));
    }

    #[test]
    fn more_members_than_partitions_leaves_some_idle() {
        let members = [member("a", &["t"], &[]), member("b", &["t"], &[]), member("c", &["t"], &[])];
        for kind in [AssignorKind::Range, AssignorKind::RoundRobin, AssignorKind::Sticky] {
            let out = assign(kind, &topics(&[("t", 2)]), &members);
            assert_eq!(out.values().filter(|a| a.is_empty()).count(), 1, "{kind:?}");
        }
    }
}
