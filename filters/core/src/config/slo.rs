//! The `slo` key: targets for the bounded SLO tuner and the knobs it may
//! move (`limit::tuner` gives the rule).
//!
//! ```json
//! "slo": {"latency_ms": 200, "error_rate": 0.01,
//!         "interval_ms": 2000, "cooldown_ms": 10000,
//!         "hysteresis": 0.1, "jitter": 0.1,
//!         "tune": {"max_limit": {"min": 20, "max": 500, "step": 20},
//!                  "share_scale": {"min": 0.3, "max": 1.0, "step": 0.1},
//!                  "aggression": {"min": 1.2, "max": 2.0, "step": 0.2}}}
//! ```

use super::adaptive;
use super::error::ConfigError;
use super::json::Object;
use super::validate::Shown;
use crate::limit::tuner::{Knob, TunerParams};
use std::time::Duration;

/// What the rest of the configuration provides that the tuner needs.
pub(crate) struct Context {
    pub tick: Duration,
    /// A latency target needs the adaptive limit's latency estimate.
    pub adaptive: bool,
    /// The aggression knob needs success-rate throttling.
    pub success_rate: bool,
}

pub(crate) fn read(mut raw: Object<'_>, ctx: &Context) -> Result<TunerParams, ConfigError> {
    let latency_target = raw
        .opt_u32_in("latency_ms", 1, 600_000)?
        .map(|ms| Duration::from_millis(u64::from(ms)));
    if latency_target.is_some() && !ctx.adaptive {
        return Err(raw.path().field("latency_ms").error(
            "a latency target needs limit.adaptive, whose latency estimate the tuner reads",
        ));
    }
    let error_rate_target = raw.opt_f64_in("error_rate", 0.0001, 1.0)?;
    if latency_target.is_none() && error_rate_target.is_none() {
        return Err(raw
            .path()
            .error("give a target: latency_ms, error_rate or both"));
    }
    let interval = adaptive::window(&mut raw, "interval_ms", 2000, 600_000, ctx.tick)?;
    let cooldown = Duration::from_millis(u64::from(raw.u32_in(
        "cooldown_ms",
        10_000,
        0,
        3_600_000,
    )?));
    let hysteresis = raw.f64_in("hysteresis", 0.1, 0.0, 0.9)?;
    let jitter = raw.f64_in("jitter", 0.1, 0.0, 0.5)?;
    let (tune_path, tune) = raw.required("tune")?;
    let mut tune = Object::new(tune_path, tune)?;
    let max_limit = knob(&mut tune, "max_limit", 1.0, 1_000_000.0)?;
    let share_scale = knob(&mut tune, "share_scale", 0.0, 1.0)?;
    let aggression = knob(&mut tune, "aggression", 1.0, 100.0)?;
    if aggression.is_some() && !ctx.success_rate {
        return Err(tune
            .path()
            .field("aggression")
            .error("the aggression knob needs success_rate throttling to be configured"));
    }
    if max_limit.is_none() && share_scale.is_none() && aggression.is_none() {
        return Err(tune
            .path()
            .error("give a knob to tune: max_limit, share_scale or aggression"));
    }
    tune.finish()?;
    raw.finish()?;
    Ok(TunerParams {
        latency_target,
        error_rate_target,
        interval,
        cooldown,
        hysteresis,
        jitter,
        max_limit,
        share_scale,
        aggression,
    })
}

/// `{"min": a, "max": b, "step": s}` with `lo ≤ a ≤ b ≤ hi` and `s > 0`.
fn knob(
    parent: &mut Object<'_>,
    key: &'static str,
    lo: f64,
    hi: f64,
) -> Result<Option<Knob>, ConfigError> {
    let Some(mut raw) = parent.opt_object(key)? else {
        return Ok(None);
    };
    let min = raw.required_f64_in("min", lo, hi)?;
    let max = raw.required_f64_in("max", min, hi)?;
    let step = raw.required_f64("step")?;
    if step <= 0.0 || step > hi - lo {
        return Err(raw.path().field("step").error(format!(
            "{} must be above 0 and at most {}",
            step.shown(),
            (hi - lo).shown()
        )));
    }
    raw.finish()?;
    Ok(Some(Knob { min, max, step }))
}
