//! One run as the visualizer drives it: the simulation shown now, periodic checkpoints so that any moment is
//! reached quickly, the user's interventions (clicks) replayed exactly, forks when acting in the past, and a
//! background "horizon" run to the scenario's end for the timeline markers and the final verdict.
//!
//! Scrubbing back restores the last checkpoint at or before the target and re-simulates forward: the simulation is
//! deterministic, so the state reached is the one that was shown before (tested against straight runs).

use kafkascope_sim::history::Verdict;
use kafkascope_sim::scenario::{apply_overrides, Scenario};
use kafkascope_sim::sim::{Command, RunOptions, SimError, Simulation};
use kafkascope_sim::time::{Micros, US_PER_SEC};
use kafkascope_sim::trace::{TraceEvent, TraceRetention};

/// A checkpoint is taken at least this often in events (a seek then re-simulates at most this many events:
/// about 30 ms at the engine's 3 M events/s, see docs/performance.md).
pub const CHECKPOINT_EVERY_EVENTS: u64 = 100_000;
/// ... and in simulated time, so that short scenarios get checkpoints too.
pub const CHECKPOINT_EVERY_TIME: Micros = 5 * US_PER_SEC;
/// Above this estimated memory, every other old checkpoint is dropped (seeks get slower, memory stays bounded).
pub const CHECKPOINT_MEMORY_BUDGET: usize = if cfg!(target_arch = "wasm32") { 192 << 20 } else { 768 << 20 };
/// At most this many interventions per run (each is replayed on every seek behind it).
pub const MAX_INTERVENTIONS: usize = 10_000;

/// What a run is made of: the scenario text, its seed and the config overrides applied to it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSetup {
    /// A built-in scenario's name (`core/zombie-leader`) or a loaded file's name.
    pub name: String,
    /// The scenario file's text as loaded, before overrides.
    pub source: String,
    pub seed: u64,
    /// `key=value` config overrides, with the CLI's `--set` rules (`scenario::apply_overrides`).
    pub overrides: Vec<String>,
}

/// A saved state on the current timeline.
#[derive(Clone)]
struct Checkpoint {
    events: u64,
    time: Micros,
    /// How many interventions `sim` already includes.
    applied: usize,
    bytes: usize,
    sim: Box<Simulation>,
}

/// A user's command, recorded with the exact point of the run where it was applied.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Intervention {
    /// `sim.events()` when it was applied: replay steps to exactly this many events...
    pub events: u64,
    /// ...then moves the clock to this time (no event is due before it) and applies the command.
    pub time: Micros,
    pub command: Command,
}

/// A moment worth a marker on the timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    pub time: Micros,
    pub kind: MarkerKind,
    /// Index of the event in the horizon's trace (for the feed).
    pub key: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkerKind {
    Fault,
    Election,
    Isr,
    Rebalance,
}

impl MarkerKind {
    /// The kind of marker a trace event gets, if any.
    pub fn of(event: &TraceEvent) -> Option<MarkerKind> {
        let key = event.kind.key();
        if key.starts_with("fault.") {
            Some(MarkerKind::Fault)
        } else if key.starts_with("election.") {
            Some(MarkerKind::Election)
        } else if key == "isr.changed" {
            Some(MarkerKind::Isr)
        } else if key == "group.rebalance_started" {
            Some(MarkerKind::Rebalance)
        } else {
            None
        }
    }
}

/// The end of the run, as computed by the horizon.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Equals `kafkascope run --json`'s `trace_hash` for the same scenario, seed and overrides (no interventions).
    pub trace_hash: String,
    pub events: u64,
    pub verdict: Verdict,
    pub failure: Option<String>,
}

/// The run the viz shows.
pub struct SimRun {
    pub setup: RunSetup,
    sim: Simulation,
    applied: usize,
    checkpoints: Vec<Checkpoint>,
    interventions: Vec<Intervention>,
    /// A clone running ahead to the scenario's end; `None` once finished.
    horizon: Option<Box<Simulation>>,
    markers: Vec<Marker>,
    /// How many of the horizon's trace events the markers cover.
    markers_scanned: usize,
    outcome: Option<Outcome>,
    options: RunOptions,
    /// The furthest time shown on this timeline: showing less is "in the past", where acting forks.
    furthest_shown: Micros,
}

impl SimRun {
    /// Parses the scenario (with overrides) and prepares a run at t = 0. Errors carry the CLI's messages
    /// (`file:line:column: ...` with a hint).
    pub fn new(setup: RunSetup) -> Result<SimRun, String> {
        SimRun::with_options(setup, false)
    }

    /// Like `new`, with invariant checks after every event (tests).
    pub fn with_options(setup: RunSetup, check_invariants: bool) -> Result<SimRun, String> {
        let text = apply_overrides(&setup.source, &setup.name, &setup.overrides)?;
        let scenario = Scenario::parse(&text, &setup.name).map_err(|e| e.to_string())?;
        let options = RunOptions {
            seed: Some(setup.seed),
            retention: TraceRetention::Notable,
            check_invariants,
            ..RunOptions::default()
        };
        let sim = Simulation::new(scenario, options.clone());
        let mut run = SimRun {
            setup,
            applied: 0,
            checkpoints: Vec::new(),
            interventions: Vec::new(),
            horizon: Some(Box::new(sim.clone())),
            markers: Vec::new(),
            markers_scanned: 0,
            outcome: None,
            options,
            sim,
            furthest_shown: 0,
        };
        run.push_checkpoint_of_current();
        Ok(run)
    }

    /// The simulation as shown now.
    pub fn sim(&self) -> &Simulation {
        &self.sim
    }

    pub fn now(&self) -> Micros {
        self.sim.now()
    }

    pub fn duration(&self) -> Micros {
        self.sim.duration()
    }

    pub fn interventions(&self) -> &[Intervention] {
        &self.interventions
    }

    pub fn markers(&self) -> &[Marker] {
        &self.markers
    }

    /// The end of the run, once the horizon has reached it.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    pub fn checkpoint_count(&self) -> usize {
        self.checkpoints.len()
    }

    /// The estimated memory held by checkpoints, in bytes.
    pub fn checkpoint_bytes(&self) -> usize {
        self.checkpoints.iter().map(|c| c.bytes).sum()
    }

    /// How far the horizon has computed (the scenario's end once finished).
    pub fn horizon_time(&self) -> Micros {
        self.horizon.as_ref().map_or(self.duration(), |h| h.now())
    }

    /// Runs forward to `target` (capped at the scenario's end), handling at most `budget` events. Returns whether
    /// the target was reached; if not, `now()` is where it stopped and the caller holds its clock back.
    pub fn advance_to(&mut self, target: Micros, budget: u64) -> Result<bool, SimError> {
        let target = target.min(self.duration());
        let mut spent = 0;
        loop {
            if self.apply_due_intervention(target)? {
                continue;
            }
            match self.sim.next_event_time() {
                Some(next) if next <= target => {
                    if spent >= budget {
                        return Ok(false);
                    }
                    self.sim.step()?;
                    spent += 1;
                    self.maybe_checkpoint_current();
                }
                _ => break,
            }
        }
        self.sim.run_until(target)?;
        self.furthest_shown = self.furthest_shown.max(self.sim.now());
        Ok(true)
    }

    /// Handles the next event (or applies the intervention due before it). Returns false at the scenario's end.
    pub fn step_event(&mut self) -> Result<bool, SimError> {
        if self.apply_due_intervention(Micros::MAX)? {
            return Ok(true);
        }
        let stepped = self.sim.step()?;
        self.maybe_checkpoint_current();
        self.furthest_shown = self.furthest_shown.max(self.sim.now());
        Ok(stepped)
    }

    /// Goes back to the state just before the last event handled (deterministic re-simulation).
    pub fn step_back(&mut self) -> Result<(), SimError> {
        let target = self.sim.events().saturating_sub(1);
        self.restore(|c| c.events <= target);
        while self.sim.events() < target {
            self.step_event()?;
        }
        // Interventions applied at exactly this point belong to it.
        while self.apply_due_intervention(self.sim.now())? {}
        Ok(())
    }

    /// Shows the run at time `target`: forward by simulation, backward by restoring a checkpoint and re-simulating.
    pub fn seek(&mut self, target: Micros) -> Result<(), SimError> {
        let target = target.min(self.duration());
        let best = self.checkpoints.iter().rposition(|c| c.time <= target);
        let current_is_closer =
            self.sim.now() <= target && best.is_none_or(|i| self.checkpoints[i].events <= self.sim.events());
        if !current_is_closer {
            self.restore(|c| c.time <= target);
        }
        self.advance_to(target, u64::MAX)?;
        Ok(())
    }

    /// Applies a user's command now. If the run was shown in the past, the old future is discarded (a fork), as in
    /// RaftScope; the horizon restarts from here.
    pub fn act(&mut self, command: Command) -> Result<(), SimError> {
        if self.interventions.len() >= MAX_INTERVENTIONS {
            return Ok(());
        }
        let (events, now, applied) = (self.sim.events(), self.sim.now(), self.applied);
        self.interventions.truncate(applied);
        self.checkpoints.retain(|c| c.events < events || (c.events == events && c.time <= now && c.applied <= applied));
        self.sim.apply(command.clone())?;
        self.interventions.push(Intervention { events, time: now, command });
        self.applied += 1;
        self.furthest_shown = now;
        self.horizon = Some(Box::new(self.sim.clone()));
        self.outcome = None;
        self.markers.clear();
        self.markers_scanned = 0;
        Ok(())
    }

    /// Replays a recorded story (a shared link's clicks) exactly, from t = 0, through the same mechanism as scrubbing;
    /// the run then stands at the last click. A click that does not fit this run (a hand-edited link) is an error.
    pub fn replay_interventions(&mut self, interventions: Vec<Intervention>) -> Result<(), String> {
        let Some(last) = interventions.last().cloned() else { return Ok(()) };
        if interventions.len() > MAX_INTERVENTIONS || interventions.windows(2).any(|w| w[0].events > w[1].events) {
            return Err("the link's interventions are too many or out of order".into());
        }
        self.restore(|c| c.events == 0);
        self.checkpoints.truncate(1);
        self.interventions = interventions;
        self.advance_to(last.time, u64::MAX).map_err(|e| e.to_string())?;
        if self.applied < self.interventions.len() {
            let stray = &self.interventions[self.applied];
            return Err(format!(
                "the link's intervention #{} (at event {}, {}) does not fit this scenario and seed",
                self.applied + 1,
                stray.events,
                kafkascope_sim::time::format_time(stray.time)
            ));
        }
        self.horizon = Some(Box::new(self.sim.clone()));
        self.outcome = None;
        self.markers.clear();
        self.markers_scanned = 0;
        Ok(())
    }

    /// Whether the shown state is behind what was already shown on this timeline, or before a recorded
    /// intervention: acting now forks (the old future is discarded).
    pub fn is_in_past(&self) -> bool {
        self.applied < self.interventions.len() || self.sim.now() < self.furthest_shown
    }

    /// Runs the horizon for at most `budget` events; returns true once it has reached the end.
    pub fn pump_horizon(&mut self, budget: u64) -> bool {
        let Some(mut horizon) = self.horizon.take() else { return true };
        let mut spent = 0;
        let mut failure = None;
        while spent < budget {
            match horizon.step() {
                Ok(true) => spent += 1,
                Ok(false) => break,
                Err(error) => {
                    failure = Some(error.to_string());
                    break;
                }
            }
            let last = self.checkpoints.last().expect("t = 0 is always kept");
            if horizon.events() >= last.events + CHECKPOINT_EVERY_EVENTS
                || horizon.now() >= last.time + CHECKPOINT_EVERY_TIME
            {
                self.push_checkpoint(horizon.clone(), self.interventions.len());
            }
        }
        let finished = failure.is_some() || horizon.next_event_time().is_none_or(|t| t > horizon.duration());
        let events = horizon.trace.events();
        self.markers.extend(markers_of(&events[self.markers_scanned.min(events.len())..]));
        self.markers_scanned = events.len();
        if !finished {
            self.horizon = Some(horizon);
            return false;
        }
        if failure.is_none() {
            // Moves the clock to the scenario's end, as the CLI's run does.
            let _ = horizon.run();
        }
        self.outcome = Some(Outcome {
            trace_hash: horizon.trace.hash_hex(),
            events: horizon.events(),
            verdict: horizon.verdict(),
            failure,
        });
        true
    }

    /// Runs the horizon to the end at once (tests, screenshots, the web page's ready signal).
    pub fn finish_horizon(&mut self) -> &Outcome {
        while !self.pump_horizon(u64::MAX) {}
        self.outcome.as_ref().expect("finished")
    }

    /// Re-simulates from the last checkpoint at or before `from` up to the shown state with every trace event kept
    /// (the record inspector needs replication and delivery events, which the shown run does not keep). After each
    /// event, `visit` sees the simulation and the trace events that event added.
    pub fn replay_with_full_trace(
        &self,
        from: Micros,
        mut visit: impl FnMut(&Simulation, &[TraceEvent]),
    ) -> Result<Simulation, SimError> {
        let index = self.checkpoints.iter().rposition(|c| c.time <= from).unwrap_or(0);
        let checkpoint = &self.checkpoints[index];
        let mut sim = (*checkpoint.sim).clone();
        sim.trace = kafkascope_sim::trace::Trace::new(TraceRetention::Full);
        let mut applied = checkpoint.applied;
        let (target_events, target_time) = (self.sim.events(), self.sim.now());
        let mut seen = 0;
        loop {
            let due = self.interventions.get(applied).filter(|iv| applied < self.applied && iv.events == sim.events());
            if let Some(iv) = due {
                if sim.now() < iv.time {
                    sim.run_until(iv.time)?;
                }
                sim.apply(iv.command.clone())?;
                applied += 1;
            } else if sim.events() >= target_events || !sim.step()? {
                break;
            }
            let events = sim.trace.events();
            visit(&sim, &events[seen..]);
            seen = events.len();
        }
        if sim.now() < target_time {
            sim.run_until(target_time)?;
        }
        Ok(sim)
    }

    /// Applies the next recorded intervention if the run stands exactly where it was applied.
    fn apply_due_intervention(&mut self, target: Micros) -> Result<bool, SimError> {
        let Some(iv) = self.interventions.get(self.applied) else { return Ok(false) };
        if iv.events != self.sim.events() || iv.time > target {
            return Ok(false);
        }
        // Every event due by `iv.time` had run when the user clicked, so reaching its time only moves the clock; an
        // intervention for which that is not so does not belong to this run and is never applied.
        let clock_only = self.sim.now() == iv.time || self.sim.next_event_time().is_none_or(|next| next > iv.time);
        if !clock_only {
            return Ok(false);
        }
        let iv = iv.clone();
        if self.sim.now() < iv.time {
            self.sim.run_until(iv.time)?;
        }
        self.sim.apply(iv.command)?;
        self.applied += 1;
        Ok(true)
    }

    /// Restores the latest checkpoint that `fits` (t = 0 always fits).
    fn restore(&mut self, fits: impl Fn(&Checkpoint) -> bool) {
        let index = self.checkpoints.iter().rposition(fits).unwrap_or(0);
        let checkpoint = &self.checkpoints[index];
        self.sim = (*checkpoint.sim).clone();
        self.applied = checkpoint.applied;
    }

    fn maybe_checkpoint_current(&mut self) {
        let last = self.checkpoints.last().expect("t = 0 is always kept");
        if self.sim.events() >= last.events + CHECKPOINT_EVERY_EVENTS
            || self.sim.now() >= last.time + CHECKPOINT_EVERY_TIME
        {
            self.push_checkpoint_of_current();
        }
    }

    fn push_checkpoint_of_current(&mut self) {
        self.push_checkpoint(Box::new(self.sim.clone()), self.applied);
    }

    fn push_checkpoint(&mut self, sim: Box<Simulation>, applied: usize) {
        let checkpoint =
            Checkpoint { events: sim.events(), time: sim.now(), applied, bytes: estimated_bytes(&sim), sim };
        let at = self.checkpoints.partition_point(|c| (c.events, c.applied) <= (checkpoint.events, checkpoint.applied));
        if at > 0 && self.checkpoints[at - 1].events == checkpoint.events {
            return;
        }
        self.checkpoints.insert(at, checkpoint);
        while self.checkpoint_bytes() > CHECKPOINT_MEMORY_BUDGET && self.checkpoints.len() > 4 {
            // Thin the older half: keep t = 0, drop every other one after it.
            let half = self.checkpoints.len() / 2;
            let mut index = 0;
            self.checkpoints.retain(|_| {
                index += 1;
                index == 1 || index > half || index % 2 == 1
            });
        }
    }

    /// The options this run was created with.
    pub fn options(&self) -> &RunOptions {
        &self.options
    }
}

/// A rough size of what a checkpoint adds: logs and the delivery history are stored in shared chunks
/// (`kafkascope_sim::chunked`), so a clone costs a pointer per chunk plus the partly filled last chunk it will copy on
/// the next write; the kept trace events and processed records are copied whole.
fn estimated_bytes(sim: &Simulation) -> usize {
    const CHUNK_ENTRIES: usize = 1024;
    let logs: Vec<usize> =
        sim.brokers.iter().flat_map(|b| b.replicas.iter().flatten()).map(|r| r.log.entries().len()).collect();
    let log_bytes: usize = logs.iter().map(|&len| (len / CHUNK_ENTRIES) * 16 + (len % CHUNK_ENTRIES) * 40).sum();
    let records = sim.history.records.len();
    let history_bytes = (records / CHUNK_ENTRIES) * 16 + (records % CHUNK_ENTRIES) * 64;
    64 * 1024 + log_bytes + history_bytes + sim.trace.events().len() * 48 + sim.processed.len() * 40
}

fn markers_of(events: &[TraceEvent]) -> Vec<Marker> {
    events
        .iter()
        .filter_map(|e| MarkerKind::of(e).map(|kind| Marker { time: e.time, kind, key: e.kind.key() }))
        .collect()
}
