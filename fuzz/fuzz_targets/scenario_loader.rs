//! Fuzz target for the scenario loader: any input must load or fail with a located error, never panic.
#![no_main]

use kafkascope_sim::Scenario;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(error) = Scenario::parse(&text, "fuzz.ron") {
        assert!(error.line >= 1, "an error without a line: {error}");
        assert!(!error.message.is_empty());
    }
});
