//! `limit.adaptive`: the gradient controller's parameters.
//!
//! ```json
//! {"adaptive": {"min_limit": 4, "max_limit": 1000, "initial_limit": 50,
//!               "buffer": 0.25, "smoothing": 0.3, "window_ms": 1000,
//!               "percentile": 0.9, "min_rtt_interval_s": 30,
//!               "probe_jitter": 0.15, "max_latency_ms": 250}}
//! ```
//! Every key has a default; `limit::gradient` gives the formula.

use super::error::{ConfigError, Path};
use super::validate;
use crate::limit::gradient::GradientParams;
use serde::Deserialize;
use std::time::Duration;

/// A validated adaptive limit.
#[derive(Clone, Debug, PartialEq)]
pub struct AdaptiveLimit {
    pub params: GradientParams,
    /// How long latencies are gathered before each update.
    pub window: Duration,
    /// The window's latency estimate is this quantile of its latencies.
    pub percentile: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawAdaptive {
    min_limit: u32,
    max_limit: u32,
    initial_limit: u32,
    buffer: f64,
    smoothing: f64,
    window_ms: u32,
    percentile: f64,
    min_rtt_interval_s: u32,
    probe_jitter: f64,
    max_latency_ms: Option<u32>,
}

impl Default for RawAdaptive {
    fn default() -> Self {
        RawAdaptive {
            min_limit: 4,
            max_limit: 1000,
            initial_limit: 50,
            buffer: 0.25,
            smoothing: 0.3,
            window_ms: 1000,
            percentile: 0.9,
            min_rtt_interval_s: 60,
            probe_jitter: 0.15,
            max_latency_ms: None,
        }
    }
}

fn fraction(path: &Path, value: f64, min: f64, max: f64) -> Result<f64, ConfigError> {
    if !value.is_finite() {
        return Err(path.error(format!("{value} is not a number")));
    }
    validate::in_range(path, value, min, max)
}

pub(crate) fn validate(
    path: &Path,
    raw: RawAdaptive,
    tick: Duration,
) -> Result<AdaptiveLimit, ConfigError> {
    let min_limit = validate::in_range(&path.field("min_limit"), raw.min_limit, 1, 1_000_000)?;
    let max_limit = validate::in_range(
        &path.field("max_limit"),
        raw.max_limit,
        min_limit,
        1_000_000,
    )?;
    let initial_limit = validate::in_range(
        &path.field("initial_limit"),
        raw.initial_limit,
        min_limit,
        max_limit,
    )?;
    let buffer = fraction(&path.field("buffer"), raw.buffer, 0.0, 10.0)?;
    let smoothing = fraction(&path.field("smoothing"), raw.smoothing, 0.01, 1.0)?;
    let window_ms = validate::in_range(&path.field("window_ms"), raw.window_ms, 100, 60_000)?;
    let window = Duration::from_millis(u64::from(window_ms));
    if window < tick {
        return Err(path.field("window_ms").error(format!(
            "{window_ms} is shorter than tick_ms ({}): windows close on ticks",
            tick.as_millis()
        )));
    }
    let percentile = fraction(&path.field("percentile"), raw.percentile, 0.01, 1.0)?;
    let interval = validate::in_range(
        &path.field("min_rtt_interval_s"),
        raw.min_rtt_interval_s,
        1,
        3600,
    )?;
    let probe_jitter = fraction(&path.field("probe_jitter"), raw.probe_jitter, 0.0, 0.5)?;
    let max_latency = match raw.max_latency_ms {
        Some(ms) => Some(Duration::from_millis(u64::from(validate::in_range(
            &path.field("max_latency_ms"),
            ms,
            1,
            600_000,
        )?))),
        None => None,
    };
    Ok(AdaptiveLimit {
        params: GradientParams {
            min_limit,
            max_limit,
            initial_limit,
            buffer,
            smoothing,
            min_rtt_interval: Duration::from_secs(u64::from(interval)),
            probe_jitter,
            max_latency,
        },
        window,
        percentile,
    })
}
