//! A short soak (25 s) of both filters in one chain in real Envoy, with
//! the checks of `cargo xtask soak` (which runs the long one): no 5xx that
//! Sluice did not decide, flat memory after warm-up, the wasm VMs that
//! started still running with no error logged, the throttle's counters
//! equal to what the clients saw, and no in-flight slot left over.

use sluice_testkit::soak::{self, SoakOptions};
use std::time::Duration;

#[test]
fn a_short_soak_of_mixed_traffic_through_both_filters_passes_its_checks() {
    let opts = SoakOptions::for_duration(Duration::from_secs(25));
    let report = soak::run(&opts, |_| {}).expect("soak runs");
    let text = report.render();
    eprintln!("{text}");
    assert!(report.failures().is_empty(), "{text}");
    // The mix reached every kind and the throttle decided on all of them.
    assert!(report.answered() as f64 > opts.rate * 25.0 * 0.9, "{text}");
    assert_eq!(report.kinds.len(), 11, "{text}");
}
