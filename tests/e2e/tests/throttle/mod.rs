//! What the throttle's end-to-end tests share: an Envoy from
//! `throttle-inbound.yaml` in front of a test upstream, and its stats.

use sluice_testkit::bootstrap::Bootstrap;
use sluice_testkit::envoy::{Envoy, Options};
use sluice_testkit::Upstream;
use std::time::{Duration, Instant};

pub const PLUGIN: &str = "sluice_throttle";

pub fn start(upstream: &Upstream, config: &str) -> (Envoy, String) {
    let bootstrap = Bootstrap::load("throttle-inbound.yaml")
        .and_then(Bootstrap::for_test)
        .and_then(|b| b.cluster_endpoints("local_app", &[upstream.addr()]))
        .and_then(|b| b.plugin_config(PLUGIN, config))
        .expect("bootstrap");
    let envoy = Envoy::start(&bootstrap, Options::default()).expect("envoy starts");
    let url = format!("http://{}", envoy.listener("inbound").expect("listener"));
    (envoy, url)
}

#[allow(dead_code)] // not every test file waits
pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[allow(dead_code)] // not every test file reads stats
pub fn stat(envoy: &Envoy, name: &str) -> u64 {
    envoy
        .stats()
        .expect("stats")
        .value(&format!("wasmcustom.sluice.throttle.{name}"))
}
