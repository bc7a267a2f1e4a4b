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

/// A steady workload on a big cluster, `BROKERSxPARTITIONSxRF` (e.g. `12x100x3`), for the frame-budget measurement.
pub fn generated(spec: &str) -> Result<String, String> {
    let numbers: Vec<u32> = spec.split('x').map(|n| n.parse::<u32>()).collect::<Result<_, _>>().map_err(|_| {
        format!("generated:{spec}: expected BROKERSxPARTITIONSxREPLICATION_FACTOR, e.g. generated:12x100x3")
    })?;
    let [brokers, partitions, replication] = numbers[..] else {
        return Err(format!("generated:{spec}: expected three numbers, e.g. generated:12x100x3"));
    };
    Ok(format!(
        r#"Scenario(
    title: "Generated: {brokers} brokers, {partitions} partitions, replication factor {replication}",
    title_ko: "생성된 클러스터: 브로커 {brokers}개, 파티션 {partitions}개, 복제 계수 {replication}",
    seed: 1,
    duration: "10m",
    cluster: (brokers: {brokers}),
    topics: [(name: "events", partitions: {partitions}, replication_factor: {replication}, config: {{ "min.insync.replicas": 2 }})],
    producers: [
        (name: "p1", config: {{ "acks": "all", "linger.ms": 5 }}, workload: [Steady(topic: "events", rate_per_sec: 2000, keys: Some(1000))]),
    ],
    timeline: [
        (at: "20s", do: Crash(broker: 1)),
        (at: "40s", do: Restart(broker: 1)),
    ],
)"#
    ))
}

#[cfg(test)]
mod tests {
    /// Every scenario file of this checkout is built in, with its current text (the build script once reused another
    /// checkout's path and embedded nothing).
    #[test]
    fn every_scenario_file_is_embedded_with_its_text() {
        let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR");
        let root = std::path::Path::new(&manifest_dir).join("../scenarios");
        let mut files = Vec::new();
        for group in std::fs::read_dir(&root).expect("scenarios/ exists").flatten() {
            for file in std::fs::read_dir(group.path()).into_iter().flatten().flatten() {
                if file.path().extension().is_some_and(|e| e == "ron") {
                    files.push(file.path());
                }
            }
        }
        assert!(files.len() >= 30, "found {} scenario files", files.len());
        assert_eq!(super::names().count(), files.len());
        for file in files {
            let name = file.strip_prefix(&root).expect("under root").with_extension("");
            let name = name.to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&file).expect("readable");
            assert_eq!(super::embedded(&name), Some(text.as_str()), "{name} is embedded as it is on disk");
        }
    }
}
