//! Golden summaries: a deterministic text digest of a report that CI
//! compares with a checked-in file.
//!
//! A replay is deterministic (virtual time, seeded randomness), so the same
//! scenario and modules must give the same summary on any machine. The
//! summary therefore leaves out what varies between runs or machines (wall
//! time, speedup, absolute paths, module hashes) and prints every float with
//! a fixed number of decimals. A changed golden file shows up in review as a
//! change of behaviour, one fact per line.
//!
//! When behaviour changes on purpose, `SLUICE_BLESS=1` (or the CLI's
//! `--bless`) rewrites the file instead of comparing, as wasmtime's and
//! rustc's test suites do.

mod diff;
mod summary;

#[cfg(test)]
mod tests;

pub use summary::summary;

use std::path::Path;

/// What [`check`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GoldenOutcome {
    /// The file holds the same summary.
    Matched,
    /// Bless was requested and the file was (re)written.
    Blessed,
    /// There is no file to compare with.
    Missing,
    /// The file differs; `diff` lists the differing lines with their numbers
    /// (`- expected` from the file, `+ actual` from this run).
    Mismatch { diff: String },
}

/// Compares `actual` with the golden file at `path`, or with `bless` writes
/// it there (creating parent directories). Line endings are compared
/// without regard to `\r\n` versus `\n`, so a checkout that converts them
/// still matches.
pub fn check(path: &Path, actual: &str, bless: bool) -> std::io::Result<GoldenOutcome> {
    if bless {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, actual)?;
        return Ok(GoldenOutcome::Blessed);
    }
    let expected = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(GoldenOutcome::Missing),
        Err(e) => return Err(e),
    };
    let (expected, actual) = (unix_lines(&expected), unix_lines(actual));
    if expected == actual {
        Ok(GoldenOutcome::Matched)
    } else {
        Ok(GoldenOutcome::Mismatch {
            diff: diff::line_diff(&expected, &actual),
        })
    }
}

/// True when the environment asks for golden files to be rewritten:
/// `SLUICE_BLESS` is `1` or `true`.
pub fn bless_requested() -> bool {
    is_yes(std::env::var("SLUICE_BLESS").ok().as_deref())
}

fn is_yes(value: Option<&str>) -> bool {
    matches!(value.map(str::trim), Some(v) if v == "1" || v.eq_ignore_ascii_case("true"))
}

fn unix_lines(text: &str) -> String {
    text.replace("\r\n", "\n")
}
