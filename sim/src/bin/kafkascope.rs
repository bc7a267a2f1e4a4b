//! The `kafkascope` command line: runs scenarios headless and prints what happened, for study groups and CI.

use anyhow::Context;
use clap::{Parser, Subcommand};
use kafkascope_sim::explain::explain;
use kafkascope_sim::report::Report;
use kafkascope_sim::scenario::Scenario;
use kafkascope_sim::time::parse_duration;
use kafkascope_sim::trace::{TraceKind, TraceRetention};
use kafkascope_sim::{RunOptions, Simulation};
use std::path::PathBuf;
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
        /// The scenario file (RON).
        file: PathBuf,
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
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Commands::Run { file, seed, until, json, events, traffic, no_logs, max_events, check } => {
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
                        println!("{}", explain(event, &sim.topo));
                    }
                }
                println!();
            }
            if let Err(error) = result {
                eprintln!("error: {error}");
                return Ok(ExitCode::from(3));
            }
            let report = Report::build(&sim, !no_logs);
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.render_text());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
