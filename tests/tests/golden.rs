//! Golden traces: every bundled scenario's trace hash and summary, compared with `tests/golden/traces.json`.
//!
//! A change to the model that moves a golden trace must be deliberate and visible in the diff: regenerate with
//! `UPDATE_EXPECT=1 cargo test -p kafkascope-tests --test golden` and review the changes to the JSON file.

use kafkascope_sim::trace::TraceRetention;
use kafkascope_sim::{RunOptions, Scenario, Simulation};
use kafkascope_tests::{all_scenarios, scenarios_dir};
use std::collections::BTreeMap;

fn golden_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/traces.json")
}

/// What a run is summed up by: its trace hash, its event count and the checker's main numbers.
fn summary(path: &std::path::Path) -> serde_json::Value {
    let scenario = Scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
    let options = RunOptions { retention: TraceRetention::HashOnly, ..RunOptions::default() };
    let mut sim = Simulation::new(scenario, options);
    sim.run().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let verdict = sim.verdict();
    serde_json::json!({
        "trace_hash": sim.trace.hash_hex(),
        "events": sim.events(),
        "acked": verdict.acked,
        "acked_lost": verdict.acked_lost.len(),
        "duplicates": verdict.duplicates.len(),
        "processed": sim.processed.len(),
    })
}

#[test]
fn golden_traces_match() {
    let mut actual = BTreeMap::new();
    for path in all_scenarios() {
        let name = path.strip_prefix(scenarios_dir()).unwrap_or(&path).display().to_string();
        actual.insert(name, summary(&path));
    }
    let text = serde_json::to_string_pretty(&actual).expect("serializable") + "\n";
    if std::env::var("UPDATE_EXPECT").is_ok() {
        std::fs::write(golden_path(), &text).expect("tests/golden is writable");
        return;
    }
    let expected: BTreeMap<String, serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(golden_path()).expect("tests/golden/traces.json exists (UPDATE_EXPECT=1 writes it)"),
    )
    .expect("valid JSON");
    let mut differences = Vec::new();
    for (name, value) in &actual {
        match expected.get(name) {
            None => differences.push(format!("{name}: new scenario without a golden trace")),
            Some(golden) if golden != value => {
                differences.push(format!("{name}:\n  golden {golden}\n  actual {value}"))
            }
            Some(_) => {}
        }
    }
    for name in expected.keys().filter(|n| !actual.contains_key(*n)) {
        differences.push(format!("{name}: golden trace for a scenario that no longer exists"));
    }
    assert!(
        differences.is_empty(),
        "golden traces moved (rerun with UPDATE_EXPECT=1 if the change is deliberate):\n{}",
        differences.join("\n")
    );
}
