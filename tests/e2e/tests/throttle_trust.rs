//! Trust and the per-tenant cap in real Envoy.
//!
//! Every test client connects from 127.0.0.1, so trust is shown with two
//! configurations: one that trusts only 10.0.0.0/8 (the loopback client is
//! then an untrusted source whose headers are forged as far as Sluice is
//! concerned) and one that trusts 127.0.0.1/32 (a gateway).

mod throttle;

use sluice_testkit::client::HttpClient;
use sluice_testkit::Upstream;
use std::time::Duration;
use throttle::{start, stat, wait_until};

const ECHO: (&str, &str) = ("x-upstream-echo", "x-sluice-priority,x-tenant");

/// Fixed shares: with a limit of 4 and critical requests held for 1.5 s,
/// strict admission would keep the whole limit for critical's measured load
/// for a while after, and this test is about trust and the tenant cap.
fn config(trusted_cidr: &str, untrusted: &str) -> String {
    format!(
        r#"{{"limit": {{"static": {{"max_inflight": 4}}}}, "admission": {{"priority": "shares"}},
            "classes": [{{"name": "critical", "share": 1.0}}, {{"name": "default", "share": 0.8}},
                        {{"name": "batch", "share": 0.0}}],
            "trust": {{"source_cidrs": ["{trusted_cidr}"], "untrusted": "{untrusted}"}},
            "tenant": {{"header": "x-tenant", "max_share": 0.5}}}}"#
    )
}

/// From an untrusted source, a priority header that would shed (`batch`,
/// share 0) and a tenant header are ignored and removed before the request
/// reaches the service; each is counted.
#[test]
fn steering_headers_from_an_untrusted_source_are_ignored_and_stripped() {
    let upstream = Upstream::start("app", Default::default()).expect("upstream");
    let (envoy, url) = start(&upstream, &config("10.0.0.0/8", "strip"));
    let client = HttpClient::new();
    let r = client
        .get(
            &url,
            &[("x-sluice-priority", "batch"), ("x-tenant", "acme"), ECHO],
        )
        .expect("request");
    assert_eq!(
        r.status, 200,
        "the forged batch class is not applied: {r:?}"
    );
    assert_eq!(r.header("x-upstream-echo-x-sluice-priority"), None, "{r:?}");
    assert_eq!(r.header("x-upstream-echo-x-tenant"), None, "{r:?}");
    assert_eq!(stat(&envoy, "untrusted_steering"), 2);
    assert_eq!(stat(&envoy, "rq_admitted.class.default"), 1);
    assert_eq!(
        stat(&envoy, "rq_shed.class.batch.reason.concurrency_limit"),
        0
    );
    // A request without steering headers is not counted.
    client.get(&url, &[]).expect("plain");
    assert_eq!(stat(&envoy, "untrusted_steering"), 2);
}

/// `untrusted: ignore` leaves the headers on the request for the service,
/// but Sluice still does not act on them.
#[test]
fn ignore_leaves_untrusted_headers_in_place_but_does_not_act_on_them() {
    let upstream = Upstream::start("app", Default::default()).expect("upstream");
    let (envoy, url) = start(&upstream, &config("10.0.0.0/8", "ignore"));
    let r = HttpClient::new()
        .get(&url, &[("x-sluice-priority", "batch"), ECHO])
        .expect("request");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("x-upstream-echo-x-sluice-priority"), Some("batch"));
    assert_eq!(stat(&envoy, "untrusted_steering"), 1);
}

/// From a trusted source the headers count: `batch` is shed, and one
/// tenant may hold at most half of the limit of 4 in flight while another
/// tenant is still admitted.
#[test]
fn trusted_headers_count_and_one_tenant_cannot_take_the_whole_limit() {
    let upstream = Upstream::start("app", Default::default()).expect("upstream");
    let (envoy, url) = start(&upstream, &config("127.0.0.1/32", "strip"));
    let client = HttpClient::new();
    let batch = client
        .get(&url, &[("x-sluice-priority", "batch"), ECHO])
        .expect("batch");
    assert_eq!(batch.status, 503, "{batch:?}");
    let kept = client
        .get(&url, &[("x-tenant", "acme"), ECHO])
        .expect("kept");
    assert_eq!(kept.header("x-upstream-echo-x-tenant"), Some("acme"));

    let held: Vec<_> = (0..2)
        .map(|_| {
            client.spawn(
                "GET",
                &url,
                &[
                    ("x-tenant", "acme"),
                    ("x-sluice-priority", "critical"),
                    ("x-upstream-delay-ms", "1500"),
                ],
            )
        })
        .collect();
    wait_until("2 acme requests upstream", Duration::from_secs(10), || {
        upstream.stats().in_service >= 2
    });
    let third = client
        .get(
            &url,
            &[("x-tenant", "acme"), ("x-sluice-priority", "critical")],
        )
        .expect("third acme");
    assert_eq!(third.status, 503, "acme holds 2 of 4 already: {third:?}");
    assert_eq!(third.header("x-sluice-shed-reason"), Some("tenant_cap"));
    let other = client
        .get(
            &url,
            &[("x-tenant", "globex"), ("x-sluice-priority", "critical")],
        )
        .expect("globex");
    assert_eq!(other.status, 200, "another tenant still gets in: {other:?}");
    for h in held {
        assert_eq!(h.wait().expect("held").status, 200);
    }
    let after = client
        .get(&url, &[("x-tenant", "acme")])
        .expect("acme after");
    assert_eq!(after.status, 200, "acme's slots came back: {after:?}");
    assert_eq!(stat(&envoy, "rq_shed.class.critical.reason.tenant_cap"), 1);
    // The capped request is counted as shed only, not also as admitted.
    assert_eq!(stat(&envoy, "rq_admitted.class.critical"), 3);
    assert_eq!(stat(&envoy, "rq_admitted.class.default"), 2);
    assert_eq!(stat(&envoy, "untrusted_steering"), 0);
    wait_until("in-flight back to 0", Duration::from_secs(5), || {
        stat(&envoy, "inflight") == 0
    });
}
