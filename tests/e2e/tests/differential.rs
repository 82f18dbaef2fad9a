//! Fidelity, measured: the same filter and the same requests, run through
//! real Envoy 1.40 and through the harness, give the same outcomes.
//!
//! Each test takes a scenario under `tests/differential/` that replays one
//! JSON-lines trace against an upstream answering with the recorded status
//! after the recorded duration (`use_recorded: true`). The harness replays it
//! in virtual time; real Envoy (one worker) gets the same requests at the
//! same offsets in real time, its test upstream told the recorded status and
//! duration by the `x-upstream-status` and `x-upstream-delay-ms` headers.
//! Then, per request: the status, the response headers filters control
//! (`x-conformance-*`, `x-sluice-*`, `retry-after`, `x-upstream-name`) and
//! the body; at the end, every filter metric (Envoy's `wasmcustom.<name>`
//! against the harness's `<name>`; histograms by sample count). Any
//! difference fails the test and is printed as a table.

#[path = "differential/compare.rs"]
mod compare;
#[path = "differential/runs.rs"]
mod runs;

use compare::MetricRule;
use runs::Scenario;
use sluice_testkit::bootstrap::Bootstrap;
use sluice_testkit::paths::{repo_root, wasm_module};
use std::time::{Duration, Instant};

/// How long Envoy's metrics may take to settle after the last reply: `on_log`
/// runs after the reply is sent, and histograms reach the admin endpoint at
/// the next stats flush.
const SETTLE: Duration = Duration::from_secs(5);

fn differential(scenario: &str, bootstrap: Bootstrap, rule: fn(&str) -> MetricRule) {
    let scenario = Scenario::load(scenario).unwrap_or_else(|e| panic!("{scenario}: {e:#}"));
    let name = scenario.spec.name.clone();
    let harness = runs::harness(&scenario).unwrap_or_else(|e| panic!("{name}: harness: {e:#}"));
    let (envoy, _upstream, url) =
        runs::start_envoy(&scenario, bootstrap).unwrap_or_else(|e| panic!("{name}: envoy: {e:#}"));
    let outcomes =
        runs::envoy_outcomes(&scenario, &url).unwrap_or_else(|e| panic!("{name}: replay: {e:#}"));

    let mut diffs = compare::requests(&scenario.labels(), &outcomes, &harness.outcomes);
    let deadline = Instant::now() + SETTLE;
    let metric_diffs = loop {
        let stats = envoy.stats().expect("envoy /stats");
        let prometheus = envoy.prometheus().expect("envoy /stats/prometheus");
        let d = compare::metrics(&harness.metrics, &stats, &prometheus, rule);
        if d.is_empty() || Instant::now() > deadline {
            break d;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    diffs.extend(metric_diffs);
    assert!(
        diffs.is_empty(),
        "{name}: real Envoy and the harness differ in {} of the outcomes:\n{}",
        diffs.len(),
        compare::table(&diffs)
    );
    eprintln!(
        "{name}: {} requests and {} metrics agree:\n{}\n{}",
        outcomes.len(),
        harness.metrics.len(),
        compare::listing(&scenario.labels(), &outcomes),
        compare::metric_listing(&harness.metrics, rule)
    );
}

/// The conformance filter: shared data, queues, ticks, metrics, http_call,
/// bodies, header edits and local replies, request by request.
#[test]
fn conformance_filter_outcomes_match_real_envoy() {
    wasm_module("sluice_conformance").expect("built module");
    let bootstrap =
        Bootstrap::from_file(&repo_root().join("tests/differential/conformance-envoy.yaml"))
            .expect("bootstrap");
    differential("conformance.yaml", bootstrap, |metric| {
        if metric == "conformance.ticks" {
            MetricRule::Running
        } else {
            MetricRule::Exact
        }
    });
}

/// The product throttle with a static limit of 2: which requests are
/// admitted and which shed (status, `x-sluice-shed-reason`, `retry-after`,
/// body), and its admitted/shed counters and gauges.
#[test]
fn throttle_outcomes_match_real_envoy() {
    wasm_module("sluice_throttle").expect("built module");
    let bootstrap = Bootstrap::load("throttle-inbound.yaml").expect("bootstrap");
    differential("throttle.yaml", bootstrap, |_| MetricRule::Exact);
}
