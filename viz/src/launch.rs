//! How the visualizer starts: which scenario, seed, overrides, time and language; from the command line on the
//! desktop and from the page's URL on the web. Also the generated scenario used to measure the frame budget.

use crate::Runs;
use kafkascope_sim::scenario::{Lang, Scenario};
use kafkascope_sim::time::Micros;
use kafkascope_viz_model::catalog;
use kafkascope_viz_model::run::{Intervention, RunSetup, SimRun};
use kafkascope_viz_model::url::LinkState;

/// The name of the generated scenario for the frame-budget measurement: `generated:BROKERSxPARTITIONSxRF`.
pub const GENERATED_PREFIX: &str = "generated:";

#[derive(Clone, Debug, PartialEq)]
pub struct LaunchOptions {
    /// A built-in scenario's name, a path to a `.ron` file (desktop), or `generated:12x100x3`.
    pub scenario: String,
    pub seed: Option<u64>,
    pub set: Vec<String>,
    pub compare: Vec<String>,
    /// Seek here at start.
    pub at: Option<Micros>,
    pub lang: Lang,
    pub autoplay: bool,
    /// Interventions to replay (from a shared link).
    pub interventions: Vec<Intervention>,
}

impl Default for LaunchOptions {
    fn default() -> Self {
        LaunchOptions {
            scenario: catalog::DEFAULT_SCENARIO.to_string(),
            seed: None,
            set: Vec::new(),
            compare: Vec::new(),
            at: None,
            lang: Lang::En,
            autoplay: false,
            interventions: Vec::new(),
        }
    }
}

impl LaunchOptions {
    /// Options for one scenario, everything else default (tests).
    pub fn scenario(name: &str) -> Self {
        LaunchOptions { scenario: name.to_string(), ..LaunchOptions::default() }
    }

    /// Options from a shared link's query string.
    pub fn from_link(query: &str) -> Result<Self, String> {
        let link = LinkState::parse(query)?;
        let mut options = LaunchOptions::default();
        if let Some(scenario) = link.scenario {
            options.scenario = scenario;
        }
        options.seed = link.seed;
        options.set = link.set;
        options.compare = link.compare;
        options.at = link.time;
        options.lang = link.lang.unwrap_or(Lang::En);
        options.interventions = link.interventions;
        Ok(options)
    }

    /// The scenario's text: built in, generated, or (desktop) read from a file.
    pub fn source(&self) -> Result<String, String> {
        if let Some(spec) = self.scenario.strip_prefix(GENERATED_PREFIX) {
            return catalog::generated(spec);
        }
        if let Some(text) = catalog::embedded(&self.scenario) {
            return Ok(text.to_string());
        }
        #[cfg(not(target_arch = "wasm32"))]
        if std::path::Path::new(&self.scenario).is_file() {
            return std::fs::read_to_string(&self.scenario).map_err(|e| format!("{}: {e}", self.scenario));
        }
        Err(format!(
            "no scenario `{}`: use a built-in name such as `{}` (see the scenario picker){}",
            self.scenario,
            catalog::DEFAULT_SCENARIO,
            if cfg!(target_arch = "wasm32") { "" } else { " or a path to a .ron file" }
        ))
    }

    /// The runs to start with. On a bad scenario, falls back to the default one and returns the error to show.
    pub fn start_runs(&self) -> (Runs, Option<String>) {
        let attempt = self.source().and_then(|source| {
            let seed = match self.seed {
                Some(seed) => seed,
                None => Scenario::parse(&source, &self.scenario).map_err(|e| e.to_string())?.seed,
            };
            let setup = RunSetup { name: self.scenario.clone(), source, seed, overrides: self.set.clone() };
            let mut runs = Self::make_runs(setup, self.compare.clone())?;
            runs.a.replay_interventions(self.interventions.clone())?;
            if let Some(b) = runs.b.as_mut() {
                b.replay_interventions(self.interventions.clone())?;
            }
            Ok(runs)
        });
        match attempt {
            Ok(runs) => (runs, None),
            Err(error) => {
                let fallback = LaunchOptions::default();
                let source = fallback.source().expect("the default scenario is embedded");
                let seed = Scenario::parse(&source, &fallback.scenario).expect("built-in scenarios are valid").seed;
                let setup = RunSetup { name: fallback.scenario, source, seed, overrides: Vec::new() };
                (Self::make_runs(setup, Vec::new()).expect("the default scenario runs"), Some(error))
            }
        }
    }

    /// A run, and in compare mode a second one of the same scenario and seed with `compare` overrides on top.
    pub fn make_runs(setup: RunSetup, compare: Vec<String>) -> Result<Runs, String> {
        let a = SimRun::new(setup.clone())?;
        let b = if compare.is_empty() {
            None
        } else {
            let mut overrides = setup.overrides.clone();
            overrides.extend(compare.iter().cloned());
            Some(SimRun::new(RunSetup { overrides, ..setup })?)
        };
        Ok(Runs { a, b, compare, error: None })
    }

    /// The link to the current state of the runs.
    pub fn link_of(runs: &Runs, time: Micros, lang: Lang) -> LinkState {
        LinkState {
            scenario: Some(runs.a.setup.name.clone()),
            seed: Some(runs.a.setup.seed),
            time: Some(time),
            set: runs.a.setup.overrides.clone(),
            compare: runs.compare.clone(),
            lang: Some(lang),
            interventions: runs.a.interventions().to_vec(),
        }
    }
}
