//! Configurations pushed to a running Envoy by file-based LDS, as a control
//! plane would: a throttle configuration the filter refuses must be refused
//! by Envoy as a whole update, with the filter's message in the log, while
//! the last good configuration keeps serving; the next good one applies.
//!
//! What Envoy 1.40 does, measured here: it runs `on_configure` on a base VM
//! on the main thread while building the new listener, and `false` there
//! fails the listener ("Unable to create Wasm plugin"): the LDS update is
//! rejected as a whole (`listener_manager.lds.update_rejected`) whatever the
//! plugin's `failure_policy`, no worker ever serves with it, and the old
//! listener keeps serving. (Envoy also logs "Plugin configured to fail closed
//! failed to load", even for FAIL_OPEN; it is about the refused listener.)
//!
//! And what it does with an accepted one: the new listener is added to
//! every worker and the old one drains. Connections accepted from then on
//! get the new configuration; a connection accepted before keeps the old
//! one (its filter chain) until the drain time (`--drain-time-s`) ends and
//! Envoy closes it between requests. So a probe of a new configuration
//! must go out on a new connection: a pooled keep-alive connection from
//! before the push answers with the old one, and may be closed under its
//! client when the drain ends.

#[allow(dead_code)] // shares only part of the throttle tests' helpers
mod throttle;

use sluice_testkit::bootstrap::Bootstrap;
use sluice_testkit::client::HttpClient;
use sluice_testkit::connection::{Connection, Ended};
use sluice_testkit::envoy::Options;
use sluice_testkit::lds::{LdsEnvoy, Push};
use sluice_testkit::{plugin, Upstream};
use std::net::SocketAddr;
use std::time::Duration;
use throttle::{stat, PLUGIN};

/// Limit 1 with fixed shares: sheddable (share 0.5) and default (0.8) are
/// below one slot, so every such request is shed; critical (1.0) passes
/// while nothing else is in flight. (Under strict admission, the default,
/// a lone request of any class would be admitted: nothing above it needs
/// the slot.)
const GOOD: &str = r#"{"limit": {"static": {"max_inflight": 1}}, "tick_ms": 100,
    "admission": {"priority": "shares"}}"#;

/// `GOOD` with a share out of range.
const BAD: &str = r#"{"limit": {"static": {"max_inflight": 1}}, "tick_ms": 100,
    "admission": {"priority": "shares"},
    "classes": [{"name": "critical", "share": 1.0}, {"name": "default", "share": 0.8},
                {"name": "sheddable", "share": 2.5}]}"#;

/// The filter's own message for `BAD`, naming the field.
const BAD_MESSAGE: &str =
    "sluice_throttle: invalid plugin configuration at 'classes[2].share': 2.5 is outside [0, 1]";

/// Envoy's warning when it refuses the LDS update.
const REJECTED: &str =
    "lds: listener 'inbound' config rejected: Unable to create Wasm plugin sluice_throttle";

/// A new good configuration with visibly different behaviour: shed replies
/// are 429 with `retry-after: 7`.
const NEXT: &str = r#"{"limit": {"static": {"max_inflight": 1}}, "tick_ms": 100,
    "admission": {"priority": "shares"},
    "shed_response": {"status": 429, "retry_after_seconds": 7}}"#;

fn bootstrap(upstream: &Upstream, config: &str) -> Bootstrap {
    Bootstrap::load("throttle-inbound.yaml")
        .and_then(Bootstrap::for_test)
        .and_then(|b| b.cluster_endpoints("local_app", &[upstream.addr()]))
        .and_then(|b| b.plugin_config(PLUGIN, config))
        .expect("bootstrap")
}

/// How long Envoy drains a replaced listener's connections: long enough to
/// see that an old connection keeps the old configuration, short enough to
/// see Envoy close it.
const DRAIN_TIME_S: u32 = 3;

/// A sheddable request's status and `retry-after`, and a critical
/// request's status.
fn probe(client: &HttpClient, url: &str) -> (u16, Option<String>, u16) {
    let shed = client
        .get(url, &[("x-sluice-priority", "sheddable")])
        .expect("sheddable request");
    let critical = client
        .get(url, &[("x-sluice-priority", "critical")])
        .expect("critical request");
    (
        shed.status,
        shed.header("retry-after").map(str::to_string),
        critical.status,
    )
}

#[test]
fn an_invalid_pushed_config_is_rejected_and_the_last_good_one_keeps_serving() {
    let upstream = Upstream::start("app", Default::default()).expect("upstream");
    let opts = Options {
        drain_time_s: Some(DRAIN_TIME_S),
        ..Options::default()
    };
    let envoy = LdsEnvoy::start(bootstrap(&upstream, GOOD), opts).expect("envoy");
    let addr: SocketAddr = envoy.listener("inbound").expect("listener");
    let url = format!("http://{addr}");
    let client = HttpClient::new();

    // (a) The good configuration serves, its limit visible.
    assert_eq!(
        probe(&client, &url),
        (503, Some("1".to_string()), 200),
        "limit 1"
    );
    let shed = client
        .get(&url, &[("x-sluice-priority", "sheddable")])
        .expect("sheddable");
    assert_eq!(
        shed.header("x-sluice-shed-reason"),
        Some("concurrency_limit")
    );
    let (_, rejected_before) = envoy.lds_counts().expect("lds stats");

    // (b) The invalid configuration is refused as a whole update, with the
    // filter's message naming the field, under every failure policy.
    for (n, policy) in ["FAIL_OPEN", "FAIL_CLOSED", "FAIL_RELOAD"]
        .into_iter()
        .enumerate()
    {
        let bad =
            plugin::failure_policy(bootstrap(&upstream, BAD), PLUGIN, policy).expect("bootstrap");
        assert_eq!(
            envoy.push(&bad).expect("push bad"),
            Push::Rejected,
            "{policy}"
        );
        let (_, rejected) = envoy.lds_counts().expect("lds stats");
        assert_eq!(rejected, rejected_before + n as u64 + 1, "{policy}");
    }
    // Envoy flushes info and warning lines to its log file in batches.
    throttle::wait_until(
        "the filter's message and Envoy's rejection in the log",
        Duration::from_secs(20),
        || {
            let log = envoy.log();
            log.matches(BAD_MESSAGE).count() == 3 && log.matches(REJECTED).count() == 3
        },
    );

    // (c) The last good configuration keeps serving, unchanged, on the same
    // listener.
    assert_eq!(envoy.listener("inbound").expect("listener"), addr);
    for _ in 0..20 {
        assert_eq!(probe(&client, &url), (503, Some("1".to_string()), 200));
    }
    assert_eq!(stat(&envoy, "limit"), 1);
    assert_eq!(stat(&envoy, "rq_admitted.class.critical"), 21);
    assert_eq!(
        stat(&envoy, "rq_shed.class.sheddable.reason.concurrency_limit"),
        22
    );

    // (d) The next good configuration is accepted. A connection opened
    // before it is pushed keeps the old configuration while it drains.
    let mut old = Connection::open(addr).expect("connection before the push");
    let before = old
        .get("/", &[("x-sluice-priority", "sheddable")])
        .expect("request before the push");
    assert_eq!(before.status, 503);
    assert_eq!(
        envoy.push(&bootstrap(&upstream, NEXT)).expect("push next"),
        Push::Accepted
    );
    // Every new connection gets the new configuration at once.
    let fresh = HttpClient::new_connections();
    for _ in 0..20 {
        assert_eq!(probe(&fresh, &url), (429, Some("7".to_string()), 200));
    }
    assert_eq!(envoy.listener("inbound").expect("listener"), addr);
    // The old connection still answers with the old configuration, then
    // Envoy closes it cleanly when the drain ends: no request is cut off.
    let during_drain = old
        .get("/", &[("x-sluice-priority", "sheddable")])
        .expect("request on the draining connection");
    assert_eq!(
        (during_drain.status, during_drain.header("retry-after")),
        (503, Some("1")),
        "a connection from before the push keeps the old configuration"
    );
    assert_eq!(
        old.wait_ended(Duration::from_secs(u64::from(DRAIN_TIME_S) + 10)),
        Ended::Closed,
        "Envoy closes a drained connection between requests"
    );
}
