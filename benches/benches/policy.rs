//! The policy core's decision path, natively, in nanoseconds per request
//! (issue 8, BENCHMARKS.md): `cargo bench -p sluice-benches --bench policy`.
//!
//! What one request costs the throttle, without the host: classify (priority
//! header, or rules first), find the destination, compute the class's
//! threshold, take a slot in the shared in-flight record (compare-and-swap
//! on an in-memory store shaped like Envoy's shared data), count the
//! request in the per-class demand (strict admission: the slots reserved
//! above its class), record the latency in the adaptive window and the
//! demand, release the slot. The router's decision
//! is measured for a fixed rule, power of two choices and a session pin.
//! Envoy adds the VM boundary and the host calls on top: the Envoy overhead
//! benchmark (`cargo xtask bench-envoy`) measures those.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use sluice_benches::StaticRequest;
use sluice_core::config::{LimitConfig, RouterConfig, ThrottleConfig};
use sluice_core::random::SplitMix64;
use sluice_core::route::ClusterView;
use sluice_core::shared::{
    Acquire, MemoryKv, SharedDemand, SharedInflight, SharedLimit, SharedSuccess,
};
use sluice_core::throttle::Throttle;
use sluice_core::time::Timestamp;
use std::time::Duration;

const HEADER_ONLY: &str = r#"{"limit": {"static": {"max_inflight": 1000}}}"#;

const RULES_ADAPTIVE_SUCCESS: &str = r#"{
  "limit": {"adaptive": {"min_limit": 8, "max_limit": 1000, "initial_limit": 100}},
  "rules": [
    {"class": "critical", "path_prefix": "/checkout", "methods": ["POST"]},
    {"class": "sheddable", "path_prefix": "/recommendations"},
    {"class": "critical", "headers": [{"name": "x-internal", "exact": "1"}],
     "source_cidrs": ["10.0.0.0/8"]}
  ],
  "success_rate": {}
}"#;

const ROUTER: &str = r#"{
  "clusters": {"a": {}, "b": {}, "c": {}, "primary": {}, "replica": {}},
  "rules": [
    {"name": "tenant", "headers": [{"name": "x-tenant", "exact": "acme"}], "to": "a"},
    {"name": "orders", "path_prefix": "/orders",
     "primary": "primary", "replicas": [{"cluster": "replica", "weight": 1}],
     "consistency": "session"},
    {"name": "spread", "path_prefix": "/search",
     "balance": [{"cluster": "a", "weight": 1}, {"cluster": "b", "weight": 1},
                 {"cluster": "c", "weight": 2}]}
  ],
  "default": {"to": "a"}
}"#;

/// A typical GET with a priority header; rules look at the path first.
static BROWSE: StaticRequest = StaticRequest {
    headers: &[
        (":method", b"GET"),
        (":path", b"/catalog/items?page=2"),
        (":authority", b"shop.example.com"),
        ("user-agent", b"bench/1.0"),
        ("x-sluice-priority", b"sheddable"),
    ],
    source_address: b"10.1.2.3:45678",
};

fn request_at(i: u64) -> Timestamp {
    Timestamp::from_millis(1_000_000 + i / 16)
}

fn classify(c: &mut Criterion) {
    let header_only = Throttle::new(ThrottleConfig::from_json(HEADER_ONLY.as_bytes()).unwrap());
    let rules =
        Throttle::new(ThrottleConfig::from_json(RULES_ADAPTIVE_SUCCESS.as_bytes()).unwrap());
    c.bench_function("throttle/classify/priority_header", |b| {
        b.iter(|| header_only.classify(black_box(&BROWSE)))
    });
    c.bench_function("throttle/classify/three_rules_then_header", |b| {
        b.iter(|| rules.classify(black_box(&BROWSE)))
    });
}

/// Classify + decide + record + release against one worker's records.
fn request(c: &mut Criterion) {
    for (name, json) in [
        ("throttle/request/static_limit", HEADER_ONLY),
        (
            "throttle/request/rules_adaptive_success_rate",
            RULES_ADAPTIVE_SUCCESS,
        ),
    ] {
        let config = ThrottleConfig::from_json(json.as_bytes()).unwrap();
        let classes = config.classes.len();
        let mut adaptive = match &config.limit {
            LimitConfig::Adaptive(a) => Some(SharedLimit::new(
                "limit",
                a.params.clone(),
                a.window,
                a.percentile,
            )),
            LimitConfig::Static { .. } => None,
        };
        let mut success = config
            .success_rate
            .clone()
            .map(|p| SharedSuccess::new("success", p, classes));
        let mut demand = config.admission.strict.then(|| {
            SharedDemand::new(
                "demand",
                classes,
                config.admission.window,
                config.admission.headroom_tail,
            )
        });
        let throttle = Throttle::new(config);
        let kv = MemoryKv::new();
        if let Some(d) = &mut demand {
            // A measured demand, as after the first window.
            for class in 0..classes {
                d.record_offered(class);
            }
            d.record_completion(Duration::from_millis(4));
            d.flush(&kv, request_at(0), 0);
            d.flush(&kv, request_at(1), 0);
        }
        let mut inflight = SharedInflight::with_classes("inflight", 7, Duration::from_secs(5), 3);
        inflight.create_record(&kv);
        // Another worker's lane, so admission sums more than one lane.
        SharedInflight::new("inflight", 8, Duration::from_secs(5)).try_acquire(
            &kv,
            request_at(0),
            u32::MAX,
        );
        let mut random = SplitMix64::new(1);
        let mut i = 0u64;
        c.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                let now = request_at(i);
                let request = black_box(&BROWSE);
                let (class, _) = throttle.classify(request);
                let _destination = throttle.destination_of(request);
                if let Some(s) = &mut success {
                    s.record_request(class.index());
                    black_box(s.reject_probability(class.index()));
                }
                let reserved = demand.as_mut().map_or(0.0, |d| {
                    d.record_offered(class.index());
                    d.reserved_above(class.index())
                });
                let limit = adaptive.as_ref().map_or(throttle.limit(), |a| a.limit());
                let gate = throttle.admission_gate(limit, class, None, reserved);
                let (acquire, _) = inflight.acquire(&kv, now, gate);
                if let Acquire::Admitted { inflight_before } = acquire {
                    let latency = Duration::from_millis(3 + i % 5);
                    if let Some(a) = &mut adaptive {
                        a.observe_inflight(inflight_before + 1);
                        let low_load = a.is_low_load(inflight_before);
                        a.record_latency(latency, now, low_load);
                    }
                    if let Some(d) = &mut demand {
                        d.record_completion(latency);
                    }
                    if let Some(s) = &mut success {
                        s.record_accept(class.index());
                    }
                    inflight.release_class(&kv, now, class.index());
                }
                black_box(&mut random);
            })
        });
    }
}

fn route(c: &mut Criterion) {
    let config = RouterConfig::from_json(ROUTER.as_bytes()).unwrap();
    let views = vec![
        ClusterView {
            latency: 0.004,
            inflight: 3,
            ..ClusterView::default()
        };
        config.clusters.len()
    ];
    let mut random = SplitMix64::new(2);
    let now = Timestamp::from_millis(1_000_000);
    let cases: [(&str, StaticRequest); 3] = [
        (
            "router/decide/header_rule",
            StaticRequest {
                headers: &[(":method", b"GET"), (":path", b"/x"), ("x-tenant", b"acme")],
                source_address: b"10.1.2.3:45678",
            },
        ),
        (
            "router/decide/p2c_three_clusters",
            StaticRequest {
                headers: &[(":method", b"GET"), (":path", b"/search?q=shoes")],
                source_address: b"10.1.2.3:45678",
            },
        ),
        (
            "router/decide/session_read",
            StaticRequest {
                headers: &[
                    (":method", b"GET"),
                    (":path", b"/orders/17"),
                    ("cookie", b"theme=dark; sluice-rw=1000500"),
                ],
                source_address: b"10.1.2.3:45678",
            },
        ),
    ];
    for (name, request) in &cases {
        c.bench_function(name, |b| {
            b.iter(|| {
                config
                    .router
                    .decide(black_box(request), &views, now, &mut random)
            })
        });
    }
}

criterion_group! {
    name = policy;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = classify, request, route
}
criterion_main!(policy);
