//! The end-of-run report: the cluster in the shape of `kafka-topics --describe`, per-replica LEO and HW, producer
//! counts, and the checker's verdict, as plain text for people and as JSON for tools.

use crate::broker::Role;
use crate::ids::PartitionIdx;
use crate::net::NodeStatus;
use crate::scenario::Lang;
use crate::sim::Simulation;
use crate::time::format_time;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The scenario's title in English, and in Korean (the English when the scenario has no `title_ko`).
    pub title: String,
    pub title_ko: String,
    pub seed: u64,
    pub time_us: u64,
    pub events: u64,
    pub trace_hash: String,
    pub controller_up: bool,
    pub brokers: Vec<BrokerReport>,
    pub topics: Vec<TopicReport>,
    pub producers: Vec<ProducerReport>,
    pub groups: Vec<GroupReport>,
    pub checker: CheckerReport,
}

/// One consumer group, in the shape of `kafka-consumer-groups --describe`, with its consumer-side checker.
#[derive(Clone, Debug, Serialize)]
pub struct GroupReport {
    pub group: String,
    pub state: String,
    pub generation: u32,
    pub coordinator: Option<u32>,
    pub assignor: &'static str,
    pub members: Vec<MemberReport>,
    pub partitions: Vec<GroupPartitionReport>,
    pub checker: GroupCheckerReport,
}

#[derive(Clone, Debug, Serialize)]
pub struct MemberReport {
    pub member_id: String,
    pub consumer: String,
    pub partitions: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct GroupPartitionReport {
    pub topic: String,
    pub partition: u32,
    /// The committed offset (CURRENT-OFFSET), if any.
    pub current_offset: Option<u64>,
    /// The partition's high watermark (what `kafka-consumer-groups` calls LOG-END-OFFSET).
    pub log_end_offset: u64,
    pub lag: Option<u64>,
    pub consumer_id: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct GroupCheckerReport {
    pub processed: u64,
    pub lost: Vec<String>,
    pub unconsumed: u64,
    pub duplicates: Vec<DuplicateReport>,
    pub skips: u64,
    pub nonmonotonic: u64,
    /// Commits that failed for the application: a `commitSync` that gave up or hit a group error, or an
    /// auto-commit, `commitAsync` or revocation commit answered with an error (a `commitSync`'s retried tries are
    /// not counted).
    pub commits_failed: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct BrokerReport {
    pub id: u32,
    pub status: &'static str,
    pub fenced: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct TopicReport {
    pub name: String,
    pub replication_factor: u32,
    pub configs: BTreeMap<String, String>,
    pub partitions: Vec<PartitionReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PartitionReport {
    pub partition: u32,
    pub leader: Option<u32>,
    pub leader_epoch: u32,
    pub isr: Vec<u32>,
    pub replicas: Vec<u32>,
    pub offline: bool,
    pub under_replicated: bool,
    pub replica_states: Vec<ReplicaReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ReplicaReport {
    pub broker: u32,
    pub status: &'static str,
    pub role: &'static str,
    pub leader_epoch: u32,
    pub log_end_offset: u64,
    pub high_watermark: u64,
    pub log: Vec<LogRecordReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct LogRecordReport {
    pub offset: u64,
    pub epoch: u32,
    pub key: Option<String>,
    pub value: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct ProducerReport {
    pub id: String,
    pub acks: &'static str,
    pub enable_idempotence: bool,
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    /// Failed records committed all the same (the send's outcome was indeterminate).
    pub failed_written: u64,
    pub pending: u64,
    pub requests: u64,
    pub retries: u64,
    pub errors: BTreeMap<String, u64>,
    pub mean_ack_latency_ms: f64,
    /// The checker's findings for this producer's records.
    pub acked_lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct DuplicateReport {
    pub value: String,
    pub copies: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct DivergenceReport {
    pub topic: String,
    pub partition: u32,
    pub leader: u32,
    pub follower: u32,
    pub offset: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct CheckerReport {
    pub acked: u64,
    pub acked_lost: u64,
    /// Values of the acked records that were lost.
    pub lost: Vec<String>,
    pub duplicates: Vec<DuplicateReport>,
    pub reordered: Vec<String>,
    pub divergent: Vec<DivergenceReport>,
    pub failed: u64,
    /// Values of the failed records that are committed all the same (not a violation: a failed send's outcome is
    /// indeterminate, KIP-91).
    pub failed_written: Vec<String>,
    pub pending: u64,
    pub ok: bool,
}

fn status_name(status: NodeStatus) -> &'static str {
    match status {
        NodeStatus::Up => "up",
        NodeStatus::Crashed => "down",
        NodeStatus::Paused => "paused",
    }
}

impl Report {
    /// Builds the report; `with_logs` includes every replica's records (large runs may leave them out).
    pub fn build(sim: &Simulation, with_logs: bool) -> Report {
        let names: Vec<String> = sim.producers.iter().map(|p| p.name.clone()).collect();
        let topo = &sim.topo;
        let fenced = sim.controller.fenced_set();
        let topics = topo
            .topics
            .iter()
            .enumerate()
            .map(|(t, topic)| {
                let mut configs = BTreeMap::new();
                configs.insert("min.insync.replicas".to_string(), topic.config.min_insync_replicas.to_string());
                configs.insert(
                    "unclean.leader.election.enable".to_string(),
                    topic.config.unclean_leader_election_enable.to_string(),
                );
                let partitions = (0..topic.partitions)
                    .map(|p| {
                        let idx = topo.partition_idx(t, p);
                        let state = sim.controller.partitions[idx.index()];
                        let replicas = &topo.partition(idx).replicas;
                        let replica_states = replicas
                            .iter()
                            .filter_map(|&b| {
                                let r = sim.replica(b, idx)?;
                                Some(ReplicaReport {
                                    broker: b.0,
                                    status: status_name(sim.net.status(b.node())),
                                    role: match r.role {
                                        Role::Leader(_) => "leader",
                                        Role::Follower { .. } => "follower",
                                        Role::None => "none",
                                    },
                                    leader_epoch: r.leader_epoch,
                                    log_end_offset: r.log_end_offset(),
                                    high_watermark: r.high_watermark,
                                    log: if with_logs {
                                        r.log
                                            .entries()
                                            .iter()
                                            .enumerate()
                                            .map(|(offset, e)| LogRecordReport {
                                                offset: offset as u64,
                                                epoch: e.leader_epoch(),
                                                key: if topo.is_internal(idx) {
                                                    None
                                                } else {
                                                    sim.history.render_key(sim.history.get(e.record).key)
                                                },
                                                value: if topo.is_internal(idx) {
                                                    describe_internal(sim, e.record)
                                                } else {
                                                    sim.history.value(e.record, &names)
                                                },
                                            })
                                            .collect()
                                    } else {
                                        Vec::new()
                                    },
                                })
                            })
                            .collect();
                        PartitionReport {
                            partition: p,
                            leader: state.leader.map(|b| b.0),
                            leader_epoch: state.leader_epoch,
                            isr: state.isr.in_order(replicas).iter().map(|b| b.0).collect(),
                            replicas: replicas.iter().map(|b| b.0).collect(),
                            offline: state.leader.is_none(),
                            under_replicated: state.isr.len() < replicas.len(),
                            replica_states,
                        }
                    })
                    .collect();
                TopicReport {
                    name: topic.name.clone(),
                    replication_factor: topic.replication_factor,
                    configs,
                    partitions,
                }
            })
            .collect();
        let verdict = sim.verdict();
        let count_for = |ids: &mut dyn Iterator<Item = crate::ids::RecordId>, producer: usize| {
            ids.filter(|id| sim.history.get(*id).producer.index() == producer).count() as u64
        };
        let producers = sim
            .producers
            .iter()
            .enumerate()
            .map(|(i, p)| ProducerReport {
                acked_lost: count_for(&mut verdict.acked_lost.iter().copied(), i),
                duplicated: count_for(&mut verdict.duplicates.iter().map(|d| d.0), i),
                reordered: count_for(&mut verdict.reordered.iter().copied(), i),
                failed_written: count_for(&mut verdict.failed_written.iter().copied(), i),
                id: p.name.clone(),
                acks: p.config.acks.name(),
                enable_idempotence: p.config.enable_idempotence,
                sent: p.stats.sent,
                acked: p.stats.acked,
                failed: p.stats.failed,
                pending: p.stats.sent - p.stats.acked - p.stats.failed,
                requests: p.stats.requests,
                retries: p.stats.retries,
                errors: p.stats.errors.clone(),
                mean_ack_latency_ms: if p.stats.acked > 0 {
                    p.stats.ack_latency_total as f64 / p.stats.acked as f64 / 1000.0
                } else {
                    0.0
                },
            })
            .collect();
        let checker = CheckerReport {
            acked: verdict.acked,
            acked_lost: verdict.acked_lost.len() as u64,
            lost: verdict.acked_lost.iter().map(|&id| sim.history.value(id, &names)).collect(),
            duplicates: verdict
                .duplicates
                .iter()
                .map(|&(id, copies)| DuplicateReport { value: sim.history.value(id, &names), copies })
                .collect(),
            reordered: verdict.reordered.iter().map(|&id| sim.history.value(id, &names)).collect(),
            divergent: verdict
                .divergent
                .iter()
                .map(|d| {
                    let info = topo.partition(d.partition);
                    DivergenceReport {
                        topic: topo.topics[info.topic].name.clone(),
                        partition: info.partition,
                        leader: d.leader.0,
                        follower: d.follower.0,
                        offset: d.offset,
                    }
                })
                .collect(),
            failed: verdict.failed,
            failed_written: verdict.failed_written.iter().map(|&id| sim.history.value(id, &names)).collect(),
            pending: verdict.pending,
            ok: verdict.is_clean(),
        };
        let groups = build_groups(sim);
        Report {
            title: sim.scenario.title.en.clone(),
            title_ko: sim.scenario.title.ko.clone(),
            seed: sim.seed,
            time_us: sim.now(),
            events: sim.events(),
            trace_hash: sim.trace.hash_hex(),
            controller_up: sim.net.status(crate::ids::CONTROLLER) != NodeStatus::Crashed,
            brokers: topo
                .broker_ids()
                .map(|b| BrokerReport {
                    id: b.0,
                    status: status_name(sim.net.status(b.node())),
                    fenced: fenced.contains(b),
                })
                .collect(),
            topics,
            producers,
            groups,
            checker,
        }
    }

    pub fn partition(&self, topic: &str, partition: u32) -> Option<&PartitionReport> {
        self.topics.iter().find(|t| t.name == topic)?.partitions.iter().find(|p| p.partition == partition)
    }

    /// Only the `kafka-topics --describe` and `kafka-consumer-groups --describe` tables, as of the report's time.
    pub fn render_describe(&self) -> String {
        let full = self.render_text_in(Lang::En);
        let mut out = format!("at {}\n", format_time(self.time_us));
        let mut keep = false;
        for line in full.lines() {
            if line.starts_with("Topic:") || line.starts_with("Group ") {
                keep = true;
            } else if line.starts_with("Producers") || line.starts_with("Checker:") {
                keep = false;
            }
            if keep && !line.trim_start().starts_with("checker:") {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// `kafka-topics --describe`, then replica states, producers and the checker, for people (in English).
    pub fn render_text(&self) -> String {
        self.render_text_in(Lang::En)
    }

    /// The same in Korean or English. The describe tables keep Kafka's own column names in both.
    pub fn render_text_in(&self, lang: Lang) -> String {
        let t = |en: &'static str, ko: &'static str| if lang == Lang::Ko { ko } else { en };
        let mut out = String::new();
        let _ = writeln!(out, "KafkaScope: {}", if lang == Lang::Ko { &self.title_ko } else { &self.title });
        let _ = writeln!(
            out,
            "{} {} · {} {} · {} {} · trace {}",
            t("seed", "시드"),
            self.seed,
            t("ran to", "실행 시간"),
            format_time(self.time_us),
            self.events,
            t("events", "이벤트"),
            self.trace_hash
        );
        let brokers: Vec<String> = self
            .brokers
            .iter()
            .map(|b| {
                let status = match (lang, b.status) {
                    (Lang::Ko, "up") => "정상",
                    (Lang::Ko, "down") => "중단",
                    (Lang::Ko, "paused") => "일시정지",
                    (_, other) => other,
                };
                format!("B{} {}{}", b.id, status, if b.fenced { t(" (fenced)", " (펜싱됨)") } else { "" })
            })
            .collect();
        let _ = writeln!(
            out,
            "{}: {} · {} {}\n",
            t("brokers", "브로커"),
            brokers.join(", "),
            t("controller", "컨트롤러"),
            if self.controller_up { t("up", "정상") } else { t("down", "중단") }
        );
        let join = |v: &[u32]| v.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(",");
        for topic in &self.topics {
            let configs: Vec<String> = topic.configs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(
                out,
                "Topic: {}\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {}",
                topic.name,
                topic.partitions.len(),
                topic.replication_factor,
                configs.join(",")
            );
            for p in &topic.partitions {
                let leader = p.leader.map(|l| l.to_string()).unwrap_or_else(|| "none".into());
                let flags = match (p.offline, p.under_replicated) {
                    (true, _) => "  [offline]",
                    (false, true) => "  [under-replicated]",
                    _ => "",
                };
                let _ = writeln!(
                    out,
                    "\tTopic: {}\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}\tLeaderEpoch: {}{}",
                    topic.name,
                    p.partition,
                    leader,
                    join(&p.replicas),
                    join(&p.isr),
                    p.leader_epoch,
                    flags
                );
                for r in &p.replica_states {
                    let _ = writeln!(
                        out,
                        "\t    B{} {:<6} {:<8} epoch {:<3} log_end_offset {:<6} high_watermark {}",
                        r.broker, r.status, r.role, r.leader_epoch, r.log_end_offset, r.high_watermark
                    );
                }
            }
        }
        if !self.producers.is_empty() {
            let _ = writeln!(out, "\n{}", t("Producers", "프로듀서"));
            for p in &self.producers {
                let errors: Vec<String> = p.errors.iter().map(|(k, v)| format!("{k} x{v}")).collect();
                let _ = writeln!(
                    out,
                    "  {} (acks={}{}): {} {}, {} {}, {} {}, {} {} · {} {}, {} {}, {} {:.1} ms{}{}",
                    p.id,
                    p.acks,
                    if p.enable_idempotence { t(", idempotent", ", 멱등") } else { "" },
                    t("sent", "전송"),
                    p.sent,
                    t("acked", "ack"),
                    p.acked,
                    t("failed", "실패"),
                    written_anyway(p.failed, p.failed_written, lang),
                    t("pending", "대기"),
                    p.pending,
                    p.requests,
                    t("requests", "요청"),
                    p.retries,
                    t("retries", "재시도"),
                    t("mean ack latency", "평균 ack 지연"),
                    p.mean_ack_latency_ms,
                    if errors.is_empty() {
                        String::new()
                    } else {
                        format!(" · {}: {}", t("errors", "에러"), errors.join(", "))
                    },
                    if p.acked_lost + p.duplicated + p.reordered > 0 {
                        format!(
                            " · {}: {} {}, {} {}, {} {}",
                            t("checker", "검사"),
                            p.acked_lost,
                            t("lost", "유실"),
                            p.duplicated,
                            t("duplicated", "중복"),
                            p.reordered,
                            t("reordered", "순서 뒤바뀜")
                        )
                    } else {
                        String::new()
                    }
                );
            }
        }
        for g in &self.groups {
            let _ = writeln!(
                out,
                "\n{} {} ({}, generation {}, {} {}, {})",
                t("Group", "그룹"),
                g.group,
                g.state,
                g.generation,
                t("coordinator", "코디네이터"),
                g.coordinator.map(|b| format!("B{b}")).unwrap_or_else(|| "none".into()),
                g.assignor
            );
            let _ = writeln!(
                out,
                "  {:<14} {:<20} {:>9} {:>14} {:>14} {:>6}  CONSUMER-ID",
                "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG"
            );
            for row in &g.partitions {
                let dash = || "-".to_string();
                let _ = writeln!(
                    out,
                    "  {:<14} {:<20} {:>9} {:>14} {:>14} {:>6}  {}",
                    g.group,
                    row.topic,
                    row.partition,
                    row.current_offset.map(|o| o.to_string()).unwrap_or_else(dash),
                    row.log_end_offset,
                    row.lag.map(|o| o.to_string()).unwrap_or_else(dash),
                    row.consumer_id.clone().unwrap_or_else(dash)
                );
            }
            let c = &g.checker;
            let _ = writeln!(
                out,
                "  {}: {} {} · {} {} · {} {} · {} {} · {} {} · {} {} · {} {}",
                t("checker", "검사"),
                t("processed", "처리"),
                c.processed,
                t("lost", "유실"),
                c.lost.len(),
                t("duplicated", "중복"),
                c.duplicates.len(),
                t("unconsumed", "미소비"),
                c.unconsumed,
                t("poll skips", "건너뛴 poll"),
                c.skips,
                t("non-monotonic polls", "되돌아간 poll"),
                c.nonmonotonic,
                t("failed commits", "실패한 커밋"),
                c.commits_failed
            );
        }
        let c = &self.checker;
        let _ = writeln!(
            out,
            "\n{}: {} {} · {} {} · {} {} · {} {} · {} {} · {} {} · {} {} -> {}",
            t("Checker", "검사 결과"),
            t("acked", "ack 받음"),
            c.acked,
            t("acked but lost", "ack 받고 유실"),
            c.acked_lost,
            t("duplicated", "중복"),
            c.duplicates.len(),
            t("reordered", "순서 뒤바뀜"),
            c.reordered.len(),
            t("divergent replicas", "어긋난 레플리카"),
            c.divergent.len(),
            t("failed", "실패"),
            written_anyway(c.failed, c.failed_written.len() as u64, lang),
            t("pending", "대기"),
            c.pending,
            if c.ok { t("OK", "정상") } else { t("GUARANTEE VIOLATED", "보장 위반") }
        );
        let preview = |values: &[String]| {
            let shown: Vec<&str> = values.iter().take(10).map(|s| s.as_str()).collect();
            let more = values.len().saturating_sub(10);
            let rest = match (more, lang) {
                (0, _) => String::new(),
                (n, Lang::Ko) => format!(" (외 {n}건)"),
                (n, Lang::En) => format!(" (+{n} more)"),
            };
            format!("{}{rest}", shown.join(", "))
        };
        if !c.lost.is_empty() {
            let _ = writeln!(out, "  {}: {}", t("lost", "유실"), preview(&c.lost));
        }
        if !c.duplicates.is_empty() {
            let values: Vec<String> = c.duplicates.iter().map(|d| format!("{} x{}", d.value, d.copies)).collect();
            let _ = writeln!(out, "  {}: {}", t("duplicated", "중복"), preview(&values));
        }
        if !c.reordered.is_empty() {
            let _ = writeln!(out, "  {}: {}", t("reordered", "순서 뒤바뀜"), preview(&c.reordered));
        }
        if !c.failed_written.is_empty() {
            let _ = writeln!(
                out,
                "  {}: {}",
                t("failed, yet committed (a resend would duplicate them)", "실패했지만 커밋됨 (다시 보내면 중복)"),
                preview(&c.failed_written)
            );
        }
        for d in &c.divergent {
            let _ = writeln!(
                out,
                "  divergent: {}-{} B{} differs from B{} at offset {} (below both high watermarks)",
                d.topic, d.partition, d.follower, d.leader, d.offset
            );
        }
        out
    }
}

/// A failed count, with how many of those records were written anyway when there are any: `304 (5 written anyway)`.
fn written_anyway(failed: u64, written: u64, lang: Lang) -> String {
    match (written, lang) {
        (0, _) => failed.to_string(),
        (w, Lang::En) => format!("{failed} ({w} written anyway)"),
        (w, Lang::Ko) => format!("{failed} (그중 {w}건은 기록됨)"),
    }
}

/// The partition index of a topic-partition by name, for tests and tools.
pub fn find_partition(sim: &Simulation, topic: &str, partition: u32) -> Option<PartitionIdx> {
    let t = sim.scenario.topic_index(topic)?;
    (partition < sim.topo.topics[t].partitions).then(|| sim.topo.partition_idx(t, partition))
}

fn build_groups(sim: &Simulation) -> Vec<GroupReport> {
    let topo = &sim.topo;
    let names: Vec<String> = sim.producers.iter().map(|p| p.name.clone()).collect();
    let verdicts = sim.group_verdicts();
    (0..topo.groups.len() as u32)
        .map(|g| {
            let coordinator = topo.offsets_topic.and_then(|t| {
                let count = topo.topics[t].partitions;
                let p = topo.partition_idx(t, crate::group::offsets_partition_for(&topo.groups[g as usize], count));
                sim.leader_of(p)
            });
            let group_state = coordinator
                .filter(|b| sim.net.status(b.node()) != NodeStatus::Crashed)
                .and_then(|b| sim.brokers[b.0 as usize - 1].groups.get(&g));
            let member_name = |id: crate::message::MemberId| {
                let node = group_state.and_then(|s| s.members.get(&id)).map(|m| m.node);
                let consumer = node.map(|n| topo.node_name(n).to_string()).unwrap_or_default();
                format!("{consumer}-{id}")
            };
            let members: Vec<MemberReport> = group_state
                .map(|s| {
                    s.members
                        .values()
                        .map(|m| MemberReport {
                            member_id: member_name(m.id),
                            consumer: topo.node_name(m.node).to_string(),
                            partitions: m.assignment.iter().map(|&p| topo.partition_name(p)).collect(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let committed = sim.committed_offsets(g);
            let topics: Vec<usize> = sim
                .consumers
                .iter()
                .filter(|c| c.group == g)
                .flat_map(|c| c.topics.iter().map(|&t| t as usize))
                .collect();
            let mut partitions = Vec::new();
            for (index, info) in topo.partitions.iter().enumerate() {
                if !topics.contains(&info.topic) {
                    continue;
                }
                let p = PartitionIdx(index as u32);
                let log_end_offset = sim.leader_high_watermark(p).unwrap_or(0);
                let current_offset = committed.get(&p).copied();
                let owner =
                    group_state.and_then(|s| s.members.values().find(|m| m.assignment.contains(&p)).map(|m| m.id));
                if partitions.iter().any(|r: &GroupPartitionReport| {
                    r.topic == topo.topics[info.topic].name && r.partition == info.partition
                }) {
                    continue;
                }
                partitions.push(GroupPartitionReport {
                    topic: topo.topics[info.topic].name.clone(),
                    partition: info.partition,
                    current_offset,
                    log_end_offset,
                    lag: current_offset.map(|c| log_end_offset.saturating_sub(c)),
                    consumer_id: owner.map(member_name),
                });
            }
            let v = &verdicts[g as usize];
            GroupReport {
                group: topo.groups[g as usize].clone(),
                state: group_state.map(|s| format!("{:?}", s.state)).unwrap_or_else(|| "Dead".into()),
                generation: group_state.map(|s| s.generation).unwrap_or(0),
                coordinator: coordinator.map(|b| b.0),
                assignor: sim
                    .consumers
                    .iter()
                    .find(|c| c.group == g)
                    .map(|c| c.config.assignor.name())
                    .unwrap_or("range"),
                members,
                partitions,
                checker: GroupCheckerReport {
                    processed: v.processed,
                    lost: v.lost.iter().map(|&id| sim.history.value(id, &names)).collect(),
                    unconsumed: v.unconsumed,
                    duplicates: v
                        .duplicates
                        .iter()
                        .map(|&(id, copies)| DuplicateReport { value: sim.history.value(id, &names), copies })
                        .collect(),
                    skips: v.skips,
                    nonmonotonic: v.nonmonotonic,
                    commits_failed: sim.consumers.iter().filter(|c| c.group == g).map(|c| c.commits_failed).sum(),
                },
            }
        })
        .collect()
}

/// A readable value for the coordinator's own records in `__consumer_offsets`.
fn describe_internal(sim: &Simulation, id: crate::ids::RecordId) -> String {
    match &sim.internal.records[id.index()] {
        crate::group::InternalRecord::OffsetCommit { group, partition, offset } => {
            format!("commit {} {}={}", sim.topo.groups[*group as usize], sim.topo.partition_name(*partition), offset)
        }
        crate::group::InternalRecord::GroupMetadata { group, generation, members, .. } => format!(
            "group {} generation {} with {} member(s)",
            sim.topo.groups[*group as usize],
            generation,
            members.len()
        ),
    }
}
