//! The report as data. Field names are the JSON report's keys.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A replay's report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub scenario: ScenarioInfo,
    /// Priority classes in order of importance (as the scenario reports them).
    pub classes: Vec<String>,
    /// Upstream clusters, in scenario order.
    pub clusters: Vec<String>,
    /// One entry per interval, in time order.
    pub series: Vec<Interval>,
    pub totals: Totals,
    pub assertions: Vec<AssertionOutcome>,
    /// Traps, interruptions, reloads of guest VMs.
    pub vm_events: Vec<VmEvent>,
    /// Facts about the run itself (wall time); never part of golden summaries.
    pub run: RunInfo,
}

impl Report {
    /// True if every assertion passed.
    pub fn passed(&self) -> bool {
        self.assertions.iter().all(|a| a.passed)
    }

    /// How many assertions failed.
    pub fn failed_count(&self) -> usize {
        self.assertions.iter().filter(|a| !a.passed).count()
    }

    /// Every class the report mentions: `classes` in their order, then any
    /// other class found in the totals or the series (by name). Renderers use
    /// this so that a class missing from `classes` is still shown.
    pub fn class_names(&self) -> Vec<&str> {
        let extra = self
            .totals
            .classes
            .keys()
            .chain(self.series.iter().flat_map(|i| i.classes.keys()));
        ordered_union(&self.classes, extra)
    }

    /// Every upstream cluster the report mentions, `clusters` first (see
    /// [`Report::class_names`]).
    pub fn cluster_names(&self) -> Vec<&str> {
        let extra = self
            .totals
            .upstream
            .keys()
            .chain(self.series.iter().flat_map(|i| i.upstream.keys()));
        ordered_union(&self.clusters, extra)
    }

    /// Every metric name found in any interval, sorted.
    pub fn metric_names(&self) -> BTreeSet<&str> {
        self.series
            .iter()
            .flat_map(|i| i.metrics.keys().map(String::as_str))
            .collect()
    }
}

/// `first` in order, then the names of `rest` not already present, sorted.
fn ordered_union<'a>(first: &'a [String], rest: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
    let known: BTreeSet<&str> = first.iter().map(String::as_str).collect();
    let extra: BTreeSet<&str> = rest
        .map(String::as_str)
        .filter(|n| !known.contains(n))
        .collect();
    let mut out: Vec<&str> = Vec::with_capacity(first.len() + extra.len());
    for n in first {
        if !out.contains(&n.as_str()) {
            out.push(n);
        }
    }
    out.extend(extra);
    out
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScenarioInfo {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub duration_s: f64,
    pub interval_s: f64,
    pub workers: u32,
    pub modules: Vec<ModuleInfo>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModuleInfo {
    /// Plugin name (Envoy's `config.name`).
    pub name: String,
    pub path: String,
    pub sha256: String,
    pub size_bytes: u64,
}

/// Latency quantiles in milliseconds over `count` samples (all zero when
/// `count` is 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// What happened in one interval `[start_s, end_s)` of virtual time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub start_s: f64,
    pub end_s: f64,
    /// Per priority class.
    pub classes: BTreeMap<String, ClassInterval>,
    /// Latency of the admitted requests that arrived in the interval.
    pub latency_ms: Quantiles,
    /// Requests admitted and not yet completed, at the end of the interval.
    pub inflight: u64,
    /// Per upstream cluster.
    pub upstream: BTreeMap<String, UpstreamInterval>,
    /// The filters' metrics at the end of the interval, by metric name:
    /// gauges' values and counters' cumulative values.
    pub metrics: BTreeMap<String, f64>,
}

impl Interval {
    /// Length of the interval in seconds (0 if the bounds are inverted).
    pub fn length_s(&self) -> f64 {
        (self.end_s - self.start_s).max(0.0)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassInterval {
    /// Requests that arrived. The outcomes below are those of these
    /// requests, whenever they completed (after the traffic ends, a replay
    /// waits for the requests in flight, up to the route timeout), so a
    /// window's success rate is that of the requests offered in it.
    pub offered: u64,
    /// Requests the filters let through to an upstream.
    pub admitted: u64,
    /// Requests answered by a filter's local reply, by reason (the shed
    /// reason header; `local_reply` when there is none).
    pub shed: BTreeMap<String, u64>,
    /// Requests completed with a 2xx or 3xx status.
    pub succeeded: u64,
    /// Admitted requests completed with a 5xx status (upstream errors,
    /// resets, timeouts).
    pub failed: u64,
    /// Latency of this class's admitted requests that arrived in the interval.
    pub latency_ms: Quantiles,
}

impl ClassInterval {
    pub fn shed_total(&self) -> u64 {
        self.shed.values().sum()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UpstreamInterval {
    /// Requests sent to this cluster in the interval.
    pub requests: u64,
    /// Responses with a 5xx status.
    pub errors: u64,
    /// Requests in service or queued at the cluster at the end of the interval.
    pub inflight: u64,
    pub latency_ms: Quantiles,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub classes: BTreeMap<String, ClassTotals>,
    /// Requests sent to each cluster.
    pub upstream: BTreeMap<String, u64>,
    pub offered_rps: f64,
    /// Successful completions per second.
    pub goodput_rps: f64,
    pub latency_ms: Quantiles,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassTotals {
    pub offered: u64,
    pub admitted: u64,
    pub shed: BTreeMap<String, u64>,
    pub succeeded: u64,
    pub failed: u64,
    /// `succeeded / offered` (shed requests count as not succeeded).
    pub success_rate: f64,
    pub latency_ms: Quantiles,
}

impl ClassTotals {
    pub fn shed_total(&self) -> u64 {
        self.shed.values().sum()
    }
}

/// One SLO assertion and what was measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AssertionOutcome {
    /// The assertion as written, e.g. `success_rate{class=critical} >= 0.995 after 10s`.
    pub text: String,
    pub measured: f64,
    pub threshold: f64,
    pub passed: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VmEvent {
    pub at_s: f64,
    /// `main` or `worker_<n>`.
    pub worker: String,
    /// Plugin name.
    pub plugin: String,
    /// The callback the guest was in, e.g. `proxy_on_request_headers`.
    pub callback: String,
    /// `trap`, `interrupted`, `out_of_memory`, `reload`, `configure_failed`.
    pub kind: String,
    pub message: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub wall_seconds: f64,
    pub simulated_requests: u64,
    /// Virtual seconds per wall-clock second.
    pub speedup: f64,
    pub harness_version: String,
}
