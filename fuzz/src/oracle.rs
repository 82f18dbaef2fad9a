//! Invariants on errors: a refused input is refused with a message that
//! names the place and the problem.

use sluice_core::config::ConfigError;
use sluice_traffic::TrafficError;

/// A configuration error names a field path (`.` for the document) and a
/// problem, and its text shows both.
pub fn config_error(e: &ConfigError) {
    assert!(!e.path.is_empty(), "error without a place: {e:?}");
    assert!(
        !e.problem.trim().is_empty(),
        "error without a problem: {e:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains(&e.path),
        "{text:?} does not name {:?}",
        e.path
    );
}

/// A trace error names the trace (`name` or `name:line`) and a problem.
pub fn trace_error(e: &TrafficError, source_name: &str) {
    assert!(
        e.place == source_name
            || e.place
                .strip_prefix(source_name)
                .and_then(|rest| rest.strip_prefix(':'))
                .is_some_and(|line| line.parse::<usize>().is_ok_and(|n| n >= 1)),
        "error place {:?} is not {source_name} or {source_name}:<line>",
        e.place
    );
    assert!(
        !e.problem.trim().is_empty(),
        "error without a problem: {e:?}"
    );
}
