//! Classification and routing on arbitrary requests: any header map and
//! properties (non-UTF-8 values, huge values, thousands of headers) get a
//! class, a throttle destination and a cluster that exist, whatever the
//! clusters' stats, the time and the random draws.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sluice_core::config::{RouterConfig, ThrottleConfig};
use sluice_core::random::Random;
use sluice_core::route::ClusterView;
use sluice_core::throttle::Throttle;
use sluice_core::time::Timestamp;
use sluice_fuzz::request::FuzzRequest;
use std::sync::OnceLock;

/// A throttle whose rules use every condition kind, and routes.
const THROTTLE: &str = r#"{
  "limit": {"static": {"max_inflight": 100}},
  "classes": [{"name": "critical", "share": 1.0}, {"name": "default", "share": 0.8},
              {"name": "bulk", "share": 0.3}, {"name": "sheddable", "share": 0.1}],
  "rules": [
    {"class": "critical", "path_prefix": "/checkout", "methods": ["POST", "PUT"]},
    {"class": "critical", "source_cidrs": ["10.0.0.0/8", "fd00::/8"]},
    {"class": "bulk", "path_exact": "/export"},
    {"class": "sheddable", "headers": [{"name": "user-agent", "prefix": "crawler"}]}
  ],
  "routes": [
    {"destination": "search", "path_prefix": "/search", "limit": {"static": {"max_inflight": 10}}},
    {"destination": "tenant", "headers": [{"name": "x-tenant", "exact": "gold"}, {"name": ":authority"}],
     "limit": {"adaptive": {}}}
  ]
}"#;

/// A router with every condition and action kind.
const ROUTER: &str = r#"{
  "clusters": {"a": {"throttle_destination": "a"}, "b": {"limit": 10}, "c": {}, "d": {}},
  "rules": [
    {"name": "gold", "headers": [{"name": "x-tenant", "exact": "gold"}], "to": "a",
     "spillover": {"to": "b", "max_fraction": 0.5}},
    {"name": "items", "path_regex": "^/items/[0-9]+(/reviews)?$", "methods": ["GET"],
     "balance": [{"cluster": "b"}, {"cluster": "c", "weight": 3}], "sticky": {"cookie": "sid"}},
    {"name": "orders", "path_prefix": "/orders", "primary": "a",
     "replicas": [{"cluster": "b"}, {"cluster": "c"}], "consistency": "session"},
    {"name": "strong", "path_prefix": "/ledger", "primary": "d", "replicas": [{"cluster": "c"}],
     "consistency": "strong"},
    {"name": "hosts", "hosts": ["*.example.com", "shop"], "query": [{"name": "v", "prefix": "2"}],
     "cookies": [{"name": "beta"}], "to": "d"},
    {"name": "mesh", "principals": ["spiffe://cluster.local/ns/shop/*"],
     "source_cidrs": ["192.168.0.0/16"], "route_names": ["r1"], "to": "c"},
    {"name": "user", "path_regex": "/u/\\w{1,8}/?", "balance": [{"cluster": "a"}, {"cluster": "d"}],
     "sticky": {"header": "x-user"}}
  ],
  "default": {"balance": [{"cluster": "a"}, {"cluster": "b", "weight": 2}, {"cluster": "c"}]}
}"#;

fn policies() -> &'static (Throttle, RouterConfig) {
    static P: OnceLock<(Throttle, RouterConfig)> = OnceLock::new();
    P.get_or_init(|| {
        let t = ThrottleConfig::from_json(THROTTLE.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let r = RouterConfig::from_json(ROUTER.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        (Throttle::new(t), r)
    })
}

/// Random draws the fuzzer chooses.
struct Draws<'a>(std::slice::Iter<'a, u64>);

impl Random for Draws<'_> {
    fn next_u64(&mut self) -> u64 {
        self.0.next().copied().unwrap_or(0)
    }
}

#[derive(Arbitrary, Debug)]
struct View {
    latency: f64,
    inflight: u64,
    avoided: bool,
    near_limit: bool,
}

#[derive(Arbitrary, Debug)]
struct Input {
    request: FuzzRequest,
    views: Vec<View>,
    now_ns: u64,
    draws: Vec<u64>,
}

fuzz_target!(|input: Input| {
    let (throttle, router) = policies();
    let request = &input.request;

    let (class, _) = throttle.classify(request);
    assert!(class.index() < throttle.config().classes.len());
    assert!(throttle.destination_of(request) <= throttle.config().routes.len());

    // Stats as the shared records could hold them, but finite and
    // non-negative latencies only (records with others do not decode).
    let views: Vec<ClusterView> = input
        .views
        .iter()
        .map(|v| ClusterView {
            latency: if v.latency.is_finite() {
                v.latency.abs()
            } else {
                0.0
            },
            inflight: v.inflight,
            avoided: v.avoided,
            near_limit: v.near_limit,
        })
        .collect();
    let mut draws = Draws(input.draws.iter());
    let now = Timestamp::from_nanos(input.now_ns);
    let d = router.router.decide(request, &views, now, &mut draws);
    assert!(
        d.cluster < router.clusters.len(),
        "cluster {} of {}",
        d.cluster,
        router.clusters.len()
    );
    assert!(d.rule.is_none_or(|i| i < router.router.rules.len()));
    assert!(!router.router.reason_text(&d).is_empty());
    if d.pin_session {
        assert!(!router.router.pin_cookie(now).is_empty());
    }
});
