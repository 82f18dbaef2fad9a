//! The throttle filter's static priority shedding, in real Envoy with two
//! worker threads, a real upstream and real HTTP traffic on loopback.

mod throttle;

use sluice_testkit::bootstrap::Bootstrap;
use sluice_testkit::client::{priority_mix, HttpClient, RawRequest};
use sluice_testkit::envoy::{Envoy, Options};
use sluice_testkit::{Behaviour, Upstream};
use std::time::Duration;
use throttle::{start, stat, wait_until, PLUGIN};

/// Limit 10 with fixed shares (`admission.priority: shares`): critical
/// admitted below 10 in flight, default below 8, sheddable below 5 (shares
/// 1.0 / 0.8 / 0.5). Strict admission, the default, has its own test below.
const CONFIG: &str = r#"{"limit": {"static": {"max_inflight": 10}}, "destination": "local_app", "tick_ms": 100,
        "admission": {"priority": "shares"}}"#;

/// Eight slow `default` requests on eight connections, spread evenly over the
/// two workers (exact connection balance), hold 8 slots. Each worker alone
/// sees only 4 in flight, below the sheddable threshold of 5; only the count
/// shared through proxy-wasm shared data shows 8. So sheddable and default
/// are shed and critical passes only if the workers really share the count.
#[test]
fn sheddable_is_shed_at_the_limit_across_workers_while_critical_passes() {
    let upstream = Upstream::start("app", Behaviour::default()).expect("upstream");
    let (envoy, url) = start(&upstream, CONFIG);
    let client = HttpClient::new();

    let slow: Vec<_> = (0..8)
        .map(|_| client.spawn("GET", &url, &[("x-upstream-delay-ms", "3000")]))
        .collect();
    wait_until(
        "8 requests in service upstream",
        Duration::from_secs(10),
        || upstream.stats().in_service == 8,
    );

    let shed = client
        .get(&url, &[("x-sluice-priority", "sheddable")])
        .expect("sheddable request");
    assert_eq!(shed.status, 503, "{shed:?}");
    assert_eq!(
        shed.header("x-sluice-shed-reason"),
        Some("concurrency_limit")
    );
    assert_eq!(shed.header("retry-after"), Some("1"));

    let default = client.get(&url, &[]).expect("default request");
    assert_eq!(
        default.status, 503,
        "default is shed at 8 of 10: {default:?}"
    );

    let critical = client
        .get(&url, &[("x-sluice-priority", "critical")])
        .expect("critical request");
    assert_eq!(critical.status, 200, "{critical:?}");
    assert_eq!(critical.header("x-upstream-name"), Some("app"));

    for p in slow {
        assert_eq!(p.wait().expect("slow request").status, 200);
    }
    let after = client
        .get(&url, &[("x-sluice-priority", "sheddable")])
        .expect("sheddable after");
    assert_eq!(after.status, 200, "slots are free again: {after:?}");

    // Both workers took connections: the shared count was not one worker's.
    let stats = envoy.stats().expect("stats");
    let per_worker: Vec<u64> = stats
        .with_prefix("listener.127.0.0.1_")
        .filter(|(k, _)| k.contains(".worker_") && k.ends_with(".downstream_cx_total"))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(per_worker.len(), 2, "two workers: {per_worker:?}");
    assert!(
        per_worker.iter().all(|&n| n >= 4),
        "connections per worker: {per_worker:?}"
    );

    assert_eq!(stat(&envoy, "rq_admitted.class.default"), 8);
    assert_eq!(stat(&envoy, "rq_admitted.class.critical"), 1);
    assert_eq!(stat(&envoy, "rq_admitted.class.sheddable"), 1);
    assert_eq!(
        stat(&envoy, "rq_shed.class.sheddable.reason.concurrency_limit"),
        1
    );
    assert_eq!(
        stat(&envoy, "rq_shed.class.default.reason.concurrency_limit"),
        1
    );
    assert_eq!(
        stat(&envoy, "rq_shed.class.critical.reason.concurrency_limit"),
        0
    );
}

/// Concurrent closed-loop clients of the three classes against an upstream
/// that can serve 4 at a time: in-flight climbs to the limit, sheddable is
/// shed, every critical request passes, and Envoy's counters agree exactly
/// with what the clients saw.
#[test]
fn under_concurrent_load_critical_passes_and_stats_match_the_clients() {
    let upstream = Upstream::start(
        "app",
        Behaviour {
            capacity: 4,
            service_ms: 20.0,
            ..Behaviour::default()
        },
    )
    .expect("upstream");
    let (envoy, url) = start(&upstream, CONFIG);
    let client = HttpClient::new();

    // Non-critical traffic can hold at most 8 slots (default's threshold), so
    // two critical clients always find a slot below 10.
    let report = client.load(&url, Duration::from_secs(4), &priority_mix(2, 6, 6));
    let critical = report.group("critical");
    let default = report.group("default");
    let sheddable = report.group("sheddable");
    assert!(critical.total() > 20, "critical sent {}", critical.total());
    assert_eq!(critical.success_rate(), 1.0, "critical: {critical:?}");
    assert!(
        sheddable.status(503) > 0,
        "sheddable was never shed: {:?}",
        sheddable.by_status
    );
    for (label, o) in [
        ("critical", &critical),
        ("default", &default),
        ("sheddable", &sheddable),
    ] {
        assert_eq!(o.transport_errors, 0, "{label}");
        assert_eq!(
            o.shed_reasons
                .get("concurrency_limit")
                .copied()
                .unwrap_or(0),
            o.status(503),
            "{label}: every 503 names its reason"
        );
        assert_eq!(
            o.status(200) + o.status(503),
            o.total(),
            "{label}: {:?}",
            o.by_status
        );
    }
    // The upstream never saw more than the throttle allowed.
    assert!(upstream.stats().in_service == 0);

    let stats = envoy.stats().expect("stats");
    for (class, o) in [
        ("critical", &critical),
        ("default", &default),
        ("sheddable", &sheddable),
    ] {
        assert_eq!(
            stats.value(&format!(
                "wasmcustom.sluice.throttle.rq_admitted.class.{class}"
            )),
            o.status(200),
            "admitted {class}"
        );
        assert_eq!(
            stats.value(&format!(
                "wasmcustom.sluice.throttle.rq_shed.class.{class}.reason.concurrency_limit"
            )),
            o.status(503),
            "shed {class}"
        );
    }
}

/// The throttle's metrics show in `/stats` and, with the class and reason as
/// labels (from the bootstrap's stats_tags), in `/stats/prometheus`.
#[test]
fn metrics_show_in_stats_and_prometheus() {
    let upstream = Upstream::start("app", Behaviour::default()).expect("upstream");
    let (envoy, url) = start(&upstream, CONFIG);
    let client = HttpClient::new();
    assert_eq!(client.get(&url, &[]).expect("request").status, 200);

    let stats = envoy.stats().expect("stats");
    for name in [
        "wasmcustom.sluice.throttle.inflight",
        "wasmcustom.sluice.throttle.limit",
        "wasmcustom.sluice.throttle.rq_admitted.class.default",
        "wasmcustom.sluice.throttle.rq_shed.class.sheddable.reason.concurrency_limit",
    ] {
        assert!(stats.get(name).is_some(), "{name} missing from /stats");
    }
    assert_eq!(stats.value("wasmcustom.sluice.throttle.limit"), 10);

    let prom = envoy.prometheus().expect("prometheus");
    assert!(
        prom.contains("# TYPE sluice_throttle_rq_shed counter"),
        "{prom}"
    );
    assert!(
        prom.contains(r#"sluice_throttle_rq_shed{sluice_class="sheddable",sluice_reason="concurrency_limit"} 0"#),
        "{prom}"
    );
    assert!(
        prom.contains(r#"sluice_throttle_rq_admitted{sluice_class="default"} 1"#),
        "{prom}"
    );
    assert!(prom.contains("sluice_throttle_limit{} 10"), "{prom}");
}

/// An invalid plugin configuration is refused by Envoy, with the filter's
/// message naming the field and the problem in Envoy's log.
#[test]
fn invalid_plugin_configuration_is_rejected_with_the_filters_message() {
    let upstream = Upstream::start("app", Behaviour::default()).expect("upstream");
    let bad = r#"{"limit": {"static": {"max_inflight": 10}},
                  "classes": [{"name": "critical", "share": 1.0}, {"name": "default", "share": 1.5}]}"#;
    let bootstrap = Bootstrap::load("throttle-inbound.yaml")
        .and_then(Bootstrap::for_test)
        .and_then(|b| b.cluster_endpoints("local_app", &[upstream.addr()]))
        .and_then(|b| b.plugin_config(PLUGIN, bad))
        .expect("bootstrap");
    let (status, log) =
        Envoy::run_expecting_exit(&bootstrap, Options::default(), Duration::from_secs(60))
            .expect("envoy exits");
    assert!(!status.success(), "envoy accepted a bad configuration");
    assert!(
        log.contains("invalid plugin configuration at 'classes[1].share': 1.5 is outside [0, 1]"),
        "{log}"
    );
}

/// However a stream ends (response, client disconnect, upstream reset, local
/// reply), its slot comes back: afterwards a sheddable burst up to its full
/// threshold is admitted.
#[test]
fn slots_return_after_every_kind_of_stream_end() {
    let upstream = Upstream::start("app", Behaviour::default()).expect("upstream");
    let addr = upstream.addr();
    let (envoy, url) = start(&upstream, CONFIG);
    let client = HttpClient::new();
    let listener = envoy.listener("inbound").expect("listener");

    // Clients that disconnect mid-request.
    let raw: Vec<_> = (0..3)
        .map(|_| RawRequest::send(listener, "/", &[("x-upstream-delay-ms", "5000")]).expect("raw"))
        .collect();
    wait_until("3 requests upstream", Duration::from_secs(10), || {
        upstream.stats().in_service == 3
    });
    raw.into_iter().for_each(RawRequest::reset);

    // Local replies: fill default's 8 slots, then get shed.
    let held: Vec<_> = (0..8)
        .map(|_| client.spawn("GET", &url, &[("x-upstream-delay-ms", "1500")]))
        .collect();
    wait_until("8 slots held", Duration::from_secs(10), || {
        upstream.stats().in_service >= 8
    });
    assert_eq!(client.get(&url, &[]).expect("shed").status, 503);
    for p in held {
        assert_eq!(p.wait().expect("held").status, 200);
    }

    // An upstream that goes away mid-request (its connections reset).
    let resets: Vec<_> = (0..4)
        .map(|_| client.spawn("GET", &url, &[("x-upstream-delay-ms", "5000")]))
        .collect();
    wait_until("4 requests upstream", Duration::from_secs(10), || {
        upstream.stats().in_service == 4
    });
    drop(upstream);
    for p in resets {
        let r = p.wait().expect("reset request");
        assert!(r.status >= 500, "upstream reset answered {}", r.status);
    }

    // A new upstream on the same address; every slot must be free.
    let upstream = Upstream::start_on(addr, "app", Behaviour::default()).expect("upstream again");
    let burst: Vec<_> = (0..5)
        .map(|_| {
            client.spawn(
                "GET",
                &url,
                &[
                    ("x-sluice-priority", "sheddable"),
                    ("x-upstream-delay-ms", "1000"),
                ],
            )
        })
        .collect();
    let statuses: Vec<u16> = burst
        .into_iter()
        .map(|p| p.wait().expect("burst").status)
        .collect();
    assert_eq!(
        statuses,
        vec![200; 5],
        "a leaked slot would shed part of the burst"
    );
    assert_eq!(upstream.stats().max_in_service, 5);
    let inflight = envoy
        .wait_for_stats(Duration::from_secs(3), |s| {
            s.value("wasmcustom.sluice.throttle.inflight") == 0
        })
        .expect("stats")
        .value("wasmcustom.sluice.throttle.inflight");
    assert_eq!(inflight, 0);
}

/// Strict admission (the default) in real Envoy with two workers: while
/// critical traffic flows, a flood of sheddable requests gets only the
/// slots critical's measured load leaves, so critical is not refused, and
/// sheddable still gets some (the throttle does not idle the service).
#[test]
fn under_strict_admission_a_sheddable_flood_leaves_critical_its_headroom() {
    let upstream = Upstream::start("app", Behaviour::default()).expect("upstream");
    // Critical keeps about 3 in flight against a limit of 20: the headroom
    // for a tail of 1e-4 is 6 slots, so sheddable fills to 14.
    let config = r#"{"limit": {"static": {"max_inflight": 20}}, "destination": "local_app",
        "tick_ms": 100, "admission": {"headroom_tail": 0.0001}}"#;
    let (envoy, url) = start(&upstream, config);
    let delay = ("x-upstream-delay-ms", "200");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let flood = std::sync::atomic::AtomicBool::new(false);
    let count = |headers: &[(&str, &str)], only_while_flooding: bool| {
        let client = HttpClient::new();
        let (mut ok, mut shed) = (0u32, 0u32);
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let flooding = flood.load(std::sync::atomic::Ordering::Relaxed);
            if only_while_flooding && !flooding {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            let status = client.get(&url, headers).expect("request").status;
            if flooding {
                match status {
                    200 => ok += 1,
                    503 => shed += 1,
                    other => panic!("unexpected status {other}"),
                }
            }
        }
        (ok, shed)
    };
    let critical = [("x-sluice-priority", "critical"), delay];
    let sheddable = [("x-sluice-priority", "sheddable"), delay];
    let (critical_counts, sheddable_counts) = std::thread::scope(|s| {
        // Three critical clients, about 15 req/s and 3 in flight.
        let c: Vec<_> = (0..3)
            .map(|_| s.spawn(|| count(&critical, false)))
            .collect();
        // Two seconds for critical's load to be measured, then the flood.
        std::thread::sleep(Duration::from_secs(2));
        flood.store(true, std::sync::atomic::Ordering::Relaxed);
        let f: Vec<_> = (0..24)
            .map(|_| s.spawn(|| count(&sheddable, true)))
            .collect();
        std::thread::sleep(Duration::from_secs(4));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let sum = |hs: Vec<std::thread::ScopedJoinHandle<'_, (u32, u32)>>| {
            hs.into_iter()
                .map(|h| h.join().expect("client"))
                .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
        };
        (sum(c), sum(f))
    });
    let (critical_ok, critical_shed) = critical_counts;
    let (sheddable_ok, sheddable_shed) = sheddable_counts;
    assert!(
        critical_ok >= 30,
        "critical kept flowing: {critical_counts:?}"
    );
    assert_eq!(
        critical_shed, 0,
        "critical refused during the flood: {critical_counts:?}"
    );
    assert!(
        sheddable_shed > 0,
        "the flood was shed: {sheddable_counts:?}"
    );
    assert!(
        sheddable_ok > 0,
        "sheddable got the slots left over: {sheddable_counts:?}"
    );
    assert!(
        upstream.stats().max_in_service <= 20,
        "never more than the limit upstream"
    );
    assert_eq!(
        envoy
            .wait_for_stats(Duration::from_secs(3), |s| {
                s.value("wasmcustom.sluice.throttle.inflight") == 0
            })
            .expect("stats")
            .value("wasmcustom.sluice.throttle.inflight"),
        0
    );
}
