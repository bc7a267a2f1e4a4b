//! Measures what scrubbing costs on a 10-minute run: the horizon's full run with checkpoints, then seeks to
//! seeded pseudo-random times, backwards and forwards (issue 6 asks for any point in under 100 ms).
//! `cargo bench -p kafkascope-viz-model --bench seek [-- --quick]`.

use kafkascope_sim::time::{format_time, US_PER_SEC};
use kafkascope_viz_model::catalog;
use kafkascope_viz_model::run::{RunSetup, SimRun};
use std::time::Instant;

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let spec = if quick { "3x10x3" } else { "6x30x3" };
    let source = catalog::generated(spec).expect("valid spec");
    let setup = RunSetup { name: format!("generated:{spec}"), source, seed: 1, overrides: Vec::new() };
    let mut run = SimRun::new(setup).expect("loads");
    let started = Instant::now();
    let outcome = run.finish_horizon().clone();
    let horizon = started.elapsed();
    println!(
        "generated:{spec}, {} simulated: horizon {} events in {:.2} s ({:.2} M events/s); {} checkpoints, ~{} MB",
        format_time(run.duration()),
        outcome.events,
        horizon.as_secs_f64(),
        outcome.events as f64 / horizon.as_secs_f64() / 1e6,
        run.checkpoint_count(),
        run.checkpoint_bytes() >> 20
    );
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut times = Vec::new();
    for _ in 0..if quick { 10 } else { 40 } {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        times.push(state % run.duration());
    }
    let mut worst = 0.0f64;
    let mut total = 0.0;
    for &t in &times {
        let started = Instant::now();
        run.seek(t).expect("seek");
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        worst = worst.max(ms);
        total += ms;
    }
    println!(
        "{} seeks to pseudo-random times: mean {:.1} ms, worst {:.1} ms (target < 100 ms); seek to the end then to {}: ",
        times.len(),
        total / times.len() as f64,
        worst,
        format_time(US_PER_SEC)
    );
    run.seek(run.duration()).expect("seek");
    let started = Instant::now();
    run.seek(US_PER_SEC).expect("seek");
    println!("  back to 1 s from the end: {:.1} ms", started.elapsed().as_secs_f64() * 1000.0);
}
