//! The router in real Envoy (two workers): three upstream servers on
//! loopback as three clusters, routed by `cluster_header`.

use sluice_testkit::bootstrap::Bootstrap;
use sluice_testkit::client::{Group, HttpClient};
use sluice_testkit::envoy::{Envoy, Options};
use sluice_testkit::{Behaviour, Upstream};
use std::time::{Duration, Instant};

const NAMES: [&str; 3] = ["app_a", "app_b", "app_c"];

struct Mesh {
    envoy: Envoy,
    url: String,
    upstreams: Vec<Upstream>,
}

fn start(router: &str, throttle: Option<&str>, behaviours: [Behaviour; 3]) -> Mesh {
    let upstreams: Vec<Upstream> = NAMES
        .iter()
        .zip(behaviours)
        .map(|(n, b)| Upstream::start(n, b).expect("upstream"))
        .collect();
    let mut bootstrap = Bootstrap::load("router-mesh.yaml")
        .and_then(Bootstrap::for_test)
        .and_then(|b| b.plugin_config("sluice_router", router))
        .expect("bootstrap");
    if let Some(t) = throttle {
        bootstrap = bootstrap
            .plugin_config("sluice_throttle", t)
            .expect("throttle");
    }
    for (n, u) in NAMES.iter().zip(&upstreams) {
        bootstrap = bootstrap
            .cluster_endpoints(n, &[u.addr()])
            .expect("endpoints");
    }
    let envoy = Envoy::start(&bootstrap, Options::default()).expect("envoy starts");
    let url = format!("http://{}", envoy.listener("mesh").expect("listener"));
    Mesh {
        envoy,
        url,
        upstreams,
    }
}

fn stat(envoy: &Envoy, name: &str) -> u64 {
    envoy
        .stats()
        .expect("stats")
        .value(&format!("wasmcustom.sluice.router.{name}"))
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

const RULES: &str = r#"{
    "clusters": {"app_a": {}, "app_b": {}, "app_c": {}},
    "decision_header": "x-sluice-route",
    "rules": [
        {"name": "gold", "route_names": ["fallback"],
         "headers": [{"name": "x-tenant", "exact": "gold"}], "to": "app_c"},
        {"name": "writes", "methods": ["POST", "PUT"], "to": "app_b"}
    ],
    "default": {"to": "app_a"},
    "tick_ms": 100
}"#;

/// The gold rule matches only on the route named `fallback` (the
/// `xds.route_name` property): reading it makes Envoy select a route before
/// the router has set `x-sluice-cluster`, and the one it selects then is the
/// fallback (to app_a). The request still reaches app_c, the cluster the
/// router wrote into the header: Envoy cleared the cached route when the
/// 0.2.1 module changed a request header, and routed again.
#[test]
fn requests_are_routed_by_tenant_and_method_through_the_cleared_route_cache() {
    let m = start(RULES, None, Default::default());
    let client = HttpClient::new();
    let gold = client.get(&m.url, &[("x-tenant", "gold")]).expect("gold");
    assert_eq!(gold.header("x-upstream-name"), Some("app_c"), "{gold:?}");
    assert_eq!(
        gold.header("x-sluice-route"),
        Some("app_c; reason=rule:gold")
    );
    let write = client.request("POST", &m.url, &[]).expect("post");
    assert_eq!(write.header("x-upstream-name"), Some("app_b"), "{write:?}");
    let plain = client.get(&m.url, &[("x-tenant", "silver")]).expect("get");
    assert_eq!(plain.header("x-upstream-name"), Some("app_a"));
    assert_eq!(
        plain.header("x-sluice-route"),
        Some("app_a; reason=rule:default")
    );
    // The stats agree with what the upstreams saw.
    for (i, n) in NAMES.iter().enumerate() {
        assert_eq!(
            stat(&m.envoy, &format!("rq.cluster.{n}.reason.rule")),
            m.upstreams[i].stats().requests,
            "{n}"
        );
    }
}

/// Balanced over three clusters, one of which takes 150 ms per request:
/// the slow one gets a small share, and the router's counts match the
/// upstreams'.
#[test]
fn a_slow_upstream_loses_traffic() {
    let config = r#"{"clusters": {"app_a": {}, "app_b": {}, "app_c": {}},
        "default": {"balance": [{"cluster": "app_a"}, {"cluster": "app_b"}, {"cluster": "app_c"}]},
        "tick_ms": 100}"#;
    let fast = Behaviour {
        service_ms: 5.0,
        ..Behaviour::default()
    };
    let slow = Behaviour {
        service_ms: 150.0,
        ..Behaviour::default()
    };
    let m = start(config, None, [fast.clone(), fast, slow]);
    let client = HttpClient::new();
    let report = client.load(&m.url, Duration::from_secs(4), &[Group::new("all", 8, &[])]);
    let total = report.group("all").total();
    let seen: Vec<u64> = m.upstreams.iter().map(|u| u.stats().requests).collect();
    let slow_share = seen[2] as f64 / total as f64;
    assert!(
        slow_share < 0.15,
        "slow cluster share {slow_share:.3} of {total} ({seen:?})"
    );
    assert!(seen[0] > seen[2] * 3 && seen[1] > seen[2] * 3, "{seen:?}");
    let routed: u64 = NAMES
        .iter()
        .flat_map(|n| {
            ["p2c", "outlier_avoid", "outlier_probe"]
                .map(|r| stat(&m.envoy, &format!("rq.cluster.{n}.reason.{r}")))
        })
        .sum();
    assert_eq!(routed, total, "router decisions vs client requests");
    let c: u64 = ["p2c", "outlier_avoid", "outlier_probe"]
        .iter()
        .map(|r| stat(&m.envoy, &format!("rq.cluster.app_c.reason.{r}")))
        .sum();
    assert_eq!(c, seen[2]);
}

/// Read-your-writes: a write on a `session` route goes to the primary and
/// sets a cookie; that client's reads go to the primary until the window
/// ends, while other clients' reads spread over the replicas.
#[test]
fn after_a_write_the_clients_reads_go_to_the_primary_for_the_window() {
    let config = r#"{"clusters": {"app_a": {}, "app_b": {}, "app_c": {}},
        "decision_header": "x-sluice-route",
        "default": {"primary": "app_a", "replicas": [{"cluster": "app_b"}, {"cluster": "app_c"}],
                    "consistency": "session"},
        "session": {"window_ms": 3000}, "tick_ms": 100}"#;
    let window = Duration::from_millis(3000);
    let m = start(config, None, Default::default());
    let client = HttpClient::new();
    let write = client.request("PUT", &m.url, &[]).expect("write");
    // The pin runs from when the router saw the write, at or before now.
    let written = Instant::now();
    assert_eq!(write.header("x-upstream-name"), Some("app_a"));
    let cookie = write.header("set-cookie").expect("pin cookie").to_string();
    assert!(
        cookie.starts_with("sluice-rw=") && cookie.contains("Max-Age=3"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().expect("pair").to_string();
    for _ in 0..5 {
        let read = client.get(&m.url, &[("cookie", &pair)]).expect("read");
        assert_eq!(read.header("x-upstream-name"), Some("app_a"));
        assert_eq!(
            read.header("x-sluice-route"),
            Some("app_a; reason=session_pin")
        );
        let other = client.get(&m.url, &[]).expect("other read");
        assert_ne!(other.header("x-upstream-name"), Some("app_a"), "{other:?}");
    }
    // Ten requests on loopback take milliseconds; if this machine stalled
    // for most of the window, the reads above proved nothing about it.
    assert!(
        written.elapsed() < window,
        "the pinned reads outlasted the window ({:?})",
        written.elapsed()
    );
    // Past the window, measured from the write, not a fixed sleep.
    std::thread::sleep(
        (written + window + Duration::from_millis(100)).saturating_duration_since(Instant::now()),
    );
    let late = client.get(&m.url, &[("cookie", &pair)]).expect("late read");
    assert_ne!(
        late.header("x-upstream-name"),
        Some("app_a"),
        "the pin expired"
    );
    assert_eq!(stat(&m.envoy, "rq.cluster.app_a.reason.session_pin"), 5);
    assert_eq!(stat(&m.envoy, "rq.cluster.app_a.reason.primary"), 1);
}

/// The two filters share stats: the throttle counts in-flight requests
/// under destination `app_a`; the router reads that count and, once it is
/// near the limit the throttle enforces, spills the gold tenant to app_b.
#[test]
fn the_router_spills_over_when_the_throttles_count_nears_its_limit() {
    let router = r#"{"clusters": {"app_a": {"throttle_destination": "app_a", "limit": 4},
                                  "app_b": {}, "app_c": {}},
        "decision_header": "x-sluice-route", "spill_at": 0.75,
        "rules": [{"name": "gold", "headers": [{"name": "x-tenant", "exact": "gold"}],
                   "to": "app_a", "spillover": {"to": "app_b", "max_fraction": 1.0}}],
        "default": {"to": "app_a"}, "tick_ms": 50}"#;
    let throttle =
        r#"{"limit": {"static": {"max_inflight": 4}}, "destination": "app_a", "tick_ms": 50}"#;
    let m = start(router, Some(throttle), Default::default());
    let client = HttpClient::new();
    let calm = client.get(&m.url, &[("x-tenant", "gold")]).expect("calm");
    assert_eq!(calm.header("x-upstream-name"), Some("app_a"));
    let held: Vec<_> = (0..3)
        .map(|_| client.spawn("GET", &m.url, &[("x-upstream-delay-ms", "3000")]))
        .collect();
    wait_until("3 requests held at app_a", Duration::from_secs(5), || {
        m.upstreams[0].stats().in_service >= 3
    });
    // The router sees the throttle's count at its next tick.
    wait_until("gold spills to app_b", Duration::from_secs(5), || {
        client
            .get(&m.url, &[("x-tenant", "gold")])
            .is_ok_and(|r| r.header("x-sluice-route") == Some("app_b; reason=spillover"))
    });
    assert!(stat(&m.envoy, "rq.cluster.app_b.reason.spillover") >= 1);
    for h in held {
        h.wait().expect("held request");
    }
}

/// A bad router configuration is refused with the filter's message.
#[test]
fn an_invalid_router_configuration_is_refused() {
    let upstreams: Vec<Upstream> = NAMES
        .iter()
        .map(|n| Upstream::start(n, Behaviour::default()).expect("upstream"))
        .collect();
    let mut bootstrap = Bootstrap::load("router-mesh.yaml")
        .and_then(Bootstrap::for_test)
        .and_then(|b| {
            b.plugin_config(
                "sluice_router",
                r#"{"clusters": {"app_a": {}}, "default": {"to": "app_z"}}"#,
            )
        })
        .expect("bootstrap");
    for (n, u) in NAMES.iter().zip(&upstreams) {
        bootstrap = bootstrap
            .cluster_endpoints(n, &[u.addr()])
            .expect("endpoints");
    }
    let (status, log) =
        Envoy::run_expecting_exit(&bootstrap, Options::default(), Duration::from_secs(60))
            .expect("envoy exits");
    assert!(!status.success(), "envoy accepted a bad configuration");
    assert!(
        log.contains(
            "invalid plugin configuration at 'default.to': 'app_z' is not one of the clusters"
        ),
        "{log}"
    );
}

/// Shadow mode decides and counts, but leaves the destination alone: the
/// request takes Envoy's own (fallback) route to app_a, while the decision
/// for app_c is counted under `rq_shadow` and shown in the decision header.
#[test]
fn shadow_mode_records_decisions_without_routing_on_them() {
    let config = RULES.replace(r#""tick_ms": 100"#, r#""tick_ms": 100, "mode": "shadow""#);
    let m = start(&config, None, Default::default());
    let client = HttpClient::new();
    let gold = client.get(&m.url, &[("x-tenant", "gold")]).expect("gold");
    assert_eq!(gold.header("x-upstream-name"), Some("app_a"), "{gold:?}");
    assert_eq!(
        gold.header("x-sluice-route"),
        Some("app_c; reason=rule:gold")
    );
    assert_eq!(stat(&m.envoy, "rq_shadow.cluster.app_c.reason.rule"), 1);
    assert_eq!(stat(&m.envoy, "rq.cluster.app_c.reason.rule"), 0);
    assert_eq!(m.upstreams[2].stats().requests, 0);
}
