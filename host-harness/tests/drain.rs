//! When the traffic stops, a replay waits for the requests in flight (up to
//! the route timeout), and every outcome counts in the interval its request
//! arrived in: the last second of a run is not a second of lost requests.

use sluice_harness::replay::{replay_text, ReplayOptions};
use sluice_harness::vm::{Runtime, RuntimeOptions};
use sluice_testkit::paths::{repo_root, wasm_module};

/// 50 req/s for 2 s to 200 servers at a constant 1.5 s: every request is
/// still in flight when the traffic ends, and the route timeout is `timeout`.
fn scenario(timeout: &str) -> String {
    let module =
        wasm_module("sluice_throttle").expect("built module (run `cargo xtask build-wasm`)");
    format!(
        r#"
name: drain
seed: 1
duration: 2s
interval: 1s
workers: 1
filters:
  - name: sluice_throttle
    module: {module}
    configuration:
      limit: {{static: {{max_inflight: 1000}}}}
route: {{cluster: app, timeout: {timeout}}}
upstreams:
  app:
    servers: 200
    service: {{mean: 1500ms, distribution: constant}}
traffic:
  - generator:
      rate: {{constant: {{rps: 50}}}}
      mix:
        - {{weight: 1, headers: {{x-sluice-priority: critical}}}}
"#,
        module = module.display()
    )
}

fn run(timeout: &str) -> sluice_report::model::Report {
    let runtime = Runtime::new(&RuntimeOptions {
        cache_dir: Some(repo_root().join("target/sluice-cache")),
    })
    .expect("wasmtime engine");
    let path = repo_root().join("host-harness/tests/drain.yaml");
    replay_text(
        &scenario(timeout),
        &path,
        &runtime,
        &ReplayOptions::default(),
    )
    .expect("replays")
    .report
}

#[test]
fn requests_in_flight_when_traffic_ends_are_answered_and_counted_where_they_arrived() {
    let report = run("10s");
    let critical = &report.totals.classes["critical"];
    assert!(critical.offered >= 80, "{critical:?}");
    assert_eq!(critical.succeeded, critical.offered, "{critical:?}");
    for interval in &report.series {
        let c = &interval.classes["critical"];
        assert!(c.offered > 0);
        assert_eq!(c.succeeded, c.offered, "at {}s: {c:?}", interval.start_s);
        let p50 = c.latency_ms.p50;
        assert!(
            (1400.0..1600.0).contains(&p50),
            "at {}s: {p50}",
            interval.start_s
        );
    }
}

#[test]
fn the_wait_ends_at_the_route_timeout() {
    // A 1 s route timeout is shorter than the service: every request fails
    // by timeout, after the traffic ended for the later ones.
    let report = run("1s");
    let critical = &report.totals.classes["critical"];
    assert_eq!(critical.succeeded, 0, "{critical:?}");
    assert_eq!(critical.failed, critical.admitted, "{critical:?}");
    assert_eq!(critical.admitted, critical.offered, "{critical:?}");
}
