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

use super::adaptive::{self, AdaptiveLimit};
use super::admission::{self, Admission};
use super::error::{ConfigError, Path};
use super::json::{self, Object};
use super::shed::{self, ShedResponse};
use super::{classes, rules, slo, trust, validate};
use crate::limit::success_rate::SuccessRateParams;
use crate::limit::tuner::TunerParams;
use crate::priority::{Classifier, PriorityClasses};
use crate::rules::Conditions;
use crate::tenant::TenantCap;
use crate::trust::Trust;
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
    /// How the limit is divided among the classes.
    pub admission: Admission,
    pub classifier: Classifier,
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
    /// The bounded SLO tuner, when configured.
    pub slo: Option<TunerParams>,
    /// Routes with their own destination and limit, tried in order; a
    /// request no route matches counts against `destination` and `limit`.
    pub routes: Vec<RouteLimit>,
    /// Which sources may set the priority and tenant headers; every source
    /// when absent.
    pub trust: Option<Trust>,
    /// The per-tenant cap, when configured.
    pub tenant: Option<TenantCap>,
}

/// A route (by path, method, headers such as `:authority`, source) with its
/// own shared in-flight record and concurrency limit. Envoy has no
/// per-route wasm configuration, so the plugin configuration carries them.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteLimit {
    pub when: Conditions,
    pub destination: String,
    pub limit: LimitConfig,
}

/// Most `routes` a configuration may hold.
pub const MAX_ROUTES: usize = 16;

fn success_rate(mut raw: Object<'_>, tick: Duration) -> Result<SuccessRateParams, ConfigError> {
    let params = SuccessRateParams {
        aggression: raw.f64_in("aggression", 2.0, 1.0, 100.0)?,
        min_rps: raw.f64_in("min_rps", 5.0, 0.0, 1e9)?,
        max_reject: raw.f64_in("max_reject", 0.9, 0.0, 0.999)?,
        window: adaptive::window(&mut raw, "window_ms", 2000, 600_000, tick)?,
    };
    raw.finish()?;
    Ok(params)
}

fn limit(raw: Object<'_>, tick: Duration) -> Result<LimitConfig, ConfigError> {
    match raw.variant(&["static", "adaptive"])? {
        (0, mut s) => {
            let max_inflight = s.required_u32_in("max_inflight", 1, 1_000_000)?;
            s.finish()?;
            Ok(LimitConfig::Static { max_inflight })
        }
        (_, a) => adaptive::read(a, tick).map(LimitConfig::Adaptive),
    }
}

fn routes(
    root: &mut Object<'_>,
    top_destination: &str,
    tick: Duration,
) -> Result<Vec<RouteLimit>, ConfigError> {
    let Some(items) = root.array("routes")? else {
        return Ok(Vec::new());
    };
    if items.len() > MAX_ROUTES {
        return Err(root.path().field("routes").error(format!(
            "{} routes given; at most {MAX_ROUTES} are allowed",
            items.len()
        )));
    }
    let mut out: Vec<RouteLimit> = Vec::with_capacity(items.len());
    for (path, item) in items {
        let mut raw = Object::new(path, item)?;
        let destination = raw.required_str("destination")?;
        let destination = validate::identifier(&raw.path().field("destination"), destination)?;
        if destination == top_destination || out.iter().any(|r| r.destination == destination) {
            return Err(raw.path().field("destination").error(format!(
                "'{destination}' is already used; each route needs its own destination"
            )));
        }
        let when = rules::conditions(&mut raw)?;
        let (limit_path, raw_limit) = raw.required("limit")?;
        let limit = limit(Object::new(limit_path, raw_limit)?, tick)?;
        raw.finish()?;
        out.push(RouteLimit {
            when,
            destination,
            limit,
        });
    }
    Ok(out)
}

impl ThrottleConfig {
    /// The destinations in index order: the top-level one (0), then each
    /// route's.
    pub fn destinations(&self) -> impl Iterator<Item = (&str, &LimitConfig)> {
        std::iter::once((self.destination.as_str(), &self.limit)).chain(
            self.routes
                .iter()
                .map(|r| (r.destination.as_str(), &r.limit)),
        )
    }

    /// Parses and validates the plugin configuration JSON. Nothing is
    /// returned unless the whole document is valid.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ConfigError> {
        let document = json::parse(bytes)?;
        let mut root = Object::new(Path::root(), &document)?;
        let classes = classes::read(&mut root)?;
        let rules = rules::read(&mut root, &classes)?;
        let header = root.string("priority_header", "x-sluice-priority")?;
        let header = validate::header_name(&root.path().field("priority_header"), &header)?;
        let tick = Duration::from_millis(u64::from(root.u32_in("tick_ms", 500, 10, 60_000)?));
        let (path, raw_limit) = root.required("limit")?;
        let limit = limit(Object::new(path, raw_limit)?, tick)?;
        let shed_response = shed::read(root.section("shed_response")?)?;
        let admission = admission::read(root.section("admission")?, tick)?;
        let destination = root.string("destination", "default")?;
        let destination = validate::identifier(&root.path().field("destination"), &destination)?;
        let mode = [Mode::Enforce, Mode::Shadow][root.choice("mode", &["enforce", "shadow"], 0)?];
        let enforce_percent = root.f64_in("enforce_percent", 100.0, 0.0, 100.0)?;
        let shadow_header = root.string("shadow_header", "x-sluice-shadow")?;
        let shadow_header =
            validate::header_name(&root.path().field("shadow_header"), &shadow_header)?;
        let success_rate = match root.opt_object("success_rate")? {
            Some(s) => Some(success_rate(s, tick)?),
            None => None,
        };
        let routes = routes(&mut root, &destination, tick)?;
        let slo = match root.opt_object("slo")? {
            None => None,
            Some(raw) => Some(slo::read(
                raw,
                &slo::Context {
                    tick,
                    adaptive: matches!(limit, LimitConfig::Adaptive(_)),
                    success_rate: success_rate.is_some(),
                },
            )?),
        };
        let trust = match root.opt_object("trust")? {
            Some(raw) => Some(trust::trust(raw)?),
            None => None,
        };
        let tenant = match root.opt_object("tenant")? {
            Some(raw) => Some(trust::tenant(raw, &header)?),
            None => None,
        };
        root.finish()?;
        Ok(ThrottleConfig {
            trust,
            tenant,
            routes,
            slo,
            success_rate,
            mode,
            enforce_percent,
            shadow_header,
            classes,
            admission,
            classifier: Classifier::new(rules, header),
            limit,
            shed_response,
            destination,
            tick,
        })
    }
}

#[cfg(test)]
mod tests;
