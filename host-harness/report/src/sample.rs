//! A small but complete report shared by the renderers' tests: three
//! classes, two clusters, six one-second intervals with the throttle's
//! gauges and a counter, one passing and one failing assertion, one trap.

use crate::model::*;
use std::collections::BTreeMap;

pub(crate) const CLASSES: [&str; 3] = ["critical", "default", "sheddable"];

fn quantiles(count: u64, p50: f64) -> Quantiles {
    if count == 0 {
        return Quantiles::default();
    }
    Quantiles {
        count,
        p50,
        p90: p50 * 2.0,
        p99: p50 * 3.5,
        max: p50 * 4.0,
    }
}

fn interval(i: usize) -> Interval {
    let t = i as f64;
    // Load ramps up; from the third second the throttle sheds `sheddable`,
    // then `default`, and the router moves traffic to `fallback`.
    let overload = i.saturating_sub(2) as u64;
    let mut classes = BTreeMap::new();
    let mut admitted_total = 0;
    for (k, name) in CLASSES.iter().enumerate() {
        let offered = 20 + 10 * i as u64;
        let shed = match k {
            0 => 0,
            1 => overload * 2,
            _ => overload * 8,
        };
        let admitted = offered - shed;
        admitted_total += admitted;
        let failed = if k == 0 && i == 4 { 1 } else { 0 };
        let mut reasons = BTreeMap::new();
        if shed > 0 {
            reasons.insert("concurrency_limit".to_string(), shed);
        }
        classes.insert(
            name.to_string(),
            ClassInterval {
                offered,
                admitted,
                shed: reasons,
                succeeded: admitted - failed,
                failed,
                latency_ms: quantiles(admitted, 8.0 + 2.0 * t + k as f64),
            },
        );
    }
    let fallback = overload * 10;
    let mut upstream = BTreeMap::new();
    upstream.insert(
        "primary".to_string(),
        UpstreamInterval {
            requests: admitted_total - fallback,
            errors: if i == 4 { 1 } else { 0 },
            inflight: 10 + i as u64,
            latency_ms: quantiles(admitted_total - fallback, 9.0 + t),
        },
    );
    upstream.insert(
        "fallback".to_string(),
        UpstreamInterval {
            requests: fallback,
            errors: 0,
            inflight: overload,
            latency_ms: quantiles(fallback, 20.0),
        },
    );
    let mut metrics = BTreeMap::new();
    metrics.insert(
        "sluice.throttle.limit".to_string(),
        40.0 - 2.0 * overload as f64,
    );
    metrics.insert("sluice.throttle.inflight".to_string(), 12.0 + t);
    metrics.insert(
        "sluice.throttle.rq_admitted.class.critical".to_string(),
        (20 * (i + 1) + 5 * i * (i + 1)) as f64,
    );
    // Goes up and down: a gauge that gets its own chart.
    metrics.insert(
        "sluice.throttle.queue_depth".to_string(),
        [0.0, 3.0, 7.0, 4.0, 6.0, 2.0][i],
    );
    Interval {
        start_s: t,
        end_s: t + 1.0,
        classes,
        latency_ms: quantiles(admitted_total, 9.0 + 2.0 * t),
        inflight: 12 + i as u64,
        upstream,
        metrics,
    }
}

/// The sample report; totals are the sums of the series.
pub(crate) fn sample_report() -> Report {
    let series: Vec<Interval> = (0..6).map(interval).collect();
    let mut totals = Totals::default();
    for iv in &series {
        for (name, c) in &iv.classes {
            let t: &mut ClassTotals = totals.classes.entry(name.clone()).or_default();
            t.offered += c.offered;
            t.admitted += c.admitted;
            t.succeeded += c.succeeded;
            t.failed += c.failed;
            for (reason, n) in &c.shed {
                *t.shed.entry(reason.clone()).or_default() += n;
            }
        }
        for (name, u) in &iv.upstream {
            *totals.upstream.entry(name.clone()).or_default() += u.requests;
        }
    }
    let mut offered = 0;
    let mut succeeded = 0;
    for (k, t) in totals.classes.values_mut().enumerate() {
        t.success_rate = t.succeeded as f64 / t.offered as f64;
        t.latency_ms = quantiles(t.admitted, 12.5 + k as f64);
        offered += t.offered;
        succeeded += t.succeeded;
    }
    totals.offered_rps = offered as f64 / 6.0;
    totals.goodput_rps = succeeded as f64 / 6.0;
    totals.latency_ms = quantiles(offered, 13.0);
    Report {
        scenario: ScenarioInfo {
            name: "overload-ramp".into(),
            description: "Load ramps past capacity; sheddable goes first.".into(),
            seed: 42,
            duration_s: 6.0,
            interval_s: 1.0,
            workers: 2,
            modules: vec![ModuleInfo {
                name: "sluice_throttle".into(),
                path: "/build/target/wasm32-wasip1/wasm-release/sluice_throttle.wasm".into(),
                sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
                size_bytes: 183_412,
            }],
        },
        classes: CLASSES.iter().map(|c| c.to_string()).collect(),
        clusters: vec!["primary".into(), "fallback".into()],
        series,
        totals,
        assertions: vec![
            AssertionOutcome {
                text: "success_rate{class=critical} >= 0.99 after 2s".into(),
                measured: 0.9947,
                threshold: 0.99,
                passed: true,
            },
            AssertionOutcome {
                text: "p99{class=critical} <= 40ms".into(),
                measured: 47.25,
                threshold: 40.0,
                passed: false,
            },
        ],
        vm_events: vec![VmEvent {
            at_s: 3.25,
            worker: "worker_1".into(),
            plugin: "sluice_throttle".into(),
            callback: "proxy_on_request_headers".into(),
            kind: "trap".into(),
            message: "wasm trap: out of bounds memory access".into(),
        }],
        run: RunInfo {
            wall_seconds: 0.734,
            simulated_requests: 810,
            speedup: 8.17,
            harness_version: "0.1.0".into(),
        },
    }
}
