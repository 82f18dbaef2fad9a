//! Building the filter modules.

use crate::run::{cargo, run, step};
use anyhow::{bail, Result};
use std::path::PathBuf;

/// The filter crates and the module each builds.
pub const FILTERS: &[(&str, &str)] = &[
    ("sluice-throttle", "sluice_throttle"),
    ("sluice-router", "sluice_router"),
];

/// Test-only filters written the way a third party would (the proxy-wasm
/// SDK alone), used to check the harness against real Envoy. Built beside
/// the product filters; not held to the size budget.
pub const TEST_FILTERS: &[(&str, &str)] = &[
    ("sluice-probe-filter", "sluice_probe"),
    ("sluice-conformance-filter", "sluice_conformance"),
    ("sluice-noop-filter", "sluice_noop"),
];

/// Largest module size the project accepts (issue target: 250 KB).
pub const MAX_MODULE_BYTES: u64 = 250 * 1000;

/// Builds every filter for wasm32-wasip1 with the `wasm-release` profile and
/// checks each module's size; returns the module paths.
pub fn build() -> Result<Vec<PathBuf>> {
    crate::setup::wasm_target()?;
    step("build filters (wasm32-wasip1, wasm-release)");
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--target",
        "wasm32-wasip1",
        "--profile",
        "wasm-release",
    ]);
    for (krate, _) in FILTERS.iter().chain(TEST_FILTERS) {
        cmd.args(["-p", krate]);
    }
    run(&mut cmd)?;
    let dir = sluice_testkit::paths::repo_root().join("target/wasm32-wasip1/wasm-release");
    let mut out = Vec::new();
    for (_, module) in FILTERS {
        let path = dir.join(format!("{module}.wasm"));
        let size = std::fs::metadata(&path)?.len();
        eprintln!("    {} {} bytes", path.display(), size);
        if size > MAX_MODULE_BYTES {
            bail!("{module}.wasm is {size} bytes, over the {MAX_MODULE_BYTES}-byte budget");
        }
        out.push(path);
    }
    Ok(out)
}

/// Builds the test-only trapping throttle (feature `trap-on-marked-request`)
/// into its own target directory, so the product module is never the
/// trapping one; the failure-policy end-to-end tests load it from there.
pub fn build_trap_module() -> Result<PathBuf> {
    use sluice_testkit::trap;
    step("build the test-only trapping throttle (target/trap)");
    run(cargo()
        .args([
            "build",
            "--target",
            "wasm32-wasip1",
            "--profile",
            "wasm-release",
            "-p",
            "sluice-throttle",
            "--features",
            trap::TRAP_FEATURE,
            "--target-dir",
        ])
        .arg(trap::target_dir()))?;
    trap::module()
}
