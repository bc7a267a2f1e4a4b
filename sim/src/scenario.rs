//! Scenario files (RON): the cluster, topics, producers and a timeline of faults, loaded and validated.
//!
//! Loading never panics: every problem becomes a [`ScenarioError`] that names the file, line and column, says what
//! was expected and, for near-misses, suggests the right name.

use crate::config::{
    did_you_mean, BrokerConfig, CommitMode, ConfigMap, ConfigProblem, ConsumerConfig, ProducerConfig, TopicConfig,
};
use crate::ids::BrokerId;
use crate::time::{parse_duration, Micros};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Hard limits on scenario sizes, so a typo cannot ask for a run that never ends or fills memory.
pub mod limits {
    pub const BROKERS: u32 = 32;
    pub const TOPICS: usize = 64;
    pub const PARTITIONS_TOTAL: u32 = 10_000;
    pub const PRODUCERS: usize = 32;
    pub const CONSUMERS: usize = 64;
    pub const TIMELINE_STEPS: usize = 10_000;
    pub const EXPLICIT_RECORDS: usize = 100_000;
    pub const RATE_PER_SEC: u32 = 2_000_000;
    pub const DURATION_US: u64 = 24 * 3600 * 1_000_000;
    pub const MAX_EVENTS_DEFAULT: u64 = 200_000_000;
    /// Records all steady workloads may produce in one run (rate x time, summed).
    pub const WORKLOAD_RECORDS: u64 = 100_000_000;
}

/// A duration written as `"30s"`, `"250ms"`, `"2m"` or a bare number of milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct Dur(pub Micros);

impl From<Dur> for String {
    fn from(value: Dur) -> String {
        crate::time::format_time(value.0)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Millis(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Millis(value) => Ok(Dur(value.saturating_mul(1000))),
            Raw::Text(text) => parse_duration(&text).map(Dur).map_err(serde::de::Error::custom),
        }
    }
}

/// The whole scenario file, as written.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "Scenario")]
pub struct ScenarioFile {
    /// The title in English; `title_ko` is the same in Korean (shown with `--lang ko`, English when absent).
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_ko: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description_ko: Option<String>,
    #[serde(default)]
    pub seed: u64,
    pub duration: Dur,
    pub cluster: ClusterSpec,
    pub topics: Vec<TopicSpec>,
    #[serde(default)]
    pub producers: Vec<ProducerSpec>,
    #[serde(default)]
    pub consumers: Vec<ConsumerSpec>,
    #[serde(default)]
    pub timeline: Vec<Step>,
    /// Outcomes `kafkascope check` verifies.
    #[serde(default)]
    pub expect: Vec<Expectation>,
}

/// A consumer: its group, the topics it subscribes to, its configs, how long each record takes to process, and
/// when the application commits.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerSpec {
    pub name: String,
    /// `group.id`.
    pub group: String,
    pub topics: Vec<String>,
    /// Consumer configs by Kafka's keys, e.g. `{"auto.offset.reset": "earliest"}`.
    #[serde(default)]
    pub config: ConfigMap,
    #[serde(default = "default_commit")]
    pub commit: CommitMode,
    /// Processing time per record.
    #[serde(default = "default_processing")]
    pub processing: Dur,
    /// When the consumer starts (default: at once).
    #[serde(default)]
    pub start: Option<Dur>,
}

fn default_commit() -> CommitMode {
    CommitMode::Auto
}

fn default_processing() -> Dur {
    Dur(1_000)
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    pub brokers: u32,
    #[serde(default)]
    pub network: NetworkSpec,
    /// Broker configs by Kafka's keys, e.g. `{"replica.lag.time.max.ms": 10000}`.
    #[serde(default)]
    pub config: ConfigMap,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// One-way latency range; every message draws its latency uniformly from it.
    #[serde(default = "default_latency")]
    pub latency: (Dur, Dur),
    /// Probability that a message is dropped, as an integer ratio `(numerator, denominator)`.
    #[serde(default = "default_drop")]
    pub drop: (u32, u32),
    /// Per-link latency ranges that override `latency` (both directions).
    #[serde(default)]
    pub links: Vec<LinkSpec>,
}

fn default_latency() -> (Dur, Dur) {
    (Dur(1_000), Dur(2_000))
}

fn default_drop() -> (u32, u32) {
    (0, 1)
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec { latency: default_latency(), drop: default_drop(), links: Vec::new() }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    pub between: (String, String),
    pub latency: (Dur, Dur),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: u32,
    pub replication_factor: u32,
    /// Topic configs by Kafka's keys, e.g. `{"min.insync.replicas": 2}`.
    #[serde(default)]
    pub config: ConfigMap,
    /// Explicit replica assignment (`kafka-topics --replica-assignment`): one list of broker ids per partition,
    /// the first being the preferred leader.
    #[serde(default)]
    pub assignment: Option<Vec<Vec<u32>>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProducerSpec {
    pub name: String,
    /// Producer configs by Kafka's keys, e.g. `{"acks": "all", "linger.ms": 20}`.
    #[serde(default)]
    pub config: ConfigMap,
    #[serde(default)]
    pub workload: Vec<WorkloadSpec>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum WorkloadSpec {
    /// `rate_per_sec` records per second to `topic`, from `start` until `stop` (or the end). With `keys: Some(n)`,
    /// each record has a key drawn uniformly from `key-0` .. `key-{n-1}`; with `None`, records have no key.
    Steady {
        topic: String,
        rate_per_sec: u32,
        #[serde(default)]
        keys: Option<u32>,
        #[serde(default)]
        start: Option<Dur>,
        #[serde(default)]
        stop: Option<Dur>,
    },
}

/// One timed step of the timeline.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub at: Dur,
    /// What happens; a step may also only narrate.
    #[serde(rename = "do", default)]
    pub action: Option<Action>,
    /// Narration shown by the viz and printed by the CLI when the step is reached.
    #[serde(default)]
    pub say: Option<Text>,
}

/// A sentence in Korean and English.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub ko: String,
    pub en: String,
}

impl Text {
    /// English text with an optional Korean version; without one, Korean readers see the English.
    pub fn with_fallback(en: &str, ko: Option<&str>) -> Text {
        Text { ko: ko.unwrap_or(en).to_owned(), en: en.to_owned() }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Ko => &self.ko,
            Lang::En => &self.en,
        }
    }
}

/// The language of human-readable output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Lang {
    Ko,
    #[default]
    En,
}

/// Compares a count: `Exactly(3)`, `AtLeast(1)`, `AtMost(0)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Count {
    Exactly(u64),
    AtLeast(u64),
    AtMost(u64),
}

impl Count {
    pub fn accepts(self, value: u64) -> bool {
        match self {
            Count::Exactly(n) => value == n,
            Count::AtLeast(n) => value >= n,
            Count::AtMost(n) => value <= n,
        }
    }
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Count::Exactly(n) => write!(f, "exactly {n}"),
            Count::AtLeast(n) => write!(f, "at least {n}"),
            Count::AtMost(n) => write!(f, "at most {n}"),
        }
    }
}

/// Something the scenario expects, checked at `at` (default: the end of the run).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    #[serde(default)]
    pub at: Option<Dur>,
    pub check: Check,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Check {
    /// Acked records missing from their partition's log.
    AckedLost(Count),
    /// Records present at more than one offset.
    Duplicates(Count),
    /// Records of one producer out of send order.
    Reordered(Count),
    /// Records whose send failed but that are committed all the same.
    FailedWritten(Count),
    /// The partition's leader (broker id), or `None` for offline.
    Leader {
        topic: String,
        partition: u32,
        leader: Option<u32>,
    },
    /// The partition's ISR, in replica order.
    Isr {
        topic: String,
        partition: u32,
        isr: Vec<u32>,
    },
    HighWatermark {
        topic: String,
        partition: u32,
        broker: u32,
        value: Count,
    },
    LogEndOffset {
        topic: String,
        partition: u32,
        broker: u32,
        value: Count,
    },
    /// How often a producer saw an error, by Kafka's name (e.g. `NOT_ENOUGH_REPLICAS`).
    ProducerError {
        producer: String,
        error: String,
        count: Count,
    },
    /// Records a producer got acked.
    ProducerAcked {
        producer: String,
        count: Count,
    },
    /// Members of a group with no partition.
    IdleConsumers {
        group: String,
        count: Count,
    },
    /// Partitions assigned to a consumer.
    Assigned {
        consumer: String,
        count: Count,
    },
    /// A group's lag on a partition (HW minus committed offset).
    Lag {
        group: String,
        topic: String,
        partition: u32,
        lag: Count,
    },
    /// Consumer-side checker: acked records a group moved past without processing.
    GroupLost {
        group: String,
        count: Count,
    },
    /// Consumer-side checker: records a group processed more than once.
    GroupDuplicates {
        group: String,
        count: Count,
    },
    /// Records the group's consumers have processed so far (a record processed twice counts twice).
    GroupProcessed {
        group: String,
        count: Count,
    },
    /// How many times a trace event of this key happened (e.g. `"election.unclean"`).
    Events {
        key: String,
        count: Count,
    },
}

/// A record written out in a scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSpec {
    #[serde(default)]
    pub key: Option<String>,
    pub value: String,
    /// An explicit partition overrides the partitioner.
    #[serde(default)]
    pub partition: Option<u32>,
}

/// Something that happens at a point of the timeline: a fault, a repair, or records to produce.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Action {
    /// A hard crash: the process dies at once. With `lose_unflushed`, the machine loses power too and the log loses
    /// everything after the last flush (`flush.messages`).
    Crash {
        broker: u32,
        #[serde(default)]
        lose_unflushed: bool,
    },
    /// Start a crashed or stopped broker again; it rejoins as a follower.
    Restart {
        broker: u32,
    },
    /// Controlled shutdown: the controller moves leadership away first, then the broker stops.
    ControlledShutdown {
        broker: u32,
    },
    /// Cut every link to and from a node (`"B1"`, `"controller"`, or a producer's name).
    Isolate {
        node: String,
    },
    /// Cut the link from one node to another; `both_ways` cuts the way back too.
    Cut {
        from: String,
        to: String,
        #[serde(default)]
        both_ways: bool,
    },
    /// Split the listed nodes into groups that cannot reach each other; unlisted nodes keep all their links.
    Partition {
        groups: Vec<Vec<String>>,
    },
    /// Restore every link and remove every added delay.
    HealAll,
    /// Add latency to every message to or from a node (a slow follower); `"0ms"` removes it.
    Slow {
        node: String,
        extra_latency: Dur,
    },
    /// Freeze a node's process (a long GC pause): it handles nothing until resumed, then everything queued at once.
    Pause {
        node: String,
    },
    Resume {
        node: String,
    },
    /// Crash the controller: no failure detection and no elections until it restarts.
    CrashController,
    RestartController,
    /// The consumer's process dies: no LeaveGroup, so the group notices only after `session.timeout.ms`.
    CrashConsumer {
        consumer: String,
    },
    /// Starts a consumer (a crashed, closed or not yet started one) as a new member.
    StartConsumer {
        consumer: String,
    },
    /// The consumer closes cleanly: it commits if it auto-commits, and sends LeaveGroup.
    CloseConsumer {
        consumer: String,
    },
    /// Changes how long the consumer takes per record (a slow consumer can exceed `max.poll.interval.ms`).
    SlowConsumer {
        consumer: String,
        processing: Dur,
    },
    /// Stop and ask the learners to predict what happens next; the viz waits for an answer, the CLI for Enter.
    /// (It is not called `Pause`: that step freezes a node.)
    Predict {
        question: Text,
        #[serde(default)]
        choices: Vec<Text>,
        /// The index of the right choice, if there is one.
        #[serde(default)]
        answer: Option<u32>,
        reveal: Text,
    },
    /// The producer sends these records, in order, to `topic`.
    Produce {
        producer: String,
        topic: String,
        records: Vec<RecordSpec>,
    },
}

/// A scenario that failed to load: where, what, and how to fix it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// A validated topic.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Topic {
    pub name: String,
    pub partitions: u32,
    pub replication_factor: u32,
    pub config: TopicConfig,
    /// Replicas per partition, preferred leader first.
    pub assignment: Vec<Vec<BrokerId>>,
}

/// A validated producer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProducerDef {
    pub name: String,
    pub config: ProducerConfig,
    pub workloads: Vec<Workload>,
}

/// A validated workload.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Workload {
    pub topic: usize,
    pub rate_per_sec: u32,
    pub keys: Option<u32>,
    pub start: Micros,
    pub stop: Micros,
}

/// A validated consumer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConsumerDef {
    pub name: String,
    /// Index into `Scenario::groups`.
    pub group: usize,
    pub topics: Vec<usize>,
    pub config: ConsumerConfig,
    pub commit: CommitMode,
    pub processing: Micros,
    /// When it starts.
    pub start: Micros,
}

/// A validated network.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NetworkConfig {
    pub latency: (Micros, Micros),
    pub drop: (u32, u32),
    /// `(node name, node name, latency range)` overrides, resolved to node ids by the simulation.
    pub links: Vec<(String, String, (Micros, Micros))>,
}

/// A loaded, validated scenario, ready to simulate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Scenario {
    /// The title in English and Korean (Korean falls back to English when the file has no `title_ko`).
    pub title: Text,
    /// The description in English and Korean, with the same fallback.
    pub description: Text,
    pub seed: u64,
    pub duration: Micros,
    pub brokers: u32,
    pub broker_config: BrokerConfig,
    pub network: NetworkConfig,
    pub topics: Vec<Topic>,
    pub producers: Vec<ProducerDef>,
    pub consumers: Vec<ConsumerDef>,
    /// Group ids, in order of first appearance.
    pub groups: Vec<String>,
    pub timeline: Vec<Step>,
    /// The file as written, kept so that tools can write it back out with changes.
    pub source: ScenarioFile,
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &std::path::Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| ScenarioError {
            file: file.clone(),
            line: 0,
            column: 0,
            message: format!("cannot read the scenario: {error}"),
            hint: Some("check the path; `kafkascope list` shows the bundled scenarios".into()),
        })?;
        Scenario::parse(&text, &file)
    }

    /// Parses and validates scenario text; `file` is only used in error messages.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        let source: ScenarioFile = ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str(text)
            .map_err(|error| {
                let (message, hint) = describe_ron_error(&error.code);
                ScenarioError {
                    file: file.into(),
                    line: error.position.line,
                    column: error.position.col,
                    message,
                    hint,
                }
            })?;
        Validator { text, file }.validate(source)
    }

    /// Node names in node-id order: `controller`, `B1`..`Bn`, then the producers.
    pub fn node_names(&self) -> Vec<String> {
        let mut names = vec!["controller".to_string()];
        names.extend((1..=self.brokers).map(|b| format!("B{b}")));
        names.extend(self.producers.iter().map(|p| p.name.clone()));
        names.extend(self.consumers.iter().map(|c| c.name.clone()));
        names
    }

    pub fn topic_index(&self, name: &str) -> Option<usize> {
        self.topics.iter().position(|t| t.name == name)
    }
}

fn describe_ron_error(code: &ron::Error) -> (String, Option<String>) {
    match code {
        ron::Error::NoSuchStructField { expected, found, outer } => (
            format!(
                "unknown field `{found}`{}; expected one of: {}",
                outer.as_ref().map(|o| format!(" in `{o}`")).unwrap_or_default(),
                expected.join(", ")
            ),
            did_you_mean(found, expected.iter().copied()),
        ),
        ron::Error::NoSuchEnumVariant { expected, found, outer } => (
            format!(
                "unknown {} `{found}`; expected one of: {}",
                outer.as_deref().map(|o| format!("`{o}` variant")).unwrap_or_else(|| "variant".into()),
                expected.join(", ")
            ),
            did_you_mean(found, expected.iter().copied()),
        ),
        ron::Error::MissingStructField { field, outer } => (
            format!("missing field `{field}`{}", outer.as_ref().map(|o| format!(" in `{o}`")).unwrap_or_default()),
            Some(format!("add `{field}: ...` to this item")),
        ),
        other => (other.to_string(), None),
    }
}

/// Validates a parsed scenario; locates problems in the text by searching for the offending item.
struct Validator<'a> {
    text: &'a str,
    file: &'a str,
}

impl Validator<'_> {
    /// Finds each anchor in turn, each after the previous one, and returns the 1-based line and column of the last
    /// anchor found.
    fn locate(&self, anchors: &[&str]) -> (usize, usize) {
        let mut from = 0;
        let mut found = 0;
        for anchor in anchors {
            if let Some(offset) = self.text[from..].find(anchor) {
                found = from + offset;
                from = found + anchor.len();
            }
        }
        let before = &self.text[..found];
        let line = before.matches('\n').count() + 1;
        let column = found - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
        (line, column)
    }

    fn error(&self, anchors: &[&str], message: impl Into<String>, hint: Option<String>) -> ScenarioError {
        let (line, column) = self.locate(anchors);
        ScenarioError { file: self.file.into(), line, column, message: message.into(), hint }
    }

    fn config_error(&self, section: &[&str], problems: Vec<ConfigProblem>) -> ScenarioError {
        let problem = problems.into_iter().next().expect("at least one problem");
        let quoted = format!("\"{}\"", problem.key);
        let mut anchors = section.to_vec();
        anchors.push(&quoted);
        self.error(&anchors, problem.message, problem.hint)
    }

    /// Adds a producer's or consumer's name to the node names, refusing one that is empty or already taken.
    fn claim_node_name(
        &self,
        node_names: &mut Vec<String>,
        section: &str,
        name: &str,
        name_anchor: &str,
    ) -> Result<(), ScenarioError> {
        if name.is_empty() || node_names.iter().any(|taken| taken == name) {
            return Err(self.error(
                &[section, name_anchor],
                format!("the name `{name}` is taken or empty: {section} need their own names"),
                None,
            ));
        }
        node_names.push(name.to_string());
        Ok(())
    }

    fn validate(&self, source: ScenarioFile) -> Result<Scenario, ScenarioError> {
        let brokers = source.cluster.brokers;
        if brokers == 0 || brokers > limits::BROKERS {
            return Err(self.error(
                &["cluster", "brokers"],
                format!("`brokers` = {brokers}: a cluster has 1 to {} brokers here", limits::BROKERS),
                None,
            ));
        }
        if source.duration.0 == 0 || source.duration.0 > limits::DURATION_US {
            return Err(self.error(&["duration"], "`duration` must be between 1us and 24h", None));
        }
        let broker_config = BrokerConfig::from_map(&source.cluster.config)
            .map_err(|problems| self.config_error(&["cluster", "config"], problems))?;

        let network = &source.cluster.network;
        let check_range = |range: (Dur, Dur), anchors: &[&str]| {
            if range.0 .0 > range.1 .0 {
                Err(self.error(anchors, "latency range is (min, max) with min <= max", None))
            } else {
                Ok((range.0 .0, range.1 .0))
            }
        };
        let latency = check_range(network.latency, &["network", "latency"])?;
        if network.drop.1 == 0 || network.drop.0 > network.drop.1 {
            return Err(self.error(
                &["network", "drop"],
                "`drop` is a probability written (numerator, denominator), e.g. (1, 100) for 1%",
                None,
            ));
        }

        if source.topics.is_empty() || source.topics.len() > limits::TOPICS {
            return Err(self.error(&["topics"], format!("a scenario has 1 to {} topics", limits::TOPICS), None));
        }
        let mut topics = Vec::new();
        let mut total_partitions = 0u32;
        for spec in &source.topics {
            let name_anchor = format!("\"{}\"", spec.name);
            // Anchors that find a field of this topic: the `topics` list, the topic's name, then the field.
            let at = |field: &'static str| -> Vec<String> { vec!["topics".into(), name_anchor.clone(), field.into()] };
            if topics.iter().any(|t: &Topic| t.name == spec.name) {
                return Err(self.error(
                    &["topics", &name_anchor, &name_anchor],
                    format!("topic `{}` is defined twice", spec.name),
                    None,
                ));
            }
            if spec.name.starts_with("__") {
                return Err(self.error(
                    &["topics", &name_anchor],
                    format!("topic `{}` is internal: names starting with `__` are reserved for Kafka", spec.name),
                    None,
                ));
            }
            if spec.name.is_empty()
                || spec.name.len() > 249
                || !spec.name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                return Err(self.error(
                    &["topics", &name_anchor],
                    format!("invalid topic name `{}`", spec.name),
                    Some(
                        "Kafka topic names use ASCII letters, digits, '.', '_' and '-' (at most 249 characters)".into(),
                    ),
                ));
            }
            if spec.partitions == 0 {
                let a = at("partitions");
                return Err(self.error(&[&a[0], &a[1], &a[2]], "Number of partitions must be larger than 0.", None));
            }
            total_partitions = total_partitions.saturating_add(spec.partitions);
            if total_partitions > limits::PARTITIONS_TOTAL {
                let a = at("partitions");
                return Err(self.error(
                    &[&a[0], &a[1], &a[2]],
                    format!("more than {} partitions in all", limits::PARTITIONS_TOTAL),
                    None,
                ));
            }
            if spec.replication_factor == 0 {
                let a = at("replication_factor");
                return Err(self.error(&[&a[0], &a[1], &a[2]], "Replication factor must be larger than 0.", None));
            }
            // The broker's own words (kafka-topics --create, InvalidReplicationFactorException).
            if spec.replication_factor > brokers {
                let a = at("replication_factor");
                return Err(self.error(
                    &[&a[0], &a[1], &a[2]],
                    format!(
                        "Replication factor: {} larger than available brokers: {}.",
                        spec.replication_factor, brokers
                    ),
                    Some(format!("lower `replication_factor` to at most {brokers}, or add brokers in `cluster`")),
                ));
            }
            let config = TopicConfig::from_map(&spec.config, &broker_config)
                .map_err(|problems| self.config_error(&["topics", &name_anchor, "config"], problems))?;
            let assignment = match &spec.assignment {
                None => default_assignment(brokers, spec.partitions, spec.replication_factor),
                Some(lists) => {
                    let a = at("assignment");
                    let anchors = [a[0].as_str(), a[1].as_str(), a[2].as_str()];
                    if lists.len() != spec.partitions as usize {
                        return Err(self.error(
                            &anchors,
                            format!("`assignment` has {} lists for {} partitions", lists.len(), spec.partitions),
                            None,
                        ));
                    }
                    let mut out = Vec::new();
                    for list in lists {
                        if list.len() != spec.replication_factor as usize {
                            return Err(self.error(
                                &anchors,
                                format!(
                                    "every assignment list needs {} replicas (the replication factor)",
                                    spec.replication_factor
                                ),
                                None,
                            ));
                        }
                        let mut seen = Vec::new();
                        for &b in list {
                            if b == 0 || b > brokers {
                                return Err(self.error(
                                    &anchors,
                                    format!("broker {b} does not exist (brokers are 1..={brokers})"),
                                    None,
                                ));
                            }
                            if seen.contains(&b) {
                                return Err(self.error(
                                    &anchors,
                                    format!("broker {b} appears twice in one partition's replicas"),
                                    None,
                                ));
                            }
                            seen.push(b);
                        }
                        out.push(seen.into_iter().map(BrokerId).collect());
                    }
                    out
                }
            };
            topics.push(Topic {
                name: spec.name.clone(),
                partitions: spec.partitions,
                replication_factor: spec.replication_factor,
                config,
                assignment,
            });
        }

        if source.producers.len() > limits::PRODUCERS {
            return Err(self.error(&["producers"], format!("at most {} producers", limits::PRODUCERS), None));
        }
        let topic_names: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
        let find_topic = |name: &str, anchors: &[&str]| -> Result<usize, ScenarioError> {
            topic_names.iter().position(|t| *t == name).ok_or_else(|| {
                self.error(anchors, format!("unknown topic `{name}`"), did_you_mean(name, topic_names.iter().copied()))
            })
        };
        let mut node_names: Vec<String> = vec!["controller".into()];
        node_names.extend((1..=brokers).map(|b| format!("B{b}")));
        let mut producers = Vec::new();
        for spec in &source.producers {
            let name_anchor = format!("\"{}\"", spec.name);
            self.claim_node_name(&mut node_names, "producers", &spec.name, &name_anchor)?;
            let config = ProducerConfig::from_map(&spec.config)
                .map_err(|problems| self.config_error(&["producers", &name_anchor, "config"], problems))?;
            let mut workloads = Vec::new();
            for workload in &spec.workload {
                let WorkloadSpec::Steady { topic, rate_per_sec, keys, start, stop } = workload;
                let topic_anchor = format!("\"{topic}\"");
                let topic_index = find_topic(topic, &["producers", &name_anchor, "workload", &topic_anchor])?;
                if *rate_per_sec == 0 || *rate_per_sec > limits::RATE_PER_SEC {
                    return Err(self.error(
                        &["producers", &name_anchor, "rate_per_sec"],
                        format!("`rate_per_sec` must be 1 to {}", limits::RATE_PER_SEC),
                        None,
                    ));
                }
                if *keys == Some(0) {
                    return Err(self.error(
                        &["producers", &name_anchor, "keys"],
                        "`keys: Some(0)` has no keys to draw from",
                        Some("use `keys: None` for records without keys".into()),
                    ));
                }
                workloads.push(Workload {
                    topic: topic_index,
                    rate_per_sec: *rate_per_sec,
                    keys: *keys,
                    start: start.map(|d| d.0).unwrap_or(0),
                    stop: stop.map(|d| d.0).unwrap_or(source.duration.0).min(source.duration.0),
                });
            }
            producers.push(ProducerDef { name: spec.name.clone(), config, workloads });
        }

        if source.consumers.len() > limits::CONSUMERS {
            return Err(self.error(&["consumers"], format!("at most {} consumers", limits::CONSUMERS), None));
        }
        let mut consumers = Vec::new();
        let mut groups: Vec<String> = Vec::new();
        for spec in &source.consumers {
            let name_anchor = format!("\"{}\"", spec.name);
            self.claim_node_name(&mut node_names, "consumers", &spec.name, &name_anchor)?;
            if spec.group.is_empty() {
                return Err(self.error(
                    &["consumers", &name_anchor, "group"],
                    "`group` (group.id) must not be empty",
                    None,
                ));
            }
            let group = match groups.iter().position(|g| g == &spec.group) {
                Some(g) => g,
                None => {
                    groups.push(spec.group.clone());
                    groups.len() - 1
                }
            };
            if spec.topics.is_empty() {
                return Err(self.error(
                    &["consumers", &name_anchor, "topics"],
                    "a consumer subscribes to at least one topic",
                    None,
                ));
            }
            let mut subscribed = Vec::new();
            for topic in &spec.topics {
                let topic_anchor = format!("\"{topic}\"");
                subscribed.push(find_topic(topic, &["consumers", &name_anchor, "topics", &topic_anchor])?);
            }
            let config = ConsumerConfig::from_map(&spec.config, spec.commit)
                .map_err(|problems| self.config_error(&["consumers", &name_anchor, "config"], problems))?;
            consumers.push(ConsumerDef {
                name: spec.name.clone(),
                group,
                topics: subscribed,
                config,
                commit: spec.commit,
                processing: spec.processing.0,
                start: spec.start.map(|d| d.0).unwrap_or(0),
            });
        }

        let workload_records: u64 = producers
            .iter()
            .flat_map(|p| &p.workloads)
            .map(|w| w.rate_per_sec as u64 * w.stop.saturating_sub(w.start) / 1_000_000)
            .sum();
        if workload_records > limits::WORKLOAD_RECORDS {
            return Err(self.error(
                &["workload"],
                format!(
                    "the workloads would produce {workload_records} records, more than {}",
                    limits::WORKLOAD_RECORDS
                ),
                Some("lower `rate_per_sec`, or give the workloads a `stop` time".into()),
            ));
        }

        let mut links = Vec::new();
        for link in &network.links {
            for name in [&link.between.0, &link.between.1] {
                if !node_names.contains(name) {
                    return Err(self.error(
                        &["links", &format!("\"{name}\"")],
                        format!("unknown node `{name}`"),
                        did_you_mean(name, node_names.iter().map(|s| s.as_str())),
                    ));
                }
            }
            let range = check_range(link.latency, &["links", &format!("\"{}\"", link.between.0)])?;
            links.push((link.between.0.clone(), link.between.1.clone(), range));
        }

        if source.timeline.len() > limits::TIMELINE_STEPS {
            return Err(self.error(&["timeline"], format!("at most {} timeline steps", limits::TIMELINE_STEPS), None));
        }
        let mut explicit_records = 0usize;
        let mut previous_at = 0;
        for (index, step) in source.timeline.iter().enumerate() {
            let step_anchor = nth_anchor(index);
            let anchors_base = ["timeline"];
            let locate_step = |extra: &str| -> Vec<String> {
                let mut v: Vec<String> = anchors_base.iter().map(|s| s.to_string()).collect();
                v.extend(step_anchor.iter().cloned());
                v.push(extra.to_string());
                v
            };
            let fail = |extra: &str, message: String, hint: Option<String>| {
                let v = locate_step(extra);
                let refs: Vec<&str> = v.iter().map(|s| s.as_str()).collect();
                self.error(&refs, message, hint)
            };
            if step.at.0 < previous_at {
                return Err(fail("at", "timeline steps must be in time order".into(), None));
            }
            previous_at = step.at.0;
            let check_broker = |b: u32| {
                if b == 0 || b > brokers {
                    Err(fail("broker", format!("broker {b} does not exist (brokers are 1..={brokers})"), None))
                } else {
                    Ok(())
                }
            };
            let check_node = |name: &String| {
                if node_names.contains(name) {
                    Ok(())
                } else {
                    Err(fail(
                        &format!("\"{name}\""),
                        format!("unknown node `{name}`"),
                        did_you_mean(name, node_names.iter().map(|s| s.as_str()))
                            .or_else(|| Some(format!("nodes are: {}", node_names.join(", ")))),
                    ))
                }
            };
            let Some(action) = &step.action else { continue };
            match action {
                Action::Crash { broker, .. } | Action::Restart { broker } | Action::ControlledShutdown { broker } => {
                    check_broker(*broker)?
                }
                Action::Isolate { node }
                | Action::Pause { node }
                | Action::Resume { node }
                | Action::Slow { node, .. } => check_node(node)?,
                Action::Cut { from, to, .. } => {
                    check_node(from)?;
                    check_node(to)?;
                }
                Action::Partition { groups } => {
                    for name in groups.iter().flatten() {
                        check_node(name)?;
                    }
                }
                Action::HealAll | Action::CrashController | Action::RestartController => {}
                Action::Predict { choices, answer, .. } => {
                    if choices.len() > 26 {
                        return Err(fail("choices", "a prediction has at most 26 choices (a to z)".into(), None));
                    }
                    if let Some(a) = answer {
                        if *a as usize >= choices.len() {
                            return Err(fail(
                                "answer",
                                format!("`answer: {a}` but there are {} choices (counted from 0)", choices.len()),
                                None,
                            ));
                        }
                    }
                }
                Action::CrashConsumer { consumer }
                | Action::StartConsumer { consumer }
                | Action::CloseConsumer { consumer }
                | Action::SlowConsumer { consumer, .. } => {
                    if !source.consumers.iter().any(|c| &c.name == consumer) {
                        return Err(fail(
                            &format!("\"{consumer}\""),
                            format!("unknown consumer `{consumer}`"),
                            did_you_mean(consumer, source.consumers.iter().map(|c| c.name.as_str()))
                                .or_else(|| Some("declare it under `consumers`".into())),
                        ));
                    }
                }
                Action::Produce { producer, topic, records } => {
                    if !source.producers.iter().any(|p| &p.name == producer) {
                        return Err(fail(
                            &format!("\"{producer}\""),
                            format!("unknown producer `{producer}`"),
                            did_you_mean(producer, source.producers.iter().map(|p| p.name.as_str()))
                                .or_else(|| Some("declare it under `producers`".into())),
                        ));
                    }
                    let topic_index = topic_names.iter().position(|t| t == topic).ok_or_else(|| {
                        fail(
                            &format!("\"{topic}\""),
                            format!("unknown topic `{topic}`"),
                            did_you_mean(topic, topic_names.iter().copied()),
                        )
                    })?;
                    for record in records {
                        if let Some(p) = record.partition {
                            if p >= topics[topic_index].partitions {
                                return Err(fail("partition", format!("topic `{topic}` has no partition {p}"), None));
                            }
                        }
                    }
                    explicit_records += records.len();
                    if explicit_records > limits::EXPLICIT_RECORDS {
                        return Err(fail(
                            "records",
                            format!("more than {} explicit records", limits::EXPLICIT_RECORDS),
                            None,
                        ));
                    }
                }
            }
        }

        for expectation in &source.expect {
            let fail =
                |anchor: &str, message: String, hint: Option<String>| self.error(&["expect", anchor], message, hint);
            if expectation.at.is_some_and(|d| d.0 > source.duration.0) {
                return Err(fail("at:", "an expectation is checked after the scenario ends".into(), None));
            }
            let topic_ok = |topic: &String, partition: u32| -> Result<(), ScenarioError> {
                // `__consumer_offsets` exists whenever the scenario has consumers (see `Simulation::new`).
                if topic == "__consumer_offsets" && !source.consumers.is_empty() {
                    let count = broker_config.offsets_topic_num_partitions;
                    if partition >= count {
                        return Err(fail(
                            &format!("\"{topic}\""),
                            format!("topic `{topic}` has no partition {partition}"),
                            Some(format!("it has offsets.topic.num.partitions = {count}")),
                        ));
                    }
                    return Ok(());
                }
                let index = topic_names.iter().position(|t| t == topic).ok_or_else(|| {
                    fail(
                        &format!("\"{topic}\""),
                        format!("unknown topic `{topic}`"),
                        did_you_mean(topic, topic_names.iter().copied()),
                    )
                })?;
                if partition >= topics[index].partitions {
                    return Err(fail(
                        &format!("\"{topic}\""),
                        format!("topic `{topic}` has no partition {partition}"),
                        None,
                    ));
                }
                Ok(())
            };
            let broker_ok = |b: u32| {
                if b == 0 || b > brokers {
                    Err(fail("broker", format!("broker {b} does not exist (brokers are 1..={brokers})"), None))
                } else {
                    Ok(())
                }
            };
            let named = |name: &String, kind: &str, known: Vec<&str>| {
                if known.contains(&name.as_str()) {
                    Ok(())
                } else {
                    Err(fail(&format!("\"{name}\""), format!("unknown {kind} `{name}`"), did_you_mean(name, known)))
                }
            };
            match &expectation.check {
                Check::AckedLost(_)
                | Check::Duplicates(_)
                | Check::Reordered(_)
                | Check::FailedWritten(_)
                | Check::Events { .. } => {}
                Check::Leader { topic, partition, leader } => {
                    topic_ok(topic, *partition)?;
                    if let Some(b) = leader {
                        broker_ok(*b)?;
                    }
                }
                Check::Isr { topic, partition, isr } => {
                    topic_ok(topic, *partition)?;
                    for b in isr {
                        broker_ok(*b)?;
                    }
                }
                Check::HighWatermark { topic, partition, broker, .. }
                | Check::LogEndOffset { topic, partition, broker, .. } => {
                    topic_ok(topic, *partition)?;
                    broker_ok(*broker)?;
                }
                Check::ProducerError { producer, .. } | Check::ProducerAcked { producer, .. } => {
                    named(producer, "producer", source.producers.iter().map(|p| p.name.as_str()).collect())?
                }
                Check::IdleConsumers { group, .. }
                | Check::GroupLost { group, .. }
                | Check::GroupDuplicates { group, .. }
                | Check::GroupProcessed { group, .. } => {
                    named(group, "group", groups.iter().map(|g| g.as_str()).collect())?
                }
                Check::Lag { group, topic, partition, .. } => {
                    named(group, "group", groups.iter().map(|g| g.as_str()).collect())?;
                    topic_ok(topic, *partition)?;
                }
                Check::Assigned { consumer, .. } => {
                    named(consumer, "consumer", source.consumers.iter().map(|c| c.name.as_str()).collect())?
                }
            }
        }

        Ok(Scenario {
            title: Text::with_fallback(&source.title, source.title_ko.as_deref()),
            description: Text::with_fallback(&source.description, source.description_ko.as_deref()),
            seed: source.seed,
            duration: source.duration.0,
            brokers,
            broker_config,
            network: NetworkConfig { latency, drop: network.drop, links },
            topics,
            producers,
            consumers,
            groups,
            timeline: source.timeline.clone(),
            source,
        })
    }
}

/// Rewrites a scenario's config maps: each `key=value` goes to the cluster, the topics, the producers or the
/// consumers, wherever Kafka's key belongs. `replication.factor` (the `kafka-topics --replication-factor` setting)
/// changes every topic without an explicit assignment. The CLI's `--set`, the viz's config panel, its compare mode
/// and its shareable links all use this one function, so they accept and refuse the same overrides.
pub fn apply_overrides(text: &str, file: &str, overrides: &[String]) -> Result<String, String> {
    use crate::config::{BrokerConfig, ConfigValue, ConsumerConfig, ProducerConfig, TopicConfig};
    if overrides.is_empty() {
        return Ok(text.to_string());
    }
    let mut source: crate::scenario::ScenarioFile = ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .from_str(text)
        .map_err(|e| format!("{file}: {e}"))?;
    for item in overrides {
        let (key, value) = item.split_once('=').ok_or_else(|| format!("--set {item}: expected key=value"))?;
        let value = match value.parse::<i64>() {
            Ok(n) => ConfigValue::Int(n),
            Err(_) if value == "true" || value == "false" => ConfigValue::Bool(value == "true"),
            Err(_) => ConfigValue::Text(value.to_string()),
        };
        let mut used = false;
        if key == "replication.factor" {
            let ConfigValue::Int(factor @ 1..=64) = value else {
                return Err(format!("--set {item}: expected a replication factor from 1 to 64"));
            };
            for topic in &mut source.topics {
                if topic.assignment.is_some() {
                    return Err(format!(
                        "--set {item}: topic `{}` has an explicit `assignment`; change it in the file instead",
                        topic.name
                    ));
                }
                topic.replication_factor = factor as u32;
            }
            continue;
        }
        if TopicConfig::KEYS.contains(&key) {
            for topic in &mut source.topics {
                topic.config.insert(key.to_string(), value.clone());
            }
            used = true;
        } else if BrokerConfig::KEYS.contains(&key) {
            source.cluster.config.insert(key.to_string(), value.clone());
            used = true;
        }
        if ProducerConfig::KEYS.contains(&key) {
            for producer in &mut source.producers {
                producer.config.insert(key.to_string(), value.clone());
            }
            used = true;
        }
        if ConsumerConfig::KEYS.contains(&key) {
            for consumer in &mut source.consumers {
                consumer.config.insert(key.to_string(), value.clone());
            }
            used = true;
        }
        if !used {
            let known = ["replication.factor"]
                .iter()
                .chain(TopicConfig::KEYS)
                .chain(BrokerConfig::KEYS)
                .chain(ProducerConfig::KEYS)
                .chain(ConsumerConfig::KEYS);
            let hint = crate::config::did_you_mean(key, known.copied()).unwrap_or_default();
            return Err(format!("--set {key}: not a config this simulation knows. {hint}"));
        }
    }
    ron::ser::to_string_pretty(&source, ron::ser::PrettyConfig::default()).map_err(|e| e.to_string())
}

/// Every `.ron` file under `dir` (recursively), sorted by path: the bundled scenarios for the CLI and the tests.
pub fn scenario_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "ron") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Anchors that find the n-th `at:` of the timeline.
fn nth_anchor(index: usize) -> Vec<String> {
    vec!["at:".to_string(); index + 1]
}

/// Kafka's rack-unaware replica placement (AdminUtils.assignReplicasToBrokersRackUnaware) with the random start
/// index and shift fixed at 0, so placements are stable: partition p's first replica is broker (p mod n) + 1, and
/// the followers come after it with a shift that grows every n partitions.
pub fn default_assignment(brokers: u32, partitions: u32, replication_factor: u32) -> Vec<Vec<BrokerId>> {
    let n = brokers;
    let mut next_replica_shift = 0u32;
    let mut out = Vec::new();
    for p in 0..partitions {
        if p > 0 && p % n == 0 {
            next_replica_shift += 1;
        }
        let first = p % n;
        let mut replicas = vec![BrokerId(first + 1)];
        for j in 0..replication_factor.saturating_sub(1) {
            let shift = 1 + (next_replica_shift + j) % (n - 1).max(1);
            replicas.push(BrokerId((first + shift) % n + 1));
        }
        out.push(replicas);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"Scenario(
    title: "t",
    duration: "10s",
    cluster: (brokers: 3),
    topics: [(name: "orders", partitions: 2, replication_factor: 3)],
)"#;

    #[test]
    fn loads_a_minimal_scenario_with_defaults() {
        let scenario = Scenario::parse(MINIMAL, "min.ron").unwrap();
        assert_eq!(scenario.topics[0].assignment[0], vec![BrokerId(1), BrokerId(2), BrokerId(3)]);
        assert_eq!(scenario.topics[0].assignment[1], vec![BrokerId(2), BrokerId(3), BrokerId(1)]);
        assert_eq!(scenario.topics[0].config.min_insync_replicas, 1);
        assert_eq!(scenario.duration, 10_000_000);
    }

    #[test]
    fn replication_factor_larger_than_brokers_is_located() {
        let text = MINIMAL.replace("brokers: 3", "brokers: 1");
        let error = Scenario::parse(&text, "bad.ron").unwrap_err();
        assert_eq!(error.message, "Replication factor: 3 larger than available brokers: 1.");
        assert_eq!((error.line, error.column), (5, 46));
        assert!(error.to_string().starts_with("bad.ron:5:46: Replication factor"));
    }

    #[test]
    fn unknown_field_names_the_near_miss() {
        let text = MINIMAL.replace("partitions: 2", "partitons: 2");
        let error = Scenario::parse(&text, "typo.ron").unwrap_err();
        assert!(error.message.contains("unknown field `partitons`"), "{}", error.message);
        assert_eq!(error.hint.as_deref(), Some("did you mean `partitions`?"));
        assert_eq!(error.line, 5);
    }

    #[test]
    fn unknown_config_key_is_located_with_hint() {
        let text =
            MINIMAL.replace("replication_factor: 3)", "replication_factor: 3, config: {\"min.insync.replica\": 2})");
        let error = Scenario::parse(&text, "cfg.ron").unwrap_err();
        assert_eq!(error.hint.as_deref(), Some("did you mean `min.insync.replicas`?"));
        assert_eq!(error.line, 5);
    }

    #[test]
    fn runaway_workloads_are_refused_with_a_hint() {
        let text = MINIMAL.replace("duration: \"10s\"", "duration: \"2m\"").replace(
            "topics: [",
            "producers: [(name: \"p\", workload: [Steady(topic: \"orders\", rate_per_sec: 2000000)])],\n    topics: [",
        );
        let error = Scenario::parse(&text, "big.ron").unwrap_err();
        assert!(error.message.contains("more than 100000000"), "{}", error.message);
        assert!(error.hint.as_deref().unwrap_or("").contains("rate_per_sec"));
    }

    #[test]
    fn malformed_text_gives_position_not_panic() {
        let error = Scenario::parse("Scenario(title: \"x\", duration: ", "cut.ron").unwrap_err();
        assert_eq!(error.line, 1);
    }

    #[test]
    fn default_assignment_spreads_leaders_and_shifts_followers() {
        let a = default_assignment(3, 6, 2);
        let firsts: Vec<u32> = a.iter().map(|r| r[0].0).collect();
        assert_eq!(firsts, vec![1, 2, 3, 1, 2, 3]);
        // After every 3 partitions the follower shift grows, as in Kafka.
        assert_eq!(a[0][1], BrokerId(2));
        assert_eq!(a[3][1], BrokerId(3));
    }
}
