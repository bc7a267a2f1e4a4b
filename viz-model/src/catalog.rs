//! The scenarios built into the visualizer: every file under `scenarios/`, embedded at compile time.

include!(concat!(env!("OUT_DIR"), "/embedded_scenarios.rs"));

/// The scenario the app opens on: the first lesson of the curriculum (the CLI's default too).
pub const DEFAULT_SCENARIO: &str = "curriculum/01-pubsub-vs-queue";

/// The text of a built-in scenario, by name (`core/zombie-leader`), with or without `scenarios/` and `.ron`.
pub fn embedded(name: &str) -> Option<&'static str> {
    let name = name.trim_start_matches("scenarios/").trim_end_matches(".ron");
    EMBEDDED.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
}

/// The names of the built-in scenarios, in order.
pub fn names() -> impl Iterator<Item = &'static str> {
    EMBEDDED.iter().map(|(name, _)| *name)
}
