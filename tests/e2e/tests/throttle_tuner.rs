//! The SLO tuner in real Envoy (two workers).

mod throttle;

use sluice_testkit::client::HttpClient;
use sluice_testkit::Upstream;
use std::time::Duration;
use throttle::{start, stat, wait_until};

/// A latency target no real request can meet (1 ms against an upstream that
/// takes 5 ms) makes the tuner tighten at its first evaluation: with
/// `share_scale` at its minimum (0) every class but critical is refused,
/// for the reason `slo_guard`, while critical passes; the gauges show the
/// tuned value.
#[test]
fn a_violated_latency_slo_tightens_shares_and_sheds_for_slo_guard() {
    let upstream = Upstream::start("app", Default::default()).expect("upstream");
    let config = r#"{"limit": {"adaptive": {"window_ms": 100, "initial_limit": 50}},
        "tick_ms": 50,
        "slo": {"latency_ms": 1, "interval_ms": 100, "cooldown_ms": 0, "jitter": 0,
                "tune": {"share_scale": {"min": 0, "max": 1, "step": 1}}}}"#;
    let (envoy, url) = start(&upstream, config);
    let client = HttpClient::new();
    let slow = [("x-upstream-delay-ms", "5")];
    // Before the tuner has seen a latency, default traffic passes.
    let first = client.get(&url, &slow).expect("request");
    assert_eq!(first.status, 200, "{first:?}");
    wait_until("the tuner tightens", Duration::from_secs(10), || {
        let _ = client.get(&url, &[("x-sluice-priority", "critical"), slow[0]]);
        stat(&envoy, "tuner.tighten.cause.latency") >= 1
    });
    // Every worker picks up the tuned value at its next tick.
    wait_until("both workers apply it", Duration::from_secs(5), || {
        (0..4).all(|_| {
            client
                .get(&url, &[("x-sluice-priority", "sheddable")])
                .is_ok_and(|r| r.header("x-sluice-shed-reason") == Some("slo_guard"))
        })
    });
    let critical = client
        .get(&url, &[("x-sluice-priority", "critical")])
        .expect("critical");
    assert_eq!(critical.status, 200, "{critical:?}");
    assert_eq!(stat(&envoy, "tuner.share_scale_permille"), 0);
    assert!(stat(&envoy, "rq_shed.class.sheddable.reason.slo_guard") >= 4);
    assert_eq!(stat(&envoy, "rq_shed.class.critical.reason.slo_guard"), 0);
}
