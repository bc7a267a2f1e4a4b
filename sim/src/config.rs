//! Kafka's configuration keys, parsed from scenario files into typed configs with Kafka's defaults.
//!
//! Scenario files name configs exactly as Kafka does (`"acks"`, `"min.insync.replicas"`,
//! `"replica.lag.time.max.ms"`), so what a learner writes here is what they would write in `server.properties`,
//! `kafka-topics --config` or a producer's `Properties`.

use crate::time::{ms, Micros};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A config value as written in a scenario: a number, a boolean or a string.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConfigValue {
    Int(i64),
    Bool(bool),
    Text(String),
}

/// A scenario's `config: { "key": value, ... }` map.
pub type ConfigMap = BTreeMap<String, ConfigValue>;

/// A problem with one config entry; the scenario loader adds the file position.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigProblem {
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
}

/// Suggests the closest known name for a misspelt one ("ack" -> "acks").
pub fn did_you_mean<'a>(found: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    known
        .into_iter()
        .map(|candidate| (strsim::damerau_levenshtein(found, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(2))
        .min()
        .map(|(_, candidate)| format!("did you mean `{candidate}`?"))
}

/// Reads typed values out of a config map and reports unknown keys.
struct Reader<'a> {
    map: &'a ConfigMap,
    known: &'static [&'static str],
    problems: Vec<ConfigProblem>,
}

impl<'a> Reader<'a> {
    fn new(map: &'a ConfigMap, known: &'static [&'static str]) -> Self {
        let mut problems = Vec::new();
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                problems.push(ConfigProblem {
                    key: key.clone(),
                    message: format!("unknown config `{key}`"),
                    hint: did_you_mean(key, known.iter().copied())
                        .or_else(|| Some(format!("known configs here: {}", known.join(", ")))),
                });
            }
        }
        Reader { map, known, problems }
    }

    fn problem(&mut self, key: &str, message: String) {
        self.problems.push(ConfigProblem { key: key.to_string(), message, hint: None });
    }

    fn int(&mut self, key: &str, default: i64, min: i64, max: i64) -> i64 {
        debug_assert!(self.known.contains(&key));
        let value = match self.map.get(key) {
            None => return default,
            Some(ConfigValue::Int(value)) => *value,
            Some(ConfigValue::Text(text)) => match text.trim().parse::<i64>() {
                Ok(value) => value,
                Err(_) => {
                    self.problem(key, format!("`{key}` must be a number, not \"{text}\""));
                    return default;
                }
            },
            Some(ConfigValue::Bool(_)) => {
                self.problem(key, format!("`{key}` must be a number, not a boolean"));
                return default;
            }
        };
        if value < min || value > max {
            self.problem(key, format!("`{key}` = {value} is out of range [{min}, {max}]"));
            return default;
        }
        value
    }

    fn bool(&mut self, key: &str, default: bool) -> bool {
        match self.map.get(key) {
            None => default,
            Some(ConfigValue::Bool(value)) => *value,
            Some(ConfigValue::Text(text)) if text == "true" || text == "false" => text == "true",
            Some(other) => {
                self.problem(key, format!("`{key}` must be true or false, not {other:?}"));
                default
            }
        }
    }

    fn text(&mut self, key: &str) -> Option<String> {
        match self.map.get(key) {
            None => None,
            Some(ConfigValue::Text(text)) => Some(text.clone()),
            Some(ConfigValue::Int(value)) => Some(value.to_string()),
            Some(ConfigValue::Bool(value)) => Some(value.to_string()),
        }
    }

    fn finish<T>(self, value: T) -> Result<T, Vec<ConfigProblem>> {
        if self.problems.is_empty() {
            Ok(value)
        } else {
            Err(self.problems)
        }
    }
}

const INT_MAX: i64 = i32::MAX as i64;
const LONG_MAX: i64 = i64::MAX;

/// Broker and KRaft controller configs that shape replication and failure detection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrokerConfig {
    /// `broker.heartbeat.interval.ms` (KRaft, default 2000).
    pub broker_heartbeat_interval: Micros,
    /// `broker.session.timeout.ms` (KRaft, default 9000): no heartbeat for this long fences the broker.
    pub broker_session_timeout: Micros,
    /// `replica.lag.time.max.ms` (default 30000).
    pub replica_lag_time_max: Micros,
    /// `replica.fetch.wait.max.ms` (default 500): how long the leader holds a follower's fetch that finds no data.
    pub replica_fetch_wait_max: Micros,
    /// `replica.fetch.backoff.ms` (default 1000): pause after a fetch error.
    pub replica_fetch_backoff: Micros,
    /// `replica.socket.timeout.ms` (default 30000): a fetch with no answer for this long is retried.
    pub replica_socket_timeout: Micros,
    /// `replica.fetch.max.bytes` (default 1048576).
    pub replica_fetch_max_bytes: u64,
    /// `min.insync.replicas` broker default (1), overridden per topic.
    pub min_insync_replicas: u32,
    /// `unclean.leader.election.enable` broker default (false), overridden per topic.
    pub unclean_leader_election_enable: bool,
    /// `log.flush.interval.messages` (default Long.MAX_VALUE: Kafka leaves flushing to the OS).
    pub log_flush_interval_messages: u64,
    /// `replica.high.watermark.checkpoint.interval.ms` (default 5000): how often HWs are written to disk.
    pub replica_high_watermark_checkpoint_interval: Micros,
    /// `offsets.topic.num.partitions` (Kafka's default is 50; the simulation defaults to 3 to keep pictures small).
    pub offsets_topic_num_partitions: u32,
    /// `offsets.topic.replication.factor` (default 3, capped at the broker count).
    pub offsets_topic_replication_factor: u32,
    /// `group.initial.rebalance.delay.ms` (default 3000): an empty group waits this long for more members.
    pub group_initial_rebalance_delay: Micros,
    /// `offsets.commit.timeout.ms` (default 5000): "Offset commits will be delayed until all replicas for the offsets
    /// topic receive the commit or this timeout is reached" (Kafka's broker configs); then the commit fails.
    pub offsets_commit_timeout: Micros,
}

impl BrokerConfig {
    pub const KEYS: &'static [&'static str] = &[
        "broker.heartbeat.interval.ms",
        "broker.session.timeout.ms",
        "replica.lag.time.max.ms",
        "replica.fetch.wait.max.ms",
        "replica.fetch.backoff.ms",
        "replica.socket.timeout.ms",
        "replica.fetch.max.bytes",
        "min.insync.replicas",
        "unclean.leader.election.enable",
        "log.flush.interval.messages",
        "replica.high.watermark.checkpoint.interval.ms",
        "offsets.topic.num.partitions",
        "offsets.topic.replication.factor",
        "group.initial.rebalance.delay.ms",
        "offsets.commit.timeout.ms",
    ];

    pub fn from_map(map: &ConfigMap) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = Reader::new(map, Self::KEYS);
        let config = BrokerConfig {
            broker_heartbeat_interval: ms(r.int("broker.heartbeat.interval.ms", 2000, 1, INT_MAX) as u64),
            broker_session_timeout: ms(r.int("broker.session.timeout.ms", 9000, 1, INT_MAX) as u64),
            replica_lag_time_max: ms(r.int("replica.lag.time.max.ms", 30000, 1, LONG_MAX >> 12) as u64),
            replica_fetch_wait_max: ms(r.int("replica.fetch.wait.max.ms", 500, 0, INT_MAX) as u64),
            replica_fetch_backoff: ms(r.int("replica.fetch.backoff.ms", 1000, 0, INT_MAX) as u64),
            replica_socket_timeout: ms(r.int("replica.socket.timeout.ms", 30000, 1, INT_MAX) as u64),
            replica_fetch_max_bytes: r.int("replica.fetch.max.bytes", 1_048_576, 1, INT_MAX) as u64,
            min_insync_replicas: r.int("min.insync.replicas", 1, 1, INT_MAX) as u32,
            unclean_leader_election_enable: r.bool("unclean.leader.election.enable", false),
            log_flush_interval_messages: r.int("log.flush.interval.messages", LONG_MAX, 1, LONG_MAX) as u64,
            replica_high_watermark_checkpoint_interval: ms(r.int(
                "replica.high.watermark.checkpoint.interval.ms",
                5000,
                1,
                INT_MAX,
            ) as u64),
            offsets_topic_num_partitions: r.int("offsets.topic.num.partitions", 3, 1, 1000) as u32,
            offsets_topic_replication_factor: r.int("offsets.topic.replication.factor", 3, 1, 32) as u32,
            group_initial_rebalance_delay: ms(r.int("group.initial.rebalance.delay.ms", 3000, 0, INT_MAX) as u64),
            offsets_commit_timeout: ms(r.int("offsets.commit.timeout.ms", 5000, 1, INT_MAX) as u64),
        };
        r.finish(config)
    }
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self::from_map(&ConfigMap::new()).expect("defaults are valid")
    }
}

/// Per-topic configs (`kafka-topics --config`), defaulting to the broker's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicConfig {
    /// `min.insync.replicas`: the smallest ISR that may accept an acks=all write.
    pub min_insync_replicas: u32,
    /// `unclean.leader.election.enable`: may an out-of-sync replica become leader when no ISR member is alive?
    pub unclean_leader_election_enable: bool,
    /// `flush.messages`: fsync the log every this many records.
    pub flush_messages: u64,
}

impl TopicConfig {
    pub const KEYS: &'static [&'static str] =
        &["min.insync.replicas", "unclean.leader.election.enable", "flush.messages"];

    pub fn from_map(map: &ConfigMap, broker: &BrokerConfig) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = Reader::new(map, Self::KEYS);
        let config = TopicConfig {
            min_insync_replicas: r.int("min.insync.replicas", broker.min_insync_replicas as i64, 1, INT_MAX) as u32,
            unclean_leader_election_enable: r
                .bool("unclean.leader.election.enable", broker.unclean_leader_election_enable),
            flush_messages: r.int("flush.messages", broker.log_flush_interval_messages as i64, 1, LONG_MAX) as u64,
        };
        r.finish(config)
    }
}

/// `acks`: how many acknowledgements the producer waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Acks {
    /// `acks=0`: fire and forget; the producer gets no response (offset -1).
    None,
    /// `acks=1`: the leader's append is enough.
    Leader,
    /// `acks=all` (or -1): the record must reach the high watermark, i.e. every in-sync replica.
    All,
}

impl Acks {
    pub fn name(self) -> &'static str {
        match self {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        }
    }
}

/// How records without a key (and without an explicit partition) are spread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Partitioner {
    /// The built-in partitioner: murmur2 of the key; null keys stick to one partition per batch (KIP-480, KIP-794).
    Default,
    /// `org.apache.kafka.clients.producer.RoundRobinPartitioner`: every record goes to the next partition.
    RoundRobin,
}

/// Producer configs (`ProducerConfig`), with Kafka 4.x defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProducerConfig {
    pub acks: Acks,
    /// `retries` (default Integer.MAX_VALUE).
    pub retries: u32,
    /// `retry.backoff.ms` (default 100).
    pub retry_backoff: Micros,
    /// `retry.backoff.max.ms` (default 1000, KIP-580).
    pub retry_backoff_max: Micros,
    /// `request.timeout.ms` (default 30000).
    pub request_timeout: Micros,
    /// `delivery.timeout.ms` (default 120000): bounds a record's whole send, retries included.
    pub delivery_timeout: Micros,
    /// `linger.ms` (default 5 since Kafka 4.0).
    pub linger: Micros,
    /// `batch.size` (default 16384 bytes).
    pub batch_size: u64,
    /// `max.request.size` (default 1048576 bytes): a produce request drains batches up to this size.
    pub max_request_size: u64,
    /// `max.in.flight.requests.per.connection` (default 5).
    pub max_in_flight_requests_per_connection: u32,
    /// `enable.idempotence` (default true unless `acks` or `retries` conflict and it was not set explicitly).
    pub enable_idempotence: bool,
    /// `partitioner.class`.
    pub partitioner: Partitioner,
}

impl ProducerConfig {
    pub const KEYS: &'static [&'static str] = &[
        "acks",
        "retries",
        "retry.backoff.ms",
        "retry.backoff.max.ms",
        "request.timeout.ms",
        "delivery.timeout.ms",
        "linger.ms",
        "batch.size",
        "max.request.size",
        "max.in.flight.requests.per.connection",
        "enable.idempotence",
        "partitioner.class",
    ];

    pub fn from_map(map: &ConfigMap) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = Reader::new(map, Self::KEYS);
        let acks = match r.text("acks").as_deref() {
            None | Some("all") | Some("-1") => Acks::All,
            Some("1") => Acks::Leader,
            Some("0") => Acks::None,
            Some(other) => {
                r.problem(
                    "acks",
                    format!("Invalid value {other} for configuration acks: String must be one of: all, -1, 0, 1"),
                );
                Acks::All
            }
        };
        let retries = r.int("retries", INT_MAX, 0, INT_MAX) as u32;
        let max_in_flight = r.int("max.in.flight.requests.per.connection", 5, 1, INT_MAX) as u32;
        // ProducerConfig.postProcessAndValidateIdempotenceConfigs (KIP-679, Kafka 3.0+): idempotence is on by
        // default, but turned off when `retries`, `acks` or `max.in.flight.requests.per.connection` conflict and the
        // user did not set `enable.idempotence`; if they did, the conflict is an error.
        let explicit_idempotence = map.contains_key("enable.idempotence");
        let mut enable_idempotence = r.bool("enable.idempotence", true);
        if enable_idempotence {
            let conflicts = [
                (retries == 0, "Must set retries to non-zero when using the idempotent producer."),
                (
                    acks != Acks::All,
                    "Must set acks to all in order to use the idempotent producer. Otherwise we cannot guarantee idempotence.",
                ),
                (max_in_flight > 5, "To use the idempotent producer, max.in.flight.requests.per.connection must be set to at most 5."),
            ];
            for (conflict, message) in conflicts {
                if conflict {
                    if explicit_idempotence {
                        r.problem("enable.idempotence", message.to_string());
                    }
                    enable_idempotence = false;
                }
            }
        }
        let partitioner = match r.text("partitioner.class").as_deref() {
            None | Some("default") => Partitioner::Default,
            Some("org.apache.kafka.clients.producer.RoundRobinPartitioner") | Some("RoundRobinPartitioner") => {
                Partitioner::RoundRobin
            }
            Some(other) => {
                r.problem(
                    "partitioner.class",
                    format!("unknown partitioner `{other}`: use org.apache.kafka.clients.producer.RoundRobinPartitioner or leave it unset"),
                );
                Partitioner::Default
            }
        };
        // KafkaProducer.configureDeliveryTimeout: delivery.timeout.ms must cover linger.ms + request.timeout.ms; if
        // the user did not set it, it is raised to that sum.
        let linger_ms = r.int("linger.ms", 5, 0, INT_MAX) as u64;
        let request_timeout_ms = r.int("request.timeout.ms", 30000, 1, INT_MAX) as u64;
        let mut delivery_timeout_ms = r.int("delivery.timeout.ms", 120000, 1, INT_MAX) as u64;
        if delivery_timeout_ms < linger_ms + request_timeout_ms {
            if map.contains_key("delivery.timeout.ms") {
                r.problem(
                    "delivery.timeout.ms",
                    "delivery.timeout.ms should be equal to or larger than linger.ms + request.timeout.ms".into(),
                );
            }
            delivery_timeout_ms = linger_ms + request_timeout_ms;
        }
        let config = ProducerConfig {
            acks,
            retries,
            retry_backoff: ms(r.int("retry.backoff.ms", 100, 0, INT_MAX) as u64),
            retry_backoff_max: ms(r.int("retry.backoff.max.ms", 1000, 0, INT_MAX) as u64),
            request_timeout: ms(request_timeout_ms),
            delivery_timeout: ms(delivery_timeout_ms),
            linger: ms(linger_ms),
            batch_size: r.int("batch.size", 16384, 0, INT_MAX) as u64,
            max_request_size: r.int("max.request.size", 1_048_576, 1, INT_MAX) as u64,
            max_in_flight_requests_per_connection: max_in_flight,
            enable_idempotence,
            partitioner,
        };
        r.finish(config)
    }
}

/// `auto.offset.reset`: where a consumer starts when its group has no committed offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OffsetReset {
    Earliest,
    Latest,
}

/// When the application commits offsets (the consumer side of delivery semantics).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CommitMode {
    /// `enable.auto.commit=true`: every `auto.commit.interval.ms`, at poll, commit what the previous poll returned.
    Auto,
    /// `commitSync()` after processing each poll's records: at-least-once.
    SyncAfterProcessing,
    /// `commitSync()` right after poll, before processing: at-most-once.
    SyncBeforeProcessing,
    /// `commitAsync()` after processing: at-least-once, without waiting for the answer.
    AsyncAfterProcessing,
}

/// Consumer configs (`ConsumerConfig`), with Kafka's defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsumerConfig {
    /// `session.timeout.ms` (default 45000).
    pub session_timeout: Micros,
    /// `heartbeat.interval.ms` (default 3000).
    pub heartbeat_interval: Micros,
    /// `max.poll.interval.ms` (default 300000).
    pub max_poll_interval: Micros,
    /// `max.poll.records` (default 500).
    pub max_poll_records: u32,
    /// `auto.commit.interval.ms` (default 5000).
    pub auto_commit_interval: Micros,
    /// `auto.offset.reset` (default latest).
    pub auto_offset_reset: OffsetReset,
    /// `partition.assignment.strategy` (default [range, cooperative-sticky]: range is used).
    pub assignor: crate::assignor::AssignorKind,
    /// `fetch.max.wait.ms` (default 500).
    pub fetch_max_wait: Micros,
    /// `retry.backoff.ms` (default 100).
    pub retry_backoff: Micros,
    /// `retry.backoff.max.ms` (default 1000): the cap of KIP-580's exponential backoff for coordinator lookups and
    /// commitSync retries.
    pub retry_backoff_max: Micros,
    /// `request.timeout.ms` (default 30000).
    pub request_timeout: Micros,
    /// `default.api.timeout.ms` (default 60000): how long `commitSync()` keeps trying before it throws a
    /// `TimeoutException` (KafkaConsumer's javadoc).
    pub default_api_timeout: Micros,
}

impl ConsumerConfig {
    pub const KEYS: &'static [&'static str] = &[
        "session.timeout.ms",
        "heartbeat.interval.ms",
        "max.poll.interval.ms",
        "max.poll.records",
        "enable.auto.commit",
        "auto.commit.interval.ms",
        "auto.offset.reset",
        "partition.assignment.strategy",
        "fetch.max.wait.ms",
        "retry.backoff.ms",
        "request.timeout.ms",
        "default.api.timeout.ms",
        "retry.backoff.max.ms",
    ];

    /// Reads the consumer's configs; `enable.auto.commit` must agree with the scenario's commit mode.
    pub fn from_map(map: &ConfigMap, commit: CommitMode) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = Reader::new(map, Self::KEYS);
        let auto_commit = r.bool("enable.auto.commit", commit == CommitMode::Auto);
        if auto_commit != (commit == CommitMode::Auto) {
            r.problem(
                "enable.auto.commit",
                format!("`enable.auto.commit` = {auto_commit} contradicts `commit: {commit:?}`"),
            );
        }
        let auto_offset_reset = match r.text("auto.offset.reset").as_deref() {
            None | Some("latest") => OffsetReset::Latest,
            Some("earliest") => OffsetReset::Earliest,
            Some(other) => {
                r.problem(
                    "auto.offset.reset",
                    format!("Invalid value {other} for configuration auto.offset.reset: String must be one of: latest, earliest"),
                );
                OffsetReset::Latest
            }
        };
        let assignor = match r.text("partition.assignment.strategy") {
            None => crate::assignor::AssignorKind::Range,
            Some(text) => {
                let first = text.split(',').next().unwrap_or("").trim().to_string();
                match crate::assignor::AssignorKind::parse(&first) {
                    Some(kind) => kind,
                    None => {
                        r.problem(
                            "partition.assignment.strategy",
                            format!("unknown assignor `{first}`: use range, roundrobin, sticky or cooperative-sticky"),
                        );
                        crate::assignor::AssignorKind::Range
                    }
                }
            }
        };
        let session_timeout = ms(r.int("session.timeout.ms", 45000, 1, INT_MAX) as u64);
        let heartbeat_interval = ms(r.int("heartbeat.interval.ms", 3000, 1, INT_MAX) as u64);
        if heartbeat_interval >= session_timeout {
            r.problem("heartbeat.interval.ms", "heartbeat.interval.ms must be lower than session.timeout.ms".into());
        }
        let config = ConsumerConfig {
            session_timeout,
            heartbeat_interval,
            max_poll_interval: ms(r.int("max.poll.interval.ms", 300000, 1, INT_MAX) as u64),
            max_poll_records: r.int("max.poll.records", 500, 1, INT_MAX) as u32,
            auto_commit_interval: ms(r.int("auto.commit.interval.ms", 5000, 0, INT_MAX) as u64),
            auto_offset_reset,
            assignor,
            fetch_max_wait: ms(r.int("fetch.max.wait.ms", 500, 0, INT_MAX) as u64),
            retry_backoff: ms(r.int("retry.backoff.ms", 100, 0, INT_MAX) as u64),
            retry_backoff_max: ms(r.int("retry.backoff.max.ms", 1000, 0, INT_MAX) as u64),
            request_timeout: ms(r.int("request.timeout.ms", 30000, 1, INT_MAX) as u64),
            default_api_timeout: ms(r.int("default.api.timeout.ms", 60000, 1, INT_MAX) as u64),
        };
        r.finish(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, ConfigValue)]) -> ConfigMap {
        entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn kafka_defaults() {
        let producer = ProducerConfig::from_map(&ConfigMap::new()).unwrap();
        assert_eq!(producer.acks, Acks::All);
        assert!(producer.enable_idempotence);
        assert_eq!(producer.linger, 5_000);
        assert_eq!(producer.delivery_timeout, 120_000_000);
        let broker = BrokerConfig::default();
        assert_eq!(broker.replica_lag_time_max, 30_000_000);
        assert_eq!(broker.broker_session_timeout, 9_000_000);
    }

    #[test]
    fn acks_one_turns_default_idempotence_off() {
        let producer = ProducerConfig::from_map(&map(&[("acks", ConfigValue::Int(1))])).unwrap();
        assert_eq!(producer.acks, Acks::Leader);
        assert!(!producer.enable_idempotence);
    }

    #[test]
    fn explicit_idempotence_with_acks_one_is_rejected_like_kafka() {
        let problems = ProducerConfig::from_map(&map(&[
            ("acks", ConfigValue::Text("1".into())),
            ("enable.idempotence", ConfigValue::Bool(true)),
        ]))
        .unwrap_err();
        assert!(problems[0].message.contains("Must set acks to all"));
    }

    #[test]
    fn idempotence_conflicts_disable_the_default_and_reject_the_explicit_setting() {
        let producer =
            ProducerConfig::from_map(&map(&[("max.in.flight.requests.per.connection", ConfigValue::Int(6))])).unwrap();
        assert!(!producer.enable_idempotence);
        let producer = ProducerConfig::from_map(&map(&[("retries", ConfigValue::Int(0))])).unwrap();
        assert!(!producer.enable_idempotence);
        let problems = ProducerConfig::from_map(&map(&[
            ("retries", ConfigValue::Int(0)),
            ("enable.idempotence", ConfigValue::Bool(true)),
        ]))
        .unwrap_err();
        assert!(problems[0].message.contains("Must set retries to non-zero"));
    }

    #[test]
    fn unknown_key_suggests_the_near_miss() {
        let problems = ProducerConfig::from_map(&map(&[("ack", ConfigValue::Text("all".into()))])).unwrap_err();
        assert_eq!(problems[0].hint.as_deref(), Some("did you mean `acks`?"));
        let problems = BrokerConfig::from_map(&map(&[("replica.lag.time.max", ConfigValue::Int(10))])).unwrap_err();
        assert_eq!(problems[0].hint.as_deref(), Some("did you mean `replica.lag.time.max.ms`?"));
    }
}
