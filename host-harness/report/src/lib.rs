//! # sluice-report
//!
//! What a harness replay produces, and the ways it is shown:
//!
//! - [`model`]: the report as data ([`model::Report`]); serialized as the JSON
//!   report. Time series per interval, totals, assertion outcomes, VM events.
//! - [`histogram`]: a mergeable log-bucketed latency histogram, from which
//!   the report's quantiles are read.
//! - [`html`]: one self-contained HTML file (inline SVG plots, no scripts or
//!   network fetches).
//! - [`terminal`]: the summary printed at the end of a replay.
//! - [`golden`]: a deterministic text summary that CI compares with a
//!   checked-in file; `SLUICE_BLESS=1` rewrites the file.
//!
//! The renderers only read a [`model::Report`]; none of them does I/O except
//! [`golden::check`], which reads or writes the golden file it is given.

/// Appends formatted text to a `String`. Writing into a `String` cannot fail,
/// so the `fmt::Result` is discarded here once instead of at every call site.
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = write!($out, $($arg)*);
    }};
}

mod format;
pub mod golden;
pub mod histogram;
pub mod html;
pub mod model;
pub mod terminal;

#[cfg(test)]
mod sample;
