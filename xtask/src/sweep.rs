//! `cargo xtask sweep`: a sweep file run in the harness, with the filters
//! it loads built first.

use crate::run::{run as sh, sluice, step};
use crate::wasm;
use anyhow::Result;

/// The bundled priority-admission sweep (issue 15).
pub const PRIORITY: &str = "tests/sweeps/priority.yaml";

pub fn run(file: &str) -> Result<()> {
    wasm::build()?;
    step(&format!("sweep {file} in the host harness"));
    sh(sluice().args(["sweep", file]))
}
