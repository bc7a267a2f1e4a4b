//! Plain-language sentences for trace events, with the reason and the Kafka config behind each one.

use crate::ctx::Topology;
use crate::ids::NodeId;
use crate::message::{BrokerSet, KafkaError};
use crate::time::format_time;
use crate::trace::{BatchTrigger, DropReason, TraceEvent, TraceKind};

fn set(brokers: BrokerSet) -> String {
    let ids: Vec<String> = brokers.iter().map(|b| b.to_string()).collect();
    format!("[{}]", ids.join(", "))
}

/// One line for one event, e.g. `12.500s  B1 proposed removing [B3] from the ISR of orders-0 ...`.
pub fn explain(event: &TraceEvent, topo: &Topology) -> String {
    let node = |n: NodeId| topo.node_name(n).to_string();
    let part = |p| topo.partition_name(p);
    let grp = |g: u32| topo.groups[g as usize].clone();
    let lag = format_time(topo.broker_config.replica_lag_time_max);
    let text = match &event.kind {
        TraceKind::Delivered { from, to, message } => format!("{message:?}: {} -> {}", node(*from), node(*to)),
        TraceKind::Dropped { from, to, message, reason } => format!(
            "{message:?} from {} to {} was dropped: {}",
            node(*from),
            node(*to),
            match reason {
                DropReason::LinkCut => "the link is cut",
                DropReason::Lost => "lost by the network",
                DropReason::NodeDown => "the receiver is down",
            }
        ),
        TraceKind::Refused { from, to, message } => {
            format!("{} refused {message:?} from {}: its process is down (connection reset)", node(*to), node(*from))
        }
        TraceKind::Crashed { broker, lost_unflushed } if *lost_unflushed > 0 => {
            format!("{broker} crashed with a power loss: {lost_unflushed} unflushed records are gone from its disk")
        }
        TraceKind::Crashed { broker, .. } => format!("{broker} crashed (hard crash: no leadership handover)"),
        TraceKind::Restarted { broker } => format!("{broker} restarted; it will rejoin as a follower"),
        TraceKind::ShutdownRequested { broker } => {
            format!("{broker} asked the controller for a controlled shutdown: leadership moves away first")
        }
        TraceKind::Stopped { broker } => format!("{broker} stopped"),
        TraceKind::ControllerCrashed => "the controller crashed: no failure detection and no elections until it returns".into(),
        TraceKind::ControllerRestarted => "the controller restarted and gave every broker a fresh session".into(),
        TraceKind::Isolated { node: n } => format!("{} is cut off from every other node", node(*n)),
        TraceKind::LinkCut { from, to } => format!("the link {} -> {} is cut", node(*from), node(*to)),
        TraceKind::Partitioned { groups } => {
            let groups: Vec<String> =
                groups.iter().map(|g| format!("{{{}}}", g.iter().map(|n| node(*n)).collect::<Vec<_>>().join(", "))).collect();
            format!("network partition: {}", groups.join(" | "))
        }
        TraceKind::Healed => "every link is restored".into(),
        TraceKind::Slowed { node: n, extra_latency } => {
            format!("{} is slowed by {} per message", node(*n), format_time(*extra_latency))
        }
        TraceKind::Paused { node: n } => format!("{} is paused (a long GC pause): it answers nothing", node(*n)),
        TraceKind::Resumed { node: n } => format!("{} resumed and handles everything that queued up", node(*n)),
        TraceKind::Appended { broker, partition, base_offset, records, leader_epoch } => format!(
            "{broker} appended {records} record(s) to {} at offset {base_offset} in leader epoch {leader_epoch}",
            part(*partition)
        ),
        TraceKind::DuplicateBatch { broker, partition, base_offset } => format!(
            "{broker} saw a duplicate batch on {} (same producer id and sequence): answered with offset {base_offset}, not appended again",
            part(*partition)
        ),
        TraceKind::Replicated { broker, partition, base_offset, records } => {
            format!("{broker} fetched {records} record(s) of {} from offset {base_offset}", part(*partition))
        }
        TraceKind::HighWatermark { broker, partition, high_watermark } => {
            format!("{broker}: high_watermark of {} is now {high_watermark}", part(*partition))
        }
        TraceKind::Truncated { broker, partition, from_offset, to_offset } => format!(
            "{broker} truncated {} from {from_offset} to {to_offset}: its log diverged from the leader's (leader epoch check, KIP-101/KIP-320)",
            part(*partition)
        ),
        TraceKind::BecameLeader { broker, partition, leader_epoch } => {
            format!("{broker} is now leader of {} (leader epoch {leader_epoch})", part(*partition))
        }
        TraceKind::BecameFollower { broker, partition, leader, leader_epoch } => format!(
            "{broker} follows {} for {} (leader epoch {leader_epoch})",
            leader.map(|l| l.to_string()).unwrap_or_else(|| "no leader".into()),
            part(*partition)
        ),
        TraceKind::IsrShrinkProposed { broker, partition, removed } => format!(
            "{broker} proposed removing {} from the ISR of {}: not caught up for more than replica.lag.time.max.ms ({lag})",
            set(*removed),
            part(*partition)
        ),
        TraceKind::IsrExpandProposed { broker, partition, added } => format!(
            "{broker} proposed adding {added} back to the ISR of {}: it reached the high watermark",
            part(*partition)
        ),
        TraceKind::ProduceRejected { broker, partition, error } => {
            format!("{broker} rejected a produce to {}: {}", part(*partition), error.name())
        }
        TraceKind::BrokerFenced { broker } => format!(
            "controller fenced {broker}: no heartbeat for broker.session.timeout.ms ({}), or it restarted or is shutting down",
            format_time(topo.broker_config.broker_session_timeout)
        ),
        TraceKind::BrokerUnfenced { broker } => format!("controller unfenced {broker}: it is back and caught up"),
        TraceKind::IsrChanged { partition, isr, partition_epoch } => {
            format!("controller: ISR of {} is now {} (partition epoch {partition_epoch})", part(*partition), set(*isr))
        }
        TraceKind::AlterPartitionRejected { partition, error } => {
            format!("controller rejected an ISR change for {}: {}", part(*partition), error.name())
        }
        TraceKind::LeaderElected { partition, leader, leader_epoch, unclean: false } => {
            format!("controller elected {leader} leader of {} from the ISR (leader epoch {leader_epoch})", part(*partition))
        }
        TraceKind::LeaderElected { partition, leader, leader_epoch, unclean: true } => format!(
            "UNCLEAN election: {leader} leads {} (leader epoch {leader_epoch}) although it was not in sync; committed data may be lost",
            part(*partition)
        ),
        TraceKind::PartitionOffline { partition, .. } => format!(
            "{} is offline: no in-sync replica is alive to lead it{}",
            part(*partition),
            if topo.partition(*partition).unclean_leader_election_enable {
                " (and no other replica is alive either)"
            } else {
                ", and unclean.leader.election.enable is false"
            }
        ),
        TraceKind::RebalanceStarted { group, generation, reason } => {
            format!("group {}: rebalance started after generation {generation} ({reason})", grp(*group))
        }
        TraceKind::GenerationStarted { group, generation, members, leader } => format!(
            "group {}: generation {generation} with {members} member(s), {leader} leads and runs the assignor",
            grp(*group)
        ),
        TraceKind::GroupStable { group, generation } => {
            format!("group {}: Stable in generation {generation}; every member has its partitions", grp(*group))
        }
        TraceKind::MemberRemoved { group, member, reason } => format!("group {}: {member} removed ({reason})", grp(*group)),
        TraceKind::CommitRejected { group, member, generation, error } => format!(
            "group {}: commit from {member} (generation {generation}) rejected with {}: a stale member cannot overwrite the new owner's progress",
            grp(*group),
            error.name()
        ),
        TraceKind::CommitNotReplicated { group, partitions, error } => format!(
            "group {}: commit of {partitions} partition(s) answered {}: {}; the offsets are not taken and the consumer looks for its coordinator again",
            grp(*group),
            error.name(),
            if *error == KafkaError::CoordinatorNotAvailable {
                "the __consumer_offsets partition has fewer in-sync replicas than min.insync.replicas"
            } else {
                "__consumer_offsets did not replicate it within offsets.commit.timeout.ms"
            }
        ),
        TraceKind::OffsetsCommitted { group, partitions } => {
            format!("group {}: offsets of {partitions} partition(s) committed to __consumer_offsets", grp(*group))
        }
        TraceKind::GroupLoaded { broker, group, generation } => format!(
            "{broker} is now coordinator of group {} and loaded it from __consumer_offsets (generation {generation})",
            grp(*group)
        ),
        TraceKind::PartitionsAssigned { consumer, group, generation, partitions, cooperative } => format!(
            "{} got {partitions} partition(s) of group {} in generation {generation}{}",
            node(*consumer),
            grp(*group),
            match (*partitions, *cooperative) {
                (0, false) => " and sits idle (more consumers than partitions)",
                // KIP-429: a partition that moves is first given up by its owner and handed over one rebalance later.
                (0, true) => {
                    " for now: a partition that moves comes in a second rebalance, once its owner has given it up (or \
                     there are more consumers than partitions)"
                }
                _ => "",
            }
        ),
        TraceKind::PartitionsRevoked { consumer, group, partitions } => {
            format!("{} gave up {partitions} partition(s) of group {} for the rebalance", node(*consumer), grp(*group))
        }
        TraceKind::PollTimeout { consumer, group } => format!(
            "{} did not poll within max.poll.interval.ms and left group {}",
            node(*consumer),
            grp(*group)
        ),
        TraceKind::ConsumerStarted { consumer } => format!("{} started", node(*consumer)),
        TraceKind::ConsumerCrashed { consumer } => {
            format!("{} crashed: no LeaveGroup, so the group waits for session.timeout.ms", node(*consumer))
        }
        TraceKind::ConsumerClosed { consumer } => format!("{} closed and left its group", node(*consumer)),
        TraceKind::ConsumerSlowed { consumer, processing } => {
            format!("{} now takes {} per record", node(*consumer), format_time(*processing))
        }
        TraceKind::CommitSyncRetry { consumer, group, error } => format!(
            "{}: commitSync to group {} failed with {} (retriable): it tries again, and the application waits in it",
            node(*consumer),
            grp(*group),
            error.name(),
        ),
        TraceKind::CommitSyncTimedOut { consumer, group } => format!(
            "{}: commitSync to group {} gave up after default.api.timeout.ms (TimeoutException): the offsets are not \
             committed",
            node(*consumer),
            grp(*group),
        ),
        TraceKind::RevocationCommitRetry { consumer, group, error } => format!(
            "{}: the commit before rejoining group {} failed with {} (retriable): it tries again, and the JoinGroup \
             waits for it",
            node(*consumer),
            grp(*group),
            error.name(),
        ),
        TraceKind::RevocationCommitGaveUp { consumer, group, auto_commit } => format!(
            "{}: the commit before rejoining group {} did not succeed within {}: it rejoins without it, so the next \
             owner of its partitions starts from their last commit and reads some records again",
            node(*consumer),
            grp(*group),
            if *auto_commit { "max.poll.interval.ms (the rebalance timeout)" } else { "default.api.timeout.ms (commitSync)" },
        ),
        TraceKind::CommitFailedNotInGroup { consumer, group, rebalance_in_progress: false } => format!(
            "{}: commit to group {} failed at once, without a request: the consumer left the group (max.poll.interval.ms) \
             or was fenced out of it, and forgot its generation (CommitFailedException)",
            node(*consumer),
            grp(*group),
        ),
        TraceKind::CommitFailedNotInGroup { consumer, group, rebalance_in_progress: true } => format!(
            "{}: commit to group {} failed at once, without a request: the group is rebalancing \
             (RebalanceInProgressException); it can commit again once the rebalance is done",
            node(*consumer),
            grp(*group),
        ),
        TraceKind::CommitFailed { consumer, group, error } => format!(
            "{}: commit to group {} failed with {} ({})",
            node(*consumer),
            grp(*group),
            error.name(),
            error.commit_exception()
        ),
        TraceKind::ConsumerTruncationDetected { consumer, partition, from_offset, to_offset } => format!(
            "{} found {} truncated below its position {from_offset} (KIP-320) and moved back to {to_offset}",
            node(*consumer),
            part(*partition)
        ),
        TraceKind::BatchSent { producer, partition, records, attempt, to, trigger } => format!(
            "{} sent a batch of {records} record(s) to {to} for {} ({}){}",
            node(NodeId(topo.brokers + 1 + producer.0)),
            part(*partition),
            match trigger {
                BatchTrigger::BatchSize => "batch.size reached",
                BatchTrigger::Linger => "linger.ms expired",
                BatchTrigger::NoLinger => "linger.ms=0",
                BatchTrigger::Drained => "along with a ready batch for the same broker",
            },
            if *attempt > 1 { format!(", attempt {attempt}") } else { String::new() }
        ),
        TraceKind::ProduceAcked { producer, partition, base_offset, records } => format!(
            "{} got an ack for {records} record(s) on {} at offset {}",
            node(NodeId(topo.brokers + 1 + producer.0)),
            part(*partition),
            base_offset.map(|o| o.to_string()).unwrap_or_else(|| "-1 (acks=0)".into())
        ),
        TraceKind::ProduceRetry { producer, partition, error, records } => format!(
            "{} will retry {records} record(s) for {} after {}",
            node(NodeId(topo.brokers + 1 + producer.0)),
            part(*partition),
            error.name()
        ),
        TraceKind::ProduceFailed { producer, partition, error, records } => format!(
            "{} gave up on {records} record(s) for {}: {}",
            node(NodeId(topo.brokers + 1 + producer.0)),
            part(*partition),
            error.name()
        ),
        TraceKind::ProducerEpochBumped { producer, partition, producer_epoch } => format!(
            "{} cannot tell which of its sequence numbers on {} the leader has: it bumps its producer epoch to {producer_epoch} and starts that partition over at sequence 0",
            node(NodeId(topo.brokers + 1 + producer.0)),
            part(*partition)
        ),
        TraceKind::ProducerConnected { producer, broker } => format!(
            "{} has a new connection to {}: its ApiVersions request was answered, so requests may go out again",
            node(NodeId(topo.brokers + 1 + producer.0)),
            node(broker.node())
        ),
    };
    format!("{:>10}  {text}", format_time(event.time))
}
