//! Every way a stream can end badly, with the throttle in real Envoy (two
//! workers): the upstream refuses connections or has no host, the route
//! times out, the upstream closes without answering or resets mid-body,
//! the client goes away before the answer (with and without its request
//! body sent), and the throttle sheds. After each, the throttle's
//! in-flight gauge is back to 0 and the full limit is available again: a
//! burst of `LIMIT` critical requests is admitted at once, and one more
//! is shed (so a slot was neither leaked nor given back twice).

use sluice_testkit::bootstrap::Bootstrap;
use sluice_testkit::client::{HttpClient, RawRequest};
use sluice_testkit::envoy::{Envoy, Options};
use sluice_testkit::paths;
use sluice_testkit::{Behaviour, Upstream};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

const PLUGIN: &str = "sluice_throttle";

const LIMIT: usize = 10;
/// Fixed shares: what is admitted does not depend on the classes' earlier
/// load, so each fault starts from the same thresholds (the slot
/// accounting under test is the same under strict admission).
const CONFIG: &str = r#"{"limit": {"static": {"max_inflight": 10}}, "destination": "local_app", "tick_ms": 100,
        "admission": {"priority": "shares"}}"#;

/// Requests per fault: enough connections that both workers see some.
const N: usize = 6;

/// `throttle-inbound.yaml` with a 2 s route timeout, and a first route
/// that sends a request to the cluster its `x-test-cluster` header names:
/// `refused` (an address nothing listens on) or `empty` (no hosts).
fn start(upstream: &Upstream) -> (Envoy, String) {
    let text = std::fs::read_to_string(paths::envoy_config("throttle-inbound.yaml"))
        .expect("throttle-inbound.yaml");
    let routes = "              - match: {prefix: \"/\"}\n                route: {cluster: local_app, timeout: 30s}\n";
    assert!(
        text.contains(routes),
        "the route in throttle-inbound.yaml moved"
    );
    let refused = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let mut text = text.replace(
        routes,
        "              - match: {prefix: \"/\", headers: [{name: x-test-cluster, present_match: true}]}\n                route: {cluster_header: x-test-cluster, timeout: 2s}\n              - match: {prefix: \"/\"}\n                route: {cluster: local_app, timeout: 2s}\n",
    );
    assert!(
        text.trim_end().ends_with("port_value: 8080}}}"),
        "throttle-inbound.yaml no longer ends with its cluster"
    );
    text.push_str(&format!(
        "  - name: refused\n    connect_timeout: 1s\n    type: STATIC\n    load_assignment:\n      cluster_name: refused\n      endpoints:\n      - lb_endpoints:\n        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {}}}}}}}\n  - name: empty\n    connect_timeout: 1s\n    type: STATIC\n    load_assignment: {{cluster_name: empty, endpoints: []}}\n",
        refused.port()
    ));
    let bootstrap = Bootstrap::from_yaml(&text)
        .and_then(Bootstrap::for_test)
        .and_then(|b| b.cluster_endpoints("local_app", &[upstream.addr()]))
        .and_then(|b| b.plugin_config(PLUGIN, CONFIG))
        .expect("bootstrap");
    let envoy = Envoy::start(&bootstrap, Options::default()).expect("envoy starts");
    let url = format!("http://{}", envoy.listener("inbound").expect("listener"));
    (envoy, url)
}

fn stat(envoy: &Envoy, name: &str) -> u64 {
    envoy
        .stats()
        .expect("stats")
        .value(&format!("wasmcustom.sluice.throttle.{name}"))
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn inflight(envoy: &Envoy) -> u64 {
    envoy
        .wait_for_stats(Duration::from_secs(3), |s| {
            s.value("wasmcustom.sluice.throttle.inflight") == 0
        })
        .expect("stats")
        .value("wasmcustom.sluice.throttle.inflight")
}

/// No slot leaked and none returned twice: the gauge reads 0, `LIMIT`
/// critical requests are in service at once, and one more is shed.
fn assert_full_limit_available(envoy: &Envoy, client: &HttpClient, url: &str, up: &Upstream) {
    assert_eq!(inflight(envoy), 0, "in-flight gauge after the fault");
    wait_until("the upstream to be idle", Duration::from_secs(5), || {
        up.stats().in_service == 0
    });
    let critical = [
        ("x-sluice-priority", "critical"),
        ("x-upstream-delay-ms", "1000"),
    ];
    let burst: Vec<_> = (0..LIMIT)
        .map(|_| client.spawn("GET", url, &critical))
        .collect();
    wait_until(
        "a limit-sized burst in service",
        Duration::from_secs(5),
        || up.stats().in_service == LIMIT as u64,
    );
    let extra = client
        .get(url, &[("x-sluice-priority", "critical")])
        .expect("one more");
    assert_eq!(extra.status, 503, "one past the limit: {extra:?}");
    assert_eq!(
        extra.header("x-sluice-shed-reason"),
        Some("concurrency_limit")
    );
    let statuses: Vec<u16> = burst
        .into_iter()
        .map(|p| p.wait().expect("burst").status)
        .collect();
    assert_eq!(statuses, vec![200; LIMIT], "the burst");
    assert_eq!(inflight(envoy), 0, "in-flight gauge after the burst");
}

/// `N` concurrent requests with `headers`; their statuses (None: no HTTP
/// answer).
fn concurrent(client: &HttpClient, url: &str, headers: &[(&str, &str)]) -> Vec<Option<u16>> {
    let pending: Vec<_> = (0..N).map(|_| client.spawn("GET", url, headers)).collect();
    pending
        .into_iter()
        .map(|p| p.wait().ok().map(|r| r.status))
        .collect()
}

/// Connection refused and no healthy host: Envoy's router answers 503
/// itself, after the throttle admitted the request.
#[test]
fn upstream_outage_and_no_healthy_host_free_their_slots() {
    let up = Upstream::start("app", Behaviour::default()).expect("upstream");
    let (envoy, url) = start(&up);
    let client = HttpClient::new();
    for cluster in ["refused", "empty"] {
        let pending: Vec<_> = (0..N)
            .map(|_| client.spawn("GET", &url, &[("x-test-cluster", cluster)]))
            .collect();
        for p in pending {
            let r = p.wait().expect("answer");
            assert_eq!(r.status, 503, "{cluster}: {r:?}");
            assert_eq!(
                r.header("x-sluice-shed-reason"),
                None,
                "{cluster}: not shed"
            );
        }
        assert_full_limit_available(&envoy, &client, &url, &up);
    }
    // Every request above was admitted by the throttle: 2 x N failed ones,
    // and two bursts.
    assert_eq!(stat(&envoy, "rq_admitted.class.critical"), 2 * LIMIT as u64);
    assert_eq!(stat(&envoy, "rq_admitted.class.default"), 2 * N as u64);
}

/// A slow upstream past the route timeout: Envoy answers 504 and resets
/// the upstream request.
#[test]
fn route_timeouts_free_their_slots() {
    let up = Upstream::start("app", Behaviour::default()).expect("upstream");
    let (envoy, url) = start(&up);
    let client = HttpClient::new();
    let statuses = concurrent(&client, &url, &[("x-upstream-delay-ms", "5000")]);
    assert_eq!(statuses, vec![Some(504); N]);
    wait_until(
        "the upstream to see the resets",
        Duration::from_secs(5),
        || up.stats().cancelled == N as u64,
    );
    assert_full_limit_available(&envoy, &client, &url, &up);
}

/// The upstream closes the connection without answering (Envoy answers
/// 503), or sends the head and part of the body and then closes it (Envoy
/// has forwarded the head already, so the client sees its response cut).
#[test]
fn upstream_resets_before_and_after_the_response_head_free_their_slots() {
    let up = Upstream::start("app", Behaviour::default()).expect("upstream");
    let (envoy, url) = start(&up);
    let client = HttpClient::new();

    let closed = concurrent(&client, &url, &[("x-upstream-fault", "close")]);
    assert_eq!(closed, vec![Some(503); N], "closed without an answer");
    assert_full_limit_available(&envoy, &client, &url, &up);

    let cut = concurrent(&client, &url, &[("x-upstream-fault", "abort-body")]);
    assert_eq!(cut, vec![None; N], "responses cut mid-body");
    assert_full_limit_available(&envoy, &client, &url, &up);
    assert_eq!(up.stats().faults, 2 * N as u64);
    // Both faults closed the upstream connection with the request active.
    assert_eq!(
        envoy
            .stats()
            .expect("stats")
            .value("cluster.local_app.upstream_cx_destroy_remote_with_active_rq"),
        2 * N as u64
    );
}

/// Clients that go away: some while the upstream works on the request,
/// some before they have sent the whole request body (admitted at the
/// headers, never complete).
#[test]
fn client_disconnects_free_their_slots() {
    let up = Upstream::start("app", Behaviour::default()).expect("upstream");
    let (envoy, url) = start(&up);
    let client = HttpClient::new();
    let listener = envoy.listener("inbound").expect("listener");

    let waiting: Vec<_> = (0..N)
        .map(|_| RawRequest::send(listener, "/", &[("x-upstream-delay-ms", "5000")]).expect("raw"))
        .collect();
    wait_until("the requests in service", Duration::from_secs(5), || {
        up.stats().in_service == N as u64
    });
    waiting.into_iter().for_each(RawRequest::reset);
    wait_until(
        "the upstream to see the resets",
        Duration::from_secs(5),
        || up.stats().cancelled == N as u64,
    );
    assert_full_limit_available(&envoy, &client, &url, &up);

    let partial: Vec<TcpStream> = (0..N).map(|_| half_sent_post(listener)).collect();
    let held = envoy
        .wait_for_stats(Duration::from_secs(5), |s| {
            s.value("wasmcustom.sluice.throttle.inflight") == N as u64
        })
        .expect("stats");
    assert_eq!(
        held.value("wasmcustom.sluice.throttle.inflight"),
        N as u64,
        "admitted at their headers"
    );
    for s in partial {
        let _ = s.shutdown(std::net::Shutdown::Both);
    }
    assert_full_limit_available(&envoy, &client, &url, &up);
}

/// A POST whose headers promise 1000 body bytes, of which 7 are sent.
fn half_sent_post(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(b"POST / HTTP/1.1\r\nhost: test\r\ncontent-length: 1000\r\n\r\npartial")
        .expect("write");
    s
}

/// Shed requests take no slot, so they give none back: with default's 8
/// slots held, a crowd of sheddable and default requests is shed and the
/// count stays at 8.
#[test]
fn shed_requests_leave_the_count_alone() {
    let up = Upstream::start("app", Behaviour::default()).expect("upstream");
    let (envoy, url) = start(&up);
    let client = HttpClient::new();
    let held: Vec<_> = (0..8)
        .map(|_| client.spawn("GET", &url, &[("x-upstream-delay-ms", "1500")]))
        .collect();
    wait_until("8 slots held", Duration::from_secs(5), || {
        up.stats().in_service == 8
    });
    for headers in [&[("x-sluice-priority", "sheddable")][..], &[]] {
        for status in concurrent(&client, &url, headers) {
            assert_eq!(status, Some(503), "{headers:?}");
        }
    }
    let s = envoy.stats().expect("stats");
    assert_eq!(s.value("wasmcustom.sluice.throttle.inflight"), 8);
    for h in held {
        assert_eq!(h.wait().expect("held").status, 200);
    }
    assert_full_limit_available(&envoy, &client, &url, &up);
    assert_eq!(
        stat(&envoy, "rq_shed.class.sheddable.reason.concurrency_limit")
            + stat(&envoy, "rq_shed.class.default.reason.concurrency_limit"),
        2 * N as u64
    );
}
