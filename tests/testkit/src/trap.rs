//! The test-only trapping build of the throttle, for the failure-policy
//! tests: `sluice-throttle` with the `trap-on-marked-request` feature, built
//! by `cargo xtask build-wasm` (and `cargo xtask test`) into its own target
//! directory so that it never overwrites the product module.

use crate::paths;
use anyhow::{bail, Result};
use std::path::PathBuf;

/// A request carrying this header with the value `1` traps the VM.
pub const TRAP_HEADER: &str = "x-sluice-test-trap";

/// The Cargo feature that builds the trap in.
pub const TRAP_FEATURE: &str = "trap-on-marked-request";

/// The `--target-dir` of the trapping build.
pub fn target_dir() -> PathBuf {
    paths::repo_root().join("target/trap")
}

/// The trapping `sluice_throttle.wasm`.
pub fn module() -> Result<PathBuf> {
    let p = target_dir().join("wasm32-wasip1/wasm-release/sluice_throttle.wasm");
    if !p.is_file() {
        bail!(
            "{} is missing: build it with `cargo xtask build-wasm`",
            p.display()
        );
    }
    Ok(p)
}
