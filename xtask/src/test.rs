//! The whole test suite, in the order that fails fastest.

use crate::run::{cargo, run as sh, step};
use crate::{setup, wasm};
use anyhow::Result;

/// Crates that build for wasm32-wasip1 and are linted for it.
const WASM_CRATES: &[&str] = &[
    "sluice-core",
    "sluice-glue",
    "sluice-throttle",
    "sluice-router",
    "sluice-probe-filter",
    "sluice-noop-filter",
    "sluice-conformance-filter",
];

pub fn run() -> Result<()> {
    step("format");
    sh(cargo().args(["fmt", "--all", "--", "--check"]))?;

    let envoy = setup::all()?;

    step("clippy (host)");
    sh(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    step("clippy (wasm32-wasip1)");
    let mut c = cargo();
    c.args(["clippy", "--target", "wasm32-wasip1"]);
    for k in WASM_CRATES {
        c.args(["-p", k]);
    }
    sh(c.args(["--", "-D", "warnings"]))?;

    wasm::build()?;
    wasm::build_trap_module()?;

    step("unit, harness and end-to-end tests (real Envoy)");
    // One invocation for the whole workspace: building the end-to-end tests
    // on their own would resolve features differently and compile wasmtime
    // a second time. One test at a time: one Envoy at a time on a two-core
    // machine, since the end-to-end tests measure behaviour under load.
    sh(cargo()
        .args(["test", "--workspace", "--", "--test-threads=1"])
        .env("SLUICE_ENVOY", &envoy))?;

    crate::fuzz::run(10)?;

    eprintln!("\nall tests passed");
    Ok(())
}
