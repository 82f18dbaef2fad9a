//! Shadow mode and the adaptive limit in real Envoy (two workers).

mod throttle;

use sluice_testkit::client::{priority_mix, HttpClient};
use sluice_testkit::{Behaviour, Upstream};
use std::time::{Duration, Instant};
use throttle::{start, stat, wait_until};

/// With 8 slow requests holding slots of a limit of 10, a sheddable request
/// would be shed; in shadow mode it is forwarded and answered by the
/// upstream, and the decision is counted.
#[test]
fn shadow_mode_forwards_what_it_would_shed_and_counts_it() {
    let upstream = Upstream::start("app", Behaviour::default()).expect("upstream");
    let (envoy, url) = start(
        &upstream,
        r#"{"limit": {"static": {"max_inflight": 10}}, "mode": "shadow", "tick_ms": 100}"#,
    );
    let client = HttpClient::new();
    let slow: Vec<_> = (0..8)
        .map(|_| client.spawn("GET", &url, &[("x-upstream-delay-ms", "2000")]))
        .collect();
    wait_until("8 slow requests upstream", Duration::from_secs(10), || {
        upstream.stats().in_service >= 8
    });
    let r = client
        .get(&url, &[("x-sluice-priority", "sheddable")])
        .expect("sheddable request");
    assert_eq!(r.status, 200, "shadow mode forwards: {r:?}");
    assert_eq!(r.header("x-sluice-shed-reason"), None);
    assert_eq!(
        stat(
            &envoy,
            "rq_shadow_shed.class.sheddable.reason.concurrency_limit"
        ),
        1
    );
    assert_eq!(
        stat(&envoy, "rq_shed.class.sheddable.reason.concurrency_limit"),
        0
    );
    let c = client
        .get(&url, &[("x-sluice-priority", "critical")])
        .expect("critical request");
    assert_eq!(c.status, 200);
    assert_eq!(
        stat(
            &envoy,
            "rq_shadow_shed.class.critical.reason.concurrency_limit"
        ),
        0
    );
    for p in slow {
        p.wait().expect("slow request");
    }
}

/// The adaptive limit in front of an upstream that serves 4 at a time at
/// 20 ms: under a load of 16 concurrent clients, the shared limit settles
/// low, critical traffic keeps succeeding and sheddable takes the cut; the
/// limit and latency gauges show what the controller sees.
#[test]
fn the_adaptive_limit_protects_critical_traffic_in_real_envoy() {
    let upstream = Upstream::start(
        "app",
        Behaviour {
            capacity: 4,
            service_ms: 20.0,
            ..Behaviour::default()
        },
    )
    .expect("upstream");
    // Shares leave critical a reserve even at the minimum limit: at L = 4,
    // default is admitted below 2 and sheddable below 1, so the two critical
    // clients always find room. That holds across the two workers only if
    // they agree on L: when one closes the start-up probe and raises L from
    // 4 to 16, the other admits against 4 until its next tick while the
    // first already lets default in up to 9, and it used to shed critical
    // then (1 run in 3 under CPU load). A worker now re-reads the limit
    // before it refuses anything.
    let config = r#"{"limit": {"adaptive": {"min_limit": 4, "max_limit": 64, "initial_limit": 16,
        "window_ms": 250, "min_rtt_interval_s": 30, "buffer": 0.5}}, "tick_ms": 50,
        "classes": [{"name": "critical", "share": 1.0}, {"name": "default", "share": 0.6},
                    {"name": "sheddable", "share": 0.3}]}"#;
    let (envoy, url) = start(&upstream, config);
    let client = HttpClient::new();
    let report = client.load(&url, Duration::from_secs(6), &priority_mix(2, 6, 8));
    let (mut critical_ok, mut critical_all, mut sheddable_503) = (0, 0, 0);
    for (label, o) in &report.groups {
        match label.as_str() {
            "critical" => {
                critical_ok += o.status(200);
                critical_all += o.total();
            }
            "sheddable" => sheddable_503 += o.status(503),
            _ => {}
        }
    }
    assert!(critical_all > 50, "{critical_all} critical requests");
    let critical_success = critical_ok as f64 / critical_all as f64;
    let statuses: Vec<_> = report
        .groups
        .iter()
        .map(|(label, o)| format!("{label}: {:?}", o.by_status))
        .collect();
    let gauges = format!(
        "limit {} latency_ms {} min_rtt_ms {}; {}",
        stat(&envoy, "limit"),
        stat(&envoy, "latency_ms"),
        stat(&envoy, "min_rtt_ms"),
        statuses.join(", ")
    );
    assert!(
        critical_success >= 0.99,
        "critical success {critical_success}: {gauges}"
    );
    assert!(sheddable_503 > 0, "sheddable absorbed the overload");
    let limit = stat(&envoy, "limit");
    assert!((2..=64).contains(&limit), "limit {limit} within its bounds");
    assert!(stat(&envoy, "min_rtt_ms") > 0, "the baseline was measured");
    assert_eq!(
        stat(&envoy, "rq_shed.class.sheddable.reason.concurrency_limit"),
        sheddable_503,
        "Envoy's counter agrees with the clients"
    );
}

/// While the upstream answers 500, the success-rate throttle refuses a
/// growing share of requests before they reach it, with reason
/// `success_rate`; Envoy's counter agrees with what the client saw.
#[test]
fn success_rate_throttling_refuses_while_the_upstream_fails() {
    let upstream = Upstream::start("app", Behaviour::default()).expect("upstream");
    let (envoy, url) = start(
        &upstream,
        r#"{"limit": {"static": {"max_inflight": 100}}, "tick_ms": 50,
            "success_rate": {"aggression": 2.0, "min_rps": 1, "max_reject": 0.9, "window_ms": 500}}"#,
    );
    let client = HttpClient::new();
    let (mut refused, mut failed) = (0u64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let r = client
            .get(&url, &[("x-upstream-status", "500")])
            .expect("request");
        match (r.status, r.header("x-sluice-shed-reason")) {
            (503, Some("success_rate")) => refused += 1,
            (500, None) => failed += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert!(failed > 0, "some requests still probe the upstream");
    assert!(
        refused > failed,
        "most requests are refused once the failure rate is known: {refused} refused, {failed} failed"
    );
    assert_eq!(
        stat(&envoy, "rq_shed.class.default.reason.success_rate"),
        refused,
        "Envoy's counter agrees with the client"
    );
    assert_eq!(
        upstream.stats().requests,
        failed,
        "refused requests never reached the upstream"
    );
}
