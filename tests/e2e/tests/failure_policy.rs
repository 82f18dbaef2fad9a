//! What real Envoy 1.40 does with the traffic that follows a trap in the
//! throttle's VM, under each `failure_policy` of the wasm `PluginConfig`.
//!
//! The module is the test-only trapping build (`trap-on-marked-request`,
//! built by `cargo xtask build-wasm` into `target/trap/`): a request carrying
//! `x-sluice-test-trap: 1` panics in `on_http_request_headers`, a wasm trap.
//! Envoy runs one VM per worker and a trap fails only its worker's VM, so
//! these runs use one worker: every request after the trap meets the failed
//! VM. Whether the filter ran is read from its own counter,
//! `rq_admitted.class.default`; whether Envoy saw the failure, from
//! `wasm.sluice_throttle.vm_reload*`.

use sluice_testkit::bootstrap::Bootstrap;
use sluice_testkit::client::{HttpClient, Reply};
use sluice_testkit::envoy::{Envoy, Options};
use sluice_testkit::{plugin, trap, Upstream};
use std::time::{Duration, Instant};

const PLUGIN: &str = "sluice_throttle";

/// A limit that admits everything the tests send.
const CONFIG: &str = r#"{"limit": {"static": {"max_inflight": 100}}, "tick_ms": 100}"#;

/// The panic message, logged by the SDK's panic hook before the trap.
const PANIC: &str = "sluice_throttle: test trap (x-sluice-test-trap: 1)";

const CONFIGURED: &str = "sluice_throttle configured";

fn start(upstream: &Upstream, policy: &str) -> (Envoy, String) {
    let bootstrap = Bootstrap::load("throttle-inbound.yaml")
        .and_then(Bootstrap::for_test)
        .and_then(|b| b.cluster_endpoints("local_app", &[upstream.addr()]))
        .and_then(|b| b.plugin_config(PLUGIN, CONFIG))
        .and_then(|b| plugin::failure_policy(b, PLUGIN, policy))
        .and_then(|b| plugin::module(b, PLUGIN, &trap::module()?))
        .expect("bootstrap");
    let opts = Options {
        concurrency: 1,
        ..Options::default()
    };
    let envoy = Envoy::start(&bootstrap, opts).expect("envoy starts");
    let url = format!("http://{}", envoy.listener("inbound").expect("listener"));
    (envoy, url)
}

/// Requests the filter admitted (so: requests it ran on).
fn admitted(envoy: &Envoy) -> u64 {
    envoy
        .stats()
        .expect("stats")
        .value("wasmcustom.sluice.throttle.rq_admitted.class.default")
}

/// `vm_reload`, `vm_reload_backoff`, `vm_reload_success`, `vm_reload_failure`.
fn reload_stats(envoy: &Envoy) -> [u64; 4] {
    let s = envoy.stats().expect("stats");
    ["", "_backoff", "_success", "_failure"]
        .map(|suffix| s.value(&format!("wasm.{PLUGIN}.vm_reload{suffix}")))
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Envoy's own 503: no body, no filter or upstream headers.
fn assert_envoy_503(r: &Reply) {
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.body, "", "{r:?}");
    assert_eq!(r.header("server"), Some("envoy"), "{r:?}");
    assert_eq!(r.header("x-upstream-name"), None, "{r:?}");
}

/// One request through the working filter, then the trap. Whatever the
/// policy, the request whose callback trapped is answered 503 by Envoy, and
/// the panic message is in Envoy's log.
fn serve_then_trap(envoy: &Envoy, url: &str, client: &HttpClient) {
    let r = client.get(url, &[]).expect("request");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(admitted(envoy), 1, "the filter ran");

    let r = client
        .get(url, &[(trap::TRAP_HEADER, "1")])
        .expect("trapping request");
    assert_envoy_503(&r);
    wait_until("the panic in Envoy's log", Duration::from_secs(15), || {
        envoy.log().contains(PANIC)
    });
}

#[test]
fn fail_open_passes_the_following_traffic_without_the_filter() {
    let upstream = Upstream::start("app", Default::default()).expect("upstream");
    let (envoy, url) = start(&upstream, "FAIL_OPEN");
    let client = HttpClient::new();
    serve_then_trap(&envoy, &url, &client);

    for _ in 0..20 {
        let r = client.get(&url, &[]).expect("request");
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.header("x-upstream-name"), Some("app"));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(upstream.stats().requests, 21, "1 before the trap, 20 after");
    assert_eq!(admitted(&envoy), 1, "the filter no longer runs");
    // The VM stays failed and nothing in Envoy's wasm stats says so: only
    // the log and the filter's counters standing still show it.
    assert_eq!(reload_stats(&envoy), [0, 0, 0, 0]);
}

#[test]
fn fail_closed_answers_503_to_all_the_following_traffic() {
    let upstream = Upstream::start("app", Default::default()).expect("upstream");
    let (envoy, url) = start(&upstream, "FAIL_CLOSED");
    let client = HttpClient::new();
    serve_then_trap(&envoy, &url, &client);

    // 2.5 s, well past the 1 s reload backoff FAIL_RELOAD would use: no
    // recovery.
    for _ in 0..20 {
        assert_envoy_503(&client.get(&url, &[]).expect("request"));
        std::thread::sleep(Duration::from_millis(125));
    }
    assert_eq!(
        upstream.stats().requests,
        1,
        "only the request before the trap"
    );
    assert_eq!(admitted(&envoy), 1);
    assert_eq!(reload_stats(&envoy), [0, 0, 0, 0]);
}

#[test]
fn fail_reload_answers_503_during_the_backoff_then_serves_from_a_fresh_vm() {
    let upstream = Upstream::start("app", Default::default()).expect("upstream");
    let (envoy, url) = start(&upstream, "FAIL_RELOAD");
    let client = HttpClient::new();
    let trapped_at = Instant::now();
    serve_then_trap(&envoy, &url, &client);

    // Until the backoff (ReloadConfig's default: 1 s base) has passed, each
    // request is refused and counted in vm_reload_backoff; the first one
    // after it gets a fresh VM.
    let mut refused = 0;
    let recovered_after = loop {
        let r = client.get(&url, &[]).expect("request");
        if r.status == 200 {
            break trapped_at.elapsed();
        }
        assert_envoy_503(&r);
        refused += 1;
        assert!(
            trapped_at.elapsed() < Duration::from_secs(10),
            "no reload within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!("FAIL_RELOAD: {refused} requests refused, serving again after {recovered_after:?}");
    assert!(refused >= 1, "the backoff refused nothing");
    assert!(
        recovered_after < Duration::from_secs(3),
        "{recovered_after:?}"
    );
    let [reload, backoff, success, failure] = reload_stats(&envoy);
    assert_eq!((success, failure), (1, 0), "one successful reload");
    assert_eq!(backoff, refused, "each refused request is a backoff");
    assert_eq!(reload, 0, "vm_reload does not count reloads in Envoy 1.40");

    // The fresh VM ran on_configure again, and the filter runs.
    wait_until("the fresh VM's log line", Duration::from_secs(15), || {
        let log = envoy.log();
        log.find(PANIC)
            .is_some_and(|at| log[at..].contains(CONFIGURED))
    });
    for n in 0..10 {
        assert_eq!(client.get(&url, &[]).expect("request").status, 200);
        assert_eq!(admitted(&envoy), 3 + n, "the filter runs again");
    }
}
