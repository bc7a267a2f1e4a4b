//! Shareable links: the URL query carries the scenario, seed, config overrides, compare overrides, language, time and
//! the user's interventions, so that opening a link reproduces the same run (`?scenario=...&seed=...&t=...`).

use crate::run::Intervention;
use kafkascope_sim::scenario::Lang;
use kafkascope_sim::time::{parse_duration, Micros};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Characters kept as they are in a query value (RFC 3986 unreserved, plus `/` and `:` for readability).
const QUERY_VALUE: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/').remove(b':');

/// The state a link carries.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkState {
    pub scenario: Option<String>,
    pub seed: Option<u64>,
    /// The shown time.
    pub time: Option<Micros>,
    /// `key=value` config overrides for the run.
    pub set: Vec<String>,
    /// `key=value` overrides of the second run in compare mode (compare mode is on when non-empty).
    pub compare: Vec<String>,
    pub lang: Option<Lang>,
    pub interventions: Vec<Intervention>,
}

impl LinkState {
    /// Reads a query string (with or without the leading `?`). Unknown keys are ignored; malformed values are
    /// reported, so a broken link says what is wrong instead of silently showing another run.
    pub fn parse(query: &str) -> Result<LinkState, String> {
        let mut state = LinkState::default();
        for pair in query.trim_start_matches('?').split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode_str(&value.replace('+', " ")).decode_utf8_lossy().into_owned();
            match key {
                "scenario" => state.scenario = Some(value),
                "seed" => state.seed = Some(value.parse().map_err(|_| format!("seed={value}: not a number"))?),
                "t" => state.time = Some(parse_duration(&value).map_err(|e| format!("t={value}: {e}"))?),
                "set" => state.set.push(value),
                "compare" => state.compare.push(value),
                "lang" => {
                    state.lang = Some(match value.as_str() {
                        "ko" => Lang::Ko,
                        "en" => Lang::En,
                        _ => return Err(format!("lang={value}: expected ko or en")),
                    })
                }
                "do" => {
                    let mut parts = value.splitn(3, ',');
                    let (Some(events), Some(time), Some(command)) = (parts.next(), parts.next(), parts.next()) else {
                        return Err(format!("do={value}: expected events,time_us,command"));
                    };
                    state.interventions.push(Intervention {
                        events: events.parse().map_err(|_| format!("do={value}: bad event count"))?,
                        time: time.parse().map_err(|_| format!("do={value}: bad time"))?,
                        command: serde_json::from_str(command).map_err(|e| format!("do={value}: {e}"))?,
                    });
                }
                _ => {}
            }
        }
        Ok(state)
    }

    /// Writes the query string, starting with `?`.
    pub fn to_query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(scenario) = &self.scenario {
            pairs.push(("scenario", scenario.clone()));
        }
        if let Some(seed) = self.seed {
            pairs.push(("seed", seed.to_string()));
        }
        if let Some(time) = self.time {
            pairs.push(("t", format!("{time}us")));
        }
        pairs.extend(self.set.iter().map(|s| ("set", s.clone())));
        pairs.extend(self.compare.iter().map(|s| ("compare", s.clone())));
        if let Some(lang) = self.lang {
            pairs.push(("lang", if lang == Lang::Ko { "ko" } else { "en" }.to_string()));
        }
        for iv in &self.interventions {
            let command = serde_json::to_string(&iv.command).expect("commands serialize");
            pairs.push(("do", format!("{},{},{command}", iv.events, iv.time)));
        }
        let body: Vec<String> =
            pairs.iter().map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, QUERY_VALUE))).collect();
        format!("?{}", body.join("&"))
    }
}
