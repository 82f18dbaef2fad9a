//! `limit.adaptive`: the gradient controller's parameters.
//!
//! ```json
//! {"adaptive": {"min_limit": 4, "max_limit": 1000, "initial_limit": 50,
//!               "buffer": 0.25, "smoothing": 0.3, "window_ms": 1000,
//!               "percentile": 0.9, "min_rtt_interval_s": 30,
//!               "probe_jitter": 0.15, "max_latency_ms": 250}}
//! ```
//! Every key has a default; `limit::gradient` gives the formula.

use super::error::ConfigError;
use super::json::Object;
use crate::limit::gradient::GradientParams;
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

/// Reads and checks `limit.adaptive`; every key has a default.
pub(crate) fn read(mut raw: Object<'_>, tick: Duration) -> Result<AdaptiveLimit, ConfigError> {
    let min_limit = raw.u32_in("min_limit", 4, 1, 1_000_000)?;
    let max_limit = raw.u32_in("max_limit", 1000, min_limit, 1_000_000)?;
    let initial_limit = raw.u32_in("initial_limit", 50, min_limit, max_limit)?;
    let buffer = raw.f64_in("buffer", 0.25, 0.0, 10.0)?;
    let smoothing = raw.f64_in("smoothing", 0.3, 0.01, 1.0)?;
    let window = window(&mut raw, "window_ms", 1000, 60_000, tick)?;
    let percentile = raw.f64_in("percentile", 0.9, 0.01, 1.0)?;
    let interval = raw.u32_in("min_rtt_interval_s", 60, 1, 3600)?;
    let probe_jitter = raw.f64_in("probe_jitter", 0.15, 0.0, 0.5)?;
    let max_latency = raw
        .opt_u32_in("max_latency_ms", 1, 600_000)?
        .map(|ms| Duration::from_millis(u64::from(ms)));
    raw.finish()?;
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

/// A window length in milliseconds, at least 100 ms and at least one tick:
/// windows close on ticks.
pub(crate) fn window(
    raw: &mut Object<'_>,
    key: &'static str,
    default_ms: u32,
    max_ms: u32,
    tick: Duration,
) -> Result<Duration, ConfigError> {
    let ms = raw.u32_in(key, default_ms, 100, max_ms)?;
    let window = Duration::from_millis(u64::from(ms));
    if window < tick {
        return Err(raw.path().field(key).error(format!(
            "{ms} is shorter than tick_ms ({}): windows close on ticks",
            tick.as_millis()
        )));
    }
    Ok(window)
}
