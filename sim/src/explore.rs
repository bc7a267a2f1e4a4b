//! Failure stories as data, and the delivery guarantees each configuration class promises (or does not).
//!
//! A [`Story`] is a small cluster, a workload and a timed list of fault episodes. It becomes an ordinary scenario
//! file, so any story — a counterexample above all — can be written out, replayed by `kafkascope run` and watched
//! in the viz. Property tests generate stories with proptest (so failures shrink to short stories); `kafkascope
//! explore` searches with the simulation's own seeded generator and shrinks greedily.

use crate::config::{CommitMode, ConfigMap, ConfigValue};
use crate::scenario::{
    Action, ClusterSpec, ConsumerSpec, Dur, NetworkSpec, ProducerSpec, Scenario, ScenarioFile, Step, Text, TopicSpec,
    WorkloadSpec,
};
use crate::sim::{RunOptions, Simulation};
use crate::trace::TraceRetention;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

/// When the faults stop and everything is repaired (the start of the liveness phase).
pub const SAFETY_PHASE_END_MS: u32 = 24_000;
/// How long a story runs: the liveness phase gives the cluster time to heal fully.
pub const STORY_DURATION_MS: u32 = 55_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultKind {
    Crash,
    /// A crash with a power loss: the broker's unflushed records are gone.
    PowerLoss,
    ControlledShutdown,
    Isolate,
    Pause,
    /// 2 s of extra latency on every message to and from the broker.
    Slow,
    /// A network partition: the broker and the producer on one side, the controller and the other brokers on the
    /// other (the zombie-leader story when the broker leads).
    Split,
    /// Crash a consumer (the episode's `target` picks which); it starts again at the episode's end.
    CrashConsumer,
}

/// One fault from `start_ms` for `length_ms`, on broker (or consumer) `target`, then repaired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Episode {
    pub start_ms: u32,
    pub length_ms: u32,
    pub kind: FaultKind,
    pub target: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Story {
    pub seed: u64,
    pub brokers: u32,
    pub partitions: u32,
    pub replication_factor: u32,
    pub min_insync_replicas: u32,
    /// `"0"`, `"1"` or `"all"`.
    pub acks: String,
    pub unclean: bool,
    pub idempotence: bool,
    pub rate_per_sec: u32,
    /// With consumers: two members of one group committing this way.
    pub commit: Option<CommitMode>,
    pub episodes: Vec<Episode>,
}

/// Configuration classes and the guarantee each is tested for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Class {
    /// RF 3, min ISR 2, acks=all, clean elections, one broker down or cut off at a time, no disk loss: no acked
    /// record is ever lost.
    Safe,
    /// The safe class with an idempotent producer: no duplicates and no reordering either.
    Idempotent,
    /// Safe producers, consumers committing after processing that crash: no acked record goes unprocessed.
    AtLeastOnce,
    /// acks=1: a guarantee not given — a loss must be found.
    UnsafeAcks1,
    /// acks=0: a loss must be found.
    UnsafeAcks0,
    /// unclean.leader.election.enable=true with overlapping failures: a loss must be found.
    UnsafeUnclean,
    /// min.insync.replicas=1 with RF 3: a loss must be found.
    UnsafeMinIsr1,
    /// Consumers committing before processing that crash: a record skipped by the group must be found.
    UnsafeCommitBefore,
}

impl Class {
    pub const ALL: [Class; 8] = [
        Class::Safe,
        Class::Idempotent,
        Class::AtLeastOnce,
        Class::UnsafeAcks1,
        Class::UnsafeAcks0,
        Class::UnsafeUnclean,
        Class::UnsafeMinIsr1,
        Class::UnsafeCommitBefore,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Class::Safe => "safe",
            Class::Idempotent => "idempotent",
            Class::AtLeastOnce => "at-least-once",
            Class::UnsafeAcks1 => "unsafe-acks1",
            Class::UnsafeAcks0 => "unsafe-acks0",
            Class::UnsafeUnclean => "unsafe-unclean",
            Class::UnsafeMinIsr1 => "unsafe-min-isr1",
            Class::UnsafeCommitBefore => "unsafe-commit-before",
        }
    }

    pub fn parse(name: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Does the class promise its guarantee (so a violation is a bug), or is a violation expected to exist?
    pub fn promises(self) -> bool {
        matches!(self, Class::Safe | Class::Idempotent | Class::AtLeastOnce)
    }

    /// At most one fault at a time, and no disk loss.
    pub fn one_fault_at_a_time(self) -> bool {
        self.promises()
    }

    pub fn fault_kinds(self) -> &'static [FaultKind] {
        use FaultKind::*;
        match self {
            Class::Safe | Class::Idempotent => &[Crash, ControlledShutdown, Isolate, Split, Pause, Slow],
            Class::AtLeastOnce => &[Crash, Isolate, CrashConsumer],
            Class::UnsafeCommitBefore => &[CrashConsumer],
            Class::UnsafeAcks1 | Class::UnsafeAcks0 => &[Crash, Isolate, Split, Pause, Slow],
            // With clean elections only, a lone in-sync leader keeps what it acknowledged unless its disk loses it.
            Class::UnsafeMinIsr1 => &[Crash, PowerLoss, Isolate],
            Class::UnsafeUnclean => &[Crash, PowerLoss, Isolate],
        }
    }

    /// The fixed part of a story in this class.
    pub fn shape(self, story: &mut Story) {
        story.replication_factor = 3;
        story.brokers = story.brokers.max(3);
        story.min_insync_replicas = 2;
        story.acks = "all".into();
        story.unclean = false;
        story.idempotence = false;
        story.commit = None;
        match self {
            Class::Safe => {}
            Class::Idempotent => story.idempotence = true,
            Class::AtLeastOnce => story.commit = Some(CommitMode::SyncAfterProcessing),
            Class::UnsafeAcks1 => story.acks = "1".into(),
            Class::UnsafeAcks0 => story.acks = "0".into(),
            Class::UnsafeUnclean => {
                story.unclean = true;
                story.min_insync_replicas = 1;
            }
            Class::UnsafeMinIsr1 => story.min_insync_replicas = 1,
            Class::UnsafeCommitBefore => story.commit = Some(CommitMode::SyncBeforeProcessing),
        }
        if story.commit.is_some() {
            for e in &mut story.episodes {
                if e.kind == FaultKind::CrashConsumer {
                    e.target %= 2;
                }
            }
        }
        for e in &mut story.episodes {
            if e.kind != FaultKind::CrashConsumer {
                e.target = e.target % story.brokers + 1;
            }
            e.start_ms = e.start_ms.clamp(1_000, SAFETY_PHASE_END_MS - 1_000);
            e.length_ms = e.length_ms.clamp(500, SAFETY_PHASE_END_MS - e.start_ms);
        }
        story.episodes.sort_by_key(|e| e.start_ms);
        if self.one_fault_at_a_time() {
            // Sequential episodes: each one starts after the previous one is repaired (plus time to recover).
            let mut free_at = 0;
            story.episodes.retain_mut(|e| {
                e.start_ms = e.start_ms.max(free_at);
                if e.start_ms + e.length_ms > SAFETY_PHASE_END_MS {
                    return false;
                }
                free_at = e.start_ms + e.length_ms + 12_000;
                true
            });
        }
    }

    /// Checks the class's guarantee on a finished run; `Err` describes the violation.
    pub fn check(self, sim: &Simulation) -> Result<(), String> {
        let verdict = sim.verdict();
        if !verdict.divergent.is_empty() && self.promises() {
            return Err(format!("replicas diverge below their high watermarks: {:?}", verdict.divergent));
        }
        match self {
            Class::AtLeastOnce | Class::UnsafeCommitBefore => {
                for group in sim.group_verdicts() {
                    if !group.lost.is_empty() {
                        return Err(format!(
                            "group {} never processed {} acked record(s)",
                            group.group,
                            group.lost.len()
                        ));
                    }
                    if group.unconsumed > 0 && self.promises() {
                        return Err(format!(
                            "group {} did not catch up: {} record(s) left",
                            group.group, group.unconsumed
                        ));
                    }
                }
                if self.promises() {
                    self.check_acked(sim)?;
                }
                Ok(())
            }
            Class::Idempotent => {
                self.check_acked(sim)?;
                if !verdict.duplicates.is_empty() {
                    return Err(format!("{} record(s) written twice despite idempotence", verdict.duplicates.len()));
                }
                if !verdict.reordered.is_empty() {
                    return Err(format!("{} record(s) out of order despite idempotence", verdict.reordered.len()));
                }
                Ok(())
            }
            _ => self.check_acked(sim),
        }
    }

    fn check_acked(self, sim: &Simulation) -> Result<(), String> {
        let verdict = sim.verdict();
        if verdict.acked_lost.is_empty() {
            Ok(())
        } else {
            Err(format!("{} acked record(s) lost", verdict.acked_lost.len()))
        }
    }
}

/// After the liveness phase every replica is back in the ISR, every high watermark has reached its log end, and
/// every consumer group is Stable.
pub fn check_liveness(sim: &Simulation) -> Result<(), String> {
    let report = crate::report::Report::build(sim, false);
    if let Some(group) = report.groups.iter().find(|g| g.state != "Stable") {
        return Err(format!("group {} is {} instead of Stable", group.group, group.state));
    }
    for (index, info) in sim.topo.partitions.iter().enumerate() {
        let p = crate::ids::PartitionIdx(index as u32);
        let state = sim.controller.partitions[index];
        let name = sim.topo.partition_name(p);
        let Some(leader) = state.leader else { return Err(format!("{name} is still offline")) };
        if state.isr.len() != info.replicas.len() {
            return Err(format!(
                "{name}: the ISR did not return to full ({} of {})",
                state.isr.len(),
                info.replicas.len()
            ));
        }
        let leader_replica = sim.replica(leader, p).expect("hosted");
        let (leader_leo, leader_hw) = (leader_replica.log_end_offset(), leader_replica.high_watermark);
        // Consumers keep committing to `__consumer_offsets` for as long as they process, so a commit may still be on
        // its way at the end: there every replica must hold everything the leader has committed, and no more is
        // asked. Elsewhere the load stopped long ago: every HW and LEO must equal the leader's LEO.
        let busy = sim.topo.offsets_topic == Some(info.topic);
        for &b in &info.replicas {
            let r = sim.replica(b, p).expect("hosted");
            let caught_up = if busy {
                r.log_end_offset() >= leader_hw
            } else {
                r.high_watermark == leader_leo && r.log_end_offset() == leader_leo
            };
            if !caught_up {
                return Err(format!(
                    "{name} on {b}: log_end_offset {} / high_watermark {} did not reach the leader's {} / {}",
                    r.log_end_offset(),
                    r.high_watermark,
                    leader_leo,
                    leader_hw
                ));
            }
        }
    }
    Ok(())
}

fn configs(entries: &[(&str, ConfigValue)]) -> ConfigMap {
    entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn text(en: String) -> Text {
    Text { ko: en.clone(), en }
}

/// The story as a scenario file, narrated, so that a counterexample can be replayed and watched.
pub fn story_to_file(story: &Story, class: Class, title: &str) -> ScenarioFile {
    let ms = |v: u32| Dur(v as u64 * 1000);
    let mut producer_config = configs(&[("acks", ConfigValue::Text(story.acks.clone()))]);
    if story.acks == "all" {
        producer_config.insert("enable.idempotence".into(), ConfigValue::Bool(story.idempotence));
    }
    let consumers = match story.commit {
        None => Vec::new(),
        Some(commit) => (0..2)
            .map(|i| ConsumerSpec {
                name: format!("c{}", i + 1),
                group: "readers".into(),
                topics: vec!["events".into()],
                config: configs(&[
                    ("auto.offset.reset", ConfigValue::Text("earliest".into())),
                    ("session.timeout.ms", ConfigValue::Int(6000)),
                    ("heartbeat.interval.ms", ConfigValue::Int(1000)),
                    ("max.poll.records", ConfigValue::Int(20)),
                ]),
                commit,
                processing: Dur(2_000),
                start: None,
            })
            .collect(),
    };
    let mut timeline = Vec::new();
    for e in &story.episodes {
        let b = e.target;
        let node = format!("B{b}");
        let consumer = format!("c{}", e.target + 1);
        let (fault, repair, what) = match e.kind {
            FaultKind::Crash => (
                Action::Crash { broker: b, lose_unflushed: false },
                Action::Restart { broker: b },
                format!("B{b} crashes"),
            ),
            FaultKind::PowerLoss => (
                Action::Crash { broker: b, lose_unflushed: true },
                Action::Restart { broker: b },
                format!("B{b} loses power"),
            ),
            FaultKind::ControlledShutdown => (
                Action::ControlledShutdown { broker: b },
                Action::Restart { broker: b },
                format!("B{b} shuts down cleanly"),
            ),
            FaultKind::Isolate => (Action::Isolate { node: node.clone() }, Action::HealAll, format!("B{b} is cut off")),
            FaultKind::Split => {
                let mut others: Vec<String> = vec!["controller".into()];
                others.extend((1..=story.brokers).filter(|&o| o != b).map(|o| format!("B{o}")));
                (
                    Action::Partition { groups: vec![vec![node.clone(), "p1".into()], others] },
                    Action::HealAll,
                    format!("the network splits B{b} and p1 from the rest"),
                )
            }
            FaultKind::Pause => {
                (Action::Pause { node: node.clone() }, Action::Resume { node: node.clone() }, format!("B{b} pauses"))
            }
            FaultKind::Slow => (
                Action::Slow { node: node.clone(), extra_latency: Dur(2_000_000) },
                Action::Slow { node: node.clone(), extra_latency: Dur(0) },
                format!("B{b} slows down"),
            ),
            FaultKind::CrashConsumer => (
                Action::CrashConsumer { consumer: consumer.clone() },
                Action::StartConsumer { consumer: consumer.clone() },
                format!("{consumer} crashes"),
            ),
        };
        timeline.push(Step { at: ms(e.start_ms), action: Some(fault), say: Some(text(what)) });
        timeline.push(Step { at: ms(e.start_ms + e.length_ms), action: Some(repair), say: None });
    }
    // The liveness phase: everything is repaired and restarted.
    timeline.push(Step {
        at: ms(SAFETY_PHASE_END_MS),
        action: Some(Action::HealAll),
        say: Some(text("all faults repaired".into())),
    });
    for b in 1..=story.brokers {
        timeline.push(Step { at: ms(SAFETY_PHASE_END_MS), action: Some(Action::Restart { broker: b }), say: None });
        timeline.push(Step {
            at: ms(SAFETY_PHASE_END_MS),
            action: Some(Action::Resume { node: format!("B{b}") }),
            say: None,
        });
    }
    for c in &consumers {
        timeline.push(Step {
            at: ms(SAFETY_PHASE_END_MS),
            action: Some(Action::StartConsumer { consumer: c.name.clone() }),
            say: None,
        });
    }
    timeline.sort_by_key(|s| s.at.0);
    ScenarioFile {
        title: title.into(),
        title_ko: None,
        description: format!("A generated failure story in class `{}`.", class.name()),
        description_ko: None,
        seed: story.seed,
        duration: ms(STORY_DURATION_MS),
        cluster: ClusterSpec {
            brokers: story.brokers,
            network: NetworkSpec::default(),
            config: configs(&[
                ("replica.lag.time.max.ms", ConfigValue::Int(5000)),
                ("broker.session.timeout.ms", ConfigValue::Int(4000)),
                ("broker.heartbeat.interval.ms", ConfigValue::Int(1000)),
                ("group.initial.rebalance.delay.ms", ConfigValue::Int(500)),
            ]),
        },
        topics: vec![TopicSpec {
            name: "events".into(),
            partitions: story.partitions,
            replication_factor: story.replication_factor,
            config: configs(&[
                ("min.insync.replicas", ConfigValue::Int(story.min_insync_replicas as i64)),
                ("unclean.leader.election.enable", ConfigValue::Bool(story.unclean)),
            ]),
            assignment: None,
        }],
        producers: vec![ProducerSpec {
            name: "p1".into(),
            config: producer_config,
            workload: vec![WorkloadSpec::Steady {
                topic: "events".into(),
                rate_per_sec: story.rate_per_sec,
                keys: Some(16),
                start: None,
                stop: Some(ms(SAFETY_PHASE_END_MS)),
            }],
        }],
        consumers,
        timeline,
        expect: Vec::new(),
    }
}

/// Runs a story with invariants checked after every event. `Ok(Err(..))` is a guarantee violated (the class's
/// property failed); `Err(..)` means the run itself failed (an invariant, a budget).
pub fn run_story(story: &Story, class: Class) -> Result<Result<(), String>, String> {
    let file = story_to_file(story, class, "story");
    let text = ron::ser::to_string(&file).map_err(|e| e.to_string())?;
    let scenario = Scenario::parse(&text, "story.ron").map_err(|e| e.to_string())?;
    let options = RunOptions { check_invariants: true, retention: TraceRetention::HashOnly, ..RunOptions::default() };
    let mut sim = Simulation::new(scenario, options);
    sim.run().map_err(|e| e.to_string())?;
    if class.promises() {
        check_liveness(&sim).map_err(|e| format!("liveness: {e}"))?;
    }
    Ok(class.check(&sim))
}

/// A random story of a class, from the simulation's own seeded generator.
pub fn random_story(class: Class, rng: &mut ChaCha8Rng) -> Story {
    let kinds = class.fault_kinds();
    let episodes = (0..1 + rng.next_u32() % 4)
        .map(|_| Episode {
            start_ms: 1_000 + rng.next_u32() % 20_000,
            length_ms: 1_000 + rng.next_u32() % 10_000,
            kind: kinds[(rng.next_u32() as usize) % kinds.len()],
            target: rng.next_u32() % 8,
        })
        .collect();
    let mut story = Story {
        seed: rng.next_u64() % 1_000_000,
        brokers: 3 + rng.next_u32() % 2,
        partitions: 1 + rng.next_u32() % 2,
        replication_factor: 3,
        min_insync_replicas: 2,
        acks: "all".into(),
        unclean: false,
        idempotence: false,
        rate_per_sec: 20 + rng.next_u32() % 80,
        commit: None,
        episodes,
    };
    class.shape(&mut story);
    story
}

/// Greedy shrinking: drop episodes, shorten them, lower the rate, while the story still fails the same way.
pub fn shrink(mut story: Story, class: Class) -> Story {
    let fails = |s: &Story| matches!(run_story(s, class), Ok(Err(_)));
    let mut improved = true;
    while improved {
        improved = false;
        for i in 0..story.episodes.len() {
            let mut candidate = story.clone();
            candidate.episodes.remove(i);
            if fails(&candidate) {
                story = candidate;
                improved = true;
                break;
            }
        }
        if !improved && story.rate_per_sec > 10 {
            let mut candidate = story.clone();
            candidate.rate_per_sec /= 2;
            if fails(&candidate) {
                story = candidate;
                improved = true;
            }
        }
    }
    story
}

/// Searches `tries` random stories of a class for one that breaks its property; returns it shrunk.
pub fn explore(class: Class, seed: u64, tries: u64, mut progress: impl FnMut(u64)) -> Option<(Story, String)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for i in 0..tries {
        progress(i);
        let story = random_story(class, &mut rng);
        match run_story(&story, class) {
            Ok(Err(_)) | Err(_) => {
                let small = shrink(story, class);
                let why = match run_story(&small, class) {
                    Ok(Err(why)) => why,
                    Err(why) => why,
                    Ok(Ok(())) => "flaky".into(),
                };
                return Some((small, why));
            }
            Ok(Ok(())) => {}
        }
    }
    None
}

/// A counterexample as RON text, narrated with what went wrong.
pub fn counterexample_ron(story: &Story, class: Class, why: &str) -> String {
    let mut file = story_to_file(story, class, &format!("Counterexample for class {}: {why}", class.name()));
    file.description = format!(
        "Found by exploring class `{}`: {why}. Replay it with `kafkascope run` and watch the faults in the trace.",
        class.name()
    );
    let pretty = ron::ser::PrettyConfig::default().struct_names(true);
    ron::ser::to_string_pretty(&file, pretty).unwrap_or_default()
}
