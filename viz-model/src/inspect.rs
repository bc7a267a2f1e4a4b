//! The replica inspector: a replica's offsets, its leader-epoch cache, its lag behind the leader, and why it is or
//! is not in the ISR, in the words of Kafka's rules.

use kafkascope_sim::ids::{BrokerId, PartitionIdx};
use kafkascope_sim::scenario::Lang;
use kafkascope_sim::sim::Simulation;
use kafkascope_sim::time::format_time;

/// Lines describing one replica, or `None` if the broker hosts no replica of the partition.
pub fn describe_replica(
    sim: &Simulation,
    broker: BrokerId,
    partition: PartitionIdx,
    lang: Lang,
) -> Option<Vec<String>> {
    let replica = sim.replica(broker, partition)?;
    let ko = lang == Lang::Ko;
    let state = &sim.controller.partitions[partition.index()];
    let lag_max = sim.topo.broker_config.replica_lag_time_max;
    let mut lines = vec![
        format!("{} @ {broker}", sim.topo.partition_name(partition)),
        format!("log_end_offset (LEO) = {}", replica.log_end_offset()),
        format!("high_watermark (HW) = {}", replica.high_watermark),
        format!("leader_epoch = {}", replica.leader_epoch),
    ];
    let cache: Vec<String> =
        replica.log.epochs().iter().map(|e| format!("{} → {}", e.leader_epoch, e.start_offset)).collect();
    lines.push(format!(
        "{} {}",
        if ko {
            "리더 에포크 캐시 (epoch → 시작 오프셋):"
        } else {
            "leader-epoch cache (epoch → start offset):"
        },
        if cache.is_empty() { "-".to_string() } else { cache.join(", ") }
    ));
    let leader = state.leader;
    if let Some(own) = replica.leader_state() {
        lines.push(if leader == Some(broker) {
            if ko {
                "리더 (컨트롤러가 선출)".into()
            } else {
                "leader (elected by the controller)".into()
            }
        } else if ko {
            "스스로 리더라고 믿지만 컨트롤러는 다른 리더를 뽑았음 (좀비 리더): acks=all 쓰기는 HW를 넘지 못함".into()
        } else {
            "acts as leader, but the controller elected another (a zombie leader): its acks=all writes cannot commit"
                .into()
        });
        for follower in &own.followers {
            let behind = sim
                .last_caught_up_time(broker, partition, follower.broker)
                .map(|caught_up| format_time(sim.now().saturating_sub(caught_up)));
            let leo = follower.log_end_offset.map_or("?".to_string(), |o| o.to_string());
            lines.push(match (behind, ko) {
                (Some(behind), true) => {
                    format!("  팔로워 {}: LEO {leo}, 마지막으로 따라잡은 지 {behind} 전", follower.broker)
                }
                (Some(behind), false) => {
                    format!("  follower {}: LEO {leo}, last caught up {behind} ago", follower.broker)
                }
                (None, true) => format!("  팔로워 {}: LEO {leo}, 이 리더를 따라잡은 적 없음", follower.broker),
                (None, false) => format!("  follower {}: LEO {leo}, never caught up with this leader", follower.broker),
            });
        }
    } else if let Some(leader) = leader {
        if let Some(leader_replica) = sim.replica(leader, partition) {
            let lag = leader_replica.log_end_offset().saturating_sub(replica.log_end_offset());
            lines.push(if ko {
                format!("리더 {leader}보다 {lag}개 레코드 뒤처짐")
            } else {
                format!("{lag} records behind leader {leader}")
            });
        }
        lines.push(fetch_session_line(sim, broker, leader, replica, ko));
    }
    let in_isr = state.isr.contains(broker);
    let caught_up_ago =
        leader.and_then(|l| sim.last_caught_up_time(l, partition, broker)).map(|time| sim.now().saturating_sub(time));
    // Source: Kafka docs, `replica.lag.time.max.ms`: "If a follower hasn't sent any fetch requests or hasn't consumed
    // up to the leaders log end offset for at least this time, the leader will remove the follower from isr".
    lines.push(match (in_isr, caught_up_ago, ko) {
        (true, _, false) => format!(
            "in the ISR: it caught up with the leader's LEO within replica.lag.time.max.ms ({})",
            format_time(lag_max)
        ),
        (true, _, true) => format!("ISR 안: replica.lag.time.max.ms ({}) 안에 리더의 LEO를 따라잡았음", format_time(lag_max)),
        (false, Some(ago), false) => format!(
            "out of the ISR: not caught up for {} > replica.lag.time.max.ms ({}); it rejoins once its LEO reaches the HW",
            format_time(ago),
            format_time(lag_max)
        ),
        (false, Some(ago), true) => format!(
            "ISR 밖: {} 동안 따라잡지 못함 > replica.lag.time.max.ms ({}); LEO가 HW에 닿으면 다시 합류",
            format_time(ago),
            format_time(lag_max)
        ),
        (false, None, false) => "out of the ISR: the leader has no fetch from it (down, cut off, or no leader)".into(),
        (false, None, true) => "ISR 밖: 리더가 이 복제본의 fetch를 받지 못함 (다운, 단절, 또는 리더 없음)".into(),
    });
    Some(lines)
}

/// The follower's fetch session with its leader (KIP-227): its epoch, how many partitions it holds, whether a request
/// is out, and whether this partition is in it.
fn fetch_session_line(
    sim: &Simulation,
    broker: BrokerId,
    leader: BrokerId,
    replica: &kafkascope_sim::broker::Replica,
    ko: bool,
) -> String {
    let fetcher = sim.brokers[broker.0 as usize - 1].fetchers.get(leader.0 as usize);
    let (epoch, size, in_flight) =
        fetcher.map_or((0, 0, false), |f| (f.session_epoch, f.session_size, f.in_flight.is_some()));
    let member = replica.session_position.is_some_and(|(l, _)| l == leader);
    let state = match (replica.fetch_delayed, member, ko) {
        (true, _, false) => "this partition sits out replica.fetch.backoff.ms after an error",
        (true, _, true) => "이 파티션은 에러 뒤 replica.fetch.backoff.ms 동안 빠져 있음",
        (false, true, false) => "this partition is in it",
        (false, true, true) => "이 파티션 포함",
        (false, false, false) => "this partition joins with the next request",
        (false, false, true) => "이 파티션은 다음 요청에서 합류",
    };
    let request = match (in_flight, ko) {
        (true, false) => "a request is out (the leader holds it until records arrive)",
        (true, true) => "요청 하나가 나가 있음(리더는 레코드가 올 때까지 붙잡아 둠)",
        (false, false) => "no request out",
        (false, true) => "나가 있는 요청 없음",
    };
    if ko {
        format!("{leader}와의 fetch 세션(KIP-227): epoch {epoch}, 파티션 {size}개, {state}; {request}")
    } else {
        format!("fetch session with {leader} (KIP-227): epoch {epoch}, {size} partition(s), {state}; {request}")
    }
}
