//! The one error type of this crate: where something is wrong, and what.
//!
//! A scenario author has to find the mistake, so every error names a *place*
//! (`traces/day1.log:17` for a line of a trace, `traffic[2].rate.ramp.end`
//! for a configuration value) and a *problem* phrased for a person
//! (`field `t_ms` must be a number`). The harness prefixes the scenario file.

use std::fmt;

/// Something in a traffic source is wrong: `{place}: {problem}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrafficError {
    /// File and line (`traces/day1.log:17`) or field path (`traffic[2].rate`).
    pub place: String,
    /// What is wrong there.
    pub problem: String,
}

impl TrafficError {
    pub fn new(place: impl Into<String>, problem: impl Into<String>) -> Self {
        TrafficError {
            place: place.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for TrafficError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.place.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{}: {}", self.place, self.problem)
        }
    }
}

impl std::error::Error for TrafficError {}

/// `place.field`, or just `field` when there is no place yet.
pub(crate) fn join(place: &str, field: &str) -> String {
    if place.is_empty() {
        field.to_string()
    } else if field.starts_with('[') {
        format!("{place}{field}")
    } else {
        format!("{place}.{field}")
    }
}

/// `s` for an error message: quoted and cut to a readable length, so that a
/// garbled 10 kB log line does not flood the terminal.
pub(crate) fn shown(s: &str) -> String {
    const MAX: usize = 60;
    match s.char_indices().nth(MAX) {
        None => format!("'{s}'"),
        Some((cut, _)) => format!("'{}…'", &s[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_place_then_problem() {
        let e = TrafficError::new("traces/day1.log:17", "no timestamp");
        assert_eq!(e.to_string(), "traces/day1.log:17: no timestamp");
        assert_eq!(TrafficError::new("", "x").to_string(), "x");
    }

    #[test]
    fn join_builds_field_paths() {
        assert_eq!(join("traffic[2]", "rate"), "traffic[2].rate");
        assert_eq!(join("traffic[2].mix", "[0]"), "traffic[2].mix[0]");
        assert_eq!(join("", "speed"), "speed");
    }

    #[test]
    fn shown_cuts_long_text_on_a_char_boundary() {
        let long = "é".repeat(100);
        let s = shown(&long);
        assert!(s.ends_with("…'") && s.chars().count() == 63, "{s}");
        assert_eq!(shown("abc"), "'abc'");
    }
}
