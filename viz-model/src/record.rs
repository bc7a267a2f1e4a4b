//! A record's whole path, for the record inspector: produced, sent in a batch, appended at the leader, fetched by
//! each follower, committed (passed the high watermark), acked, consumed, offset committed, and its verdict.
//! Built by re-simulating with every trace event kept and watching the record's partition. Each step is kept as
//! data and put into words in English or Korean when shown, so switching the language needs no replay.

use crate::run::SimRun;
use kafkascope_sim::explain_ko::{euro_ro, i_ga};
use kafkascope_sim::history::{RecordStatus, Verdict};
use kafkascope_sim::ids::{BrokerId, RecordId};
use kafkascope_sim::message::KafkaError;
use kafkascope_sim::scenario::Lang;
use kafkascope_sim::sim::{SimError, Simulation};
use kafkascope_sim::time::Micros;
use kafkascope_sim::trace::{BatchTrigger, TraceKind};

/// One moment of the path.
#[derive(Clone, Debug, PartialEq)]
pub struct PathStep {
    pub time: Micros,
    pub step: Step,
}

/// What happened to the record at one moment.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// The application handed it to `KafkaProducer.send`.
    Produced {
        producer: String,
    },
    /// It left in a batch (again, for a retry).
    BatchSent {
        records: u32,
        to: BrokerId,
        attempt: u32,
        trigger: BatchTrigger,
    },
    Appended {
        leader: BrokerId,
        offset: u64,
        leader_epoch: u32,
    },
    Fetched {
        follower: BrokerId,
        offset: u64,
    },
    /// The leader's high watermark passed it: every ISR member has it, and consumers may read it.
    Committed {
        high_watermark: u64,
        leader: BrokerId,
    },
    Truncated {
        broker: BrokerId,
        from_offset: u64,
        to_offset: u64,
    },
    LostUnflushed {
        broker: BrokerId,
    },
    /// The producer's callback reported success; `offset` is `None` for acks=0 (Kafka reports -1).
    Acked {
        producer: String,
        offset: Option<u64>,
    },
    Failed {
        producer: String,
        error: KafkaError,
    },
    OffsetCommitted {
        group: String,
        committed: u64,
    },
    Consumed {
        consumer: String,
        offset: u64,
        generation: u32,
    },
}

impl PathStep {
    /// The step in words. Kafka's vocabulary (config keys, error names, high_watermark, leader_epoch) stays in
    /// English inside the Korean text, as in the trace's Korean explanations.
    pub fn text(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.step.english(),
            Lang::Ko => self.step.korean(),
        }
    }
}

impl Step {
    fn english(&self) -> String {
        match self {
            Step::Produced { producer } => format!("produced by {producer}"),
            Step::BatchSent { records, to, attempt, trigger } => {
                let trigger = match trigger {
                    BatchTrigger::BatchSize => "batch.size reached",
                    BatchTrigger::Linger => "linger.ms expired",
                    BatchTrigger::NoLinger => "linger.ms=0",
                    BatchTrigger::Drained => "along with a ready batch for the same broker",
                };
                format!("batch of {records} sent to {to} (attempt {attempt}, {trigger})")
            }
            Step::Appended { leader, offset, leader_epoch } => {
                format!("appended by leader {leader} at offset {offset} (leader_epoch {leader_epoch})")
            }
            Step::Fetched { follower, offset } => format!("fetched by follower {follower} (offset {offset})"),
            Step::Committed { high_watermark, leader } => {
                format!("committed: high_watermark {high_watermark} on leader {leader} passed it")
            }
            Step::Truncated { broker, from_offset, to_offset } => {
                format!("truncated away on {broker} (log cut from {from_offset} to {to_offset})")
            }
            Step::LostUnflushed { broker } => format!("lost from {broker}'s unflushed log at power loss"),
            Step::Acked { producer, offset: Some(offset) } => format!("acked to {producer} (offset {offset})"),
            Step::Acked { producer, offset: None } => {
                format!("acked to {producer} (acks=0: offset -1, nothing checked)")
            }
            Step::Failed { producer, error } => format!("failed: {producer} was told {}", error.name()),
            Step::OffsetCommitted { group, committed } => format!("offset committed by group {group} ({committed})"),
            Step::Consumed { consumer, offset, generation } => {
                format!("consumed by {consumer} (offset {offset}, generation {generation})")
            }
        }
    }

    fn korean(&self) -> String {
        match self {
            Step::Produced { producer } => format!("{} 보냄 (send)", i_ga(producer)),
            Step::BatchSent { records, to, attempt, trigger } => {
                let trigger = match trigger {
                    BatchTrigger::BatchSize => "batch.size 도달",
                    BatchTrigger::Linger => "linger.ms 만료",
                    BatchTrigger::NoLinger => "linger.ms=0",
                    BatchTrigger::Drained => "같은 브로커로 가는 준비된 배치와 함께",
                };
                format!("레코드 {records}개짜리 배치로 {to}에 전송 ({attempt}번째 시도, {trigger})")
            }
            Step::Appended { leader, offset, leader_epoch } => {
                format!("리더 {} offset {offset}에 추가 (leader_epoch {leader_epoch})", i_ga(leader))
            }
            Step::Fetched { follower, offset } => format!("팔로워 {} fetch로 복제 (offset {offset})", i_ga(follower)),
            Step::Committed { high_watermark, leader } => {
                format!("커밋됨: 리더 {leader}의 high_watermark {} 이 레코드를 지남", i_ga(high_watermark))
            }
            Step::Truncated { broker, from_offset, to_offset } => {
                format!("{broker}에서 잘려 나감 (로그를 offset {from_offset}에서 {} 잘라 냄)", euro_ro(to_offset))
            }
            Step::LostUnflushed { broker } => {
                format!("정전: {broker}의 디스크에 쓰지 않은(unflushed) 로그와 함께 사라짐")
            }
            Step::Acked { producer, offset: Some(offset) } => {
                format!("{} ack를 받음 (offset {offset})", i_ga(producer))
            }
            Step::Acked { producer, offset: None } => {
                format!("{} ack를 받음 (acks=0: offset -1, 아무것도 확인하지 않음)", i_ga(producer))
            }
            Step::Failed { producer, error } => format!("실패: {} {} 오류를 받음", i_ga(producer), error.name()),
            Step::OffsetCommitted { group, committed } => {
                format!("그룹 {} 오프셋을 커밋함 ({committed})", i_ga(group))
            }
            Step::Consumed { consumer, offset, generation } => {
                format!("{} 처리함 (offset {offset}, generation {generation})", i_ga(consumer))
            }
        }
    }
}

/// What became of the record, per the checker.
#[derive(Clone, Debug, PartialEq)]
pub enum RecordFate {
    /// In its partition's log of record, once.
    Survived { offset: u64 },
    /// Acked to the producer, and not in the log any more.
    Lost,
    /// In the log more than once (a retry without idempotence).
    Duplicated { copies: u32 },
    /// The producer's callback reported an error; the application knows. The record may be committed all the same
    /// (`committed_at`): a failed send's outcome is indeterminate (KIP-91).
    Failed { error: String, committed_at: Option<u64> },
    /// Not answered yet.
    Pending,
    /// Sent with `acks=0` (no answer expected) and not in the log.
    Unacknowledged,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RecordPath {
    pub record: RecordId,
    pub title: String,
    pub steps: Vec<PathStep>,
    pub fate: RecordFate,
}

impl RecordPath {
    /// The verdict in plain words.
    pub fn fate_text(&self, lang: Lang) -> String {
        match (&self.fate, lang) {
            (RecordFate::Survived { offset }, Lang::En) => format!("survived at offset {offset}"),
            (RecordFate::Survived { offset }, Lang::Ko) => format!("살아남음 (오프셋 {offset})"),
            (RecordFate::Lost, Lang::En) => "LOST: acked to the producer, then gone from the log".into(),
            (RecordFate::Lost, Lang::Ko) => "유실: 프로듀서는 성공 응답(ack)을 받았지만 로그에서 사라짐".into(),
            (RecordFate::Duplicated { copies }, Lang::En) => format!("DUPLICATED: {copies} copies in the log"),
            (RecordFate::Duplicated { copies }, Lang::Ko) => format!("중복: 로그에 {copies}개의 사본"),
            (RecordFate::Failed { error, committed_at: None }, Lang::En) => format!("failed: the producer was told {error}"),
            (RecordFate::Failed { error, committed_at: None }, Lang::Ko) => format!("실패: 프로듀서가 {error} 오류를 받음"),
            (RecordFate::Failed { error, committed_at: Some(offset) }, Lang::En) => format!(
                "failed, yet committed at offset {offset}: the producer was told {error}, but the write went through \
                 (sending it again would duplicate it)"
            ),
            (RecordFate::Failed { error, committed_at: Some(offset) }, Lang::Ko) => format!(
                "실패했지만 오프셋 {offset}에 커밋됨: 프로듀서는 {error} 오류를 받았지만 쓰기는 이루어졌음 (다시 보내면 중복)"
            ),
            (RecordFate::Pending, Lang::En) => "pending: no answer yet".into(),
            (RecordFate::Pending, Lang::Ko) => "대기 중: 아직 응답 없음".into(),
            (RecordFate::Unacknowledged, Lang::En) => "not in the log (acks=0: nobody was told)".into(),
            (RecordFate::Unacknowledged, Lang::Ko) => "로그에 없음 (acks=0: 아무도 알 수 없음)".into(),
        }
    }
}

/// Builds the path of `record` up to the shown state of `run`. `verdict` is the checker's verdict now.
pub fn record_path(run: &SimRun, record: RecordId, verdict: &Verdict) -> Result<RecordPath, SimError> {
    let sim = run.sim();
    let info = sim.history.get(record).clone();
    let partition = info.partition;
    let producer_name = sim.producers[info.producer.index()].name.clone();
    let value = sim.history.value(record, &sim.scenario.producers.iter().map(|p| p.name.clone()).collect::<Vec<_>>());
    let title = format!("{value} ({producer_name} → {})", sim.topo.partition_name(partition));
    let mut steps = vec![PathStep { time: info.created_at, step: Step::Produced { producer: producer_name.clone() } }];
    // Where the record sits in each broker's log, as far as we have seen.
    let offset_in = |sim: &Simulation, broker: BrokerId, from: u64, count: u64| -> Option<u64> {
        let replica = sim.replica(broker, partition)?;
        let entries = replica.log.entries();
        (from..from + count).find(|&o| entries.get(o as usize).is_some_and(|e| e.record == record))
    };
    let mut offsets: Vec<Option<u64>> = vec![None; sim.topo.brokers as usize + 1];
    let mut committed_on: Vec<bool> = vec![false; sim.topo.brokers as usize + 1];
    let mut consumed = 0usize;
    let mut committed_groups: Vec<u32> = Vec::new();
    run.replay_with_full_trace(info.created_at, |sim, events| {
        for event in events {
            let time = event.time;
            match &event.kind {
                TraceKind::BatchSent { producer, partition: p, records, attempt, to, trigger }
                    if *producer == info.producer && *p == partition && time >= info.created_at =>
                {
                    // The record rides in the first batch for its partition after it was produced, and in retries
                    // until it is answered.
                    let answered = record.index() >= sim.history.records.len()
                        || !matches!(sim.history.status(record), RecordStatus::Pending);
                    if !answered && (offsets.iter().all(|o| o.is_none()) || *attempt > 1) {
                        steps.push(PathStep {
                            time,
                            step: Step::BatchSent { records: *records, to: *to, attempt: *attempt, trigger: *trigger },
                        });
                    }
                }
                TraceKind::Appended { broker, partition: p, base_offset, records, leader_epoch } if *p == partition => {
                    if let Some(o) = offset_in(sim, *broker, *base_offset, *records as u64) {
                        offsets[broker.0 as usize] = Some(o);
                        steps.push(PathStep {
                            time,
                            step: Step::Appended { leader: *broker, offset: o, leader_epoch: *leader_epoch },
                        });
                    }
                }
                TraceKind::Replicated { broker, partition: p, base_offset, records }
                    if *p == partition && offsets[broker.0 as usize].is_none() =>
                {
                    if let Some(o) = offset_in(sim, *broker, *base_offset, *records as u64) {
                        offsets[broker.0 as usize] = Some(o);
                        steps.push(PathStep { time, step: Step::Fetched { follower: *broker, offset: o } });
                    }
                }
                TraceKind::HighWatermark { broker, partition: p, high_watermark } if *p == partition => {
                    if let Some(o) = offsets[broker.0 as usize] {
                        let leader = sim.replica(*broker, partition).is_some_and(|r| r.leader_state().is_some());
                        if leader && *high_watermark > o && !committed_on[broker.0 as usize] {
                            committed_on[broker.0 as usize] = true;
                            steps.push(PathStep {
                                time,
                                step: Step::Committed { high_watermark: *high_watermark, leader: *broker },
                            });
                        }
                    }
                }
                TraceKind::Truncated { broker, partition: p, from_offset, to_offset } if *p == partition => {
                    if let Some(o) = offsets[broker.0 as usize] {
                        if o >= *to_offset && o < *from_offset {
                            offsets[broker.0 as usize] = None;
                            committed_on[broker.0 as usize] = false;
                            steps.push(PathStep {
                                time,
                                step: Step::Truncated {
                                    broker: *broker,
                                    from_offset: *from_offset,
                                    to_offset: *to_offset,
                                },
                            });
                        }
                    }
                }
                TraceKind::Crashed { broker, lost_unflushed } if *lost_unflushed > 0 => {
                    if let Some(o) = offsets[broker.0 as usize] {
                        if sim.replica(*broker, partition).is_none_or(|r| r.log_end_offset() <= o) {
                            offsets[broker.0 as usize] = None;
                            steps.push(PathStep { time, step: Step::LostUnflushed { broker: *broker } });
                        }
                    }
                }
                TraceKind::ProduceAcked { producer, partition: p, .. }
                | TraceKind::ProduceFailed { producer, partition: p, .. }
                    if *producer == info.producer && *p == partition =>
                {
                    let status = (record.index() < sim.history.records.len()).then(|| sim.history.status(record));
                    match status {
                        Some(RecordStatus::Acked { offset, at }) if at == time => {
                            steps.push(PathStep { time, step: Step::Acked { producer: producer_name.clone(), offset } })
                        }
                        Some(RecordStatus::Failed { error, at }) if at == time => {
                            steps.push(PathStep { time, step: Step::Failed { producer: producer_name.clone(), error } })
                        }
                        _ => {}
                    }
                }
                TraceKind::OffsetsCommitted { group, .. } => {
                    let consumed_in_group = sim.processed.iter().find(|p| p.record == record && p.group == *group);
                    if let Some(processed) = consumed_in_group {
                        let committed = sim.committed_offsets(*group).get(&partition).copied().unwrap_or(0);
                        if committed > processed.offset && !committed_groups.contains(group) {
                            committed_groups.push(*group);
                            let name = &sim.topo.groups[*group as usize];
                            steps.push(PathStep {
                                time,
                                step: Step::OffsetCommitted { group: name.clone(), committed },
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        while consumed < sim.processed.len() {
            let processed = &sim.processed[consumed];
            consumed += 1;
            if processed.record == record {
                let name = &sim.topo.node_names[sim.consumers[processed.consumer as usize].node.index()];
                steps.push(PathStep {
                    time: processed.at,
                    step: Step::Consumed {
                        consumer: name.clone(),
                        offset: processed.offset,
                        generation: processed.generation,
                    },
                });
            }
        }
    })?;
    let fate = if verdict.acked_lost.contains(&record) {
        RecordFate::Lost
    } else if let Some((_, copies)) = verdict.duplicates.iter().find(|(r, _)| *r == record) {
        RecordFate::Duplicated { copies: *copies }
    } else {
        let in_log = sim
            .reference_log(partition)
            .and_then(|log| log.entries().iter().position(|e| e.record == record))
            .map(|o| o as u64);
        match (&sim.history.status(record), in_log) {
            (RecordStatus::Failed { error, .. }, in_log) => RecordFate::Failed {
                error: error.name().to_string(),
                committed_at: in_log.filter(|_| verdict.failed_written.contains(&record)),
            },
            (_, Some(offset)) => RecordFate::Survived { offset },
            (RecordStatus::Pending, None) => RecordFate::Pending,
            (RecordStatus::Acked { .. }, None) => RecordFate::Unacknowledged,
        }
    };
    Ok(RecordPath { record, title, steps, fate })
}
