//! The router filter's configuration.
//!
//! ```json
//! {
//!   "clusters": {"app-a": {}, "app-b": {"throttle_destination": "app_b", "limit": 100}},
//!   "destination_header": "x-sluice-cluster",
//!   "decision_header": "x-sluice-route",
//!   "rules": [
//!     {"name": "gold", "headers": [{"name": "x-tenant", "exact": "gold"}], "to": "app-a"},
//!     {"name": "orders", "path_prefix": "/orders", "primary": "db-primary",
//!      "replicas": [{"cluster": "db-r1"}, {"cluster": "db-r2"}], "consistency": "session"}
//!   ],
//!   "default": {"balance": [{"cluster": "app-a"}, {"cluster": "app-b", "weight": 2}]}
//! }
//! ```
//! Only `clusters` and `default` are required. The README of
//! `filters/router` documents each key.

use super::error::{ConfigError, Path};
use super::json::{self, Object};
use super::rules::{conditions, methods, value_match};
use super::throttle::Mode;
use super::validate;
use super::value::Value;
use crate::route::regex::Regex;
use crate::route::{
    Action, Consistency, HostMatch, PathRegex, RouteMatch, RouteRule, Router, Spillover, Sticky,
    Weighted,
};
use crate::rules::ValueMatch;
use std::time::Duration;

/// Most clusters a router may choose among (metrics are per cluster).
pub const MAX_CLUSTERS: usize = 32;
/// Most rules.
pub const MAX_ROUTE_RULES: usize = 64;

/// One cluster the router may choose.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterConfig {
    /// The Envoy cluster name, written into the destination header.
    pub name: String,
    /// The throttle destination whose in-flight count and adaptive limit
    /// tell whether this cluster is near its limit (for spillover).
    pub throttle_destination: Option<String>,
    /// The limit to compare with when the throttle's is static (the
    /// throttle's adaptive limit, when there is one, wins).
    pub limit: Option<u32>,
}

impl ClusterConfig {
    /// The cluster's name in stats: `.`, `:` and `|` become `_`, so that
    /// stats tag extraction sees one dotted segment (Istio's cluster names
    /// look like `outbound|8080||catalog.shop.svc.cluster.local`).
    pub fn stat_name(&self) -> String {
        self.name.replace(['.', ':', '|'], "_")
    }
}

/// When a cluster is left out of choices, and when it comes back.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OutlierParams {
    /// Avoid above this error-rate EWMA (5xx responses / responses).
    pub error_rate: f64,
    /// Avoid above this latency EWMA.
    pub latency: Option<Duration>,
    /// Samples a cluster needs before it can be judged.
    pub min_requests: u32,
    /// Share of a balanced decision sent to an avoided cluster.
    pub probe_fraction: f64,
    /// Least time between two changes of a cluster's state.
    pub dwell: Duration,
    /// A cluster comes back below `threshold × (1 − hysteresis)`.
    pub hysteresis: f64,
}

/// A validated router configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct RouterConfig {
    pub clusters: Vec<ClusterConfig>,
    pub router: Router,
    pub destination_header: String,
    /// Response header carrying `<cluster>; reason=<reason>`, when set.
    pub decision_header: Option<String>,
    pub mode: Mode,
    /// In shadow mode: request header with the decision not carried out.
    pub shadow_header: String,
    pub tick: Duration,
    /// Per-sample weight of the latency and error EWMAs: `2 / (N + 1)` for
    /// `ewma_samples` N.
    pub ewma_alpha: f64,
    pub outlier: OutlierParams,
    /// Spill while in-flight ≥ this fraction of the limit.
    pub spill_at: f64,
}

impl RouterConfig {
    pub fn from_json(bytes: &[u8]) -> Result<Self, ConfigError> {
        let document = json::parse(bytes)?;
        let mut root = Object::new(Path::root(), &document)?;
        let clusters = clusters(&mut root)?;
        let names: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
        let tick = Duration::from_millis(u64::from(root.u32_in("tick_ms", 500, 10, 60_000)?));
        let mut rules = Vec::new();
        if let Some(items) = root.array("rules")? {
            if items.len() > MAX_ROUTE_RULES {
                return Err(root.path().field("rules").error(format!(
                    "{} rules given; at most {MAX_ROUTE_RULES} are allowed",
                    items.len()
                )));
            }
            for (path, item) in items {
                rules.push(rule(Object::new(path, item)?, &names, &rules)?);
            }
        }
        let (default_path, default) = root.required("default")?;
        let mut default = Object::new(default_path, default)?;
        let default_action = action(&mut default, &names)?;
        default.finish()?;
        let mut write_methods = methods(&mut root, "write_methods")?;
        if write_methods.is_empty() {
            write_methods = ["POST", "PUT", "PATCH", "DELETE"]
                .map(String::from)
                .to_vec();
        }
        let mut session = root.section("session")?;
        let session_cookie = session.string("cookie", "sluice-rw")?;
        if !session_cookie
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            || session_cookie.is_empty()
        {
            return Err(session.path().field("cookie").error(format!(
                "'{session_cookie}' is not a cookie name (letters, digits, - and _)"
            )));
        }
        let session_window = Duration::from_millis(u64::from(session.u32_in(
            "window_ms",
            5000,
            1,
            3_600_000,
        )?));
        session.finish()?;
        let outlier = outlier(root.section("outlier")?)?;
        let spill_at = root.f64_in("spill_at", 0.9, 0.0, 1.0)?;
        let ewma_samples = root.u32_in("ewma_samples", 20, 1, 100_000)?;
        let destination_header = root.string("destination_header", "x-sluice-cluster")?;
        let destination_header = validate::header_name(
            &root.path().field("destination_header"),
            &destination_header,
        )?;
        let decision_header = match root.opt_str("decision_header")? {
            Some(h) => Some(validate::header_name(
                &root.path().field("decision_header"),
                h,
            )?),
            None => None,
        };
        let mode = [Mode::Enforce, Mode::Shadow][root.choice("mode", &["enforce", "shadow"], 0)?];
        let shadow_header = root.string("shadow_header", "x-sluice-route-shadow")?;
        let shadow_header =
            validate::header_name(&root.path().field("shadow_header"), &shadow_header)?;
        root.finish()?;
        Ok(RouterConfig {
            router: Router {
                rules,
                default: default_action,
                write_methods,
                session_cookie,
                session_window,
                probe_fraction: outlier.probe_fraction,
            },
            clusters,
            destination_header,
            decision_header,
            mode,
            shadow_header,
            tick,
            ewma_alpha: 2.0 / (f64::from(ewma_samples) + 1.0),
            outlier,
            spill_at,
        })
    }
}

fn clusters(root: &mut Object<'_>) -> Result<Vec<ClusterConfig>, ConfigError> {
    let (path, value) = root.required("clusters")?;
    let Value::Object(map) = value else {
        return Err(path.error("invalid type: expected an object of cluster names"));
    };
    if map.is_empty() || map.len() > MAX_CLUSTERS {
        return Err(path.error(format!(
            "{} clusters given; between 1 and {MAX_CLUSTERS} are allowed",
            map.len()
        )));
    }
    let mut out = Vec::with_capacity(map.len());
    for (name, settings) in map {
        let at = path.field(name);
        // Envoy cluster names are free text; these characters keep them
        // usable in a header value, a shared-data key and a metric name.
        let ok = name.len() <= 128
            && !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:|".contains(&b));
        if !ok {
            return Err(at.error(format!(
                "'{name}' is not a supported cluster name (1 to 128 of A-Z a-z 0-9 - _ . : |)"
            )));
        }
        let mut raw = Object::new(at.clone(), settings)?;
        let throttle_destination = match raw.opt_str("throttle_destination")? {
            Some(d) => Some(validate::identifier(
                &raw.path().field("throttle_destination"),
                d,
            )?),
            None => None,
        };
        let limit = raw.opt_u32_in("limit", 1, 1_000_000)?;
        raw.finish()?;
        let cluster = ClusterConfig {
            name: name.clone(),
            throttle_destination,
            limit,
        };
        if let Some(other) = out
            .iter()
            .find(|c: &&ClusterConfig| c.stat_name() == cluster.stat_name())
        {
            return Err(at.error(format!(
                "'{name}' and '{}' have the same stats name '{}'",
                other.name,
                cluster.stat_name()
            )));
        }
        out.push(cluster);
    }
    Ok(out)
}

fn cluster_index(path: &Path, name: &str, names: &[&str]) -> Result<usize, ConfigError> {
    names.iter().position(|n| *n == name).ok_or_else(|| {
        path.error(format!(
            "'{name}' is not one of the clusters (declared: {})",
            names.join(", ")
        ))
    })
}

fn rule(
    mut raw: Object<'_>,
    names: &[&str],
    earlier: &[RouteRule],
) -> Result<RouteRule, ConfigError> {
    let name = raw.required_str("name")?;
    let name = validate::identifier(&raw.path().field("name"), name)?;
    if earlier.iter().any(|r| r.name == name) {
        return Err(raw
            .path()
            .field("name")
            .error(format!("rule '{name}' is declared twice")));
    }
    let base = conditions(&mut raw)?;
    let path_regex = match raw.opt_str("path_regex")? {
        Some(re) => Some(PathRegex(Regex::new(re).map_err(|e| {
            raw.path()
                .field("path_regex")
                .error(format!("'{re}' is not a supported regex: {e}"))
        })?)),
        None => None,
    };
    let query = named_matches(&mut raw, "query")?;
    let cookies = named_matches(&mut raw, "cookies")?;
    let hosts = raw
        .strings("hosts")?
        .into_iter()
        .map(|(at, h)| match h.strip_prefix('*') {
            Some(suffix) if suffix.starts_with('.') && suffix.len() > 1 => {
                Ok(HostMatch::Suffix(suffix.to_string()))
            }
            Some(_) => Err(at.error(format!("'{h}': a wildcard must look like *.example.com"))),
            None if !h.is_empty() => Ok(HostMatch::Exact(h.to_string())),
            None => Err(at.error("empty host")),
        })
        .collect::<Result<_, _>>()?;
    let principals = raw
        .strings("principals")?
        .into_iter()
        .map(|(_, p)| p.to_string())
        .collect();
    let route_names = raw
        .strings("route_names")?
        .into_iter()
        .map(|(_, r)| r.to_string())
        .collect();
    let action = action(&mut raw, names)?;
    raw.finish()?;
    Ok(RouteRule {
        name,
        when: RouteMatch {
            base,
            path_regex,
            query,
            cookies,
            hosts,
            principals,
            route_names,
        },
        action,
    })
}

/// `[{"name": n, "exact" | "prefix": v}]` for query parameters and cookies.
fn named_matches(
    raw: &mut Object<'_>,
    key: &'static str,
) -> Result<Vec<(String, ValueMatch)>, ConfigError> {
    let mut out = Vec::new();
    for (at, item) in raw.array(key)?.unwrap_or_default() {
        let mut m = Object::new(at, item)?;
        let name = m.required_str("name")?;
        if name.is_empty() {
            return Err(m.path().field("name").error("empty name"));
        }
        let value = value_match(&mut m)?;
        m.finish()?;
        out.push((name.to_string(), value));
    }
    Ok(out)
}

/// The action keys of a rule or of `default`: exactly one of `to`,
/// `balance`, `primary`.
fn action(raw: &mut Object<'_>, names: &[&str]) -> Result<Action, ConfigError> {
    let to = raw.opt_str("to")?;
    let balance = raw.array("balance")?;
    let primary = raw.opt_str("primary")?;
    let given = [to.is_some(), balance.is_some(), primary.is_some()];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(raw.path().error("give exactly one of to, balance, primary"));
    }
    if let Some(to) = to {
        let cluster = cluster_index(&raw.path().field("to"), to, names)?;
        let spillover = match raw.opt_object("spillover")? {
            None => None,
            Some(mut s) => {
                let target = s.required_str("to")?;
                let spill = Spillover {
                    to: cluster_index(&s.path().field("to"), target, names)?,
                    max_fraction: s.f64_in("max_fraction", 0.25, 0.0, 1.0)?,
                };
                s.finish()?;
                Some(spill)
            }
        };
        return Ok(Action::To { cluster, spillover });
    }
    if let Some(items) = balance {
        let candidates = weighted(raw.path().field("balance"), items, names)?;
        let sticky = match raw.opt_object("sticky")? {
            None => None,
            Some(mut s) => {
                let header = s.opt_str("header")?;
                let cookie = s.opt_str("cookie")?;
                let sticky = match (header, cookie) {
                    (Some(h), None) => {
                        Sticky::Header(validate::header_name(&s.path().field("header"), h)?)
                    }
                    (None, Some(c)) if !c.is_empty() => Sticky::Cookie(c.to_string()),
                    _ => return Err(s.path().error("give header or cookie")),
                };
                s.finish()?;
                Some(sticky)
            }
        };
        return Ok(Action::Balance { candidates, sticky });
    }
    let primary_name = primary.unwrap_or_default();
    let primary = cluster_index(&raw.path().field("primary"), primary_name, names)?;
    let consistency = [
        Consistency::Strong,
        Consistency::Session,
        Consistency::Eventual,
    ][raw.choice("consistency", &["strong", "session", "eventual"], 1)?];
    let (path, items) = match raw.array("replicas")? {
        Some(items) => (raw.path().field("replicas"), items),
        None => return Err(raw.path().error("missing field `replicas`")),
    };
    let replicas = weighted(path, items, names)?;
    Ok(Action::Primary {
        primary,
        replicas,
        consistency,
    })
}

fn weighted(
    path: Path,
    items: Vec<(Path, &Value)>,
    names: &[&str],
) -> Result<Vec<Weighted>, ConfigError> {
    if items.is_empty() {
        return Err(path.error("at least one candidate is needed"));
    }
    let mut out: Vec<Weighted> = Vec::with_capacity(items.len());
    for (at, item) in items {
        let mut c = Object::new(at, item)?;
        let name = c.required_str("cluster")?;
        let cluster = cluster_index(&c.path().field("cluster"), name, names)?;
        if out.iter().any(|w| w.cluster == cluster) {
            return Err(c
                .path()
                .field("cluster")
                .error(format!("'{name}' is listed twice")));
        }
        let weight = c.f64_in("weight", 1.0, 0.001, 1000.0)?;
        c.finish()?;
        out.push(Weighted { cluster, weight });
    }
    Ok(out)
}

fn outlier(mut raw: Object<'_>) -> Result<OutlierParams, ConfigError> {
    let params = OutlierParams {
        error_rate: raw.f64_in("error_rate", 0.5, 0.0, 1.0)?,
        latency: raw
            .opt_u32_in("latency_ms", 1, 600_000)?
            .map(|ms| Duration::from_millis(u64::from(ms))),
        min_requests: raw.u32_in("min_requests", 10, 1, 1_000_000)?,
        probe_fraction: raw.f64_in("probe_fraction", 0.05, 0.0, 0.5)?,
        dwell: Duration::from_millis(u64::from(raw.u32_in("dwell_ms", 5000, 0, 3_600_000)?)),
        hysteresis: raw.f64_in("hysteresis", 0.2, 0.0, 0.9)?,
    };
    raw.finish()?;
    Ok(params)
}

#[cfg(test)]
mod tests;
