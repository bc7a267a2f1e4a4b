//! Simulated time: integer microseconds since the start of the run, and the duration strings scenarios use.
//!
//! The simulation never reads a wall clock; time only moves when the engine jumps to the next event.

/// Simulated time or a duration, in microseconds.
pub type Micros = u64;

pub const US_PER_MS: Micros = 1_000;
pub const US_PER_SEC: Micros = 1_000_000;

/// Converts a Kafka `*.ms` config value to microseconds.
pub fn ms(value: u64) -> Micros {
    value.saturating_mul(US_PER_MS)
}

/// Parses `"250ms"`, `"1.5s"`, `"2m"`, `"1500us"` or a bare number of milliseconds into microseconds.
pub fn parse_duration(text: &str) -> Result<Micros, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let not_a_duration = || format!("`{text}` is not a duration: write it like \"250ms\", \"1.5s\" or \"2m\"");
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || fraction.contains('.') || fraction.len() > 6 {
        return Err(not_a_duration());
    }
    let whole: u64 = whole.parse().map_err(|_| not_a_duration())?;
    let scale = match unit.trim() {
        "us" => 1,
        "" | "ms" => US_PER_MS,
        "s" => US_PER_SEC,
        "m" | "min" => 60 * US_PER_SEC,
        other => return Err(format!("unknown duration unit `{other}` in `{text}`: use us, ms, s or m")),
    };
    // The fraction is read as millionths so that "1.5s" and "0.25ms" are exact in integer microseconds.
    let fraction_millionths: u64 =
        if fraction.is_empty() { 0 } else { format!("{fraction:0<6}").parse().map_err(|_| not_a_duration())? };
    let value = whole.checked_mul(scale).ok_or_else(|| format!("duration `{text}` is too large"))?;
    let part = scale * fraction_millionths / 1_000_000;
    if fraction_millionths > 0 && part == 0 {
        return Err(format!("`{text}` is finer than a microsecond"));
    }
    value.checked_add(part).ok_or_else(|| format!("duration `{text}` is too large"))
}

/// Formats microseconds for people: `1.250s`, `12ms`, `800us`.
pub fn format_time(us: Micros) -> String {
    if us >= US_PER_SEC {
        format!("{}.{:03}s", us / US_PER_SEC, (us % US_PER_SEC) / US_PER_MS)
    } else if us >= US_PER_MS && us % US_PER_MS == 0 {
        format!("{}ms", us / US_PER_MS)
    } else if us >= US_PER_MS {
        format!("{}.{:03}ms", us / US_PER_MS, us % US_PER_MS)
    } else {
        format!("{us}us")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_rejects_garbage() {
        assert_eq!(parse_duration("250ms"), Ok(250_000));
        assert_eq!(parse_duration("30s"), Ok(30_000_000));
        assert_eq!(parse_duration("2m"), Ok(120_000_000));
        assert_eq!(parse_duration("7"), Ok(7_000));
        assert_eq!(parse_duration("15us"), Ok(15));
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000));
        assert_eq!(parse_duration("0.25ms"), Ok(250));
        assert!(parse_duration("1.2.3s").is_err());
        assert!(parse_duration(".5s").is_err());
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3h").unwrap_err().contains("unknown duration unit"));
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(format_time(1_250_000), "1.250s");
        assert_eq!(format_time(12_000), "12ms");
        assert_eq!(format_time(800), "800us");
    }
}
