//! The throttle filter's configuration.
//!
//! ```json
//! {
//!   "classes": [{"name": "critical", "share": 1.0},
//!               {"name": "default", "share": 0.8},
//!               {"name": "sheddable", "share": 0.5}],
//!   "default_class": "default",
//!   "priority_header": "x-sluice-priority",
//!   "limit": {"static": {"max_inflight": 100}},
//!   "shed_response": {"status": 503, "retry_after_seconds": 1,
//!                     "reason_header": "x-sluice-shed-reason"},
//!   "destination": "default",
//!   "tick_ms": 500
//! }
//! ```
//! Only `limit` is required. The README of `filters/throttle` documents each key.

use super::adaptive::{self, AdaptiveLimit, RawAdaptive};
use super::classes::{self, RawClass};
use super::error::{ConfigError, Path};
use super::shed::{self, RawShedResponse, ShedResponse};
use super::{json, validate};
use crate::limit::success_rate::SuccessRateParams;
use crate::priority::{HeaderClassifier, PriorityClasses};
use serde::Deserialize;
use std::time::Duration;

/// How the concurrency limit is set.
#[derive(Clone, Debug, PartialEq)]
pub enum LimitConfig {
    /// A fixed limit on in-flight requests across all workers.
    Static { max_inflight: u32 },
    /// A limit that follows the service's latency (`limit::gradient`),
    /// shared by every worker.
    Adaptive(AdaptiveLimit),
}

/// Whether decisions are carried out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Shed what the policy sheds (for `enforce_percent` of requests).
    #[default]
    Enforce,
    /// Decide and record, but forward every request.
    Shadow,
}

/// A validated throttle configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct ThrottleConfig {
    pub classes: PriorityClasses,
    pub classifier: HeaderClassifier,
    pub limit: LimitConfig,
    pub shed_response: ShedResponse,
    /// Name of the shared-stats record this filter counts in; filters (and
    /// workers) configured with the same destination share one count.
    pub destination: String,
    /// Period of the housekeeping tick (lane heartbeats, gauges).
    pub tick: Duration,
    pub mode: Mode,
    /// Percentage of shed decisions carried out in `enforce` mode, in
    /// [0, 100]; the others are forwarded and recorded as in shadow mode.
    pub enforce_percent: f64,
    /// Request header added to the upstream request when a decision was
    /// not enforced (`shed; class=<c>; reason=<r>`).
    pub shadow_header: String,
    /// Success-rate throttling, when configured.
    pub success_rate: Option<SuccessRateParams>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThrottleConfig {
    #[serde(default = "classes::default_classes")]
    classes: Vec<RawClass>,
    #[serde(default = "classes::default_class_name")]
    default_class: String,
    #[serde(default = "default_priority_header")]
    priority_header: String,
    limit: RawLimit,
    #[serde(default)]
    shed_response: RawShedResponse,
    #[serde(default = "default_destination")]
    destination: String,
    #[serde(default = "default_tick_ms")]
    tick_ms: u32,
    #[serde(default)]
    mode: Mode,
    #[serde(default = "default_enforce_percent")]
    enforce_percent: f64,
    #[serde(default = "default_shadow_header")]
    shadow_header: String,
    #[serde(default)]
    success_rate: Option<RawSuccessRate>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawSuccessRate {
    aggression: f64,
    min_rps: f64,
    max_reject: f64,
    window_ms: u32,
}

impl Default for RawSuccessRate {
    fn default() -> Self {
        RawSuccessRate {
            aggression: 2.0,
            min_rps: 5.0,
            max_reject: 0.9,
            window_ms: 2000,
        }
    }
}

fn finite(path: &Path, value: f64, min: f64, max: f64) -> Result<f64, ConfigError> {
    if !value.is_finite() {
        return Err(path.error("not a number"));
    }
    validate::in_range(path, value, min, max)
}

fn success_rate(
    path: &Path,
    raw: RawSuccessRate,
    tick: Duration,
) -> Result<SuccessRateParams, ConfigError> {
    let window_ms = validate::in_range(&path.field("window_ms"), raw.window_ms, 100, 600_000)?;
    let window = Duration::from_millis(u64::from(window_ms));
    if window < tick {
        return Err(path.field("window_ms").error(format!(
            "{window_ms} is shorter than tick_ms ({})",
            tick.as_millis()
        )));
    }
    Ok(SuccessRateParams {
        aggression: finite(&path.field("aggression"), raw.aggression, 1.0, 100.0)?,
        min_rps: finite(&path.field("min_rps"), raw.min_rps, 0.0, 1e9)?,
        max_reject: finite(&path.field("max_reject"), raw.max_reject, 0.0, 0.999)?,
        window,
    })
}

fn default_enforce_percent() -> f64 {
    100.0
}

fn default_shadow_header() -> String {
    "x-sluice-shadow".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum RawLimit {
    Static(RawStaticLimit),
    Adaptive(RawAdaptive),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStaticLimit {
    max_inflight: u32,
}

fn default_priority_header() -> String {
    "x-sluice-priority".into()
}

fn default_destination() -> String {
    "default".into()
}

fn default_tick_ms() -> u32 {
    500
}

impl ThrottleConfig {
    /// Parses and validates the plugin configuration JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ConfigError> {
        let raw: RawThrottleConfig = json::from_slice(bytes)?;
        Self::validate(raw)
    }

    fn validate(raw: RawThrottleConfig) -> Result<Self, ConfigError> {
        let root = Path::root();
        let classes = classes::validate(&root, raw.classes, &raw.default_class)?;
        let header = validate::header_name(&root.field("priority_header"), &raw.priority_header)?;
        let tick_ms = validate::in_range(&root.field("tick_ms"), raw.tick_ms, 10, 60_000)?;
        let tick = Duration::from_millis(u64::from(tick_ms));
        let limit = match raw.limit {
            RawLimit::Static(s) => LimitConfig::Static {
                max_inflight: validate::in_range(
                    &root.field("limit").field("static").field("max_inflight"),
                    s.max_inflight,
                    1,
                    1_000_000,
                )?,
            },
            RawLimit::Adaptive(a) => LimitConfig::Adaptive(adaptive::validate(
                &root.field("limit").field("adaptive"),
                a,
                tick,
            )?),
        };
        let shed_response = shed::validate(&root.field("shed_response"), raw.shed_response)?;
        let destination = validate::identifier(&root.field("destination"), &raw.destination)?;
        if !raw.enforce_percent.is_finite() {
            return Err(root.field("enforce_percent").error("not a number"));
        }
        let enforce_percent = validate::in_range(
            &root.field("enforce_percent"),
            raw.enforce_percent,
            0.0,
            100.0,
        )?;
        let shadow_header =
            validate::header_name(&root.field("shadow_header"), &raw.shadow_header)?;
        let success_rate = match raw.success_rate {
            Some(s) => Some(success_rate(&root.field("success_rate"), s, tick)?),
            None => None,
        };
        Ok(ThrottleConfig {
            success_rate,
            mode: raw.mode,
            enforce_percent,
            shadow_header,
            classes,
            classifier: HeaderClassifier::new(header),
            limit,
            shed_response,
            destination,
            tick,
        })
    }
}

#[cfg(test)]
mod tests;
