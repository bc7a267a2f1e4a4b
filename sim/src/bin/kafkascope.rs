//! The `kafkascope` command line: runs scenarios headless and prints what happened, for study groups and CI.

use anyhow::Context;
use clap::{Parser, Subcommand};
use kafkascope_sim::expect::check_expectations;
use kafkascope_sim::explain::explain;
use kafkascope_sim::report::Report;
use kafkascope_sim::scenario::{scenario_files, Action, Lang, Scenario};
use kafkascope_sim::time::parse_duration;
use kafkascope_sim::trace::{TraceKind, TraceRetention};
use kafkascope_sim::{RunOptions, Simulation};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "kafkascope", version, about = "Deterministic Apache Kafka cluster simulator")]
struct Cli {
    /// Language of human-readable output: ko or en (default: from LANG).
    #[arg(long, global = true, value_parser = parse_lang)]
    lang: Option<Lang>,
    /// Without a command, the first curriculum lesson runs, narrated (the visualizer opens on the same lesson).
    #[command(subcommand)]
    command: Option<Commands>,
}

fn parse_lang(text: &str) -> Result<Lang, String> {
    match text {
        "ko" => Ok(Lang::Ko),
        "en" => Ok(Lang::En),
        other => Err(format!("unknown language `{other}`: use ko or en")),
    }
}

/// `--lang`, else the locale (`LANG=ko_KR.UTF-8` means Korean), else English.
fn language(cli: Option<Lang>) -> Lang {
    cli.unwrap_or_else(|| {
        let locale = std::env::var("LC_ALL").or_else(|_| std::env::var("LANG")).unwrap_or_default();
        if locale.starts_with("ko") {
            Lang::Ko
        } else {
            Lang::En
        }
    })
}

#[derive(Subcommand)]
enum Commands {
    /// Run a scenario and print the final state, the producers' results and the checker's verdict.
    Run {
        /// A scenario file (RON), or the name of a bundled scenario (see `kafkascope list`).
        scenario: String,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Stop at this simulated time instead of the scenario's end (e.g. 30s, 250ms).
        #[arg(long)]
        until: Option<String>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Print what happened, event by event (appends, high watermarks, faults, elections, ISR changes, errors).
        #[arg(long)]
        events: bool,
        /// With --events, also print every message delivery.
        #[arg(long)]
        traffic: bool,
        /// Leave each replica's records out of the JSON output.
        #[arg(long)]
        no_logs: bool,
        /// Stop with an error after this many events.
        #[arg(long)]
        max_events: Option<u64>,
        /// Check invariants after every event (always on in debug builds).
        #[arg(long)]
        check: bool,
        /// Where bundled scenarios are looked up by name.
        #[arg(long, default_value = "scenarios")]
        dir: PathBuf,
    },
    /// List the bundled scenarios with their titles.
    List {
        #[arg(long, default_value = "scenarios")]
        dir: PathBuf,
    },
    /// Check scenarios' expectations (all bundled scenarios by default); exits non-zero on any failure.
    Check {
        /// Scenario files, names or folders (every scenario under them); none means every scenario under --dir.
        scenarios: Vec<String>,
        #[arg(long, default_value = "scenarios")]
        dir: PathBuf,
    },
    /// Print `kafka-topics --describe` and `kafka-consumer-groups --describe` as of a moment of the run.
    Describe {
        scenario: String,
        /// The moment, e.g. 30s (default: the end).
        #[arg(long)]
        at: Option<String>,
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long, default_value = "scenarios")]
        dir: PathBuf,
    },
    /// Print what `kafka-console-consumer` would have printed for a topic at the end of the run.
    ConsoleConsumer {
        scenario: String,
        #[arg(long)]
        topic: String,
        /// Start from this group's committed offsets (as `--group` does).
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        from_beginning: bool,
        /// Formatter properties, as in Kafka: print.key=true, print.timestamp=true, print.partition=true,
        /// print.offset=true, key.separator=...
        #[arg(long = "property")]
        properties: Vec<String>,
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long, default_value = "scenarios")]
        dir: PathBuf,
    },
    /// Export the run: every trace event as JSON lines, or the producers' and consumers' history as Jepsen EDN.
    Trace {
        scenario: String,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: TraceFormat,
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long, default_value = "scenarios")]
        dir: PathBuf,
    },
    /// Run many seeds (in parallel across cores) and report how often records were lost or duplicated.
    Sweep {
        scenario: String,
        /// A range of seeds, e.g. 1..1000 (end exclusive).
        #[arg(long, default_value = "1..101")]
        seeds: String,
        /// Override a config everywhere it applies, e.g. --set acks=1 --set min.insync.replicas=1.
        #[arg(long = "set")]
        overrides: Vec<String>,
        #[arg(long, default_value = "scenarios")]
        dir: PathBuf,
    },
    /// Search random failure stories of a configuration class for a broken guarantee; write the shrunk
    /// counterexample as a scenario that `run` and the viz replay.
    Explore {
        /// safe, idempotent, at-least-once, unsafe-acks1, unsafe-acks0, unsafe-unclean, unsafe-min-isr1 or
        /// unsafe-commit-before.
        #[arg(long)]
        class: String,
        #[arg(long, default_value = "found.ron")]
        out: PathBuf,
        #[arg(long, default_value_t = 1000)]
        tries: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum TraceFormat {
    Jsonl,
    Jepsen,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            // A closed pipe (`kafkascope ... | head`) is not an error worth reporting.
            if error.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// A path as given, or a bundled scenario by name (`zombie-leader` or `core/zombie-leader.ron`).
fn resolve(scenario: &str, dir: &Path) -> PathBuf {
    let path = PathBuf::from(scenario);
    if path.exists() {
        return path;
    }
    let wanted = scenario.trim_end_matches(".ron");
    scenario_files(dir)
        .into_iter()
        .find(|p| {
            let relative = p.strip_prefix(dir).unwrap_or(p).with_extension("");
            relative.to_string_lossy() == wanted || p.file_stem().is_some_and(|s| s.to_string_lossy() == wanted)
        })
        .unwrap_or(path)
}

/// Loads a scenario by path or name, printing a located error (exit code 2) when it does not load.
fn load(scenario: &str, dir: &Path) -> Result<Scenario, ExitCode> {
    Scenario::load(&resolve(scenario, dir)).map_err(|error| {
        eprintln!("{error}");
        ExitCode::from(2)
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let lang = language(cli.lang);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let command = cli.command.unwrap_or(Commands::Run {
        scenario: "curriculum/01-pubsub-vs-queue".into(),
        seed: None,
        until: None,
        json: false,
        events: false,
        traffic: false,
        no_logs: false,
        max_events: None,
        check: false,
        dir: PathBuf::from("scenarios"),
    });
    match command {
        Commands::List { dir } => {
            for path in scenario_files(&dir) {
                let name = path.strip_prefix(&dir).unwrap_or(&path).with_extension("");
                match Scenario::load(&path) {
                    Ok(s) => writeln!(out, "{:<48} {}", name.display(), s.title.get(lang))?,
                    Err(e) => writeln!(out, "{:<48} (does not load: {})", name.display(), e.message)?,
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Commands::Run { scenario, seed, until, json, events, traffic, no_logs, max_events, check, dir } => {
            let scenario = match load(&scenario, &dir) {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            let mut options = RunOptions { seed, ..RunOptions::default() };
            options.retention = if events { TraceRetention::Full } else { TraceRetention::HashOnly };
            if let Some(max) = max_events {
                options.max_events = max;
            }
            options.check_invariants |= check;
            let until =
                until.map(|text| parse_duration(&text).map_err(anyhow::Error::msg)).transpose().context("--until")?;
            let mut sim = Simulation::new(scenario, options);
            let end = until.unwrap_or(sim.duration()).min(sim.duration());
            // Narration and predictions are printed as the run reaches them (not with --json).
            let mut result = Ok(());
            if !json {
                let steps = sim.scenario.timeline.clone();
                for step in steps.iter().filter(|s| s.at.0 <= end) {
                    if step.say.is_none() && !matches!(step.action, Some(Action::Predict { .. })) {
                        continue;
                    }
                    result = sim.run_until(step.at.0);
                    if result.is_err() {
                        break;
                    }
                    narrate(&mut out, step, lang)?;
                }
            }
            if result.is_ok() {
                result = sim.run_until(end);
            }
            if events {
                for event in sim.trace.events() {
                    if traffic || !matches!(event.kind, TraceKind::Delivered { .. }) {
                        writeln!(out, "{}", explain_in(event, &sim.topo, lang))?;
                    }
                }
                writeln!(out)?;
            }
            if let Err(error) = result {
                eprintln!("error: {error}");
                return Ok(ExitCode::from(3));
            }
            let report = Report::build(&sim, !no_logs);
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
            } else {
                write!(out, "{}", report.render_text_in(lang))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Commands::Check { scenarios, dir } => {
            let files: Vec<PathBuf> = if scenarios.is_empty() {
                scenario_files(&dir)
            } else {
                scenarios
                    .iter()
                    .flat_map(|s| {
                        let path = resolve(s, &dir);
                        // A folder, given as a path or by its name under --dir (`check producer`).
                        let folder = [path.clone(), dir.join(s)].into_iter().find(|p| p.is_dir());
                        folder.map_or_else(|| vec![path], |folder| scenario_files(&folder))
                    })
                    .collect()
            };
            let mut failed = 0;
            let mut checked = 0;
            for file in files {
                let scenario = match Scenario::load(&file) {
                    Ok(s) => s,
                    Err(error) => {
                        writeln!(out, "FAIL {}\n  {error}", file.display())?;
                        failed += 1;
                        continue;
                    }
                };
                let options = RunOptions { retention: TraceRetention::Full, ..RunOptions::default() };
                let mut sim = Simulation::new(scenario, options);
                match check_expectations(&mut sim) {
                    Ok(outcomes) => {
                        let bad = outcomes.iter().filter(|o| !o.passed).count();
                        checked += 1;
                        writeln!(
                            out,
                            "{} {} ({} expectations)",
                            if bad == 0 { "ok  " } else { "FAIL" },
                            file.display(),
                            outcomes.len()
                        )?;
                        for outcome in outcomes.iter().filter(|o| !o.passed) {
                            writeln!(out, "  {}", outcome.line())?;
                        }
                        if bad > 0 {
                            failed += 1;
                        }
                    }
                    Err(error) => {
                        writeln!(out, "FAIL {}\n  {error}", file.display())?;
                        failed += 1;
                    }
                }
            }
            writeln!(out, "\n{} passed, {} failed", checked - failed.min(checked), failed)?;
            Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Commands::Describe { scenario, at, seed, dir } => {
            let scenario = match load(&scenario, &dir) {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            let mut sim = Simulation::new(scenario, RunOptions { seed, ..RunOptions::default() });
            let at = at.map(|t| parse_duration(&t).map_err(anyhow::Error::msg)).transpose().context("--at")?;
            if let Err(error) = sim.run_until(at.unwrap_or(sim.duration())) {
                eprintln!("error: {error}");
                return Ok(ExitCode::from(3));
            }
            write!(out, "{}", Report::build(&sim, false).render_describe())?;
            Ok(ExitCode::SUCCESS)
        }
        Commands::ConsoleConsumer { scenario, topic, group, from_beginning, properties, seed, dir } => {
            let scenario = match load(&scenario, &dir) {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            let mut sim = Simulation::new(scenario, RunOptions { seed, ..RunOptions::default() });
            if let Err(error) = sim.run() {
                eprintln!("error: {error}");
                return Ok(ExitCode::from(3));
            }
            let Some(t) = sim.scenario.topic_index(&topic) else {
                eprintln!("error: unknown topic `{topic}`");
                return Ok(ExitCode::from(2));
            };
            let group = match group {
                Some(name) => match sim.topo.groups.iter().position(|g| *g == name) {
                    Some(g) => Some(g as u32),
                    None => {
                        eprintln!("error: no group `{name}` in this scenario");
                        return Ok(ExitCode::from(2));
                    }
                },
                None => None,
            };
            let lines = console_consumer(&sim, t, group, from_beginning, &properties)?;
            for line in &lines {
                writeln!(out, "{line}")?;
            }
            eprintln!("Processed a total of {} messages", lines.len());
            Ok(ExitCode::SUCCESS)
        }
        Commands::Trace { scenario, format, seed, dir } => {
            let scenario = match load(&scenario, &dir) {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            let options = RunOptions { seed, retention: TraceRetention::Full, ..RunOptions::default() };
            let mut sim = Simulation::new(scenario, options);
            if let Err(error) = sim.run() {
                eprintln!("error: {error}");
                return Ok(ExitCode::from(3));
            }
            match format {
                TraceFormat::Jsonl => {
                    for event in sim.trace.events() {
                        let line = serde_json::json!({
                            "time_us": event.time,
                            "key": event.kind.key(),
                            "nodes": event.kind.nodes().iter().map(|n| sim.topo.node_name(*n)).collect::<Vec<_>>(),
                            "kind": &event.kind,
                            "text": explain_in(event, &sim.topo, lang).trim_start(),
                        });
                        writeln!(out, "{line}")?;
                    }
                }
                TraceFormat::Jepsen => {
                    for line in jepsen_history(&sim) {
                        writeln!(out, "{line}")?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Commands::Explore { class, out: path, tries, seed } => {
            let Some(class) = kafkascope_sim::explore::Class::parse(&class) else {
                let names: Vec<&str> = kafkascope_sim::explore::Class::ALL.iter().map(|c| c.name()).collect();
                eprintln!("error: unknown class `{class}`; classes are: {}", names.join(", "));
                return Ok(ExitCode::from(2));
            };
            let bar = indicatif::ProgressBar::new(tries);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} stories · {elapsed}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let found = kafkascope_sim::explore::explore(class, seed, tries, |i| bar.set_position(i));
            bar.finish_and_clear();
            match found {
                Some((story, why)) => {
                    let text = kafkascope_sim::explore::counterexample_ron(&story, class, &why);
                    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
                    writeln!(
                        out,
                        "class {}: {why}\nshrunk to {} fault episode(s); written to {}\nreplay: kafkascope run {} --events",
                        class.name(),
                        story.episodes.len(),
                        path.display(),
                        path.display()
                    )?;
                    Ok(if class.promises() { ExitCode::from(1) } else { ExitCode::SUCCESS })
                }
                None => {
                    writeln!(out, "class {}: no violation in {tries} stories", class.name())?;
                    Ok(if class.promises() { ExitCode::SUCCESS } else { ExitCode::from(1) })
                }
            }
        }
        Commands::Sweep { scenario, seeds, overrides, dir } => {
            let file = resolve(&scenario, &dir);
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let text = match kafkascope_sim::scenario::apply_overrides(&text, &file.display().to_string(), &overrides) {
                Ok(text) => text,
                Err(message) => {
                    eprintln!("{message}");
                    return Ok(ExitCode::from(2));
                }
            };
            let scenario = match Scenario::parse(&text, &file.display().to_string()) {
                Ok(s) => s,
                Err(error) => {
                    eprintln!("{error}");
                    return Ok(ExitCode::from(2));
                }
            };
            let (start, end) = seeds
                .split_once("..")
                .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
                .filter(|(a, b)| a < b)
                .context("--seeds must look like 1..1000")?;
            let summary = sweep(&scenario, start, end);
            writeln!(out, "{summary}")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints a narration line, or asks a prediction question (waiting for Enter on a terminal).
fn narrate(out: &mut impl Write, step: &kafkascope_sim::scenario::Step, lang: Lang) -> anyhow::Result<()> {
    let at = kafkascope_sim::time::format_time(step.at.0);
    if let Some(say) = &step.say {
        writeln!(out, "{at:>10}  » {}", say.get(lang))?;
    }
    if let Some(Action::Predict { question, choices, answer, reveal }) = &step.action {
        writeln!(out, "{at:>10}  ? {}", question.get(lang))?;
        for (i, choice) in choices.iter().enumerate() {
            writeln!(out, "             {}) {}", (b'a' + i as u8) as char, choice.get(lang))?;
        }
        out.flush()?;
        if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
            let prompt = if lang == Lang::Ko {
                "예측한 뒤 Enter를 누르세요"
            } else {
                "Make your prediction, then press Enter"
            };
            writeln!(out, "             ({prompt})")?;
            out.flush()?;
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
        }
        if let Some(index) = answer {
            let label = if lang == Lang::Ko { "정답" } else { "Answer" };
            writeln!(out, "             {label}: {})", (b'a' + *index as u8) as char)?;
        }
        writeln!(out, "             ✓ {}", reveal.get(lang))?;
    }
    Ok(())
}

fn explain_in(event: &kafkascope_sim::trace::TraceEvent, topo: &kafkascope_sim::ctx::Topology, lang: Lang) -> String {
    match lang {
        Lang::En => explain(event, topo),
        Lang::Ko => kafkascope_sim::explain_ko::explain_ko(event, topo),
    }
}

/// `kafka-console-consumer`'s output for a topic: records below each partition's high watermark, partition by
/// partition, formatted by Kafka's `DefaultMessageFormatter` properties.
fn console_consumer(
    sim: &Simulation,
    topic: usize,
    group: Option<u32>,
    from_beginning: bool,
    properties: &[String],
) -> anyhow::Result<Vec<String>> {
    let mut props = std::collections::BTreeMap::new();
    for property in properties {
        let (k, v) = property.split_once('=').with_context(|| format!("--property {property}: expected key=value"))?;
        props.insert(k.to_string(), v.to_string());
    }
    let on = |key: &str| props.get(key).is_some_and(|v| v == "true");
    let separator = props.get("key.separator").cloned().unwrap_or_else(|| "\t".into());
    let committed = group.map(|g| sim.committed_offsets(g)).unwrap_or_default();
    let names: Vec<String> = sim.producers.iter().map(|p| p.name.clone()).collect();
    let mut lines = Vec::new();
    for p in 0..sim.topo.topics[topic].partitions {
        let partition = sim.topo.partition_idx(topic, p);
        let Some(leader) = sim.leader_of(partition) else { continue };
        let Some(replica) = sim.replica(leader, partition) else { continue };
        // Without --from-beginning (and no committed offset) the console consumer starts at the end: it prints
        // only what arrives after it started, which for a finished run is nothing.
        let start = match committed.get(&partition) {
            Some(&offset) => offset,
            None if from_beginning => 0,
            None => replica.high_watermark,
        };
        for offset in start..replica.high_watermark {
            let entry = replica.log.entries()[offset as usize];
            if sim.topo.is_internal(partition) {
                continue;
            }
            let info = sim.history.get(entry.record);
            let mut line = String::new();
            if on("print.timestamp") {
                line.push_str(&format!("CreateTime:{}{separator}", info.created_at / 1000));
            }
            if on("print.partition") {
                line.push_str(&format!("Partition:{p}{separator}"));
            }
            if on("print.offset") {
                line.push_str(&format!("Offset:{offset}{separator}"));
            }
            if on("print.key") {
                line.push_str(&format!(
                    "{}{separator}",
                    sim.history.render_key(info.key).unwrap_or_else(|| "null".into())
                ));
            }
            line.push_str(&sim.history.value(entry.record, &names));
            lines.push(line);
        }
    }
    Ok(lines)
}

/// The history in Jepsen's EDN operation shape: an `:invoke` and a completion per send, an `:ok` per poll.
fn jepsen_history(sim: &Simulation) -> Vec<String> {
    let names: Vec<String> = sim.producers.iter().map(|p| p.name.clone()).collect();
    let mut ops: Vec<(u64, String)> = Vec::new();
    for (id, info, status) in sim.history.statuses() {
        let partition = sim.topo.partition_name(info.partition);
        let value = sim.history.value(id, &names);
        let process = info.producer.0;
        ops.push((
            info.created_at,
            format!(
                "{{:type :invoke, :f :send, :process {process}, :time {}, :value [\"{partition}\" \"{value}\"]}}",
                info.created_at * 1000
            ),
        ));
        match status {
            kafkascope_sim::history::RecordStatus::Acked { offset, at } => ops.push((
                at,
                format!(
                    "{{:type :ok, :f :send, :process {process}, :time {}, :value [\"{partition}\" [{} \"{value}\"]]}}",
                    at * 1000,
                    offset.map(|o| o as i64).unwrap_or(-1)
                ),
            )),
            kafkascope_sim::history::RecordStatus::Failed { error, at } => ops.push((
                at,
                format!(
                    "{{:type :fail, :f :send, :process {process}, :time {}, :value [\"{partition}\" \"{value}\"], :error :{}}}",
                    at * 1000,
                    error.name()
                ),
            )),
            kafkascope_sim::history::RecordStatus::Pending => ops.push((
                sim.now(),
                format!("{{:type :info, :f :send, :process {process}, :time {}, :value [\"{partition}\" \"{value}\"]}}", sim.now() * 1000),
            )),
        }
    }
    let first_consumer_process = sim.producers.len() as u32;
    for processed in &sim.processed {
        let partition = sim.topo.partition_name(processed.partition);
        let value = sim.history.value(processed.record, &names);
        ops.push((
            processed.at,
            format!(
                "{{:type :ok, :f :poll, :process {}, :time {}, :value [[\"{partition}\" {} \"{value}\"]]}}",
                first_consumer_process + processed.consumer,
                processed.at * 1000,
                processed.offset
            ),
        ));
    }
    ops.sort_by_key(|(t, _)| *t);
    ops.into_iter().map(|(_, line)| line).collect()
}

/// One seed's outcome in a sweep.
struct SeedOutcome {
    seed: u64,
    lost: usize,
    duplicated: usize,
    failed: Option<String>,
}

/// Runs every seed in `start..end`, spread over the machine's cores, with a progress bar.
fn sweep(scenario: &Scenario, start: u64, end: u64) -> String {
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min((end - start) as usize);
    let bar = indicatif::ProgressBar::new(end - start);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} seeds · {elapsed} · eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let next = std::sync::atomic::AtomicU64::new(start);
    let mut outcomes: Vec<SeedOutcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let seed = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if seed >= end {
                            break;
                        }
                        let options = RunOptions {
                            seed: Some(seed),
                            retention: TraceRetention::HashOnly,
                            ..RunOptions::default()
                        };
                        let mut sim = Simulation::new(scenario.clone(), options);
                        let failed = sim.run().err().map(|e| e.to_string());
                        let verdict = sim.verdict();
                        mine.push(SeedOutcome {
                            seed,
                            lost: verdict.acked_lost.len(),
                            duplicated: verdict.duplicates.len(),
                            failed,
                        });
                        bar.inc(1);
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    bar.finish_and_clear();
    outcomes.sort_by_key(|o| o.seed);
    let total = outcomes.len();
    let lost: Vec<&SeedOutcome> = outcomes.iter().filter(|o| o.lost > 0).collect();
    let duplicated: Vec<&SeedOutcome> = outcomes.iter().filter(|o| o.duplicated > 0).collect();
    let failed: Vec<&SeedOutcome> = outcomes.iter().filter(|o| o.failed.is_some()).collect();
    let first = |list: &[&SeedOutcome]| list.iter().take(5).map(|o| o.seed.to_string()).collect::<Vec<_>>().join(", ");
    let mut text = format!("{total} seeds ({start}..{end}) on {workers} threads\n");
    text += &format!(
        "  lost acked records in {} seeds ({:.1}%){}\n",
        lost.len(),
        100.0 * lost.len() as f64 / total.max(1) as f64,
        if lost.is_empty() { String::new() } else { format!(", first: {}", first(&lost)) }
    );
    text += &format!(
        "  duplicated records in {} seeds ({:.1}%){}\n",
        duplicated.len(),
        100.0 * duplicated.len() as f64 / total.max(1) as f64,
        if duplicated.is_empty() { String::new() } else { format!(", first: {}", first(&duplicated)) }
    );
    if !failed.is_empty() {
        text += &format!(
            "  runs that stopped with an error: {} (first: seed {}: {})\n",
            failed.len(),
            failed[0].seed,
            failed[0].failed.as_deref().unwrap_or("")
        );
    }
    text
}
