//! The `kafkascope` binary as a user runs it: JSON output shape, repeatable trace hashes, and located errors.

use std::process::Command;

fn kafkascope(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kafkascope")).args(args).output().expect("the binary runs")
}

fn scenario(name: &str) -> String {
    format!("{}/../scenarios/core/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn run_json_has_the_documented_shape_and_a_stable_trace_hash() {
    let file = scenario("acks1-leader-crash-loses-acked.ron");
    let out = kafkascope(&["run", &file, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["seed"], 7);
    assert!(json["events"].as_u64().unwrap() > 1000);
    let partition = &json["topics"][0]["partitions"][0];
    assert_eq!(partition["replicas"], serde_json::json!([1, 2, 3]));
    assert!(partition["leader_epoch"].as_u64().unwrap() >= 1);
    let replica = &partition["replica_states"][0];
    for key in ["broker", "log_end_offset", "high_watermark", "log"] {
        assert!(!replica[key].is_null(), "replica_states[].{key}");
    }
    let record = &replica["log"][0];
    for key in ["offset", "epoch", "key", "value"] {
        assert!(!record[key].is_null(), "log[].{key}");
    }
    let producer = &json["producers"][0];
    assert_eq!(producer["id"], "p1");
    assert_eq!(producer["sent"], 2000);
    assert_eq!(producer["acked"], 2000, "acks=1 acknowledged everything, lost or not");
    assert_eq!(producer["failed"], 0);
    assert!(producer["errors"].is_object(), "errors by Kafka's name");
    assert!(json["checker"]["acked_lost"].as_u64().unwrap() > 0);
    assert!(json["checker"]["lost"][0].as_str().unwrap().starts_with("p1-"));

    let again = kafkascope(&["run", &file, "--json"]);
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(json["trace_hash"], again["trace_hash"], "same file + seed = same trace");
    let other_seed = kafkascope(&["run", &file, "--json", "--seed", "99"]);
    let other_seed: serde_json::Value = serde_json::from_slice(&other_seed.stdout).unwrap();
    assert_ne!(json["trace_hash"], other_seed["trace_hash"]);
}

#[test]
fn plain_output_looks_like_kafka_topics_describe() {
    let out = kafkascope(&["run", &scenario("clean-election-stays-offline.ron"), "--until", "35s"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("\tTopic: events\tPartition: 0\tLeader: none\tReplicas: 1,2,3\tIsr: 1"), "{text}");
    assert!(text.contains("[offline]"));
    assert!(text.contains("Checker: "));
}

#[test]
fn bad_scenarios_fail_with_file_line_column_and_a_hint() {
    let dir = std::env::temp_dir().join(format!("kafkascope-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.ron");
    std::fs::write(
        &path,
        "Scenario(\n  title: \"x\",\n  duration: \"5s\",\n  cluster: (brokers: 1),\n  topics: [(name: \"t\", partitions: 1, replication_factor: 3)],\n)\n",
    )
    .unwrap();
    let out = kafkascope(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("bad.ron:5:"), "{stderr}");
    assert!(stderr.contains("Replication factor: 3 larger than available brokers: 1."), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");

    std::fs::write(&path, "Scenario(\n  title: \"x\",\n  duraton: \"5s\",\n)\n").unwrap();
    let out = kafkascope(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("bad.ron:3:"), "{stderr}");
    assert!(stderr.contains("did you mean `duration`?"), "{stderr}");
}

fn run_ok(args: &[&str]) -> String {
    let out = kafkascope(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn list_and_check_cover_the_bundled_scenarios() {
    let dir = format!("{}/../scenarios", env!("CARGO_MANIFEST_DIR"));
    let listed = run_ok(&["list", "--dir", &dir]);
    assert!(listed.contains("curriculum/01-pubsub-vs-queue"), "{listed}");
    let checked = run_ok(&["check", "--dir", &dir, "curriculum/08-min-insync-replicas"]);
    assert!(checked.contains("ok") && checked.contains("1 passed, 0 failed"), "{checked}");
    // A folder, by name under --dir, checks every scenario in it.
    let folder = run_ok(&["check", "--dir", &dir, "producer"]);
    let files = std::fs::read_dir(format!("{dir}/producer")).unwrap().count();
    assert!(files >= 5, "{files}");
    assert!(folder.contains(&format!("{files} passed, 0 failed")), "{folder}");
}

#[test]
fn check_prints_expected_versus_actual_and_fails() {
    let dir = std::env::temp_dir().join(format!("kafkascope-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("wrong.ron");
    std::fs::write(
        &path,
        "Scenario(title: \"x\", duration: \"3s\", cluster: (brokers: 3),\n topics: [(name: \"t\", partitions: 1, replication_factor: 3)],\n expect: [(check: Leader(topic: \"t\", partition: 0, leader: Some(2)))])\n",
    )
    .unwrap();
    let out = kafkascope(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("FAIL at 3.000s: leader of t-0 — expected Some(2), got Some(1)"), "{text}");
}

#[test]
fn describe_console_consumer_trace_and_sweep() {
    let described = run_ok(&["describe", &scenario("clean-election-stays-offline.ron"), "--at", "30s"]);
    assert!(described.starts_with("at 30.000s"));
    assert!(described.contains("Leader: none"), "{described}");

    let partitioners = format!("{}/../scenarios/producer/partitioners.ron", env!("CARGO_MANIFEST_DIR"));
    let printed = run_ok(&[
        "console-consumer",
        &partitioners,
        "--topic",
        "by-key",
        "--from-beginning",
        "--property",
        "print.key=true",
    ]);
    assert!(printed.lines().any(|l| l == "order-1\tshipped"), "{printed}");
    assert_eq!(printed.lines().count(), 6);
    let from_end = run_ok(&["console-consumer", &partitioners, "--topic", "by-key"]);
    assert!(from_end.is_empty(), "without --from-beginning the console consumer starts at the end");

    let jsonl = run_ok(&["trace", &partitioners, "--format", "jsonl"]);
    let first: serde_json::Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert!(first["key"].is_string() && first["time_us"].is_u64());
    let edn = run_ok(&["trace", &partitioners, "--format", "jepsen"]);
    assert!(edn.lines().any(|l| l.starts_with("{:type :ok, :f :send")), "{edn}");

    let swept = run_ok(&["sweep", &scenario("acks1-leader-crash-loses-acked.ron"), "--seeds", "1..5"]);
    assert!(swept.contains("lost acked records in 4 seeds (100.0%)"), "{swept}");
    let safe =
        run_ok(&["sweep", &scenario("acks1-leader-crash-loses-acked.ron"), "--seeds", "1..5", "--set", "acks=all"]);
    assert!(safe.contains("lost acked records in 0 seeds"), "{safe}");
}

#[test]
fn korean_output_for_the_study_group() {
    let text = run_ok(&["run", &scenario("zombie-leader.ron"), "--lang", "ko"]);
    assert!(text.contains("검사 결과"), "{text}");
    let events = run_ok(&["run", &scenario("zombie-leader.ron"), "--lang", "ko", "--events", "--until", "15s"]);
    assert!(events.contains("리더"), "{events}");
}
