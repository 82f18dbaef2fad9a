//! `cargo xtask soak [--seconds N]`: both filters in one chain in a real
//! Envoy under mixed traffic for N seconds (default 600), Envoy's RSS and
//! stats sampled as it runs; fails if Envoy answered a 5xx Sluice did not
//! decide, grew in memory after warm-up, lost or reloaded a wasm VM, or
//! leaked an in-flight slot. The run and its checks are
//! `sluice_testkit::soak`; the end-to-end suite runs a short one.

use crate::run::step;
use crate::{setup, wasm};
use anyhow::{bail, Result};
use sluice_testkit::soak::{self, SoakOptions};
use std::time::Duration;

pub fn run(seconds: u64) -> Result<()> {
    let envoy = setup::all()?;
    // The testkit finds Envoy through SLUICE_ENVOY; set before any thread.
    std::env::set_var("SLUICE_ENVOY", &envoy);
    wasm::build()?;

    let opts = SoakOptions::for_duration(Duration::from_secs(seconds));
    step(&format!(
        "soak: {seconds} s at {:.0} req/s, a sample every {:.0} s, warm-up {:.0} s",
        opts.rate,
        opts.sample_every.as_secs_f64(),
        opts.warmup.as_secs_f64()
    ));
    let report = soak::run(&opts, |s| {
        eprintln!(
            "    t={:>4.0}s  rss={:>6.1} MiB  answered={:>7}  inflight={:>3}  limit={:>3}",
            s.at.as_secs_f64(),
            s.rss_kb as f64 / 1024.0,
            s.answered,
            s.inflight,
            s.limit
        );
    })?;
    println!("\n{}", report.render());
    let failures = report.failures();
    if !failures.is_empty() {
        bail!("soak failed: {}", failures.join("; "));
    }
    Ok(())
}
