//! The `kafkascope` command line: runs scenarios headless and prints what happened, for study groups and CI.

use anyhow::Context;
use clap::{Parser, Subcommand};
use kafkascope_sim::explain::explain;
use kafkascope_sim::report::Report;
use kafkascope_sim::scenario::Scenario;
use kafkascope_sim::time::parse_duration;
use kafkascope_sim::trace::{TraceKind, TraceRetention};
use kafkascope_sim::{RunOptions, Simulation};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "kafkascope", version, about = "Deterministic Apache Kafka cluster simulator")]
struct Cli {
    #[command(subcommand)]
    command: Commands,
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

/// Every `.ron` file under `dir`, sorted by path.
fn scenario_files(dir: &Path) -> Vec<PathBuf> {
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

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        Commands::List { dir } => {
            for path in scenario_files(&dir) {
                let name = path.strip_prefix(&dir).unwrap_or(&path).with_extension("");
                match Scenario::load(&path) {
                    Ok(s) => writeln!(out, "{:<48} {}", name.display(), s.title)?,
                    Err(e) => writeln!(out, "{:<48} (does not load: {})", name.display(), e.message)?,
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Commands::Run { scenario, seed, until, json, events, traffic, no_logs, max_events, check, dir } => {
            let file = resolve(&scenario, &dir);
            let scenario = match Scenario::load(&file) {
                Ok(scenario) => scenario,
                Err(error) => {
                    eprintln!("{error}");
                    return Ok(ExitCode::from(2));
                }
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
            let result = match until {
                Some(t) => sim.run_until(t),
                None => sim.run(),
            };
            if events {
                for event in sim.trace.events() {
                    if traffic || !matches!(event.kind, TraceKind::Delivered { .. }) {
                        writeln!(out, "{}", explain(event, &sim.topo))?;
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
                write!(out, "{}", report.render_text())?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
