//! Classification rules and the shed response's gRPC status in real Envoy.
//!
//! The `batch` class has `max_share` 0 (the operator's cap under strict
//! admission): its threshold is 0, so a request it classifies is always shed, which makes the classification visible in the
//! response without any load.

mod throttle;

use sluice_testkit::client::HttpClient;
use sluice_testkit::Upstream;
use throttle::{start, stat};

const CONFIG: &str = r#"{
    "limit": {"static": {"max_inflight": 100}},
    "classes": [{"name": "critical", "share": 1.0}, {"name": "default", "share": 0.8},
                {"name": "batch", "share": 0.0, "max_share": 0.0}],
    "rules": [
        {"class": "critical", "path_prefix": "/reports/urgent", "methods": ["POST"]},
        {"class": "batch", "path_prefix": "/reports"},
        {"class": "batch", "source_cidrs": ["127.0.0.0/8"], "headers": [{"name": "x-crawler"}]},
        {"class": "batch", "headers": [{"name": ":authority", "exact": "bulk.internal"}]}
    ],
    "shed_response": {"status": 429, "grpc_status": 8, "retry_after_seconds": 2}
}"#;

#[test]
fn rules_on_path_method_headers_and_source_address_pick_the_class() {
    let upstream = Upstream::start("app", Default::default()).expect("upstream");
    let (envoy, url) = start(&upstream, CONFIG);
    let client = HttpClient::new();

    let batch = client
        .get(&format!("{url}/reports/q3?x=1"), &[])
        .expect("batch");
    assert_eq!(batch.status, 429, "{batch:?}");
    assert_eq!(batch.header("retry-after"), Some("2"));
    assert_eq!(
        batch.header("x-sluice-shed-reason"),
        Some("concurrency_limit")
    );

    // The earlier rule wins: POST to the urgent prefix is critical; the
    // priority header does not override a rule.
    let urgent = client
        .request(
            "POST",
            &format!("{url}/reports/urgent"),
            &[("x-sluice-priority", "batch")],
        )
        .expect("urgent");
    assert_eq!(urgent.status, 200, "{urgent:?}");
    let get_urgent = client
        .get(&format!("{url}/reports/urgent"), &[])
        .expect("get");
    assert_eq!(get_urgent.status, 429, "GET is not in the critical rule");

    // The source-address rule sees the loopback peer through Envoy's
    // `source.address` property.
    let crawler = client.get(&url, &[("x-crawler", "1")]).expect("crawler");
    assert_eq!(crawler.status, 429, "{crawler:?}");
    let by_host = client
        .get(&url, &[("host", "bulk.internal")])
        .expect("host");
    assert_eq!(by_host.status, 429, "{by_host:?}");

    // No rule matches: the priority header, then the default class.
    let plain = client.get(&url, &[]).expect("plain");
    assert_eq!(plain.status, 200);
    let by_header = client
        .get(&url, &[("x-sluice-priority", "batch")])
        .expect("header");
    assert_eq!(by_header.status, 429);

    assert_eq!(
        stat(&envoy, "rq_shed.class.batch.reason.concurrency_limit"),
        5
    );
    assert_eq!(stat(&envoy, "rq_admitted.class.critical"), 1);
    assert_eq!(stat(&envoy, "rq_admitted.class.default"), 1);
}

/// Envoy turns the filter's local reply to a gRPC request into a
/// trailers-only gRPC response carrying the configured `grpc-status`.
#[test]
fn a_shed_grpc_request_gets_the_configured_grpc_status() {
    let upstream = Upstream::start("app", Default::default()).expect("upstream");
    let (_envoy, url) = start(&upstream, CONFIG);
    let reply = HttpClient::new()
        .request(
            "POST",
            &format!("{url}/reports.Service/Export"),
            &[("content-type", "application/grpc"), ("te", "trailers")],
        )
        .expect("grpc request");
    // `/reports.Service/...` starts with `/reports`: the batch rule sheds it.
    assert_eq!(
        reply.status, 200,
        "gRPC errors travel in grpc-status: {reply:?}"
    );
    assert_eq!(reply.header("grpc-status"), Some("8"), "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("application/grpc"));
}

/// A route with its own destination and limit: requests to `/checkout`
/// count against a limit of 2 of their own, while the rest of the traffic
/// counts against the top-level limit; the route's gauges show its count.
#[test]
fn a_route_counts_against_its_own_destination_and_limit() {
    let upstream = Upstream::start("app", Default::default()).expect("upstream");
    let config = r#"{"limit": {"static": {"max_inflight": 100}}, "tick_ms": 50,
        "routes": [{"destination": "checkout", "path_prefix": "/checkout",
                    "limit": {"static": {"max_inflight": 2}}}]}"#;
    let (envoy, url) = start(&upstream, config);
    let client = HttpClient::new();
    let checkout = format!("{url}/checkout/pay");
    // One request before the held ones, so the route's records have seen
    // traffic on some worker before the limit is filled exactly.
    let first = client.get(&checkout, &[]).expect("first checkout");
    assert_eq!(first.status, 200);
    let held: Vec<_> = (0..2)
        .map(|_| {
            client.spawn(
                "GET",
                &checkout,
                &[
                    ("x-upstream-delay-ms", "2000"),
                    ("x-sluice-priority", "critical"),
                ],
            )
        })
        .collect();
    throttle::wait_until(
        "2 checkout requests upstream",
        std::time::Duration::from_secs(10),
        || upstream.stats().in_service >= 2,
    );
    let third = client
        .get(&checkout, &[("x-sluice-priority", "critical")])
        .expect("third checkout");
    assert_eq!(
        third.status, 503,
        "the route's limit of 2 is full: {third:?}"
    );
    let elsewhere = client
        .get(
            &format!("{url}/catalog"),
            &[("x-sluice-priority", "sheddable")],
        )
        .expect("catalog");
    assert_eq!(elsewhere.status, 200, "other paths use the top-level limit");
    assert_eq!(stat(&envoy, "route_inflight.destination.checkout"), 2);
    assert_eq!(stat(&envoy, "route_limit.destination.checkout"), 2);
    for h in held {
        h.wait().expect("held request");
    }
}
