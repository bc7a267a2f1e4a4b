//! Korean sentences for trace events, one per event, mirroring `explain.rs` for Korean study groups.
//!
//! Each arm says the same thing as its English twin in `explain.rs`, with the reason and the Kafka config behind it.
//! Kafka's own vocabulary stays in English inside the Korean text: config keys, error names, ISR, high_watermark,
//! leader epoch, offset and KIP numbers. Korean particles (이/가, 은/는, 을/를, (으)로) depend on whether the word
//! before them ends in a consonant, so the helpers below pick them for names that only exist at run time.

use crate::ctx::Topology;
use crate::ids::NodeId;
use crate::message::{BrokerSet, KafkaError};
use crate::time::format_time;
use crate::trace::{BatchTrigger, DropReason, TraceEvent, TraceKind};
use std::fmt::Display;

fn set(brokers: BrokerSet) -> String {
    let ids: Vec<String> = brokers.iter().map(|b| b.to_string()).collect();
    format!("[{}]", ids.join(", "))
}

/// How the spoken form of a word ends, which decides the particle that follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Coda {
    /// No final consonant, as in `B2` (비이) or `orders` (오더스).
    Open,
    /// A final ㄹ, as in `B1` (비일): it counts as a consonant, except that it takes 로 rather than 으로.
    Rieul,
    /// Any other final consonant, as in `B3` (비삼) or `billing` (빌링).
    Closed,
}

/// Guesses how `word` ends when read aloud in Korean: Hangul exactly, digits as Sino-Korean numbers, short uppercase
/// words as letter names, and other Latin words by a rough rule for English loanwords.
fn coda(word: &str) -> Coda {
    // Closing brackets, quotes and other punctuation are not read aloud, so the last letter or digit decides.
    let word = word.trim_end_matches(|c: char| !c.is_alphanumeric());
    let chars: Vec<char> = word.chars().collect();
    let Some(&last) = chars.last() else { return Coda::Open };
    match last {
        '가'..='힣' => match (last as u32 - 0xAC00) % 28 {
            0 => Coda::Open,
            8 => Coda::Rieul,
            _ => Coda::Closed,
        },
        // A number is read by its last non-zero digit; 영, 십, 백, 천, 만 and 억 all end in a consonant.
        '1' | '7' | '8' => Coda::Rieul,
        '0' | '3' | '6' => Coda::Closed,
        '2' | '4' | '5' | '9' => Coda::Open,
        _ if last.is_ascii_alphabetic() => {
            let letters: Vec<char> = chars.iter().rev().take_while(|c| c.is_ascii_alphabetic()).copied().collect();
            if letters.len() <= 3 && letters.iter().all(|c| c.is_ascii_uppercase()) {
                // Short uppercase words such as `ISR` are spelled out: 엘 and 알 end in ㄹ, 엠 and 엔 in another consonant.
                return match last {
                    'L' | 'R' => Coda::Rieul,
                    'M' | 'N' => Coda::Closed,
                    _ => Coda::Open,
                };
            }
            let last = last.to_ascii_lowercase();
            let before = letters.get(1).map(|c| c.to_ascii_lowercase());
            let vowel = |c: Option<char>| matches!(c, Some('a' | 'e' | 'i' | 'o' | 'u'));
            match last {
                'l' => Coda::Rieul,
                'm' | 'n' => Coda::Closed,
                // The `-ng` of `billing` is read as 빌링; a lone `g` as in `log` is read as 로그.
                'g' if before == Some('n') => Coda::Closed,
                // A stop after a vowel or a doubled stop closes the syllable (캣, 웹, 앱); after a consonant it gets
                // its own vowel (테스트, 데스크).
                'k' | 'p' | 'b' | 't' if vowel(before) || before == Some(last) => Coda::Closed,
                _ => Coda::Open,
            }
        }
        _ => Coda::Open,
    }
}

/// The word followed by its subject particle, 이 or 가.
pub fn i_ga(word: impl Display) -> String {
    let word = word.to_string();
    let particle = if coda(&word) == Coda::Open { "가" } else { "이" };
    format!("{word}{particle}")
}

/// The word followed by its topic particle, 은 or 는.
fn eun_neun(word: impl Display) -> String {
    let word = word.to_string();
    let particle = if coda(&word) == Coda::Open { "는" } else { "은" };
    format!("{word}{particle}")
}

/// The word followed by its object particle, 을 or 를.
fn eul_reul(word: impl Display) -> String {
    let word = word.to_string();
    let particle = if coda(&word) == Coda::Open { "를" } else { "을" };
    format!("{word}{particle}")
}

/// The word followed by its direction particle, 으로 or 로 (로 also after a final ㄹ).
pub fn euro_ro(word: impl Display) -> String {
    let word = word.to_string();
    let particle = if coda(&word) == Coda::Closed { "으로" } else { "로" };
    format!("{word}{particle}")
}

/// The Korean wording of the reasons the group coordinator gives (see `group.rs`); an unknown reason stays as it is.
fn reason_ko(reason: &str) -> &str {
    match reason {
        "first member joined" => "첫 멤버 합류",
        "a member joined" => "새 멤버 합류",
        "the leader rejoined" => "리더가 다시 join함",
        "a member rejoined with new metadata" => "멤버가 바뀐 메타데이터로 다시 join함",
        "a member rejoined" => "멤버가 다시 join함",
        "did not rejoin in time" => "제시간에 다시 join하지 않음",
        "left the group" => "그룹을 떠남",
        "session.timeout.ms expired" => "session.timeout.ms 만료",
        other => other,
    }
}

/// One line for one event, e.g. `12.500s  B1이 [B3]을 orders-0의 ISR에서 빼자고 제안했습니다 ...`.
pub fn explain_ko(event: &TraceEvent, topo: &Topology) -> String {
    let node = |n: NodeId| topo.node_name(n).to_string();
    let part = |p| topo.partition_name(p);
    let grp = |g: u32| topo.groups[g as usize].clone();
    let lag = format_time(topo.broker_config.replica_lag_time_max);
    let text = match &event.kind {
        TraceKind::Delivered { from, to, message } => format!("{message:?}: {} -> {}", node(*from), node(*to)),
        TraceKind::Dropped { from, to, message, reason } => format!(
            "{}에서 {} 가던 {message:?} 메시지가 버려졌습니다: {}",
            node(*from),
            euro_ro(node(*to)),
            match reason {
                DropReason::LinkCut => "링크가 끊겨 있습니다",
                DropReason::Lost => "네트워크에서 유실됐습니다",
                DropReason::NodeDown => "받는 쪽이 다운돼 있습니다",
            }
        ),
        TraceKind::Refused { from, to, message } => format!(
            "{}의 프로세스가 내려가 있어 {}에서 온 {message:?} 메시지를 거부했습니다 (connection reset)",
            node(*to),
            node(*from)
        ),
        TraceKind::Crashed { broker, lost_unflushed } if *lost_unflushed > 0 => format!(
            "{broker}에 정전이 나서 크래시했습니다: 디스크에 flush되지 않았던 레코드 {lost_unflushed}개가 사라졌습니다"
        ),
        TraceKind::Crashed { broker, .. } => {
            format!("{} 크래시했습니다 (hard crash라서 리더십을 넘겨주지 못했습니다)", i_ga(broker))
        }
        TraceKind::Restarted { broker } => {
            format!("{} 재시작했습니다. 팔로워로 다시 합류합니다", i_ga(broker))
        }
        TraceKind::ShutdownRequested { broker } => format!(
            "{} 컨트롤러에 controlled shutdown을 요청했습니다: 먼저 리더십을 다른 브로커로 옮깁니다",
            i_ga(broker)
        ),
        TraceKind::Stopped { broker } => format!("{} 종료됐습니다", i_ga(broker)),
        TraceKind::ControllerCrashed => {
            "컨트롤러가 크래시했습니다: 돌아올 때까지 장애 감지도, 리더 선출도 일어나지 않습니다".into()
        }
        TraceKind::ControllerRestarted => "컨트롤러가 재시작해서 모든 브로커에게 새 세션을 주었습니다".into(),
        TraceKind::Isolated { node: n } => format!("{} 다른 모든 노드와 연결이 끊겼습니다", i_ga(node(*n))),
        TraceKind::LinkCut { from, to } => format!("{} -> {} 링크가 끊겼습니다", node(*from), node(*to)),
        TraceKind::Partitioned { groups } => {
            let groups: Vec<String> =
                groups.iter().map(|g| format!("{{{}}}", g.iter().map(|n| node(*n)).collect::<Vec<_>>().join(", "))).collect();
            format!("네트워크 파티션이 발생했습니다: {}", groups.join(" | "))
        }
        TraceKind::Healed => "모든 링크가 복구됐습니다".into(),
        TraceKind::Slowed { node: n, extra_latency } => {
            format!("{} 이제 메시지마다 {}씩 더 늦어집니다", eun_neun(node(*n)), format_time(*extra_latency))
        }
        TraceKind::Paused { node: n } => {
            format!("{} 멈췄습니다 (긴 GC pause): 아무 요청에도 응답하지 않습니다", i_ga(node(*n)))
        }
        TraceKind::Resumed { node: n } => {
            format!("{} 다시 깨어나 그동안 밀려 있던 요청을 모두 처리합니다", i_ga(node(*n)))
        }
        TraceKind::Appended { broker, partition, base_offset, records, leader_epoch } => format!(
            "{} {} 로그의 offset {base_offset}부터 레코드 {records}개를 추가했습니다 (leader epoch {leader_epoch})",
            i_ga(broker),
            part(*partition)
        ),
        TraceKind::DuplicateBatch { broker, partition, base_offset } => format!(
            "{} {}에서 중복 배치를 발견했습니다 (producer id와 sequence가 같음): 다시 추가하지 않고 기존 offset {} 응답했습니다",
            i_ga(broker),
            part(*partition),
            euro_ro(base_offset)
        ),
        TraceKind::Replicated { broker, partition, base_offset, records } => format!(
            "{} {}의 offset {base_offset}부터 레코드 {records}개를 fetch했습니다",
            i_ga(broker),
            part(*partition)
        ),
        TraceKind::HighWatermark { broker, partition, high_watermark } => {
            format!("{broker}: {}의 high_watermark가 이제 {high_watermark}입니다", part(*partition))
        }
        TraceKind::Truncated { broker, partition, from_offset, to_offset } => format!(
            "{} {}의 로그를 offset {from_offset}에서 {} 잘라냈습니다: 리더의 로그와 갈라졌기 때문입니다 (leader epoch 검사, KIP-101/KIP-320)",
            i_ga(broker),
            part(*partition),
            euro_ro(to_offset)
        ),
        TraceKind::BecameLeader { broker, partition, leader_epoch } => {
            format!("{} 이제 {}의 리더입니다 (leader epoch {leader_epoch})", i_ga(broker), part(*partition))
        }
        TraceKind::BecameFollower { broker, partition, leader, leader_epoch } => match leader {
            Some(leader) => format!(
                "{} {}에서 {} 따르는 팔로워가 됐습니다 (leader epoch {leader_epoch})",
                i_ga(broker),
                part(*partition),
                eul_reul(leader)
            ),
            None => format!(
                "{} {}의 팔로워가 됐지만 따를 리더가 없습니다 (leader epoch {leader_epoch})",
                i_ga(broker),
                part(*partition)
            ),
        },
        TraceKind::IsrShrinkProposed { broker, partition, removed } => format!(
            "{} {} {}의 ISR에서 빼자고 제안했습니다: replica.lag.time.max.ms({lag})보다 오래 따라잡지 못했습니다",
            i_ga(broker),
            eul_reul(set(*removed)),
            part(*partition)
        ),
        TraceKind::IsrExpandProposed { broker, partition, added } => format!(
            "{} {} {}의 ISR에 다시 넣자고 제안했습니다: high_watermark까지 따라잡았습니다",
            i_ga(broker),
            eul_reul(added),
            part(*partition)
        ),
        TraceKind::ProduceRejected { broker, partition, error } => {
            format!("{} {}에 대한 produce 요청을 거부했습니다: {}", i_ga(broker), part(*partition), error.name())
        }
        TraceKind::BrokerFenced { broker } => format!(
            "컨트롤러가 {} fence했습니다: broker.session.timeout.ms({}) 동안 heartbeat가 없었거나, 재시작했거나, 종료하는 중입니다",
            eul_reul(broker),
            format_time(topo.broker_config.broker_session_timeout)
        ),
        TraceKind::BrokerUnfenced { broker } => {
            format!("컨트롤러가 {broker}의 fence를 풀었습니다: 다시 돌아와서 따라잡았습니다")
        }
        TraceKind::IsrChanged { partition, isr, partition_epoch } => format!(
            "컨트롤러: {}의 ISR이 이제 {}입니다 (partition epoch {partition_epoch})",
            part(*partition),
            set(*isr)
        ),
        TraceKind::AlterPartitionRejected { partition, error } => {
            format!("컨트롤러가 {}의 ISR 변경을 거부했습니다: {}", part(*partition), error.name())
        }
        TraceKind::LeaderElected { partition, leader, leader_epoch, unclean: false } => format!(
            "컨트롤러가 ISR 안에서 {} {}의 리더로 선출했습니다 (leader epoch {leader_epoch})",
            eul_reul(leader),
            part(*partition)
        ),
        TraceKind::LeaderElected { partition, leader, leader_epoch, unclean: true } => format!(
            "UNCLEAN 리더 선출: in-sync가 아니었던 {} {}의 리더가 됐습니다 (leader epoch {leader_epoch}). 커밋된 데이터가 유실될 수 있습니다",
            i_ga(leader),
            part(*partition)
        ),
        TraceKind::PartitionOffline { partition, .. } => format!(
            "{} 오프라인입니다: 리더가 될 수 있는 살아 있는 in-sync 레플리카가 없습니다{}",
            i_ga(part(*partition)),
            if topo.partition(*partition).unclean_leader_election_enable {
                " (다른 레플리카도 살아 있지 않습니다)"
            } else {
                ". unclean.leader.election.enable도 false입니다"
            }
        ),
        TraceKind::RebalanceStarted { group, generation, reason } => format!(
            "그룹 {}: generation {generation} 이후 리밸런스가 시작됐습니다 ({})",
            grp(*group),
            reason_ko(reason)
        ),
        TraceKind::GenerationStarted { group, generation, members, leader } => format!(
            "그룹 {}: generation {generation}, 멤버 {members}명. {} 리더로서 assignor를 실행합니다",
            grp(*group),
            i_ga(leader)
        ),
        TraceKind::GroupStable { group, generation } => format!(
            "그룹 {}: generation {generation}에서 Stable 상태가 됐습니다. 모든 멤버가 파티션을 받았습니다",
            grp(*group)
        ),
        TraceKind::MemberRemoved { group, member, reason } => {
            format!("그룹 {}: {} 제거됐습니다 ({})", grp(*group), i_ga(member), reason_ko(reason))
        }
        TraceKind::CommitRejected { group, member, generation, error } => format!(
            "그룹 {}: {member}의 커밋(generation {generation})이 {} 오류로 거부됐습니다: 오래된 멤버가 새 소유자의 진행 상황을 덮어쓸 수는 없습니다",
            grp(*group),
            error.name()
        ),
        TraceKind::CommitNotReplicated { group, partitions, error } => format!(
            "그룹 {}: 파티션 {partitions}개의 커밋에 {} 오류로 답했습니다: {}. offset은 반영되지 않고, 컨슈머는 코디네이터를 다시 찾습니다",
            grp(*group),
            error.name(),
            if *error == KafkaError::CoordinatorNotAvailable {
                "__consumer_offsets 파티션의 in-sync 레플리카가 min.insync.replicas보다 적습니다"
            } else {
                "__consumer_offsets가 offsets.commit.timeout.ms 안에 복제하지 못했습니다"
            }
        ),
        TraceKind::OffsetsCommitted { group, partitions } => format!(
            "그룹 {}: 파티션 {partitions}개의 offset이 __consumer_offsets에 커밋됐습니다",
            grp(*group)
        ),
        TraceKind::GroupLoaded { broker, group, generation } => format!(
            "{} 이제 그룹 {}의 코디네이터입니다. __consumer_offsets에서 그룹 상태를 읽어 왔습니다 (generation {generation})",
            i_ga(broker),
            grp(*group)
        ),
        TraceKind::PartitionsAssigned { consumer, group, generation, partitions, cooperative } => format!(
            "{} 그룹 {}의 generation {generation}에서 파티션 {partitions}개를 {}",
            i_ga(node(*consumer)),
            grp(*group),
            match (*partitions, *cooperative) {
                (0, false) => "할당받아 놀고 있습니다 (컨슈머가 파티션보다 많습니다)",
                (0, true) => {
                    "할당받았습니다. 옮겨 갈 파티션은 원래 주인이 내려놓은 뒤 두 번째 리밸런스에서 넘어옵니다 (또는 \
                     컨슈머가 파티션보다 많습니다)"
                }
                _ => "할당받았습니다",
            }
        ),
        TraceKind::PartitionsRevoked { consumer, group, partitions } => format!(
            "{} 리밸런스 때문에 그룹 {}의 파티션 {partitions}개를 내려놓았습니다",
            i_ga(node(*consumer)),
            grp(*group)
        ),
        TraceKind::PollTimeout { consumer, group } => format!(
            "{} max.poll.interval.ms 안에 poll하지 않아서 그룹 {}에서 나갔습니다",
            i_ga(node(*consumer)),
            grp(*group)
        ),
        TraceKind::ConsumerStarted { consumer } => format!("{} 시작했습니다", i_ga(node(*consumer))),
        TraceKind::ConsumerCrashed { consumer } => format!(
            "{} 크래시했습니다: LeaveGroup을 보내지 못했으니 그룹은 session.timeout.ms 동안 기다립니다",
            i_ga(node(*consumer))
        ),
        TraceKind::ConsumerClosed { consumer } => {
            format!("{} 종료하면서 그룹을 떠났습니다", i_ga(node(*consumer)))
        }
        TraceKind::ConsumerSlowed { consumer, processing } => {
            format!("{} 이제 레코드 하나에 {}씩 걸립니다", i_ga(node(*consumer)), format_time(*processing))
        }
        TraceKind::CommitSyncRetry { consumer, group, error } => format!(
            "{}: 그룹 {}에 대한 commitSync가 {} 오류로 실패했습니다(재시도 가능). 다시 시도하며, 애플리케이션은 그동안 commitSync에서 기다립니다",
            node(*consumer),
            grp(*group),
            error.name(),
        ),
        TraceKind::CommitSyncTimedOut { consumer, group } => format!(
            "{}: 그룹 {}에 대한 commitSync가 default.api.timeout.ms 안에 성공하지 못해 포기했습니다(TimeoutException). 오프셋은 커밋되지 않았습니다",
            node(*consumer),
            grp(*group),
        ),
        TraceKind::RevocationCommitRetry { consumer, group, error } => format!(
            "{}: 그룹 {}에 다시 참여하기 전의 커밋이 {} 오류로 실패했습니다(재시도 가능). 다시 시도하며, JoinGroup은 그 커밋을 기다립니다",
            node(*consumer),
            grp(*group),
            error.name(),
        ),
        TraceKind::RevocationCommitGaveUp { consumer, group, auto_commit } => format!(
            "{}: 그룹 {}에 다시 참여하기 전의 커밋이 {} 안에 성공하지 못했습니다. 커밋 없이 다시 참여하므로, 파티션의 다음 주인은 마지막 커밋부터 시작해 일부 레코드를 다시 읽습니다",
            node(*consumer),
            grp(*group),
            if *auto_commit { "max.poll.interval.ms(리밸런스 타임아웃)" } else { "default.api.timeout.ms(commitSync)" },
        ),
        TraceKind::CommitFailedNotInGroup { consumer, group, rebalance_in_progress: true } => format!(
            "{}: 그룹 {}에 대한 커밋이 요청도 보내지 않고 곧바로 실패했습니다. 그룹이 리밸런싱 중입니다 (RebalanceInProgressException). 리밸런스가 끝나면 다시 커밋할 수 있습니다",
            node(*consumer),
            grp(*group),
        ),
        TraceKind::CommitFailedNotInGroup { consumer, group, rebalance_in_progress: false } => format!(
            "{}: 그룹 {}에 대한 커밋이 요청도 보내지 않고 곧바로 실패했습니다. 그룹을 떠났거나(max.poll.interval.ms) 그룹에서 밀려나 generation을 잊었기 때문입니다 (CommitFailedException)",
            node(*consumer),
            grp(*group),
        ),
        TraceKind::CommitFailed { consumer, group, error } => format!(
            "{}: 그룹 {}에 대한 커밋이 {} 오류로 실패했습니다 ({})",
            node(*consumer),
            grp(*group),
            error.name(),
            error.commit_exception()
        ),
        TraceKind::ConsumerTruncationDetected { consumer, partition, from_offset, to_offset } => format!(
            "{} {}의 로그가 자기 위치(position) {from_offset} 아래로 잘린 것을 감지하고(KIP-320) offset {} 되돌아갔습니다",
            i_ga(node(*consumer)),
            part(*partition),
            euro_ro(to_offset)
        ),
        TraceKind::BatchSent { producer, partition, records, attempt, to, trigger } => format!(
            "{} {}용 레코드 {records}개짜리 배치를 {to}에 보냈습니다 ({}){}",
            i_ga(node(NodeId(topo.brokers + 1 + producer.0))),
            part(*partition),
            match trigger {
                BatchTrigger::BatchSize => "batch.size 도달",
                BatchTrigger::Linger => "linger.ms 만료",
                BatchTrigger::NoLinger => "linger.ms=0",
                BatchTrigger::Drained => "같은 브로커로 가는 준비된 배치와 함께",
            },
            if *attempt > 1 { format!(", {attempt}번째 시도") } else { String::new() }
        ),
        TraceKind::ProduceAcked { producer, partition, base_offset, records } => format!(
            "{} {}에 보낸 레코드 {records}개의 ack를 받았습니다: offset {}",
            i_ga(node(NodeId(topo.brokers + 1 + producer.0))),
            part(*partition),
            base_offset.map(|o| o.to_string()).unwrap_or_else(|| "-1 (acks=0)".into())
        ),
        TraceKind::ProduceRetry { producer, partition, error, records } => format!(
            "{} {} 오류를 받아 {}의 레코드 {records}개를 다시 보낼 예정입니다",
            i_ga(node(NodeId(topo.brokers + 1 + producer.0))),
            error.name(),
            part(*partition)
        ),
        TraceKind::ProduceFailed { producer, partition, error, records } => format!(
            "{} {}의 레코드 {records}개 전송을 포기했습니다: {}",
            i_ga(node(NodeId(topo.brokers + 1 + producer.0))),
            part(*partition),
            error.name()
        ),
        TraceKind::ProducerEpochBumped { producer, partition, producer_epoch } => format!(
            "{} 리더가 {}의 어느 시퀀스 번호까지 가졌는지 알 수 없어 producer epoch를 {} 올리고 그 파티션을 시퀀스 0부터 다시 시작합니다",
            eun_neun(node(NodeId(topo.brokers + 1 + producer.0))),
            part(*partition),
            euro_ro(producer_epoch)
        ),
        TraceKind::ProducerConnected { producer, broker } => format!(
            "{}의 {} 새 연결이 준비되었습니다: ApiVersions 요청에 응답을 받았으니 다시 요청을 보낼 수 있습니다",
            node(NodeId(topo.brokers + 1 + producer.0)),
            node(broker.node())
        ),
    };
    format!("{:>10}  {text}", format_time(event.time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn particles_follow_how_names_are_read() {
        // B1 is read 비일 (final ㄹ), B2 비이 (open), B3 비삼 (closed).
        assert_eq!(i_ga("B1"), "B1이");
        assert_eq!(i_ga("B2"), "B2가");
        assert_eq!(eul_reul("B3"), "B3을");
        assert_eq!(euro_ro("B1"), "B1로");
        assert_eq!(euro_ro("B3"), "B3으로");
        assert_eq!(euro_ro(10u64), "10으로");
        // Closing brackets are skipped, so the last broker in a set decides.
        assert_eq!(eul_reul("[B2, B4]"), "[B2, B4]를");
        assert_eq!(i_ga("orders-0"), "orders-0이");
        assert_eq!(eun_neun("billing"), "billing은");
        assert_eq!(eun_neun("analytics"), "analytics는");
        assert_eq!(i_ga("web"), "web이");
        assert_eq!(i_ga("ISR"), "ISR이");
        assert_eq!(i_ga("컨트롤러"), "컨트롤러가");
        assert_eq!(euro_ro("파일"), "파일로");
    }
}
